<?php
// The tutorial's server (../shared/seed), transcribed; the only change: the
// port comes from the command line (0 = any free port, printed on stderr).
$port = isset($argv[1]) ? (int)$argv[1] : 10008;
$tcp = getprotobyname("tcp");
$socket = socket_create(AF_INET, SOCK_STREAM, $tcp);
socket_bind($socket, '127.0.0.1', $port);
socket_listen($socket);
socket_getsockname($socket, $addr, $bound);
fwrite(STDERR, "Listening on 127.0.0.1:$bound\n");
$buffer = "Connect";
while (true) {
    $connection = socket_accept($socket);
    if (!$connection) {
        echo "connect fail";
    } else {
        echo "Socket connected\n";
        if ($buffer != "") {
            echo "send data to client\n";
            socket_write($connection, $buffer . "\n");
            echo "wrote to Socket\n";
        } else {
            echo "No data in the buffer\n";
        }
        while ($data = @socket_read($connection, 1024, PHP_NORMAL_READ)) {
            printf("Buffer: " . $data . "\n");
            socket_write($connection, "Information received\n");
        }
    }
    socket_close($connection);
    printf("Closed the socket\n");
}

<?php
// The tutorial's client (../shared/seed), transcribed; the only change: the
// port comes from the command line. Like the original, it never exits.
$port = isset($argv[1]) ? (int)$argv[1] : 10008;
$socket = socket_create(AF_INET, SOCK_STREAM, SOL_TCP);
$connection = socket_connect($socket, '127.0.0.1', $port);
while ($buffer = @socket_read($socket, 1024, PHP_NORMAL_READ)) {
    if (preg_match("/not connect/", $buffer)) {
        echo "Don t connect\n";
        break;
    } else {
        echo "Buffer Data: " . $buffer . "\n";
        echo "Writing to socket\n";
        if (!socket_write($socket, "SOME data\n")) {
            echo "Write failed\n";
        }
        while ($buffer = socket_read($socket, 1024, PHP_NORMAL_READ)) {
            echo "sent to Server:some data\n response from server is:" . $buffer . "\n";
        }
    }
}

// The key-value store's client: sends each line of its input as a command and
// prints the reply, until the input ends.
//
//   kv_client [host] [port]     (default 127.0.0.1 10008)
//   printf 'SET a 1\nGET a\n' | kv_client 127.0.0.1 10008
#include <coline/coline.hpp>

#include <fmt/core.h>

#include <iostream>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

asio::awaitable<void> client(std::string host, std::string port)
{
    auto [ec, conn] = co_await coline::connect(host, port, 5s, coline::as_tuple);
    if (ec)
        throw std::runtime_error(fmt::format("cannot connect to {}:{}: {}", host, port, ec.message()));
    conn.options().read_timeout = 10s;
    conn.options().write_timeout = 10s;

    // Reading the input blocks the thread, which has nothing else to do: one
    // command is in flight at a time. (Asio cannot wait on stdin when it is a
    // regular file, as in `kv_client ... < commands.txt`; getline can.)
    std::string command;
    while (std::getline(std::cin, command)) {
        co_await coline::write_line(conn, command);
        auto reply = co_await coline::read_line(conn);
        if (!reply)
            throw std::runtime_error("the server closed the connection");
        fmt::print("{}\n", *reply);
        std::fflush(stdout); // each reply shows at once, even in a pipe
    }
}

int main(int argc, char* argv[])
{
    const std::string host = argc > 1 ? argv[1] : "127.0.0.1";
    const std::string port = argc > 2 ? argv[2] : "10008";
    asio::io_context io;
    int status = 0;
    asio::co_spawn(io, client(host, port), [&](std::exception_ptr error) {
        try {
            if (error)
                std::rethrow_exception(error);
        } catch (const std::exception& e) {
            fmt::print(stderr, "kv_client: {}\n", e.what());
            status = 1;
        }
    });
    io.run();
    return status;
}

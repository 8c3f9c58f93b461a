// The tutorial's server: greets each client with "Connect" and answers every
// line with "Information received", serving all clients at once.
//
//   server [host] [port] [--max-clients N] [--threads N] [--quiet]    (default 127.0.0.1 10008)
#include "command_line.hpp"

#include <coline/coline.hpp>

#include <fmt/core.h>

#include <cstdio>
#include <string>

bool quiet = false;

template <class... Args>
void log(fmt::format_string<Args...> format, Args&&... args)
{
    if (!quiet)
        fmt::print(format, std::forward<Args>(args)...);
}

asio::awaitable<void> session(coline::connection& conn)
{
    log("Socket connected\n");
    log("send data to client\n");
    co_await coline::write_line(conn, "Connect");
    log("wrote to Socket\n");
    for (;;) {
        auto [ec, line] = co_await coline::read_line(conn, coline::as_tuple);
        if (ec)
            fmt::print(stderr, "client dropped: {}\n", ec.message());
        if (!line)
            break;
        log("Buffer: {}\n", *line);
        co_await coline::write_line(conn, "Information received");
    }
    log("Closed the socket\n");
}

int main(int argc, char* argv[])
try {
    std::string host = "127.0.0.1", port = "10008";
    coline::server_options options;
    options.refusal_line = "not connect";
    for (int i = 1, positional = 0; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--quiet")
            quiet = true;
        else if (arg == "--max-clients" && i + 1 < argc)
            options.max_clients = number_argument(argv[++i], 1'000'000, "client count");
        else if (arg == "--threads" && i + 1 < argc)
            options.threads = number_argument(argv[++i], 256, "thread count");
        else
            (positional++ == 0 ? host : port) = arg;
    }
    options.on_listening = [](const asio::ip::tcp::endpoint& endpoint) {
        fmt::print(stderr, "Listening on {}:{}\n", endpoint.address().to_string(), endpoint.port());
    };
    options.on_handler_error = [](std::exception_ptr error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            fmt::print(stderr, "client dropped: {}\n", e.what());
        }
    };

    std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ); // log lines show as they happen, even in a pipe
    // SIGINT/SIGTERM: stop accepting, answer the lines already received, exit 0.
    coline::serve(listen_endpoint(host, port), session, options);
} catch (const std::exception& e) { // a bad argument, an address in use, ...
    fmt::print(stderr, "server: {}\n", e.what());
    return 1;
}

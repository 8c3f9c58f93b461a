// An echo server: sends every line back to the client that sent it.
//
//   (usage: `usage` below, which --help prints)
#include "command_line.hpp"

#include <coline/coline.hpp>

#include <fmt/core.h>

#include <string>

// What --help prints.
constexpr std::string_view usage = "usage: echo [host] [port]     (default 127.0.0.1 10008; port 0: the kernel picks one)\n";

coline::task<void> session(coline::connection& conn)
{
    // write_line copies the line before the next read_line reuses its buffer.
    while (auto line = co_await coline::read_line(conn))
        co_await coline::write_line(conn, *line);
}

int main(int argc, char* argv[])
try {
    if (asked_for_help(argc, argv, usage))
        return 0;
    std::string host = "127.0.0.1", port = "10008";
    for (int i = 1, positional = 0; i < argc; ++i)
        host_or_port(argv[i], positional, host, port);
    coline::server_options options;
    coline::run_options run;
    run.on_listening = [](const asio::ip::tcp::endpoint& endpoint) {
        fmt::print(stderr, "Listening on {}:{}\n", endpoint.address().to_string(), endpoint.port());
    };
    // Until SIGINT/SIGTERM; a client that breaks the limits (a line over 64 KiB, ...) is just closed.
    return exit_status(coline::run_server(listen_endpoint(host, port), session, options, run));
} catch (const std::exception& e) { // a bad argument, an address in use, ...
    fmt::print(stderr, "echo: {}\n", e.what());
    return 1;
}

// The tutorial's server: greets each client with "Connect" and answers every
// line with "Information received", serving all clients at once, over TCP or
// on a Unix socket.
//
//   (usage: `usage` below, which --help prints)
#include "command_line.hpp"

#include <coline/coline.hpp>

#include <fmt/core.h>
#include <fmt/ostream.h>

#include <cstdio>
#include <string>

// What --help prints.
constexpr std::string_view usage = "usage: server [host] [port] [--max-clients N] [--threads N] [--quiet]    (default 127.0.0.1 10008)\n"
                                   "       server --unix PATH [--max-clients N] [--quiet]\n";

bool quiet = false;

template <class... Args>
void log(fmt::format_string<Args...> format, Args&&... args)
{
    if (!quiet)
        fmt::print(format, std::forward<Args>(args)...);
}

// The same session for both: a `coline::connection` (TCP) or a `coline::local_connection`.
template <class Connection>
coline::task<void> session(Connection& conn)
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
        log("Buffer: {}\n", coline::printable{*line}); // the client's bytes cannot drive the terminal
        co_await coline::write_line(conn, "Information received");
    }
    log("Closed the socket\n");
}

template <class Endpoint>
int serve(const Endpoint& endpoint, const coline::server_options& options, std::size_t threads)
{
    coline::run_options<Endpoint> run;
    run.threads = threads;
    run.on_listening = [](const Endpoint& at) { fmt::print(stderr, "Listening on {}\n", fmt::streamed(at)); };
    // Until SIGINT/SIGTERM: then stop accepting, answer the lines already received, and return
    // (at once after a second signal).
    return coline::run_server(endpoint, session<coline::socket_connection<typename Endpoint::protocol_type>>, options, run);
}

int main(int argc, char* argv[])
try {
    if (asked_for_help(argc, argv, usage))
        return 0;
    std::string host = "127.0.0.1", port = "10008", unix_path;
    std::size_t threads = 1;
    coline::server_options options;
    options.refusal_line = "not connect";
    options.on_handler_error = [](std::exception_ptr error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            fmt::print(stderr, "client dropped: {}\n", e.what());
        }
    };
    int positional = 0; // host and port seen
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--quiet")
            quiet = true;
        else if (arg == "--unix" && i + 1 < argc)
            unix_path = argv[++i];
        else if (arg == "--max-clients" && i + 1 < argc)
            options.max_clients = number_argument(argv[++i], 1, 1'000'000, "client count");
        else if (arg == "--threads" && i + 1 < argc)
            threads = number_argument(argv[++i], 1, 256, "thread count");
        else
            host_or_port(arg, positional, host, port);
    }

    std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ); // log lines show as they happen, even in a pipe
    if (unix_path.empty())
        return exit_status(serve(listen_endpoint(host, port), options, threads));
    if (positional > 0)
        throw std::invalid_argument("--unix takes no host or port");
    // The server replaces a socket file left by a server that is gone, refuses
    // anything else at the path, and removes its own file when it stops.
    return exit_status(serve(asio::local::stream_protocol::endpoint(unix_path), options, threads));
} catch (const std::exception& e) { // a bad argument, an address in use, ...
    fmt::print(stderr, "server: {}\n", e.what());
    return 1;
}

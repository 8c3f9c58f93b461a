// The tutorial's server over TLS: greets each client with "Connect" and
// answers every line with "Information received".
//
//   (usage: `usage` below, which --help prints)
//
// A throwaway certificate for trying it out: see examples/README.md.
#include "command_line.hpp"

#include <coline/printable.hpp>
#include <coline/run_server.hpp>
#include <coline/tls.hpp>

#include <fmt/core.h>

#include <cstdio>
#include <string>
#include <vector>

// What --help prints.
constexpr std::string_view usage = "usage: tls_server HOST PORT CERT.pem KEY.pem [--max-clients N]\n";

// The server has done the handshake already: a client that never completes one holds up no one else.
coline::task<void> session(coline::tls_connection& conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn)) {
        fmt::print("Buffer: {}\n", coline::printable{*line});
        co_await coline::write_line(conn, "Information received");
    }
} // the server answers the client's close_notify with its own

int main(int argc, char* argv[])
try {
    if (asked_for_help(argc, argv, usage))
        return 0;
    std::vector<std::string> args;
    coline::server_options options;
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--max-clients" && i + 1 < argc)
            options.max_clients = number_argument(argv[++i], 1, 1'000'000, "client count"); // the others are closed
        else
            args.push_back(argv[i]);
    }
    if (args.size() != 4) {
        fmt::print(stderr, "{}", usage);
        return 2;
    }
    asio::ssl::context tls(asio::ssl::context::tls_server);
    tls.use_certificate_chain_file(args[2]);
    tls.use_private_key_file(args[3], asio::ssl::context::pem);

    options.on_handler_error = [](std::exception_ptr error) { // a failed handshake, a client that went away, ...
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            fmt::print(stderr, "client dropped: {}\n", e.what());
        }
    };
    coline::run_options run;
    run.on_listening = [](const asio::ip::tcp::endpoint& endpoint) {
        fmt::print(stderr, "Listening on {}:{}\n", endpoint.address().to_string(), endpoint.port());
    };
    std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
    // The same server as over plain TCP, with the handshake (10 s at most) between accept and session.
    // SIGINT/SIGTERM: stop accepting, answer the lines already received, exit 0 (a second one: at once).
    return exit_status(
        coline::run_server(listen_endpoint(args[0], args[1]), session, options, run, coline::tls_transport{tls}));
} catch (const std::exception& e) { // a bad argument, a missing certificate, an address in use, ...
    fmt::print(stderr, "tls_server: {}\n", e.what());
    return 1;
}

// The tutorial's server with STARTTLS, as SMTP and IMAP have it: greets each
// client with "Connect" and answers every line with "Information received",
// in clear until the client sends "STARTTLS", then over TLS on the same
// connection. The upgraded session stays in the server's care: a stop, the
// client limit and the close apply to it as to a plain one.
//
//   (usage: `usage` below, which --help prints)
#include "command_line.hpp"

#include <coline/run_server.hpp>
#include <coline/tls.hpp>

#include <fmt/core.h>

#include <string>
#include <vector>

// What --help prints.
constexpr std::string_view usage = "usage: starttls_server HOST PORT CERT.pem KEY.pem\n";

// The same loop in clear and over TLS: the two connections are different types.
// Returns true when the client asked for STARTTLS.
template <class Connection>
coline::task<bool> answer_lines(Connection& conn, bool plain)
{
    while (auto line = co_await coline::read_line(conn)) {
        if (plain && *line == "STARTTLS") {
            co_await coline::write_line(conn, "OK go ahead"); // start_tls sends it, in clear
            co_return true;
        }
        co_await coline::write_line(conn, "Information received");
    }
    co_return false;
}

asio::ssl::context tls(asio::ssl::context::tls_server);

coline::task<void> session(coline::connection& plain)
{
    co_await coline::write_line(plain, "Connect");
    if (!co_await answer_lines(plain, true))
        co_return;
    coline::tls_connection conn = co_await coline::start_tls(std::move(plain), tls, std::chrono::seconds{10});
    co_await answer_lines(conn, false);
} // the server sends close_notify

int main(int argc, char* argv[])
try {
    if (asked_for_help(argc, argv, usage))
        return 0;
    if (argc != 5) {
        fmt::print(stderr, "{}", usage);
        return 2;
    }
    tls.use_certificate_chain_file(argv[3]);
    tls.use_private_key_file(argv[4], asio::ssl::context::pem);
    coline::run_options run;
    run.on_listening = [](const asio::ip::tcp::endpoint& endpoint) {
        fmt::print(stderr, "Listening on {}:{}\n", endpoint.address().to_string(), endpoint.port());
    };
    // SIGINT/SIGTERM: every client, upgraded or not, sees the end at once when idle; exit 0.
    return exit_status(coline::run_server(listen_endpoint(argv[1], argv[2]), session, {}, run));
} catch (const std::exception& e) { // a bad argument, a missing certificate, an address in use, ...
    fmt::print(stderr, "starttls_server: {}\n", e.what());
    return 1;
}

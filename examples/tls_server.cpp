// The tutorial's server over TLS: greets each client with "Connect" and
// answers every line with "Information received".
//
//   tls_server HOST PORT CERT.pem KEY.pem
//
// A throwaway certificate for trying it out: see examples/README.md.
#include "command_line.hpp"

#include <coline/coline.hpp>
#include <coline/tls.hpp>

#include <fmt/core.h>

#include <csignal>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

asio::awaitable<void> session(coline::connection plain, asio::ssl::context& tls)
{
    plain.options().read_timeout = 5min; // idle clients go
    plain.options().write_timeout = 30s; // and so do clients that do not read
    try {
        // The handshake runs here, not in the accept loop: a client that
        // never completes it holds up no one else.
        coline::tls_connection conn = co_await coline::start_tls(std::move(plain), tls, 10s);
        co_await coline::write_line(conn, "Connect");
        while (auto line = co_await coline::read_line(conn)) {
            fmt::print("Buffer: {}\n", *line);
            co_await coline::write_line(conn, "Information received");
        }
        co_await coline::shutdown_tls(conn, 5s);
    } catch (const std::system_error& e) {
        fmt::print(stderr, "client dropped: {}\n", e.what());
    }
}

asio::awaitable<void> listen(asio::ip::tcp::acceptor& acceptor, asio::ssl::context& tls)
{
    for (;;) {
        auto [ec, plain] = co_await coline::accept(acceptor, coline::as_tuple);
        if (ec == asio::error::operation_aborted)
            co_return; // the acceptor was closed: we are stopping
        if (!ec) {
            asio::co_spawn(acceptor.get_executor(), session(std::move(plain), tls), asio::detached);
        } else { // out of descriptors, say: pause rather than spin
            asio::steady_timer pause(acceptor.get_executor(), 100ms);
            co_await pause.async_wait(asio::use_awaitable);
        }
    }
}

int main(int argc, char* argv[])
try {
    if (argc != 5) {
        fmt::print(stderr, "usage: tls_server HOST PORT CERT.pem KEY.pem\n");
        return 2;
    }
    asio::ssl::context tls(asio::ssl::context::tls_server);
    tls.use_certificate_chain_file(argv[3]);
    tls.use_private_key_file(argv[4], asio::ssl::context::pem);

    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, listen_endpoint(argv[1], argv[2]));
    fmt::print(stderr, "Listening on {}:{}\n", acceptor.local_endpoint().address().to_string(),
               acceptor.local_endpoint().port());
    std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);

    // SIGINT/SIGTERM: stop. (For limits and a graceful stop over plain TCP, see coline::serve in server.cpp.)
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) { io.stop(); });
    asio::co_spawn(io, listen(acceptor, tls), asio::detached);
    io.run();
} catch (const std::exception& e) { // a bad argument, a missing certificate, an address in use, ...
    fmt::print(stderr, "tls_server: {}\n", e.what());
    return 1;
}

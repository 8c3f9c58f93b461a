// The tutorial's server: greets each client with "Connect" and answers every
// line with "Information received", serving all clients at once.
//
//   server [host] [port] [--max-clients N] [--quiet]     (default 127.0.0.1 10008)
#include <coline/coline.hpp>

#include <fmt/core.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <string_view>

using asio::awaitable;
using asio::ip::tcp;
using clients = std::list<coline::connection*>;

bool quiet = false;

template <class... Args>
void log(fmt::format_string<Args...> format, Args&&... args)
{
    if (!quiet)
        fmt::print(format, std::forward<Args>(args)...);
}

awaitable<void> session(coline::connection& conn)
{
    log("send data to client\n");
    co_await coline::write_line(conn, "Connect");
    log("wrote to Socket\n");
    while (auto line = co_await coline::read_line(conn)) {
        log("Buffer: {}\n", *line);
        co_await coline::write_line(conn, "Information received");
    }
}

awaitable<void> serve_client(coline::connection conn, clients& connected)
{
    log("Socket connected\n");
    auto self = connected.insert(connected.end(), &conn);
    try {
        co_await session(conn);
    } catch (const std::system_error& e) {
        fmt::print(stderr, "client dropped: {}\n", e.what());
    }
    connected.erase(self);
    log("Closed the socket\n");
}

awaitable<void> listen(tcp::acceptor& acceptor, clients& connected, std::size_t max_clients)
{
    while (acceptor.is_open()) {
        auto [ec, conn] = co_await coline::accept(acceptor, coline::as_tuple);
        if (ec) {
            if (acceptor.is_open())
                fmt::print(stderr, "accept: {}\n", ec.message());
            continue;
        }
        if (connected.size() >= max_clients) {
            co_await coline::write_line(conn, coline::as_tuple, "not connect");
            continue; // leaving scope closes the connection
        }
        asio::co_spawn(acceptor.get_executor(), serve_client(std::move(conn), connected), asio::detached);
    }
}

int main(int argc, char* argv[])
{
    std::string_view host = "127.0.0.1", port = "10008";
    std::size_t max_clients = 100000;
    for (int i = 1, positional = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--quiet")
            quiet = true;
        else if (arg == "--max-clients" && i + 1 < argc)
            max_clients = std::strtoul(argv[++i], nullptr, 10);
        else
            (positional++ == 0 ? host : port) = arg;
    }

    std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ); // log lines show as they happen, even in a pipe
    asio::io_context io;
    tcp::acceptor acceptor(io, *tcp::resolver(io).resolve(host, port).begin());
    clients connected;
    // Stop accepting, and end each client's input: sessions answer the lines
    // they already received, see the end of the stream and finish.
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) {
        acceptor.close();
        for (auto* conn : connected) {
            std::error_code ignored;
            conn->stream().shutdown(tcp::socket::shutdown_receive, ignored);
        }
    });
    fmt::print(stderr, "Listening on {}:{}\n", acceptor.local_endpoint().address().to_string(),
               acceptor.local_endpoint().port());
    asio::co_spawn(io, listen(acceptor, connected, max_clients), asio::detached);
    io.run();
}

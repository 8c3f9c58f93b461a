// The tutorial's server as a typical user writes it with plain Asio coroutines:
// one awaitable session per client, async_read_until into a std::string, one
// async_write per answer. Single io_context, single thread. The baseline that
// coline is compared against.
//
//   asio_server HOST PORT        (PORT 0: the kernel picks one)
#include <asio.hpp>

#include <cstdio>
#include <string>
#include <string_view>

using asio::ip::tcp;

namespace {

constexpr std::string_view greeting = "Connect\n";
constexpr std::string_view answer = "Information received\n";

// End of stream, or the peer vanished: the ordinary ways for a session to end.
bool is_disconnect(const std::error_code& ec)
{
    return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::error::operation_aborted;
}

asio::awaitable<void> session(tcp::socket socket)
{
    try {
        co_await asio::async_write(socket, asio::buffer(greeting), asio::use_awaitable);
        std::string data; // no size limit, as in typical user code
        for (;;) {
            // n includes the "\n" (and any "\r" before it): the line's content
            // is not needed, only the fact that one arrived.
            std::size_t n = co_await asio::async_read_until(socket, asio::dynamic_buffer(data), '\n', asio::use_awaitable);
            data.erase(0, n);
            co_await asio::async_write(socket, asio::buffer(answer), asio::use_awaitable);
        }
    } catch (const std::system_error& e) {
        if (!is_disconnect(e.code()))
            std::fprintf(stderr, "session: %s\n", e.what());
    }
    // The socket closes as the coroutine frame goes away.
}

asio::awaitable<void> listener(tcp::acceptor& acceptor)
{
    for (;;) {
        try {
            tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
            std::error_code ignored; // the client may already be gone
            socket.set_option(tcp::no_delay(true), ignored);
            asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
        } catch (const std::system_error& e) {
            if (e.code() == asio::error::operation_aborted)
                co_return;
            std::fprintf(stderr, "accept: %s\n", e.what()); // e.g. EMFILE: keep going
        }
    }
}

} // namespace

int main(int argc, char* argv[])
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 2;
    }
    try {
        asio::io_context io(1); // concurrency hint 1: a single thread runs it
        tcp::acceptor acceptor(io, {asio::ip::make_address(argv[1]), static_cast<unsigned short>(std::stoul(argv[2]))});
        const tcp::endpoint local = acceptor.local_endpoint();
        std::fprintf(stderr, "Listening on %s:%u\n", local.address().to_string().c_str(), unsigned{local.port()});

        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const std::error_code&, int) { io.stop(); });

        asio::co_spawn(io, listener(acceptor), asio::detached);
        io.run();
        // Leaving this scope destroys the io_context and with it the suspended
        // sessions, closing their sockets.
    } catch (const std::exception& e) {
        std::fprintf(stderr, "asio_server: %s\n", e.what());
        return 2;
    }
    return 0;
}

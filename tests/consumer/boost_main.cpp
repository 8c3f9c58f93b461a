// A Boost.Asio project that uses coline, built with COLINE_USE_BOOST_ASIO:
// its own code says boost::asio and boost::system, and coline hands it
// Boost's error codes. One exchange over loopback, then "consumer ok".
#include <coline/coline.hpp>

#include <boost/asio.hpp>
#include <boost/system/error_code.hpp>
#include <fmt/core.h>

#include <exception>
#include <string>
#include <type_traits>

namespace net = boost::asio;
using namespace std::chrono_literals;

static_assert(std::is_same_v<coline::error_code, boost::system::error_code>);

coline::task<void> session(coline::connection& conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn))
        co_await coline::write_line(conn, "Information received");
}

coline::task<std::string> client(coline::server& server)
{
    net::ip::tcp::socket socket(co_await net::this_coro::executor);
    co_await socket.async_connect(server.local_endpoint(), coline::use_task); // Boost.Asio's own call
    coline::connection conn(std::move(socket));
    std::string greeting{(co_await coline::read_line(conn, 5s)).value_or("?")};
    co_await coline::write_line(conn, "SOME data");
    auto [ec, answer] = co_await coline::read_line(conn, 5s, coline::as_tuple);
    const boost::system::error_code read_error = ec;
    // Nothing more comes: the read times out, and Boost's code compares with coline's error.
    auto [late, none] = co_await coline::read_line(conn, 50ms, coline::as_tuple);
    server.stop();
    if (read_error || late != coline::error::timeout || none)
        co_return fmt::format("errors: '{}', then '{}'", read_error.message(), late.message());
    co_return fmt::format("{} / {}", greeting, answer.value_or("?"));
}

int main()
{
    net::io_context io;
    coline::server server(io.get_executor(), {net::ip::address_v4::loopback(), 0}, session);
    coline::spawn(io, server.run(), net::detached);
    std::string result;
    coline::spawn(io, client(server), [&](std::exception_ptr error, std::string r) {
        try {
            if (error)
                std::rethrow_exception(error);
            result = r;
        } catch (const boost::system::system_error& e) { // what coline throws in this mode
            result = e.what();
        }
    });
    io.run_for(10s);
    if (result != "Connect / Information received") {
        fmt::print("consumer FAILED: {}\n", result);
        return 1;
    }
    fmt::print("consumer ok\n");
}

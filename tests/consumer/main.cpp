// A project that uses coline: one exchange with a coline server over
// loopback, then "consumer ok". Every consumer project builds this file.
#include <coline/coline.hpp>

#include <fmt/core.h>

#include <exception>
#include <string>

coline::task<void> session(coline::connection& conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn))
        co_await coline::write_line(conn, "Information received");
}

coline::task<std::string> client(coline::server& server)
{
    using namespace std::chrono_literals;
    auto conn = co_await coline::connect("127.0.0.1", server.local_endpoint().port(), 5s);
    std::string greeting{(co_await coline::read_line(conn, 5s)).value_or("?")}; // a copy: the view lives until the next read
    co_await coline::write_line(conn, "SOME data");
    auto answer = co_await coline::read_line(conn, 5s);
    server.stop();
    co_return fmt::format("{} / {}", greeting, answer.value_or("?"));
}

int main()
{
    asio::io_context io;
    coline::server server(io.get_executor(), {asio::ip::address_v4::loopback(), 0}, session);
    coline::spawn(io, server.run(), asio::detached);
    std::string result;
    coline::spawn(io, client(server), [&](std::exception_ptr error, std::string r) {
        try {
            if (error)
                std::rethrow_exception(error);
            result = r;
        } catch (const std::exception& e) {
            result = e.what();
        }
    });
    io.run_for(std::chrono::seconds{10});
    if (result != "Connect / Information received") {
        fmt::print("consumer FAILED: {}\n", result);
        return 1;
    }
    fmt::print("consumer ok\n");
}

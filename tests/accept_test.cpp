// accept: clients of a listening socket as connections.
#include "support.hpp"

using namespace test;

TEST_CASE("accept returns a connection that speaks lines, with Nagle off and default options that can be changed" * doctest::timeout(10))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    tcp::socket peer(io);
    peer.connect(acceptor.local_endpoint());
    asio::write(peer, asio::buffer(std::string_view("too long\nhello\n")));

    auto accept_and_read = [&]() -> coline::task<std::string> {
        auto conn = co_await coline::accept(acceptor);
        CHECK(conn.options().max_line_length == coline::connection_options{}.max_line_length);
        CHECK(conn.options().read_timeout == coline::no_timeout);
        conn.options().max_line_length = 3;
        auto [ec, too_long] = co_await coline::read_line(conn, coline::as_tuple);
        CHECK(ec == coline::error::line_too_long);
        conn.options().max_line_length = 100;
        asio::ip::tcp::no_delay no_delay;
        conn.stream().get_option(no_delay);
        CHECK(no_delay.value());
        auto line = co_await coline::read_line(conn);
        co_return std::string(line.value_or("<end>"));
    };
    CHECK(run(io, accept_and_read()) == "hello");
}

TEST_CASE("accept on a closed acceptor reports operation_aborted" * doctest::timeout(10))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    auto accept_while_closing = [&]() -> coline::task<coline::error_code> {
        asio::post(io, [&acceptor] { acceptor.close(); }); // runs once accept waits
        auto [ec, conn] = co_await coline::accept(acceptor, coline::as_tuple);
        CHECK_FALSE(conn.stream().is_open());
        co_return ec;
    };
    CHECK(run(io, accept_while_closing()) == asio::error::operation_aborted);

    auto other = loopback_acceptor(io);
    auto throwing = [&]() -> coline::task<void> {
        asio::post(io, [&other] { other.close(); });
        co_await coline::accept(other);
    };
    try {
        run(io, throwing());
        FAIL("accept returned");
    } catch (const coline::system_error& e) {
        CHECK(e.code() == asio::error::operation_aborted);
    }
}

// accept: clients of a listening socket as connections.
#include "support.hpp"

using namespace test;

TEST_CASE("accept returns a connection that speaks lines, with Nagle off and the given options" * doctest::timeout(10))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    tcp::socket peer(io);
    peer.connect(acceptor.local_endpoint());
    asio::write(peer, asio::buffer(std::string_view("hello\n")));

    coline::connection_options options;
    options.max_line_length = 100;
    auto accept_and_read = [&]() -> asio::awaitable<std::string> {
        auto conn = co_await coline::accept(acceptor, options);
        CHECK(conn.options().max_line_length == 100);
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
    auto accept_while_closing = [&]() -> asio::awaitable<std::error_code> {
        asio::post(io, [&acceptor] { acceptor.close(); }); // runs once accept waits
        auto [ec, conn] = co_await coline::accept(acceptor, coline::as_tuple);
        CHECK_FALSE(conn.stream().is_open());
        co_return ec;
    };
    CHECK(run(io, accept_while_closing()) == asio::error::operation_aborted);
    auto throwing = [&]() -> asio::awaitable<void> { co_await coline::accept(acceptor); };
    CHECK_THROWS_AS(run(io, throwing()), std::system_error);
}

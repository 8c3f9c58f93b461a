// write_line: what goes on the wire, formatting, refused text, time limits.
#include "support.hpp"

using namespace test;
using coline::error;

TEST_CASE("write_line sends the text followed by a newline")
{
    asio::io_context io;
    auto conn = scripted(io, {});
    run(io, coline::write_line(conn, "Connect"));
    run(io, coline::write_line(conn, std::string("Information received")));
    run(io, coline::write_line(conn, ""));
    CHECK(conn.stream().written() == "Connect\nInformation received\n\n");
}

TEST_CASE("write_line formats with fmt straight into the line")
{
    asio::io_context io;
    auto conn = scripted(io, {});
    run(io, coline::write_line(conn, "VALUE {} {}", "key", 42));
    run(io, coline::write_line(conn, 1s, "{:>5}|{}", 7, 'x'));
    const std::string braces_are_text = "{}";
    run(io, coline::write_line(conn, braces_are_text)); // without arguments the text is not a format
    CHECK(conn.stream().written() == "VALUE key 42\n    7|x\n{}\n");
}

TEST_CASE("text with a newline is refused with error::newline_in_line and nothing is sent")
{
    asio::io_context io;
    auto conn = scripted(io, {});
    SUBCASE("plain text, non-throwing")
    {
        auto [ec] = run(io, coline::write_line(conn, coline::as_tuple, "two\nlines"));
        CHECK(ec == error::newline_in_line);
    }
    SUBCASE("formatted text, throwing")
    {
        CHECK_THROWS_AS(run(io, coline::write_line(conn, "{}", "two\nlines")), std::system_error);
    }
    SUBCASE("formatted text, non-throwing, with a time limit")
    {
        auto [ec] = run(io, coline::write_line(conn, 1s, coline::as_tuple, "x{}", "\n"));
        CHECK(ec == error::newline_in_line);
    }
    CHECK(conn.stream().written().empty());
    run(io, coline::write_line(conn, "fine"));
    CHECK(conn.stream().written() == "fine\n");
}

TEST_CASE("a write to a peer that never reads ends with error::timeout" * doctest::timeout(20))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    conn.stream().set_option(asio::socket_base::send_buffer_size(4096));
    const std::string big(60 * 1024, 'x');
    const auto started = std::chrono::steady_clock::now();
    auto fill_until_timeout = [&]() -> asio::awaitable<std::error_code> {
        for (int i = 0; i < 1000; ++i) { // the kernel's buffers hold far less than 60 MiB
            auto [ec] = co_await coline::write_line(conn, 100ms, coline::as_tuple, big);
            if (ec)
                co_return ec;
        }
        co_return std::error_code{};
    };
    const auto ec = run(io, fill_until_timeout());
    CHECK(ec == error::timeout);
    CHECK(std::chrono::steady_clock::now() - started < 15s);
}

TEST_CASE("a write to a peer that has gone ends with the stream's error" * doctest::timeout(10))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    peer.set_option(asio::socket_base::linger(true, 0));
    peer.close();
    auto write_until_error = [&]() -> asio::awaitable<std::error_code> {
        for (int i = 0; i < 100; ++i) {
            auto [ec] = co_await coline::write_line(conn, coline::as_tuple, "anyone there?");
            if (ec)
                co_return ec;
        }
        co_return std::error_code{};
    };
    const auto ec = run(io, write_until_error());
    CHECK((ec == asio::error::connection_reset || ec == asio::error::broken_pipe));
}

TEST_CASE("a connection can read and write at the same time from two coroutines" * doctest::timeout(10))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    int answered = 0;
    auto reader = [&]() -> asio::awaitable<void> {
        while (auto line = co_await coline::read_line(conn, 5s))
            ++answered;
    };
    auto writer = [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 50; ++i)
            co_await coline::write_line(conn, 5s, "tick {}", i);
    };
    asio::co_spawn(io, reader(), asio::detached);
    run(io, writer());
    const std::string got = read_lines_from(peer, 50);
    CHECK(got.starts_with("tick 0\ntick 1\n"));
    CHECK(got.ends_with("tick 49\n"));
    asio::write(peer, asio::buffer(std::string_view("a\nb\n")));
    peer.shutdown(tcp::socket::shutdown_send);
    for (int i = 0; i < 100 && !conn.at_end(); ++i) {
        io.restart();
        io.run_one_for(50ms);
    }
    CHECK(answered == 2);
}

// write_line: what goes on the wire, formatting, refused text, time limits.
#include "support.hpp"

#include <sstream>
#include <thread>

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
    run(io, coline::write_line(conn, "{:>5}|{}", 7, 'x'));
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
    SUBCASE("plain text, throwing")
    {
        try {
            run(io, coline::write_line(conn, "two\nlines"));
            FAIL("write_line returned");
        } catch (const std::system_error& e) {
            CHECK(e.code() == error::newline_in_line);
        }
    }
    SUBCASE("formatted text, throwing")
    {
        try {
            run(io, coline::write_line(conn, "{}", "two\nlines"));
            FAIL("write_line returned");
        } catch (const std::system_error& e) {
            CHECK(e.code() == error::newline_in_line);
            CHECK(std::string(e.what()).find("coline::write_line") != std::string::npos);
        }
    }
    SUBCASE("formatted text, non-throwing")
    {
        auto [ec] = run(io, coline::write_line(conn, coline::as_tuple, "x{}", "\n"));
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
    conn.options().write_timeout = 100ms;
    const auto started = std::chrono::steady_clock::now();
    auto fill_until_timeout = [&]() -> asio::awaitable<std::error_code> {
        for (int i = 0; i < 1000; ++i) { // the kernel's buffers hold far less than 60 MiB
            auto [ec] = co_await coline::write_line(conn, coline::as_tuple, big);
            if (ec)
                co_return ec;
        }
        co_return std::error_code{};
    };
    const auto ec = run(io, fill_until_timeout());
    CHECK(ec == error::timeout);
    CHECK(std::chrono::steady_clock::now() - started < 15s);

    // The throwing form throws it (every later write fails with the same error).
    try {
        run(io, coline::write_line(conn, big));
        FAIL("write_line returned");
    } catch (const std::system_error& e) {
        CHECK(e.code() == error::timeout);
    }
}

TEST_CASE("a write to a peer that has gone ends with the stream's error, and so does every later one" * doctest::timeout(10))
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

    // Nothing more goes out on it, and every later write says why.
    auto [again] = run(io, coline::write_line(conn, coline::as_tuple, "still?"));
    CHECK(again == ec);
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
    conn.options().write_timeout = 5s;
    auto writer = [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 50; ++i)
            co_await coline::write_line(conn, "tick {}", i);
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

namespace {

coline::connection_options coalescing()
{
    coline::connection_options options;
    options.coalesce_writes = true;
    return options;
}

// Answers every line with "ok <line>" until the end or an error.
template <class Stream>
asio::awaitable<std::error_code> answer_each_line(coline::basic_connection<Stream>& conn)
{
    for (;;) {
        auto [ec, line] = co_await coline::read_line(conn, coline::as_tuple);
        if (ec || !line)
            co_return ec;
        co_await coline::write_line(conn, "ok {}", *line);
    }
}

} // namespace

TEST_CASE("with coalesce_writes, answers to pipelined lines leave in one write")
{
    asio::io_context io;
    SUBCASE("on")
    {
        auto conn = scripted(io, {"a\nb\nc\n", "d\n"}, coalescing());
        CHECK_FALSE(run(io, answer_each_line(conn)));
        CHECK(conn.stream().written() == "ok a\nok b\nok c\nok d\n");
        CHECK(conn.stream().writes() == 2); // one per batch of requests
    }
    SUBCASE("off: one write per line")
    {
        auto conn = scripted(io, {"a\nb\nc\n", "d\n"});
        CHECK_FALSE(run(io, answer_each_line(conn)));
        CHECK(conn.stream().written() == "ok a\nok b\nok c\nok d\n");
        CHECK(conn.stream().writes() == 4);
    }
}

TEST_CASE("kept answers are sent before read_line reports an error or the end")
{
    asio::io_context io;
    coline::connection_options options = coalescing();
    options.max_line_length = 4;
    SUBCASE("an over-long line after answered ones")
    {
        auto conn = scripted(io, {"a\nb\ntoo long\n"}, options);
        CHECK(run(io, answer_each_line(conn)) == coline::error::line_too_long);
        CHECK(conn.stream().written() == "ok a\nok b\n");
    }
    SUBCASE("a partial line at the end")
    {
        auto conn = scripted(io, {"a\nb\npart"}, options);
        CHECK(run(io, answer_each_line(conn)) == coline::error::partial_line);
        CHECK(conn.stream().written() == "ok a\nok b\n");
    }
}

TEST_CASE("flush sends what write_line kept when the reader stops early")
{
    asio::io_context io;
    auto conn = scripted(io, {"QUIT\nmore\n"}, coalescing());
    auto quit = [&]() -> asio::awaitable<void> {
        co_await coline::read_line(conn);
        co_await coline::write_line(conn, "BYE");
        CHECK(conn.stream().written().empty()); // kept: "more" waits to be read
        co_await coline::flush(conn);
    };
    run(io, quit());
    CHECK(conn.stream().written() == "BYE\n");
}

TEST_CASE("flush in each form: with a time limit, and non-throwing")
{
    asio::io_context io;
    auto conn = scripted(io, {"A\nB\nC\n"}, coalescing());
    auto answer_two = [&]() -> asio::awaitable<void> {
        co_await coline::read_line(conn);
        co_await coline::write_line(conn, "one");
        co_await coline::flush(conn, 5s);
        CHECK(conn.stream().written() == "one\n");
        co_await coline::read_line(conn);
        co_await coline::write_line(conn, "two");
        auto [ec] = co_await coline::flush(conn, coline::as_tuple);
        CHECK_FALSE(ec);
    };
    run(io, answer_two());
    CHECK(conn.stream().written() == "one\ntwo\n");
}

TEST_CASE("writes from several coroutines take turns and every line arrives whole" * doctest::timeout(20))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    conn.stream().set_option(asio::socket_base::send_buffer_size(4096));
    const std::string padding(3000, 'p'); // lines longer than one write, so writes would interleave
    conn.options().write_timeout = 5s;
    int done = 0;
    auto writer = [&](char who) -> asio::awaitable<void> {
        for (int i = 0; i < 100; ++i)
            co_await coline::write_line(conn, "{} {} {}", who, i, padding);
        ++done;
    };
    asio::co_spawn(io, writer('A'), asio::detached);
    asio::co_spawn(io, writer('B'), asio::detached);
    std::thread reader_thread([&] {
        timeval limit{15, 0}; // the reader gives up with the writers
        ::setsockopt(peer.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        std::string all;
        try {
            all = read_lines_from(peer, 200);
        } catch (const std::system_error& e) {
            FAIL_CHECK("reading the lines: " << e.what());
        }
        std::istringstream lines(all);
        std::string line;
        int next_a = 0, next_b = 0;
        while (std::getline(lines, line)) {
            char who = 0;
            int i = -1;
            std::istringstream fields(line);
            std::string pad;
            fields >> who >> i >> pad;
            CHECK(pad == padding);
            CHECK(i == (who == 'A' ? next_a++ : next_b++));
        }
        CHECK(next_a == 100);
        CHECK(next_b == 100);
    });
    const auto give_up = std::chrono::steady_clock::now() + 15s;
    while (done < 2 && std::chrono::steady_clock::now() < give_up)
        io.run_one_for(50ms);
    reader_thread.join();
    CHECK(done == 2);
}

TEST_CASE("a writer cancelled while it waits for its turn does not block the connection" * doctest::timeout(20))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    conn.stream().set_option(asio::socket_base::send_buffer_size(4096));
    const std::string big(200 * 1024, 'x'); // takes a while: the peer reads it below
    asio::cancellation_signal cancel_second;
    std::error_code first, second, third;
    int done = 0;
    conn.options().write_timeout = 5s;
    auto write = [&](std::string_view text, std::error_code& result) -> asio::awaitable<void> {
        auto [ec] = co_await coline::write_line(conn, coline::as_tuple, text);
        result = ec;
        ++done;
    };
    asio::co_spawn(io, write(big, first), asio::detached);
    asio::co_spawn(io, write("second", second), asio::bind_cancellation_slot(cancel_second.slot(), asio::detached));
    asio::post(io, [&] { cancel_second.emit(asio::cancellation_type::terminal); });
    std::thread reader([&] { read_lines_from(peer, 2); });
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (done < 2 && std::chrono::steady_clock::now() < give_up)
        io.run_one_for(50ms);
    CHECK_FALSE(first);
    CHECK(second == asio::error::operation_aborted);
    asio::co_spawn(io, write("third", third), asio::detached);
    while (done < 3 && std::chrono::steady_clock::now() < give_up)
        io.run_one_for(50ms);
    reader.join();
    CHECK(done == 3);
    CHECK_FALSE(third);
}

TEST_CASE("a formatting error at run time leaves nothing half-written behind")
{
    asio::io_context io;
    auto conn = scripted(io, {});
    CHECK_THROWS_AS(run(io, coline::write_line(conn, "VALUE {:{}}", "x", -1)), fmt::format_error);
    CHECK_THROWS_AS(run(io, coline::write_line(conn, coline::as_tuple, "VALUE {:{}}", "x", -1)), fmt::format_error);
    run(io, coline::write_line(conn, "OK"));
    CHECK(conn.stream().written() == "OK\n");
}

// read_line: framing over scripted chunks, limits, end of stream, time limits.
#include "reference_splitter.hpp"
#include "support.hpp"

#include <poll.h>

#include <atomic>
#include <cstring>
#include <thread>

using namespace test;
using coline::error;
using strings = std::vector<std::string>;

namespace {

read_all_result read_all_from(std::vector<std::string> chunks, coline::connection_options options = {})
{
    asio::io_context io;
    auto conn = scripted(io, std::move(chunks), options);
    return run(io, read_all(conn));
}

coline::connection_options max_line(std::size_t n)
{
    coline::connection_options options;
    options.max_line_length = n;
    return options;
}

} // namespace

TEST_CASE("a line split across reads is reassembled, down to one byte per read")
{
    CHECK(read_all_from({"hel", "lo wo", "rld\n"}).lines == strings{"hello world"});
    const auto bytewise = read_all_from(one_byte_chunks("hello world\nsecond\n"));
    CHECK(bytewise.lines == strings{"hello world", "second"});
    CHECK_FALSE(bytewise.error);
}

TEST_CASE("many lines in one read come out one by one")
{
    asio::io_context io;
    auto conn = scripted(io, {"a\nbb\nccc\n"});
    const auto result = run(io, read_all(conn));
    CHECK(result.lines == strings{"a", "bb", "ccc"});
    CHECK_FALSE(result.error);
    // One read for the data and one that sees the end: no read per line.
    CHECK(conn.stream().reads() == 2);
}

TEST_CASE("CRLF and LF line ends mix freely and a lone CR stays in the line")
{
    CHECK(read_all_from({"one\r\ntwo\nthree\r\n"}).lines == strings{"one", "two", "three"});
    CHECK(read_all_from({"x\r", "\ny\n"}).lines == strings{"x", "y"});
    CHECK(read_all_from({"a\rb\n\r\r\n"}).lines == strings{"a\rb", "\r"});
}

TEST_CASE("empty lines are lines")
{
    CHECK(read_all_from({"\n\r\n\n"}).lines == strings{"", "", ""});
}

TEST_CASE("NUL bytes and bytes that are not UTF-8 pass through untouched")
{
    const std::string odd{"a\0b\xff\xfe\xc3\x28", 7};
    const auto result = read_all_from(one_byte_chunks(odd + "\n"));
    REQUIRE(result.lines.size() == 1);
    CHECK(result.lines[0] == odd);
}

TEST_CASE("the end of the stream after a complete line is a clean end")
{
    const auto result = read_all_from({"last\n"});
    CHECK(result.lines == strings{"last"});
    CHECK_FALSE(result.error);
    CHECK_FALSE(read_all_from({}).error);
}

TEST_CASE("the end of the stream in the middle of a line is error::partial_line and the bytes stay readable")
{
    asio::io_context io;
    auto conn = scripted(io, {"complete\npart", "ial"});
    const auto result = run(io, read_all(conn));
    CHECK(result.lines == strings{"complete"});
    CHECK(result.error == error::partial_line);
    CHECK(conn.buffered() == "partial");
    CHECK(conn.at_end());

    SUBCASE("later reads report the end of the stream")
    {
        auto [ec, line] = run(io, coline::read_line(conn, coline::as_tuple));
        CHECK_FALSE(ec);
        CHECK_FALSE(line);
    }
    SUBCASE("the throwing form throws it")
    {
        auto again = scripted(io, {"x"});
        try {
            run(io, coline::read_line(again));
            FAIL("read_line returned");
        } catch (const coline::system_error& e) {
            CHECK(e.code() == error::partial_line);
        }
    }
}

TEST_CASE("a line exactly at the limit is read and one byte more is error::line_too_long")
{
    CHECK(read_all_from({"12345678\n"}, max_line(8)).lines == strings{"12345678"});
    CHECK(read_all_from({"12345678\r\n"}, max_line(8)).lines == strings{"12345678"});
    CHECK(read_all_from(one_byte_chunks("12345678\r\n"), max_line(8)).lines == strings{"12345678"});
    CHECK(read_all_from({"123456789\n"}, max_line(8)).error == error::line_too_long);
    CHECK(read_all_from(one_byte_chunks("123456789\n"), max_line(8)).error == error::line_too_long);
    CHECK(read_all_from({"12345678\rx\n"}, max_line(8)).error == error::line_too_long);
}

TEST_CASE("after error::line_too_long the connection skips that line and reads the next")
{
    asio::io_context io;
    SUBCASE("the whole over-long line arrived at once")
    {
        auto conn = scripted(io, {"short\n0123456789abcdef\nnext\n"}, max_line(8));
        CHECK(run(io, read_all(conn)).lines == strings{"short"});
        CHECK(run(io, read_all(conn)).lines == strings{"next"});
    }
    SUBCASE("the over-long line dribbles in and is reported before its end arrives")
    {
        auto conn = scripted(io, one_byte_chunks("0123456789abcdef\nnext\n"), max_line(8));
        const auto first = run(io, read_all(conn));
        CHECK(first.error == error::line_too_long);
        CHECK(conn.stream().reads() == 9); // reported at the 9th byte, long before the '\n'
        CHECK(run(io, read_all(conn)).lines == strings{"next"});
    }
    SUBCASE("the stream ends inside the skipped line")
    {
        auto conn = scripted(io, {"0123456789abcdef"}, max_line(8));
        CHECK(run(io, read_all(conn)).error == error::line_too_long);
        const auto rest = run(io, read_all(conn));
        CHECK(rest.lines.empty());
        CHECK_FALSE(rest.error);
    }
}

TEST_CASE("memory stays bounded by the limit whatever a peer sends without a newline")
{
    coline::detail::line_buffer buffer;
    const std::size_t limit = 64 * 1024;
    std::size_t fed = 0, errors = 0, largest = 0;
    while (fed < 16 * 1024 * 1024) {
        coline::error_code ec;
        CHECK_FALSE(buffer.next_line(limit, ec));
        errors += ec == error::line_too_long;
        auto space = buffer.prepare(limit);
        REQUIRE(!space.empty());
        std::fill(space.begin(), space.end(), 'x');
        buffer.commit(space.size());
        fed += space.size();
        largest = std::max(largest, buffer.capacity());
    }
    CHECK(largest <= limit + 2);
    CHECK(errors == 1); // reported once per over-long line, however long it is
}

TEST_CASE("the non-throwing form returns the error with an empty line")
{
    asio::io_context io;
    auto conn = scripted(io, {"0123456789\n"}, max_line(4));
    auto [ec, line] = run(io, coline::read_line(conn, coline::as_tuple));
    CHECK(ec == error::line_too_long);
    CHECK_FALSE(line);
}

TEST_CASE("the throwing form throws coline::system_error carrying coline's error code")
{
    asio::io_context io;
    auto conn = scripted(io, {"0123456789\n"}, max_line(4));
    try {
        run(io, coline::read_line(conn));
        FAIL("read_line did not throw");
    } catch (const coline::system_error& e) {
        CHECK(e.code() == error::line_too_long);
        CHECK(std::string(e.what()).find("coline::read_line") != std::string::npos);
    }
}

TEST_CASE("random data cut at random points frames exactly like a simple reference splitter" * doctest::timeout(30))
{
    std::uint64_t seed = 42;
    auto next = [&seed](std::uint64_t bound) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        return (seed >> 33) % bound;
    };
    for (int round = 0; round < 300; ++round) {
        const std::size_t limit = 1 + next(40);
        std::string data;
        const std::size_t size = next(2000);
        const char alphabet[] = {'a', 'b', '\r', '\n', '\0', '\xff'};
        for (std::size_t i = 0; i < size; ++i)
            data += next(3) == 0 ? alphabet[next(6)] : 'a';

        std::vector<std::string> chunks;
        for (std::size_t at = 0; at < data.size();) {
            const std::size_t n = 1 + next(64);
            chunks.push_back(data.substr(at, n));
            at += n;
        }
        asio::io_context io;
        auto conn = scripted(io, chunks, max_line(limit));
        std::vector<frame> got;
        for (bool more = true; more;) {
            auto result = run(io, read_all(conn));
            for (auto& line : result.lines)
                got.push_back({frame::line, line});
            if (result.error == error::line_too_long)
                got.push_back({frame::too_long, ""});
            else if (result.error == error::partial_line)
                got.push_back({frame::partial_line, std::string(conn.buffered())});
            more = result.error == error::line_too_long;
        }
        REQUIRE_MESSAGE(got == reference_frames(data, limit), "round " << round << " limit " << limit);
    }
}

TEST_CASE("a read with a time limit ends with error::timeout when no line arrives" * doctest::timeout(10))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    asio::write(peer, asio::buffer(std::string_view("partial")));
    const auto started = std::chrono::steady_clock::now();
    auto [ec, line] = run(io, coline::read_line(conn, 50ms, coline::as_tuple));
    CHECK(ec == error::timeout);
    CHECK(ec == std::errc::timed_out);
    CHECK_FALSE(line);
    CHECK(std::chrono::steady_clock::now() - started < 5s);

    SUBCASE("the connection stays usable and keeps what it had received")
    {
        asio::write(peer, asio::buffer(std::string_view(" line\n")));
        auto again = run(io, coline::read_line(conn, 5s));
        REQUIRE(again);
        CHECK(*again == "partial line");
    }
    SUBCASE("the default limit from the options applies too, and the throwing form throws it")
    {
        conn.options().read_timeout = 20ms;
        try {
            run(io, coline::read_line(conn));
            FAIL("read_line returned");
        } catch (const coline::system_error& e) {
            CHECK(e.code() == error::timeout);
        }
    }
}

TEST_CASE("a deadline that was met does not cancel a later read" * doctest::timeout(10))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    asio::write(peer, asio::buffer(std::string_view("first\n")));
    // The line is there already: a generous limit, met at once.
    constexpr auto first_limit = 1s;
    const auto started = std::chrono::steady_clock::now();
    CHECK(run(io, coline::read_line(conn, first_limit)) == std::optional<std::string_view>("first"));

    // The next line comes only after the first limit has run out, while the next read waits.
    asio::steady_timer later(io);
    later.expires_at(started + first_limit + 200ms);
    later.async_wait([&](coline::error_code) { asio::write(peer, asio::buffer(std::string_view("second\n"))); });
    auto [ec, line] = run(io, coline::read_line(conn, coline::as_tuple));
    CHECK_FALSE(ec);
    CHECK(line == std::optional<std::string_view>("second"));
}

TEST_CASE("a peer that resets the connection mid-line is an error, not the end of the stream" * doctest::timeout(10))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    asio::write(peer, asio::buffer(std::string_view("half a li")));
    peer.set_option(asio::socket_base::linger(true, 0));
    peer.close();
    auto [ec, line] = run(io, coline::read_line(conn, coline::as_tuple));
    CHECK(ec == asio::error::connection_reset);
    CHECK(conn.buffered() == "half a li");
}

TEST_CASE("closing a connection ends a read in progress with operation_aborted" * doctest::timeout(10))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    auto read_then_see_close = [&]() -> coline::task<coline::error_code> {
        asio::post(io, [&conn] { conn.close(); }); // runs once the read below waits
        auto [ec, line] = co_await coline::read_line(conn, coline::as_tuple);
        co_return ec;
    };
    CHECK(run(io, read_then_see_close()) == asio::error::operation_aborted);
}

TEST_CASE("stop_reading ends the input gracefully" * doctest::timeout(10))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);

    SUBCASE("a read waiting with nothing begun returns the end at once")
    {
        auto read_then_stop = [&]() -> coline::task<bool> {
            asio::post(io, [&conn] { conn.stop_reading(); }); // runs once the read below waits
            auto [ec, line] = co_await coline::read_line(conn, coline::as_tuple);
            CHECK_FALSE(ec);
            co_return line.has_value();
        };
        CHECK_FALSE(run(io, read_then_stop()));
        CHECK(conn.reading_stopped());
    }
    SUBCASE("lines already received are still returned, then the end")
    {
        asio::write(peer, asio::buffer(std::string_view("one\ntwo\n")));
        CHECK(run(io, coline::read_line(conn)) == std::optional<std::string_view>("one"));
        conn.stop_reading();
        CHECK(run(io, coline::read_line(conn)) == std::optional<std::string_view>("two"));
        CHECK_FALSE(run(io, coline::read_line(conn)));
    }
    SUBCASE("a line that has begun is awaited until it is complete")
    {
        asio::write(peer, asio::buffer(std::string_view("hal")));
        auto read_while_stopping = [&]() -> coline::task<std::string> {
            asio::post(io, [&] {
                conn.stop_reading();
                asio::write(peer, asio::buffer(std::string_view("f\nin the same read\n")));
            });
            auto line = co_await coline::read_line(conn, 5s);
            co_return std::string(line.value_or("<end>"));
        };
        CHECK(run(io, read_while_stopping()) == "half");
        // What came with it had not arrived when the stop began: it is not returned.
        CHECK_FALSE(run(io, coline::read_line(conn)));
        CHECK_FALSE(without_suspending(coline::read_line(conn))); // the line is there, but not to be read
    }
    SUBCASE("lines that arrive after the stop are not read, though they wait unread")
    {
        asio::write(peer, asio::buffer(std::string_view("one\ntwo\n")));
        CHECK(run(io, coline::read_line(conn)) == std::optional<std::string_view>("one"));
        asio::write(peer, asio::buffer(std::string_view("three\nfour\n")));
        REQUIRE(wait_for_arrival(conn.stream(), 11));
        conn.stop_reading(); // "three" and "four" have arrived: they are still read
        asio::write(peer, asio::buffer(std::string_view("five\nsix\n")));
        CHECK(run(io, coline::read_line(conn)) == std::optional<std::string_view>("two"));
        CHECK(run(io, coline::read_line(conn)) == std::optional<std::string_view>("three"));
        CHECK(without_suspending(coline::read_line(conn)) == std::optional<std::string_view>("four"));
        CHECK_FALSE(without_suspending(coline::read_line(conn)));
        CHECK_FALSE(run(io, coline::read_line(conn)));
        CHECK_FALSE(run(io, coline::read_line(conn))); // and it stays ended
    }
    SUBCASE("a block read straight into the caller's memory counts as read: the end comes at once after it")
    {
        asio::write(peer, asio::buffer(std::string_view("block\n")));
        CHECK(run(io, coline::read_line(conn)) == std::optional<std::string_view>("block"));
        const std::string block(8192, 'b'); // over 4 KiB: read past the input buffer
        asio::write(peer, asio::buffer(block));
        REQUIRE(wait_for_arrival(conn.stream(), block.size()));
        conn.stop_reading();
        std::string into(block.size(), '\0');
        CHECK(run(io, coline::read_exactly(conn, std::span<char>(into), 5s)) == block.size());
        CHECK(into == block);
        auto [ec, line] = run(io, coline::read_line(conn, 2s, coline::as_tuple));
        CHECK_FALSE(ec); // not error::timeout
        CHECK_FALSE(line);
    }
    SUBCASE("a request's block that arrives after the stop is still read")
    {
        asio::write(peer, asio::buffer(std::string_view("set 5\n")));
        REQUIRE(wait_for_arrival(conn.stream(), 6));
        conn.stop_reading();
        asio::write(peer, asio::buffer(std::string_view("hello")));
        CHECK(run(io, coline::read_line(conn)) == std::optional<std::string_view>("set 5"));
        CHECK(run(io, coline::read_exactly(conn, 5, 5s)) == "hello");
        CHECK_FALSE(run(io, coline::read_line(conn)));
    }
}

TEST_CASE("cancelling the awaiting coroutine cancels its read, with or without a time limit" * doctest::timeout(10))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    for (auto limit : {coline::no_timeout, coline::duration(10s)}) {
        asio::cancellation_signal cancel;
        coline::error_code got;
        bool done = false;
        auto reader = [&]() -> coline::task<void> {
            auto [ec, line] = co_await coline::read_line(conn, limit, coline::as_tuple);
            got = ec;
        };
        coline::spawn(io, reader(), asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr) { done = true; }));
        asio::post(io, [&] { cancel.emit(asio::cancellation_type::terminal); });
        for (int i = 0; i < 100 && !done; ++i) {
            io.restart();
            io.run_one_for(50ms);
        }
        CHECK(done);
        CHECK(got == asio::error::operation_aborted);
    }
    // The connection is still usable afterwards.
    asio::write(peer, asio::buffer(std::string_view("still here\n")));
    CHECK(run(io, coline::read_line(conn, 5s)) == std::optional<std::string_view>("still here"));
}

TEST_CASE("cancelling the awaiting coroutine reaches a read with a time limit after another operation used its slot"
          * doctest::timeout(10))
{
    // A read's time limit passes the coroutine's cancellation on through a
    // handler in the coroutine's slot, installed once. A timer awaited in
    // between takes the slot: the next read must install it again.
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    asio::cancellation_signal cancel;
    std::string first;
    coline::error_code got;
    bool waiting_again = false, done = false;
    auto reader = [&]() -> coline::task<void> {
        first = (co_await coline::read_line(conn, 10s)).value(); // waits: the forwarding handler goes in
        asio::steady_timer pause(io, 1ms);
        co_await pause.async_wait(coline::use_task); // takes the slot, and clears it when done
        waiting_again = true;
        auto [ec, line] = co_await coline::read_line(conn, 10s, coline::as_tuple);
        got = ec;
    };
    coline::spawn(io, reader(), asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr) { done = true; }));
    io.poll();
    asio::write(peer, asio::buffer(std::string_view("first\n")));
    CHECK(run_until(io, [&] { return waiting_again; }, 5s));
    io.poll(); // the second read now waits for input
    cancel.emit(asio::cancellation_type::terminal);
    CHECK(run_until(io, [&] { return done; }, 5s));
    CHECK(first == "first");
    CHECK(got == asio::error::operation_aborted);
}

TEST_CASE("cancelling a read after stop_reading, with part of a line buffered, ends it cleanly" * doctest::timeout(10))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    asio::write(peer, asio::buffer(std::string_view("hal")));
    // The connection takes in the begun line (and its read times out).
    CHECK(std::get<0>(run(io, coline::read_line(conn, 200ms, coline::as_tuple))) == coline::error::timeout);
    REQUIRE(conn.buffered() == "hal");
    asio::cancellation_signal cancel;
    coline::error_code got;
    bool done = false;
    auto reader = [&]() -> coline::task<void> {
        auto [ec, line] = co_await coline::read_line(conn, 300ms, coline::as_tuple);
        got = ec;
    };
    coline::spawn(io, reader(), asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr) { done = true; }));
    asio::post(io, [&] {
        conn.stop_reading();
        cancel.emit(asio::cancellation_type::terminal);
    });
    io.restart();
    for (int i = 0; i < 100 && !done; ++i)
        io.run_one_for(50ms);
    CHECK(done);
    CHECK(got == asio::error::operation_aborted);
    CHECK(conn.buffered() == "hal");
    // Moved away and destroyed before its time limit would have run out: nothing may touch it.
    { auto moved = std::move(conn); }
    CHECK(conn.buffered().empty());
    asio::steady_timer past_the_limit(io, 500ms);
    bool past = false;
    past_the_limit.async_wait([&](coline::error_code) { past = true; });
    CHECK(run_until(io, [&] { return past; }));
}

TEST_CASE("limits larger than memory are taken as 'no limit' without overflowing")
{
    asio::io_context io;
    const auto result = read_all_from(one_byte_chunks("a line\nanother\n"), max_line(SIZE_MAX));
    CHECK(result.lines == strings{"a line", "another"});
    CHECK_FALSE(result.error);
}

TEST_CASE("line_buffer gives its storage back when nothing in it is unread, and only then")
{
    coline::detail::line_buffer buffer;
    coline::error_code ec;
    auto space = buffer.prepare(100);
    std::memcpy(space.data(), "one\ntw", 6);
    buffer.commit(6);
    CHECK(buffer.next_line(100, ec) == "one");
    CHECK_FALSE(buffer.release()); // "tw" is unread
    CHECK(buffer.capacity() > 0);
    CHECK(buffer.unread() == "tw");
    space = buffer.prepare(100);
    std::memcpy(space.data(), "o\n", 2);
    buffer.commit(2);
    CHECK(buffer.next_line(100, ec) == "two");
    CHECK(buffer.release());
    CHECK(buffer.capacity() == 0);
    CHECK(buffer.unread().empty());
    space = buffer.prepare(100); // storage again, from the pool
    CHECK(space.size() == coline::detail::line_buffer::min_capacity);
    CHECK_FALSE(ec);
}

TEST_CASE("a connection that waits for input holds no input buffer, and output buffers grown by a burst are freed"
          * doctest::timeout(20))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    const std::string long_line(10000, 'x');
    std::string burst;
    for (int i = 0; i < 20; ++i)
        burst += long_line + "\n";
    asio::write(peer, asio::buffer(burst));
    auto echo_then_wait = [&]() -> coline::task<void> {
        for (int i = 0; i < 20; ++i)
            co_await coline::write_line(conn, *co_await coline::read_line(conn));
        CHECK(coline::detail::core_of(conn).input.buffer().capacity() >= 10000); // grown for the long lines
        auto [ec, line] = co_await coline::read_line(conn, 100ms, coline::as_tuple); // nothing more comes
        CHECK(ec == error::timeout);
    };
    std::string echoed;
    std::thread reader([&] { echoed = read_lines_from(peer, 20); });
    run(io, echo_then_wait());
    reader.join();
    CHECK(echoed == burst);
    CHECK(coline::detail::core_of(conn).input.buffer().capacity() == 0);
    CHECK(coline::detail::core_of(conn).output.kept().capacity() <= 1024);
}

TEST_CASE("a peer that keeps sending does not keep the executor from the other connections" * doctest::timeout(30))
{
    asio::io_context io;
    auto [flooded, flooder] = make_tcp_pair(io);
    auto [quiet, quiet_peer] = make_tcp_pair(io);
    std::atomic<bool> stop{false};
    auto answer_all = [&](coline::connection& conn) -> coline::task<void> {
        while (auto line = co_await coline::read_line(conn))
            co_await coline::write_line(conn, "ok");
    };
    // The flooder sends lines without pause (and reads the answers, so neither side blocks).
    std::thread sender([&, &peer = flooder] {
        const std::string lines(64 * 1024, '\n');
        coline::error_code ec;
        while (!stop && !ec)
            asio::write(peer, asio::buffer(lines), ec);
        peer.shutdown(asio::socket_base::shutdown_send, ec);
    });
    std::thread drain([&, &peer = flooder] {
        char sink[65536];
        coline::error_code ec;
        while (!ec)
            peer.read_some(asio::buffer(sink), ec);
    });
    // Their connections are closed under them at the end: what that throws is expected.
    coline::spawn(io, answer_all(flooded), [](std::exception_ptr) {});
    coline::spawn(io, answer_all(quiet), [](std::exception_ptr) {});
    std::thread runner([&] { io.run(); });
    std::this_thread::sleep_for(200ms); // the flood is under way
    const auto asked = std::chrono::steady_clock::now();
    asio::write(quiet_peer, asio::buffer(std::string_view("hello\n")));
    std::string answer;
    for (char c = 0; c != '\n';) { // at most 10 s (plain recv: Asio's blocking reads ignore SO_RCVTIMEO)
        pollfd ready{quiet_peer.native_handle(), POLLIN, 0};
        if (::poll(&ready, 1, 10000) <= 0 || ::recv(quiet_peer.native_handle(), &c, 1, 0) != 1)
            break;
        answer += c;
    }
    const auto waited = std::chrono::steady_clock::now() - asked;
    // Ends the flood without serving the rest of it (megabytes in the
    // socket buffers, seconds of work in a slow build): the server stops;
    // closing its end with bytes unread resets the connection, which ends
    // the sender's write and the drain's read; the sessions then end on
    // their closed connections.
    stop = true;
    io.stop();
    runner.join();
    flooded.close();
    quiet.close();
    sender.join();
    drain.join();
    io.restart();
    io.run();
    CHECK(answer == "ok\n");
    CHECK(waited < 2s); // not until the flood ends
}

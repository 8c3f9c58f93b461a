// write_line: what goes on the wire, formatting, refused text, time limits.
#include "support.hpp"

#include <atomic>
#include <sstream>
#include <thread>

using namespace test;
using coline::error;

// Each write awaited until the kernel took it.
coline::connection_options sent_at_once()
{
    coline::connection_options options;
    options.coalesce_writes = false;
    return options;
}

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
        } catch (const coline::system_error& e) {
            CHECK(e.code() == error::newline_in_line);
        }
    }
    SUBCASE("formatted text, throwing")
    {
        try {
            run(io, coline::write_line(conn, "{}", "two\nlines"));
            FAIL("write_line returned");
        } catch (const coline::system_error& e) {
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
    auto fill_until_timeout = [&]() -> coline::task<coline::error_code> {
        for (int i = 0; i < 1000; ++i) { // the kernel's buffers hold far less than 60 MiB
            auto [ec] = co_await coline::write_line(conn, coline::as_tuple, big);
            if (ec)
                co_return ec;
        }
        co_return coline::error_code{};
    };
    const auto ec = run(io, fill_until_timeout());
    CHECK(ec == error::timeout);
    CHECK(std::chrono::steady_clock::now() - started < 15s);

    // The throwing form throws it (every later write fails with the same error).
    try {
        run(io, coline::write_line(conn, big));
        FAIL("write_line returned");
    } catch (const coline::system_error& e) {
        CHECK(e.code() == error::timeout);
    }
}

TEST_CASE("a write to a peer that has gone ends with the stream's error, and so does every later one" * doctest::timeout(10))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io, sent_at_once());
    peer.set_option(asio::socket_base::linger(true, 0));
    peer.close();
    auto write_until_error = [&]() -> coline::task<coline::error_code> {
        for (int i = 0; i < 100; ++i) {
            auto [ec] = co_await coline::write_line(conn, coline::as_tuple, "anyone there?");
            if (ec)
                co_return ec;
        }
        co_return coline::error_code{};
    };
    const auto ec = run(io, write_until_error());
    CHECK((ec == asio::error::connection_reset || ec == asio::error::broken_pipe));

    // Nothing more goes out on it, and every later write says why.
    auto [again] = run(io, coline::write_line(conn, coline::as_tuple, "still?"));
    CHECK(again == ec);
}

TEST_CASE("after a failed send, a later write fails alike, even when the stream would take it again")
{
    asio::io_context io;
    auto conn = scripted(io, {}, sent_at_once());
    conn.stream().fail_writes_with(asio::error::broken_pipe);
    auto [first] = run(io, coline::write_line(conn, coline::as_tuple, "lost"));
    CHECK(first == asio::error::broken_pipe);
    conn.stream().fail_writes_with({}); // the stream would take bytes again
    auto [again] = run(io, coline::write_line(conn, coline::as_tuple, "after"));
    CHECK(again == asio::error::broken_pipe);
    CHECK(conn.stream().written().empty()); // nobody knows what the peer got: nothing more goes out
}

TEST_CASE("a connection can read and write at the same time from two coroutines" * doctest::timeout(10))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    int answered = 0;
    auto reader = [&]() -> coline::task<void> {
        while (auto line = co_await coline::read_line(conn, 5s))
            ++answered;
    };
    conn.options().write_timeout = 5s;
    auto writer = [&]() -> coline::task<void> {
        for (int i = 0; i < 50; ++i)
            co_await coline::write_line(conn, "tick {}", i);
    };
    coline::spawn(io, reader(), asio::detached);
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
    options.coalesce_writes = true; // the default, said out loud
    return options;
}


// Answers every line with "ok <line>" until the end or an error.
template <class Stream>
coline::task<coline::error_code> answer_each_line(coline::basic_connection<Stream>& conn)
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
        auto conn = scripted(io, {"a\nb\nc\n", "d\n"}, sent_at_once());
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
    auto quit = [&]() -> coline::task<void> {
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
    auto answer_two = [&]() -> coline::task<void> {
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
    std::atomic<bool> all_read{false};
    auto writer = [&](char who) -> coline::task<void> {
        for (int i = 0; i < 100; ++i)
            co_await coline::write_line(conn, "{} {} {}", who, i, padding);
        ++done;
    };
    coline::spawn(io, writer('A'), asio::detached);
    coline::spawn(io, writer('B'), asio::detached);
    std::thread reader_thread([&] {
        std::string all; // (read_lines_from gives up after 15 s without bytes)
        try {
            all = read_lines_from(peer, 200);
        } catch (const coline::system_error& e) {
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
        all_read = true;
    });
    // Until the peer has read everything: the last lines are kept
    // (coalesce_writes) and leave when the writers' turn ends.
    const auto give_up = std::chrono::steady_clock::now() + 15s;
    while ((done < 2 || !all_read) && std::chrono::steady_clock::now() < give_up)
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
    coline::error_code first, second, third;
    int done = 0;
    conn.options().write_timeout = 5s;
    auto write = [&](std::string_view text, coline::error_code& result) -> coline::task<void> {
        auto [ec] = co_await coline::write_line(conn, coline::as_tuple, text);
        result = ec;
        ++done;
    };
    coline::spawn(io, write(big, first), asio::detached);
    coline::spawn(io, write("second", second), asio::bind_cancellation_slot(cancel_second.slot(), asio::detached));
    asio::post(io, [&] { cancel_second.emit(asio::cancellation_type::terminal); });
    std::atomic<bool> all_read{false};
    std::thread reader([&] {
        read_lines_from(peer, 2);
        all_read = true;
    });
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (done < 2 && std::chrono::steady_clock::now() < give_up)
        io.run_one_for(50ms);
    CHECK_FALSE(first);
    CHECK(second == asio::error::operation_aborted);
    coline::spawn(io, write("third", third), asio::detached);
    while ((done < 3 || !all_read) && std::chrono::steady_clock::now() < give_up) // "third" may be kept: run on
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

TEST_CASE("with coalesce_writes, no more than 64 KiB of answers is kept: the rest is sent")
{
    constexpr std::size_t most_kept = 64 * 1024; // connection_options::coalesce_writes
    const std::string answer(10 * 1024, 'x');
    constexpr std::size_t requests = 40;
    std::string pipelined;
    for (std::size_t i = 0; i < requests; ++i)
        pipelined += "r\n";
    asio::io_context io;
    auto conn = scripted(io, {pipelined}, coalescing()); // every request waits in one read
    std::size_t answered = 0, most_held = 0;
    auto answer_all = [&]() -> coline::task<void> {
        while (co_await coline::read_line(conn)) {
            co_await coline::write_line(conn, answer);
            answered += answer.size() + 1;
            most_held = std::max(most_held, answered - conn.stream().written().size());
        }
    };
    run(io, answer_all());
    CHECK(conn.stream().written().size() == requests * (answer.size() + 1));
    // Answers were kept up to the cap (the next one would have reached it)...
    CHECK(most_held + answer.size() + 1 >= most_kept);
    // ... and never as much as 64 KiB: the answer that reaches it goes out with them.
    CHECK(most_held < most_kept);
}

namespace {

// A connection whose peer does not read, with small socket buffers between
// them (set before connecting, so that the kernel does not grow them): a few
// kilobytes fill them.
tcp_pair small_buffers_pair(asio::io_context& io)
{
    auto acceptor = loopback_acceptor(io);
    tcp::socket peer(io, tcp::v4());
    peer.set_option(asio::socket_base::receive_buffer_size(4096));
    peer.connect(acceptor.local_endpoint());
    coline::connection conn(acceptor.accept(), coalescing());
    conn.stream().set_option(asio::socket_base::send_buffer_size(4096));
    return {std::move(conn), std::move(peer)};
}

// Reads the first of two pipelined lines and answers it `count` times: the
// answers are kept (coalesce_writes), since the second line waits.
coline::task<void> keep_answers(coline::connection& conn, int count = 1, std::string answer = "kept")
{
    const auto line = co_await coline::read_line(conn, 5s);
    REQUIRE(line == std::optional<std::string_view>("first"));
    for (int i = 0; i < count; ++i)
        co_await coline::write_line(conn, answer);
    REQUIRE(conn.stream().available() == 0); // nothing more to read
}

// The peer resets the connection; returns once the reset has arrived.
coline::task<void> reset_by_peer(coline::connection& conn, tcp::socket& peer)
{
    peer.set_option(asio::socket_base::linger(true, 0));
    peer.close();
    co_await conn.stream().async_wait(asio::socket_base::wait_read, coline::use_task);
}

} // namespace

TEST_CASE("flush gives up with error::timeout when the peer does not take the lines" * doctest::timeout(20))
{
    asio::io_context io;
    auto [conn, peer] = small_buffers_pair(io);
    asio::write(peer, asio::buffer(std::string_view("first\nsecond\n")));
    run(io, keep_answers(conn, 6, std::string(10 * 1024, 'x'))); // 60 KiB kept: more than the buffers hold
    const auto started = std::chrono::steady_clock::now();
    SUBCASE("its own time limit, non-throwing")
    {
        auto [ec] = run(io, coline::flush(conn, 100ms, coline::as_tuple));
        CHECK(ec == error::timeout);
    }
    SUBCASE("the connection's write_timeout, throwing")
    {
        conn.options().write_timeout = 100ms;
        try {
            run(io, coline::flush(conn));
            FAIL("flush returned");
        } catch (const coline::system_error& e) {
            CHECK(e.code() == error::timeout);
            CHECK(std::string(e.what()).find("coline::flush") != std::string::npos);
        }
    }
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(took >= 80ms);
    CHECK(took < 5s);
}

TEST_CASE("flush to a peer that has gone fails with the stream's error, and so does every later one" * doctest::timeout(20))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io, coalescing());
    run(io, reset_by_peer(conn, peer));
    auto keep_then_flush = [&]() -> coline::task<coline::error_code> {
        auto [kept] = co_await coline::write_line(conn, coline::as_tuple, "kept"); // no read waits: kept
        CHECK_FALSE(kept);
        auto [ec] = co_await coline::flush(conn, 5s, coline::as_tuple);
        co_return ec;
    };
    const auto ec = run(io, keep_then_flush());
    CHECK_MESSAGE(cut_off(ec), ec.message());
    auto [again] = run(io, coline::flush(conn, 5s, coline::as_tuple));
    CHECK(again == ec);
    try {
        run(io, coline::flush(conn));
        FAIL("flush returned");
    } catch (const coline::system_error& e) {
        CHECK(e.code() == ec);
    }
}

TEST_CASE("read_line reports a failed send of the answers write_line kept, instead of reading on")
{
    asio::io_context io;
    auto conn = scripted(io, {"a\nb\n"}, coalescing());
    conn.stream().fail_writes_with(asio::error::broken_pipe);
    auto answer_then_read = [&]() -> coline::task<void> {
        CHECK((co_await coline::read_line(conn)) == std::optional<std::string_view>("a"));
        auto [kept] = co_await coline::write_line(conn, coline::as_tuple, "ok a"); // "b" waits: kept
        CHECK_FALSE(kept);
        CHECK((co_await coline::read_line(conn)) == std::optional<std::string_view>("b")); // nothing sent before a line
        CHECK(conn.stream().writes() == 0);
    };
    run(io, answer_then_read());
    SUBCASE("non-throwing")
    {
        auto [ec, line] = run(io, coline::read_line(conn, coline::as_tuple)); // sends "ok a" first, which fails
        CHECK(ec == asio::error::broken_pipe);
        CHECK_FALSE(line);
    }
    SUBCASE("throwing")
    {
        try {
            run(io, coline::read_line(conn));
            FAIL("read_line returned");
        } catch (const coline::system_error& e) {
            CHECK(e.code() == asio::error::broken_pipe);
        }
    }
    CHECK(conn.stream().writes() == 1);
    CHECK(conn.stream().reads() == 1); // it did not read on to the end of the stream
    auto [later] = run(io, coline::write_line(conn, coline::as_tuple, "ok b"));
    CHECK(later == asio::error::broken_pipe);
}

TEST_CASE("a send that fails to start (the stream throws) gives its lines back and leaves the connection free")
{
    asio::io_context io;
    auto conn = scripted(io, {});
    coline::detail::core_of(conn).output.kept() = "first\n";
    conn.stream().throw_at_next_write_start();
    // What flush and read_line do, with lines written between the start of
    // the send and the moment the stream refuses it.
    auto send_once = [&]() -> coline::task<void> {
        coline::error_code ec;
        coline::detail::send_in_flight send(coline::detail::core_of(conn), ec);
        auto sending = send.start(coline::no_timeout, {}, {});
        coline::detail::core_of(conn).output.kept() += "second\n"; // written meanwhile: it goes after the lines in flight
        co_await std::move(sending);
    };
    CHECK_THROWS_AS(run(io, send_once()), std::bad_alloc);
    CHECK(conn.stream().writes() == 0);
    CHECK_FALSE(coline::detail::core_of(conn).output.sending());
    run(io, coline::flush(conn, 5s)); // would wait forever for a turn if the connection looked busy
    CHECK(conn.stream().written() == "first\nsecond\n");
}

// What a connection kept (coalesce_writes, on by default) is not lost when the
// session returns, throws or destroys it; and a peer that is gone or never
// reads cannot hold the end up for longer than the write time limit.
#include "support.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <stdexcept>
#include <thread>

using namespace test;
using namespace std::chrono_literals;

namespace {

// Everything the peer receives until the end of the stream (or `limit`, or a
// reset); `reset` tells which. Plain recv: Asio's blocking reads ignore SO_RCVTIMEO.
struct received {
    std::string bytes;
    bool ended = false; // the stream ended cleanly
    bool reset = false;
};

received read_to_end(tcp::socket& peer, std::chrono::milliseconds limit)
{
    received r;
    const auto give_up = std::chrono::steady_clock::now() + limit;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
        if (left <= 0ms)
            return r;
        pollfd p{peer.native_handle(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
            continue;
        char chunk[65536];
        const auto n = ::recv(peer.native_handle(), chunk, sizeof chunk, 0);
        if (n == 0) {
            r.ended = true;
            return r;
        }
        if (n < 0) {
            r.reset = errno == ECONNRESET;
            return r;
        }
        r.bytes.append(chunk, static_cast<std::size_t>(n));
    }
}

// A session that owns its connection, as the README's does.
coline::task<void> answer_then(coline::connection conn, int lines, bool then_throw)
{
    for (int i = 0; i < lines; ++i)
        co_await coline::write_line(conn, "answer {}", i);
    if (then_throw)
        throw std::runtime_error("the session failed after writing");
}

std::string answers(int lines)
{
    std::string all;
    for (int i = 0; i < lines; ++i)
        all += fmt::format("answer {}\n", i);
    return all;
}

} // namespace

TEST_CASE("by default a bare connection keeps its writes, and one send carries the answers to pipelined lines")
{
    asio::io_context io;
    auto conn = scripted(io, {"a\nb\nc\n", "d\n"});
    auto answer_each = [&]() -> coline::task<void> {
        while (auto line = co_await coline::read_line(conn))
            co_await coline::write_line(conn, "ok {}", *line);
    };
    run(io, answer_each());
    CHECK(conn.stream().written() == "ok a\nok b\nok c\nok d\n");
    CHECK(conn.stream().writes() == 2); // one per batch of requests
}

TEST_CASE("the lines a session kept reach the peer when it returns, throws or drops its connection"
          * doctest::timeout(30))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    CHECK(conn.options().coalesce_writes); // the default
    std::exception_ptr failure;
    auto note = [&](std::exception_ptr e) { failure = e; };

    // The session ends after three answers, all of them kept.
    auto end_then_read = [&](bool then_throw) {
        coline::spawn(io, answer_then(std::move(conn), 3, then_throw), note);
        io.run();
        CHECK(static_cast<bool>(failure) == then_throw);
        const auto r = read_to_end(peer, 5s);
        CHECK(r.bytes == answers(3));
        CHECK(r.ended);
    };
    SUBCASE("return") { end_then_read(false); }
    SUBCASE("exception") { end_then_read(true); }
    SUBCASE("destruction, more kept than the socket takes at once, and input the session never read")
    {
        // The peer sent lines nobody reads: a plain close would reset the
        // stream, and the peer would lose the answers. It reads only later.
        asio::write(peer, asio::buffer(std::string_view("more\nand more\n")));
        conn.stream().set_option(asio::socket_base::send_buffer_size(4096));
        peer.set_option(asio::socket_base::receive_buffer_size(4096));
        const int lines = 4000; // about 50 KiB: within the 64 KiB kept, far over the buffers
        auto doomed = std::make_unique<coline::connection>(std::move(conn));
        auto write_then_drop = [&]() -> coline::task<void> {
            for (int i = 0; i < lines; ++i)
                co_await coline::write_line(*doomed, "answer {}", i);
            CHECK(coline::detail::core_of(*doomed).output.kept().size() > 40000); // all kept
            doomed.reset();
        };
        coline::spawn(io, write_then_drop(), note);
        received r;
        std::thread reader([&] { r = read_to_end(peer, 10s); });
        io.run(); // returns once the rest is sent and the peer ended its side
        reader.join();
        CHECK_FALSE(failure);
        CHECK(r.bytes == answers(lines));
        CHECK(r.ended);
        CHECK_FALSE(r.reset);
    }
}

TEST_CASE("a dropped connection whose peer is gone or never reads ends within its write time limit"
          * doctest::timeout(30))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    conn.options().write_timeout = 200ms;
    SUBCASE("peer gone: the kept lines are dropped, nothing waits")
    {
        peer.set_option(asio::socket_base::linger(true, 0));
        peer.close(); // a reset
        auto wait_for_reset = [&]() -> coline::task<void> {
            co_await conn.stream().async_wait(asio::socket_base::wait_read, coline::use_task);
        };
        run(io, wait_for_reset());
        io.restart();
        const auto start = std::chrono::steady_clock::now();
        CHECK_NOTHROW(run(io, answer_then(std::move(conn), 3, false)));
        io.restart();
        io.run();
        CHECK(std::chrono::steady_clock::now() - start < 5s);
    }
    SUBCASE("peer never reads: the rest is abandoned at the time limit")
    {
        // Fill the socket's buffers first: the peer does not read.
        conn.stream().non_blocking(true);
        std::size_t filled = 0;
        const std::string filler(4096, 'f');
        for (coline::error_code ec; !ec;)
            filled += conn.stream().write_some(asio::buffer(filler), ec);
        const auto start = std::chrono::steady_clock::now();
        run(io, answer_then(std::move(conn), 100, false));
        io.restart();
        io.run(); // the closing coroutine gives up after write_timeout
        const auto took = std::chrono::steady_clock::now() - start;
        CHECK(took >= 150ms);
        CHECK(took < 5s);
        const auto r = read_to_end(peer, 5s);
        CHECK(r.bytes.size() < filled + answers(100).size());
        CHECK((r.ended || r.reset)); // closed, not left open
    }
}

TEST_CASE("a connection assigned over sends what it kept first")
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    auto [other, other_peer] = make_tcp_pair(io);
    auto write_then_assign = [&]() -> coline::task<void> {
        co_await coline::write_line(conn, "kept");
        CHECK_FALSE(coline::detail::core_of(conn).output.kept().empty());
        conn = std::move(other);
    };
    run(io, write_then_assign());
    const auto r = read_to_end(peer, 5s);
    CHECK(r.bytes == "kept\n");
    CHECK(r.ended);
}

// Byte-counted input (read_exactly, read_some), lines in pieces
// (read_line_part), the line ending seen, and raw, CRLF and coalesced output.
#include "support.hpp"

#include <thread>

using namespace test;
using coline::error;

namespace {

coline::connection_options block_limit(std::size_t n)
{
    coline::connection_options options;
    options.max_block_size = n;
    return options;
}

// "0123456789abcdef..." repeated: bytes whose position shows in a mismatch.
std::string pattern(std::size_t n)
{
    std::string text(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        text[i] = "0123456789abcdef\n\r\0 xyz"[i % 24];
    return text;
}

// Collects read_line_part's pieces up to the line's end.
template <class Stream>
coline::task<std::vector<coline::line_part>> parts_of_line(coline::basic_connection<Stream>& conn,
                                                              std::string& line)
{
    std::vector<coline::line_part> parts;
    while (auto part = co_await coline::read_line_part(conn)) {
        line += part->text;
        parts.push_back(*part);
        if (part->ends_line)
            break;
    }
    co_return parts;
}

} // namespace

TEST_CASE("read_exactly returns the bytes after a line as they are, however they arrive")
{
    const std::string block = std::string("ab\ncd\r\n\0ef", 11);
    const std::string stream = "set k 11\n" + block + "next\n";
    for (auto chunks : {std::vector<std::string>{stream}, one_byte_chunks(stream)}) {
        asio::io_context io;
        auto conn = scripted(io, chunks);
        auto read = [&]() -> coline::task<void> {
            CHECK((co_await coline::read_line(conn)) == "set k 11");
            CHECK((co_await coline::read_exactly(conn, block.size())) == block);
            CHECK((co_await coline::read_line(conn)) == "next"); // the framing goes on after the block
            CHECK((co_await coline::read_exactly(conn, 0)) == "");
        };
        run(io, read());
    }
}

TEST_CASE("read_exactly grows the input buffer to the block, never past max_block_size")
{
    asio::io_context io;
    const std::string block = pattern(20000);
    auto conn = scripted(io, {block.substr(0, 5000), block.substr(5000)}, block_limit(32 * 1024));
    CHECK(run(io, coline::read_exactly(conn, block.size())) == block);
    const std::size_t capacity = coline::detail::core_of(conn).input.buffer().capacity();
    CHECK(capacity >= block.size());
    CHECK(capacity <= 32 * 1024);
}

TEST_CASE("read_exactly of more than max_block_size is error::block_too_large, and reads nothing")
{
    asio::io_context io;
    auto conn = scripted(io, {"abcdef\nnext\n"}, block_limit(4));
    SUBCASE("non-throwing")
    {
        auto [ec, bytes] = run(io, coline::read_exactly(conn, 5, coline::as_tuple));
        CHECK(ec == error::block_too_large);
        CHECK(ec == std::errc::message_size);
        CHECK(bytes.empty());
    }
    SUBCASE("throwing")
    {
        try {
            run(io, coline::read_exactly(conn, 1000000000000));
            FAIL("read_exactly returned");
        } catch (const coline::system_error& e) {
            CHECK(e.code() == error::block_too_large);
            CHECK(std::string(e.what()).find("coline::read_exactly") != std::string::npos);
        }
    }
    CHECK(coline::detail::core_of(conn).input.buffer().capacity() <= 4096); // nothing allocated for the announced size
    CHECK(run(io, coline::read_line(conn)) == "abcdef");
    CHECK(run(io, coline::read_exactly(conn, 4)) == "next");
}

TEST_CASE("the end of the stream inside a block is error::partial_block, with the bytes kept")
{
    asio::io_context io;
    SUBCASE("some bytes arrived")
    {
        auto conn = scripted(io, {"abc"});
        auto [ec, bytes] = run(io, coline::read_exactly(conn, 5, coline::as_tuple));
        CHECK(ec == error::partial_block);
        CHECK(bytes.empty());
        CHECK(conn.buffered() == "abc");
        CHECK(conn.at_end());
    }
    SUBCASE("none did")
    {
        auto conn = scripted(io, {});
        try {
            run(io, coline::read_exactly(conn, 5));
            FAIL("read_exactly returned");
        } catch (const coline::system_error& e) {
            CHECK(e.code() == error::partial_block);
        }
        auto [again, bytes] = run(io, coline::read_exactly(conn, 1, coline::as_tuple)); // the end stays the end
        CHECK(again == error::partial_block);
    }
}

TEST_CASE("read_exactly gives up at its time limit with error::timeout, keeping what arrived" * doctest::timeout(20))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    asio::write(peer, asio::buffer(std::string_view("abc")));
    const auto started = std::chrono::steady_clock::now();
    auto [ec, bytes] = run(io, coline::read_exactly(conn, 6, 100ms, coline::as_tuple));
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(ec == error::timeout);
    CHECK(took >= 80ms);
    CHECK(took < 5s);
    CHECK(conn.buffered() == "abc");
    asio::write(peer, asio::buffer(std::string_view("def")));
    CHECK(run(io, coline::read_exactly(conn, 6, 5s)) == "abcdef");
}

TEST_CASE("read_exactly into a caller's buffer: the buffered bytes, then the rest straight from the stream"
          * doctest::timeout(30))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    const std::string payload = pattern(1 << 20);
    const std::string sent = "PUT 1048576\n" + payload + "after\n";
    std::thread writer([&] { asio::write(peer, asio::buffer(sent)); });
    CHECK(run(io, coline::read_line(conn, 10s)) == "PUT 1048576");
    std::string into(payload.size(), '\0');
    CHECK(run(io, coline::read_exactly(conn, std::span<char>(into), 10s)) == payload.size());
    CHECK(into == payload);
    CHECK(coline::detail::core_of(conn).input.buffer().capacity() <= 64 * 1024 + 2); // a megabyte passed, the buffer kept its bound
    CHECK(run(io, coline::read_line(conn, 10s)) == "after");
    writer.join();
}

TEST_CASE("read_exactly into a caller's buffer receives a short rest through the input buffer, with what follows")
{
    asio::io_context io;
    auto conn = scripted(io, {"PUT 5\nab", "cde\r\nNEXT\n"});
    CHECK(run(io, coline::read_line(conn)) == "PUT 5");
    std::string into(5, '.');
    CHECK(run(io, coline::read_exactly(conn, std::span<char>(into))) == 5);
    CHECK(into == "abcde");
    CHECK(conn.stream().reads() == 2);            // one receive brought the rest and the next line
    CHECK(without_suspending(coline::read_exactly(conn, 2)) == "\r\n");
    CHECK(without_suspending(coline::read_line(conn)) == std::optional<std::string_view>("NEXT")); // no receive of its own
}

TEST_CASE("read_exactly into a caller's buffer reports how far it got when the stream ends first")
{
    asio::io_context io;
    auto conn = scripted(io, {"ab", "cd"});
    std::string into(10, '.');
    SUBCASE("non-throwing")
    {
        auto [ec, filled] = run(io, coline::read_exactly(conn, std::span<char>(into), coline::as_tuple));
        CHECK(ec == error::partial_block);
        CHECK(filled == 4);
        CHECK(into == "abcd......");
    }
    SUBCASE("throwing")
    {
        CHECK_THROWS_AS(run(io, coline::read_exactly(conn, std::span<char>(into))), coline::system_error);
        CHECK(conn.at_end());
    }
}

TEST_CASE("read_some passes a payload of any size in pieces, with memory bounded by the input buffer")
{
    asio::io_context io;
    const std::string payload = pattern(300000);
    std::vector<std::string> chunks;
    for (std::size_t at = 0; at < payload.size(); at += 7000)
        chunks.push_back(payload.substr(at, 7000));
    auto conn = scripted(io, chunks);
    auto read_all_pieces = [&]() -> coline::task<std::string> {
        std::string got;
        for (;;) {
            auto piece = co_await coline::read_some(conn, 5000);
            if (piece.empty())
                break;
            CHECK(piece.size() <= 5000);
            got += piece;
        }
        co_return got;
    };
    CHECK(run(io, read_all_pieces()) == payload);
    CHECK(conn.at_end());
    CHECK(coline::detail::core_of(conn).input.buffer().capacity() <= 64 * 1024 + 2);
}

TEST_CASE("read_line_part reads a line of any length in pieces, each within the input buffer")
{
    asio::io_context io;
    const std::string long_line = "get " + std::string(200000, 'k');
    auto conn = scripted(io, {long_line.substr(0, 70000), long_line.substr(70000) + "\r\nshort\n"});
    conn.options().max_line_length = 1000; // no limit applies to parts
    std::string line;
    const auto parts = run(io, parts_of_line(conn, line));
    CHECK(line == long_line);
    REQUIRE(parts.size() >= 2);
    for (std::size_t i = 0; i + 1 < parts.size(); ++i)
        CHECK_FALSE(parts[i].ends_line);
    CHECK(parts.back().ends_line);
    CHECK(coline::detail::core_of(conn).input.buffer().capacity() <= 4096);
    CHECK(conn.last_line_ending() == coline::line_ending::crlf);
    CHECK(run(io, coline::read_line(conn)) == "short");
}

TEST_CASE("read_line_part never hands out the \\r of a \\r\\n cut between two reads")
{
    asio::io_context io;
    auto conn = scripted(io, one_byte_chunks("ab\r\ncd\rx\n"));
    std::string first, second;
    run(io, parts_of_line(conn, first));
    run(io, parts_of_line(conn, second));
    CHECK(first == "ab");
    CHECK(second == "cd\rx"); // a \r not followed by \n is text
}

TEST_CASE("read_line_part: the end between lines is the end, inside one is error::partial_line")
{
    asio::io_context io;
    auto conn = scripted(io, {"whole\nhalf"});
    std::string line;
    run(io, parts_of_line(conn, line));
    CHECK(line == "whole");
    auto [ec, part] = run(io, coline::read_line_part(conn, coline::as_tuple));
    CHECK_FALSE(ec); // "half" so far
    REQUIRE(part);
    CHECK(part->text == "half");
    CHECK_FALSE(part->ends_line);
    auto [end_ec, end] = run(io, coline::read_line_part(conn, coline::as_tuple));
    CHECK(end_ec == error::partial_line);
    auto after = scripted(io, {"a\n"});
    run(io, coline::read_line_part(after));
    CHECK_FALSE(run(io, coline::read_line_part(after)));
}

TEST_CASE("last_line_ending tells a line that ended in \\r\\n from one that ended in \\n")
{
    asio::io_context io;
    auto conn = scripted(io, {"crlf\r\nlf\nstray\r\r\n"});
    CHECK(run(io, coline::read_line(conn)) == "crlf");
    CHECK(conn.last_line_ending() == coline::line_ending::crlf);
    CHECK(run(io, coline::read_line(conn)) == "lf");
    CHECK(conn.last_line_ending() == coline::line_ending::lf);
    CHECK(run(io, coline::read_line(conn)) == "stray\r");
    CHECK(conn.last_line_ending() == coline::line_ending::crlf);
}

TEST_CASE("write sends bytes as they are; write_line ends lines with the connection's newline")
{
    asio::io_context io;
    auto conn = scripted(io, {});
    run(io, coline::write(conn, std::string_view("a\nb\0c", 5)));
    run(io, coline::write(conn, "<{}:{}>", 1, "x"));
    conn.options().newline = coline::line_ending::crlf;
    run(io, coline::write_line(conn, "VALUE {} 0 {}", "k", 3));
    auto [ec] = run(io, coline::write(conn, coline::as_tuple, "end"));
    CHECK_FALSE(ec);
    CHECK(conn.stream().written() == std::string("a\nb\0c<1:x>VALUE k 0 3\r\nend", 26));
}

TEST_CASE("a large write leaves with the kept bytes in one write, without a copy into the output buffer")
{
    asio::io_context io;
    auto conn = scripted(io, {"get k\nget k\n"}, coline::server_options{}.connection); // coalesce_writes on
    const std::string value = pattern(200000);
    auto answer = [&]() -> coline::task<void> {
        CHECK((co_await coline::read_line(conn)) == "get k");
        co_await coline::write_line(conn, "VALUE k 0 {}", value.size()); // kept: "get k" waits
        co_await coline::write(conn, value);                               // too large to keep: sent with it
        CHECK(coline::detail::core_of(conn).output.kept().capacity() < 64 * 1024);
        CHECK(conn.stream().writes() == 1);
    };
    run(io, answer());
    CHECK(conn.stream().written() == "VALUE k 0 200000\n" + value);
}

TEST_CASE("with coalesce_writes, a reply of several writes leaves in one send, at the next read"
          * doctest::timeout(20))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io, coline::server_options{}.connection);
    asio::write(peer, asio::buffer(std::string_view("get k\n")));
    auto answer = [&]() -> coline::task<void> {
        CHECK((co_await coline::read_line(conn)) == "get k");
        co_await coline::write_line(conn, "VALUE k 0 2");
        co_await coline::write(conn, "hi\n");
        co_await coline::write_line(conn, "END");
        CHECK(peer.available() == 0); // all kept while the session handles the request
        CHECK(coline::detail::core_of(conn).output.kept() == "VALUE k 0 2\nhi\nEND\n");
        auto [ec, line] = co_await coline::read_line(conn, 100ms, coline::as_tuple); // sends, then waits
        CHECK(ec == error::timeout);
        CHECK(coline::detail::core_of(conn).output.kept().empty());
    };
    run(io, answer());
    CHECK(read_lines_from(peer, 3) == "VALUE k 0 2\nhi\nEND\n");
}

TEST_CASE("with coalesce_writes, kept bytes leave when the session waits for something else than its peer"
          * doctest::timeout(20))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io, coline::server_options{}.connection);
    asio::steady_timer other_work(io, std::chrono::steady_clock::time_point::max());
    bool kept = false;
    auto greet_then_wait = [&]() -> coline::task<void> {
        co_await coline::write_line(conn, "Connect");
        kept = !coline::detail::core_of(conn).output.kept().empty();
        coline::error_code cancelled;
        co_await other_work.async_wait(asio::redirect_error(coline::use_task, cancelled));
    };
    coline::spawn(io, greet_then_wait(), asio::detached);
    CHECK(run_until(io, [&] { return peer.available() >= 8; }, 5s)); // sent while the session waits
    CHECK(kept);
    other_work.cancel();
    io.run();
    CHECK(read_lines_from(peer, 1) == "Connect\n");
}

TEST_CASE("kept bytes that the session's next read sends cost no handler of their own" * doctest::timeout(20))
{
    // The same session twice, once without its greeting: the handlers the
    // io_context runs until each waits for its peer are counted. The read
    // sends the kept greeting before it waits, so nothing is left for the
    // end of the turn to do, and nothing is posted for it.
    asio::io_context io;
    asio::io_context peers_io; // (the peers' events would count as handlers of `io`)
    auto pair = [&] {
        auto acceptor = loopback_acceptor(io);
        tcp::socket peer(peers_io);
        peer.connect(acceptor.local_endpoint());
        return tcp_pair{coline::connection(acceptor.accept(), coline::server_options{}.connection), std::move(peer)};
    };
    auto [quiet, quiet_peer] = pair();
    auto [greeting, greeting_peer] = pair();
    int ended = 0;
    auto session = [&ended](coline::connection& conn, bool greet) -> coline::task<void> {
        if (greet)
            co_await coline::write_line(conn, "Connect");
        auto [ec, line] = co_await coline::read_line(conn, coline::as_tuple);
        CHECK_FALSE(ec);
        CHECK_FALSE(line); // the end of the stream
        ++ended;
    };
    coline::spawn(io, session(quiet, false), asio::detached);
    const std::size_t without_greeting = io.poll();
    coline::spawn(io, session(greeting, true), asio::detached);
    const std::size_t with_greeting = io.poll();
    CHECK(with_greeting == without_greeting);
    CHECK(wait_for_arrival(greeting_peer, 8)); // "Connect\n", sent by the read before it waited (the io_context not run)
    quiet_peer.shutdown(tcp::socket::shutdown_send);
    greeting_peer.shutdown(tcp::socket::shutdown_send);
    CHECK(run_until(io, [&] { return ended == 2; }, 5s));
    CHECK(read_lines_from(greeting_peer, 1) == "Connect\n");
}

TEST_CASE("a send at the end of a turn that fails is reported by the next read" * doctest::timeout(20))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io, coline::server_options{}.connection);
    peer.set_option(asio::socket_base::linger(true, 0));
    peer.close(); // a reset
    auto wait_for_reset = [&]() -> coline::task<void> {
        co_await conn.stream().async_wait(asio::socket_base::wait_read, coline::use_task);
    };
    run(io, wait_for_reset());
    run(io, coline::write_line(conn, "kept")); // kept; sent (and failing) when the turn ends
    io.restart();
    io.poll();
    auto [ec, line] = run(io, coline::read_line(conn, 5s, coline::as_tuple));
    CHECK_MESSAGE(cut_off(ec), ec.message());
    CHECK_FALSE(line);
}

TEST_CASE("a connection destroyed or moved with bytes kept is left alone by the send at the turn's end")
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io, coline::server_options{}.connection);
    SUBCASE("destroyed: the destructor sends them")
    {
        auto doomed = std::make_unique<coline::connection>(std::move(conn));
        auto write_then_destroy = [&]() -> coline::task<void> {
            co_await coline::write_line(*doomed, "kept"); // kept, its send posted
            doomed.reset();
        };
        CHECK_NOTHROW(run(io, write_then_destroy()));
        io.restart();
        CHECK_NOTHROW(io.poll()); // the posted send finds the connection gone (ASan would see a use after free)
        CHECK(read_lines_from(peer, 1) == "kept\n");
    }
    SUBCASE("moved: the bytes go with the connection, and its next read sends them")
    {
        std::optional<coline::connection> moved;
        auto write_then_move = [&]() -> coline::task<void> {
            co_await coline::write_line(conn, "moved"); // kept, its send posted for `conn`
            moved.emplace(std::move(conn));
        };
        run(io, write_then_move());
        io.restart();
        io.poll();
        CHECK(peer.available() == 0);
        auto [ec, line] = run(io, coline::read_line(*moved, 100ms, coline::as_tuple));
        CHECK(ec == error::timeout);
        CHECK(read_lines_from(peer, 1) == "moved\n");
    }
}

TEST_CASE("read_line and read_exactly complete without suspending when the buffer holds what they want, and receive only otherwise")
{
    asio::io_context io;
    auto conn = scripted(io, {"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPIN", "G\r\n"});
    conn.options().max_block_size = 4;
    CHECK_FALSE(without_suspending(coline::read_line(conn))); // nothing received yet: no I/O either
    CHECK(conn.stream().reads() == 0);
    CHECK(run(io, coline::read_line(conn)) == "*2");
    CHECK(without_suspending(coline::read_line(conn)) == std::optional<std::string_view>("$3"));
    // Over max_block_size: the error comes without suspending either.
    auto too_large = without_suspending(coline::read_exactly(conn, 5, coline::as_tuple));
    REQUIRE(too_large);
    CHECK(std::get<0>(*too_large) == error::block_too_large);
    CHECK(without_suspending(coline::read_exactly(conn, 3)) == "GET");
    CHECK(without_suspending(coline::read_exactly(conn, 2)) == "\r\n");
    CHECK(without_suspending(coline::read_line(conn)) == std::optional<std::string_view>("$1"));
    CHECK(without_suspending(coline::read_exactly(conn, 3)) == "k\r\n");
    CHECK_FALSE(without_suspending(coline::read_line(conn))); // "PIN": not a whole line
    CHECK_FALSE(without_suspending(coline::read_exactly(conn, 4)));
    CHECK(conn.buffered() == "PIN");
    const auto reads = conn.stream().reads();
    CHECK(run(io, coline::read_line(conn)) == "PING");
    CHECK(conn.stream().reads() == reads + 1);
}

TEST_CASE("read_line reports a whole line over the limit without suspending, and goes on with the next")
{
    asio::io_context io;
    auto again = scripted(io, {"x\ntoolong\nok\n"});
    again.options().max_line_length = 6;
    CHECK(run(io, coline::read_line(again)) == "x");
    auto too_long = without_suspending(coline::read_line(again, coline::as_tuple));
    REQUIRE(too_long);
    CHECK(std::get<0>(*too_long) == error::line_too_long);
    CHECK(without_suspending(coline::read_line(again)) == std::optional<std::string_view>("ok"));
}

TEST_CASE("write keeps bytes without suspending where it can keep them, and suspends to send otherwise"
          * doctest::timeout(20))
{
    asio::io_context io;
    SUBCASE("kept, and sent by the next read")
    {
        auto [conn, peer] = make_tcp_pair(io, coline::server_options{}.connection);
        CHECK(without_suspending(coline::write(conn, "+OK\r\n")));
        CHECK(without_suspending(coline::write(conn, ":{}\r\n", 42)));
        CHECK(coline::detail::core_of(conn).output.kept() == "+OK\r\n:42\r\n");
        const std::string large(64 * 1024, 'x');
        CHECK_FALSE(without_suspending(coline::write(conn, large))); // past the 64 KiB kept: sent from where it is
        CHECK(coline::detail::core_of(conn).output.kept() == "+OK\r\n:42\r\n");
        auto [ec, line] = run(io, coline::read_line(conn, 100ms, coline::as_tuple));
        CHECK(ec == error::timeout);
        CHECK(read_lines_from(peer, 2) == "+OK\r\n:42\r\n");
    }
    SUBCASE("without coalesce_writes, each write suspends until the kernel took it")
    {
        coline::connection_options sent_at_once;
        sent_at_once.coalesce_writes = false;
        auto [conn, peer] = make_tcp_pair(io, sent_at_once);
        CHECK_FALSE(without_suspending(coline::write(conn, "+OK\r\n")));
        run(io, coline::flush(conn));
        CHECK(read_lines_from(peer, 1) == "+OK\r\n");
    }
    SUBCASE("after a failed send, the failure is reported without suspending")
    {
        auto conn = scripted(io, {"a\nb\n"}, coline::server_options{}.connection);
        conn.stream().fail_writes_with(asio::error::broken_pipe);
        CHECK(run(io, coline::read_line(conn)) == "a");
        CHECK(without_suspending(coline::write(conn, "kept\n"))); // "b" waits: kept
        CHECK(run(io, coline::read_line(conn)) == "b");
        auto [ec, line] = run(io, coline::read_line(conn, coline::as_tuple)); // the send fails
        CHECK(ec == asio::error::broken_pipe);
        auto again = without_suspending(coline::write(conn, coline::as_tuple, "more\n"));
        REQUIRE(again);
        CHECK(std::get<0>(*again) == asio::error::broken_pipe);
        CHECK_THROWS_AS(run(io, coline::write(conn, "more\n")), coline::system_error);
    }
}

TEST_CASE("a session served from the buffer takes no turns of the executor: 10,000 pipelined lines in a handful")
{
    asio::io_context io;
    std::string requests;
    constexpr int lines = 10'000;
    for (int i = 0; i < lines; ++i)
        requests += "get k\r\n";
    auto conn = scripted(io, {requests}); // no time limits: no timer keeps io.run() going
    int answered = 0;
    auto serve = [&]() -> coline::task<void> {
        while (auto line = co_await coline::read_line(conn)) {
            co_await coline::write_line(conn, "END");
            ++answered;
        }
    };
    coline::spawn(io, serve(), asio::detached);
    const std::size_t turns = io.run();
    CHECK(answered == lines);
    CHECK(turns < 100); // the spawn, each receive and send (a few kilobytes each), the end: not one per line
}

namespace {

// Sends `piece` to the peer every `every`, `count` times (a client that
// dribbles a request: each piece well within any per-read limit).
coline::task<void> dribble(tcp::socket& peer, std::string piece, std::chrono::milliseconds every, int count)
{
    asio::steady_timer timer(peer.get_executor());
    for (int i = 0; i < count; ++i) {
        timer.expires_after(every);
        co_await timer.async_wait(coline::use_task);
        co_await asio::async_write(peer, asio::buffer(piece), coline::use_task);
    }
}

using clock_type = std::chrono::steady_clock;

} // namespace

TEST_CASE("begin_request: a request dribbled a line at a time ends at its limit, each line within read_timeout"
          * doctest::timeout(30))
{
    asio::io_context io;
    coline::connection_options options;
    options.read_timeout = 3s;
    options.request_timeout = 400ms;
    auto [conn, peer] = make_tcp_pair(io, options);
    // 200 lines 20 ms apart: 4 s in all, past the request's limit and past read_timeout.
    coline::spawn(io, dribble(peer, "argument\n", 20ms, 200), asio::detached);

    auto session = [](coline::connection& conn) -> coline::task<std::tuple<coline::error_code, int, clock_type::duration>> {
        co_await coline::read_line(conn); // the request's first line: read_timeout alone
        const auto begun = clock_type::now();
        int lines = 1;
        for (;;) {
            conn.begin_request(); // as a parser calls it after each piece: the first call counts
            auto [ec, line] = co_await coline::read_line(conn, coline::as_tuple);
            if (ec || !line)
                co_return std::tuple{ec, lines, clock_type::now() - begun};
            ++lines;
        }
    };
    auto [ec, lines, took] = run(io, session(conn), 20s);
    CHECK(ec == error::timeout);
    CHECK(lines > 3);          // lines went on arriving and being read
    CHECK(took >= 350ms);      // not before the limit (its clock starts at the first read that waits)
    CHECK(took < 2500ms);      // the request's limit, not read_timeout or the peer's 4 s
    CHECK_FALSE(conn.at_end()); // the peer was still sending

    SUBCASE("after end_request, reads have only their own limits again")
    {
        conn.end_request();
        auto later = run(io, coline::read_line(conn), 20s);
        REQUIRE(later);
        CHECK(later->starts_with("argument"));
    }
}

TEST_CASE("begin_request bounds read_exactly (both forms), read_some and read_line_part fed a byte at a time"
          * doctest::timeout(30))
{
    asio::io_context io;
    coline::connection_options options;
    options.read_timeout = 3s;
    auto [conn, peer] = make_tcp_pair(io, options);
    coline::spawn(io, dribble(peer, "x", 20ms, 200), asio::detached);
    std::string into(1000, '\0');
    auto read_one = [&](int kind) -> coline::task<coline::error_code> {
        conn.begin_request(300ms);
        for (int i = 0; i < 1000; ++i) { // (a bound: one piece per byte at most)
            coline::error_code ec;
            if (kind == 0) {
                std::tie(ec, std::ignore) = co_await coline::read_exactly(conn, 1000, coline::as_tuple);
            } else if (kind == 1) {
                std::tie(ec, std::ignore) = co_await coline::read_exactly(conn, std::span<char>(into), coline::as_tuple);
            } else if (kind == 2) {
                std::tie(ec, std::ignore) = co_await coline::read_some(conn, 1000, coline::as_tuple);
            } else {
                std::tie(ec, std::ignore) = co_await coline::read_line_part(conn, coline::as_tuple);
            }
            if (ec)
                co_return ec;
        }
        co_return coline::error_code{};
    };
    for (int kind = 0; kind < 4; ++kind) {
        CAPTURE(kind);
        const auto started = clock_type::now();
        CHECK(run(io, read_one(kind), 20s) == error::timeout);
        CHECK(clock_type::now() - started < 2500ms);
        conn.end_request();
    }
}

TEST_CASE("a read the buffer serves is not timed by the request, and after end_request a slow line is read"
          * doctest::timeout(30))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    asio::write(peer, asio::buffer(std::string_view("*2\r\n$3\r\nG")));
    CHECK(run(io, coline::read_line(conn)) == "*2");
    conn.begin_request(1ms);
    auto [ec, bytes] = run(io, coline::read_exactly(conn, 5, coline::as_tuple));
    CHECK_FALSE(ec);
    CHECK(bytes == "$3\r\nG");
    conn.end_request();
    // The rest comes 50 ms later, long after the request's 1 ms: read, as the request is over.
    coline::spawn(io, dribble(peer, "ET\r\n", 50ms, 1), asio::detached);
    CHECK(run(io, coline::read_line(conn, 5s)) == "ET");
}

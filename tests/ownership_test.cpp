// Operations own what they are given: each one here is spawned with
// temporaries, or with text in a buffer that is overwritten right after the
// call, and the io_context runs only afterwards. A dangling reference shows as
// a wrong host, port or line here, and under ASan (scripts/sanitize.sh
// address) as a use after scope or after free even where it reads the right bytes.
#include "support.hpp"

#include <optional>

using namespace test;

namespace {

// Overwrites a string in place (same size, same buffer), as a dangling view would see it.
void scribble(std::string& text, char with)
{
    std::fill(text.begin(), text.end(), with);
}

} // namespace

TEST_CASE("connect and accept spawned with temporaries, before the io_context runs" * doctest::timeout(20))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    const unsigned short port = acceptor.local_endpoint().port();

    std::vector<coline::connection> accepted, connected;
    std::vector<std::string> failures;
    int pending = 0;
    auto keep = [&](std::vector<coline::connection>& into) {
        ++pending;
        return [&](std::exception_ptr error, std::optional<coline::connection> conn) {
            --pending;
            if (error) {
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    failures.emplace_back(e.what());
                }
            } else {
                into.push_back(std::move(*conn));
            }
        };
    };
    auto keep_tuple = [&](std::vector<coline::connection>& into) {
        return [handler = keep(into)](std::exception_ptr error,
                                      std::optional<std::tuple<coline::error_code, coline::connection>> result) mutable {
            if (!result)
                return handler(error, std::nullopt);
            auto& [ec, conn] = *result;
            if (ec)
                error = std::make_exception_ptr(coline::system_error(ec, "as_tuple"));
            handler(error, std::move(conn));
        };
    };

    constexpr int clients = 6;
    for (int i = 0; i < clients; ++i)
        spawn_operation(io, coline::accept(acceptor), keep(accepted));
    spawn_operation(io, coline::connect(std::string("127.0.0.1"), std::to_string(port)), keep(connected));
    spawn_operation(io, coline::connect(std::string("127.0.0.1"), std::to_string(port), coline::duration(5s)),
                   keep(connected));
    spawn_operation(io, coline::connect(std::string("localhost"), std::to_string(port), 5s, coline::as_tuple),
                   keep_tuple(connected));
    spawn_operation(io, coline::connect(std::string("127.0.0.1"), port), keep(connected));
    spawn_operation(io, coline::connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port}, 5s),
                   keep(connected));
    {
        // Text the caller overwrites at once: "0.0.0.0.0" does not resolve, port 00000 is not listening.
        std::string host = "127.0.0.1";
        std::string service = std::to_string(port);
        spawn_operation(io, coline::connect(host.c_str(), service.c_str(), 5s), keep(connected));
        host = "0.0.0.0.0";
        scribble(service, '0');
    }

    CHECK(run_until(io, [&] { return pending == 0; }));
    CHECK(failures == std::vector<std::string>{});
    REQUIRE(accepted.size() == clients);
    REQUIRE(connected.size() == clients);
    for (auto& conn : connected)
        CHECK(conn.stream().remote_endpoint().port() == port);
}

TEST_CASE("write_line with temporary text and arguments, read_line, spawned before the io_context runs" * doctest::timeout(20))
{
    asio::io_context io;
    auto [server, client] = coline::testing::make_connection_pair(io, coline::connection_options{});
    int pending = 0;
    std::vector<std::string> failures;
    auto done = [&]() {
        ++pending;
        return [&](std::exception_ptr error, auto&&...) {
            --pending;
            if (error) {
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    failures.emplace_back(e.what());
                }
            }
        };
    };

    // Longer than std::string's own small buffer: on the heap, where ASan watches frees.
    coline::spawn(io, coline::write_line(client, std::string("a temporary text longer than the small-string buffer")),
                   done());
    coline::spawn(io,
                   coline::write_line(client, "VALUE {} {}", std::string("a temporary key longer than sixteen bytes"),
                                      std::to_string(42)),
                   done());
    coline::spawn(io, coline::write_line(client, coline::as_tuple, std::string("non-throwing, temporary")), done());
    {
        std::string text = "plain text in a buffer the caller overwrites";
        std::string argument = "an argument in a buffer the caller overwrites";
        coline::spawn(io, coline::write_line(client, std::string_view(text)), done());
        coline::spawn(io, coline::write_line(client, coline::as_tuple, "{}|{}", std::string_view(argument), 7),
                       done());
        scribble(text, '#');
        scribble(argument, '#');
    }

    std::vector<std::string> received;
    auto keep_line = [&](std::exception_ptr error, std::optional<std::string_view> line) {
        --pending;
        if (!error && line)
            received.emplace_back(*line);
    };
    ++pending;
    coline::spawn(io, coline::read_line(server, coline::duration(5s)), keep_line);
    CHECK(run_until(io, [&] { return pending == 0; }));
    CHECK(failures == std::vector<std::string>{});

    auto rest = [&]() -> coline::task<void> {
        for (int i = 0; i < 4; ++i)
            if (auto line = co_await coline::read_line(server, 5s))
                received.emplace_back(*line);
    };
    run(io, rest());
    CHECK(received == std::vector<std::string>{
                          "a temporary text longer than the small-string buffer",
                          "VALUE a temporary key longer than sixteen bytes 42",
                          "non-throwing, temporary",
                          "plain text in a buffer the caller overwrites",
                          "an argument in a buffer the caller overwrites|7",
                      });
}

// Misuse that coline reports instead of corrupting memory.

TEST_CASE("a second read while one waits fails with error::concurrent_read, and the first goes on unharmed"
          * doctest::timeout(20))
{
    asio::io_context io;
    coline::connection_options options;
    options.max_line_length = 400'000;
    auto [conn, peer] = make_tcp_pair(io, options);
    std::optional<std::string> first;
    coline::spawn(io, [&]() -> coline::task<void> {
        auto line = co_await coline::read_line(conn);
        first = line ? std::optional<std::string>(*line) : std::nullopt;
    }, asio::detached);
    io.poll(); // the first read is waiting now
    io.restart();
    {
        auto [ec, line] = run(io, coline::read_line(conn, coline::as_tuple));
        CHECK(ec == coline::error::concurrent_read);
        CHECK_FALSE(line);
    }
    {
        auto [ec, bytes] = run(io, coline::read_exactly(conn, 10, coline::as_tuple));
        CHECK(ec == coline::error::concurrent_read);
    }
    {
        std::string into(10, '\0');
        auto [ec, n] = run(io, coline::read_exactly(conn, std::span<char>(into), coline::as_tuple));
        CHECK(ec == coline::error::concurrent_read);
        CHECK(n == 0);
    }
    {
        auto [ec, bytes] = run(io, coline::read_some(conn, 10, coline::as_tuple));
        CHECK(ec == coline::error::concurrent_read);
    }
    try {
        run(io, coline::read_line_part(conn));
        FAIL("a second read_line_part returned");
    } catch (const coline::system_error& e) {
        CHECK(e.code() == coline::error::concurrent_read);
    }
    // A long line in pieces (where a second reader used to overflow the input buffer), then a short one.
    const std::string long_line(300'000, 'a');
    asio::write(peer, asio::buffer(long_line + "\nnext\n"));
    CHECK(run_until(io, [&] { return first.has_value(); }));
    REQUIRE(first);
    CHECK(*first == long_line);
    CHECK(run(io, coline::read_line(conn)) == "next"); // one at a time is fine again
}

TEST_CASE("an operation awaited on another io_context than its connection's fails with error::wrong_executor"
          * doctest::timeout(20))
{
    asio::io_context io;
    asio::io_context other;
    auto [conn, peer] = make_tcp_pair(io);
    SUBCASE("a read that would wait, and in a debug build one the buffer serves too")
    {
        auto [ec, line] = run(other, coline::read_line(conn, coline::as_tuple));
        CHECK(ec == coline::error::wrong_executor);
        asio::write(peer, asio::buffer(std::string_view("line\n")));
        if (coline::detail::check_every_operation) {
            CHECK(run(io, coline::read_exactly(conn, 1)) == "l"); // now buffered: "ine\n"
            auto [buffered_ec, rest] = run(other, coline::read_line(conn, coline::as_tuple));
            CHECK(buffered_ec == coline::error::wrong_executor);
            CHECK(run(io, coline::read_line(conn)) == "ine"); // nothing was taken
        } else {
            CHECK(run(io, coline::read_line(conn)) == "line");
        }
    }
    SUBCASE("a write fails, sends nothing, and every later write fails alike")
    {
        conn.options().coalesce_writes = false; // (a write that waits, in every build)
        auto [ec] = run(other, coline::write_line(conn, coline::as_tuple, "misplaced"));
        CHECK(ec == coline::error::wrong_executor);
        auto [later] = run(io, coline::write_line(conn, coline::as_tuple, "later"));
        CHECK(later == coline::error::wrong_executor);
        coline::error_code ignored;
        CHECK(peer.available(ignored) == 0);
    }
}

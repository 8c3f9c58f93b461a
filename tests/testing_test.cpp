// coline::testing: the helpers users drive their handlers with.
#include <coline/testing.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>

using namespace std::chrono_literals;
namespace testing = coline::testing;

namespace {

coline::task<void> tutorial_handler(coline::connection& conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn))
        co_await coline::write_line(conn, "Information received: {}", *line);
}

// The README's session takes its connection by value, as under a bare accept loop.
coline::task<void> by_value_session(coline::connection conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn))
        co_await coline::write_line(conn, "Information received: {}", *line);
}

bool is_timeout(const coline::system_error& e) { return e.code() == coline::error::timeout; }

} // namespace

TEST_CASE("session_driver: the tutorial's exchange, then the end of the stream")
{
    testing::session_driver client(tutorial_handler);
    CHECK(client.read_line() == "Connect");
    client.write_line("SOME data");
    CHECK(client.read_line() == "Information received: SOME data");
    CHECK_FALSE(client.finished());
    client.end_input();
    CHECK(client.read_line() == std::nullopt);
    client.finish();
    CHECK(client.finished());
}

TEST_CASE("session_driver: a handler that takes its connection by value, as the README's does")
{
    testing::session_driver client(by_value_session);
    CHECK(client.read_line() == "Connect");
    client.write_line("SOME data");
    CHECK(client.read_line() == "Information received: SOME data");
    client.end_input();
    CHECK(client.read_line() == std::nullopt);
    client.finish();
    CHECK(client.finished());
}

TEST_CASE("session_driver: raw bytes, a line in pieces and several lines at once")
{
    testing::session_driver client(tutorial_handler);
    CHECK(client.read_line() == "Connect");
    client.write("SOME ");
    client.write("data\r\nmore\nlast\n");
    CHECK(client.read_line() == "Information received: SOME data");
    CHECK(client.read_line() == "Information received: more");
    CHECK(client.read_line() == "Information received: last");
}

TEST_CASE("session_driver: the handler's exception comes out after its answers, instead of the end")
{
    testing::session_driver client([](coline::connection& conn) -> coline::task<void> {
        auto line = co_await coline::read_line(conn);
        co_await coline::write_line(conn, "got {}", line.value_or("nothing"));
        throw std::runtime_error("handler failed on purpose");
    });
    client.write_line("x");
    CHECK(client.read_line() == "got x");
    CHECK_THROWS_WITH_AS(client.read_line(), "handler failed on purpose", std::runtime_error); // not the end
    CHECK_THROWS_WITH_AS(client.finish(), "handler failed on purpose", std::runtime_error);
}

TEST_CASE("session_driver: the server's limits apply, here a short line limit")
{
    coline::connection_options options = coline::server_options{}.connection;
    options.max_line_length = 8;
    testing::session_driver client(
        [](coline::connection& conn) -> coline::task<void> {
            auto [ec, line] = co_await coline::read_line(conn, coline::as_tuple);
            const std::string answer = ec ? ec.message() : std::string{line.value_or("")};
            co_await coline::write_line(conn, answer);
        },
        options);
    client.write_line("123456789");
    CHECK(client.read_line() == coline::make_error_code(coline::error::line_too_long).message());
    client.finish();
}

TEST_CASE("session_driver: a read that gets nothing fails with a timeout instead of hanging")
{
    testing::session_driver client(
        [](coline::connection& conn) -> coline::task<void> { co_await coline::read_line(conn); }, // never answers
        coline::server_options{}.connection, 100ms);
    const auto start = std::chrono::steady_clock::now();
    try {
        client.read_line();
        FAIL("read_line returned");
    } catch (const coline::system_error& e) {
        CHECK(is_timeout(e));
    }
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    CHECK_FALSE(client.finished());
    CHECK_THROWS_AS(client.finish(), testing::step_timed_out); // the handler waits for a line that never comes
} // the destructor ends the handler that still waits

TEST_CASE("run: returns the task's result, rethrows its exception")
{
    asio::io_context io;
    auto answer = []() -> coline::task<int> { co_return 42; };
    CHECK(testing::run(io, answer()) == 42);
    auto fails = []() -> coline::task<void> {
        throw std::runtime_error("task failed");
        co_return;
    };
    CHECK_THROWS_WITH_AS(testing::run(io, fails()), "task failed", std::runtime_error);
}

TEST_CASE("run: a task that outlives its limit is cancelled and reported as step_timed_out, not a system_error")
{
    asio::io_context io;
    bool unwound = false;
    auto sleeps = [](bool& unwound) -> coline::task<void> {
        struct mark {
            bool& flag;
            ~mark() { flag = true; }
        } on_exit{unwound};
        asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::hours{1});
        co_await timer.async_wait(coline::use_task);
    };
    const auto start = std::chrono::steady_clock::now();
    try {
        testing::run(io, sleeps(unwound), 50ms);
        FAIL("run returned");
    } catch (const coline::system_error& e) {
        FAIL("a system_error: a test expecting one would pass on the runner giving up: " << e.what());
    } catch (const testing::step_timed_out& e) {
        CHECK(std::string(e.what()).find("limit") != std::string::npos);
    }
    CHECK(unwound);
    CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("make_connection_pair: the two ends talk, with the options asked for")
{
    asio::io_context io;
    coline::connection_options client_options;
    client_options.max_line_length = 100;
    auto [server, client] = testing::make_connection_pair(io, coline::connection_options{}, client_options);
    CHECK(client.options().max_line_length == 100);
    CHECK(server.stream().remote_endpoint() == client.stream().local_endpoint());
    testing::run(io, coline::write_line(server, "hello"));
    auto line = testing::run(io, coline::read_line(client));
    REQUIRE(line);
    CHECK(*line == "hello");
}

TEST_CASE("run: a task waiting for something that can never happen is a logic_error, not a hang")
{
    asio::io_context io;
    // An operation that drops its completion handler: nothing is left to run.
    auto never = []() -> coline::task<void> {
        co_await asio::async_initiate<decltype(coline::use_task), void()>([](auto) {}, coline::use_task);
    };
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(testing::run(io, never(), 10s), std::logic_error);
    CHECK(std::chrono::steady_clock::now() - start < 5s); // at once, not at the limit
}

TEST_CASE("session_driver sends what a handler kept when it returns at once, before the close")
{
    // "BYE" is kept (the next request is buffered whole), and the handler
    // returns in the same turn: only the end of the session can send it.
    testing::session_driver client([](coline::connection& conn) -> coline::task<void> {
        co_await coline::read_line(conn);
        co_await coline::write_line(conn, "BYE");
    });
    client.write("QUIT\nmore\n");
    CHECK(client.read_line() == "BYE");
    CHECK(client.read_line() == std::nullopt);
    client.finish();
}

TEST_CASE("session_driver ends a session as the server does: kept answers flushed, then a lingering close")
{
    bool waiting = false;
    testing::session_driver client([&waiting](coline::connection& conn) -> coline::task<void> {
        co_await coline::read_line(conn);
        co_await coline::write_line(conn, "BYE"); // kept back (coalesce_writes): "more" waits unread
        waiting = true;
        // Returns once more has come: input left unread, which a plain close would answer with a reset.
        co_await conn.stream().async_wait(asio::socket_base::wait_read, coline::use_task);
    });
    client.write("QUIT\nmore\n");
    const auto give_up = std::chrono::steady_clock::now() + 5s;
    while (!waiting && std::chrono::steady_clock::now() < give_up) {
        client.io().restart();
        client.io().run_one_until(give_up);
    }
    REQUIRE(waiting);
    client.write("late\n");
    CHECK(client.read_line() == "BYE");
    CHECK(client.read_line() == std::nullopt); // the end, not connection_reset
    client.finish();
    CHECK(client.finished());
}

TEST_CASE("session_driver: the client's own options, here CRLF line ends")
{
    testing::driver_options options;
    options.client.newline = coline::line_ending::crlf;
    testing::session_driver client(
        [](coline::connection& conn) -> coline::task<void> {
            while (auto line = co_await coline::read_line(conn))
                co_await coline::write_line(conn, "{} {}", *line,
                                            conn.last_line_ending() == coline::line_ending::crlf ? "crlf" : "lf");
        },
        options);
    client.write_line("one");
    CHECK(client.read_line() == "one crlf");
    client.client().options().newline = coline::line_ending::lf; // and they can change, as a connection's do
    client.write_line("two");
    CHECK(client.read_line() == "two lf");
}

TEST_CASE("session_driver: stop_server() ends an idle session as server::stop() does, answered lines first")
{
    bool saw_end = false;
    testing::session_driver client([&](coline::connection& conn) -> coline::task<void> {
        co_await coline::write_line(conn, "Connect");
        while (auto line = co_await coline::read_line(conn))
            co_await coline::write_line(conn, "Information received: {}", *line);
        saw_end = true;
        co_await coline::write_line(conn, "bye");
    });
    CHECK(client.read_line() == "Connect");
    client.write_line("SOME data");
    CHECK(client.read_line() == "Information received: SOME data");
    const auto stopped = std::chrono::steady_clock::now();
    client.stop_server();
    CHECK(client.read_line() == "bye");
    CHECK(client.read_line() == std::nullopt);
    CHECK(saw_end);
    CHECK(std::chrono::steady_clock::now() - stopped < 2s); // at once: the driver's step limit is 5 s
    client.finish();
}

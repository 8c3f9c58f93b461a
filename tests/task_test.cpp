// coline::task, coline::spawn and coline::use_task: what suspends and what
// does not, where a task resumes, and where its exceptions and results go.
#include <coline/spawn.hpp>
#include <coline/task.hpp>
#include <coline/testing.hpp>
#include <coline/use_task.hpp>

#include "server_support.hpp"

#include <doctest/doctest.h>

#if !defined(COLINE_USE_BOOST_ASIO) && ASIO_VERSION < 102400
#include <asio/experimental/as_tuple.hpp>
#endif

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

// An operation that the buffer could serve: await_ready() says it is done.
struct ready_now {
    int value;
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept { FAIL("suspended although ready"); }
    int await_resume() const noexcept { return value; }
};

// One that finds out only while being started (await_suspend returns false).
struct done_while_starting {
    int value;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<>) const noexcept { return false; }
    int await_resume() const noexcept { return value; }
};

coline::task<int> value_of(int n) { co_return n; }

coline::task<void> fail_with(std::string what)
{
    co_await ready_now{0};
    throw std::runtime_error(what);
}

// The address of a local: how deep the stack is where it is taken.
std::uintptr_t stack_depth_marker()
{
    return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

template <class T>
T run_to_end(asio::io_context& io, std::future<T> result)
{
    io.run_for(10s);
    REQUIRE(result.wait_for(0s) == std::future_status::ready);
    return result.get();
}

} // namespace

TEST_CASE("a task returns its value to the task that awaits it, and to spawn's handler")
{
    asio::io_context io;
    auto sum = []() -> coline::task<int> {
        int total = 0;
        for (int i = 1; i <= 3; ++i)
            total += co_await value_of(i);
        co_return total;
    };
    CHECK(run_to_end(io, coline::spawn(io, sum(), asio::use_future)) == 6);

    std::exception_ptr error;
    std::string text;
    auto word = []() -> coline::task<std::string> { co_return std::string(100, 'x'); };
    coline::spawn(io.get_executor(), word(), [&](std::exception_ptr e, std::string s) {
        error = e;
        text = std::move(s);
    });
    io.restart();
    io.run_for(10s);
    CHECK_FALSE(error);
    CHECK(text == std::string(100, 'x'));
}

TEST_CASE("spawn never runs the task inside the call: it starts from the executor's queue")
{
    asio::io_context io;
    bool started = false;
    auto body = [](bool& flag) -> coline::task<void> {
        flag = true;
        co_return;
    };
    auto done = coline::spawn(io, body(started), asio::use_future);
    CHECK_FALSE(started);
    run_to_end(io, std::move(done));
    CHECK(started);
}

TEST_CASE("an await whose operation is ready, and a task that finishes at once, take no turn of the executor")
{
    // io_context::run() returns how many handlers it ran: the task's start,
    // plus one for each real suspension.
    asio::io_context io;
    auto immediate = []() -> coline::task<int> {
        int total = 0;
        for (int i = 0; i < 1000; ++i) {
            total += co_await ready_now{1};
            total += co_await done_while_starting{1};
            total += co_await value_of(1);
        }
        co_return total;
    };
    auto result = coline::spawn(io, immediate(), asio::use_future);
    CHECK(io.run_for(10s) == 1);
    CHECK(result.get() == 3000);

    // The count does see a suspension: each post is one turn more.
    auto posting = []() -> coline::task<void> {
        for (int i = 0; i < 5; ++i)
            co_await asio::post(coline::use_task);
    };
    io.restart();
    auto posted = coline::spawn(io, posting(), asio::use_future);
    CHECK(io.run_for(10s) == 6);
    posted.get();
}

TEST_CASE("an exception reaches the awaiting task at its co_await")
{
    asio::io_context io;
    auto catcher = []() -> coline::task<std::string> {
        try {
            co_await fail_with("deep");
        } catch (const std::runtime_error& e) {
            co_return e.what();
        }
        co_return "nothing thrown";
    };
    CHECK(run_to_end(io, coline::spawn(io, catcher(), asio::use_future)) == "deep");
}

TEST_CASE("an exception reaches each completion token: use_future, a handler, use_awaitable, detached")
{
    asio::io_context io;
    SUBCASE("use_future")
    {
        auto result = coline::spawn(io, fail_with("to the future"), asio::use_future);
        io.run_for(10s);
        CHECK_THROWS_WITH_AS(result.get(), "to the future", std::runtime_error);
    }
    SUBCASE("a handler of std::exception_ptr, and the value's default beside it")
    {
        std::exception_ptr error;
        int value = -1;
        auto failing = []() -> coline::task<int> {
            co_await fail_with("to the handler");
            co_return 1;
        };
        coline::spawn(io, failing(), [&](std::exception_ptr e, int v) {
            error = e;
            value = v;
        });
        io.run_for(10s);
        REQUIRE(error);
        CHECK_THROWS_WITH_AS(std::rethrow_exception(error), "to the handler", std::runtime_error);
        CHECK(value == 0);
    }
    SUBCASE("use_awaitable: an asio::awaitable awaits it")
    {
        auto outer = [](asio::any_io_executor ex) -> asio::awaitable<std::string> {
            try {
                co_await coline::spawn(ex, fail_with("to the awaitable"), asio::use_awaitable);
            } catch (const std::runtime_error& e) {
                co_return e.what();
            }
            co_return "nothing thrown";
        };
        auto result = asio::co_spawn(io, outer(io.get_executor()), asio::use_future);
        CHECK(run_to_end(io, std::move(result)) == "to the awaitable");
    }
    SUBCASE("detached: out of io_context::run(), not dropped")
    {
        coline::spawn(io, fail_with("out of run"), asio::detached);
        CHECK_THROWS_WITH_AS(io.run_for(10s), "out of run", std::runtime_error);
    }
    SUBCASE("detached: a peer's I/O error ends that task only, as in a server")
    {
        auto reset = []() -> coline::task<void> {
            co_await asio::post(co_await asio::this_coro::executor, coline::use_task);
            throw coline::system_error(asio::error::connection_reset, "coline::read_line");
        };
        bool after = false;
        coline::spawn(io, reset(), asio::detached);
        coline::spawn(io, [&after]() -> coline::task<void> {
            co_await asio::post(co_await asio::this_coro::executor, coline::use_task);
            co_await asio::post(co_await asio::this_coro::executor, coline::use_task);
            after = true;
        }, asio::detached);
        CHECK_NOTHROW(io.run_for(10s));
        CHECK(after); // the other task ran on
    }
}

TEST_CASE("an asio::awaitable awaits a task's value through use_awaitable")
{
    asio::io_context io;
    auto outer = [](asio::any_io_executor ex) -> asio::awaitable<int> {
        co_return co_await coline::spawn(ex, value_of(42), asio::use_awaitable) + 1;
    };
    CHECK(run_to_end(io, asio::co_spawn(io, outer(io.get_executor()), asio::use_future)) == 43);
}

TEST_CASE("use_task awaits Asio's own operations: a timer, the resolver, post")
{
    asio::io_context io;
    auto body = []() -> coline::task<std::string> {
        auto executor = co_await asio::this_coro::executor;
        asio::steady_timer timer{executor, 1ms};
        const auto before = std::chrono::steady_clock::now();
        co_await timer.async_wait(coline::use_task);
        CHECK(std::chrono::steady_clock::now() - before >= 1ms);

        asio::ip::tcp::resolver resolver{executor};
        // Numeric, so nothing leaves the machine.
        auto results = co_await resolver.async_resolve("127.0.0.1", "10008", asio::ip::tcp::resolver::numeric_host,
                                                       coline::use_task);
        CHECK(results.size() == 1);
        co_await asio::post(executor, coline::use_task);
        co_return results.begin()->endpoint().address().to_string() + ":" +
            std::to_string(results.begin()->endpoint().port());
    };
    CHECK(run_to_end(io, coline::spawn(io, body(), asio::use_future)) == "127.0.0.1:10008");
}

TEST_CASE("use_task throws an operation's error code; wrapped in as_tuple it returns it")
{
    asio::io_context io;
    auto body = []() -> coline::task<void> {
        auto executor = co_await asio::this_coro::executor;
        asio::ip::tcp::resolver resolver{executor};
        // Not a number: with numeric_host the resolver refuses at once, offline.
        CHECK_THROWS_AS(co_await resolver.async_resolve("not a host", "1", asio::ip::tcp::resolver::numeric_host,
                                                        coline::use_task),
                        coline::system_error);
#if defined(COLINE_USE_BOOST_ASIO) || ASIO_VERSION >= 102400
        auto [ec, results] = co_await resolver.async_resolve("not a host", "1", asio::ip::tcp::resolver::numeric_host,
                                                             asio::as_tuple(coline::use_task));
#else
        auto [ec, results] = co_await resolver.async_resolve("not a host", "1", asio::ip::tcp::resolver::numeric_host,
                                                             asio::experimental::as_tuple(coline::use_task));
#endif
        CHECK(results.empty());
        CHECK(ec);
    };
    run_to_end(io, coline::spawn(io, body(), asio::use_future));
}

TEST_CASE("cancellation emitted on the slot bound to spawn's handler cancels the operation the task awaits")
{
    asio::io_context io;
    asio::cancellation_signal stop;
    coline::error_code seen;
    auto waiter = [](coline::error_code& result) -> coline::task<void> {
        asio::steady_timer timer{co_await asio::this_coro::executor, 1h};
        try {
            co_await timer.async_wait(coline::use_task);
        } catch (const coline::system_error& e) {
            result = e.code();
        }
    };
    bool finished = false;
    coline::spawn(io, waiter(seen),
                  asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) { finished = !e; }));
    // Emitted once the task waits on its timer (the start is one turn).
    asio::post(io, [&] { stop.emit(asio::cancellation_type::terminal); });
    const auto before = std::chrono::steady_clock::now();
    io.run_for(10s);
    CHECK(finished);
    CHECK(seen == asio::error::operation_aborted);
    CHECK(std::chrono::steady_clock::now() - before < 5s);
}

TEST_CASE("a task resumes on its own executor, whichever thread completed what it awaited")
{
    // The task runs on `home`; its timers belong to `other`, run by a thread of their own.
    asio::io_context home;
    asio::io_context other;
    auto guard = asio::make_work_guard(other);
    std::thread other_thread{[&] { other.run(); }};
    auto body = [](asio::io_context& home_io, asio::io_context& timers) -> coline::task<int> {
        int at_home = 0;
        for (int i = 0; i < 20; ++i) {
            asio::steady_timer timer{timers, 0ms};
            co_await timer.async_wait(coline::use_task);
            at_home += home_io.get_executor().running_in_this_thread() ? 1 : 0;
        }
        co_return at_home;
    };
    auto result = coline::spawn(home, body(home, other), asio::use_future);
    home.run_for(10s);
    guard.reset();
    other_thread.join();
    REQUIRE(result.wait_for(0s) == std::future_status::ready);
    CHECK(result.get() == 20);
}

TEST_CASE("on a strand of a pool, a task's resumptions never overlap (TSan watches)")
{
    asio::thread_pool pool{2};
    auto strand = asio::make_strand(pool.get_executor());
    int shared = 0; // touched by every task, only ever on the strand
    auto worker = [](int& counter) -> coline::task<void> {
        for (int i = 0; i < 200; ++i) {
            co_await asio::post(coline::use_task);
            ++counter;
        }
    };
    std::vector<std::future<void>> done;
    for (int i = 0; i < 4; ++i)
        done.push_back(coline::spawn(strand, worker(shared), asio::use_future));
    for (auto& d : done)
        REQUIRE(d.wait_for(10s) == std::future_status::ready);
    pool.join();
    CHECK(shared == 800);
}

TEST_CASE("10,000,000 immediate completions in one loop do not grow the stack")
{
    asio::io_context io;
    auto loop = []() -> coline::task<std::uintptr_t> {
        const std::uintptr_t first = stack_depth_marker();
        std::uintptr_t deepest = first;
        std::int64_t total = 0;
        for (int i = 0; i < 10'000'000; ++i) {
            total += (i % 2 == 0) ? co_await ready_now{1} : co_await done_while_starting{1};
            if (i % 100'000 == 0)
                deepest = std::min(deepest, stack_depth_marker());
        }
        CHECK(total == 10'000'000);
        co_return first - deepest;
    };
    CHECK(run_to_end(io, coline::spawn(io, loop(), asio::use_future)) < 1024);
}

namespace {

coline::task<int> nested(int depth)
{
    if (depth == 0)
        co_return 0;
    co_return 1 + co_await nested(depth - 1);
}

coline::task<std::uintptr_t> marker_task() { co_return stack_depth_marker(); }

} // namespace

TEST_CASE("a chain of 100,000 nested tasks, and 1,000,000 tasks that finish at once, do not grow the stack")
{
    // Without symmetric transfer, each level would keep a frame of the
    // machine's stack: 100,000 of them overflow 8 MiB.
    asio::io_context io;
    CHECK(run_to_end(io, coline::spawn(io, nested(100'000), asio::use_future)) == 100'000);

    auto many = []() -> coline::task<std::uintptr_t> {
        const std::uintptr_t first = co_await marker_task();
        std::uintptr_t deepest = first;
        for (int i = 0; i < 1'000'000; ++i)
            deepest = std::min(deepest, co_await marker_task());
        co_return first - deepest;
    };
    io.restart();
    CHECK(run_to_end(io, coline::spawn(io, many(), asio::use_future)) < 1024);
}

TEST_CASE("destroying the io_context destroys the tasks still waiting, and those not started")
{
    struct witness {
        bool& gone;
        ~witness() { gone = true; }
    };
    bool waiting_gone = false;
    auto unstarted = std::make_shared<int>(0);
    bool handler_called = false;
    {
        asio::io_context io;
        auto waits = [](bool& flag) -> coline::task<void> {
            witness w{flag};
            asio::steady_timer timer{co_await asio::this_coro::executor, 1h};
            co_await timer.async_wait(coline::use_task);
        };
        coline::spawn(io, waits(waiting_gone), [&](std::exception_ptr) { handler_called = true; });
        io.run_for(10ms); // the task starts and waits
        CHECK_FALSE(waiting_gone);
        auto never = [](std::shared_ptr<int>) -> coline::task<void> { co_return; };
        coline::spawn(io, never(unstarted), asio::detached);
    }
    CHECK(waiting_gone);
    CHECK(unstarted.use_count() == 1); // the frame that held the copy is gone
    CHECK_FALSE(handler_called);
}

TEST_CASE("a frame freed on a thread is the next one of its size that thread allocates")
{
    coline::detail::frame_cache cache{};
    void* a = cache.allocate(200);
    void* b = cache.allocate(200);
    cache.deallocate(a, 200);
    CHECK(cache.allocate(250) == a); // the same size class (193 to 256 bytes)
    cache.deallocate(b, 200);
    void* c = cache.allocate(1000); // another class: not b
    CHECK(c != b);
    CHECK(cache.allocate(200) == b);
    cache.deallocate(a, 200);
    cache.deallocate(b, 200);
    cache.deallocate(c, 1000);
    // Past its slots, the cache gives blocks back to the heap (ASan's leak check sees the rest).
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < 3 * coline::detail::frame_cache::slots; ++i)
        blocks.push_back(cache.allocate(64 * (i + 1)));
    for (std::size_t i = 0; i < blocks.size(); ++i)
        cache.deallocate(blocks[i], 64 * (i + 1));
    cache.close();
}

TEST_CASE("a task awaits an asio::awaitable: its value, its exception, and cancellation of the task reach through")
{
    asio::io_context io;
    auto forty_two = []() -> asio::awaitable<int> { co_return 42; };
    auto failing = []() -> asio::awaitable<void> {
        throw std::runtime_error("from the awaitable");
        co_return;
    };
    auto body = [&]() -> coline::task<int> {
        const int value = co_await forty_two();
        try {
            co_await failing();
        } catch (const std::runtime_error& e) {
            CHECK(std::string(e.what()) == "from the awaitable");
            co_return value;
        }
        co_return -1;
    };
    CHECK(run_to_end(io, coline::spawn(io, body(), asio::use_future)) == 42);

    // Cancellation emitted on spawn's slot reaches the awaitable's own wait.
    auto waits = []() -> asio::awaitable<void> {
        asio::steady_timer timer{co_await asio::this_coro::executor, 1h};
        co_await timer.async_wait(asio::use_awaitable);
    };
    auto waiter = [&]() -> coline::task<coline::error_code> {
        try {
            co_await waits();
        } catch (const coline::system_error& e) {
            co_return e.code();
        }
        co_return coline::error_code{};
    };
    asio::cancellation_signal stop;
    coline::error_code seen;
    io.restart();
    coline::spawn(io, waiter(), asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr, coline::error_code ec) {
                      seen = ec;
                  }));
    // The task starts, spawns the awaitable, which starts and waits: three turns.
    asio::post(io, [&] { asio::post(io, [&] { asio::post(io, [&] { stop.emit(asio::cancellation_type::terminal); }); }); });
    const auto before = std::chrono::steady_clock::now();
    io.run_for(10s);
    CHECK(seen == asio::error::operation_aborted);
    CHECK(std::chrono::steady_clock::now() - before < 5s);
}

TEST_CASE("testing::run runs a task: its value, its exception, and its limit, past which the task is cancelled")
{
    asio::io_context io;
    CHECK(coline::testing::run(io, value_of(7)) == 7);
    CHECK_THROWS_WITH_AS(coline::testing::run(io, fail_with("run's caller sees it")), "run's caller sees it",
                         std::runtime_error);

    bool unwound = false;
    auto stuck = [](bool& flag) -> coline::task<void> {
        struct on_exit {
            bool& flag;
            ~on_exit() { flag = true; }
        } mark{flag};
        asio::steady_timer timer{co_await asio::this_coro::executor, 1h};
        co_await timer.async_wait(coline::use_task);
    };
    const auto before = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(coline::testing::run(io, stuck(unwound), 50ms), coline::testing::step_timed_out);
    CHECK(std::chrono::steady_clock::now() - before < 5s);
    CHECK(unwound); // cancelled at the limit, not left waiting
}

TEST_CASE("a session handler that returns a task serves under run_server, and the server's stop reaches it")
{
    auto session = [](coline::connection& conn) -> coline::task<void> {
        co_await coline::write_line(conn, "Connect");
        while (auto line = co_await coline::read_line(conn))
            co_await coline::write_line(conn, "Information received {}", *line);
        co_await coline::write_line(conn, "Goodbye");
    };
    coline::server_options options;
    options.grace_period = 10s;
    test::background_server server(options, session);
    test::blocking_client client(server.port());
    CHECK(client.line() == "Connect");
    client.send("SOME data\n");
    CHECK(client.line() == "Information received SOME data");
    // The idle client sees the end of its stream at once, not after the grace period.
    const auto took = server.stop();
    CHECK(client.line() == "Goodbye");
    CHECK(client.wait_for_close() == asio::error::eof);
    CHECK(took < 5s);
    CHECK(server.errors.size() == 0);
}

namespace {

// Spawns `work` with a cancellation slot, lets it reach its wait, emits on
// the slot, and returns the error it ended with (within `limit`).
template <class Work>
coline::error_code cancelled_while_waiting(asio::io_context& io, Work work)
{
    asio::cancellation_signal cancel;
    std::optional<coline::error_code> ended;
    coline::spawn(io, std::move(work),
                  asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr error, coline::error_code ec) {
                      if (error) {
                          try {
                              std::rethrow_exception(error);
                          } catch (const coline::system_error& e) {
                              ec = e.code();
                          }
                      }
                      ended = ec;
                  }));
    io.restart();
    io.poll(); // it starts, and waits: nothing will come
    REQUIRE_FALSE(ended);
    cancel.emit(asio::cancellation_type::terminal);
    const auto give_up = std::chrono::steady_clock::now() + 5s;
    while (!ended && std::chrono::steady_clock::now() < give_up)
        io.run_one_for(100ms);
    REQUIRE(ended);
    return *ended;
}

} // namespace

TEST_CASE("a cancellation slot bound to spawn's token ends each waiting operation with operation_aborted")
{
    asio::io_context io;
    auto pair = coline::testing::make_connection_pair(io, {}, {});
    auto& conn = pair.server;
    SUBCASE("read_line")
    {
        CHECK(cancelled_while_waiting(io, [&]() -> coline::task<coline::error_code> {
                  auto [ec, line] = co_await coline::read_line(conn, coline::as_tuple);
                  co_return ec;
              }) == asio::error::operation_aborted);
    }
    SUBCASE("read_line_part")
    {
        CHECK(cancelled_while_waiting(io, [&]() -> coline::task<coline::error_code> {
                  auto [ec, part] = co_await coline::read_line_part(conn, coline::as_tuple);
                  co_return ec;
              }) == asio::error::operation_aborted);
    }
    SUBCASE("read_exactly, read_exactly into a buffer, read_some")
    {
        CHECK(cancelled_while_waiting(io, [&]() -> coline::task<coline::error_code> {
                  auto [ec, block] = co_await coline::read_exactly(conn, 10, coline::as_tuple);
                  co_return ec;
              }) == asio::error::operation_aborted);
        std::string into(10, '.');
        CHECK(cancelled_while_waiting(io, [&]() -> coline::task<coline::error_code> {
                  auto [ec, n] = co_await coline::read_exactly(conn, std::span<char>(into), coline::as_tuple);
                  co_return ec;
              }) == asio::error::operation_aborted);
        CHECK(cancelled_while_waiting(io, [&]() -> coline::task<coline::error_code> {
                  auto [ec, some] = co_await coline::read_some(conn, 10, coline::as_tuple);
                  co_return ec;
              }) == asio::error::operation_aborted);
    }
    SUBCASE("write and flush, to a peer that does not read")
    {
        const std::string large(64 * 1024 * 1024, 'x'); // more than the socket buffers hold
        CHECK(cancelled_while_waiting(io, [&]() -> coline::task<coline::error_code> {
                  auto [ec] = co_await coline::write(conn, coline::as_tuple, large);
                  co_return ec;
              }) == asio::error::operation_aborted);
    }
    SUBCASE("accept")
    {
        asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
        CHECK(cancelled_while_waiting(io, [&]() -> coline::task<coline::error_code> {
                  auto [ec, accepted] = co_await coline::accept(acceptor, coline::as_tuple);
                  co_return ec;
              }) == asio::error::operation_aborted);
    }
    SUBCASE("an Asio timer, awaited with use_task")
    {
        asio::steady_timer timer(io, 1h);
        CHECK(cancelled_while_waiting(io, [&]() -> coline::task<coline::error_code> {
                  coline::error_code ec;
                  co_await timer.async_wait(asio::redirect_error(coline::use_task, ec));
                  co_return ec;
              }) == asio::error::operation_aborted);
    }
    SUBCASE("after the cancellation, the next operation ends at once, as in an asio::awaitable")
    {
        CHECK(cancelled_while_waiting(io, [&]() -> coline::task<coline::error_code> {
                  auto [first, line] = co_await coline::read_line(conn, coline::as_tuple);
                  auto [then, again] = co_await coline::read_line(conn, coline::as_tuple);
                  co_return first == then ? then : coline::error_code{};
              }) == asio::error::operation_aborted);
    }
}

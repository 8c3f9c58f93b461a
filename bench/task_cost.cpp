// What one await costs: a coline::task against an asio::awaitable, for an
// await that completes at once and for one that goes through the executor.
// Run under callgrind by bench/task_cost.py, which counts the instructions
// of `measure` (the loop alone, not the set-up) and divides by the awaits:
//   bench_task_cost <kind> <count>
// kinds:
//   ready_awaiter     a task awaits an awaiter whose await_ready() is true
//                     (what a buffered read_line will be)
//   nested_task       a task awaits a task that returns at once
//   nested_awaitable  an asio::awaitable awaits one that returns at once
//   post_task         a task awaits asio::post(coline::use_task)
//   post_awaitable    an asio::awaitable awaits asio::post(asio::use_awaitable)
#include <coline/spawn.hpp>
#include <coline/task.hpp>
#include <coline/use_task.hpp>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

struct ready_now {
    int value;
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    int await_resume() const noexcept { return value; }
};

coline::task<int> one_task() { co_return 1; }
asio::awaitable<int> one_awaitable() { co_return 1; }

coline::task<long> task_loop(std::string_view kind, long count)
{
    long total = 0;
    for (long i = 0; i < count; ++i) {
        if (kind == "ready_awaiter")
            total += co_await ready_now{1};
        else if (kind == "nested_task")
            total += co_await one_task();
        else {
            co_await asio::post(coline::use_task);
            ++total;
        }
    }
    co_return total;
}

asio::awaitable<long> awaitable_loop(std::string_view kind, long count)
{
    long total = 0;
    for (long i = 0; i < count; ++i) {
        if (kind == "nested_awaitable")
            total += co_await one_awaitable();
        else {
            co_await asio::post(asio::use_awaitable);
            ++total;
        }
    }
    co_return total;
}

// Everything callgrind counts (--toggle-collect=*measure*).
[[gnu::noinline]] long measure(asio::io_context& io, std::string_view kind, long count)
{
    long total = 0;
    auto keep = [&](std::exception_ptr e, long n) {
        if (e)
            std::rethrow_exception(e);
        total = n;
    };
    if (kind.ends_with("awaitable"))
        asio::co_spawn(io, awaitable_loop(kind, count), keep);
    else
        coline::spawn(io, task_loop(kind, count), keep);
    io.run();
    return total;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s ready_awaiter|nested_task|nested_awaitable|post_task|post_awaitable COUNT\n",
                     argv[0]);
        return 2;
    }
    const std::string_view kind = argv[1];
    const long count = std::atol(argv[2]);
    asio::io_context io{1};
    // A warm-up run fills the frame caches, so the measured one is steady state.
    measure(io, kind, 100);
    io.restart();
    const long total = measure(io, kind, count);
    std::printf("%ld\n", total);
    return total == count ? 0 : 1;
}

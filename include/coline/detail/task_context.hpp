// Internal: what the coroutines of one spawned chain share (the chain being a
// coroutine started by `coline::spawn` and the tasks it awaits, nested to any
// depth), and the one way they are resumed.
#pragma once

#include <coline/detail/config.hpp>
#include <coline/detail/turn_end.hpp>

#include <coroutine>
#include <utility>

namespace coline::detail {

struct task_context {
    // Every resumption of the chain runs here (Asio completions are
    // dispatched to it), so a chain is never resumed on two threads at once.
    asio::any_io_executor executor;
    // Its execution context (an operation compares its connection's with it).
    asio::execution_context* execution = nullptr;
    // Reaches the Asio operation the chain is awaiting now: the handler of
    // each one has this signal's slot as its associated cancellation slot.
    asio::cancellation_signal cancel;
    // What was emitted on spawn's slot, kept: coline's operations started
    // after a cancellation end at once, as they do in an asio::awaitable.
    asio::cancellation_type cancelled = asio::cancellation_type::none;
    // The outermost coroutine (spawn's own); destroying it destroys the chain.
    std::coroutine_handle<> root;
    // Called once the chain has finished, outside any coroutine: completes
    // spawn's handler and frees the root.
    void (*finish)(task_context&) = nullptr;
};

// What coline's operations see of their chain's cancellation: `co_await
// detail::this_chain` in a task gives it without suspending. The names are
// asio::cancellation_state's, which the operations used before.
struct chain_cancellation {
    task_context* context;
    asio::cancellation_type cancelled() const noexcept { return context->cancelled; }
    // The slot the operation awaited now binds to (its time limit chains on to it).
    asio::cancellation_slot slot() const noexcept { return context->cancel.slot(); }
};
struct this_chain_t {
    explicit constexpr this_chain_t() = default;
};
inline constexpr this_chain_t this_chain{};

// The chain whose Asio operation this thread is starting now (in an
// awaiter's `await_suspend`), and whether its initiation destroyed the
// completion handler without calling it. Thread-local, not in the chain:
// once the operation has started, another thread may resume the chain, and
// finish it, before the initiation returns.
inline thread_local task_context* initiating_chain = nullptr;
inline thread_local bool initiation_dropped_handler = false;

// The coroutine to run next on this thread: a task hands control to the
// task it awaits, and back to its awaiter when it returns, by leaving the
// other here and suspending, and `resume` below runs it. A trampoline, not
// the compiler's symmetric transfer (an `await_suspend` that returns a
// handle): GCC 12 makes that a tail call only when optimising without
// sanitizers, and a chain of 100,000 nested tasks would overflow the stack
// of an -O0 or ASan build (tests/task_test.cpp keeps that case).
inline thread_local std::coroutine_handle<> next_to_run;

inline void transfer_to(std::coroutine_handle<> next) noexcept { next_to_run = next; }

// Set by the root's final suspension, on the thread that got there: the
// `resume` below that is innermost on this thread's stack then finishes the
// chain, after its coroutines have stopped.
inline thread_local task_context* finished_chain = nullptr;

// The chain running on this thread now (null outside coline's tasks): an
// operation checks its connection's execution context against it.
inline thread_local task_context* running_chain = nullptr;

// Whether the chain running now (if any) runs on `executor`'s execution
// context. A session spawned on another io_context than its socket's would
// race with the thread that runs the socket's.
template <class Executor>
bool on_running_context(const Executor& executor) noexcept
{
    const task_context* chain = running_chain;
    return chain == nullptr || chain->execution == &asio::query(executor, asio::execution::context);
}

// Whether every operation checks that (debug builds), not only those that wait.
#if defined(NDEBUG)
inline constexpr bool check_every_operation = false;
#else
inline constexpr bool check_every_operation = true;
#endif

// Resumes `h`, a coroutine of `chain`, runs what it hands control to until
// the chain suspends, and finishes the chain if it ended meanwhile. The
// finish may run spawn's handler, which may throw (detached does, to let an
// exception out of io_context::run()): this is not noexcept.
inline void resume(std::coroutine_handle<> h, task_context* chain)
{
    task_context* const outer = std::exchange(running_chain, chain);
    h.resume();
    while (next_to_run)
        std::exchange(next_to_run, {}).resume();
    running_chain = outer;
    if (outer == nullptr)
        chain_end_queue::run(); // the kept bytes of what the chain wrote and did not send
    if (task_context* done = finished_chain) {
        finished_chain = nullptr;
        done->finish(*done);
    }
}

} // namespace coline::detail

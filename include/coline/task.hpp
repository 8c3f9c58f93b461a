// task: coline's coroutine type, for sessions and for everything they await.
#pragma once

#include <coline/detail/config.hpp>
#include <coline/detail/frame_allocator.hpp>
#include <coline/detail/task_context.hpp>
#include <coline/use_task.hpp>

#include <concepts>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace coline {

template <class T = void>
class task;

namespace detail {

// Awaiting a task from a coroutine that is not one (an asio::awaitable,
// say) cannot work: there is no chain to inherit. This names the way out.
template <class Promise>
concept chain_member = requires(Promise& p) {
    { p.context_ } -> std::convertible_to<task_context*>;
};

// `co_await asio::this_coro::executor` inside a task: the chain's executor, at once.
struct executor_awaiter {
    const asio::any_io_executor& executor;
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    asio::any_io_executor await_resume() const noexcept { return executor; }
};

class task_promise_base {
public:
    // Frames come from the thread's recycling cache (detail/frame_allocator.hpp).
    static void* operator new(std::size_t size) { return allocate_frame(size); }
    static void operator delete(void* frame, std::size_t size) noexcept { deallocate_frame(frame, size); }

    // Lazy: a task runs when it is awaited, so that it knows its awaiter.
    std::suspend_always initial_suspend() noexcept { return {}; }

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        // Back to the awaiter, through the trampoline (detail/task_context.hpp):
        // a long run of tasks that finish at once does not grow the stack.
        template <class Promise>
        void await_suspend(std::coroutine_handle<Promise> self) const noexcept
        {
            transfer_to(self.promise().continuation_);
        }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }

    void unhandled_exception() noexcept { exception_ = std::current_exception(); }

    // Every awaiter is awaited as it is, so its await_ready() is asked first:
    // an operation the buffer can serve completes without suspending.
    template <class Awaitable>
    Awaitable&& await_transform(Awaitable&& awaitable) noexcept
    {
        return std::forward<Awaitable>(awaitable);
    }
    executor_awaiter await_transform(asio::this_coro::executor_t) noexcept { return {context_->executor}; }
    struct chain_awaiter {
        task_context* context;
        bool await_ready() const noexcept { return true; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        chain_cancellation await_resume() const noexcept { return {context}; }
    };
    chain_awaiter await_transform(this_chain_t) noexcept { return {context_}; }
    // An asio::awaitable (code written for Asio): run by co_spawn on the chain's executor and awaited
    // through use_task, so its exceptions, and cancellation of the chain,
    // pass through. It costs a spawn and a turn of the executor.
    template <class T, class Executor>
    auto await_transform(asio::awaitable<T, Executor> awaitable)
    {
        return asio::co_spawn(Executor{context_->executor}, std::move(awaitable), use_task);
    }

    task_context* context_ = nullptr;
    std::coroutine_handle<> continuation_;
    std::exception_ptr exception_;

protected:
    void rethrow_if_failed()
    {
        if (exception_)
            std::rethrow_exception(std::exchange(exception_, nullptr));
    }
};

template <class T>
class task_promise : public task_promise_base {
public:
    task<T> get_return_object() noexcept;

    template <class U = T>
        requires std::constructible_from<T, U&&>
    void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>)
    {
        value_.emplace(std::forward<U>(value));
    }

    T result()
    {
        rethrow_if_failed();
        return std::move(*value_);
    }

private:
    std::optional<T> value_;
};

template <>
class task_promise<void> : public task_promise_base {
public:
    task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void result() { rethrow_if_failed(); }
};

} // namespace detail

/// The coroutine type of coline: sessions, and the coroutines they call,
/// return a `coline::task<T>` (`T` defaults to `void`).
///
///     coline::task<void> session(coline::connection conn)
///     {
///         co_await coline::write_line(conn, "Connect");
///         while (auto line = co_await coline::read_line(conn))
///             co_await coline::write_line(conn, "Information received");
///     }
///
/// What suspends and what does not:
/// - A task is lazy: it starts when it is awaited (or spawned, see
///   `coline::spawn`), and its awaiter resumes when it returns, each handing
///   control to the other without a call on the stack, so a deep chain of nested tasks or a long run of tasks that
///   finish at once do not grow the stack.
/// - Any awaiter is awaited as is: one whose `await_ready()` is true (a line
///   already in the buffer) costs no suspension, no frame and no trip
///   through the executor.
/// - Asio's own operations (timers, the resolver, `asio::post`) are awaited
///   with the completion token `coline::use_task`; a task resumes on the
///   executor it was spawned on, whatever thread completed the operation.
/// - An `asio::awaitable` is awaited too, spawned on the task's executor:
///   its result or exception comes back, and cancellation goes through, at
///   the cost of a spawn and a turn of the executor.
///
/// A task is move-only and awaited once, as an rvalue. Exceptions it throws
/// reach its awaiter at the `co_await`. Its frame comes from a per-thread
/// cache of recently freed frames, so steady state allocates nothing.
/// `co_await asio::this_coro::executor` gives the executor it runs on.
template <class T>
class [[nodiscard]] task {
    static_assert(!std::is_reference_v<T>, "coline::task<T&>: return a pointer, or a value");

public:
    /// What the compiler makes of the coroutine (internal).
    using promise_type = detail::task_promise<T>;
    /// What `co_await` of the task gives.
    using value_type = T;

    /// Takes over `other`'s coroutine; `other` is left empty.
    task(task&& other) noexcept : frame_(std::exchange(other.frame_, {})) {}
    /// Destroys this task's coroutine, if any, and takes over `other`'s.
    task& operator=(task other) noexcept
    {
        std::swap(frame_, other.frame_);
        return *this;
    }
    ~task()
    {
        if (frame_)
            frame_.destroy();
    }

    /// Whether this task still has its coroutine (false once moved from).
    explicit operator bool() const noexcept { return static_cast<bool>(frame_); }

    /// What `co_await std::move(task)` awaits: starts the task, then gives its result.
    class awaiter {
    public:
        /// A task always runs first (it may still finish without suspending).
        bool await_ready() const noexcept { return false; }

        /// Runs the task next, on this thread; the awaiter resumes when it returns.

        template <class Promise>
        void await_suspend(std::coroutine_handle<Promise> awaiting) noexcept
        {
            static_assert(detail::chain_member<Promise>,
                          "a coline::task is awaited from a coline::task; from an asio::awaitable, await "
                          "coline::spawn(executor, std::move(task), asio::use_awaitable)");
            frame_.promise().continuation_ = awaiting;
            frame_.promise().context_ = awaiting.promise().context_;
            detail::transfer_to(frame_); // runs next, on this thread, from the trampoline
        }

        /// The task's value, or its exception rethrown.
        T await_resume() { return frame_.promise().result(); }

    private:
        friend class task;
        explicit awaiter(std::coroutine_handle<promise_type> frame) noexcept : frame_(frame) {}
        std::coroutine_handle<promise_type> frame_;
    };

    /// Runs the task and resumes the awaiter with its result (or exception).
    awaiter operator co_await() && noexcept { return awaiter{frame_}; }

    /// The task as an `asio::awaitable`, spawned on the awaitable's executor
    /// when that is awaited: so code that wants an awaitable takes a task.
    operator asio::awaitable<T>() &&;

private:
    friend promise_type;
    explicit task(std::coroutine_handle<promise_type> frame) noexcept : frame_(frame) {}
    std::coroutine_handle<promise_type> frame_;
};

namespace detail {

template <class T>
task<T> task_promise<T>::get_return_object() noexcept
{
    return task<T>{std::coroutine_handle<task_promise<T>>::from_promise(*this)};
}

inline task<void> task_promise<void>::get_return_object() noexcept
{
    return task<void>{std::coroutine_handle<task_promise<void>>::from_promise(*this)};
}

} // namespace detail

} // namespace coline

// The conversion to asio::awaitable spawns the task: defined with spawn.
#include <coline/spawn.hpp>

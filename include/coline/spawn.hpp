// spawn: starts a coline::task on an executor, with any completion token.
#pragma once

#include <coline/detail/config.hpp>
#include <coline/detail/frame_allocator.hpp>
#include <coline/detail/task_context.hpp>
#include <coline/task.hpp>

#include <concepts>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace coline {

namespace detail {

// What spawn's handler receives: the exception first, as asio::co_spawn's does.
template <class T>
struct spawn_signature {
    using type = void(std::exception_ptr, T);
};
template <>
struct spawn_signature<void> {
    using type = void(std::exception_ptr);
};

// The outermost coroutine of a chain: awaits the spawned task, holds the
// chain's context and spawn's handler, and keeps the outcome until
// `task_context::finish` completes the handler, once the coroutine has
// stopped (detail/task_context.hpp).
template <class T, class Handler, class Work>
class spawn_root {
public:
    struct promise_type {
        static void* operator new(std::size_t size) { return allocate_frame(size); }
        static void operator delete(void* frame, std::size_t size) noexcept { deallocate_frame(frame, size); }

        promise_type(task<T>&, Handler& handler, Work& work, const asio::any_io_executor& executor)
            : handler(std::move(handler)), work(std::move(work))
        {
            chain.executor = executor;
            chain.execution = &asio::query(executor, asio::execution::context);
            chain.root = std::coroutine_handle<promise_type>::from_promise(*this);
            chain.finish = &finish;
            // Cancellation emitted on the handler's slot reaches the operation the task awaits.
            auto slot = asio::get_associated_cancellation_slot(*this->handler);
            if (slot.is_connected())
                slot.template emplace<forward_cancellation>(forward_cancellation{&chain});
        }
        promise_type(const promise_type&) = delete;
        promise_type& operator=(const promise_type&) = delete;
        ~promise_type() { forget_slot(); }

        spawn_root get_return_object() noexcept
        {
            return spawn_root{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        struct final_awaiter {
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<promise_type> self) const noexcept
            {
                finished_chain = &self.promise().chain;
            }
            void await_resume() const noexcept {}
        };
        final_awaiter final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { std::terminate(); } // the body catches everything

        template <class Awaitable>
        Awaitable&& await_transform(Awaitable&& awaitable) noexcept
        {
            return std::forward<Awaitable>(awaitable);
        }

        struct forward_cancellation {
            task_context* chain;
            void operator()(asio::cancellation_type type) const
            {
                chain->cancelled = chain->cancelled | type;
                chain->cancel.emit(type);
            }
        };
        void forget_slot() noexcept
        {
            if (handler) {
                auto slot = asio::get_associated_cancellation_slot(*handler);
                if (slot.is_connected())
                    slot.clear();
            }
        }

        // Frees the root first (its frame is back in the cache when the
        // handler runs), then completes the handler on its executor.
        static void finish(task_context& chain)
        {
            auto root = std::coroutine_handle<promise_type>::from_address(chain.root.address());
            auto& promise = root.promise();
            promise.forget_slot();
            Handler handler = std::move(*promise.handler);
            promise.handler.reset(); // (a moved-from handler may not even say what its slot is)
            Work work = std::move(*promise.work);
            std::exception_ptr error = std::move(promise.error);
            auto value = std::move(promise.value);
            root.destroy();
            if constexpr (std::is_void_v<T>) {
                asio::dispatch(work, [handler = std::move(handler), error]() mutable { std::move(handler)(error); });
            } else {
                asio::dispatch(work, [handler = std::move(handler), error, value = std::move(value)]() mutable {
                    if (value)
                        std::move(handler)(error, std::move(*value));
                    else
                        std::move(handler)(error, T{}); // as co_spawn does
                });
            }
        }

        task_context chain;
        task_context* context_ = &chain;
        std::optional<Handler> handler;
        // Work on the handler's executor, so that its io_context does not run out while the task runs.
        std::optional<Work> work;
        std::exception_ptr error;
        std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> value{};
    };

    static spawn_root run(task<T> work, Handler, Work, const asio::any_io_executor&)
    {
        auto& promise = co_await own_promise{};
        try {
            if constexpr (std::is_void_v<T>)
                co_await std::move(work);
            else
                promise.value.emplace(co_await std::move(work));
        } catch (...) {
            promise.error = std::current_exception();
        }
    }

    spawn_root(spawn_root&& other) noexcept : frame_(std::exchange(other.frame_, {})) {}
    ~spawn_root()
    {
        if (frame_)
            frame_.destroy();
    }
    std::coroutine_handle<> release() noexcept { return std::exchange(frame_, {}); }
    task_context* chain() const noexcept { return &frame_.promise().chain; }

private:
    // `co_await own_promise{}`: the coroutine's own promise, without suspending.
    struct own_promise {
        promise_type* promise = nullptr;
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<promise_type> self) noexcept
        {
            promise = &self.promise();
            return false;
        }
        promise_type& await_resume() const noexcept { return *promise; }
    };
    explicit spawn_root(std::coroutine_handle<promise_type> frame) noexcept : frame_(frame) {}
    std::coroutine_handle<promise_type> frame_;
};

// Owns a root that has not started: runs it when the executor gets to it,
// or destroys it unrun with the executor's queue.
class root_start {
public:
    root_start(std::coroutine_handle<> root, task_context* chain) noexcept : root_(root), chain_(chain) {}
    root_start(root_start&& other) noexcept : root_(std::exchange(other.root_, {})), chain_(other.chain_) {}
    root_start& operator=(root_start&&) = delete;
    ~root_start()
    {
        if (root_)
            root_.destroy();
    }
    void operator()() { detail::resume(std::exchange(root_, {}), chain_); }

private:
    std::coroutine_handle<> root_;
    task_context* chain_;
};

// asio::detached would drop every exception: here only a
// coline::system_error is (the I/O errors of one peer); any other leaves
// io_context::run(), on the thread that finished the task.
struct rethrow_detached {
    template <class... Values>
    void operator()(std::exception_ptr error, Values&&...) const
    {
        if (!error)
            return;
        try {
            std::rethrow_exception(error);
        } catch (const system_error&) {
            // A peer went away or misbehaved: that task is over, nobody else
            // is affected (as a server's session without on_handler_error).
        }
    }
};

template <class Executor>
struct initiate_spawn {
    Executor executor;

    template <class Handler, class T>
    void operator()(Handler&& handler, task<T> work) const
    {
        auto tracked = asio::prefer(asio::get_associated_executor(handler, executor),
                                    asio::execution::outstanding_work.tracked);
        using root = spawn_root<T, std::decay_t<Handler>, decltype(tracked)>;
        const asio::any_io_executor chain_executor{executor};
        auto started = root::run(std::move(work), std::forward<Handler>(handler), std::move(tracked), chain_executor);
        task_context* chain = started.chain();
        asio::post(executor, root_start{started.release(), chain});
    }
};

} // namespace detail

/// Starts `work` on `executor` (or an execution context's executor), as
/// `asio::co_spawn` starts an `asio::awaitable`: the task first runs from
/// the executor's queue, never inside this call, and every resumption of it
/// and of the tasks it awaits is on that executor. When it is done, the
/// completion token gets `void(std::exception_ptr)` (`void(std::exception_ptr,
/// T)` for a `task<T>`):
///
///     coline::spawn(io, session(std::move(conn)), asio::detached);
///     std::future<int> answer = coline::spawn(io, compute(), asio::use_future);
///     int n = co_await coline::spawn(executor, compute(), asio::use_awaitable); // in an asio::awaitable
///
/// With `asio::detached`, a `coline::system_error` the task let out (its
/// peer went away, reset the connection, overran a time limit) ends that
/// task quietly, as a server's session; any other exception is rethrown from
/// `io_context::run()` (Asio's `co_spawn` drops them all): catch it in the
/// task to go on serving. A handler with a cancellation slot
/// (`asio::bind_cancellation_slot`) cancels the operation the task awaits
/// when the slot's signal is emitted.
template <class Executor, class T, class Token = asio::default_completion_token_t<Executor>>
    requires(asio::execution::executor<Executor> || asio::is_executor<Executor>::value)
auto spawn(const Executor& executor, task<T> work, Token&& token = Token{})
{
    using signature = typename detail::spawn_signature<T>::type;
    if constexpr (std::same_as<std::decay_t<Token>, asio::detached_t>) {
        detail::rethrow_detached rethrow;
        return asio::async_initiate<detail::rethrow_detached, signature>(detail::initiate_spawn<Executor>{executor},
                                                                         rethrow, std::move(work));
    } else {
        return asio::async_initiate<Token, signature>(detail::initiate_spawn<Executor>{executor}, token,
                                                      std::move(work));
    }
}

/// `spawn` on an execution context's executor: `coline::spawn(io, session(), asio::detached)`.
template <class Context, class T, class Token = asio::default_completion_token_t<typename Context::executor_type>>
    requires std::convertible_to<Context&, asio::execution_context&>
auto spawn(Context& context, task<T> work, Token&& token = Token{})
{
    return coline::spawn(context.get_executor(), std::move(work), std::forward<Token>(token));
}

namespace detail {

template <class T>
inline constexpr bool is_task = false;
template <class T>
inline constexpr bool is_task<task<T>> = true;

// The function lives in this coroutine's frame while the task it made runs,
// so a lambda's captures outlive its coroutine (as with asio::co_spawn).
template <class Function>
std::invoke_result_t<Function&> call_and_await(Function function)
{
    co_return co_await function();
}

template <class T, class Operation>
task<T> await_in_task(Operation operation)
{
    if constexpr (std::is_void_v<T>)
        co_await std::move(operation);
    else
        co_return co_await std::move(operation);
}

// What spawn takes besides a task: a function that returns one, or one of
// coline's operations (`spawn(io, coline::write_line(conn, "Connect"), ...)`).
template <class Work>
concept task_function = std::is_invocable_v<Work&> && is_task<std::invoke_result_t<Work&>>;
template <class Work>
concept coline_operation = requires { typename Work::result_type; } && !is_task<Work>;

template <class Work>
auto as_task(Work work)
{
    if constexpr (task_function<Work>)
        return call_and_await(std::move(work));
    else
        return await_in_task<typename Work::result_type>(std::move(work));
}

} // namespace detail

/// `spawn` for a function that returns a task, kept alive until the task is
/// done (a lambda's captures stay valid for its coroutine, as with
/// `asio::co_spawn`), or for one of coline's operations:
///
///     coline::spawn(io, [&conn]() -> coline::task<void> { co_await coline::flush(conn); }, asio::detached);
///     coline::spawn(io, coline::write_line(conn, "Connect"), asio::detached);
template <class Executor, class Work, class Token = asio::default_completion_token_t<Executor>>
    requires(asio::execution::executor<Executor> || asio::is_executor<Executor>::value)
            && (detail::task_function<std::decay_t<Work>> || detail::coline_operation<std::decay_t<Work>>)
auto spawn(const Executor& executor, Work&& work, Token&& token = Token{})
{
    return coline::spawn(executor, detail::as_task(std::decay_t<Work>(std::forward<Work>(work))),
                         std::forward<Token>(token));
}

/// `spawn` of a function that returns a task, or of an operation, on an execution context's executor.
template <class Context, class Work, class Token = asio::default_completion_token_t<typename Context::executor_type>>
    requires std::convertible_to<Context&, asio::execution_context&>
             && (detail::task_function<std::decay_t<Work>> || detail::coline_operation<std::decay_t<Work>>)
auto spawn(Context& context, Work&& work, Token&& token = Token{})
{
    return coline::spawn(context.get_executor(), std::forward<Work>(work), std::forward<Token>(token));
}

namespace detail {

template <class T>
asio::awaitable<T> as_awaitable(task<T> work)
{
    co_return co_await coline::spawn(co_await asio::this_coro::executor, std::move(work), asio::use_awaitable);
}

} // namespace detail

template <class T>
task<T>::operator asio::awaitable<T>() &&
{
    return detail::as_awaitable(std::move(*this));
}

} // namespace coline

// use_task: the completion token that awaits an Asio operation in a coline::task.
#pragma once

#include <coline/detail/config.hpp>
#include <coline/detail/task_context.hpp>
#include <coline/error.hpp>

#include <coroutine>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace coline {

/// The type of `coline::use_task`.
struct use_task_t {
    constexpr use_task_t() noexcept = default;
};

/// Awaits any Asio asynchronous operation inside a `coline::task`, as
/// `asio::use_awaitable` does inside an `asio::awaitable`:
///
///     asio::steady_timer timer{co_await asio::this_coro::executor, 50ms};
///     co_await timer.async_wait(coline::use_task);
///     auto endpoints = co_await resolver.async_resolve("localhost", "10008", coline::use_task);
///
/// The task resumes on its own executor (the one it was spawned on). An
/// error code first in the completion is thrown as `coline::system_error`
/// when set, an `std::exception_ptr` is rethrown; the rest is the result:
/// nothing, the one value, or a `std::tuple` of them. For the error code
/// instead of the exception, wrap the token: `asio::as_tuple(coline::use_task)`
/// (`asio::experimental::as_tuple` before Asio 1.24).
///
/// Cancellation: the operation's cancellation slot is the task's, so a
/// cancellation emitted on the slot bound to `coline::spawn`'s handler
/// reaches the operation the task awaits at that moment.
inline constexpr use_task_t use_task{};

namespace detail {

// use_task as coline's own operations use it: the error code lands in `*ec`
// instead of being thrown, and the operation is bound to `slot` (its time
// limit's) instead of the chain's. (On Asio 1.22, redirect_error and
// bind_cancellation_slot need a token whose awaiter has one fixed type.)
struct use_task_bound {
    error_code* ec;
    asio::cancellation_slot slot;
};

template <class T>
using plain = std::remove_cvref_t<T>;

// What the completion's arguments become in await_resume: an error code or
// exception_ptr first is taken out (and thrown); the rest is the value.
template <class... Args>
struct op_outcome {
    using values = std::tuple<plain<Args>...>;
    static constexpr bool error_first = false;
};
template <class First, class... Rest>
    requires std::same_as<plain<First>, error_code> || std::same_as<plain<First>, std::exception_ptr>
struct op_outcome<First, Rest...> {
    using values = std::tuple<plain<Rest>...>;
    static constexpr bool error_first = true;
};

template <class Values>
struct one_or_tuple {
    using type = Values;
};
template <>
struct one_or_tuple<std::tuple<>> {
    using type = void;
};
template <class Value>
struct one_or_tuple<std::tuple<Value>> {
    using type = Value;
};

template <class Initiation, class InitArgs, class... Args>
class asio_op_awaiter {
public:
    // `redirect`: where the error code goes instead of being thrown
    // (`asio::redirect_error(coline::use_task, ec)`).
    template <class I>
    asio_op_awaiter(I&& initiation, InitArgs args, error_code* redirect = nullptr, asio::cancellation_slot slot = {})
        : initiation_(std::forward<I>(initiation)), args_(std::move(args)), redirect_(redirect), slot_(slot)
    {
    }

    using values = typename op_outcome<Args...>::values;
    /// What the co_await gives: nothing, the one value, or a tuple of them.
    using result_type = typename one_or_tuple<values>::type;

    bool await_ready() const noexcept { return false; }

    template <class Promise>
    void await_suspend(std::coroutine_handle<Promise> awaiting)
    {
        task_context& context = *awaiting.promise().context_;
        task_context* const outer = std::exchange(initiating_chain, &context);
        initiation_dropped_handler = false;
        try {
            std::apply([&](auto&... args) { std::move(initiation_)(handler{this, awaiting, &context}, std::move(args)...); },
                       args_);
        } catch (...) {
            // The exception reaches the awaiting coroutine; the dropped handler did not take the chain.
            initiating_chain = outer;
            initiation_dropped_handler = false;
            throw;
        }
        initiating_chain = outer;
        // Nothing touches `this` or the chain after the initiation (on a
        // multi-threaded executor the operation may complete, and the task
        // resume, at once), unless the initiation dropped the handler: then
        // nothing ever resumes the chain, and it goes, as an asio::awaitable's does.
        if (std::exchange(initiation_dropped_handler, false))
            context.root.destroy();
    }

    auto await_resume()
    {
        auto& all = *completion_;
        if constexpr (op_outcome<Args...>::error_first) {
            auto& first = std::get<0>(all);
            if constexpr (std::same_as<plain<decltype(first)>, error_code>) {
                if (redirect_ != nullptr)
                    *redirect_ = first;
                else if (first)
                    throw system_error(first);
            } else if (first) {
                std::rethrow_exception(first);
            }
        }
        using values = typename op_outcome<Args...>::values;
        constexpr std::size_t skip = op_outcome<Args...>::error_first ? 1 : 0;
        if constexpr (std::tuple_size_v<values> == 0)
            return;
        else if constexpr (std::tuple_size_v<values> == 1)
            return std::move(std::get<skip>(all));
        else
            return [&]<std::size_t... I>(std::index_sequence<I...>) {
                return values{std::move(std::get<skip + I>(all))...};
            }(std::make_index_sequence<std::tuple_size_v<values>>{});
    }

private:
    // The operation's completion handler: keeps the outcome in the awaiter
    // (in the awaiting frame) and resumes the task.
    class handler {
    public:
        using executor_type = asio::any_io_executor;
        using cancellation_slot_type = asio::cancellation_slot;

        handler(asio_op_awaiter* op, std::coroutine_handle<> awaiting, task_context* context) noexcept
            : op_(op), awaiting_(awaiting), context_(context)
        {
        }
        handler(handler&& other) noexcept
            : op_(other.op_), awaiting_(std::exchange(other.awaiting_, {})), context_(other.context_)
        {
        }
        handler& operator=(handler&&) = delete;
        // Destroyed without being called (its io_context destroyed with the
        // operation pending, or the operation gave up on it): the chain it
        // would have resumed goes too, as an asio::awaitable's does.
        ~handler()
        {
            if (!awaiting_)
                return; // called, or moved from
            if (initiating_chain == context_)
                initiation_dropped_handler = true; // await_suspend destroys the chain once the initiation is over
            else
                context_->root.destroy();
        }

        executor_type get_executor() const noexcept { return context_->executor; }
        cancellation_slot_type get_cancellation_slot() const noexcept
        {
            return op_->slot_.is_connected() ? op_->slot_ : context_->cancel.slot();
        }

        template <class... Results>
        void operator()(Results&&... results)
        {
            op_->completion_.emplace(std::forward<Results>(results)...);
            // The operation is over: its cancellation handler must not stay in
            // the chain's slot, where a later emission would reach an
            // operation that is gone (Asio's awaitable clears it likewise).
            if (!op_->slot_.is_connected())
                context_->cancel.slot().clear();
            detail::resume(std::exchange(awaiting_, {}), context_);
        }

    private:
        asio_op_awaiter* op_;
        std::coroutine_handle<> awaiting_;
        task_context* context_;
    };

    Initiation initiation_;
    InitArgs args_;
    error_code* redirect_;
    asio::cancellation_slot slot_; // when connected, the operation's instead of the chain's
    std::optional<std::tuple<plain<Args>...>> completion_;
};

} // namespace detail

} // namespace coline

/// @cond INTERNAL
// How Asio makes an operation's awaiter from `coline::use_task`: Asio 1.22
// needs only this static `initiate`.
template <class R, class... Args>
struct asio::async_result<coline::use_task_t, R(Args...)> {
    template <class Initiation, class... InitArgs>
    static auto initiate(Initiation&& initiation, coline::use_task_t, InitArgs&&... args)
    {
        return coline::detail::asio_op_awaiter<std::decay_t<Initiation>, std::tuple<std::decay_t<InitArgs>...>,
                                               Args...>{std::forward<Initiation>(initiation),
                                                        std::tuple<std::decay_t<InitArgs>...>{
                                                            std::forward<InitArgs>(args)...}};
    }
};

// `asio::redirect_error(coline::use_task, ec)`: the error code lands in `ec`
// and is not thrown. (Asio 1.22's own redirect_error needs a fixed return type.)
template <class R, class... Args>
struct asio::async_result<asio::redirect_error_t<coline::use_task_t>, R(Args...)> {
    template <class Initiation, class Token, class... InitArgs>
    static auto initiate(Initiation&& initiation, Token&& token, InitArgs&&... args)
    {
        static_assert(std::same_as<coline::detail::plain<std::tuple_element_t<0, std::tuple<Args..., void>>>,
                                   coline::error_code>,
                      "asio::redirect_error(coline::use_task, ec): the operation completes with no error code first");
        return coline::detail::asio_op_awaiter<std::decay_t<Initiation>, std::tuple<std::decay_t<InitArgs>...>,
                                               Args...>{std::forward<Initiation>(initiation),
                                                        std::tuple<std::decay_t<InitArgs>...>{
                                                            std::forward<InitArgs>(args)...},
                                                        &token.ec_};
    }
};

template <class R, class... Args>
struct asio::async_result<coline::detail::use_task_bound, R(Args...)> {
    template <class Initiation, class... InitArgs>
    static auto initiate(Initiation&& initiation, coline::detail::use_task_bound token, InitArgs&&... args)
    {
        return coline::detail::asio_op_awaiter<std::decay_t<Initiation>, std::tuple<std::decay_t<InitArgs>...>,
                                               Args...>{std::forward<Initiation>(initiation),
                                                        std::tuple<std::decay_t<InitArgs>...>{
                                                            std::forward<InitArgs>(args)...},
                                                        token.ec, token.slot};
    }
};
/// @endcond

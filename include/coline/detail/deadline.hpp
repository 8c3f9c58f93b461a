// Internal: a time limit for one operation at a time, on a timer that is rarely re-armed.
#pragma once

#include <coline/detail/config.hpp>
#include <coline/error.hpp>
#include <coline/task.hpp>
#include <coline/timeout.hpp>
#include <coline/use_task.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>

namespace coline::detail {

// Shared with the timer's handler, so that a handler still queued when its
// connection went away has something valid to look at (`owner` is null then).
template <class Timer>
struct deadline_state {
    asio::cancellation_signal signal;
    Timer* owner = nullptr;      // the timer, while its connection lives
    bool active = false;         // an operation with a time limit is under way
    bool expired = false;        // ... and its time ran out
    bool waiting = false;        // the timer has a wait in progress
    std::uint64_t wait_id = 0;   // tells the current wait from cancelled ones
    std::chrono::steady_clock::time_point due{};
    // The awaiting chain's slot that holds our forwarding handler now (see
    // deadline::slot); empty once that handler is gone.
    asio::cancellation_slot forwarding{};
};

// In the awaiting coroutine's slot: passes its cancellation on to the step
// in progress. When Asio destroys it (another operation took the slot), the
// next step installs it again.
template <class State>
class forward_cancellation_to {
public:
    explicit forward_cancellation_to(const std::shared_ptr<State>& state) noexcept : state_(state) {}
    forward_cancellation_to(forward_cancellation_to&&) noexcept = default;
    forward_cancellation_to& operator=(forward_cancellation_to&&) = delete;
    ~forward_cancellation_to()
    {
        if (auto state = state_.lock())
            state->forwarding = {};
    }
    void operator()(asio::cancellation_type type) const
    {
        if (auto state = state_.lock(); state && state->owner)
            state->signal.emit(type);
    }

private:
    std::weak_ptr<State> state_;
};

/// One per direction of a connection. An operation calls start(), binds each
/// of its steps to slot(), and calls stop() when done. The steps end early
/// when the time limit runs out, when cancel() is called, or when the
/// awaiting coroutine is cancelled.
///
/// Cheap per operation: start() only moves the due time; the timer is armed
/// only when it would otherwise fire too late. A timer that fires early (the
/// operation ended, or a later one is due later) goes back to sleep until the
/// due time, so a connection with a 5-minute limit touches its timer about
/// once per 5 minutes, not once per line.
template <class Executor>
class deadline {
    using timer_type =
        asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Executor>;
    using state_type = deadline_state<timer_type>;

public:
    explicit deadline(const Executor& executor) : timer_(executor) {}

    deadline(deadline&& other) noexcept : timer_(std::move(other.timer_)), state_(std::move(other.state_))
    {
        if (state_)
            state_->owner = &timer_;
    }
    deadline& operator=(deadline&& other) noexcept
    {
        release();
        timer_ = std::move(other.timer_);
        state_ = std::move(other.state_);
        if (state_)
            state_->owner = &timer_;
        return *this;
    }
    ~deadline() { release(); }

    /// Starts an operation, with a time limit unless `limit` is no_timeout,
    /// and ending by `latest` in any case (a request's due time; one that has
    /// passed already ends the first step that waits).
    void start(duration limit,
               std::chrono::steady_clock::time_point latest = std::chrono::steady_clock::time_point::max())
    {
        if (!state_) {
            state_ = std::make_shared<state_type>();
            state_->owner = &timer_;
        }
        state_->expired = false;
        state_->active = limit != no_timeout || latest != std::chrono::steady_clock::time_point::max();
        if (!state_->active)
            return;
        state_->due = std::min(time_after(limit), latest);
        if (!state_->waiting || timer_.expiry() > state_->due)
            arm(state_);
    }

    /// The slot to bind the next step to. `parent` is the awaiting coroutine's
    /// slot: its cancellation is passed on, by a handler installed there
    /// once and again only after another operation has taken the slot.
    asio::cancellation_slot slot(asio::cancellation_slot parent)
    {
        if (parent.is_connected() && !(state_->forwarding == parent)) {
            parent.template emplace<forward_cancellation_to<state_type>>(state_);
            state_->forwarding = parent;
        }
        return state_->signal.slot();
    }

    /// True once the time limit ran out (the step in progress was cancelled).
    bool expired() const noexcept { return state_ && state_->expired; }

    /// Cancels the step in progress (call it only while one is).
    void cancel() noexcept
    {
        if (state_)
            state_->signal.emit(asio::cancellation_type::terminal);
    }

    /// Brings the due time of the operation in progress forward to `limit`
    /// from now, if that is sooner (a writer waiting for its turn with a
    /// shorter time limit than the send in progress).
    void shorten(duration limit)
    {
        if (limit == no_timeout || !state_)
            return;
        const auto due = time_after(limit);
        if (state_->active && state_->due <= due)
            return;
        state_->active = true;
        state_->due = due;
        if (!state_->waiting || timer_.expiry() > state_->due)
            arm(state_);
    }

    /// Ends the operation; returns whether its time limit ran out. The timer
    /// is left as it is: when it fires with nothing due, it just stops. The
    /// slot keeps the finished step's handler, so the next step reuses its
    /// memory; nothing emits on the slot between operations (the timer only
    /// while one is active, cancel() only while a read waits).
    bool stop() noexcept
    {
        if (!state_)
            return false;
        state_->active = false;
        return state_->expired;
    }

private:
    static void arm(const std::shared_ptr<state_type>& state)
    {
        const auto id = ++state->wait_id;
        state->waiting = true;
        state->owner->expires_at(state->due); // cancels the wait in progress, if any
        state->owner->async_wait([state, id](error_code ec) {
            if (ec || id != state->wait_id || state->owner == nullptr)
                return;
            state->waiting = false;
            if (!state->active)
                return;
            if (std::chrono::steady_clock::now() < state->due) {
                arm(state); // the operation under way is due later than this wait
                return;
            }
            state->expired = true;
            state->signal.emit(asio::cancellation_type::terminal);
        });
    }

    // The connection is going away: a wait still queued must not touch the timer.
    void release() noexcept
    {
        if (state_) {
            state_->owner = nullptr;
            ++state_->wait_id;
            timer_.cancel();
        }
    }

    timer_type timer_;
    std::shared_ptr<state_type> state_;
};

/// Awaits one Asio operation within `limit`, on a deadline of its own (for
/// operations done once per connection, not per line): `operation(token)`
/// starts it with the completion token to use. Returns its error, or
/// error::timeout if the limit passed first.
///
///     auto ec = co_await within(5s, [&socket, at](auto token) { return socket.async_connect(at, token); });
template <class Operation>
task<error_code> within(duration limit, Operation operation)
{
    error_code ec;
    deadline<asio::any_io_executor> deadline(co_await asio::this_coro::executor);
    detail::chain_cancellation parent = co_await detail::this_chain;
    deadline.start(limit);
    co_await operation(
        detail::use_task_bound{&ec, deadline.slot(parent.slot())});
    if (deadline.stop() && (!ec || ec == asio::error::operation_aborted))
        ec = error::timeout;
    co_return ec;
}

} // namespace coline::detail

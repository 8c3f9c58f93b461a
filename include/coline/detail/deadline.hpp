// Internal: a reusable timer that cancels one operation when it runs out.
#pragma once

#include <coline/detail/config.hpp>
#include <coline/timeout.hpp>

#include <cstdint>
#include <memory>

namespace coline::detail {

// Shared with the timer's handler, so a handler that was already queued when
// its connection went away still has something valid to look at.
struct deadline_state {
    asio::cancellation_signal signal;
    std::uint64_t generation = 0; // bumped whenever the current wait stops mattering
    bool expired = false;
};

/// One per direction of a connection. An operation calls start(), binds each
/// of its steps to slot(), and calls stop() when done. The steps end early
/// when the time limit runs out, when cancel() is called, or when the
/// awaiting coroutine is cancelled. No allocation per operation: the state is
/// made once, lazily.
template <class Executor>
class deadline {
public:
    explicit deadline(const Executor& executor) : timer_(executor) {}

    deadline(deadline&&) noexcept = default;
    deadline& operator=(deadline&& other) noexcept
    {
        forget_pending_wait();
        timer_ = std::move(other.timer_);
        state_ = std::move(other.state_);
        armed_ = other.armed_;
        return *this;
    }
    ~deadline() { forget_pending_wait(); }

    /// Starts an operation; arms the timer unless `limit` is no_timeout.
    void start(duration limit)
    {
        if (!state_)
            state_ = std::make_shared<deadline_state>();
        state_->expired = false;
        if (limit == no_timeout)
            return;
        const auto generation = ++state_->generation;
        armed_ = true;
        timer_.expires_after(limit);
        timer_.async_wait([state = state_, generation](std::error_code ec) {
            if (ec || state->generation != generation)
                return;
            state->expired = true;
            state->signal.emit(asio::cancellation_type::terminal);
        });
    }

    /// The slot to bind the next step to. `parent` is the awaiting coroutine's
    /// slot: its cancellation is passed on. (Asio clears that slot whenever a
    /// step completes, hence once per step.)
    asio::cancellation_slot slot(asio::cancellation_slot parent)
    {
        if (parent.is_connected())
            parent.assign([state = state_.get()](asio::cancellation_type type) { state->signal.emit(type); });
        return state_->signal.slot();
    }

    /// True once the armed timer ran out (the step in progress was cancelled).
    bool expired() const noexcept { return state_ && state_->expired; }

    /// Cancels the step in progress, if any.
    void cancel() noexcept
    {
        if (state_)
            state_->signal.emit(asio::cancellation_type::terminal);
    }

    /// Ends the operation; returns whether its time limit ran out.
    bool stop() noexcept
    {
        if (!state_)
            return false;
        state_->signal.slot().clear();
        if (armed_) {
            armed_ = false;
            forget_pending_wait();
        }
        return state_->expired;
    }

private:
    void forget_pending_wait() noexcept
    {
        if (state_) {
            ++state_->generation;
            timer_.cancel();
        }
    }

    asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Executor> timer_;
    std::shared_ptr<deadline_state> state_;
    bool armed_ = false;
};

} // namespace coline::detail

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

/// One per direction of a connection. start() arms the timer and gives a
/// cancellation slot to bind each step of the guarded operation to; stop()
/// disarms it. No allocation per operation: the state is made once, lazily.
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

    /// Arms the timer; returns false (and arms nothing) for no_timeout.
    bool start(duration limit)
    {
        if (limit == no_timeout)
            return false;
        if (!state_)
            state_ = std::make_shared<deadline_state>();
        const auto generation = ++state_->generation;
        state_->expired = false;
        armed_ = true;
        timer_.expires_after(limit);
        timer_.async_wait([state = state_, generation](std::error_code ec) {
            if (ec || state->generation != generation)
                return;
            state->expired = true;
            state->signal.emit(asio::cancellation_type::terminal);
        });
        return true;
    }

    asio::cancellation_slot slot() noexcept { return state_->signal.slot(); }

    /// True once the armed timer ran out (the guarded step was cancelled).
    bool expired() const noexcept { return armed_ && state_->expired; }

    /// Disarms the timer; returns whether it had run out.
    bool stop() noexcept
    {
        if (!armed_)
            return false;
        armed_ = false;
        forget_pending_wait();
        state_->signal.slot().clear();
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

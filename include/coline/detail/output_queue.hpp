// Internal: a connection's output half. What writes kept and the send in
// progress, without the stream: the send path (detail/send.hpp) moves bytes
// from here to the kernel.
#pragma once

#include <coline/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace coline::detail {

/// Bytes on their way out. Writes append to the kept bytes; a send takes
/// them all at once (`start_send`), so what is written meanwhile waits in a
/// buffer of its own and never lands in the bytes in flight. Once a send
/// fails, nobody knows how much the peer got: the queue drops what it keeps
/// and every later write fails alike.
class output_queue {
public:
    /// The most bytes kept for a later send (coalesce_writes); a write past it sends first.
    static constexpr std::size_t most_kept = 64 * 1024;
    /// Buffers larger than this are freed while the connection is idle.
    static constexpr std::size_t small = 1024;

    output_queue() = default;
    output_queue(output_queue&& other) noexcept { *this = std::move(other); }
    output_queue& operator=(output_queue&& other) noexcept
    {
        kept_ = std::exchange(other.kept_, {});
        in_flight_ = std::exchange(other.in_flight_, {});
        hint_ = std::exchange(other.hint_, 0);
        sending_ = std::exchange(other.sending_, false);
        failed_ = std::exchange(other.failed_, {});
        failure_unreported_ = std::exchange(other.failure_unreported_, false);
        return *this;
    }

    /// The kept bytes, to append to: at the size the last burst needed when
    /// they start empty, so a burst grows the buffer once at most.
    std::string& to_fill()
    {
        if (kept_.empty() && kept_.capacity() < hint_)
            kept_.reserve(hint_);
        return kept_;
    }
    /// The kept bytes, to append to or cut back (a line that failed its check).
    std::string& kept() noexcept { return kept_; }
    const std::string& kept() const noexcept { return kept_; }
    bool empty() const noexcept { return kept_.empty(); }
    std::size_t size() const noexcept { return kept_.size(); }

    /// A send holds the bytes in flight; the next one waits for it.
    bool sending() const noexcept { return sending_; }
    /// Takes every kept byte for a send; append nothing to what it returns.
    std::string_view start_send() noexcept
    {
        sending_ = true;
        std::swap(kept_, in_flight_);
        return in_flight_;
    }
    /// The send is over: a failure fails the queue.
    void finish_send(error_code ec) noexcept
    {
        in_flight_.clear();
        if (ec)
            fail(ec);
        sending_ = false;
    }
    /// The send never started: its bytes go back in front of what was written meanwhile.
    void abandon_send()
    {
        kept_.insert(0, in_flight_);
        in_flight_.clear();
        sending_ = false;
    }
    /// The first `n` kept bytes left by a send of their own (a non-blocking one).
    void sent(std::size_t n) noexcept { kept_.erase(0, n); }

    /// The failure every later write reports; none while the queue is sound.
    error_code failed() const noexcept { return failed_; }
    /// Nothing more goes out: the kept bytes are dropped and every later write fails with `ec`.
    void fail(error_code ec) noexcept
    {
        failed_ = ec;
        kept_.clear();
    }
    /// As fail(), for a send nobody awaited (at the end of a turn): the next
    /// operation reports it (take_unreported_failure).
    void fail_unreported(error_code ec) noexcept
    {
        fail(ec);
        failure_unreported_ = true;
    }
    /// Whether a failure is still to be reported, and forgets it.
    bool take_unreported_failure() noexcept { return std::exchange(failure_unreported_, false); }

    /// The connection waits for input: empty buffers grown past `small` by a
    /// burst are freed (the next burst reserves half of what this one took).
    void release_idle() noexcept
    {
        if (kept_.empty() && kept_.capacity() > small) {
            hint_ = kept_.capacity() / 2;
            std::string().swap(kept_);
        }
        if (!sending_ && in_flight_.capacity() > small)
            std::string().swap(in_flight_);
    }
    /// Bytes held by the queue's buffers, kept or not.
    std::size_t capacity() const noexcept { return kept_.capacity() + in_flight_.capacity(); }

private:
    std::string kept_;      // written and not sent yet
    std::string in_flight_; // what the send in progress hands to the kernel
    std::size_t hint_ = 0;  // what to reserve for the next burst
    bool sending_ = false;
    error_code failed_;
    bool failure_unreported_ = false;
};

} // namespace coline::detail

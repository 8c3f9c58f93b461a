// Internal: a connection's input half. The buffer of received bytes and the
// state of the read under way, without the stream: the reads
// (detail/receive.hpp) move bytes from the kernel to here.
#pragma once

#include <coline/detail/line_buffer.hpp>
#include <coline/timeout.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace coline::detail {

/// What the reads of one connection share: its bytes (`buffer`), the one
/// read that may be under way, the graceful end of `stop_reading`, and the
/// time limit of a request made of several reads.
class line_input {
public:
    using time_point = std::chrono::steady_clock::time_point;

    line_input() = default;
    line_input(line_input&& other) noexcept { *this = std::move(other); }
    line_input& operator=(line_input&& other) noexcept
    {
        buffer_ = std::move(other.buffer_);
        waiting_ = std::exchange(other.waiting_, false);
        claimed_ = std::exchange(other.claimed_, false);
        request_begun_ = std::exchange(other.request_begun_, false);
        request_limit_ = other.request_limit_;
        request_due_ = other.request_due_;
        received_without_wait_ = std::exchange(other.received_without_wait_, false);
        stopped_ = std::exchange(other.stopped_, false);
        stop_point_ = std::exchange(other.stop_point_, 0);
        cancelled_by_stop_ = std::exchange(other.cancelled_by_stop_, false);
        return *this;
    }

    line_buffer& buffer() noexcept { return buffer_; }
    const line_buffer& buffer() const noexcept { return buffer_; }

    // One read at a time: a read that the buffer could not serve at once
    // holds the input (claim) until it is over.
    bool claimed() const noexcept { return claimed_; }
    void claim() noexcept { claimed_ = true; }
    void unclaim() noexcept { claimed_ = false; }

    // A read is waiting for input (not for the bytes kept by writes to go out first).
    bool waiting() const noexcept { return waiting_; }
    void set_waiting(bool waiting) noexcept { waiting_ = waiting; }

    /// A receive brought bytes without a wait; true if the one before did
    /// too (the read should then let the executor run others first).
    bool received_without_wait() noexcept { return std::exchange(received_without_wait_, true); }
    /// The executor ran others since (a wait, or a completion through its queue).
    void yielded() noexcept { received_without_wait_ = false; }

    /// stop_reading(): the lines that had arrived by now (`in_stream` more
    /// bytes than the buffer holds had reached the stream) are still read,
    /// nothing after them. True if the read waiting now, with nothing
    /// begun, must be cancelled (its abort is then the stop's: take_stop_cancel).
    bool stop(std::size_t in_stream) noexcept
    {
        if (!stopped_)
            stop_point_ = buffer_.received_total() + in_stream;
        stopped_ = true;
        if (waiting_ && buffer_.unread().empty())
            return cancelled_by_stop_ = true;
        return false;
    }
    bool stopped() const noexcept { return stopped_; }
    /// After stop(): every line that had arrived then was taken, and none is
    /// half taken (read_line_part): the next line read returns the end.
    bool past_stop_point() const noexcept
    {
        return stopped_ && buffer_.taken_total() >= stop_point_ && !buffer_.line_open();
    }
    /// Whether the read just aborted was cancelled by stop(), and forgets it.
    bool take_stop_cancel() noexcept { return std::exchange(cancelled_by_stop_, false); }

    /// begin_request(limit): calling it while a request is under way changes nothing.
    void begin_request(duration limit) noexcept
    {
        if (!request_begun_) {
            request_begun_ = true;
            request_limit_ = limit;
            request_due_ = no_due_time;
        }
    }
    void end_request() noexcept { request_begun_ = false; }
    /// When the request under way must be read by; its clock starts at the
    /// first call (the first read that waits). The latest time point without one.
    time_point request_due()
    {
        if (!request_begun_ || request_limit_ == no_timeout)
            return time_point::max();
        if (request_due_ == no_due_time)
            request_due_ = time_after(request_limit_);
        return request_due_;
    }

private:
    static constexpr time_point no_due_time = time_point::min();

    line_buffer buffer_;
    bool waiting_ = false;
    bool claimed_ = false;
    bool request_begun_ = false;
    duration request_limit_ = no_timeout;
    time_point request_due_ = no_due_time;
    bool received_without_wait_ = false;
    bool stopped_ = false;
    std::uint64_t stop_point_ = 0;
    bool cancelled_by_stop_ = false;
};

} // namespace coline::detail

// Internal: splits received bytes into lines, within a fixed memory bound.
#pragma once

#include <coline/error.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

namespace coline::detail {

/// Input buffers kept per thread for the connections that wait for input
/// without one: a connection gives its buffer back when everything in it was
/// read, and takes one of the size it needs when bytes arrive, so that neither an idle connection nor a steady stream
/// of requests, long lines included, allocates. A few are kept, none larger
/// than 128 KiB; the rest are freed.
class buffer_pool {
public:
    static constexpr std::size_t block_size = 4096;  // the smallest buffer
    static constexpr std::size_t largest = 128 * 1024; // larger ones are freed

    struct block {
        std::unique_ptr<char[]> data;
        std::size_t size = 0;
    };

    static block take(std::size_t size)
    {
        auto& pool = mine();
        for (std::size_t i = 0; i < pool.count_; ++i) {
            if (pool.blocks_[i].size == size) { // exactly: the buffer's bound stays what line_buffer says
                block found = std::move(pool.blocks_[i]);
                pool.blocks_[i] = std::move(pool.blocks_[--pool.count_]);
                return found;
            }
        }
        return {std::make_unique_for_overwrite<char[]>(size), size};
    }

    static void give(block b) noexcept
    {
        auto& pool = mine();
        if (b.size <= largest && pool.count_ < kept)
            pool.blocks_[pool.count_++] = std::move(b);
    }

private:
    static constexpr std::size_t kept = 16;
    static buffer_pool& mine() noexcept
    {
        static thread_local buffer_pool pool;
        return pool;
    }
    block blocks_[kept];
    std::size_t count_ = 0;
};

/// Bytes received but not yet returned as lines or blocks of bytes. Pure
/// logic, no I/O, so the framing can be tested and fuzzed on its own.
///
/// Memory: the storage never grows past max(max_line + 2, min_capacity,
/// the largest block asked of prepare()) bytes (a full line plus "\r\n");
/// over-long input is reported and dropped.
class line_buffer {
public:
    static constexpr std::size_t min_capacity = buffer_pool::block_size;
    /// Limits above this are taken as this (no line gets near it in memory).
    static constexpr std::size_t largest_limit = std::size_t{1} << 40;

    line_buffer() = default;
    line_buffer(line_buffer&& other) noexcept { *this = std::move(other); }
    line_buffer& operator=(line_buffer&& other) noexcept
    {
        if (this == &other)
            return *this;
        give_back();
        data_ = std::move(other.data_);
        capacity_ = std::exchange(other.capacity_, 0);
        begin_ = std::exchange(other.begin_, 0);
        end_ = std::exchange(other.end_, 0);
        scan_ = std::exchange(other.scan_, 0);
        offered_ = std::exchange(other.offered_, 0);
        read_filled_ = std::exchange(other.read_filled_, false);
        discarding_ = std::exchange(other.discarding_, false);
        at_end_ = std::exchange(other.at_end_, false);
        crlf_ = std::exchange(other.crlf_, false);
        line_open_ = std::exchange(other.line_open_, false);
        peak_ = std::exchange(other.peak_, 0);
        hint_ = std::exchange(other.hint_, 0);
        dropped_ = std::exchange(other.dropped_, 0);
        return *this;
    }

    /// The next complete line without its "\n" or "\r\n", or nullopt when more
    /// input is needed. A line longer than `max_line` sets `ec` to
    /// error::line_too_long once; its remaining bytes are skipped.
    std::optional<std::string_view> next_line(std::size_t max_line, error_code& ec)
    {
        max_line = std::min(max_line, largest_limit);
        if (discarding_ && !skip_discarded_line())
            return std::nullopt;

        const std::size_t from = std::max(scan_, begin_);
        const char* newline = find_newline(from);
        if (newline == nullptr) {
            scan_ = end_;
            if (pending_exceeds(max_line)) {
                ec = error::line_too_long;
                discarding_ = true;
                clear();
            }
            return std::nullopt;
        }

        const std::string_view line = take_line_to(newline);
        if (line.size() > max_line) {
            ec = error::line_too_long;
            return std::nullopt;
        }
        return line;
    }

    /// The next line if it is complete and within `max_line`; otherwise
    /// nullopt and nothing changes (next_line then reports what is wrong).
    std::optional<std::string_view> next_line_if_whole(std::size_t max_line)
    {
        if (discarding_)
            return std::nullopt;
        const char* newline = find_newline(std::max(scan_, begin_));
        if (newline == nullptr) {
            scan_ = end_; // searched: the next search starts after these bytes
            return std::nullopt;
        }
        const std::size_t at = static_cast<std::size_t>(newline - data_.get());
        const std::size_t length = at - begin_ - (at > begin_ && data_[at - 1] == '\r' ? 1 : 0);
        if (length > std::min(max_line, largest_limit))
            return std::nullopt;
        return take_line_to(newline);
    }

    /// The next piece of the current line, however long the line: the rest of
    /// it when its end has arrived (`complete` true, terminator stripped),
    /// otherwise every byte received of it (`complete` false; a last "\r" is
    /// kept back, as it may begin the "\r\n"). nullopt when nothing is buffered.
    std::optional<std::string_view> next_part(bool& complete)
    {
        if (discarding_ && !skip_discarded_line())
            return std::nullopt;
        if (const char* newline = find_newline(std::max(scan_, begin_))) {
            complete = true;
            line_open_ = false;
            return take_line_to(newline);
        }
        std::size_t length = end_ - begin_;
        if (length > 0 && data_[end_ - 1] == '\r')
            --length;
        if (length == 0)
            return std::nullopt;
        complete = false;
        line_open_ = true;
        const std::string_view part{data_.get() + begin_, length};
        begin_ += length;
        scan_ = std::max(scan_, begin_);
        return part;
    }

    /// The next `n` bytes as they are, or nullopt while fewer are buffered
    /// (prepare(max_line, n) makes room for them).
    std::optional<std::string_view> take(std::size_t n)
    {
        if (discarding_ && !skip_discarded_line())
            return std::nullopt;
        if (end_ - begin_ < n)
            return std::nullopt;
        return take_bytes(n);
    }

    /// Up to `most` of the bytes buffered, as they are (empty when none are).
    std::string_view take_some(std::size_t most)
    {
        if (discarding_ && !skip_discarded_line())
            return {};
        return take_bytes(std::min(most, end_ - begin_));
    }

    ~line_buffer() { give_back(); }

    /// Gives the storage back when nothing in it is unread (a connection
    /// about to wait for input): capacity() is 0 until the next prepare(),
    /// which makes it as large as the bytes held since the last release
    /// needed (no regrowing through every size when long lines come in bursts).
    /// Returns whether it did.
    bool release() noexcept
    {
        if (begin_ != end_ || discarding_)
            return false;
        if (capacity_ > 0)
            hint_ = std::min(std::bit_ceil(std::max(peak_, min_capacity)), capacity_);
        peak_ = 0;
        clear();
        give_back();
        return true;
    }

    /// Whether the last line returned by next_line (or the last complete part) ended in "\r\n".
    bool last_line_crlf() const noexcept { return crlf_; }

    /// Space to receive into; never empty while the buffered bytes are within
    /// the limit (next_line reports them otherwise). The buffer grows when it
    /// is full, and when the last read filled all it was offered (more is
    /// waiting: take it in bigger reads), up to the limit; and at once to
    /// `block` bytes, so that take(block) can succeed.
    std::span<char> prepare(std::size_t max_line, std::size_t block = 0)
    {
        max_line = std::min(max_line, largest_limit);
        const std::size_t limit = std::max({max_line + 2, min_capacity, block});
        if (begin_ == end_)
            clear();
        else if (begin_ > 0 && (capacity_ - end_ < capacity_ / 2 || capacity_ - begin_ < block))
            compact();
        if (end_ == capacity_ || (read_filled_ && capacity_ < limit) || capacity_ < block)
            grow(limit, block);
        offered_ = capacity_ - end_;
        return {data_.get() + end_, offered_};
    }

    /// Marks `n` bytes at the start of the last prepare() as received.
    void commit(std::size_t n) noexcept
    {
        end_ += n;
        peak_ = std::max(peak_, end_);
        read_filled_ = n == offered_;
    }

    /// The peer ended the stream: error::partial_line if an unterminated line
    /// is buffered (it stays in unread()) or was begun by next_part, otherwise success.
    error_code finish() noexcept
    {
        at_end_ = true;
        if (discarding_) {
            discarding_ = false;
            clear();
        }
        const bool open = std::exchange(line_open_, false);
        return begin_ == end_ && !open ? error_code{} : error_code(error::partial_line);
    }

    /// Whether a whole line (or the rest of a skipped one) waits to be read.
    bool has_line() const noexcept { return find_newline(std::max(scan_, begin_)) != nullptr; }

    bool at_end() const noexcept { return at_end_; }
    std::string_view unread() const noexcept { return {data_.get() + begin_, end_ - begin_}; }
    /// Bytes of the stream taken (or skipped) so far, and received so far.
    std::uint64_t taken_total() const noexcept { return dropped_ + begin_; }
    std::uint64_t received_total() const noexcept { return dropped_ + end_; }
    /// `n` bytes of the stream were read past the buffer, straight into the caller's memory.
    void taken_past(std::size_t n) noexcept { dropped_ += n; }
    /// Whether next_part returned the start of a line and not its end yet.
    bool line_open() const noexcept { return line_open_; }
    std::size_t capacity() const noexcept { return capacity_; }

private:
    // A line may hold max_line bytes plus a '\r' that waits for its '\n'.
    bool pending_exceeds(std::size_t max_line) const noexcept
    {
        const std::size_t pending = end_ - begin_;
        return pending > max_line + 1 || (pending == max_line + 1 && data_[end_ - 1] != '\r');
    }

    // Drops the rest of an over-long line; false while its end is not in sight.
    bool skip_discarded_line() noexcept
    {
        const char* newline = find_newline(begin_);
        if (newline == nullptr) {
            clear();
            return false;
        }
        begin_ = scan_ = static_cast<std::size_t>(newline - data_.get()) + 1;
        discarding_ = false;
        return true;
    }

    // The line that ends at `newline`, without its terminator.
    std::string_view take_line_to(const char* newline) noexcept
    {
        const std::size_t at = static_cast<std::size_t>(newline - data_.get());
        std::size_t length = at - begin_;
        crlf_ = length > 0 && data_[at - 1] == '\r';
        if (crlf_)
            --length;
        const std::string_view line{data_.get() + begin_, length};
        begin_ = scan_ = at + 1;
        line_open_ = false;
        return line;
    }

    std::string_view take_bytes(std::size_t n) noexcept
    {
        const std::string_view bytes{data_.get() + begin_, n};
        begin_ += n;
        scan_ = std::max(scan_, begin_); // no '\n' before scan_ still holds
        return bytes;
    }

    const char* find_newline(std::size_t from) const noexcept
    {
        if (from == end_)
            return nullptr; // also keeps a null data_ away from memchr
        return static_cast<const char*>(std::memchr(data_.get() + from, '\n', end_ - from));
    }

    void clear() noexcept
    {
        dropped_ += end_;
        begin_ = end_ = scan_ = 0;
    }

    void compact() noexcept
    {
        dropped_ += begin_;
        std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        scan_ = scan_ > begin_ ? scan_ - begin_ : 0;
        begin_ = 0;
    }

    void grow(std::size_t limit, std::size_t block)
    {
        if (begin_ > 0)
            compact();
        const std::size_t wanted = capacity_ == 0 ? std::max(min_capacity, hint_) : capacity_ * 2;
        // The limit can only be below end_ if max_line shrank meanwhile: then
        // make room anyway so next_line sees the bytes and reports them.
        const std::size_t size = std::max({std::min(wanted, limit), end_ + 1, block});
        if (size <= capacity_)
            return;
        auto bigger = buffer_pool::take(size);
        if (end_ > 0)
            std::memcpy(bigger.data.get(), data_.get(), end_);
        give_back();
        data_ = std::move(bigger.data);
        capacity_ = bigger.size;
    }

    // The storage goes back to the pool (which frees what it does not keep).
    void give_back() noexcept
    {
        if (data_)
            buffer_pool::give({std::move(data_), capacity_});
        data_.reset();
        capacity_ = 0;
    }

    std::unique_ptr<char[]> data_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;   // first unread byte
    std::size_t end_ = 0;     // one past the last received byte
    std::size_t scan_ = 0;    // bytes before this were searched for '\n' already
    std::size_t offered_ = 0; // size of the last prepare()
    bool read_filled_ = false; // the last read took all it was offered
    bool discarding_ = false; // skipping the rest of an over-long line
    bool at_end_ = false;
    bool crlf_ = false;      // the last line ended in "\r\n"
    bool line_open_ = false; // next_part returned part of a line, not its end
    std::size_t peak_ = 0;   // most bytes held since the last release()
    std::size_t hint_ = 0;   // the size to come back at after a release()
    std::uint64_t dropped_ = 0; // stream bytes before data_[0]: taken, then moved or cleared away
};

} // namespace coline::detail

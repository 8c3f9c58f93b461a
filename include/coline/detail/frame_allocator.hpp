// Internal: where coline's coroutine frames come from. A session allocates
// and frees frames of a few sizes over and over (a task per request, say),
// so each thread keeps the last few freed blocks and hands them out again,
// as Asio's own recycling allocator does: in steady state, no heap call.
#pragma once

#include <cstddef>
#include <new>

namespace coline::detail {

class frame_cache {
public:
    // Blocks are kept in sizes rounded up to this, so that frames of
    // slightly different sizes share them.
    static constexpr std::size_t granule = 64;
    // Enough for a session's frames of a few sizes; past it, blocks go back to the heap.
    static constexpr std::size_t slots = 8;
    // A larger frame is rare and goes straight to the heap.
    static constexpr std::size_t largest = 64 * 1024;

    static std::size_t rounded(std::size_t size) noexcept { return (size + granule - 1) / granule * granule; }

    void* allocate(std::size_t size)
    {
        const std::size_t want = rounded(size);
        if (want <= largest && !closed_) {
            for (std::size_t i = 0; i < count_; ++i) {
                if (cached_[i].size == want) {
                    void* block = cached_[i].block;
                    cached_[i] = cached_[--count_];
                    return block;
                }
            }
        }
        return ::operator new(want);
    }

    // (Unsized ::operator delete: clang enables sized deallocation only with -fsized-deallocation.)
    void deallocate(void* block, std::size_t size) noexcept
    {
        const std::size_t have = rounded(size);
        if (have > largest || closed_) {
            ::operator delete(block);
            return;
        }
        if (count_ == slots) { // the oldest one goes: recent sizes are the likely ones
            ::operator delete(cached_[0].block);
            cached_[0] = cached_[--count_];
        }
        cached_[count_++] = {block, have};
    }

    // At the thread's exit: frees what is cached, and lets frames freed
    // later (by objects destroyed after this) go straight to the heap.
    void close() noexcept
    {
        closed_ = true;
        while (count_ > 0) {
            --count_;
            ::operator delete(cached_[count_].block);
        }
    }

private:
    struct entry {
        void* block;
        std::size_t size;
    };
    // Trivially destructible, so it stays usable until the thread is gone.
    entry cached_[slots];
    std::size_t count_;
    bool closed_;
};

// Zero-initialised per thread; `frame_cache_closer` empties it at the thread's exit.
inline thread_local frame_cache this_thread_frames{};

struct frame_cache_closer {
    frame_cache_closer() noexcept = default;
    frame_cache_closer(const frame_cache_closer&) = delete;
    frame_cache_closer& operator=(const frame_cache_closer&) = delete;
    ~frame_cache_closer() { this_thread_frames.close(); }
};

inline frame_cache& thread_frames() noexcept
{
    thread_local frame_cache_closer closer; // constructed on first use: destroyed at this thread's exit
    (void)closer;
    return this_thread_frames;
}

inline void* allocate_frame(std::size_t size) { return thread_frames().allocate(size); }

inline void deallocate_frame(void* frame, std::size_t size) noexcept { thread_frames().deallocate(frame, size); }

} // namespace coline::detail

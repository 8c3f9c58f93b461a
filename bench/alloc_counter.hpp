// Counts every heap allocation of the process: malloc and its kin are
// replaced (glibc allows it), so operator new, std::aligned_alloc (which Asio
// uses for coroutine frames) and C code are all counted. Include it in exactly
// one translation unit of a benchmark binary.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <malloc.h> // glibc declares these noexcept: match it, whoever includes it first

inline std::atomic<std::uint64_t> heap_allocations{0};

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);

void* malloc(std::size_t size) noexcept
{
    heap_allocations.fetch_add(1, std::memory_order_relaxed);
    return __libc_malloc(size);
}
void* calloc(std::size_t count, std::size_t size) noexcept
{
    heap_allocations.fetch_add(1, std::memory_order_relaxed);
    return __libc_calloc(count, size);
}
void* realloc(void* old, std::size_t size) noexcept
{
    heap_allocations.fetch_add(1, std::memory_order_relaxed);
    return __libc_realloc(old, size);
}
void* memalign(std::size_t alignment, std::size_t size) noexcept
{
    heap_allocations.fetch_add(1, std::memory_order_relaxed);
    return __libc_memalign(alignment, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept { return memalign(alignment, size); }
int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept
{
    *out = memalign(alignment, size);
    return *out ? 0 : ENOMEM;
}
void free(void* p) noexcept { __libc_free(p); }
}

// Internal: includes Asio and checks that it has what coline needs.
#pragma once

// A standard header first: Asio 1.22 picks its frame allocator (aligned_alloc
// or operator new) from libstdc++'s macros, so a translation unit that
// included Asio before any standard header would pick another one than the
// rest, and memory from one would be freed by the other.
#include <cstddef>

#include <asio.hpp>

#if !defined(ASIO_HAS_CO_AWAIT)
#error "coline needs Asio's C++20 coroutine support: build with -std=c++20 (GCC >= 10, clang >= 16)"
#endif

// GCC 12 takes Asio's recycling allocator for coroutine frames (a class
// operator new that may fall back to ::operator new) for a mismatched
// new/delete pair, a false positive reported at the coroutine's closing brace.
#if defined(__GNUC__) && !defined(__clang__)
#define COLINE_SILENCE_FRAME_WARNINGS_BEGIN                                                                            \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmismatched-new-delete\"")
#define COLINE_SILENCE_FRAME_WARNINGS_END _Pragma("GCC diagnostic pop")
#else
#define COLINE_SILENCE_FRAME_WARNINGS_BEGIN
#define COLINE_SILENCE_FRAME_WARNINGS_END
#endif

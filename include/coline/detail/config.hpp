// Internal: includes Asio (standalone, or Boost.Asio with COLINE_USE_BOOST_ASIO)
// and checks that it has what coline needs.
#pragma once

// A standard header first: Asio 1.22 picks its frame allocator (aligned_alloc
// or operator new) from libstdc++'s macros, so a translation unit that
// included Asio before any standard header would pick another one than the
// rest, and memory from one would be freed by the other.
#include <cstddef>

#if defined(COLINE_USE_BOOST_ASIO)

// Boost.Asio (docs/api.md#boostasio). coline, and code written for it, say
// `asio::` in either mode: a namespace alias may be declared again for the
// same namespace, so a user's own `namespace asio = boost::asio;` agrees.
#include <boost/asio.hpp>
namespace asio = ::boost::asio;

#if !defined(BOOST_ASIO_HAS_CO_AWAIT)
#error "coline needs Asio's C++20 coroutine support: build with -std=c++20 (GCC >= 10, clang >= 16)"
#endif
#if defined(BOOST_ASIO_HAS_LOCAL_SOCKETS)
#define COLINE_HAS_LOCAL_SOCKETS 1
#endif
#if defined(BOOST_ASIO_WINDOWS)
#define COLINE_WINDOWS 1
#endif

#else // standalone Asio

// Asio 1.22 enables co_await on clang only for the Coroutines TS
// (<experimental/coroutine>), which libstdc++ does not ship: clang 16 with
// -std=c++20 has standard coroutines and <coroutine>, yet got no
// asio::awaitable. Tell Asio what later releases detect by themselves (the
// same test), so nothing changes for GCC or those releases. Only before Asio
// is configured: a <asio.hpp> included ahead of coline meets the #error below.
#if defined(__clang__) && !defined(ASIO_DETAIL_CONFIG_HPP) && !defined(ASIO_HAS_CO_AWAIT)                              \
    && !defined(ASIO_DISABLE_CO_AWAIT) && __cplusplus >= 202002L && defined(__cpp_impl_coroutine)
#if __cpp_impl_coroutine >= 201902L && __has_include(<coroutine>)
#define ASIO_HAS_CO_AWAIT 1
#if !defined(ASIO_HAS_STD_COROUTINE) && !defined(ASIO_DISABLE_STD_COROUTINE)
#define ASIO_HAS_STD_COROUTINE 1
#endif
#endif
#endif

#include <asio.hpp>

// (With clang and Asio 1.22, also when <asio.hpp> was included before coline.)
#if !defined(ASIO_HAS_CO_AWAIT)
#error "coline needs Asio's C++20 coroutine support: build with -std=c++20 (GCC >= 10, clang >= 16)"
#endif
#if defined(ASIO_HAS_LOCAL_SOCKETS)
#define COLINE_HAS_LOCAL_SOCKETS 1
#endif
#if defined(ASIO_WINDOWS)
#define COLINE_WINDOWS 1
#endif

#endif // COLINE_USE_BOOST_ASIO

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

// A path taken only on misuse or bad news: kept out of line, so that the
// fast path around it stays small enough to be inlined into the session.
#if defined(__GNUC__)
#define COLINE_COLD __attribute__((cold, noinline))
#else
#define COLINE_COLD
#endif

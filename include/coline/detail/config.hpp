// Internal: includes Asio and checks that it has what coline needs.
#pragma once

#include <asio.hpp>

#if !defined(ASIO_HAS_CO_AWAIT)
#error "coline needs Asio's C++20 coroutine support: build with -std=c++20 (GCC >= 10, clang >= 16)"
#endif

// How coline spells a time limit.
#pragma once

#include <chrono>

namespace coline {

/// A time limit for one operation: any `std::chrono` duration converts to it
/// (`std::chrono::milliseconds{500}`, `2s`).
using duration = std::chrono::steady_clock::duration;

/// "Wait as long as it takes": the default for every operation.
inline constexpr duration no_timeout = duration::max();

namespace detail {

/// now + limit, without overflowing for very long limits.
inline std::chrono::steady_clock::time_point time_after(duration limit)
{
    const auto now = std::chrono::steady_clock::now();
    if (limit >= std::chrono::steady_clock::time_point::max() - now)
        return std::chrono::steady_clock::time_point::max();
    return now + limit;
}

} // namespace detail

} // namespace coline

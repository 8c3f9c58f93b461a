// How coline spells a time limit.
#pragma once

#include <chrono>

namespace coline {

/// A time limit for one operation: any `std::chrono` duration converts to it
/// (`std::chrono::milliseconds{500}`, `2s`).
using duration = std::chrono::steady_clock::duration;

/// "Wait as long as it takes": the default for every operation.
inline constexpr duration no_timeout = duration::max();

} // namespace coline

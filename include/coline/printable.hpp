// printable: bytes from a peer, formatted so that printing them is safe.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace coline {

/// Bytes from a peer, for a log. A peer can send escape sequences and lone
/// carriage returns that would rewrite the terminal of whoever watches the
/// log; formatted through this, printable ASCII and valid UTF-8 print as
/// they are, and everything else as `\xNN`: control characters (C0, DEL and
/// C1) and bytes that are not UTF-8. A backslash prints as `\\`, so the
/// log tells a received `\x1b` from an escaped ESC.
///
///     fmt::print("Buffer: {}\n", coline::printable{*line}); // "Buffer: SOME data"
struct printable {
    std::string_view text; ///< the bytes as received
};

namespace detail {

// The length of the UTF-8 sequence that `s` starts with, or 0 when it is not
// one (or encodes a C1 control, U+0080 to U+009F).
constexpr std::size_t utf8_sequence(std::string_view s) noexcept
{
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char lead = byte(0);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xbf; // the second byte's range: no overlong forms or surrogates
    if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2;
        low = lead == 0xc2 ? 0xa0 : 0x80;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3;
        low = lead == 0xe0 ? 0xa0 : 0x80;
        high = lead == 0xed ? 0x9f : 0xbf;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4;
        low = lead == 0xf0 ? 0x90 : 0x80;
        high = lead == 0xf4 ? 0x8f : 0xbf;
    }
    if (length == 0 || s.size() < length || byte(1) < low || byte(1) > high)
        return 0;
    for (std::size_t i = 2; i < length; ++i)
        if (byte(i) < 0x80 || byte(i) > 0xbf)
            return 0;
    return length;
}

// How many bytes at the start of `s` print as they are: printable ASCII
// other than the backslash. Tests eight bytes at a time, as a log line is
// mostly such bytes.
inline std::size_t plain_prefix(std::string_view s) noexcept
{
    constexpr std::uint64_t ones = 0x0101010101010101, highs = 0x8080808080808080;
    const auto has_zero_byte = [](std::uint64_t v) { return ((v - ones) & ~v & highs) != 0; };
    std::size_t n = 0;
    for (; n + 8 <= s.size(); n += 8) {
        std::uint64_t word;
        std::memcpy(&word, s.data() + n, 8);
        const bool below_space = ((word - 0x20 * ones) & ~word & highs) != 0;
        if ((word & highs) != 0 || below_space || has_zero_byte(word ^ (0x7f * ones)) ||
            has_zero_byte(word ^ ('\\' * ones)))
            break; // this word has a byte to escape: find it one byte at a time
    }
    while (n < s.size() && s[n] >= 0x20 && s[n] < 0x7f && s[n] != '\\')
        ++n;
    return n;
}

} // namespace detail
} // namespace coline

/// @cond
// Formats coline::printable (no format specification). Hidden from the
// reference: printable's own comment says what it prints.
template <>
struct fmt::formatter<coline::printable> {
    constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }

    template <class Context>
    auto format(const coline::printable& bytes, Context& ctx) const
    {
        auto out = ctx.out();
        std::string_view rest = bytes.text;
        while (!rest.empty()) {
            if (const std::size_t run = coline::detail::plain_prefix(rest); run > 0) {
                // Most bytes are plain ASCII: a long run is copied in one write.
                if (run < 64) {
                    out = std::copy_n(rest.data(), run, out);
                } else {
                    ctx.advance_to(out);
                    out = verbatim_.format(rest.substr(0, run), ctx);
                }
                rest.remove_prefix(run);
                continue;
            }
            const auto c = static_cast<unsigned char>(rest.front());
            std::size_t length = 1;
            if (c == '\\')
                out = fmt::format_to(out, "\\\\");
            else if (const std::size_t n = c >= 0x80 ? coline::detail::utf8_sequence(rest) : 0; n > 0)
                out = std::copy_n(rest.data(), length = n, out);
            else
                out = fmt::format_to(out, "\\x{:02x}", c);
            rest.remove_prefix(length);
        }
        return out;
    }

private:
    fmt::formatter<std::string_view> verbatim_; // default specification: the bytes as they are
};
/// @endcond

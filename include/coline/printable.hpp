// printable: bytes from a peer, formatted so that printing them is safe.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
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
            const auto c = static_cast<unsigned char>(rest.front());
            std::size_t length = 1;
            if (c >= 0x20 && c < 0x7f && c != '\\')
                *out++ = static_cast<char>(c);
            else if (c == '\\')
                out = fmt::format_to(out, "\\\\");
            else if (const std::size_t n = c >= 0x80 ? coline::detail::utf8_sequence(rest) : 0; n > 0)
                out = std::copy_n(rest.data(), length = n, out);
            else
                out = fmt::format_to(out, "\\x{:02x}", c);
            rest.remove_prefix(length);
        }
        return out;
    }
};
/// @endcond

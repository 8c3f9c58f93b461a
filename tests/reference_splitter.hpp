// The simplest framer there is, to check coline's against: split on '\n',
// drop one '\r' before it, flag lines over the limit.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace test {

struct frame {
    enum kind { line, too_long, partial_line } what;
    std::string text; // for line and partial_line
    bool operator==(const frame&) const = default;
};

/// What a reader with `limit` must report for `data` followed by the end of the stream.
inline std::vector<frame> reference_frames(std::string_view data, std::size_t limit)
{
    std::vector<frame> frames;
    std::size_t start = 0;
    for (std::size_t nl; (nl = data.find('\n', start)) != std::string_view::npos; start = nl + 1) {
        std::string text(data.substr(start, nl - start));
        if (!text.empty() && text.back() == '\r')
            text.pop_back();
        if (text.size() > limit)
            frames.push_back({frame::too_long, ""});
        else
            frames.push_back({frame::line, text});
    }
    // An unterminated tail: over-long if it could not become a line within the
    // limit (the limit plus a '\r' waiting for its '\n' still could).
    const std::string_view tail = data.substr(start);
    if (tail.size() > limit + 1 || (tail.size() == limit + 1 && tail.back() != '\r'))
        frames.push_back({frame::too_long, ""});
    else if (!tail.empty())
        frames.push_back({frame::partial_line, std::string(tail)});
    return frames;
}

} // namespace test

// libFuzzer target: the line buffer's byte-counted reads (take, take_some)
// and lines in pieces (next_part), mixed with whole lines, against a model
// that is nothing but a position in the stream.
//   input: 1 byte of seed for the operations and read sizes, then the stream
#include <coline/detail/line_buffer.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

void require(bool condition)
{
    if (!condition)
        std::abort();
}

// The expected line from `at`: up to the first '\n' (exclusive), without a '\r' before it.
std::string_view model_line(std::string_view data, std::size_t at, std::size_t newline)
{
    std::string_view line = data.substr(at, newline - at);
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    return line;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size)
{
    if (size < 1)
        return 0;
    std::uint32_t seed = bytes[0] + 1u;
    const std::string_view data(reinterpret_cast<const char*>(bytes + 1), size - 1);
    constexpr std::size_t max_line = 1000; // next_line's limit: never reached by its lines below
    auto next = [&seed](std::uint32_t most) {
        seed = seed * 1103515245 + 12345;
        return (seed >> 16) % most;
    };

    coline::detail::line_buffer buffer;
    std::size_t pos = 0; // bytes the model says were handed out
    std::size_t fed = 0; // bytes received
    bool in_line = false; // next_part handed out part of a line
    std::size_t block = 0;   // the block take() waits for
    std::size_t largest = 0; // the largest block asked: the buffer's bound grows to it
    for (int steps = 0; steps < 100000; ++steps) {
        const std::string_view pending = data.substr(pos, fed - pos);
        const std::size_t newline = pending.find('\n');
        bool progressed = false;
        switch (in_line ? 2 : next(5)) {
        case 4: { // next_line_if_whole: a whole line within a small limit, or nothing at all
            const std::size_t limit = next(60);
            auto line = buffer.next_line_if_whole(limit);
            const bool whole = newline != std::string_view::npos && model_line(data, pos, pos + newline).size() <= limit;
            require(line.has_value() == whole);
            if (line) {
                require(*line == model_line(data, pos, pos + newline));
                pos += newline + 1;
            }
            progressed = line.has_value();
            break;
        }
        case 0: { // take(n)
            const std::size_t n = next(3) == 0 ? next(9000) : next(40);
            auto taken = buffer.take(n);
            require(taken.has_value() == (pending.size() >= n));
            if (taken) {
                require(*taken == pending.substr(0, n));
                pos += n;
                progressed = true;
            } else {
                block = n;
            }
            break;
        }
        case 1: { // take_some(most)
            const std::size_t most = next(100);
            const std::string_view got = buffer.take_some(most);
            require(got == pending.substr(0, most));
            pos += got.size();
            progressed = !got.empty();
            break;
        }
        case 2: { // next_part
            bool complete = false;
            auto part = buffer.next_part(complete);
            if (newline != std::string_view::npos) {
                require(part && complete && *part == model_line(data, pos, pos + newline));
                require(buffer.last_line_crlf() == (newline > 0 && pending[newline - 1] == '\r'));
                pos += newline + 1;
                in_line = false;
            } else {
                std::string_view expected = pending;
                if (!expected.empty() && expected.back() == '\r')
                    expected.remove_suffix(1);
                require(part.has_value() == !expected.empty());
                if (part) {
                    require(!complete && *part == expected);
                    pos += expected.size();
                    in_line = true;
                }
            }
            progressed = part.has_value();
            break;
        }
        default: { // next_line, only where the line is within the limit
            if (newline == std::string_view::npos || newline > max_line)
                break;
            coline::error_code ec;
            auto line = buffer.next_line(max_line, ec);
            require(!ec && line && *line == model_line(data, pos, pos + newline));
            pos += newline + 1;
            progressed = true;
            break;
        }
        }
        require(buffer.unread() == data.substr(pos, fed - pos));
        if (progressed)
            continue;
        if (fed == data.size())
            break;
        // One read: at most what the buffer offers, cut to a pseudo-random size.
        largest = std::max(largest, block);
        auto space = buffer.prepare(max_line, block);
        require(!space.empty());
        require(buffer.capacity() <= std::max<std::size_t>({max_line + 2, 4096, largest}));
        const std::size_t n = std::min({space.size(), data.size() - fed, std::size_t{1} + next(5000)});
        std::memcpy(space.data(), data.data() + fed, n);
        buffer.commit(n);
        fed += n;
        block = 0;
    }
    const bool open = in_line;
    const coline::error_code end = buffer.finish();
    require(static_cast<bool>(end) == (open || pos != fed));
    return 0;
}

// libFuzzer target: coline's framer against the reference splitter, on any
// bytes, any limit and any cutting into reads.
//   input: 2 bytes of limit, 1 byte of seed for the read sizes, then the stream
#include "../reference_splitter.hpp"

#include <coline/detail/line_buffer.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size)
{
    if (size < 3)
        return 0;
    // Mostly small limits (many over-long lines); with the top bit, large ones (buffer growth).
    const std::size_t raw = bytes[0] | (bytes[1] & 0x7f) << 8;
    const std::size_t limit = 1 + (bytes[1] & 0x80 ? raw * 3 : raw % 300);
    std::uint32_t seed = bytes[2] + 1;
    const std::string_view data(reinterpret_cast<const char*>(bytes + 3), size - 3);

    coline::detail::line_buffer buffer;
    std::vector<test::frame> got;
    std::size_t fed = 0;
    for (;;) {
        coline::error_code ec;
        if (auto line = buffer.next_line(limit, ec)) {
            got.push_back({test::frame::line, std::string(*line)});
            continue;
        }
        if (ec) {
            got.push_back({test::frame::too_long, ""});
            continue;
        }
        if (fed == data.size())
            break;
        // One read: at most what the buffer offers, cut to a pseudo-random size.
        auto space = buffer.prepare(limit);
        if (space.empty() || buffer.capacity() > std::max<std::size_t>(limit + 2, 4096))
            std::abort(); // the bound on memory is broken
        seed = seed * 1103515245 + 12345;
        const std::size_t most = seed & 0x100 ? 9000 : 97; // small reads, and reads that fill the buffer
        const std::size_t n = std::min({space.size(), data.size() - fed, std::size_t{1} + (seed >> 16) % most});
        std::memcpy(space.data(), data.data() + fed, n);
        buffer.commit(n);
        fed += n;
    }
    if (buffer.finish())
        got.push_back({test::frame::partial_line, std::string(buffer.unread())});

    if (got != test::reference_frames(data, limit))
        std::abort();
    return 0;
}

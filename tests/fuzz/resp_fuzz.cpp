// libFuzzer target: the RESP parser and store of examples/resp_protocol.hpp.
//   input: 1 byte of mode (its 2 low bits), limits (bits 2 to 6) and pieces
//   (bit 7), then the mode's bytes
//
// Mode 0 (and 3), a stream: the bytes as a client would send them, cut into lines and
// byte blocks as resp_server's session cuts them (coline's read_line, and
// read_some: a bulk string whole, or with bit 7 in
// pieces of 1 to 16 bytes), given to request_parser with small limits; each
// command runs on a store with a small memory bound. Checked: every length
// stays within its limit, a bulk string's storage within twice the bytes
// that arrived, every reply is one well-formed RESP2 value, an error is
// final, and the store never grows while it is over its bound.
// Mode 1, round trips: the bytes as a list of arguments, sent as a RESP array
// and as an inline command quoted as redis-cli quotes: the parser gives back
// exactly those arguments, as one command.
// Mode 2, inline splitting: whatever split_inline makes of the bytes, quoting
// those words and splitting again gives the same words.
//
// scripts/fuzz.sh builds and runs it, from the seeds in tests/fuzz/resp_corpus.
#define FMT_HEADER_ONLY // {fmt} compiled here, with the sanitizers (-lfmt is then unused)
#include "resp_protocol.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

// An invariant: when broken, says which, and crashes (libFuzzer keeps the input).
#define REQUIRE(condition)                                                                          \
    do {                                                                                            \
        if (!(condition)) {                                                                         \
            std::fprintf(stderr, "%s:%d: broken: %s\n", __FILE__, __LINE__, #condition);           \
            std::abort();                                                                           \
        }                                                                                           \
    } while (false)

// Reads one RESP2 value from the front of `bytes`; false if it is not one.
bool read_value(std::string_view& bytes, int depth = 0)
{
    if (bytes.empty() || depth > 8)
        return false;
    const char type = bytes[0];
    const auto end = bytes.find("\r\n");
    if (end == std::string_view::npos)
        return false;
    const std::string_view line = bytes.substr(1, end - 1);
    bytes.remove_prefix(end + 2);
    if (line.find_first_of("\r\n") != std::string_view::npos)
        return false;
    switch (type) {
    case '+':
        return true;
    case '-':
        return line.starts_with("ERR ") || line.starts_with("OOM ") || line.starts_with("EXECABORT ");
    case ':':
        return resp::parse_integer(line).has_value();
    case '$': {
        if (line == "-1")
            return true;
        const auto length = resp::parse_integer(line);
        if (!length || *length < 0 || bytes.size() < static_cast<std::size_t>(*length) + 2)
            return false;
        const bool ends = bytes.substr(static_cast<std::size_t>(*length), 2) == "\r\n";
        bytes.remove_prefix(static_cast<std::size_t>(*length) + 2);
        return ends;
    }
    case '*': {
        const auto count = resp::parse_integer(line);
        if (!count || *count < 0)
            return false;
        for (long long i = 0; i < *count; ++i)
            if (!read_value(bytes, depth + 1))
                return false;
        return true;
    }
    default:
        return false;
    }
}

// Cuts `data` into what the parser asks for, as the session reads it, and runs
// each command. Returns the arguments of the commands, if `commands` is given.
void run_stream(std::string_view data, resp::request_limits limits, std::size_t max_memory,
                std::vector<std::vector<std::string>>* commands = nullptr, bool* failed = nullptr,
                bool in_pieces = false)
{
    std::size_t pieces = 0;
    resp::request_parser parser(limits);
    resp::store store(max_memory, limits);
    resp::transaction multi(limits); // MULTI ... EXEC, as the session runs them
    resp::reply reply;
    resp::time_ms now = 1'700'000'000'000;
    bool errored = false;
    for (;;) {
        resp::status status;
        const bool line = parser.wants_line(); // a command that comes ready with a line is an inline one
        if (line) {
            // coline's read_line: a line ends at "\n", a "\r" before it is dropped;
            // one over the limit is an error, as soon as that many bytes are there.
            const auto newline = data.find('\n');
            const std::size_t length = newline == std::string_view::npos ? data.size() : newline;
            const bool crlf = newline != std::string_view::npos && length > 0 && data[length - 1] == '\r';
            if (length - crlf > limits.max_line && (newline != std::string_view::npos || length > limits.max_line + 1)) {
                status = parser.on_line_too_long();
                data.remove_prefix(newline == std::string_view::npos ? data.size() : newline + 1); // skipped
            } else if (newline == std::string_view::npos) {
                break; // the stream ends in the middle of a line
            } else {
                status = parser.on_line(data.substr(0, length - crlf), crlf);
                data.remove_prefix(newline + 1);
            }
        } else {
            // Checked: a bulk string and its "\r\n".
            const std::size_t missing = parser.bulk_missing();
            REQUIRE(missing >= 1 && missing <= limits.max_bulk + 2);
            const std::size_t piece = std::min(missing, in_pieces ? 1 + pieces++ % 16 : missing);
            if (data.size() < piece)
                break; // the stream ends in the middle of a bulk string
            status = parser.on_bulk(data.substr(0, piece));
            data.remove_prefix(piece);
            if (status == resp::status::more && !parser.wants_line()) { // the same bulk string, still coming
                REQUIRE(parser.bulk_missing() == missing - piece);
                const std::string& argument = parser.arguments().back();
                REQUIRE(argument.capacity() <= std::max<std::size_t>(15, 2 * argument.size()));
            }
        }
        if (errored) // an error is final
            REQUIRE(status == resp::status::error);
        if (status == resp::status::error) {
            REQUIRE(!parser.error().empty() && parser.error().find_first_of("\r\n") == std::string::npos);
            REQUIRE(parser.error().starts_with("Protocol error: "));
            errored = true;
            if (failed != nullptr)
                *failed = true;
            if (data.empty())
                break;
            continue; // whatever comes next must not revive it
        }
        if (status != resp::status::ready)
            continue;
        auto& args = parser.arguments();
        std::size_t size = 0;
        for (const auto& arg : args)
            size += arg.size();
        REQUIRE(!args.empty());
        if (line) // an inline command's words are bounded by its line
            REQUIRE(size <= limits.max_line && args.size() <= limits.max_line / 2 + 1);
        else
            REQUIRE(args.size() <= limits.max_arguments
                    && size + args.size() * resp::request_limits::argument_overhead <= limits.max_request);
        if (commands != nullptr) {
            commands->push_back(args);
            continue;
        }
        const std::size_t before = store.used_memory();
        reply.clear();
        if (!multi.handle(args, store, now, reply))
            store.execute(args, now, reply);
        now += 37;
        if (before > max_memory)
            REQUIRE(store.used_memory() <= before); // over the bound, nothing is added
        REQUIRE(store.size() != 0 || store.used_memory() == 0);
        REQUIRE(store.used_memory() >= store.size() * resp::store::key_overhead);
        if (reply.drop) {
            REQUIRE(reply.text.empty());
            break;
        }
        const std::string all = reply.bytes(); // the text and the values it refers to
        std::string_view rest = all;
        REQUIRE(read_value(rest) && rest.empty()); // exactly one value
        if (reply.close)
            break;
    }
}

// What redis-cli would type for `arg`: double quotes, with escapes for what is not printable.
std::string quote(std::string_view arg)
{
    std::string out = "\"";
    for (const char c : arg) {
        switch (c) {
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\a': out += "\\a"; break;
        case '\b': out += "\\b"; break;
        default:
            if (c >= 0x20 && c < 0x7f)
                out += c;
            else
                out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        }
    }
    return out + '"';
}

std::string encode_array(const std::vector<std::string>& args)
{
    std::string out = fmt::format("*{}\r\n", args.size());
    for (const auto& arg : args)
        out += fmt::format("${}\r\n{}\r\n", arg.size(), arg);
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size)
{
    if (size < 1)
        return 0;
    const std::uint8_t control = bytes[0];
    const std::string_view data(reinterpret_cast<const char*>(bytes + 1), size - 1);
    switch (control & 3) {
    default: {
        // Each limit small or not, so that the fuzzer reaches each of them.
        resp::request_limits limits;
        limits.max_line = control & 0x04 ? 12 : 4096;
        limits.max_bulk = control & 0x08 ? 40 : 3000;
        limits.max_arguments = control & 0x10 ? 6 : 100;
        limits.max_request = control & 0x20 ? 200 : 100'000;
        run_stream(data, limits, control & 0x40 ? 600 : 4000, nullptr, nullptr, control & 0x80);
        break;
    }
    case 1: {
        // Arguments: each a length byte, then that many bytes.
        std::vector<std::string> args;
        for (std::string_view rest = data; !rest.empty();) {
            const std::size_t length = std::min<std::size_t>(static_cast<unsigned char>(rest[0]), rest.size() - 1);
            args.emplace_back(rest.substr(1, length));
            rest.remove_prefix(1 + length);
        }
        std::vector<std::vector<std::string>> got;
        bool failed = false;
        run_stream(encode_array(args), {}, 0, &got, &failed);
        REQUIRE(!failed);
        REQUIRE(args.empty() ? got.empty() : got.size() == 1 && got[0] == args);
        got.clear(); // the bulk strings in pieces: the same
        run_stream(encode_array(args), {}, 0, &got, &failed, true);
        REQUIRE(!failed);
        REQUIRE(args.empty() ? got.empty() : got.size() == 1 && got[0] == args);
        // Inline, quoted: the same command (an inline line has no room for a 64 KiB one).
        std::string line;
        for (const auto& arg : args)
            line += quote(arg) + ' ';
        if (line.size() <= resp::request_limits{}.max_line) {
            got.clear();
            run_stream(line + "\r\n", {}, 0, &got, &failed);
            REQUIRE(!failed);
            REQUIRE(args.empty() ? got.empty() : got.size() == 1 && got[0] == args);
        }
        break;
    }
    case 2: {
        const auto words = resp::split_inline(data);
        if (!words)
            break;
        std::string again;
        for (const auto& word : *words)
            again += quote(word) + ' ';
        const auto words_again = resp::split_inline(again);
        REQUIRE(words_again && *words_again == *words);
        break;
    }
    }
    return 0;
}

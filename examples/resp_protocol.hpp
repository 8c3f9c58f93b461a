// The Redis protocol (RESP2) of examples/resp_server.cpp, and its key-value
// store: plain C++, no sockets, so that tests and the fuzzer drive it directly.
//
//   request_parser  turns the lines and byte blocks a connection reads into
//                   commands (arrays of bulk strings, or inline commands)
//   store           runs a command and writes its reply, as Redis 7.0 does
//
// Error texts are Redis's own (src/networking.c, server.c, t_string.c), byte
// for byte, so that clients and tests written for Redis see what they expect.
// Used from one thread only: no locks.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace resp {

// ---------------------------------------------------------------- parsing

// Limits on what one request may make the server hold. Each length a peer
// announces is checked against them before anything is allocated for it.
struct request_limits {
    // A line without its terminator: an inline command or a "*"/"$" header.
    // Redis: PROTO_INLINE_MAX_SIZE, 64 KiB.
    std::size_t max_line = 64 * 1024;
    // One bulk string (a key, a value). Redis: proto-max-bulk-len, 512 MB.
    std::size_t max_bulk = 1024 * 1024;
    // Arguments of a command sent as an array (an inline command's are bounded by
    // its line). Redis 7: INT_MAX (Redis 6: 1024 * 1024).
    std::size_t max_arguments = 1024 * 1024;
    // One command: its bulk bytes plus `argument_overhead` per argument. Redis
    // has no such limit below client-query-buffer-limit (1 GB, which closes
    // the connection without a reply).
    std::size_t max_request = 4 * 1024 * 1024;
    static constexpr std::size_t argument_overhead = sizeof(std::string);
};

// A whole number as Redis's string2ll() reads it: an optional '-', no '+',
// no leading zero, no space, at most 20 characters, within long long.
inline std::optional<long long> parse_integer(std::string_view text)
{
    if (text.empty() || text.size() >= 21)
        return std::nullopt;
    if (text == "0")
        return 0;
    const bool negative = text[0] == '-';
    if (negative)
        text.remove_prefix(1);
    if (text.empty() || text[0] < '1' || text[0] > '9')
        return std::nullopt;
    unsigned long long magnitude = 0;
    for (const char c : text) {
        if (c < '0' || c > '9' || magnitude > (ULLONG_MAX - (c - '0')) / 10)
            return std::nullopt;
        magnitude = magnitude * 10 + static_cast<unsigned>(c - '0');
    }
    if (negative) {
        if (magnitude > static_cast<unsigned long long>(LLONG_MAX) + 1)
            return std::nullopt;
        return static_cast<long long>(0 - magnitude); // -2^63 included, without overflow
    }
    if (magnitude > static_cast<unsigned long long>(LLONG_MAX))
        return std::nullopt;
    return static_cast<long long>(magnitude);
}

// Splits an inline command into words as Redis's sdssplitargs() does: blanks
// separate words; "double quotes" take \n \r \t \b \a \xHH and \<char>
// escapes, 'single quotes' only \'. nullopt for an unbalanced quote, or a
// closing quote followed by anything but a blank (Redis: "unbalanced quotes").
// (Redis stops at a NUL byte; a line holding one never reaches it, see
// resp_server.cpp, so here NUL is a byte like any other.)
inline std::optional<std::vector<std::string>> split_inline(std::string_view line)
{
    const auto is_space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }; // C's isspace
    const auto hex = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    const auto is_hex = [](char c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); };
    const std::size_t end = line.size();
    std::vector<std::string> words;
    std::size_t i = 0;
    for (;;) {
        while (i < end && is_space(line[i]))
            ++i;
        if (i == end)
            return words;
        std::string word;
        bool in_double = false, in_single = false;
        for (bool done = false; !done; ++i) {
            if (in_double) {
                if (i == end)
                    return std::nullopt;
                if (line[i] == '\\' && i + 3 < end && line[i + 1] == 'x' && is_hex(line[i + 2]) && is_hex(line[i + 3])) {
                    word += static_cast<char>(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if (line[i] == '\\' && i + 1 < end) {
                    const char c = line[++i];
                    word += c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c == 'b' ? '\b' : c == 'a' ? '\a' : c;
                } else if (line[i] == '"') {
                    if (i + 1 < end && !is_space(line[i + 1]))
                        return std::nullopt;
                    done = true;
                } else {
                    word += line[i];
                }
            } else if (in_single) {
                if (i == end)
                    return std::nullopt;
                if (line[i] == '\\' && i + 1 < end && line[i + 1] == '\'') {
                    word += line[++i];
                } else if (line[i] == '\'') {
                    if (i + 1 < end && !is_space(line[i + 1]))
                        return std::nullopt;
                    done = true;
                } else {
                    word += line[i];
                }
            } else if (i == end || line[i] == ' ' || line[i] == '\n' || line[i] == '\r' || line[i] == '\t') {
                done = true; // (\v and \f separate words only before one begins, as in Redis)
            } else if (line[i] == '"') {
                in_double = true;
            } else if (line[i] == '\'') {
                in_single = true;
            } else {
                word += line[i];
            }
            if (i == end)
                break;
        }
        words.push_back(std::move(word));
    }
}

enum class status {
    more,  // read what wants_line() / bulk_missing() asks for next
    ready, // a command is in arguments()
    error, // a protocol error: send "-ERR " + error(), then close (the parser stays in error)
};

// Turns a connection's input into commands, one framing unit at a time:
// while wants_line(), give it the next line (on_line, or on_line_too_long
// when the line was over limits().max_line); otherwise give on_bulk() the
// bulk string's bytes as they arrive, in pieces of at most bulk_missing().
// Pure: no I/O.
class request_parser {
public:
    explicit request_parser(request_limits limits = {}) : limits_(limits) {}

    const request_limits& limits() const noexcept { return limits_; }

    bool wants_line() const noexcept { return !in_bulk_; }

    // A line, without its "\n" or "\r\n"; `crlf`: it ended in "\r\n".
    status on_line(std::string_view line, bool crlf)
    {
        if (failed_)
            return status::error;
        if (expected_ == 0) { // a new request
            arguments_.clear();
            if (arguments_.capacity() > 1024)
                arguments_.shrink_to_fit(); // a huge command's room does not stay with the connection
            request_size_ = 0;
            if (line.starts_with('*'))
                return start_array(line.substr(1), crlf);
            // An inline command ("PING", "SET k v"): "\n" or "\r\n" alike, as in Redis.
            auto words = split_inline(line);
            if (!words)
                return fail("Protocol error: unbalanced quotes in request");
            arguments_ = std::move(*words);
            return arguments_.empty() ? status::more : status::ready; // an empty line is no command
        }
        // A bulk string's header: "$<length>\r\n".
        const char first = line.empty() ? (crlf ? '\r' : '\n') : line[0];
        if (first != '$')
            return fail(fmt::format("Protocol error: expected '$', got '{}'", first));
        // Redis ends a header at its "\r": one that ends in a bare "\n" runs on into what follows.
        const auto length = crlf ? parse_integer(line.substr(1)) : std::nullopt;
        if (!length || *length < 0 || static_cast<unsigned long long>(*length) > limits_.max_bulk)
            return fail("Protocol error: invalid bulk length");
        request_size_ += static_cast<std::size_t>(*length) + request_limits::argument_overhead;
        if (request_size_ > limits_.max_request)
            return fail("Protocol error: too big request");
        // Nothing allocated for it yet: its storage grows as its bytes arrive
        // (on_bulk), so a peer that announces a megabyte and sends nothing costs nothing.
        arguments_.emplace_back();
        bulk_missing_ = static_cast<std::size_t>(*length) + 2; // checked above: at most max_bulk + 2
        in_bulk_ = true;
        return status::more;
    }

    // The line was longer than limits().max_line.
    status on_line_too_long()
    {
        // Redis names the line by its first byte ("too big mbulk count string"
        // for "*..."); coline drops an over-long line's bytes, that first one included.
        return fail(expected_ == 0 ? "Protocol error: too big inline request"
                                   : "Protocol error: too big bulk count string");
    }

    // While !wants_line(): the bytes of the bulk string still to come, its "\r\n" included.
    std::size_t bulk_missing() const noexcept { return bulk_missing_; }

    // The next bytes of the bulk string, at most bulk_missing() of them.
    // Its storage doubles as they come, up to the length announced: it holds
    // at most twice what arrived, whatever was announced.
    status on_bulk(std::string_view piece)
    {
        if (failed_)
            return status::error;
        piece = piece.substr(0, bulk_missing_); // (more is not taken)
        std::string& argument = arguments_.back();
        const std::size_t whole = argument.size() + bulk_missing_, size = argument.size() + piece.size();
        if (size > argument.capacity())
            argument.reserve(std::min(whole, std::max(size, 2 * argument.capacity())));
        argument.append(piece);
        bulk_missing_ -= piece.size();
        if (bulk_missing_ > 0)
            return status::more;
        in_bulk_ = false;
        if (!argument.ends_with("\r\n")) // (Redis does not check: it skips these 2 bytes, whatever they are)
            return fail("Protocol error: bulk string not followed by CRLF");
        argument.resize(argument.size() - 2);
        return --expected_ == 0 ? status::ready : status::more;
    }

    // After status::ready: the command and its arguments (the caller may move from them).
    std::vector<std::string>& arguments() noexcept { return arguments_; }

    // After status::error: what went wrong, as Redis says it (no "\r" or "\n" in it).
    const std::string& error() const noexcept { return error_; }

private:
    status start_array(std::string_view count_text, bool crlf)
    {
        const auto count = crlf ? parse_integer(count_text) : std::nullopt;
        if (!count || *count > static_cast<long long>(std::min<std::size_t>(limits_.max_arguments, INT_MAX)))
            return fail("Protocol error: invalid multibulk length");
        if (*count <= 0)
            return status::more; // "*0", "*-1": nothing to run, as in Redis
        expected_ = static_cast<std::size_t>(*count); // arguments_ grows as they arrive, not by this count
        return status::more;
    }

    status fail(std::string message)
    {
        std::replace_if(message.begin(), message.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
        error_ = std::move(message);
        failed_ = true;
        return status::error;
    }

    request_limits limits_;
    std::vector<std::string> arguments_;
    std::size_t expected_ = 0;     // bulk strings of the current array still to come
    std::size_t request_size_ = 0; // counted against limits_.max_request
    std::size_t bulk_missing_ = 0; // bytes of the current bulk string still to come
    bool in_bulk_ = false;
    bool failed_ = false;
    std::string error_;
};

// ---------------------------------------------------------------- replies

// Values are shared with the replies that send them: a reply may still be
// going out (a large one straight from the value, without a copy) when
// another client deletes or replaces the key.
using value_ptr = std::shared_ptr<const std::string>;

// A reply in RESP2: its bytes in `text`, except large values, which are
// referenced and go out between the pieces of text.
struct reply {
    static constexpr std::size_t copied_value = 16 * 1024; // larger values are referenced

    struct value_at {
        std::size_t offset; // where in `text` the value goes
        value_ptr value;
    };
    std::string text;
    std::vector<value_at> values;
    bool close = false; // close the connection once the reply is sent (QUIT)
    bool drop = false;  // close it at once, dropping the replies not sent yet

    void simple(std::string_view status) { append('+', status); }
    // "ERR ..." or "OOM ...", and anything a client sent: no "\r" or "\n" may get through.
    void error(std::string_view message)
    {
        const std::size_t start = text.size() + 1;
        append('-', message);
        std::replace_if(text.begin() + static_cast<std::ptrdiff_t>(start), text.end() - 2,
                        [](char c) { return c == '\r' || c == '\n'; }, ' ');
    }
    void integer(long long n) { fmt::format_to(std::back_inserter(text), ":{}\r\n", n); }
    void null() { text += "$-1\r\n"; }
    void array(std::size_t size) { fmt::format_to(std::back_inserter(text), "*{}\r\n", size); }
    void bulk(std::string_view bytes)
    {
        fmt::format_to(std::back_inserter(text), "${}\r\n", bytes.size());
        text.append(bytes).append("\r\n");
    }
    void bulk(const value_ptr& value)
    {
        if (value->size() <= copied_value)
            return bulk(*value);
        fmt::format_to(std::back_inserter(text), "${}\r\n", value->size());
        values.push_back({text.size(), value});
        text += "\r\n";
    }

    void clear()
    {
        text.clear();
        if (text.capacity() > 64 * 1024)
            text.shrink_to_fit(); // a huge reply's room does not stay with the connection
        values.clear();
        if (values.capacity() > 1024)
            values.shrink_to_fit();
        close = drop = false;
    }

    // The reply's bytes in one string (for tests).
    std::string bytes() const
    {
        std::string all;
        std::size_t from = 0;
        for (const auto& [offset, value] : values) {
            all.append(text, from, offset - from).append(*value);
            from = offset;
        }
        return all.append(text, from);
    }

private:
    void append(char type, std::string_view line)
    {
        text += type;
        text.append(line).append("\r\n");
    }
};

// ---------------------------------------------------------------- the store

// Milliseconds since the Unix epoch, as Redis's mstime(): EX/PX/EXAT/PXAT
// count in it. The caller passes the time, so tests can choose it.
using time_ms = std::int64_t;

// What C's printf("%.<most>s") prints of `text`: up to `most` bytes, and not past a NUL.
inline std::string_view c_string(std::string_view text, std::size_t most = std::string_view::npos)
{
    return text.substr(0, std::min(most, text.find('\0')));
}

inline bool equal_nocase(std::string_view a, std::string_view b)
{
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    return std::ranges::equal(a, b, {}, lower, lower);
}

// Strings, each with an optional expiry time, within a memory bound
// (`max_memory`): as in Redis with maxmemory-policy noeviction, a command
// that adds data is refused with -OOM while the store uses more than that,
// so the store exceeds it by at most one command's worth (one request,
// request_limits::max_request, plus the per-key estimate). Expired keys are
// removed at the start of every command, before it runs.
class store {
public:
    // Memory a key costs besides its bytes (the hash table's node, the
    // strings' headers, the shared value's control block, the allocator's
    // overhead), and what an expiry time adds: estimates of the allocator's use.
    static constexpr std::size_t key_overhead = 160;
    static constexpr std::size_t expiry_overhead = 80;

    explicit store(std::size_t max_memory = 64 * 1024 * 1024, request_limits limits = {})
        : max_memory_(max_memory), limits_(limits)
    {
    }

    std::size_t used_memory() const noexcept { return used_; }
    std::size_t max_memory() const noexcept { return max_memory_; }
    std::size_t size() const noexcept { return keys_.size(); }

    // Runs a command (its name first), with `now` for the expiry times, and
    // appends its reply to `out`. May move from the arguments.
    void execute(std::span<std::string> args, time_ms now, reply& out)
    {
        if (args.empty())
            return;
        remove_expired(now);
        const command* found = checked(args, out);
        if (found == nullptr)
            return;
        if (found->flags.find("denyoom") != std::string_view::npos && used_ > max_memory_)
            return out.error("OOM command not allowed when used memory > 'maxmemory'.");
        (this->*found->run)(args, now, out);
    }

    // Whether `args` (not empty) is a command this store runs, with a number
    // of arguments it takes; if not, its error is in `out`, as execute()
    // would give it. (What MULTI checks before it queues a command.)
    bool accepts(std::span<const std::string> args, reply& out) const { return checked(args, out) != nullptr; }

private:
    struct entry {
        value_ptr value;
        time_ms expires = 0; // 0: never
    };

    struct command {
        std::string_view name; // lower case; "config|get" for CONFIG GET
        int arity;             // the argument count, the name included; -n: at least n
        std::string_view flags; // as COMMAND lists them; "denyoom": refused over max_memory
        int first_key, last_key, key_step;
        void (store::*run)(std::span<std::string>, time_ms, reply&);
    };

    // As COMMAND INFO of Redis 7.0 gives them. A name with subcommands ("config")
    // has entries "name|sub"; its own entry runs when it comes alone.
    static std::span<const command> commands()
    {
        static constexpr command table[] = {
            {"command", -1, "loading stale", 0, 0, 0, &store::command_list},
            {"command|count", 2, "loading stale", 0, 0, 0, &store::command_count},
            {"command|docs", -2, "loading stale", 0, 0, 0, &store::command_docs},
            {"command|info", -2, "loading stale", 0, 0, 0, &store::command_info},
            {"config", -2, "", 0, 0, 0, nullptr}, // never runs: alone it has too few arguments
            {"config|get", -3, "admin noscript loading stale", 0, 0, 0, &store::config_get},
            {"dbsize", 1, "readonly fast", 0, 0, 0, &store::dbsize},
            {"decr", 2, "write denyoom fast", 1, 1, 1, &store::decr},
            {"decrby", 3, "write denyoom fast", 1, 1, 1, &store::decrby},
            {"del", -2, "write", 1, -1, 1, &store::del},
            {"echo", 2, "loading stale fast", 0, 0, 0, &store::echo},
            {"exists", -2, "readonly fast", 1, -1, 1, &store::exists},
            {"get", 2, "readonly fast", 1, 1, 1, &store::get},
            {"incr", 2, "write denyoom fast", 1, 1, 1, &store::incr},
            {"incrby", 3, "write denyoom fast", 1, 1, 1, &store::incrby},
            {"mget", -2, "readonly fast", 1, -1, 1, &store::mget},
            {"mset", -3, "write denyoom", 1, -1, 2, &store::mset},
            {"ping", -1, "fast", 0, 0, 0, &store::ping},
            {"pttl", 2, "readonly fast", 1, 1, 1, &store::pttl},
            {"quit", -1, "noscript loading stale fast no_auth allow_busy", 0, 0, 0, &store::quit},
            {"set", -3, "write denyoom", 1, 1, 1, &store::set},
            {"ttl", 2, "readonly fast", 1, 1, 1, &store::ttl},
        };
        return table;
    }

    // A command by its full name ("get", "config|get"), any case.
    static const command* find_name(std::string_view name)
    {
        for (const command& c : commands())
            if (equal_nocase(c.name, name))
                return &c;
        return nullptr;
    }

    static const command* find_top(std::string_view name)
    {
        return name.find('|') == std::string_view::npos ? find_name(name) : nullptr;
    }

    static bool has_subcommands(const command& c)
    {
        // The next entry of the table, when the command has any, is its first
        // subcommand ("command", then "command|count"): no search per request.
        const command* next = &c + 1;
        return next != commands().data() + commands().size() && next->name.size() > c.name.size()
            && next->name.starts_with(c.name) && next->name[c.name.size()] == '|';
    }

    // As Redis: "config" with arguments is "config|<first argument>".
    static const command* find_command(std::span<const std::string> args)
    {
        const command* base = find_top(args[0]);
        if (base == nullptr || args.size() == 1 || !has_subcommands(*base))
            return base;
        return args[1].find('|') == std::string::npos ? find_name(std::string(base->name) + '|' + args[1]) : nullptr;
    }

    // The command `args` names, or null with its error in `out`.
    const command* checked(std::span<const std::string> args, reply& out) const
    {
        // HTTP requests, sent to Redis's port by a confused or malicious web page: Redis drops the client.
        if (equal_nocase(c_string(args[0]), "host:") || equal_nocase(c_string(args[0]), "post")) {
            out.drop = true;
            return nullptr;
        }
        const command* found = find_command(args);
        if (found == nullptr) {
            unknown_command(args, out);
            return nullptr;
        }
        const std::size_t argc = args.size();
        if (found->arity > 0 ? argc != static_cast<std::size_t>(found->arity)
                             : argc < static_cast<std::size_t>(-found->arity)) {
            out.error(fmt::format("ERR wrong number of arguments for '{}' command", found->name));
            return nullptr;
        }
        return found;
    }

    void unknown_command(std::span<const std::string> args, reply& out) const
    {
        if (find_top(args[0]) != nullptr) { // a command with subcommands, and not one of them
            std::string upper(c_string(args[0]));
            std::ranges::transform(upper, upper.begin(), [](char c) { return c >= 'a' && c <= 'z' ? c - 32 : c; });
            return out.error(fmt::format("ERR unknown subcommand '{}'. Try {} HELP.", c_string(args[1], 128), upper));
        }
        std::string start;
        for (std::size_t i = 1; i < args.size() && start.size() < 128; ++i)
            fmt::format_to(std::back_inserter(start), "'{}' ", c_string(args[i], 128 - start.size()));
        out.error(fmt::format("ERR unknown command '{}', with args beginning with: {}", c_string(args[0], 128), start));
    }

    // ------------------------------------------------ keys and their memory

    static std::size_t cost(const std::string& key, const entry& e)
    {
        return key.size() + e.value->size() + key_overhead + (e.expires != 0 ? expiry_overhead : 0);
    }

    entry* find(std::string_view key)
    {
        const auto found = keys_.find(key);
        return found == keys_.end() ? nullptr : &found->second;
    }

    // Stores a value: with `expires` (0: none), or keeping the key's expiry time.
    void put(std::string& key, value_ptr value, time_ms expires, bool keep_expiry = false)
    {
        auto [at, added] = keys_.try_emplace(std::move(key));
        if (!added) {
            used_ -= cost(at->first, at->second);
            if (!keep_expiry)
                set_expiry(*at, 0);
        }
        at->second.value = std::move(value);
        if (!keep_expiry)
            set_expiry(*at, expires);
        used_ += cost(at->first, at->second);
    }

    void set_expiry(std::pair<const std::string, entry>& key, time_ms expires)
    {
        // The set refers to the key's own string: a node's key never moves.
        if (key.second.expires != 0)
            expiry_order_.erase({key.second.expires, key.first});
        key.second.expires = expires;
        if (expires != 0)
            expiry_order_.insert({expires, key.first});
    }

    bool erase(std::string_view key)
    {
        const auto found = keys_.find(key);
        if (found == keys_.end())
            return false;
        used_ -= cost(found->first, found->second);
        set_expiry(*found, 0);
        keys_.erase(found);
        return true;
    }

    // A key is gone once its time has passed: Redis keeps it through its last millisecond.
    void remove_expired(time_ms now)
    {
        while (!expiry_order_.empty() && expiry_order_.begin()->first < now)
            erase(expiry_order_.begin()->second); // (a view of the key's own string, valid until the key goes)
    }

    // ------------------------------------------------ the commands

    void ping(std::span<std::string> args, time_ms, reply& out)
    {
        if (args.size() > 2)
            return out.error("ERR wrong number of arguments for 'ping' command");
        if (args.size() == 1)
            return out.simple("PONG");
        out.bulk(args[1]);
    }

    void echo(std::span<std::string> args, time_ms, reply& out) { out.bulk(args[1]); }

    void quit(std::span<std::string>, time_ms, reply& out)
    {
        out.simple("OK");
        out.close = true;
    }

    void get(std::span<std::string> args, time_ms, reply& out)
    {
        if (const entry* e = find(args[1]))
            return out.bulk(e->value);
        out.null();
    }

    // SET key value [NX | XX] [GET] [EX s | PX ms | EXAT unix-s | PXAT unix-ms | KEEPTTL]
    void set(std::span<std::string> args, time_ms now, reply& out)
    {
        enum : unsigned { nx = 1, xx = 2, get = 4, keepttl = 8, ex = 16, px = 32, exat = 64, pxat = 128 };
        constexpr unsigned any_time = keepttl | ex | px | exat | pxat;
        unsigned flags = 0;
        const std::string* time_text = nullptr;
        // Redis reads options as C strings: "nx\0junk" is NX.
        for (std::size_t i = 3; i < args.size(); ++i) {
            const std::string_view option = c_string(args[i]);
            const bool has_next = i + 1 < args.size();
            unsigned flag = 0;
            if (equal_nocase(option, "nx") && !(flags & xx))
                flag = nx;
            else if (equal_nocase(option, "xx") && !(flags & nx))
                flag = xx;
            else if (equal_nocase(option, "get"))
                flag = get;
            else if (equal_nocase(option, "keepttl") && !(flags & (any_time & ~keepttl)))
                flag = keepttl;
            else if (has_next && !(flags & (any_time & ~ex)) && equal_nocase(option, "ex"))
                flag = ex;
            else if (has_next && !(flags & (any_time & ~px)) && equal_nocase(option, "px"))
                flag = px;
            else if (has_next && !(flags & (any_time & ~exat)) && equal_nocase(option, "exat"))
                flag = exat;
            else if (has_next && !(flags & (any_time & ~pxat)) && equal_nocase(option, "pxat"))
                flag = pxat;
            else
                return out.error("ERR syntax error");
            flags |= flag;
            if (flag & (ex | px | exat | pxat))
                time_text = &args[++i];
        }

        time_ms expires = 0;
        if (time_text != nullptr) {
            const auto number = parse_integer(*time_text);
            if (!number)
                return out.error("ERR value is not an integer or out of range");
            const bool seconds = flags & (ex | exat);
            const time_ms base = flags & (ex | px) ? now : 0;
            long long ms = *number;
            if (ms <= 0 || (seconds && ms > LLONG_MAX / 1000) || (ms *= seconds ? 1000 : 1) > LLONG_MAX - base)
                return out.error("ERR invalid expire time in 'set' command");
            expires = base + ms;
        }

        const entry* old = find(args[1]);
        if (flags & get) {
            if (old != nullptr)
                out.bulk(old->value);
            else
                out.null();
        }
        if (((flags & nx) && old != nullptr) || ((flags & xx) && old == nullptr)) {
            if (!(flags & get))
                out.null();
            return;
        }
        put(args[1], std::make_shared<const std::string>(std::move(args[2])), expires, flags & keepttl);
        if (!(flags & get))
            out.simple("OK");
    }

    void del(std::span<std::string> args, time_ms, reply& out)
    {
        out.integer(std::ranges::count_if(args.subspan(1), [this](const std::string& key) { return erase(key); }));
    }

    void exists(std::span<std::string> args, time_ms, reply& out)
    {
        out.integer(std::ranges::count_if(args.subspan(1), [this](const std::string& key) { return find(key) != nullptr; }));
    }

    void incr(std::span<std::string> args, time_ms, reply& out) { add(args[1], 1, out); }
    void decr(std::span<std::string> args, time_ms, reply& out) { add(args[1], -1, out); }

    void incrby(std::span<std::string> args, time_ms, reply& out)
    {
        const auto by = parse_integer(args[2]); // checked before the key's value, as in Redis
        if (!by)
            return out.error("ERR value is not an integer or out of range");
        add(args[1], *by, out);
    }

    void decrby(std::span<std::string> args, time_ms, reply& out)
    {
        const auto by = parse_integer(args[2]);
        if (!by)
            return out.error("ERR value is not an integer or out of range");
        if (*by == LLONG_MIN) // its negation overflows (Redis 7's own message)
            return out.error("ERR decrement would overflow");
        add(args[1], -*by, out);
    }

    // INCR and its kin: the key's value (0 if none) plus `delta`, as Redis's incrDecrCommand.
    void add(std::string& key, long long delta, reply& out)
    {
        const entry* e = find(key);
        const auto value = e != nullptr ? parse_integer(*e->value) : 0;
        if (!value)
            return out.error("ERR value is not an integer or out of range");
        if ((delta < 0 && *value < 0 && delta < LLONG_MIN - *value) || (delta > 0 && *value > 0 && delta > LLONG_MAX - *value))
            return out.error("ERR increment or decrement would overflow");
        put(key, std::make_shared<const std::string>(std::to_string(*value + delta)), 0, true); // keeps its expiry
        out.integer(*value + delta);
    }

    void mget(std::span<std::string> args, time_ms, reply& out)
    {
        out.array(args.size() - 1);
        for (const std::string& key : args.subspan(1))
            if (const entry* e = find(key))
                out.bulk(e->value);
            else
                out.null();
    }

    void mset(std::span<std::string> args, time_ms, reply& out)
    {
        if (args.size() % 2 == 0)
            return out.error("ERR wrong number of arguments for 'mset' command");
        for (std::size_t i = 1; i < args.size(); i += 2)
            put(args[i], std::make_shared<const std::string>(std::move(args[i + 1])), 0);
        out.simple("OK");
    }

    void ttl(std::span<std::string> args, time_ms now, reply& out) { time_to_live(args[1], now, false, out); }
    void pttl(std::span<std::string> args, time_ms now, reply& out) { time_to_live(args[1], now, true, out); }

    void time_to_live(const std::string& key, time_ms now, bool in_ms, reply& out)
    {
        const entry* e = find(key);
        if (e == nullptr)
            return out.integer(-2);
        if (e->expires == 0)
            return out.integer(-1);
        const time_ms left = std::max<time_ms>(e->expires - now, 0);
        out.integer(in_ms ? left : (left + 500) / 1000);
    }

    void dbsize(std::span<std::string>, time_ms, reply& out) { out.integer(static_cast<long long>(keys_.size())); }

    // COMMAND: what each command is, for clients that ask (redis-cli's hints).
    void command_list(std::span<std::string>, time_ms, reply& out)
    {
        const auto top = std::ranges::count_if(commands(), [](const command& c) { return c.name.find('|') == std::string_view::npos; });
        out.array(static_cast<std::size_t>(top));
        for (const command& c : commands())
            if (c.name.find('|') == std::string_view::npos)
                describe(c, out);
    }

    void command_count(std::span<std::string>, time_ms, reply& out)
    {
        out.integer(std::ranges::count_if(commands(), [](const command& c) { return c.name.find('|') == std::string_view::npos; }));
    }

    // No documentation: redis-cli then shows no hints.
    void command_docs(std::span<std::string>, time_ms, reply& out) { out.array(0); }

    void command_info(std::span<std::string> args, time_ms now, reply& out)
    {
        if (args.size() == 2)
            return command_list(args, now, out);
        out.array(args.size() - 2);
        for (const std::string& name : args.subspan(2))
            if (const command* c = find_name(name))
                describe(*c, out);
            else
                out.null();
    }

    // An entry as Redis 7.0 gives it, less ACL categories, tips and key specifications.
    static void describe(const command& c, reply& out)
    {
        out.array(10);
        out.bulk(c.name);
        out.integer(c.arity);
        std::vector<std::string_view> flags;
        for (std::string_view rest = c.flags; !rest.empty();) {
            const auto space = rest.find(' ');
            flags.push_back(rest.substr(0, space));
            rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
        }
        out.array(flags.size());
        for (const auto flag : flags)
            out.simple(flag);
        out.integer(c.first_key);
        out.integer(c.last_key);
        out.integer(c.key_step);
        out.array(0); // ACL categories
        out.array(0); // tips
        out.array(0); // key specifications
        const std::string prefix = std::string(c.name) + '|';
        const auto subcommands = std::ranges::count_if(commands(), [&](const command& s) { return s.name.starts_with(prefix); });
        out.array(static_cast<std::size_t>(subcommands));
        for (const command& s : commands())
            if (s.name.starts_with(prefix))
                describe(s, out);
    }

    // CONFIG GET pattern...: the settings clients ask about (redis-benchmark: save, appendonly).
    void config_get(std::span<std::string> args, time_ms, reply& out)
    {
        const std::pair<std::string_view, std::string> settings[] = {
            {"appendonly", "no"},
            {"maxmemory", std::to_string(max_memory_)},
            {"maxmemory-policy", "noeviction"},
            {"proto-max-bulk-len", std::to_string(limits_.max_bulk)},
            {"save", ""},
        };
        std::vector<const std::pair<std::string_view, std::string>*> matched;
        for (const auto& setting : settings)
            if (std::ranges::any_of(args.subspan(2), [&](const std::string& pattern) { return glob_match(pattern, setting.first); }))
                matched.push_back(&setting);
        out.array(matched.size() * 2);
        for (const auto* setting : matched) {
            out.bulk(setting->first);
            out.bulk(setting->second);
        }
    }

    // A glob pattern with * and ?, ignoring case, as CONFIG GET takes it. On
    // a mismatch it goes back to just after the last '*' only, so a pattern of
    // many stars costs pattern x text steps, not an exponential number.
    static bool glob_match(std::string_view pattern, std::string_view text)
    {
        std::size_t p = 0, t = 0, star = std::string_view::npos, star_text = 0;
        while (t < text.size()) {
            if (p < pattern.size() && pattern[p] == '*') {
                star = p++;
                star_text = t;
            } else if (p < pattern.size() && (pattern[p] == '?' || equal_nocase(pattern.substr(p, 1), text.substr(t, 1)))) {
                ++p;
                ++t;
            } else if (star != std::string_view::npos) {
                p = star + 1; // the last '*' takes one more character
                t = ++star_text;
            } else {
                return false;
            }
        }
        while (p < pattern.size() && pattern[p] == '*')
            ++p;
        return p == pattern.size();
    }

    // Finds a std::string key from a std::string_view or a std::string without a copy.
    struct key_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view key) const noexcept { return std::hash<std::string_view>{}(key); }
    };

    std::size_t max_memory_;
    request_limits limits_;
    std::unordered_map<std::string, entry, key_hash, std::equal_to<>> keys_;
    std::set<std::pair<time_ms, std::string_view>> expiry_order_; // the keys that have an expiry time, soonest first
    std::size_t used_ = 0;
};

// MULTI, EXEC and DISCARD for one client, as Redis 7 answers them. After
// MULTI, each command is checked and queued ("+QUEUED"), or refused with its
// error, which makes EXEC abort the transaction; EXEC runs the queued
// commands one after another (nothing runs between them: the server runs one
// command at a time) and replies with the array of their replies. What is
// queued counts as one request: past request_limits::max_request the
// transaction is refused, and its commands freed at once.
class transaction {
public:
    explicit transaction(request_limits limits = {}) : limits_(limits) {}

    // Whether `args` (not empty) was the transaction's business: MULTI, EXEC,
    // DISCARD, or a command while one is open (QUIT aside, which runs at
    // once, as in Redis). If not, the caller runs it as usual.
    bool handle(std::vector<std::string>& args, store& s, time_ms now, reply& out)
    {
        const std::string_view name = args[0];
        const bool multi = equal_nocase(name, "multi"), exec = equal_nocase(name, "exec"),
                   discard = equal_nocase(name, "discard");
        if (multi || exec || discard) {
            if (args.size() != 1) {
                const std::string_view which = multi ? "multi" : exec ? "exec" : "discard";
                if (exec) { // Redis discards the transaction of an EXEC it refuses, open or not
                    out.error(fmt::format("EXECABORT Transaction discarded because of: wrong number of arguments for '{}' command", which));
                    reset();
                } else {
                    out.error(fmt::format("ERR wrong number of arguments for '{}' command", which));
                    failed_ = failed_ || open_;
                }
                return true;
            }
            if (multi) {
                if (open_)
                    return out.error("ERR MULTI calls can not be nested"), true;
                open_ = true;
                out.simple("OK");
            } else if (!open_) {
                out.error(exec ? "ERR EXEC without MULTI" : "ERR DISCARD without MULTI");
            } else if (discard) {
                out.simple("OK");
                reset();
            } else if (failed_) {
                out.error("EXECABORT Transaction discarded because of previous errors.");
                reset();
            } else {
                out.array(queued_.size());
                for (auto& command : queued_)
                    s.execute(command, now, out);
                reset();
            }
            return true;
        }
        if (!open_ || equal_nocase(name, "quit"))
            return false;
        if (!s.accepts(args, out)) {
            failed_ = true;
            return true;
        }
        for (const std::string& arg : args)
            bytes_ += arg.size() + request_limits::argument_overhead;
        if (bytes_ > limits_.max_request) {
            out.error("ERR transaction too big: its commands are over the request limit");
            failed_ = true;
            std::vector<std::vector<std::string>>().swap(queued_);
            return true;
        }
        if (!failed_)
            queued_.push_back(std::move(args));
        out.simple("QUEUED");
        return true;
    }

    // Whether MULTI is open.
    bool open() const noexcept { return open_; }

private:
    void reset()
    {
        open_ = failed_ = false;
        bytes_ = 0;
        std::vector<std::vector<std::string>>().swap(queued_);
    }

    request_limits limits_;
    std::vector<std::vector<std::string>> queued_;
    std::size_t bytes_ = 0;
    bool open_ = false;
    bool failed_ = false;
};

} // namespace resp

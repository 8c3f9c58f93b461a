// The memcached text protocol of examples/memcache_server.cpp, without I/O:
// the command parser (a line in, a `command` out), the splitter for get lines
// too long to hold, and the store (expiry, CAS, LRU eviction within a memory
// limit). Plain C++, so that the fuzzer (tests/fuzz/memcache_fuzz.cpp) drives
// it directly. Time comes in as an argument (Unix seconds), never from a clock.
//
// It answers as memcached 1.6.18 does, message for message, except where a
// comment says otherwise (stricter numbers and keys, no meta commands).
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace memcache {

inline constexpr std::size_t max_key_length = 250;
// memcached's limit for a command line; only get and gets may be longer.
inline constexpr std::size_t max_command_length = 2048;
// Largest data block length memcached parses (INT_MAX - 2, room for "\r\n").
inline constexpr std::uint32_t max_block_length = std::numeric_limits<std::int32_t>::max() - 2;
// Expiry times up to 30 days are relative; larger ones are Unix times.
inline constexpr std::int64_t max_relative_exptime = 60 * 60 * 24 * 30;

// memcached's replies, word for word: clients and memccapable compare them.
namespace reply {
inline constexpr std::string_view error = "ERROR";
inline constexpr std::string_view bad_format = "CLIENT_ERROR bad command line format";
inline constexpr std::string_view bad_delete = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";
inline constexpr std::string_view bad_exptime = "CLIENT_ERROR invalid exptime argument";
inline constexpr std::string_view bad_delta = "CLIENT_ERROR invalid numeric delta argument";
inline constexpr std::string_view bad_chunk = "CLIENT_ERROR bad data chunk";
inline constexpr std::string_view non_numeric = "CLIENT_ERROR cannot increment or decrement non-numeric value";
inline constexpr std::string_view too_large = "SERVER_ERROR object too large for cache";
inline constexpr std::string_view out_of_memory = "SERVER_ERROR out of memory storing object";
// Ours: memcached closes such a connection without a word.
inline constexpr std::string_view line_too_long = "CLIENT_ERROR line too long";
// Ours: memcached answers a connection that begins with 0x80 in its binary protocol.
inline constexpr std::string_view binary_protocol = "CLIENT_ERROR binary protocol is not supported";
} // namespace reply

enum class verb : std::uint8_t {
    get, gets, gat, gats,                    // retrieval: keys (gat, gats: exptime first)
    set, add, replace, append, prepend, cas, // storage: a data block follows
    delete_, incr, decr, touch,              // one key
    flush_all, version, verbosity, stats, quit,
};

inline bool is_storage(verb v) { return v >= verb::set && v <= verb::cas; }
inline bool is_retrieval(verb v) { return v <= verb::gats; }

// A parsed command line. Views point into the line that was parsed.
struct command {
    verb kind = verb::version;
    std::string_view key;               // storage, delete, incr, decr, touch; stats: its argument
    std::vector<std::string_view> keys; // retrieval
    std::uint32_t flags = 0;            // storage (memcached's 32-bit client flags)
    std::int32_t exptime = 0;           // storage, touch, gat, gats; flush_all: its delay
    std::uint32_t bytes = 0;            // storage: length of the data block, without its "\r\n"
    std::uint64_t number = 0;           // cas: the cas unique; incr, decr: the delta; verbosity: the level
    bool noreply = false;               // no answer, errors included, as memcached does
    bool operator==(const command&) const = default;
};

struct parse_result {
    command cmd;
    std::string_view error; // not empty: answer this (unless cmd.noreply) and do nothing else
    bool close = false;     // an HTTP request: close the connection without a word, as memcached does
};

// A key memcached would take, less control characters, which the protocol
// forbids and memcached lets through.
inline bool valid_key(std::string_view key)
{
    if (key.empty() || key.size() > max_key_length)
        return false;
    for (const unsigned char c : key)
        if (c <= ' ' || c == 0x7f)
            return false;
    return true;
}

namespace detail {

// Numbers are plain decimal digits (a '-' for signed ones), in range. memcached
// uses strtol, which also takes "+5", " 5" and "5\t", and on 64-bit systems
// wraps 32-bit fields around ("4294967296" flags are stored as 0): we refuse those.
template <class Int>
std::optional<Int> number(std::string_view token)
{
    Int value{};
    const char* end = token.data() + token.size();
    const auto [stop, ec] = std::from_chars(token.data(), end, value);
    if (ec != std::errc{} || stop != end || token.empty() || token[0] == '+')
        return std::nullopt;
    return value;
}

// memcached splits on spaces only: a tab belongs to the word it is in.
inline std::vector<std::string_view> split(std::string_view line)
{
    std::vector<std::string_view> words;
    std::size_t at = 0;
    while ((at = line.find_first_not_of(' ', at)) != std::string_view::npos) {
        const std::size_t end = std::min(line.find(' ', at), line.size());
        words.push_back(line.substr(at, end - at));
        at = end;
    }
    return words;
}

inline std::optional<verb> verb_named(std::string_view word)
{
    static constexpr std::pair<std::string_view, verb> verbs[] = {
        {"get", verb::get},         {"gets", verb::gets},       {"gat", verb::gat},
        {"gats", verb::gats},       {"set", verb::set},         {"add", verb::add},
        {"replace", verb::replace}, {"append", verb::append},   {"prepend", verb::prepend},
        {"cas", verb::cas},         {"delete", verb::delete_},  {"incr", verb::incr},
        {"decr", verb::decr},       {"touch", verb::touch},     {"flush_all", verb::flush_all},
        {"version", verb::version}, {"verbosity", verb::verbosity}, {"stats", verb::stats},
        {"quit", verb::quit},
    };
    for (const auto& [name, v] : verbs)
        if (name == word)
            return v;
    return std::nullopt;
}

} // namespace detail

// Parses one command line (without its "\r\n"), checking it as memcached
// does, in the same order, so that the same mistake gets the same answer.
// Lines of any length are parsed; the session enforces max_command_length.
inline parse_result parse(std::string_view line)
{
    parse_result result;
    command& cmd = result.cmd;
    const auto fail = [&](std::string_view error) {
        result.error = error;
        return result;
    };
    const auto words = detail::split(line);
    const std::size_t n = words.size();
    if (n == 0 || words[0].size() < 2)
        return fail(reply::error);
    const auto kind = detail::verb_named(words[0]);
    if (!kind) {
        // memcached closes on what looks like an HTTP request, but only for
        // words its dispatch on the first letter did not already refuse.
        const bool dispatched = std::string_view("gsacidt").find(words[0][0]) != std::string_view::npos
                                || (words[0][0] == 'm' && words[0].size() == 2);
        result.close = !dispatched && words[n - 1].starts_with("HTTP/");
        return fail(reply::error);
    }
    cmd.kind = *kind;
    // memcached's noreply: the last word, for the commands that take it, from
    // the point where it looks for it on (a wrong number of words is answered).
    const auto noreply = [&] { cmd.noreply = words[n - 1] == "noreply"; };
    const auto key_at_1 = [&] {
        cmd.key = words[1];
        return valid_key(cmd.key);
    };

    switch (cmd.kind) {
    case verb::get:
    case verb::gets:
    case verb::gat:
    case verb::gats: {
        if (n < 2)
            return fail(reply::error);
        std::size_t first = 1;
        if (cmd.kind == verb::gat || cmd.kind == verb::gats) {
            const auto exptime = detail::number<std::int32_t>(words[1]);
            if (!exptime)
                return fail(reply::bad_exptime);
            cmd.exptime = *exptime;
            first = 2;
        }
        cmd.keys.assign(words.begin() + static_cast<std::ptrdiff_t>(first), words.end());
        for (const auto key : cmd.keys)
            if (!valid_key(key))
                return fail(reply::bad_format); // and nothing for the keys before it
        return result;
    }
    case verb::set:
    case verb::add:
    case verb::replace:
    case verb::append:
    case verb::prepend:
    case verb::cas: {
        const std::size_t words_needed = cmd.kind == verb::cas ? 6 : 5;
        if (n != words_needed && n != words_needed + 1)
            return fail(reply::error);
        noreply(); // a last word that is not "noreply" is ignored, as memcached does
        if (!key_at_1())
            return fail(reply::bad_format);
        const auto flags = detail::number<std::uint32_t>(words[2]);
        const auto exptime = detail::number<std::int32_t>(words[3]);
        const auto bytes = detail::number<std::int32_t>(words[4]);
        if (!flags || !exptime || !bytes)
            return fail(reply::bad_format);
        cmd.flags = *flags;
        cmd.exptime = *exptime;
        if (cmd.kind == verb::cas) {
            const auto unique = detail::number<std::uint64_t>(words[5]);
            if (!unique)
                return fail(reply::bad_format);
            cmd.number = *unique;
        }
        if (*bytes < 0 || static_cast<std::uint32_t>(*bytes) > max_block_length)
            return fail(reply::bad_format);
        cmd.bytes = static_cast<std::uint32_t>(*bytes);
        return result;
    }
    case verb::delete_: {
        if (n < 2 || n > 4)
            return fail(reply::error);
        if (n > 2) { // "delete key 0" (a hold time, long gone, must be 0) and noreply
            const bool hold_is_zero = words[2] == "0";
            noreply();
            if (!((n == 3 && (hold_is_zero || cmd.noreply)) || (n == 4 && hold_is_zero && cmd.noreply)))
                return fail(reply::bad_delete);
        }
        if (!key_at_1())
            return fail(reply::bad_format);
        return result;
    }
    case verb::incr:
    case verb::decr:
    case verb::touch: {
        if (n != 3 && n != 4)
            return fail(reply::error);
        noreply();
        if (!key_at_1())
            return fail(reply::bad_format);
        if (cmd.kind == verb::touch) {
            const auto exptime = detail::number<std::int32_t>(words[2]);
            if (!exptime)
                return fail(reply::bad_exptime);
            cmd.exptime = *exptime;
        } else {
            const auto delta = detail::number<std::uint64_t>(words[2]);
            if (!delta)
                return fail(reply::bad_delta);
            cmd.number = *delta;
        }
        return result;
    }
    case verb::flush_all: {
        if (n > 3)
            return fail(reply::error);
        noreply();
        if (n != (cmd.noreply ? 2u : 1u)) {
            const auto delay = detail::number<std::int32_t>(words[1]);
            if (!delay)
                return fail(reply::bad_exptime);
            cmd.exptime = *delay;
        }
        return result;
    }
    case verb::verbosity: {
        if (n != 2 && n != 3)
            return fail(reply::error);
        noreply();
        const auto level = detail::number<std::uint32_t>(words[1]);
        if (!level)
            return fail(reply::bad_format);
        cmd.number = *level;
        return result;
    }
    case verb::stats:
        // "stats" and "stats reset"; memcached's other groups (settings,
        // items, slabs, ...) describe its slab allocator, which we do not have.
        if (n > 2 || (n == 2 && words[1] != "reset"))
            return fail(reply::error);
        if (n == 2)
            cmd.key = words[1];
        return result;
    case verb::version: // both take and ignore any arguments, as memcached 1.6 does
    case verb::quit:
        return result;
    }
    return fail(reply::error);
}

// The canonical line for a parsed command: parse(format(c)).cmd == c.
inline std::string format(const command& cmd)
{
    static constexpr std::string_view names[] = {"get",    "gets",    "gat", "gats",   "set",   "add",
                                                 "replace", "append", "prepend", "cas", "delete", "incr",
                                                 "decr",   "touch",   "flush_all", "version", "verbosity",
                                                 "stats",  "quit"};
    std::string line{names[static_cast<std::size_t>(cmd.kind)]};
    const auto add = [&line](const auto& word) {
        line += ' ';
        if constexpr (std::is_integral_v<std::decay_t<decltype(word)>>)
            line += std::to_string(word);
        else
            line += word;
    };
    switch (cmd.kind) {
    case verb::gat:
    case verb::gats:
        add(cmd.exptime);
        [[fallthrough]];
    case verb::get:
    case verb::gets:
        for (const auto key : cmd.keys)
            add(key);
        break;
    case verb::set:
    case verb::add:
    case verb::replace:
    case verb::append:
    case verb::prepend:
    case verb::cas:
        add(cmd.key);
        add(cmd.flags);
        add(cmd.exptime);
        add(cmd.bytes);
        if (cmd.kind == verb::cas)
            add(cmd.number);
        break;
    case verb::delete_:
        add(cmd.key);
        break;
    case verb::incr:
    case verb::decr:
        add(cmd.key);
        add(cmd.number);
        break;
    case verb::touch:
        add(cmd.key);
        add(cmd.exptime);
        break;
    case verb::flush_all:
        add(cmd.exptime);
        break;
    case verb::verbosity:
        add(cmd.number);
        break;
    case verb::stats:
        if (!cmd.key.empty())
            add(cmd.key);
        break;
    case verb::version:
    case verb::quit:
        break;
    }
    if (cmd.noreply)
        add(std::string_view("noreply"));
    return line;
}

// Whether a line (or the start of one) is a get or gets: the only commands
// that may be longer than max_command_length, as in memcached.
inline bool starts_get(std::string_view line)
{
    const std::size_t at = line.find_first_not_of(' ');
    if (at == std::string_view::npos)
        return false;
    line.remove_prefix(at);
    return line.starts_with("get ") || line.starts_with("gets ");
}

// The words of a line that arrives in pieces (read_line_part): a word cut
// between two pieces is carried over. Memory: at most max_key_length + 1
// bytes are carried; a longer word comes back cut to that, so that
// valid_key refuses it.
//
//     splitter.feed(piece, ends_line);
//     while (auto word = splitter.next()) ...   // a view, valid until the next call
class word_splitter {
public:
    // The next piece of the line; `last`: the line ends with it. Call it once
    // next() has returned nullopt; the piece must outlive those calls.
    void feed(std::string_view piece, bool last)
    {
        rest_ = piece;
        last_ = last;
    }

    // The next whole word, or nullopt when the piece is used up.
    std::optional<std::string_view> next()
    {
        if (carrying_) { // finish the word cut at the end of the last piece
            const std::size_t end = std::min(rest_.find(' '), rest_.size());
            carry(rest_.substr(0, end));
            rest_.remove_prefix(end);
            if (rest_.empty() && !last_)
                return std::nullopt; // the word goes on in the next piece
            carrying_ = false;
            word_ = std::move(carried_);
            carried_.clear();
            return word_;
        }
        const std::size_t at = rest_.find_first_not_of(' ');
        if (at == std::string_view::npos) {
            rest_ = {};
            return std::nullopt;
        }
        rest_.remove_prefix(at);
        const std::size_t end = std::min(rest_.find(' '), rest_.size());
        if (end == rest_.size() && !last_) { // it may go on in the next piece
            carrying_ = true;
            carry(rest_);
            rest_ = {};
            return std::nullopt;
        }
        const std::string_view word = rest_.substr(0, end);
        rest_.remove_prefix(end);
        return word;
    }

    // Bytes held for a word cut between pieces (for the tests: never over max_key_length + 1).
    std::size_t carried() const noexcept { return carried_.size(); }

private:
    void carry(std::string_view bytes)
    {
        carried_.append(bytes.substr(0, max_key_length + 1 - std::min(carried_.size(), max_key_length + 1)));
    }

    std::string_view rest_;
    bool last_ = false;
    bool carrying_ = false;
    std::string carried_; // the start of a word cut at the end of a piece
    std::string word_;    // the last word completed from a carried one
};

// What the store keeps for a key. Values are immutable and shared, so that a
// reply being sent keeps its value alive even if the key changes meanwhile.
struct item {
    std::shared_ptr<const std::string> value;
    std::uint32_t flags = 0;
    std::uint64_t cas = 0;
    std::int64_t expires = 0; // Unix time at which it is gone; 0: never
    std::int64_t stored = 0;  // Unix time of its last store (for flush_all with a delay)
};

enum class store_result { stored, not_stored, exists, not_found, no_memory };

inline std::string_view reply_for(store_result result)
{
    switch (result) {
    case store_result::stored: return "STORED";
    case store_result::not_stored: return "NOT_STORED";
    case store_result::exists: return "EXISTS";
    case store_result::not_found: return "NOT_FOUND";
    case store_result::no_memory: return reply::out_of_memory;
    }
    return "SERVER_ERROR";
}

// The result of incr and decr: the new value when `found` and `numeric`.
struct delta_result {
    bool found = false;
    bool numeric = false;
    std::uint64_t value = 0;
};

// An absolute expiry time (0: never) from a protocol exptime: 0 never, up to
// 30 days relative, beyond that a Unix time; negative: already expired.
inline std::int64_t expiry_time(std::int32_t exptime, std::int64_t now)
{
    if (exptime == 0)
        return 0;
    if (exptime < 0)
        return 1; // long past
    return exptime > max_relative_exptime ? exptime : now + exptime;
}

// The items, the least recently used evicted first when memory runs out.
// Memory: each item is charged its key, its value and item_overhead (the
// bookkeeping around them, estimated); items and blocks being received
// (reserve) stay within `memory_limit`. Values may be at most `item_limit`
// bytes. One thread only: no locks.
class store {
public:
    static constexpr std::size_t item_overhead = 128;

    struct counters {
        std::uint64_t get_hits = 0, get_misses = 0, sets = 0, total_items = 0, evictions = 0;
        std::uint64_t touches = 0, flushes = 0;
    };

    store(std::size_t memory_limit, std::size_t item_limit) : memory_limit_(memory_limit), item_limit_(item_limit) {}

    std::size_t memory_limit() const noexcept { return memory_limit_; }
    std::size_t item_limit() const noexcept { return item_limit_; }
    std::size_t memory_used() const noexcept { return used_; } // by the items
    std::size_t reserved() const noexcept { return reserved_; } // by blocks being received
    std::size_t size() const noexcept { return index_.size(); }
    const counters& stats() const noexcept { return counters_; }
    void reset_stats() noexcept { counters_ = {}; }

    // A live item, made the most recently used; `touch_exptime`: also sets its expiry (gat).
    std::optional<item> get(std::string_view key, std::int64_t now, std::optional<std::int32_t> touch_exptime = {})
    {
        flush_if_due(now);
        const auto found = find(key, now);
        if (found == lru_.end()) {
            ++counters_.get_misses;
            return std::nullopt;
        }
        ++counters_.get_hits;
        lru_.splice(lru_.begin(), lru_, found);
        item copy = found->it;
        if (touch_exptime)
            set_expiry(found, *touch_exptime, now); // the value still goes out this once, as in memcached
        return copy;
    }

    // Stores `value` under `key` as `how` says (set, add, replace, append,
    // prepend, cas with `cas_unique`). The caller has checked value->size()
    // against item_limit(); append and prepend refuse a longer result.
    store_result put(verb how, std::string_view key, std::uint32_t flags, std::int32_t exptime,
                     std::uint64_t cas_unique, std::shared_ptr<const std::string> value, std::int64_t now)
    {
        flush_if_due(now);
        ++counters_.sets;
        const auto old = find(key, now);
        const bool exists = old != lru_.end();
        item next{std::move(value), flags, 0, expiry_time(exptime, now), now};
        switch (how) {
        case verb::add:
            if (exists) {
                lru_.splice(lru_.begin(), lru_, old); // as memcached: a refused add still counts as a use
                return store_result::not_stored;
            }
            break;
        case verb::replace:
            if (!exists)
                return store_result::not_stored;
            break;
        case verb::cas:
            if (!exists)
                return store_result::not_found;
            if (old->it.cas != cas_unique)
                return store_result::exists;
            break;
        case verb::append:
        case verb::prepend: {
            if (!exists)
                return store_result::not_stored;
            const std::string& before = *old->it.value;
            if (before.size() + next.value->size() > item_limit_)
                return store_result::not_stored; // memcached's answer when it cannot allocate the result
            auto joined = std::make_shared<std::string>();
            joined->reserve(before.size() + next.value->size());
            *joined = how == verb::append ? before + *next.value : *next.value + before;
            next.value = std::move(joined);
            next.flags = old->it.flags; // append and prepend keep the item's flags and expiry
            next.expires = old->it.expires;
            break;
        }
        default:
            break;
        }
        if (!link(key, std::move(next), now))
            return store_result::no_memory; // only while blocks being received hold the memory
        return store_result::stored;
    }

    bool remove(std::string_view key, std::int64_t now)
    {
        flush_if_due(now);
        const auto found = find(key, now);
        if (found == lru_.end())
            return false;
        unlink(found);
        return true;
    }

    // The item goes, whatever happens to the command that failed to replace
    // it (memcached does this for a set too large to store).
    void forget(std::string_view key)
    {
        if (const auto found = index_.find(key); found != index_.end())
            unlink(found->second);
    }

    bool touch(std::string_view key, std::int32_t exptime, std::int64_t now)
    {
        flush_if_due(now);
        ++counters_.touches;
        const auto found = find(key, now);
        if (found == lru_.end())
            return false;
        lru_.splice(lru_.begin(), lru_, found);
        set_expiry(found, exptime, now);
        return true;
    }

    // incr and decr: the value must be a decimal 64-bit number; incr wraps
    // around, decr stops at 0. The new value is stored as its digits (memcached
    // pads a shorter one with spaces instead, to keep the length).
    delta_result add_delta(std::string_view key, bool incr, std::uint64_t delta, std::int64_t now)
    {
        flush_if_due(now);
        delta_result result;
        const auto found = find(key, now);
        if (found == lru_.end())
            return result;
        result.found = true;
        const auto number = detail::number<std::uint64_t>(*found->it.value);
        if (!number)
            return result;
        result.numeric = true;
        result.value = incr ? *number + delta : (delta > *number ? 0 : *number - delta);
        item next = found->it;
        next.value = std::make_shared<const std::string>(std::to_string(result.value));
        next.stored = now;
        link(key, std::move(next), now); // never fails: the old value was as large
        return result;
    }

    // flush_all: every item goes now, or, with a delay, every item stored
    // before that time goes then (a later flush_all replaces it). As in
    // memcached, a flush due within a second is done now.
    void flush_all(std::int32_t delay, std::int64_t now)
    {
        ++counters_.flushes;
        const std::int64_t at = delay <= 0 ? now : expiry_time(delay, now);
        if (at <= now + 1) {
            lru_.clear();
            index_.clear();
            used_ = 0;
            flush_at_ = 0;
            ++cas_; // memcached takes a cas unique for the flush
        } else {
            flush_at_ = at;
        }
    }

    // Room for a data block of `bytes` being received, made by evicting if
    // need be; false if even an empty store could not hold it. Give it back
    // with release() before the value is stored with put().
    bool reserve(std::size_t bytes)
    {
        const std::size_t charge = bytes + item_overhead;
        if (!make_room(charge))
            return false;
        reserved_ += charge;
        return true;
    }
    void release(std::size_t bytes) noexcept { reserved_ -= bytes + item_overhead; }

    // For the tests: the bookkeeping adds up and stays within the limit.
    bool consistent() const
    {
        std::size_t total = 0;
        for (const auto& e : lru_) {
            const auto found = index_.find(e.key);
            if (found == index_.end() || &*found->second != &e || e.it.value->size() > item_limit_)
                return false;
            total += charge(e.key, *e.it.value);
        }
        return total == used_ && lru_.size() == index_.size() && used_ + reserved_ <= memory_limit_;
    }

private:
    struct entry {
        std::string key;
        item it;
    };
    using list = std::list<entry>; // most recently used first; its nodes never move
    using position = list::iterator;

    static std::size_t charge(std::string_view key, const std::string& value)
    {
        return key.size() + value.size() + item_overhead;
    }

    bool dead(const item& it, std::int64_t now) const { return it.expires != 0 && it.expires <= now; }

    // The live item for a key (an expired one goes now), or lru_.end().
    position find(std::string_view key, std::int64_t now)
    {
        const auto found = index_.find(key);
        if (found == index_.end())
            return lru_.end();
        if (dead(found->second->it, now)) {
            unlink(found->second);
            return lru_.end();
        }
        return found->second;
    }

    void set_expiry(position at, std::int32_t exptime, std::int64_t now)
    {
        at->it.expires = expiry_time(exptime, now);
        if (dead(at->it, now))
            unlink(at);
    }

    // A flush_all whose time has come: the items stored before it go.
    void flush_if_due(std::int64_t now)
    {
        if (flush_at_ == 0 || flush_at_ > now)
            return;
        for (auto at = lru_.begin(); at != lru_.end();) {
            const auto next = std::next(at);
            if (at->it.stored < flush_at_)
                unlink(at);
            at = next;
        }
        flush_at_ = 0;
    }

    // Evicts the least recently used items until `bytes` more fit.
    bool make_room(std::size_t bytes)
    {
        if (bytes > memory_limit_ - std::min(memory_limit_, reserved_))
            return false;
        while (used_ + reserved_ + bytes > memory_limit_) {
            unlink(std::prev(lru_.end()));
            ++counters_.evictions;
        }
        return true;
    }

    // Puts `it` under `key`, most recently used, replacing what was there, with a new cas unique.
    bool link(std::string_view key, item it, std::int64_t now)
    {
        forget(key);
        const std::size_t cost = charge(key, *it.value);
        if (!make_room(cost))
            return false;
        it.cas = ++cas_;
        lru_.push_front(entry{std::string(key), std::move(it)});
        index_.emplace(lru_.front().key, lru_.begin());
        used_ += cost;
        ++counters_.total_items;
        if (dead(lru_.front().it, now)) // stored already expired: as good as stored, then gone
            unlink(lru_.begin());
        return true;
    }

    void unlink(position at)
    {
        used_ -= charge(at->key, *at->it.value);
        index_.erase(at->key);
        lru_.erase(at);
    }

    std::size_t memory_limit_;
    std::size_t item_limit_;
    std::size_t used_ = 0;
    std::size_t reserved_ = 0;
    std::uint64_t cas_ = 0;     // the last cas unique given out
    std::int64_t flush_at_ = 0; // a flush_all to come; 0: none
    counters counters_;
    list lru_;
    std::unordered_map<std::string_view, position> index_; // views of the keys in lru_
};

// Room that store::reserve() made for a block being received, given back
// when this goes, or at release(), however the read ends.
class reservation {
public:
    reservation(store& in, std::size_t bytes) : store_(&in), bytes_(bytes) {}
    reservation(const reservation&) = delete;
    reservation& operator=(const reservation&) = delete;
    ~reservation() { release(); }
    void release() noexcept
    {
        if (store_ != nullptr)
            std::exchange(store_, nullptr)->release(bytes_);
    }

private:
    store* store_;
    std::size_t bytes_;
};

} // namespace memcache

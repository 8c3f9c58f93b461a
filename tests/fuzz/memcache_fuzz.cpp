// libFuzzer target: the memcached protocol of examples/memcache_protocol.hpp,
// without sockets. The first byte picks what the rest is:
//   0: a command line for memcache::parse: what it accepts is well formed
//      (keys, lengths, noreply where it belongs) and formats back to a line
//      that parses to the same command;
//   1: a get line cut into pieces (sizes from a seed byte) for
//      memcache::word_splitter: the same words as the whole line's, with at
//      most max_key_length + 1 bytes carried between pieces;
//   2: operations on a store too large to evict anything, against a model
//      (a std::map): every answer, value, flag and cas order the same;
//   3: operations on a store of a few KiB: memory stays within its limit,
//      the bookkeeping adds up, what was just stored can be read back.
// Any broken promise aborts.
#include "../../examples/memcache_protocol.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

void require(bool condition)
{
    if (!condition)
        std::abort();
}

// Bytes taken one at a time; zeros once they run out.
struct bytes_in {
    std::string_view data;
    std::uint8_t next()
    {
        if (data.empty())
            return 0;
        const auto byte = static_cast<std::uint8_t>(data[0]);
        data.remove_prefix(1);
        return byte;
    }
    std::string_view take(std::size_t n)
    {
        const auto piece = data.substr(0, n);
        data.remove_prefix(piece.size());
        return piece;
    }
};

bool takes_noreply(memcache::verb v)
{
    using memcache::verb;
    return memcache::is_storage(v) || v == verb::delete_ || v == verb::incr || v == verb::decr || v == verb::touch
           || v == verb::flush_all || v == verb::verbosity;
}

bool known_error(std::string_view error)
{
    namespace reply = memcache::reply;
    for (const auto known : {reply::error, reply::bad_format, reply::bad_delete, reply::bad_exptime, reply::bad_delta})
        if (error == known)
            return true;
    return false;
}

void parser(std::string_view line)
{
    const auto [cmd, error, close] = memcache::parse(line);
    if (!error.empty()) {
        require(known_error(error));
        require(!close || error == memcache::reply::error);
        return;
    }
    require(!close);
    if (memcache::is_retrieval(cmd.kind)) {
        require(cmd.key.empty());
        for (const auto key : cmd.keys)
            require(memcache::valid_key(key));
    } else {
        require(cmd.keys.empty());
        using memcache::verb;
        const bool keyed = memcache::is_storage(cmd.kind) || cmd.kind == verb::delete_ || cmd.kind == verb::incr
                           || cmd.kind == verb::decr || cmd.kind == verb::touch;
        if (keyed)
            require(memcache::valid_key(cmd.key));
        else
            require(cmd.key.empty() || (cmd.kind == verb::stats && cmd.key == "reset"));
    }
    require(cmd.bytes <= memcache::max_block_length);
    require(!cmd.noreply || takes_noreply(cmd.kind));
    // Every key is a view into the line.
    const auto inside = [&](std::string_view view) {
        return view.empty() || (view.data() >= line.data() && view.data() + view.size() <= line.data() + line.size());
    };
    require(inside(cmd.key));
    for (const auto key : cmd.keys)
        require(inside(key));

    // The canonical line: one line, hardly longer (a flush_all gains its delay), same command.
    const std::string again = memcache::format(cmd);
    require(again.find_first_of("\r\n") == std::string::npos);
    require(again.size() <= line.size() + 2);
    const auto reparsed = memcache::parse(again);
    require(reparsed.error.empty() && !reparsed.close);
    require(reparsed.cmd == cmd);
    require(memcache::format(reparsed.cmd) == again);
}

void splitter(bytes_in in)
{
    std::uint32_t seed = in.next() + 1u;
    const std::string_view line = in.data;
    // Compared up to the byte that makes a word too long for a key: the
    // splitter carries no more of a word cut between pieces.
    const auto cut = [](std::string_view word) { return std::string(word.substr(0, memcache::max_key_length + 1)); };
    std::vector<std::string> expected;
    for (const auto word : memcache::detail::split(line))
        expected.push_back(cut(word));

    memcache::word_splitter words;
    std::vector<std::string> got;
    for (std::size_t at = 0;;) {
        seed = seed * 1103515245 + 12345;
        const std::size_t most = seed & 0x100 ? 4096 : 7; // short pieces, and pieces the size of coline's buffer
        const std::size_t size = std::min(line.size() - at, (seed >> 16) % most);
        const bool last = at + size == line.size();
        words.feed(line.substr(at, size), last);
        while (const auto word = words.next())
            got.push_back(cut(*word));
        require(words.carried() <= memcache::max_key_length + 1);
        at += size;
        if (last)
            break;
    }
    require(got == expected);
}

// The model of mode 2: what a store that never evicts must answer.
struct model_item {
    std::string value;
    std::uint32_t flags;
    std::int64_t expires;
    std::int64_t stored;
};

struct model {
    std::map<std::string, model_item, std::less<>> items;
    std::int64_t flush_at = 0;

    void flush_if_due(std::int64_t now)
    {
        if (flush_at == 0 || flush_at > now)
            return;
        std::erase_if(items, [&](const auto& entry) { return entry.second.stored < flush_at; });
        flush_at = 0;
    }
    model_item* find(const std::string& key, std::int64_t now)
    {
        flush_if_due(now);
        const auto found = items.find(key);
        if (found == items.end())
            return nullptr;
        if (found->second.expires != 0 && found->second.expires <= now) {
            items.erase(found);
            return nullptr;
        }
        return &found->second;
    }
};

constexpr memcache::verb storage_verbs[] = {memcache::verb::set,    memcache::verb::add,     memcache::verb::replace,
                                            memcache::verb::append, memcache::verb::prepend, memcache::verb::cas};

std::int32_t exptime_from(std::uint8_t byte)
{
    switch (byte % 6) {
    case 0: return 0;
    case 1: return -1;
    case 2: return byte % 4;                                   // a few seconds
    case 3: return static_cast<std::int32_t>(memcache::max_relative_exptime) + byte; // a Unix time long past
    case 4: return 2'000'000'000;                              // a Unix time to come
    default: return 100;
    }
}

std::string value_from(bytes_in& in, std::size_t most)
{
    const std::size_t size = in.next() % (most + 1);
    if (in.next() % 4 == 0) // a number now and then, for incr and decr
        return std::to_string(static_cast<std::uint64_t>(in.next()) * 0x0101010101010101u >> (in.next() % 64));
    return std::string(size, static_cast<char>('a' + in.next() % 26));
}

void model_check(bytes_in in)
{
    memcache::store store(std::size_t{1} << 30, 300);
    model expected;
    std::int64_t now = 1'000'000'000;
    std::uint64_t last_cas = 0;
    std::map<std::string, std::uint64_t> cas_of; // as gets last showed it
    while (!in.data.empty()) {
        const std::uint8_t op = in.next();
        const std::string key = "k" + std::to_string(in.next() % 6);
        now += in.next() % 3;
        switch (op % 8) {
        case 0:
        case 1: { // a storage command
            const auto how = storage_verbs[in.next() % 6];
            const std::uint32_t flags = in.next();
            const std::int32_t exptime = exptime_from(in.next());
            const std::uint64_t unique = in.next() % 2 ? cas_of[key] : in.next();
            std::string value = value_from(in, 300);
            const auto result = store.put(how, key, flags, exptime, unique,
                                          std::make_shared<const std::string>(value), now);
            model_item* old = expected.find(key, now);
            auto want = memcache::store_result::stored;
            model_item next{value, flags, memcache::expiry_time(exptime, now), now};
            using memcache::verb;
            if (how == verb::add && old)
                want = memcache::store_result::not_stored;
            else if ((how == verb::replace || how == verb::append || how == verb::prepend) && !old)
                want = memcache::store_result::not_stored;
            else if (how == verb::cas && !old)
                want = memcache::store_result::not_found;
            else if (how == verb::cas && unique != cas_of[key])
                want = memcache::store_result::exists;
            else if (how == verb::append || how == verb::prepend) {
                next.value = how == verb::append ? old->value + value : value + old->value;
                next.flags = old->flags;
                next.expires = old->expires;
                if (next.value.size() > 300)
                    want = memcache::store_result::not_stored;
            }
            require(result == want);
            if (want == memcache::store_result::stored) {
                expected.items.insert_or_assign(key, next);
                cas_of[key] = ++last_cas; // every store takes the next cas unique
            }
            break;
        }
        case 2:
        case 3: { // get, gets, gat
            const bool touch = op % 8 == 3 && in.next() % 2;
            const std::int32_t exptime = exptime_from(in.next());
            const auto got = store.get(key, now, touch ? std::optional(exptime) : std::nullopt);
            model_item* want = expected.find(key, now);
            require(got.has_value() == (want != nullptr));
            if (got) {
                require(*got->value == want->value && got->flags == want->flags && got->cas == cas_of[key]);
                if (touch)
                    want->expires = memcache::expiry_time(exptime, now);
            }
            break;
        }
        case 4:
            require(store.remove(key, now) == (expected.find(key, now) != nullptr));
            expected.items.erase(key);
            break;
        case 5: { // incr, decr
            const bool incr = in.next() % 2;
            const std::uint64_t delta = in.next() * (in.next() % 2 ? 1u : 0x0100000000000001u);
            const auto got = store.add_delta(key, incr, delta, now);
            model_item* want = expected.find(key, now);
            require(got.found == (want != nullptr));
            if (!want)
                break;
            const auto number = memcache::detail::number<std::uint64_t>(want->value);
            require(got.numeric == number.has_value());
            if (!number)
                break;
            const std::uint64_t value = incr ? *number + delta : (delta > *number ? 0 : *number - delta);
            require(got.value == value);
            want->value = std::to_string(value);
            want->stored = now;
            cas_of[key] = ++last_cas;
            break;
        }
        case 6: { // touch
            const std::int32_t exptime = exptime_from(in.next());
            model_item* want = expected.find(key, now);
            require(store.touch(key, exptime, now) == (want != nullptr));
            if (want)
                want->expires = memcache::expiry_time(exptime, now);
            break;
        }
        default: { // flush_all, now or later
            const std::int32_t delay = in.next() % 2 ? 0 : in.next() % 5;
            store.flush_all(delay, now);
            if (delay <= 1) {
                expected.items.clear();
                expected.flush_at = 0;
                ++last_cas;
            } else {
                expected.flush_at = now + delay;
            }
            break;
        }
        }
        require(store.consistent());
    }
    // In the end, every key answers as the model says.
    for (int i = 0; i < 6; ++i) {
        const std::string key = "k" + std::to_string(i);
        const auto got = store.get(key, now);
        model_item* want = expected.find(key, now);
        require(got.has_value() == (want != nullptr) && (!got || *got->value == want->value));
    }
}

void bounded(bytes_in in)
{
    const std::size_t limit = 2048 + in.next() * 16;
    memcache::store store(limit, 512);
    std::int64_t now = 1'000'000'000;
    std::vector<std::size_t> held; // reservations being received
    while (!in.data.empty()) {
        const std::uint8_t op = in.next();
        const std::string key(1 + in.next() % 40, static_cast<char>('a' + in.next() % 20));
        now += in.next() % 2;
        switch (op % 6) {
        case 0:
        case 1: {
            const auto how = storage_verbs[in.next() % 6];
            const std::string value = value_from(in, 512);
            const std::uint64_t before = store.stats().total_items;
            const auto result =
                store.put(how, key, 7, 0, 0, std::make_shared<const std::string>(value), now);
            if (result == memcache::store_result::stored && how != memcache::verb::append
                && how != memcache::verb::prepend) {
                const auto got = store.get(key, now); // what was just stored is there
                require(got && *got->value == value && got->flags == 7 && store.stats().total_items == before + 1);
            }
            break;
        }
        case 2:
            store.get(key, now);
            break;
        case 3: {
            const std::size_t bytes = in.next() * 8u;
            if (store.reserve(bytes))
                held.push_back(bytes);
            else
                require(bytes + memcache::store::item_overhead + store.reserved() > store.memory_limit());
            break;
        }
        case 4:
            if (!held.empty()) {
                store.release(held.back());
                held.pop_back();
            }
            break;
        default:
            store.add_delta(key, in.next() % 2, in.next(), now);
            break;
        }
        require(store.consistent());
        require(store.memory_used() + store.reserved() <= limit);
    }
    for (const auto bytes : held)
        store.release(bytes);
    require(store.reserved() == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    bytes_in in{{reinterpret_cast<const char*>(data), size}};
    switch (in.next() % 4) {
    case 0: parser(in.data); break;
    case 1: splitter(in); break;
    case 2: model_check(in); break;
    default: bounded(in); break;
    }
    return 0;
}

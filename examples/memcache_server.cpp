// A memcached server: memcached's text protocol, so that its clients
// (pymemcache, libmemcached, ...) use it as they would memcached 1.6.
//
//   get, gets, gat, gats        VALUE <key> <flags> <bytes> [<cas>] + data, ..., END
//   set, add, replace, append,  + a data block -> STORED, NOT_STORED, EXISTS, NOT_FOUND
//   prepend, cas
//   delete, incr, decr, touch   DELETED, <number>, TOUCHED, NOT_FOUND
//   flush_all [delay], version, verbosity, stats, quit; noreply where memcached takes it
//
//   (usage: `usage` below, which --help prints)
//
// Memory is bounded: a value may have 1 MiB (a longer one: SERVER_ERROR
// object too large for cache, its data skipped unread); items, and values
// being received, stay within -m megabytes, the least recently used items
// evicted to make room. A command line may have 2048 bytes (a longer one:
// CLIENT_ERROR line too long, and the connection closes), except get and
// gets, whose keys are answered while the line arrives, however long it is:
// a client must read while it sends one (libmemcached does).
//
// The parser and the store are in memcache_protocol.hpp, without I/O; this
// file reads the lines and data blocks and writes the replies. One thread
// serves every client (run_options::threads is 1), so the store has no lock.
#include "command_line.hpp"
#include "memcache_protocol.hpp"

#include <coline/coline.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <unistd.h>

// What --help prints.
constexpr std::string_view usage = "usage: memcache_server [host] [port] [-m MEGABYTES] [--max-clients N] [--request-timeout SECONDS]\n"
                                   "           (default 127.0.0.1 11211, 64 MiB, 1024 clients, 60 s; port 0: the kernel picks one)\n";

constexpr std::size_t item_limit = 1024 * 1024; // memcached's default (-I 1m)
// The protocol level we speak (memcached's, without its meta commands); memccapable reads it.
constexpr std::string_view version = "1.6.18-coline";

memcache::store cache(64 * 1024 * 1024, item_limit);

// memcached's clock: the Unix time at start plus the seconds counted since,
// so that setting the system's clock neither expires nor revives items.
const std::int64_t started_at = std::time(nullptr);
const auto started = std::chrono::steady_clock::now();
std::int64_t now()
{
    using namespace std::chrono;
    return started_at + duration_cast<seconds>(steady_clock::now() - started).count();
}

// Every reply below is kept by the connection and leaves with the rest of the
// answer, in one send, when the session next reads (coalesce_writes).
coline::task<void> answer(coline::connection& conn, const memcache::command& cmd, std::string_view text)
{
    if (!cmd.noreply)
        co_await coline::write_line(conn, text);
}

// An item of a get's reply; `it` holds the value until it is sent, even if
// another client replaces it meanwhile.
coline::task<void> send_value(coline::connection& conn, std::string_view key, const memcache::item& it,
                                 bool with_cas)
{
    if (with_cas)
        co_await coline::write_line(conn, "VALUE {} {} {} {}", key, it.flags, it.value->size(), it.cas);
    else
        co_await coline::write_line(conn, "VALUE {} {} {}", key, it.flags, it.value->size());
    co_await coline::write(conn, *it.value);
    co_await coline::write(conn, "\r\n");
}

coline::task<void> retrieve(coline::connection& conn, const memcache::command& cmd)
{
    using memcache::verb;
    const bool with_cas = cmd.kind == verb::gets || cmd.kind == verb::gats;
    const auto touch = cmd.kind == verb::gat || cmd.kind == verb::gats ? std::optional(cmd.exptime) : std::nullopt;
    for (const auto key : cmd.keys)
        if (const auto it = cache.get(key, now(), touch))
            co_await send_value(conn, key, *it, with_cas);
    co_await coline::write_line(conn, "END");
}

// A get or gets line too long to hold (`begun` is what came of it so far):
// each key is answered as it arrives. memcached holds the whole line first,
// so that a bad key cancels the whole reply; here the values before it have
// gone, and the bad key ends the reply with the error instead of END.
coline::task<void> stream_get(coline::connection& conn, const std::string& begun)
{
    memcache::word_splitter words;
    words.feed(begun, false);
    const bool with_cas = words.next() == "gets"; // the first word: get or gets (memcache::starts_get)
    bool bad_key = false;
    for (bool last = false;;) {
        while (const auto key = words.next()) {
            bad_key = bad_key || !memcache::valid_key(*key);
            if (!bad_key)
                if (const auto it = cache.get(*key, now()))
                    co_await send_value(conn, *key, *it, with_cas);
        }
        if (last)
            break;
        const auto part = co_await coline::read_line_part(conn); // throws if the stream ends in the line
        last = !part || part->ends_line;
        words.feed(part ? part->text : std::string_view{}, last);
    }
    co_await coline::write_line(conn, bad_key ? memcache::reply::bad_format : "END");
}

// Reads and drops `n` bytes: the data block of a command refused before it.
coline::task<void> skip(coline::connection& conn, std::uint64_t n)
{
    while (n > 0) {
        const auto piece = co_await coline::read_some(conn, std::min<std::uint64_t>(n, 64 * 1024));
        if (piece.empty())
            co_return; // the client ended the stream
        n -= piece.size();
    }
}

coline::task<void> store_item(coline::connection& conn, const memcache::command& cmd)
{
    const std::string key{cmd.key}; // cmd's views point into the input, which the next read replaces
    const std::uint64_t block = std::uint64_t{cmd.bytes} + 2; // the data and its "\r\n"
    // Before anything is allocated for it, the announced length is checked
    // and room is made in the store (evicting if need be), so that memory
    // stays bounded however many clients are sending blocks at once.
    const bool too_large = cmd.bytes > cache.item_limit();
    if (too_large || !cache.reserve(cmd.bytes)) {
        if (cmd.kind == memcache::verb::set) // as memcached: a failed set leaves no stale value behind
            cache.forget(key);
        co_await answer(conn, cmd, too_large ? memcache::reply::too_large : memcache::reply::out_of_memory);
        co_await skip(conn, block);
        co_return;
    }
    memcache::reservation room(cache, cmd.bytes); // given back however this ends
    // Straight into the item's own storage, past the connection's buffer.
    auto value = std::make_shared<std::string>(cmd.bytes, '\0');
    co_await coline::read_exactly(conn, std::span<char>(*value));
    const auto end = co_await coline::read_exactly(conn, 2); // mostly here already: no suspension
    if (end != "\r\n") {
        // As memcached: the block was the announced length plus two bytes,
        // read as such; the bytes after them are the next command line.
        co_await answer(conn, cmd, memcache::reply::bad_chunk);
        co_return;
    }
    room.release();
    const auto result = cache.put(cmd.kind, key, cmd.flags, cmd.exptime, cmd.number, std::move(value), now());
    co_await answer(conn, cmd, memcache::reply_for(result));
}

coline::task<void> stats(coline::connection& conn)
{
    const auto& counters = cache.stats();
    const std::pair<std::string_view, std::uint64_t> values[] = {
        {"pid", static_cast<std::uint64_t>(::getpid())},
        {"uptime", static_cast<std::uint64_t>(now() - started_at)},
        {"time", static_cast<std::uint64_t>(now())},
        {"pointer_size", sizeof(void*) * 8},
        {"threads", 1},
        {"cmd_get", counters.get_hits + counters.get_misses},
        {"cmd_set", counters.sets},
        {"cmd_flush", counters.flushes},
        {"cmd_touch", counters.touches},
        {"get_hits", counters.get_hits},
        {"get_misses", counters.get_misses},
        {"curr_items", cache.size()},
        {"total_items", counters.total_items},
        {"bytes", cache.memory_used()},
        {"evictions", counters.evictions},
        {"limit_maxbytes", cache.memory_limit()},
        {"item_size_max", cache.item_limit()},
    };
    co_await coline::write_line(conn, "STAT version {}", version);
    for (const auto& [name, value] : values)
        co_await coline::write_line(conn, "STAT {} {}", name, value);
    co_await coline::write_line(conn, "END");
}

// Runs one command line; false: the connection is to close.
coline::task<bool> execute(coline::connection& conn, std::string_view line)
{
    using memcache::verb;
    const auto parsed = memcache::parse(line);
    const auto& cmd = parsed.cmd;
    if (parsed.close) // an HTTP request: memcached closes without a word
        co_return false;
    if (!parsed.error.empty()) {
        // As memcached: no data block is read after a refused storage
        // command; its bytes are taken for the next command line.
        co_await answer(conn, cmd, parsed.error);
        co_return true;
    }
    switch (cmd.kind) {
    case verb::get:
    case verb::gets:
    case verb::gat:
    case verb::gats:
        co_await retrieve(conn, cmd);
        break;
    case verb::set:
    case verb::add:
    case verb::replace:
    case verb::append:
    case verb::prepend:
    case verb::cas:
        co_await store_item(conn, cmd);
        break;
    case verb::delete_:
        co_await answer(conn, cmd, cache.remove(cmd.key, now()) ? "DELETED" : "NOT_FOUND");
        break;
    case verb::incr:
    case verb::decr: {
        const auto result = cache.add_delta(cmd.key, cmd.kind == verb::incr, cmd.number, now());
        if (!result.found || !result.numeric)
            co_await answer(conn, cmd, result.found ? memcache::reply::non_numeric : "NOT_FOUND");
        else if (!cmd.noreply)
            co_await coline::write_line(conn, "{}", result.value);
        break;
    }
    case verb::touch:
        co_await answer(conn, cmd, cache.touch(cmd.key, cmd.exptime, now()) ? "TOUCHED" : "NOT_FOUND");
        break;
    case verb::flush_all:
        cache.flush_all(cmd.exptime, now());
        co_await answer(conn, cmd, "OK");
        break;
    case verb::version:
        co_await coline::write_line(conn, "VERSION {}", version);
        break;
    case verb::verbosity: // we log nothing: taken and ignored
        co_await answer(conn, cmd, "OK");
        break;
    case verb::stats:
        if (cmd.key == "reset") {
            cache.reset_stats();
            co_await coline::write_line(conn, "RESET");
        } else {
            co_await stats(conn);
        }
        break;
    case verb::quit:
        co_return false;
    }
    co_return true;
}

// Reads throw coline::system_error when the client breaks off in a line or a
// block, goes silent for 5 minutes (the server's read_timeout), takes more
// than a minute over one command and its data (request_timeout) or goes
// away; the server then closes that client, and only that one.
coline::task<void> session(coline::connection& conn)
{
    std::string held; // a command line that arrived in pieces
    // memcached tells its binary protocol by a connection's first byte, 0x80.
    // We do not speak it: we say so and close, instead of waiting for a line
    // that a binary request never ends.
    bool first = true;
    const auto binary = [&first](std::string_view start) { return std::exchange(first, false) && start.starts_with('\x80'); };
    for (;;) {
        conn.end_request();
        // Most command lines are short and whole in the buffer: this does not suspend for them.
        auto part = co_await coline::read_line_part(conn);
        if (!part)
            co_return; // the client ended the stream between commands
        conn.begin_request(); // the rest of the line and its data block, within one time limit
        if (binary(part->text))
            break;
        std::string_view line = part->text;
        if (!part->ends_line) {
            // Held until the line ends or passes 2048 bytes: enough to tell a get from a line too long.
            held.assign(part->text);
            while (!part->ends_line && held.size() <= memcache::max_command_length) {
                part = co_await coline::read_line_part(conn);
                if (!part)
                    co_return;
                held += part->text;
            }
            if (!part->ends_line && memcache::starts_get(held)) {
                co_await stream_get(conn, held);
                continue;
            }
            line = held;
        }
        if (line.size() > memcache::max_command_length && !memcache::starts_get(line)) {
            // memcached closes without a word; we say why. The rest of the
            // line cannot be trusted to hold no command (a data block could).
            co_await coline::write_line(conn, memcache::reply::line_too_long);
            co_return;
        }
        if (!co_await execute(conn, line))
            co_return;
    }
    co_await coline::write_line(conn, memcache::reply::binary_protocol);
}

int main(int argc, char* argv[])
try {
    if (asked_for_help(argc, argv, usage))
        return 0;
    std::string host = "127.0.0.1", port = "11211";
    unsigned long megabytes = 64;
    coline::server_options options;
    options.max_clients = 1024; // memcached's default (-c)
    for (int i = 1, positional = 0; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "-m" && i + 1 < argc)
            // At least the largest item, and another one being received.
            megabytes = number_argument(argv[++i], 2, 1024 * 1024, "memory limit in megabytes");
        else if (arg == "--max-clients" && i + 1 < argc)
            options.max_clients = number_argument(argv[++i], 1, 1'000'000, "client count");
        else if (arg == "--request-timeout" && i + 1 < argc)
            options.connection.request_timeout = std::chrono::seconds{number_argument(argv[++i], 1, 86'400, "seconds")};
        else
            host_or_port(arg, positional, host, port);
    }
    cache = memcache::store(megabytes * 1024 * 1024, item_limit);

    options.connection.newline = coline::line_ending::crlf;
    // The input buffer: 4 KiB, the smallest coline has. Longer lines come in
    // pieces (read_line_part); data blocks go straight to their item.
    options.connection.max_line_length = memcache::max_command_length;
    coline::run_options run;
    run.on_listening = [](const asio::ip::tcp::endpoint& endpoint) {
        fmt::print(stderr, "Listening on {}:{}\n", endpoint.address().to_string(), endpoint.port());
    };
    return exit_status(coline::run_server(listen_endpoint(host, port), session, options, run));
} catch (const std::exception& e) { // a bad argument, an address in use, ...
    fmt::print(stderr, "memcache_server: {}\n", e.what());
    return 1;
}

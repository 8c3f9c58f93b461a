// A Redis server for strings: it speaks RESP2, Redis's protocol, well enough
// for redis-cli, redis-benchmark and client libraries, with Redis's own
// replies and error texts. The protocol and the store are in resp_protocol.hpp;
// this file reads requests from the connection and sends the replies.
//
//   (usage: `usage` below, which --help prints)
//
// Commands: PING, ECHO, SET (NX, XX, GET, EX, PX, EXAT, PXAT, KEEPTTL), GET,
// DEL, EXISTS, INCR, INCRBY, DECR, DECRBY, MGET, MSET, TTL, PTTL, DBSIZE, QUIT, COMMAND (COUNT,
// DOCS, INFO), CONFIG GET, and MULTI, EXEC and DISCARD (what is queued counts
// as one request); anything else gets Redis's "unknown command".
//
// Limits, smaller than Redis's (theirs in brackets), each announced length
// checked before anything is allocated for it:
//   a bulk string: 1 MiB [proto-max-bulk-len 512 MB]; a command: 1 Mi arguments
//   [2^31 - 1], 4 MiB in all [none]; an inline command or header line: 64 KiB
//   [the same]; 1000 clients [10 000]; an idle client: 5 minutes [never]; a
//   request, from its first line to its last byte: 60 s [never];
//   the store: --maxmemory, then writes get -OOM until keys go (Redis's
//   maxmemory with maxmemory-policy noeviction: a write may take it over by
//   one command's worth). So memory stays within the store's bound plus, per
//   client, one request and coline's buffers (64 KiB in, 64 KiB kept out).
// Over a limit, or on a malformed request: "-ERR Protocol error: ...", then
// the connection closes, as in Redis.
//
// One thread serves every client (run_options::threads is 1 by default), so
// the store needs no lock.
#include "command_line.hpp"
#include "resp_protocol.hpp"

#include <coline/coline.hpp>

#include <fmt/core.h>

#include <optional>
#include <chrono>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>

// What --help prints.
constexpr std::string_view usage = "usage: resp_server [host] [port] [--maxmemory BYTES] [--request-timeout SECONDS]\n"
                                   "           (default 127.0.0.1 6379, 64 MiB, 60 s; port 0: the kernel picks one)\n";

const resp::request_limits limits; // resp_protocol.hpp has their values
resp::store store;

// Large values go out from the store's own copy, which the reply holds until they are sent.
coline::task<void> send_with_values(coline::connection& conn, const resp::reply& reply)
{
    const std::string_view text = reply.text;
    std::size_t sent = 0;
    for (const auto& [offset, value] : reply.values) {
        co_await coline::write(conn, text.substr(sent, offset - sent));
        co_await coline::write(conn, *value);
        sent = offset;
    }
    co_await coline::write(conn, text.substr(sent));
}

resp::time_ms now()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Reads what the parser asks for next, a line or a bulk string, and runs
// each command it makes. (All in one coroutine: a call to another costs
// about as much as a read that finds its bytes buffered.)
coline::task<void> session(coline::connection& conn)
{
    resp::request_parser parser(limits);
    resp::transaction multi(limits); // MULTI ... EXEC
    resp::reply reply;
    for (;;) {
        resp::status status;
        // Pipelined requests are mostly in the buffer already: the reads
        // below then complete without suspending.
        if (parser.wants_line()) {
            auto [ec, line] = co_await coline::read_line(conn, coline::as_tuple);
            if (ec == coline::error::line_too_long)
                status = parser.on_line_too_long();
            else if (!line)
                co_return; // the client has gone (Redis drops a request cut short in silence), or broke a time limit
            else
                status = parser.on_line(*line, conn.last_line_ending() == coline::line_ending::crlf);
        } else {
            // The bulk string and its "\r\n", into the argument as they arrive
            // (whole, when buffered already), so that memory follows the bytes
            // received, not the length announced.
            auto [ec, bytes] = co_await coline::read_some(conn, parser.bulk_missing(), coline::as_tuple);
            if (ec || bytes.empty())
                co_return; // as above
            status = parser.on_bulk(bytes);
        }

        // A request of many parts is read within one time limit, not one per part.
        if (status == resp::status::more)
            conn.begin_request(); // (again and again: only the first call counts)
        else
            conn.end_request();
        if (status == resp::status::error) {
            co_await coline::write_line(conn, "-ERR {}", parser.error());
            co_return; // the server sends the replies kept so far, this one last, and closes
        }
        if (status == resp::status::ready) {
            reply.clear();
            if (!multi.handle(parser.arguments(), store, now(), reply))
                store.execute(parser.arguments(), now(), reply);
            if (reply.drop) {
                conn.close(); // the replies kept so far go too
                co_return;
            }
            // Kept, to leave with the other replies of its batch: the server
            // coalesces writes, so pipelined commands (redis-benchmark -P 16) share a send.
            if (reply.values.empty()) {
                co_await coline::write(conn, reply.text);
            } else {
                co_await send_with_values(conn, reply);
            }
            if (reply.close)
                co_return; // QUIT
        }
    }
}

int main(int argc, char* argv[])
try {
    if (asked_for_help(argc, argv, usage))
        return 0;
    std::string host = "127.0.0.1", port = "6379";
    std::size_t max_memory = 64 * 1024 * 1024;
    coline::server_options options;
    for (int i = 1, positional = 0; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--maxmemory" && i + 1 < argc)
            max_memory = number_argument(argv[++i], 1, 1ul << 40, "memory size in bytes");
        else if (arg == "--request-timeout" && i + 1 < argc)
            options.connection.request_timeout = std::chrono::seconds{number_argument(argv[++i], 1, 86'400, "seconds")};
        else
            host_or_port(arg, positional, host, port);
    }
    store = resp::store(max_memory, limits);

    options.max_clients = 1000; // each may hold a request of up to limits.max_request
    options.connection.max_line_length = limits.max_line;
    options.connection.newline = coline::line_ending::crlf; // write_line ends lines as RESP does
    coline::run_options run;
    run.on_listening = [](const asio::ip::tcp::endpoint& endpoint) {
        fmt::print(stderr, "Listening on {}:{}\n", endpoint.address().to_string(), endpoint.port());
    };
    return exit_status(coline::run_server(listen_endpoint(host, port), session, options, run));
} catch (const std::exception& e) { // a bad argument, an address in use, ...
    fmt::print(stderr, "resp_server: {}\n", e.what());
    return 1;
}

// A key-value store that speaks lines: one command per line, one reply line each.
//
//   SET key value   ->  OK                          (value: the rest of the line, spaces included)
//   GET key         ->  VALUE value  or  NOT_FOUND
//   DEL key         ->  DELETED      or  NOT_FOUND
//   anything else   ->  ERR reason                  (unknown command, missing key or value,
//                                                    key or value too long, store full, line too long)
//
//   kv_server [host] [port]     (default 127.0.0.1 10008; port 0: the kernel picks one)
#include "command_line.hpp"

#include <coline/coline.hpp>

#include <fmt/core.h>

#include <map>
#include <string>
#include <string_view>
#include <utility>

constexpr std::size_t max_keys = 10'000;
constexpr std::size_t max_key_length = 250;
constexpr std::size_t max_value_length = 4096;

// One thread serves every client (run_options::threads is 1 by default), so the store needs no lock.
std::map<std::string, std::string, std::less<>> store;

// Returns the text up to the first space and leaves `rest` just after that space.
std::string_view next_word(std::string_view& rest)
{
    const auto space = rest.find(' ');
    const auto word = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    return word;
}

std::string execute(std::string_view line)
{
    std::string_view rest = line;
    const auto command = next_word(rest);
    const bool set = command == "SET";
    if (!set && command != "GET" && command != "DEL")
        return "ERR unknown command (SET, GET or DEL)";
    // GET and DEL take the rest of the line as the key, so that "GET a b" is refused.
    const auto key = set ? next_word(rest) : std::exchange(rest, {});
    const auto value = rest;
    if (key.empty() || key.find(' ') != std::string_view::npos || (set && value.empty()))
        return set ? "ERR usage: SET key value" : fmt::format("ERR usage: {} key", command);
    if (key.size() > max_key_length)
        return fmt::format("ERR key longer than {} bytes", max_key_length);

    auto found = store.find(key);
    if (set) {
        if (value.size() > max_value_length)
            return fmt::format("ERR value longer than {} bytes", max_value_length);
        if (found == store.end() && store.size() == max_keys)
            return fmt::format("ERR store full ({} keys)", max_keys);
        store.insert_or_assign(std::string{key}, std::string{value});
        return "OK";
    }
    if (found == store.end())
        return "NOT_FOUND";
    if (command == "GET")
        return "VALUE " + found->second;
    store.erase(found);
    return "DELETED";
}

asio::awaitable<void> session(coline::connection& conn)
{
    for (;;) {
        auto [ec, line] = co_await coline::read_line(conn, coline::as_tuple);
        if (ec == coline::error::line_too_long) { // the connection skips that line: go on with the next
            co_await coline::write_line(conn, "ERR line too long");
            continue;
        }
        if (!line)
            co_return; // the client hung up, or broke a limit (idle for 5 minutes, ...)
        co_await coline::write_line(conn, execute(*line));
    }
}

int main(int argc, char* argv[])
try {
    const std::string host = argc > 1 ? argv[1] : "127.0.0.1";
    const std::string port = argc > 2 ? argv[2] : "10008";
    coline::server_options options;
    options.connection.max_line_length = 8 * 1024; // room for the longest SET
    coline::run_options run;
    run.on_listening = [](const asio::ip::tcp::endpoint& endpoint) {
        fmt::print(stderr, "Listening on {}:{}\n", endpoint.address().to_string(), endpoint.port());
    };
    coline::run_server(listen_endpoint(host, port), session, options, run);
} catch (const std::exception& e) { // a bad argument, an address in use, ...
    fmt::print(stderr, "kv_server: {}\n", e.what());
    return 1;
}

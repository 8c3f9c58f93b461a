// A chat server: each line a client sends goes to every other client as
// "nick: text"; "/nick NAME" picks a nick. The room (nicks, notices, each
// client's bounded outbox) is in chat_room.hpp; this file moves its lines.
//
//   (usage: `usage` below, which --help prints)
#include "chat_room.hpp"
#include "command_line.hpp"

#include <coline/coline.hpp>

#include <fmt/core.h>

#include <string>

// What --help prints.
constexpr std::string_view usage = "usage: chat [host] [port]     (default 127.0.0.1 10008; port 0: the kernel picks one)\n";

// The room wakes a member by cancelling its timer, which never expires.
coline::task<void> wait(asio::steady_timer& wakeup)
{
    coline::error_code cancelled;
    co_await wakeup.async_wait(asio::redirect_error(coline::use_task, cancelled));
}

coline::task<void> read_lines(coline::connection& conn, chat_room& room, chat_member& me)
{
    for (;;) {
        auto [ec, line] = co_await coline::read_line(conn, coline::as_tuple);
        if (!line)
            co_return; // the client left, or broke a limit (a line over 1000 bytes, ...)
        room.handle(me, *line);
        // Let the writers run before the next line (it may be buffered already):
        // a client that sends fast gets one line into the room per turn, and
        // each writer sends all its lines per turn, so those that read keep up.
        co_await asio::post(conn.get_executor(), coline::use_task);
    }
}

// Sends the member's outbox as fast as its client takes it: all of it in one
// write, since while several clients talk at once, lines come in faster than
// one per turn. Returns once the session is over (`over`), or a write failed.
coline::task<void> write_lines(coline::connection& conn, chat_member& me, asio::steady_timer& wakeup, const bool& over)
{
    std::string batch;
    while (!over) {
        while (!me.outbox.empty()) {
            batch.clear();
            while (!me.outbox.empty())
                (batch += me.take()) += '\n';
            if (auto [ec] = co_await coline::write(conn, coline::as_tuple, "{}", batch); ec)
                co_return;
        }
        co_await wait(wakeup);
    }
}

// The reader runs in the session, the writer beside it as a task of its own;
// the session returns once both have. When the room drops the member (its
// client does not read), the connection closes, which ends both at once,
// even a write that waits for that client.
coline::task<void> session(coline::connection& conn, chat_room& room)
{
    const auto executor = conn.get_executor();
    asio::steady_timer wakeup(executor, asio::steady_timer::time_point::max());
    asio::steady_timer writer_done(executor, asio::steady_timer::time_point::max());
    bool over = false, writing = true;
    chat_member me([&] {
        wakeup.cancel();
        if (me.dropped)
            conn.close();
    });
    chat_room::membership in_room(room, me);
    coline::spawn(executor, write_lines(conn, me, wakeup, over), [&](std::exception_ptr) {
        writing = false;
        writer_done.cancel();
    });
    co_await read_lines(conn, room, me);
    over = true;
    wakeup.cancel();
    while (writing)
        co_await wait(writer_done);
    if (me.dropped)
        fmt::print(stderr, "dropped {}: its client does not read\n", coline::printable{me.nick});
}

int main(int argc, char* argv[])
try {
    if (asked_for_help(argc, argv, usage))
        return 0;
    std::string host = "127.0.0.1", port = "10008";
    for (int i = 1, positional = 0; i < argc; ++i)
        host_or_port(argv[i], positional, host, port);
    chat_room room;
    coline::server_options options;
    options.connection.max_line_length = 1000;
    options.connection.read_timeout = coline::no_timeout; // listening without a word is fine in a chat
    coline::run_options run;
    run.threads = 1; // every session on one thread: the room needs no lock
    run.on_listening = [](const asio::ip::tcp::endpoint& endpoint) {
        fmt::print(stderr, "Listening on {}:{}\n", endpoint.address().to_string(), endpoint.port());
    };
    options.on_handler_error = [](std::exception_ptr error) { // a session cut short at shutdown, ...
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            fmt::print(stderr, "client dropped: {}\n", e.what());
        }
    };
    return exit_status(coline::run_server(listen_endpoint(host, port),
                                          [&room](coline::connection& conn) { return session(conn, room); },
                                          options, run));
} catch (const std::exception& e) { // a bad argument, an address in use, ...
    fmt::print(stderr, "chat: {}\n", e.what());
    return 1;
}

// Internal: how a session ends, the same in the server and in the testing helper.
#pragma once

#include <coline/connection.hpp>
#include <coline/write_line.hpp>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline::detail {

// Waits for the peer to end its side, dropping what it sends, for at most `limit`.
template <class Stream>
asio::awaitable<void> discard_input(basic_connection<Stream>& conn, duration limit)
{
    auto& deadline = connection_access::read_deadline(conn);
    asio::cancellation_state parent = co_await asio::this_coro::cancellation_state;
    deadline.start(limit);
    std::error_code ec;
    char sink[512];
    while (!ec && !deadline.expired())
        co_await conn.stream().async_read_some(
            asio::buffer(sink),
            asio::bind_cancellation_slot(deadline.slot(parent.slot()), asio::redirect_error(asio::use_awaitable, ec)));
    deadline.stop();
}

// Ends our side of the stream, then lets the peer read every answer before
// the close (a close with unread input would send it a reset instead).
// <coline/tls.hpp> specialises it: over TLS, our end is close_notify, sent
// even when the peer has ended its side first.
template <class Stream>
struct lingering_close {
    static asio::awaitable<void> run(basic_connection<Stream>& conn, duration linger)
    {
        if (conn.at_end())
            co_return; // nothing left unread: the close is a clean end
        std::error_code ignored;
        conn.stream().shutdown(asio::socket_base::shutdown_send, ignored);
        co_await discard_input(conn, linger);
    }
};

// After the handler: the answers it wrote go out, even when it failed on a
// later line; a peer that still sends after a clean end gets the chance to
// read them all (`linger`), one that misbehaved (`clean` false) is cut off at
// once. Runs even in a cancelled coroutine (the grace period is over): the
// flush and the linger then end at once.
template <class Stream>
asio::awaitable<void> end_session(basic_connection<Stream>& conn, bool clean, duration linger)
{
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await flush(conn, as_tuple);
    if (clean && conn.stream().lowest_layer().is_open())
        co_await lingering_close<Stream>::run(conn, linger);
    conn.close();
}

} // namespace coline::detail

COLINE_SILENCE_FRAME_WARNINGS_END

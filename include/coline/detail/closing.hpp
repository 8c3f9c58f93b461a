// Internal: the end of a connection that still holds answers: they go out,
// then the close lets the peer read them (a close with unread input would
// reset the stream and lose them).
#pragma once

#include <coline/detail/connection_core.hpp>
#include <coline/detail/send.hpp>
#include <coline/spawn.hpp>
#include <coline/task.hpp>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline::detail {

// Waits for the peer to end its side, dropping what it sends, for at most
// `limit`; and for as long again, each time, while the peer is still taking
// the answers the kernel holds for it (a close with unread input resets the
// stream, and the reset drops whatever the peer had not received yet), up to
// the connection's write_timeout (or closing_limit) more in all.
template <class Stream>
task<void> discard_input(connection_core<Stream>& conn, duration limit)
{
    auto& deadline = conn.read_deadline;
    detail::chain_cancellation parent = co_await detail::this_chain;
    error_code ec;
    char sink[512];
    const duration write_limit = conn.options.write_timeout;
    const auto last_round = time_after(write_limit == no_timeout ? conn.closing_limit : write_limit);
    auto not_acknowledged = [&conn] { return unacknowledged_output(conn.stream.lowest_layer().native_handle()); };
    std::size_t not_taken = not_acknowledged();
    for (;;) {
        deadline.start(limit);
        while (!ec && !deadline.expired())
            co_await conn.stream.async_read_some(asio::buffer(sink),
                                                 detail::use_task_bound{&ec, deadline.slot(parent.slot())});
        if (!deadline.stop() || parent.cancelled() != asio::cancellation_type::none)
            break; // the peer ended its side (or the stream failed), or we are cancelled
        const std::size_t left = not_acknowledged();
        if (left == 0 || left >= not_taken || limit <= duration::zero() || std::chrono::steady_clock::now() >= last_round)
            break; // it has every answer, took none of them in all that time, or its time is up
        not_taken = left;
        ec.clear();
    }
}

// Ends our side of the stream, then lets the peer read every answer before
// the close. <coline/tls.hpp> specialises it: over TLS, our end is
// close_notify, sent even when the peer has ended its side first, and even
// after an error (`after_errors`), since only close_notify tells the peer
// that nothing was cut off; over TCP, a session that failed is just closed.
template <class Stream>
struct lingering_close {
    static constexpr bool after_errors = false;
    static task<void> run(connection_core<Stream>& conn, duration linger)
    {
        if (conn.input.buffer().at_end())
            co_return; // nothing left unread: the close is a clean end
        error_code ignored;
        if constexpr (requires { conn.stream.shutdown(asio::socket_base::shutdown_send, ignored); }) {
            conn.stream.shutdown(asio::socket_base::shutdown_send, ignored);
            co_await discard_input(conn, linger);
        } // (a stream that is not a socket has no half-close: it just closes)
    }
};

// What a destroyed connection kept, sent by a coroutine of its own that owns
// the stream, then the lingering close; each step within `limit`.
template <class Stream>
task<void> finish_closing(connection_core<Stream> conn, duration limit)
{
    detail::chain_cancellation parent = co_await detail::this_chain;
    error_code ec;
    co_await send_output(conn, limit, parent.slot(), ec, {}, send_everything);
    if (!ec)
        co_await lingering_close<Stream>::run(conn, limit);
    conn.close();
}

template <class Stream>
void connection_core<Stream>::send_kept_at_close() noexcept
{
    if (output.empty() || output.sending() || output.failed() || !stream.lowest_layer().is_open())
        return; // nothing kept, a send under way owns it, or nobody can take it
    if constexpr (direct_calls) {
        // Most often the socket takes it all at once, and the close is plain.
        if (!send_now())
            return; // the peer is gone: nobody is left to tell
        if (output.empty() && (input.buffer().at_end() || !input_waiting()))
            return;
    }
    try {
        connection_core last(std::move(stream), options);
        last.output = std::move(output);
        last.input = std::move(input); // at_end(): whether the peer has ended already
        const duration limit = options.write_timeout == no_timeout ? closing_limit : options.write_timeout;
        // Nobody is left to hear of a failure (finish_closing reports none of its own).
        coline::spawn(last.get_executor(), finish_closing(std::move(last), limit), [](std::exception_ptr) {});
    } catch (...) {
        // Out of memory for the coroutine: the stream closes as it goes, the kept bytes with it.
    }
}

} // namespace coline::detail

COLINE_SILENCE_FRAME_WARNINGS_END

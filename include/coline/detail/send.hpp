// Internal: the send path, written once. Every byte a connection sends
// leaves through send_output: the writes' (write_line, write, flush), the
// reads' (what writes kept goes out before a read waits) and the close's.
#pragma once

#include <coline/detail/connection_core.hpp>
#include <coline/detail/operation.hpp>
#include <coline/error.hpp>
#include <coline/task.hpp>
#include <coline/use_task.hpp>

#include <array>
#include <exception>
#include <limits>
#include <string_view>
#include <utility>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline::detail {

// One send through Asio: `co_await send.start(...)` hands the kept bytes,
// then `tail`, to the stream; the destructor ends the send however it went,
// so the connection never looks busy after it. The result lands in `ec`.
template <class Stream>
class send_in_flight {
public:
    send_in_flight(connection_core<Stream>& conn, error_code& ec)
        : conn_(conn), ec_(ec), exceptions_(std::uncaught_exceptions())
    {
    }
    send_in_flight(const send_in_flight&) = delete;
    send_in_flight& operator=(const send_in_flight&) = delete;
    ~send_in_flight()
    {
        if (std::uncaught_exceptions() > exceptions_) { // Asio threw at the co_await: nothing was sent
            conn_.write_deadline.stop();
            conn_.output.abandon_send();
        } else {
            if (conn_.write_deadline.stop() && ec_ == asio::error::operation_aborted)
                ec_ = error::timeout;
            conn_.output.finish_send(ec_); // a failure: every writer whose line was waiting is told
        }
        conn_.wake_writers();
    }

    auto start(duration timeout, asio::cancellation_slot parent, std::string_view tail)
    {
        const std::string_view bytes = conn_.output.start_send();
        conn_.write_deadline.start(timeout);
        // All of it in each call, not Asio's default of 64 KiB: a large reply in as few system calls as the kernel allows.
        auto everything = [](const error_code& error, std::size_t) -> std::size_t {
            return error ? 0 : std::numeric_limits<std::size_t>::max();
        };
        const std::array<asio::const_buffer, 2> buffers{asio::buffer(bytes), asio::buffer(tail)};
        return asio::async_write(conn_.stream, buffers, everything,
                                 use_task_bound{&ec_, conn_.write_deadline.slot(parent)});
    }

private:
    connection_core<Stream>& conn_;
    error_code& ec_;
    int exceptions_;
};

// Sends the kept bytes, then `tail` (a large write's own bytes, sent from
// where they are, in the same system call when they fit), until nothing is
// left, or what is left may wait (`rest_may_wait()`: a read will send it).
// On a socket, a non-blocking send takes what it has room for; only the rest
// waits for Asio's write. Bytes written meanwhile go out in the next round.
template <class Stream, class RestMayWait>
task<void> send_output(connection_core<Stream>& conn, duration timeout, asio::cancellation_slot parent,
                       error_code& ec, std::string_view tail, RestMayWait rest_may_wait)
{
    while (!ec && (!tail.empty() || (!conn.output.empty() && !rest_may_wait()))) {
        if constexpr (connection_core<Stream>::direct_calls) {
            if (tail.empty()) {
                if (!conn.send_now()) {
                    conn.output.take_unreported_failure(); // reported now
                    ec = conn.output.failed();
                }
                if (ec || conn.output.empty())
                    break;
            }
        }
        send_in_flight send(conn, ec);
        co_await send.start(timeout, parent, std::exchange(tail, {}));
    }
}

inline constexpr auto send_everything = [] { return false; };

// The rest of a write that could not just keep its bytes (see `flush_operation`):
// waits for its turn, then sends (unless `ec` is already set, or `may_keep`
// and the bytes can wait for the next read).
template <error_style Style, class Stream>
task<result<Style, void>> flush_rest(connection_core<Stream>& conn, duration timeout, error_code ec, bool may_keep,
                                     std::string_view tail, const char* what)
{
    if (!ec && !on_running_context(conn.get_executor()))
        conn.output.fail(ec = error::wrong_executor);
    chain_cancellation parent = co_await this_chain;
    auto cancelled = [&] { return parent.cancelled() != asio::cancellation_type::none; };
    while (!ec && conn.output.sending() && !cancelled()) { // another coroutine's write, a read's, or the close's
        // Our time limit covers the wait: the send in progress ends by then,
        // or is abandoned with error::timeout, which every writer then gets.
        conn.write_deadline.shorten(timeout);
        error_code ignored;
        co_await conn.write_turn().async_wait(asio::redirect_error(use_task, ignored));
    }
    if (!ec && cancelled())
        ec = asio::error::operation_aborted;
    if (!ec && (ec = conn.output.failed()))
        conn.output.take_unreported_failure(); // reported now
    co_await send_output(conn, timeout, parent.slot(), ec, tail,
                         [&conn, may_keep] { return may_keep && conn.may_keep_output(); });
    if (!ec && !conn.output.empty())
        conn.send_at_turn_end();
    co_return complete<Style>(ec, what);
}

// A write: `co_await operation<flush_operation<...>>` only keeps the bytes, without
// suspending, when they can wait for the next read (the usual case under
// coalesce_writes), and otherwise awaits flush_rest. An error found before
// (a newline in a line, a send that failed) is reported without suspending either.
template <error_style Style, class Stream>
struct flush_operation {
    using result_type = result<Style, void>;

    connection_core<Stream>& conn;
    duration timeout;
    error_code ec;
    bool may_keep;
    std::string_view tail;
    const char* what;

    bool ready()
    {
        if (ec)
            return true;
        if (check_every_operation && !on_running_context(conn.get_executor())) {
            conn.output.fail(ec = error::wrong_executor);
            return true;
        }
        if (!conn.output.sending() && (ec = conn.output.failed())) {
            conn.output.take_unreported_failure(); // reported now
            return true;
        }
        if (!tail.empty() || !may_keep || conn.output.sending() || !conn.may_keep_output())
            return false;
        conn.send_at_turn_end();
        return true;
    }
    result_type ready_result() { return complete<Style>(ec, what); }
    task<result_type> rest() { return flush_rest<Style>(conn, timeout, ec, may_keep, tail, what); }
};

template <error_style Style, class Stream>
operation<flush_operation<Style, Stream>> flush_op(connection_core<Stream>& conn, duration timeout, error_code ec,
                                                   bool may_keep = true, std::string_view tail = {},
                                                   const char* what = "coline::write_line")
{
    return operation<flush_operation<Style, Stream>>{
        flush_operation<Style, Stream>{conn, timeout, ec, may_keep, tail, what}};
}

} // namespace coline::detail

COLINE_SILENCE_FRAME_WARNINGS_END

// Internal: the read loop behind read_line, read_line_part, read_exactly and read_some.
#pragma once

#include <coline/detail/connection_core.hpp>
#include <coline/detail/operation.hpp>
#include <coline/detail/send.hpp>
#include <coline/error.hpp>
#include <coline/task.hpp>
#include <coline/use_task.hpp>

#include <span>
#include <system_error>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline::detail {

template <class Stream>
constexpr bool can_wait_for_input = requires(Stream& s) {
    s.async_wait(asio::socket_base::wait_read, use_task);
};

// Before a read waits or reports bad news: the bytes kept by writes go out
// (while another coroutine's send is in progress, that one sends them), and
// a send that failed at the end of a turn is reported, unless `ec` is set.
// Returns whether some are left for send_kept to await: a socket takes them
// here, without a co_await, when it has room.
template <class Stream>
bool send_kept_now(connection_core<Stream>& conn, error_code& ec)
{
    auto& output = conn.output;
    if (output.empty() || output.sending() || output.failed()) {
        if (!ec && output.take_unreported_failure())
            ec = output.failed();
        return false;
    }
    if constexpr (connection_core<Stream>::direct_calls) {
        if (!conn.send_now()) {
            output.take_unreported_failure();
            if (!ec)
                ec = output.failed();
            return false;
        }
    }
    return !output.empty();
}

template <class Stream>
task<void> send_kept(connection_core<Stream>& conn, chain_cancellation parent, error_code& ec)
{
    if (conn.output.empty() || conn.output.sending() || conn.output.failed()
        || parent.cancelled() != asio::cancellation_type::none)
        co_return;
    error_code write_ec;
    co_await send_output(conn, conn.options.write_timeout, parent.slot(), write_ec, {}, send_everything);
    if (write_ec && !ec)
        ec = write_ec;
}

// Misuse that a read reports rather than corrupting the connection: a read
// while another is under way, or a coroutine on another execution context
// than the connection's (checked when the read waits, and in debug builds always).
// (A bool first: no error_code is made on the fast path, which costs a call.)
template <class Stream>
bool read_refused(connection_core<Stream>& conn, bool waits) noexcept
{
    return conn.input.claimed()
           || ((waits || check_every_operation) && !on_running_context(conn.get_executor()));
}
template <class Stream>
error_code read_refusal(connection_core<Stream>& conn) noexcept
{
    return conn.input.claimed() ? error::concurrent_read : error::wrong_executor;
}

// A read that the buffer could not serve at once holds the connection's
// input until it is over, however it ends.
class read_claim {
public:
    explicit read_claim(line_input& input) : input_(input) { input.claim(); }
    read_claim(const read_claim&) = delete;
    read_claim& operator=(const read_claim&) = delete;
    ~read_claim() { input_.unclaim(); }

private:
    line_input& input_;
};

// A read that waits for input: its time limit starts, and stop_reading()
// can cut it short. However it ends (Asio may throw for a cancelled
// coroutine), the destructor marks it over.
template <class Stream>
class read_in_progress {
public:
    read_in_progress(connection_core<Stream>& conn, duration timeout) : conn_(conn)
    {
        conn.read_deadline.start(timeout, conn.input.request_due());
        conn.input.set_waiting(true);
    }
    read_in_progress(const read_in_progress&) = delete;
    read_in_progress& operator=(const read_in_progress&) = delete;
    ~read_in_progress()
    {
        conn_.input.set_waiting(false);
        conn_.input.take_stop_cancel();
        conn_.read_deadline.stop();
    }

private:
    connection_core<Stream>& conn_;
};

// What one kind of read takes from the input buffer. A Reader has:
//   using value_type = ...;
//   std::size_t block;                   // room the input buffer needs (0: any)
//   bool take(line_buffer&, value_type&, error_code&);   // true: done (value or error)
//   void end(value_type&, error_code finished, error_code&); // the stream ended first
//   static constexpr bool reads_lines; // true: ends at stop_reading()'s stop point;
//                                      // false: bytes a request announced, read while any are there
// `finished` is line_buffer::finish()'s verdict, or success when the end is stop_reading()'s.
template <class Reader>
concept reader = requires(Reader r, line_buffer& in, typename Reader::value_type& v, error_code& ec) {
    { r.block } -> std::convertible_to<std::size_t>;
    { Reader::reads_lines } -> std::convertible_to<bool>;
    { r.take(in, v, ec) } -> std::same_as<bool>;
    r.end(v, ec, ec);
};

// The rest of a read that the buffer could not serve (see `receive_operation`):
// receives until `reader` has what it wants, the time limit passes, or the
// stream ends. Before it waits, it sends what writes kept back (coalesce_writes).
// `done` and `ec` are what the first take from the buffer gave.
template <error_style Style, class Stream, reader Reader>
task<result<Style, typename Reader::value_type>> receive_rest(connection_core<Stream>& conn, duration timeout,
                                                              Reader reader, const char* what, bool done,
                                                              error_code ec, typename Reader::value_type value)
{
    if (read_refused(conn, true))
        co_return complete<Style>(read_refusal(conn), typename Reader::value_type{}, what);
    read_claim claim(conn.input);
    auto& input = conn.input.buffer();
    const std::size_t max_line = conn.options.max_line_length;
    // After stop_reading(), what had arrived then is read, and a line (or
    // block) that had begun is awaited; nothing else. (Over TLS the stop point
    // counts encrypted bytes, a little more than the lines: with none left
    // to read and no line begun, the lines are over too.)
    auto stop_point_reached = [&] {
        const bool nothing_left = conn.input.stopped() && input.unread().empty() && bytes_arrived(conn.stream) == 0;
        if constexpr (Reader::reads_lines)
            return conn.input.past_stop_point() || (nothing_left && !input.line_open());
        else
            return nothing_left;
    };
    const bool stopped_before = Reader::reads_lines && conn.input.past_stop_point();

    chain_cancellation parent = co_await this_chain;
    auto cancelled = [&] { return parent.cancelled() != asio::cancellation_type::none; };

    if ((!done || ec) && send_kept_now(conn, ec))
        co_await send_kept(conn, parent, ec);

    if (!done && !ec && (input.at_end() || stopped_before)) {
        reader.end(value, {}, ec);
    } else if (!done && !ec) {
        auto& deadline = conn.read_deadline;
        read_in_progress reading(conn, timeout);
        [[maybe_unused]] bool waited = false; // (streams that are not sockets)
        // The two ways to wait for the peer, each bound to the time limit and to our cancellation.
        auto token = [&] {
            return detail::use_task_bound{&ec, deadline.slot(parent.slot())};
        };
        auto wait_for_input = [&](auto& socket) { // (generic: instantiated only for sockets)
            return socket.async_wait(asio::socket_base::wait_read, token());
        };
        auto read_some = [&] {
            const std::span<char> space = input.prepare(max_line, reader.block);
            return conn.stream.async_read_some(asio::buffer(space.data(), space.size()), token());
        };
        bool stopped = false;
        while (!deadline.expired()) {
            if (cancelled()) {
                ec = asio::error::operation_aborted;
                break;
            }
            if (stop_point_reached()) {
                stopped = true;
                break;
            }
            std::size_t n = 0;
            if constexpr (connection_core<Stream>::direct_calls) {
                // A socket. Between requests, take what has arrived without
                // an Asio operation, and when nothing has, wait until something
                // does without holding buffers that have nothing in them. The
                // rest of a request begun (a long line) comes through Asio's read.
                if (!input.unread().empty()) {
                    input.commit(n = co_await read_some());
                    conn.input.yielded(); // its completion came through the executor's queue
                } else if ((n = conn.receive_now(reader.block, ec)) > 0 && conn.input.received_without_wait()) {
                    // A peer that keeps sending must not keep the others
                    // waiting: after a receive that needed no wait, the next
                    // lets the executor run the others first, as Asio's reads do.
                    co_await asio::post(conn.get_executor(), use_task);
                } else if (ec == asio::error::would_block) {
                    ec.clear();
                    conn.release_idle_buffers();
                    co_await wait_for_input(conn.stream);
                    conn.input.yielded();
                }
            } else {
                bool waiting_first = false;
                if constexpr (can_wait_for_input<Stream>) {
                    if (input.capacity() == 0 && !waited) {
                        // Nothing received yet: an idle connection costs no input buffer.
                        waited = waiting_first = true;
                        co_await wait_for_input(conn.stream);
                    }
                }
                if (!waiting_first)
                    input.commit(n = co_await read_some());
            }

            if (ec == asio::error::operation_aborted && conn.input.take_stop_cancel() && !deadline.expired()) {
                ec.clear();
                continue;
            }
            if (ec)
                break;
            if (n == 0)
                continue; // input has arrived (or waiting was cancelled): now read it
            if ((done = reader.take(input, value, ec)))
                break;
        }
        const bool expired = deadline.stop();
        if (expired && !done && (!ec || ec == asio::error::operation_aborted))
            ec = error::timeout;
        else if (ec == asio::error::eof) {
            ec.clear();
            reader.end(value, input.finish(), ec);
        } else if (stopped) {
            reader.end(value, {}, ec);
        }
    }

    co_return complete<Style>(ec, ec ? typename Reader::value_type{} : std::move(value), what);
}

// A read: `co_await operation<receive_operation<...>>` takes what `reader` wants from
// the input buffer without suspending when it is there (the usual case when
// requests are pipelined), and otherwise awaits receive_rest.
template <error_style Style, class Stream, reader Reader>
struct receive_operation {
    using result_type = result<Style, typename Reader::value_type>;

    connection_core<Stream>& conn;
    duration timeout;
    Reader reader;
    const char* what;
    typename Reader::value_type value{};
    error_code ec{};
    bool done = false;

    bool ready()
    {
        if (read_refused(conn, false)) [[unlikely]]
            return refuse();
        const bool stopped_before = Reader::reads_lines && conn.input.past_stop_point();
        done = !stopped_before && reader.take(conn.input.buffer(), value, ec);
        // An error (a line too long) waits for nothing either, unless writes
        // kept bytes: those go out first, as before any bad news.
        return done && (!ec || conn.output.empty());
    }
    result_type ready_result() { return complete<Style>(ec, std::move(value), what); }
    task<result_type> rest() { return receive_rest<Style>(conn, timeout, reader, what, done, ec, std::move(value)); }
    COLINE_COLD bool refuse()
    {
        ec = read_refusal(conn);
        return done = true;
    }
};

template <error_style Style, class Stream, reader Reader>
operation<receive_operation<Style, Stream, Reader>> receive_op(connection_core<Stream>& conn, duration timeout, Reader reader,
                                                     const char* what)
{
    return operation<receive_operation<Style, Stream, Reader>>{receive_operation<Style, Stream, Reader>{conn, timeout, reader, what}};
}

} // namespace coline::detail

COLINE_SILENCE_FRAME_WARNINGS_END

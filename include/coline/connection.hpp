// The connection: a stream plus the buffers and limits that line I/O needs.
#pragma once

#include <coline/detail/config.hpp>
#include <coline/error.hpp>
#include <coline/detail/deadline.hpp>
#include <coline/detail/line_buffer.hpp>
#include <coline/timeout.hpp>

#include <concepts>
#include <cstddef>
#include <exception>
#include <type_traits>
#include <string>
#include <string_view>
#include <utility>

namespace coline {

/// Limits that apply to one connection. Change them any time through
/// `connection::options()`; the next operation uses the new values.
struct connection_options {
    /// Longest line `read_line` accepts, not counting "\n" or "\r\n". Also
    /// bounds the input buffer: it never grows past this plus 2 bytes (or 4 KiB,
    /// whichever is larger).
    std::size_t max_line_length = 64 * 1024;
    /// Default time limit of each `read_line` (from its call until a whole line arrived).
    duration read_timeout = no_timeout;
    /// Default time limit of each `write_line` (until the kernel took the whole line).
    duration write_timeout = no_timeout;
    /// Answers to pipelined requests in one write: while the next request is
    /// already received (a whole line waits in the input buffer), `write_line`
    /// keeps its line in the output buffer, and `read_line` sends it before it
    /// waits for input or reports the end or an error (at most 64 KiB wait).
    /// Off by default because a connection that stops reading early must then
    /// `co_await flush(conn)` before it closes, or the kept lines are lost;
    /// `server` does that, and turns this on.
    bool coalesce_writes = false;
};

namespace detail {
struct connection_access;
}

/// A stream that speaks lines: it owns the stream (usually a TCP socket), the
/// buffer of received bytes that are not yet lines, and the output buffer.
///
/// Use it with `read_line` and `write_line`: one `read_line` at a time, and
/// any number of writers, which take turns (so a reader coroutine and writer
/// coroutines can share it). Use it from one thread at a time, like an Asio
/// socket, and do not move it while an operation on it is in progress.
///
///     coline::connection conn = co_await coline::accept(acceptor);
///     conn.options().read_timeout = std::chrono::seconds{30};
///
/// `Stream` is any Asio stream with `async_read_some`, `async_write_some`,
/// `get_executor` and `lowest_layer`; see `connection`, `local_connection`
/// and `tls_connection`.
template <class Stream>
class basic_connection {
public:
    /// The stream the connection owns.
    using stream_type = Stream;
    /// The executor its operations run on.
    using executor_type = typename Stream::executor_type;

    /// Takes over a stream that is already connected.
    explicit basic_connection(Stream stream, connection_options options = {})
        : stream_(std::move(stream)),
          options_(options),
          read_deadline_(stream_.get_executor()),
          write_deadline_(stream_.get_executor()),
          write_turn_(stream_.get_executor(), std::chrono::steady_clock::time_point::max())
    {
    }

    /// Moves the stream, the buffers and the limits (not while an operation is in progress).
    basic_connection(basic_connection&&) noexcept = default;
    /// Moves the stream, the buffers and the limits (not while an operation is in progress).
    basic_connection& operator=(basic_connection&&) noexcept = default;

    /// The underlying stream, for socket options, endpoints and the like.
    Stream& stream() noexcept { return stream_; }
    /// The underlying stream.
    const Stream& stream() const noexcept { return stream_; }

    /// The stream's executor.
    executor_type get_executor() noexcept { return stream_.get_executor(); }

    /// The connection's limits; changes apply from the next operation on.
    connection_options& options() noexcept { return options_; }
    /// The connection's limits.
    const connection_options& options() const noexcept { return options_; }

    /// Bytes received but not yet returned by `read_line`: the start of the
    /// next line, or after error::partial_line, the unterminated last line.
    std::string_view buffered() const noexcept { return input_.unread(); }

    /// Whether the peer ended the stream (read_line returned the end, or error::partial_line).
    bool at_end() const noexcept { return input_.at_end(); }

    /// Ends the input gracefully, as a server does when it shuts down:
    /// `read_line` still returns the lines already received (bytes that have
    /// reached the socket included), waits for a line that has begun to
    /// arrive, then returns the end of the stream without waiting for the peer
    /// to end it. A `read_line` waiting with nothing begun returns the end at
    /// once. Writing is not affected.
    void stop_reading() noexcept
    {
        reading_stopped_ = true;
        if (reading_ && input_.unread().empty()) {
            read_cancelled_by_stop_ = true;
            read_deadline_.cancel();
        }
    }

    /// Whether stop_reading() was called.
    bool reading_stopped() const noexcept { return reading_stopped_; }

    /// Closes the stream at once; operations in progress end with
    /// `asio::error::operation_aborted`. Closing twice is harmless.
    void close() noexcept
    {
        std::error_code ignored;
        stream_.lowest_layer().close(ignored);
    }

private:
    friend struct detail::connection_access;

    Stream stream_;
    connection_options options_;
    detail::line_buffer input_;
    std::string output_;  // lines written and not sent yet
    std::string sending_; // what the write in progress hands to the kernel
    detail::deadline<executor_type> read_deadline_;
    detail::deadline<executor_type> write_deadline_;
    // Never expires: writers wait on it for their turn, the write in progress cancels it when done.
    asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, executor_type>
        write_turn_;
    bool reading_ = false; // a read_line is waiting for input
    bool writing_ = false; // sending_ is being written
    bool reading_stopped_ = false;
    bool read_cancelled_by_stop_ = false; // the abort the read sees is stop_reading()'s
    std::error_code write_failed_;        // once a write failed, every later one fails alike
};

/// A stream protocol of Asio's: one whose sockets are
/// `asio::basic_stream_socket`s (`asio::ip::tcp`,
/// `asio::local::stream_protocol`). UDP and other datagram protocols are not.
template <class Protocol>
concept stream_protocol = requires {
    typename Protocol::endpoint;
    typename Protocol::socket;
} && std::same_as<typename Protocol::socket, asio::basic_stream_socket<Protocol>>;

/// An endpoint of a stream protocol: what `connect` and the servers take.
/// `asio::ip::udp::endpoint` is rejected at compile time.
template <class Endpoint>
concept stream_endpoint = requires { typename Endpoint::protocol_type; } && stream_protocol<typename Endpoint::protocol_type>;

/// A connection over a socket of `Protocol`: what `accept` returns for an
/// acceptor of that protocol, and `connect` for an endpoint of it.
template <stream_protocol Protocol, class Executor = asio::any_io_executor>
using socket_connection = basic_connection<asio::basic_stream_socket<Protocol, Executor>>;

/// A connection over TCP.
using connection = socket_connection<asio::ip::tcp>;

#if defined(ASIO_HAS_LOCAL_SOCKETS)
/// A connection over a Unix domain socket (`asio::local::stream_protocol`).
using local_connection = socket_connection<asio::local::stream_protocol>;
#endif

namespace detail {

// Line protocols exchange small messages: do not let Nagle hold them back.
template <class Socket>
void tune_for_lines(Socket& socket)
{
    if constexpr (std::is_same_v<typename Socket::protocol_type, asio::ip::tcp>) {
        std::error_code ignored;
        socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    }
}

// Lets read_line and write_line reach a connection's buffers; not for users.
struct connection_access {
    template <class Stream>
    static Stream& stream(basic_connection<Stream>& c) noexcept { return c.stream_; }
    template <class Stream>
    static line_buffer& input(basic_connection<Stream>& c) noexcept { return c.input_; }
    template <class Stream>
    static std::string& output(basic_connection<Stream>& c) noexcept { return c.output_; }
    template <class Stream>
    static auto& read_deadline(basic_connection<Stream>& c) noexcept { return c.read_deadline_; }
    template <class Stream>
    static auto& write_deadline(basic_connection<Stream>& c) noexcept { return c.write_deadline_; }
    template <class Stream>
    static bool& reading(basic_connection<Stream>& c) noexcept { return c.reading_; }
    template <class Stream>
    static bool writing(basic_connection<Stream>& c) noexcept { return c.writing_; }
    template <class Stream>
    static auto& write_turn(basic_connection<Stream>& c) noexcept { return c.write_turn_; }

    /// Whether write_line may keep its line for the next read_line to send.
    template <class Stream>
    static bool may_keep_output(basic_connection<Stream>& c) noexcept
    {
        constexpr std::size_t most_kept = 64 * 1024;
        return c.options_.coalesce_writes && c.output_.size() < most_kept && c.input_.has_line();
    }

    /// Starts writing the output buffer; await the result, then call finish_sending.
    /// Lines written meanwhile go to a fresh output buffer, never into the bytes in flight.
    template <class Stream>
    static auto start_sending(basic_connection<Stream>& c, duration timeout, asio::cancellation_slot parent,
                              std::error_code& ec)
    {
        c.writing_ = true;
        std::swap(c.output_, c.sending_);
        c.write_deadline_.start(timeout);
        return asio::async_write(c.stream_, asio::buffer(c.sending_),
                                 asio::bind_cancellation_slot(c.write_deadline_.slot(parent),
                                                              asio::redirect_error(asio::use_awaitable, ec)));
    }

    template <class Stream>
    static void finish_sending(basic_connection<Stream>& c, std::error_code& ec)
    {
        if (c.write_deadline_.stop() && ec == asio::error::operation_aborted)
            ec = error::timeout;
        c.sending_.clear();
        if (ec) {
            // Nobody knows how much the peer got: send nothing more, and tell
            // every writer whose line was waiting.
            c.write_failed_ = ec;
            c.output_.clear();
        }
        c.writing_ = false;
        c.write_turn_.cancel(); // wakes writers waiting for their turn
    }

    template <class Stream>
    static std::error_code write_failed(basic_connection<Stream>& c) noexcept { return c.write_failed_; }

    // The send never started (Asio threw at the co_await): the lines go back, unsent.
    template <class Stream>
    static void abandon_sending(basic_connection<Stream>& c)
    {
        c.write_deadline_.stop();
        c.output_.insert(0, c.sending_);
        c.sending_.clear();
        c.writing_ = false;
        c.write_turn_.cancel();
    }

    /// Whether the read just aborted was cancelled by stop_reading() (and forgets it).
    template <class Stream>
    static bool take_stop_cancel(basic_connection<Stream>& c) noexcept
    {
        return std::exchange(c.read_cancelled_by_stop_, false);
    }
};

/// Sends a connection's output buffer: `co_await send.start(...)`; the
/// destructor finishes the send whatever happened, so the connection is never
/// left looking busy. Results land in `ec`.
template <class Stream>
class output_send {
public:
    output_send(basic_connection<Stream>& conn, std::error_code& ec)
        : conn_(conn), ec_(ec), exceptions_(std::uncaught_exceptions())
    {
    }
    output_send(const output_send&) = delete;
    output_send& operator=(const output_send&) = delete;
    ~output_send()
    {
        if (std::uncaught_exceptions() > exceptions_)
            connection_access::abandon_sending(conn_);
        else
            connection_access::finish_sending(conn_, ec_);
    }

    auto start(duration timeout, asio::cancellation_slot parent)
    {
        return connection_access::start_sending(conn_, timeout, parent, ec_);
    }

private:
    basic_connection<Stream>& conn_;
    std::error_code& ec_;
    int exceptions_;
};

} // namespace detail
} // namespace coline

// The connection: a stream plus the buffers and limits that line I/O needs.
#pragma once

#include <coline/connection_options.hpp>
#include <coline/detail/config.hpp>
#include <coline/detail/connection_core.hpp>
#include <coline/error.hpp>
#include <coline/task.hpp>
#include <coline/timeout.hpp>
#include <coline/use_task.hpp>

#include <concepts>
#include <string_view>
#include <utility>

namespace coline {

template <class Stream>
class basic_connection;

namespace detail {
// What the operations work on: the connection's parts (detail/connection_core.hpp).
template <class Stream>
connection_core<Stream>& core_of(basic_connection<Stream>& conn) noexcept;
} // namespace detail

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
    explicit basic_connection(Stream stream, connection_options options = {}) : core_(std::move(stream), options) {}

    /// Moves the stream, the buffers and the limits (not while an operation is in progress).
    basic_connection(basic_connection&& other) noexcept = default;
    /// Moves the stream, the buffers and the limits (not while an operation
    /// is in progress). What this connection kept goes out first, as in the destructor.
    basic_connection& operator=(basic_connection&& other) noexcept = default;

    /// Closes the stream. Bytes that writes kept (`coalesce_writes`) are not
    /// lost: they go out first, and when the peer has not ended its side, the
    /// close waits for it to (dropping what it sends) so that it can read
    /// them. What the socket takes at once is sent here; the rest, and that
    /// wait, are finished by a coroutine on the connection's executor, each
    /// within `write_timeout` (10 seconds when it has none). When the peer is
    /// gone, the kept bytes are dropped: nobody is left to tell.
    ~basic_connection() = default;

    /// The underlying stream, for socket options, endpoints and the like.
    /// Bytes that writes kept (`coalesce_writes`) are not in it yet: `co_await
    /// flush(conn)` before a shutdown, or anything else that ends or hands over the stream.
    Stream& stream() noexcept { return core_.stream; }
    /// The underlying stream.
    const Stream& stream() const noexcept { return core_.stream; }

    /// The stream's executor.
    executor_type get_executor() noexcept { return core_.get_executor(); }

    /// The connection's limits; changes apply from the next operation on.
    connection_options& options() noexcept { return core_.options; }
    /// The connection's limits.
    const connection_options& options() const noexcept { return core_.options; }

    /// Bytes received but not yet returned by `read_line`: the start of the
    /// next line, or after error::partial_line, the unterminated last line.
    std::string_view buffered() const noexcept { return core_.input.buffer().unread(); }

    /// Whether the peer ended the stream (a read returned the end, or error::partial_line).
    bool at_end() const noexcept { return core_.input.buffer().at_end(); }

    /// How the last line `read_line` returned ended: "\r\n" or a bare "\n".
    /// A protocol that requires "\r\n" checks it here.
    line_ending last_line_ending() const noexcept
    {
        return core_.input.buffer().last_line_crlf() ? line_ending::crlf : line_ending::lf;
    }

    /// Ends the input gracefully, as a server does when it shuts down:
    /// `read_line` still returns the lines that had arrived when it was
    /// called (bytes that had reached the socket included), waits for the
    /// rest of the last of them if it had begun, then returns the end of the
    /// stream without waiting for the peer to end it. Lines sent later are not
    /// read, so a peer that keeps sending cannot keep the connection open.
    /// A `read_line` waiting with nothing begun returns the end at once.
    /// `read_exactly` and `read_some` still read a block of which some bytes
    /// have arrived. Writing is not affected.
    void stop_reading() noexcept { core_.stop_reading(); }

    /// Whether stop_reading() was called.
    bool reading_stopped() const noexcept { return core_.input.stopped(); }

    /// A time limit for a whole request made of several reads (a RESP
    /// command's bulk strings, a memcached value after its command, a long
    /// line read in pieces), which each read's own limit cannot give: a peer
    /// that dribbles one line every minute never breaks a `read_timeout` of
    /// five. Until `end_request()`, every read also ends with error::timeout
    /// once `options().request_timeout` (or `limit`) has passed since the
    /// first of them that had to wait; reads that the buffer serves at once
    /// are not timed, so a request that arrived whole costs no clock reading.
    /// Calling it while a request is under way changes nothing.
    ///
    ///     auto header = co_await coline::read_line(conn); // read_timeout: the idle limit
    ///     conn.begin_request();                           // the rest of this request, in all
    ///     auto value = co_await coline::read_exactly(conn, length);
    ///     conn.end_request();
    void begin_request() noexcept { core_.input.begin_request(core_.options.request_timeout); }
    /// `begin_request` with a time limit of its own for this request.
    void begin_request(duration limit) noexcept { core_.input.begin_request(limit); }
    /// Ends the request's time limit: the next reads have only their own.
    void end_request() noexcept { core_.input.end_request(); }

    /// Closes the stream at once; operations in progress end with
    /// `asio::error::operation_aborted`. Closing twice is harmless.
    void close() noexcept { core_.close(); }

private:
    friend detail::connection_core<Stream>& detail::core_of<Stream>(basic_connection&) noexcept;

    detail::connection_core<Stream> core_;
};

namespace detail {
template <class Stream>
connection_core<Stream>& core_of(basic_connection<Stream>& conn) noexcept
{
    return conn.core_;
}
} // namespace detail

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

#if defined(COLINE_HAS_LOCAL_SOCKETS)
/// A connection over a Unix domain socket (`asio::local::stream_protocol`).
using local_connection = socket_connection<asio::local::stream_protocol>;
#endif

} // namespace coline

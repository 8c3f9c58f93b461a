// Transports: how a server makes an accepted socket into the connection its
// handler gets (plain TCP, a Unix socket, or TLS in <coline/tls.hpp>).
#pragma once

#include <coline/connection.hpp>
#include <coline/error.hpp>

#include <concepts>
#include <system_error>
#include <tuple>
#include <utility>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline {

/// What `basic_server` needs of a transport:
/// - `protocol_type`, the stream protocol it accepts on;
/// - `connection_type`, what its handlers get;
/// - `open(socket, options)`, which awaits whatever comes between accept and
///   the first line (a TLS handshake, say) and returns the connection, or
///   the error that ended the attempt; the server runs it inside the
///   client's slot, so it counts toward `server_options::max_clients`;
/// - `sends_refusal_line`: whether a client over `max_clients` can read
///   `server_options::refusal_line` in clear (false for TLS, where it is
///   closed instead).
template <class T>
concept transport = stream_protocol<typename T::protocol_type> && requires(
    T& transport, typename T::protocol_type::socket socket, connection_options options) {
    typename T::connection_type;
    {
        transport.open(std::move(socket), options)
    } -> std::same_as<task<std::tuple<error_code, typename T::connection_type>>>;
    { T::sends_refusal_line } -> std::convertible_to<bool>;
};

/// A transport with nothing between accept and the first line: each client's
/// connection is its socket (TCP_NODELAY set for TCP).
template <stream_protocol Protocol>
struct plain_transport {
    /// The protocol the server accepts on.
    using protocol_type = Protocol;
    /// What the handler gets.
    using connection_type = socket_connection<Protocol>;
    /// A refused client reads the refusal line.
    static constexpr bool sends_refusal_line = true;

    /// Makes the connection; never suspends.
    task<std::tuple<error_code, connection_type>> open(typename Protocol::socket socket,
                                                                       connection_options options)
    {
        detail::tune_for_lines(socket);
        co_return std::tuple{error_code{}, connection_type(std::move(socket), options)};
    }
};

/// Plain TCP: the transport of `coline::server`.
using tcp_transport = plain_transport<asio::ip::tcp>;

#if defined(COLINE_HAS_LOCAL_SOCKETS)
/// Unix domain stream sockets: the transport of `coline::local_server`.
using local_transport = plain_transport<asio::local::stream_protocol>;
#endif

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

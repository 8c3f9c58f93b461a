// TLS: the same line I/O over asio::ssl::stream. Needs OpenSSL (Debian:
// libssl-dev; link OpenSSL::SSL, or coline::tls in CMake), which is why
// <coline/coline.hpp> does not include this header.
#pragma once

#include <coline/accept.hpp>
#include <coline/connect.hpp>
#include <coline/connection.hpp>
#include <coline/error.hpp>
#include <coline/read_line.hpp>
#include <coline/write_line.hpp>

#include <asio/ssl.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline {

/// A TCP socket with TLS on top.
using tls_stream = asio::ssl::stream<asio::ip::tcp::socket>;

/// A connection over TLS: `read_line`, `write_line` and `flush` work on it as
/// on a `connection`. What `accept_tls` and `connect_tls` return.
///
/// A peer that closes without TLS's own end (close_notify) makes `read_line`
/// fail with `asio::ssl::error::stream_truncated`, not return the end: over
/// TLS, only close_notify proves that nothing was cut off. End yours with
/// `shutdown_tls`.
using tls_connection = basic_connection<tls_stream>;

namespace detail {

// Bytes OpenSSL has already decrypted count as received (for stop_reading).
template <class Stream>
struct decoded_bytes<asio::ssl::stream<Stream>> {
    static bool waiting(asio::ssl::stream<Stream>& stream) { return ::SSL_pending(stream.native_handle()) > 0; }
};

// The TLS handshake on a connected stream, within `limit`.
inline asio::awaitable<std::error_code> handshake(tls_connection& conn, asio::ssl::stream_base::handshake_type type,
                                                  duration limit)
{
    std::error_code ec;
    deadline<asio::any_io_executor> deadline(co_await asio::this_coro::executor);
    asio::cancellation_state parent = co_await asio::this_coro::cancellation_state;
    deadline.start(limit);
    co_await conn.stream().async_handshake(
        type,
        asio::bind_cancellation_slot(deadline.slot(parent.slot()), asio::redirect_error(asio::use_awaitable, ec)));
    if (deadline.stop() && (!ec || ec == asio::error::operation_aborted))
        ec = error::timeout;
    co_return ec;
}

inline duration time_left(std::chrono::steady_clock::time_point due)
{
    if (due == std::chrono::steady_clock::time_point::max())
        return no_timeout;
    return std::max<duration>(due - std::chrono::steady_clock::now(), duration::zero());
}

template <class Executor>
asio::awaitable<std::tuple<std::error_code, tls_connection>>
accept_tls_op(asio::basic_socket_acceptor<asio::ip::tcp, Executor>& acceptor, asio::ssl::context& context,
              duration handshake_timeout, connection_options options)
{
    auto [ec, tcp] = co_await accept_op(acceptor, options);
    tls_connection conn(tls_stream(std::move(tcp.stream()), context), options);
    if (!ec)
        ec = co_await handshake(conn, asio::ssl::stream_base::server, handshake_timeout);
    if (ec)
        conn.close();
    co_return std::tuple{ec, std::move(conn)};
}

inline asio::awaitable<std::tuple<std::error_code, tls_connection>>
connect_tls_op(std::string_view host, std::string_view port, asio::ssl::context& context, duration timeout,
               connection_options options)
{
    const auto due = time_after(timeout);
    auto [ec, tcp] = co_await connect_op(host, port, timeout, options);
    tls_connection conn(tls_stream(std::move(tcp.stream()), context), options);
    if (!ec) {
        // The name the certificate must carry; a name (not an address) also
        // tells the server which certificate to send (SNI).
        const std::string name(host);
        std::error_code not_an_address;
        asio::ip::make_address(name, not_an_address);
        if (not_an_address && ::SSL_set_tlsext_host_name(conn.stream().native_handle(), name.c_str()) != 1)
            ec = std::error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
        conn.stream().set_verify_mode(asio::ssl::verify_peer);
        conn.stream().set_verify_callback(asio::ssl::host_name_verification(name));
    }
    if (!ec)
        ec = co_await handshake(conn, asio::ssl::stream_base::client, time_left(due));
    if (ec)
        conn.close();
    co_return std::tuple{ec, std::move(conn)};
}

} // namespace detail

/// Awaits the next client of `acceptor` and its TLS handshake, with the
/// certificate and key in `context`. The time limit covers the handshake: a
/// client that connects and never speaks TLS is dropped after it.
///
///     asio::ssl::context tls(asio::ssl::context::tls_server);
///     tls.use_certificate_chain_file("cert.pem"); tls.use_private_key_file("key.pem", asio::ssl::context::pem);
///     coline::tls_connection conn = co_await coline::accept_tls(acceptor, tls, std::chrono::seconds{10});
///
/// Throws `std::system_error` with Asio's accept errors, `error::timeout`, or
/// the handshake's TLS errors (category `asio.ssl`, e.g. "wrong version number"
/// for a client that does not speak TLS).
template <class Executor>
asio::awaitable<tls_connection> accept_tls(asio::basic_socket_acceptor<asio::ip::tcp, Executor>& acceptor,
                                           asio::ssl::context& context, duration handshake_timeout = no_timeout,
                                           connection_options options = {})
{
    auto [ec, conn] = co_await detail::accept_tls_op(acceptor, context, handshake_timeout, options);
    if (ec)
        throw std::system_error(ec, "coline::accept_tls");
    co_return std::move(conn);
}

/// `accept_tls` that reports errors instead of throwing them; on error the
/// connection holds a closed socket. A server loop goes on after a failed
/// handshake, which is one client's problem.
template <class Executor>
asio::awaitable<std::tuple<std::error_code, tls_connection>>
accept_tls(asio::basic_socket_acceptor<asio::ip::tcp, Executor>& acceptor, asio::ssl::context& context,
           duration handshake_timeout, as_tuple_t, connection_options options = {})
{
    return detail::accept_tls_op(acceptor, context, handshake_timeout, options);
}

/// Awaits a TCP connection to `host` on `port` and its TLS handshake. The
/// server's certificate must be valid for `context` (its trusted authorities:
/// `context.set_default_verify_paths()` for the system's, or
/// `context.load_verify_file("ca.pem")`) and name `host` (a DNS name or an IP
/// address); the name is also sent as SNI. The time limit covers it all.
///
///     asio::ssl::context tls(asio::ssl::context::tls_client);
///     tls.load_verify_file("cert.pem");
///     auto conn = co_await coline::connect_tls("localhost", "10443", tls, std::chrono::seconds{5});
///
/// Throws `std::system_error` with the errors of `connect`, or the
/// handshake's: "certificate verify failed" (category `asio.ssl`) for a
/// certificate that is not trusted or does not name `host`.
inline asio::awaitable<tls_connection> connect_tls(std::string_view host, std::string_view port,
                                                   asio::ssl::context& context, duration timeout = no_timeout,
                                                   connection_options options = {})
{
    auto [ec, conn] = co_await detail::connect_tls_op(host, port, context, timeout, options);
    if (ec)
        throw std::system_error(ec, "coline::connect_tls");
    co_return std::move(conn);
}

/// `connect_tls` that reports errors instead of throwing them (with or without a time limit).
inline asio::awaitable<std::tuple<std::error_code, tls_connection>>
connect_tls(std::string_view host, std::string_view port, asio::ssl::context& context, duration timeout, as_tuple_t,
            connection_options options = {})
{
    return detail::connect_tls_op(host, port, context, timeout, options);
}

inline asio::awaitable<std::tuple<std::error_code, tls_connection>>
connect_tls(std::string_view host, std::string_view port, asio::ssl::context& context, as_tuple_t,
            connection_options options = {})
{
    return detail::connect_tls_op(host, port, context, no_timeout, options);
}

/// Ends TLS cleanly: sends the lines still kept back (`flush`), then
/// close_notify, and waits (within `timeout`) for the peer's, or for it to
/// close. Then `close()` the connection. Never throws: at this point an error
/// only means that the peer went first; it is returned for logging.
///
///     co_await coline::shutdown_tls(conn, std::chrono::seconds{1});
///     conn.close();
inline asio::awaitable<std::error_code> shutdown_tls(tls_connection& conn, duration timeout)
{
    auto [ec] = co_await flush(conn, timeout, as_tuple);
    if (ec)
        co_return ec;
    detail::deadline<asio::any_io_executor> deadline(co_await asio::this_coro::executor);
    asio::cancellation_state parent = co_await asio::this_coro::cancellation_state;
    deadline.start(timeout);
    co_await conn.stream().async_shutdown(
        asio::bind_cancellation_slot(deadline.slot(parent.slot()), asio::redirect_error(asio::use_awaitable, ec)));
    if (deadline.stop() && (!ec || ec == asio::error::operation_aborted))
        ec = error::timeout;
    if (ec == asio::error::eof) // the peer closed after its close_notify, or without one: we are done anyway
        ec.clear();
    co_return ec;
}

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

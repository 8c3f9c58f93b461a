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
/// on a `connection`. What `start_tls` and `connect_tls` return.
///
/// A peer that closes without TLS's own end (close_notify) makes `read_line`
/// fail with `asio::ssl::error::stream_truncated`, not return the end: over
/// TLS, only close_notify proves that nothing was cut off. End yours with
/// `shutdown_tls`.
using tls_connection = basic_connection<tls_stream>;

namespace detail {

// For stop_reading: bytes OpenSSL holds, decrypted or not, count as received.
// (Best effort: Asio may also hold a few encrypted bytes in a buffer of its own.)
template <class Stream>
struct decoded_bytes<asio::ssl::stream<Stream>> {
    static bool waiting(asio::ssl::stream<Stream>& stream)
    {
        SSL* ssl = stream.native_handle();
        return ::SSL_has_pending(ssl) == 1 || ::BIO_ctrl_pending(::SSL_get_rbio(ssl)) > 0;
    }
};

inline duration time_left(std::chrono::steady_clock::time_point due)
{
    if (due == std::chrono::steady_clock::time_point::max())
        return no_timeout;
    return std::max<duration>(due - std::chrono::steady_clock::now(), duration::zero());
}

// Either side of the handshake on a connection that was plain until now. A
// client names the host the server's certificate must name.
inline asio::awaitable<std::tuple<std::error_code, tls_connection>>
start_tls_op(connection& plain, asio::ssl::context& context, const std::string* host, duration timeout)
{
    const auto due = time_after(timeout);
    // Lines still kept back (a STARTTLS protocol's "go ahead") go out in clear first.
    auto [ec] = co_await flush(plain, timeout, as_tuple);
    if (!ec && !plain.buffered().empty())
        ec = error::input_before_tls; // read in clear: they must not pass for encrypted input
    tls_connection conn(tls_stream(std::move(plain.stream()), context), plain.options());
    if (!ec && host) {
        // Only a name (not an address) tells the server which certificate to send (SNI).
        std::error_code not_an_address;
        asio::ip::make_address(*host, not_an_address);
        if (not_an_address && ::SSL_set_tlsext_host_name(conn.stream().native_handle(), host->c_str()) != 1) {
            const auto reason = ::ERR_get_error();
            ec = reason ? std::error_code(static_cast<int>(reason), asio::error::get_ssl_category())
                        : std::make_error_code(std::errc::invalid_argument);
        }
        conn.stream().set_verify_mode(asio::ssl::verify_peer);
        conn.stream().set_verify_callback(asio::ssl::host_name_verification(*host));
    }
    const auto side = host ? asio::ssl::stream_base::client : asio::ssl::stream_base::server;
    if (!ec)
        ec = co_await within(time_left(due), [&conn, side](auto token) { return conn.stream().async_handshake(side, token); });
    if (ec)
        conn.close();
    co_return std::tuple{ec, std::move(conn)};
}

// The name to check in the server's certificate, and to send as SNI:
// without the trailing dot of a fully qualified name (RFC 6066).
inline std::string name_to_verify(std::string_view host)
{
    if (host.size() > 1 && host.back() == '.')
        host.remove_suffix(1);
    return std::string(host);
}

inline asio::awaitable<std::tuple<std::error_code, tls_connection>>
connect_tls_op(std::string_view host, std::string_view port, asio::ssl::context& context, duration timeout,
               connection_options options)
{
    const auto due = time_after(timeout);
    const std::string name = name_to_verify(host);
    auto [ec, plain] = co_await connect_op(host, port, timeout, options);
    if (ec)
        co_return std::tuple{ec, tls_connection(tls_stream(std::move(plain.stream()), context), options)};
    co_return co_await start_tls_op(plain, context, &name, time_left(due));
}

} // namespace detail

/// Turns a connection that was plain TCP until now into a `tls_connection`
/// by awaiting the TLS handshake (`plain` is left closed): as the server, with
/// the certificate and key in `context`; or, given `host`, as the client,
/// which checks the server's certificate as `connect_tls` does. For a TLS
/// port, a server calls it first thing in each session: in the session, not
/// in the accept loop, so that a client that never completes its handshake
/// holds up only itself. For a protocol with its own "STARTTLS" exchange,
/// both sides call it after that exchange.
///
///     asio::ssl::context tls(asio::ssl::context::tls_server);
///     tls.use_certificate_chain_file("cert.pem"); tls.use_private_key_file("key.pem", asio::ssl::context::pem);
///     coline::tls_connection conn = co_await coline::start_tls(std::move(plain), tls, std::chrono::seconds{10});
///
/// First sends what `write_line` kept back, in clear. The time limit covers
/// that and the handshake. The connection keeps `plain`'s options.
///
/// Throws `std::system_error` with `error::timeout`, `error::input_before_tls`
/// (the peer sent more after its last line, before the handshake: bytes read
/// in clear must not pass for encrypted ones), the flush's errors, or the
/// handshake's TLS errors (category `asio.ssl`: "wrong version number" for a
/// peer that does not speak TLS, "certificate verify failed", ...).
inline asio::awaitable<tls_connection> start_tls(connection&& plain, asio::ssl::context& context,
                                                 duration timeout = no_timeout)
{
    auto [ec, conn] = co_await detail::start_tls_op(plain, context, nullptr, timeout);
    if (ec)
        throw std::system_error(ec, "coline::start_tls");
    co_return std::move(conn);
}

/// `start_tls` as the client, checking that the server's certificate names `host`.
inline asio::awaitable<tls_connection> start_tls(connection&& plain, asio::ssl::context& context,
                                                 std::string_view host, duration timeout = no_timeout)
{
    const std::string name = detail::name_to_verify(host);
    auto [ec, conn] = co_await detail::start_tls_op(plain, context, &name, timeout);
    if (ec)
        throw std::system_error(ec, "coline::start_tls");
    co_return std::move(conn);
}

/// `start_tls` as the server, reporting errors instead of throwing them; on
/// error the connection holds a closed socket.
///
///     auto [ec, conn] = co_await coline::start_tls(std::move(plain), tls, 10s, coline::as_tuple);
inline asio::awaitable<std::tuple<std::error_code, tls_connection>>
start_tls(connection&& plain, asio::ssl::context& context, duration timeout, as_tuple_t)
{
    co_return co_await detail::start_tls_op(plain, context, nullptr, timeout);
}

/// `start_tls` as the client, reporting errors instead of throwing them.
inline asio::awaitable<std::tuple<std::error_code, tls_connection>>
start_tls(connection&& plain, asio::ssl::context& context, std::string_view host, duration timeout, as_tuple_t)
{
    const std::string name = detail::name_to_verify(host);
    co_return co_await detail::start_tls_op(plain, context, &name, timeout);
}

/// The non-throwing `start_tls` without a time limit (a peer that never
/// completes its handshake is then waited for as long as it is connected).
inline asio::awaitable<std::tuple<std::error_code, tls_connection>> start_tls(connection&& plain,
                                                                              asio::ssl::context& context, as_tuple_t)
{
    co_return co_await detail::start_tls_op(plain, context, nullptr, no_timeout);
}

inline asio::awaitable<std::tuple<std::error_code, tls_connection>>
start_tls(connection&& plain, asio::ssl::context& context, std::string_view host, as_tuple_t)
{
    const std::string name = detail::name_to_verify(host);
    co_return co_await detail::start_tls_op(plain, context, &name, no_timeout);
}

/// Awaits a TCP connection to `host` on `port` and its TLS handshake. The
/// server's certificate must be valid for `context` (its trusted authorities:
/// `context.set_default_verify_paths()` for the system's, or
/// `context.load_verify_file("ca.pem")`) and name `host` (a DNS name or an IP
/// address); the name is also sent as SNI. This sets the stream's own verify
/// callback, which takes the place of one set on `context`. The time limit
/// covers connecting and the handshake, and resolving when the resolver
/// answers at all (Asio 1.22 cannot cancel a name lookup).
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
/// close_notify, and waits for the peer's close_notify or for it to close,
/// all within `timeout`. Then `close()` the connection. Never throws (but as
/// a cancelled coroutine does): the peer closing first, with or without its
/// close_notify, counts as done. Returns, for logging, `error::timeout` when
/// the peer neither answered nor closed in time, or another error of the
/// flush or of the socket (`asio::error::connection_reset`, ...).
///
///     co_await coline::shutdown_tls(conn, std::chrono::seconds{1});
///     conn.close();
inline asio::awaitable<std::error_code> shutdown_tls(tls_connection& conn, duration timeout)
{
    const auto due = detail::time_after(timeout);
    auto [ec] = co_await flush(conn, timeout, as_tuple);
    if (ec)
        co_return ec;
    ec = co_await detail::within(detail::time_left(due),
                                 [&conn](auto token) { return conn.stream().async_shutdown(token); });
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
        ec.clear(); // the peer closed after our close_notify: the end we wanted
    co_return ec;
}

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

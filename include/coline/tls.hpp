// TLS: the same line I/O over asio::ssl::stream. Needs OpenSSL (Debian:
// libssl-dev; link OpenSSL::SSL, or coline::tls in CMake), which is why
// <coline/coline.hpp> does not include this header.
#pragma once

#include <coline/connect.hpp>
#include <coline/connection.hpp>
#include <coline/detail/session_end.hpp>
#include <coline/error.hpp>
#include <coline/read_line.hpp>
#include <coline/transport.hpp>
#include <coline/write_line.hpp>

#if defined(COLINE_USE_BOOST_ASIO)
#include <boost/asio/ssl.hpp>
#else
#include <asio/ssl.hpp>
#endif

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
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
/// on a `connection`. What `start_tls` and `connect_tls` return, and what the
/// handlers of a server with `tls_transport` get.
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
    static std::size_t count(asio::ssl::stream<Stream>& stream)
    {
        SSL* ssl = stream.native_handle();
        return static_cast<std::size_t>(std::max(::SSL_pending(ssl), 0)) + ::BIO_ctrl_pending(::SSL_get_rbio(ssl));
    }
};

inline duration time_left(std::chrono::steady_clock::time_point due)
{
    if (due == std::chrono::steady_clock::time_point::max())
        return no_timeout;
    return std::max<duration>(due - std::chrono::steady_clock::now(), duration::zero());
}

// The name to check in the server's certificate, and to send as SNI:
// without the trailing dot of a fully qualified name (RFC 6066).
inline std::string name_to_verify(std::string_view host)
{
    if (host.size() > 1 && host.back() == '.')
        host.remove_suffix(1);
    return std::string(host);
}

// Either side of the handshake on a connection that was plain until now. A
// client names the host the server's certificate must name.
template <error_style Style>
task<result<Style, tls_connection>> start_tls_op(connection plain, asio::ssl::context& context,
                                                            std::optional<std::string> host, duration timeout)
{
    const auto due = time_after(timeout);
    // Lines still kept back (a STARTTLS protocol's "go ahead") go out in clear first.
    auto [ec] = co_await flush(plain, timeout, as_tuple);
    if (!ec && !plain.buffered().empty())
        ec = error::input_before_tls; // read in clear: they must not pass for encrypted input
    tls_connection conn(tls_stream(std::move(plain.stream()), context), plain.options());
    pass_session_link(core_of(plain), core_of(conn)); // under a server, the upgraded session stays in its care
    // OpenSSL's buffers only while a record is in flight: an idle or stalled
    // connection then costs a few kilobytes less.
    ::SSL_set_mode(conn.stream().native_handle(), SSL_MODE_RELEASE_BUFFERS);
    if (!ec && host) {
        *host = name_to_verify(*host);
        // Only a name (not an address) tells the server which certificate to send (SNI).
        error_code not_an_address;
        asio::ip::make_address(*host, not_an_address);
        if (not_an_address && ::SSL_set_tlsext_host_name(conn.stream().native_handle(), host->c_str()) != 1) {
            const auto reason = ::ERR_get_error();
            ec = reason ? error_code(static_cast<int>(reason), asio::error::get_ssl_category())
                        : error_code(std::make_error_code(std::errc::invalid_argument));
        }
        conn.stream().set_verify_mode(asio::ssl::verify_peer);
        conn.stream().set_verify_callback(asio::ssl::host_name_verification(*host));
    }
    const auto side = host ? asio::ssl::stream_base::client : asio::ssl::stream_base::server;
    if (!ec)
        ec = co_await within(time_left(due), [&conn, side](auto token) { return conn.stream().async_handshake(side, token); });
    if (ec)
        conn.close();
    co_return complete<Style>(ec, std::move(conn), "coline::start_tls");
}

template <error_style Style>
task<result<Style, tls_connection>> connect_tls_op(std::string host, port service,
                                                              asio::ssl::context& context, duration timeout)
{
    const auto due = time_after(timeout);
    auto [ec, plain] = co_await connect(host, std::move(service), timeout, as_tuple);
    if (ec)
        co_return complete<Style>(ec, tls_connection(tls_stream(std::move(plain.stream()), context)),
                                  "coline::connect_tls");
    auto [handshake_ec, conn] =
        co_await start_tls_op<as_tuple_t>(std::move(plain), context, std::move(host), time_left(due));
    co_return complete<Style>(handshake_ec, std::move(conn), "coline::connect_tls");
}

template <error_style Style, class Stream>
task<result<Style, void>> shutdown_tls_op(connection_core<Stream>& conn, duration timeout)
{
    const auto due = time_after(timeout);
    auto [ec] = co_await flush_op<as_tuple_t>(conn, timeout, {}, false, {}, "coline::flush");
    if (!ec)
        ec = co_await within(time_left(due), [&conn](auto token) { return conn.stream.async_shutdown(token); });
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
        ec.clear(); // the peer closed after our close_notify: the end we wanted
    co_return complete<Style>(ec, "coline::shutdown_tls");
}

// Over TLS, a session ends with close_notify, also when it failed (a peer
// whose TLS failed gets none: OpenSSL sends nothing after a fatal error);
// the peer has `linger` to answer it.
template <class Stream>
struct lingering_close<asio::ssl::stream<Stream>> {
    static constexpr bool after_errors = true;
    static task<void> run(connection_core<asio::ssl::stream<Stream>>& conn, duration linger)
    {
        co_await shutdown_tls_op<as_tuple_t>(conn, linger);
    }
};

} // namespace detail

/// Turns a connection that was plain TCP until now into a `tls_connection`
/// by awaiting the TLS handshake: as the server, with the certificate and key
/// in `context`. For a TLS port, let a server with `tls_transport` do this;
/// call it yourself for a protocol with its own "STARTTLS" exchange, after
/// that exchange. `plain` is taken over; `context` must outlive the
/// connection, as with `asio::ssl::stream`.
///
///     asio::ssl::context tls(asio::ssl::context::tls_server);
///     tls.use_certificate_chain_file("cert.pem"); tls.use_private_key_file("key.pem", asio::ssl::context::pem);
///     coline::tls_connection conn = co_await coline::start_tls(std::move(plain), tls, std::chrono::seconds{10});
///
/// First sends what `write_line` kept back, in clear. The time limit covers
/// that and the handshake. The connection keeps `plain`'s options.
///
/// Errors: `error::timeout`, `error::input_before_tls` (the peer sent more
/// after its last line, before the handshake: bytes read in clear must not
/// pass for encrypted ones), the flush's errors, or the handshake's TLS
/// errors (category `asio.ssl`: "wrong version number" for a peer that does
/// not speak TLS, "certificate verify failed", ...). With `coline::as_tuple`
/// the connection holds a closed socket on error.
template <error_style Style = throw_on_error_t>
task<result<Style, tls_connection>> start_tls(connection plain, asio::ssl::context& context,
                                                         Style = Style{})
{
    return detail::start_tls_op<Style>(std::move(plain), context, std::nullopt, no_timeout);
}

/// `start_tls` as the server within `timeout`.
template <error_style Style = throw_on_error_t>
task<result<Style, tls_connection>> start_tls(connection plain, asio::ssl::context& context,
                                                         duration timeout, Style = Style{})
{
    return detail::start_tls_op<Style>(std::move(plain), context, std::nullopt, timeout);
}

/// `start_tls` as the client: the server's certificate must be valid for
/// `context` and name `host`, as with `connect_tls`.
template <error_style Style = throw_on_error_t>
task<result<Style, tls_connection>> start_tls(connection plain, asio::ssl::context& context,
                                                         std::string host, Style = Style{})
{
    return detail::start_tls_op<Style>(std::move(plain), context, std::move(host), no_timeout);
}

/// `start_tls` as the client within `timeout`.
template <error_style Style = throw_on_error_t>
task<result<Style, tls_connection>> start_tls(connection plain, asio::ssl::context& context,
                                                         std::string host, duration timeout, Style = Style{})
{
    return detail::start_tls_op<Style>(std::move(plain), context, std::move(host), timeout);
}

/// Awaits a TCP connection to `host` on `service` and its TLS handshake. The
/// server's certificate must be valid for `context` (its trusted authorities:
/// `context.set_default_verify_paths()` for the system's, or
/// `context.load_verify_file("ca.pem")`) and name `host` (a DNS name or an IP
/// address); the name is also sent as SNI. This sets the stream's own verify
/// callback, which takes the place of one set on `context`. The time limit
/// covers connecting and the handshake, and resolving when the resolver
/// answers at all. `context` must outlive the connection.
///
///     asio::ssl::context tls(asio::ssl::context::tls_client);
///     tls.load_verify_file("cert.pem");
///     auto conn = co_await coline::connect_tls("localhost", 10443, tls, std::chrono::seconds{5});
///
/// Errors: those of `connect`, or the handshake's: "certificate verify
/// failed" (category `asio.ssl`) for a certificate that is not trusted or
/// does not name `host`.
template <error_style Style = throw_on_error_t>
task<result<Style, tls_connection>> connect_tls(std::string host, port service,
                                                           asio::ssl::context& context, Style = Style{})
{
    return detail::connect_tls_op<Style>(std::move(host), std::move(service), context, no_timeout);
}

/// `connect_tls` within `timeout`.
template <error_style Style = throw_on_error_t>
task<result<Style, tls_connection>> connect_tls(std::string host, port service,
                                                           asio::ssl::context& context, duration timeout,
                                                           Style = Style{})
{
    return detail::connect_tls_op<Style>(std::move(host), std::move(service), context, timeout);
}

/// Ends TLS cleanly: sends the lines still kept back (`flush`), then
/// close_notify, and waits for the peer's close_notify or for it to close,
/// all within `timeout`. Then `close()` the connection. The peer closing
/// first, with or without its close_notify, counts as done.
///
///     co_await coline::shutdown_tls(conn, std::chrono::seconds{1}, coline::as_tuple);
///     conn.close();
///
/// Errors: `error::timeout` when the peer neither answered nor closed in
/// time, or another error of the flush or of the socket
/// (`asio::error::connection_reset`, ...).
template <error_style Style = throw_on_error_t>
task<result<Style, void>> shutdown_tls(tls_connection& conn, duration timeout, Style = Style{})
{
    return detail::shutdown_tls_op<Style>(detail::core_of(conn), timeout);
}

/// The transport of a TLS server: each accepted client's handshake runs in
/// its own slot of the server (counted toward `server_options::max_clients`),
/// within `handshake_timeout`, so a client that never completes it holds up
/// no one else. A client over `max_clients` is closed before its handshake,
/// so its handshake fails: OpenSSL reports a truncated stream, or a reset
/// when its ClientHello reached the server before the close.
///
///     coline::run_server(endpoint, session, {}, {}, coline::tls_transport{tls});
struct tls_transport {
    /// Accepts TCP.
    using protocol_type = asio::ip::tcp;
    /// What the handler gets.
    using connection_type = tls_connection;
    /// A refused client is closed: it could not read a line sent in clear.
    static constexpr bool sends_refusal_line = false;

    /// The server's certificate and key; must outlive the server.
    asio::ssl::context* context;
    /// How long a client may take over its handshake.
    duration handshake_timeout = std::chrono::seconds{10};
    /// Handshakes in progress at once (across the threads of `run_server`);
    /// a client over it is closed at once, and the server reports
    /// `std::errc::resource_unavailable_try_again` to `on_handler_error`.
    std::size_t max_handshakes = 10'000;

    /// `tls_transport{tls}`, the rest as it comes by default.
    explicit tls_transport(asio::ssl::context& tls_context) : context(&tls_context) {}

    /// Awaits the server's side of the handshake.
    task<std::tuple<error_code, tls_connection>> open(asio::ip::tcp::socket socket,
                                                                     connection_options options)
    {
        if (handshakes_->fetch_add(1) >= max_handshakes) {
            --*handshakes_;
            error_code ignored;
            socket.close(ignored);
            co_return std::tuple{error_code(std::make_error_code(std::errc::resource_unavailable_try_again)),
                                 tls_connection(tls_stream(std::move(socket), *context), options)};
        }
        struct counted {
            std::atomic<std::size_t>& count;
            ~counted() { --count; }
        } in_progress{*handshakes_};
        detail::tune_for_lines(socket);
        co_return co_await detail::start_tls_op<as_tuple_t>(connection(std::move(socket), options), *context,
                                                            std::nullopt, handshake_timeout);
    }

private:
    std::shared_ptr<std::atomic<std::size_t>> handshakes_ = std::make_shared<std::atomic<std::size_t>>(0);
};

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

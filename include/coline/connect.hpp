// connect: a client's connection to a host and port.
#pragma once

#include <coline/accept.hpp>
#include <coline/connection.hpp>
#include <coline/error.hpp>

#include <string_view>
#include <system_error>
#include <tuple>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline {
namespace detail {

inline asio::awaitable<std::tuple<std::error_code, connection>>
connect_op(std::string_view host, std::string_view port, duration timeout, connection_options options)
{
    const auto executor = co_await asio::this_coro::executor;
    connection conn(asio::ip::tcp::socket(executor), options);
    std::error_code ec;

    deadline<asio::any_io_executor> deadline(executor);
    asio::cancellation_state parent = co_await asio::this_coro::cancellation_state;
    deadline.start(timeout);
    asio::ip::tcp::resolver resolver(executor);
    const auto endpoints = co_await resolver.async_resolve(
        host, port,
        asio::bind_cancellation_slot(deadline.slot(parent.slot()), asio::redirect_error(asio::use_awaitable, ec)));
    if (!ec && !deadline.expired())
        co_await asio::async_connect(
            conn.stream(), endpoints,
            asio::bind_cancellation_slot(deadline.slot(parent.slot()), asio::redirect_error(asio::use_awaitable, ec)));
    if (deadline.stop() && (!ec || ec == asio::error::operation_aborted))
        ec = error::timeout;
    if (ec)
        conn.close(); // a failed range connect leaves the last socket it tried open
    else
        tune_for_lines(conn.stream());
    co_return std::tuple{ec, std::move(conn)};
}

template <class Endpoint>
using connection_for = basic_connection<typename Endpoint::protocol_type::socket>;

template <class Endpoint>
asio::awaitable<std::tuple<std::error_code, connection_for<Endpoint>>>
connect_endpoint_op(Endpoint endpoint, duration timeout, connection_options options)
{
    const auto executor = co_await asio::this_coro::executor;
    connection_for<Endpoint> conn(typename Endpoint::protocol_type::socket(executor), options);
    const std::error_code ec =
        co_await within(timeout, [&conn, &endpoint](auto token) { return conn.stream().async_connect(endpoint, token); });
    if (ec)
        conn.close();
    else
        tune_for_lines(conn.stream());
    co_return std::tuple{ec, std::move(conn)};
}

template <class T>
concept stream_endpoint = requires { typename T::protocol_type::socket; };

} // namespace detail

/// Awaits a TCP connection to `host` (a name, an IPv4 or an IPv6 address) on
/// `port` (a number or a service name), trying each address the name resolves
/// to in turn. The time limit covers connecting, and resolving when the
/// resolver answers at all: Asio 1.22 cannot cancel a name lookup
/// (getaddrinfo), so a lookup that hangs holds `connect` until it returns.
///
///     auto conn = co_await coline::connect("127.0.0.1", "10008", std::chrono::seconds{5});
///
/// Throws `std::system_error` with `error::timeout`, or Asio's errors
/// (`asio::error::connection_refused`, `asio::error::host_not_found`, ...).
inline asio::awaitable<connection> connect(std::string_view host, std::string_view port,
                                           duration timeout = no_timeout, connection_options options = {})
{
    auto [ec, conn] = co_await detail::connect_op(host, port, timeout, options);
    if (ec)
        throw std::system_error(ec, "coline::connect");
    co_return std::move(conn);
}

/// `connect` that reports errors instead of throwing them; on error the
/// connection holds a closed socket.
///
///     auto [ec, conn] = co_await coline::connect("::1", "10008", std::chrono::seconds{5}, coline::as_tuple);
inline asio::awaitable<std::tuple<std::error_code, connection>>
connect(std::string_view host, std::string_view port, duration timeout, as_tuple_t, connection_options options = {})
{
    return detail::connect_op(host, port, timeout, options);
}

/// The non-throwing `connect` without a time limit.
inline asio::awaitable<std::tuple<std::error_code, connection>>
connect(std::string_view host, std::string_view port, as_tuple_t, connection_options options = {})
{
    return detail::connect_op(host, port, no_timeout, options);
}

/// Awaits a connection to an endpoint of any stream protocol: TCP
/// (`asio::ip::tcp::endpoint`, no name to resolve) or a Unix domain socket
/// (`asio::local::stream_protocol::endpoint`, a path).
///
///     auto conn = co_await coline::connect(asio::local::stream_protocol::endpoint{"/run/app.sock"});
///
/// Throws `std::system_error` with `error::timeout`, or Asio's errors
/// (`asio::error::connection_refused`; for a Unix socket path that does not
/// exist, ENOENT in Asio's system category: "No such file or directory"; ...).
template <detail::stream_endpoint Endpoint>
asio::awaitable<detail::connection_for<Endpoint>> connect(Endpoint endpoint, duration timeout = no_timeout,
                                                          connection_options options = {})
{
    auto [ec, conn] = co_await detail::connect_endpoint_op(std::move(endpoint), timeout, options);
    if (ec)
        throw std::system_error(ec, "coline::connect");
    co_return std::move(conn);
}

/// `connect` to an endpoint that reports errors instead of throwing them.
template <detail::stream_endpoint Endpoint>
asio::awaitable<std::tuple<std::error_code, detail::connection_for<Endpoint>>>
connect(Endpoint endpoint, duration timeout, as_tuple_t, connection_options options = {})
{
    return detail::connect_endpoint_op(std::move(endpoint), timeout, options);
}

/// The non-throwing `connect` to an endpoint, without a time limit.
template <detail::stream_endpoint Endpoint>
asio::awaitable<std::tuple<std::error_code, detail::connection_for<Endpoint>>>
connect(Endpoint endpoint, as_tuple_t, connection_options options = {})
{
    return detail::connect_endpoint_op(std::move(endpoint), no_timeout, options);
}

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

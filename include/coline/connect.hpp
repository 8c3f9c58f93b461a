// connect: a client's connection to a host and port, or to an endpoint.
#pragma once

#include <coline/connection.hpp>
#include <coline/error.hpp>

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline {

/// The port to connect to: a number (`10008`) or a service name (`"http"`,
/// `"10008"`), as the resolver takes it. A number outside 0 to 65535 makes
/// `connect` fail with `std::errc::invalid_argument`.
class port {
public:
    /// A port number.
    template <std::integral Number>
    port(Number number) // NOLINT(google-explicit-constructor): connect(host, 10008)
        : text_(number >= 0 && static_cast<unsigned long long>(number) <= 65535 ? std::to_string(number)
                                                                                : std::string())
    {
    }
    /// A service name or a port number written out.
    port(std::string service) : text_(std::move(service)) {} // NOLINT(google-explicit-constructor)
    /// A service name or a port number written out.
    port(std::string_view service) : text_(service) {} // NOLINT(google-explicit-constructor)
    /// A service name or a port number written out.
    port(const char* service) : text_(service) {} // NOLINT(google-explicit-constructor)

    /// What the resolver is given; empty for a number out of range.
    const std::string& service() const noexcept { return text_; }

private:
    std::string text_;
};

namespace detail {

template <error_style Style>
task<result<Style, connection>> connect_op(std::string host, port service, duration timeout)
{
    const auto executor = co_await asio::this_coro::executor;
    connection conn{asio::ip::tcp::socket(executor)};
    error_code ec;
    if (service.service().empty())
        ec = error_code(std::make_error_code(std::errc::invalid_argument));

    deadline<asio::any_io_executor> deadline(executor);
    detail::chain_cancellation parent = co_await detail::this_chain;
    deadline.start(timeout);
    asio::ip::tcp::resolver resolver(executor);
    asio::ip::tcp::resolver::results_type endpoints;
    if (!ec)
        endpoints = co_await resolver.async_resolve(
            host, service.service(),
            detail::use_task_bound{&ec, deadline.slot(parent.slot())});
    if (!ec && !deadline.expired())
        co_await asio::async_connect(
            conn.stream(), endpoints,
            detail::use_task_bound{&ec, deadline.slot(parent.slot())});
    if (deadline.stop() && (!ec || ec == asio::error::operation_aborted))
        ec = error::timeout;
    if (ec)
        conn.close(); // a failed range connect leaves the last socket it tried open
    else
        tune_for_lines(conn.stream());
    co_return complete<Style>(ec, std::move(conn), "coline::connect");
}

template <error_style Style, stream_endpoint Endpoint>
task<result<Style, basic_connection<typename Endpoint::protocol_type::socket>>>
connect_endpoint_op(Endpoint endpoint, duration timeout)
{
    using protocol = typename Endpoint::protocol_type;
    socket_connection<protocol> conn(typename protocol::socket(co_await asio::this_coro::executor));
    const error_code ec =
        co_await within(timeout, [&conn, &endpoint](auto token) { return conn.stream().async_connect(endpoint, token); });
    if (ec)
        conn.close();
    else
        tune_for_lines(conn.stream());
    co_return complete<Style>(ec, std::move(conn), "coline::connect");
}

} // namespace detail

/// Awaits a TCP connection to `host` (a name, an IPv4 or an IPv6 address) on
/// `service` (a port number or a service name), trying each address the name
/// resolves to in turn. The arguments are copied: temporaries are fine. The
/// connection has default options; set `conn.options()` after.
///
/// The time limit covers connecting, and resolving when the resolver answers
/// at all: Asio cannot cancel a name lookup (getaddrinfo), so a lookup that
/// hangs holds `connect` until it returns.
///
///     auto conn = co_await coline::connect("127.0.0.1", 10008, std::chrono::seconds{5});
///     auto [ec, conn] = co_await coline::connect("::1", "10008", coline::as_tuple);
///
/// Errors: `error::timeout`, or Asio's (`asio::error::connection_refused`,
/// `asio::error::host_not_found`, ...). With `coline::as_tuple`, the
/// connection holds a closed socket on error.
template <error_style Style = throw_on_error_t>
task<result<Style, connection>> connect(std::string host, port service, Style = Style{})
{
    return detail::connect_op<Style>(std::move(host), std::move(service), no_timeout);
}

/// `connect` to a host within `timeout`.
template <error_style Style = throw_on_error_t>
task<result<Style, connection>> connect(std::string host, port service, duration timeout,
                                                   Style = Style{})
{
    return detail::connect_op<Style>(std::move(host), std::move(service), timeout);
}

/// Awaits a connection to an endpoint of a stream protocol: TCP
/// (`asio::ip::tcp::endpoint`, no name to resolve) or a Unix domain socket
/// (`asio::local::stream_protocol::endpoint`, a path). A datagram endpoint
/// (UDP) does not compile.
///
///     auto conn = co_await coline::connect(asio::local::stream_protocol::endpoint{"/run/app.sock"});
///
/// Errors: `error::timeout`, or Asio's (`asio::error::connection_refused`;
/// for a Unix socket path that does not exist, ENOENT in Asio's system
/// category: "No such file or directory"; ...).
template <stream_endpoint Endpoint, error_style Style = throw_on_error_t>
task<result<Style, basic_connection<typename Endpoint::protocol_type::socket>>> connect(Endpoint endpoint,
                                                                                           Style = Style{})
{
    return detail::connect_endpoint_op<Style>(std::move(endpoint), no_timeout);
}

/// `connect` to an endpoint within `timeout`.
template <stream_endpoint Endpoint, error_style Style = throw_on_error_t>
task<result<Style, basic_connection<typename Endpoint::protocol_type::socket>>>
connect(Endpoint endpoint, duration timeout, Style = Style{})
{
    return detail::connect_endpoint_op<Style>(std::move(endpoint), timeout);
}

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

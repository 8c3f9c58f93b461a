// accept: the next client of a listening socket, as a connection.
#pragma once

#include <coline/connection.hpp>
#include <coline/error.hpp>

#include <system_error>
#include <tuple>
#include <type_traits>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline {
namespace detail {

template <class Protocol, class Executor>
using accepted_connection = basic_connection<asio::basic_stream_socket<Protocol, Executor>>;

// Line protocols exchange small messages: do not let Nagle hold them back.
template <class Socket>
void tune_for_lines(Socket& socket)
{
    if constexpr (std::is_same_v<typename Socket::protocol_type, asio::ip::tcp>) {
        std::error_code ignored;
        socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    }
}

template <class Protocol, class Executor>
asio::awaitable<std::tuple<std::error_code, accepted_connection<Protocol, Executor>>>
accept_op(asio::basic_socket_acceptor<Protocol, Executor>& acceptor, connection_options options)
{
    std::error_code ec;
    asio::basic_stream_socket<Protocol, Executor> socket(acceptor.get_executor());
    co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec)
        tune_for_lines(socket);
    co_return std::tuple{ec, accepted_connection<Protocol, Executor>(std::move(socket), options)};
}

} // namespace detail

/// Awaits the next client of `acceptor` and returns it as a connection with
/// `options` (TCP_NODELAY set for TCP).
///
///     asio::ip::tcp::acceptor acceptor(executor, {asio::ip::tcp::v4(), 10008});
///     for (;;)
///         asio::co_spawn(executor, session(co_await coline::accept(acceptor)), asio::detached);
///
/// Throws `std::system_error` with Asio's accept errors: `asio::error::operation_aborted`
/// when the acceptor is closed, `asio::error::no_descriptors` (EMFILE) and so on.
template <class Protocol, class Executor>
asio::awaitable<detail::accepted_connection<Protocol, Executor>>
accept(asio::basic_socket_acceptor<Protocol, Executor>& acceptor, connection_options options = {})
{
    auto [ec, conn] = co_await detail::accept_op(acceptor, options);
    if (ec)
        throw std::system_error(ec, "coline::accept");
    co_return std::move(conn);
}

/// `accept` that reports errors instead of throwing them; on error the
/// connection holds a closed socket.
///
///     auto [ec, conn] = co_await coline::accept(acceptor, coline::as_tuple);
template <class Protocol, class Executor>
asio::awaitable<std::tuple<std::error_code, detail::accepted_connection<Protocol, Executor>>>
accept(asio::basic_socket_acceptor<Protocol, Executor>& acceptor, as_tuple_t, connection_options options = {})
{
    return detail::accept_op(acceptor, options);
}

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

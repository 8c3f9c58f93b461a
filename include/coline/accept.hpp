// accept: the next client of a listening socket, as a connection.
#pragma once

#include <coline/connection.hpp>
#include <coline/error.hpp>

#include <system_error>
#include <tuple>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline {
namespace detail {

template <error_style Style, class Protocol, class Executor>
task<result<Style, socket_connection<Protocol, Executor>>>
accept_op(asio::basic_socket_acceptor<Protocol, Executor>& acceptor)
{
    error_code ec;
    asio::basic_stream_socket<Protocol, Executor> socket(acceptor.get_executor());
    co_await acceptor.async_accept(socket, asio::redirect_error(use_task, ec));
    if (!ec)
        tune_for_lines(socket);
    co_return complete<Style>(ec, socket_connection<Protocol, Executor>(std::move(socket)), "coline::accept");
}

} // namespace detail

/// Awaits the next client of `acceptor` and returns it as a connection with
/// default options (TCP_NODELAY set for TCP). The acceptor must outlive the
/// operation, as with Asio's own `async_accept`.
///
///     asio::ip::tcp::acceptor acceptor(executor, {asio::ip::tcp::v4(), 10008});
///     for (;;)
///         coline::spawn(executor, session(co_await coline::accept(acceptor)), asio::detached);
///
/// Errors: Asio's accept errors, `asio::error::operation_aborted` when the
/// acceptor is closed, `asio::error::no_descriptors` (EMFILE) and so on. With
/// `coline::as_tuple`, the connection holds a closed socket on error.
template <stream_protocol Protocol, class Executor, error_style Style = throw_on_error_t>
task<result<Style, socket_connection<Protocol, Executor>>>
accept(asio::basic_socket_acceptor<Protocol, Executor>& acceptor, Style = Style{})
{
    return detail::accept_op<Style>(acceptor);
}

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

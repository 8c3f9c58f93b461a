// write_line: send one line, plain or formatted with {fmt}.
#pragma once

#include <coline/connection.hpp>
#include <coline/error.hpp>

#include <fmt/format.h>

#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline {
namespace detail {

template <bool Throws>
using write_line_result = std::conditional_t<Throws, void, std::tuple<std::error_code>>;

template <class Stream>
std::error_code append_line(basic_connection<Stream>& conn, std::string_view text)
{
    if (text.find('\n') != std::string_view::npos)
        return error::newline_in_line;
    auto& output = connection_access::output(conn);
    output.append(text);
    output.push_back('\n');
    return {};
}

template <class Stream, class... Args>
std::error_code append_line(basic_connection<Stream>& conn, fmt::format_string<Args...> format, Args&&... args)
{
    auto& output = connection_access::output(conn);
    const std::size_t start = output.size();
    try {
        fmt::format_to(std::back_inserter(output), format, std::forward<Args>(args)...);
    } catch (...) {
        output.resize(start); // no half-formatted line may go out with the next one
        throw;
    }
    if (output.find('\n', start) != std::string::npos) {
        output.resize(start);
        return error::newline_in_line;
    }
    output.push_back('\n');
    return {};
}

// Sends what the connection's output buffer holds (unless `ec` is already
// set, or `may_keep` and the line can wait for the next read_line).
template <bool Throws, class Stream>
asio::awaitable<write_line_result<Throws>> flush_op(basic_connection<Stream>& conn, duration timeout,
                                                   std::error_code ec, bool may_keep = true)
{
    using access = connection_access;
    asio::cancellation_state parent = co_await asio::this_coro::cancellation_state;
    auto cancelled = [&] { return parent.cancelled() != asio::cancellation_type::none; };
    while (!ec && access::writing(conn) && !cancelled()) { // another coroutine's write, or read_line's
        std::error_code ignored;
        co_await access::write_turn(conn).async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    if (!ec && cancelled())
        ec = asio::error::operation_aborted;
    if (!ec)
        ec = access::write_failed(conn);
    if (!ec && !access::output(conn).empty() && !(may_keep && access::may_keep_output(conn))) {
        output_send send(conn, ec);
        co_await send.start(timeout, parent.slot());
    }

    if constexpr (Throws) {
        if (ec)
            throw std::system_error(ec, "coline::write_line");
    } else {
        co_return std::tuple{ec};
    }
}

} // namespace detail

/// Awaits sending `text` followed by "\n". Returns once the kernel has taken
/// the whole line (the line is copied first: `text` may go away after the call),
/// or with `coalesce_writes`, once it is kept for the next `read_line` to send.
/// Writes from several coroutines take turns; each line goes out whole.
///
///     co_await coline::write_line(conn, "Information received");
///
/// Time limit: `conn.options().write_timeout`, or the `duration` overload.
///
/// Throws `std::system_error` with:
/// - `error::newline_in_line`: `text` contains '\n' (nothing is sent);
/// - `error::timeout`: the peer did not take the line in time (it does not
///   read). Part of the line may have been sent: close the connection.
/// - Asio's errors from the stream (`asio::error::broken_pipe`, ...).
template <class Stream>
asio::awaitable<void> write_line(basic_connection<Stream>& conn, std::string_view text)
{
    return detail::flush_op<true>(conn, conn.options().write_timeout, detail::append_line(conn, text));
}

/// Formats a line with {fmt} straight into the connection's output buffer
/// (no temporary string), appends "\n" and sends it, like the plain overload.
///
///     co_await coline::write_line(conn, "VALUE {} {}", key, value.size());
template <class Stream, class... Args>
    requires(sizeof...(Args) > 0)
asio::awaitable<void> write_line(basic_connection<Stream>& conn, fmt::format_string<Args...> format, Args&&... args)
{
    return detail::flush_op<true>(conn, conn.options().write_timeout,
                                  detail::append_line(conn, format, std::forward<Args>(args)...));
}

/// `write_line` with its own time limit, given before the text:
///
///     co_await coline::write_line(conn, std::chrono::seconds{2}, "Connect");
template <class Stream, class... Args>
    requires(sizeof...(Args) > 0)
asio::awaitable<void> write_line(basic_connection<Stream>& conn, duration timeout, fmt::format_string<Args...> format,
                                 Args&&... args)
{
    return detail::flush_op<true>(conn, timeout, detail::append_line(conn, format, std::forward<Args>(args)...));
}

/// `write_line` of plain text with its own time limit.
template <class Stream>
asio::awaitable<void> write_line(basic_connection<Stream>& conn, duration timeout, std::string_view text)
{
    return detail::flush_op<true>(conn, timeout, detail::append_line(conn, text));
}

/// `write_line` that reports errors instead of throwing them:
///
///     auto [ec] = co_await coline::write_line(conn, coline::as_tuple, "Connect");
template <class Stream>
asio::awaitable<std::tuple<std::error_code>> write_line(basic_connection<Stream>& conn, as_tuple_t,
                                                        std::string_view text)
{
    return detail::flush_op<false>(conn, conn.options().write_timeout, detail::append_line(conn, text));
}

/// The non-throwing `write_line` that formats with {fmt}. (A format string
/// that does not match its arguments is a compile error; a format that
/// fails while running throws `fmt::format_error` at the call, in every form.)
template <class Stream, class... Args>
    requires(sizeof...(Args) > 0)
asio::awaitable<std::tuple<std::error_code>> write_line(basic_connection<Stream>& conn, as_tuple_t,
                                                        fmt::format_string<Args...> format, Args&&... args)
{
    return detail::flush_op<false>(conn, conn.options().write_timeout,
                                   detail::append_line(conn, format, std::forward<Args>(args)...));
}

/// The non-throwing `write_line` with its own time limit.
template <class Stream>
asio::awaitable<std::tuple<std::error_code>> write_line(basic_connection<Stream>& conn, duration timeout, as_tuple_t,
                                                        std::string_view text)
{
    return detail::flush_op<false>(conn, timeout, detail::append_line(conn, text));
}

template <class Stream, class... Args>
    requires(sizeof...(Args) > 0)
asio::awaitable<std::tuple<std::error_code>> write_line(basic_connection<Stream>& conn, duration timeout, as_tuple_t,
                                                        fmt::format_string<Args...> format, Args&&... args)
{
    return detail::flush_op<false>(conn, timeout, detail::append_line(conn, format, std::forward<Args>(args)...));
}

/// Awaits sending every line that `write_line` kept in the output buffer
/// (see `connection_options::coalesce_writes`). Call it before closing a
/// connection that stopped reading early. Errors as for `write_line`.
///
///     co_await coline::flush(conn);
template <class Stream>
asio::awaitable<void> flush(basic_connection<Stream>& conn)
{
    return detail::flush_op<true>(conn, conn.options().write_timeout, {}, false);
}

/// `flush` with its own time limit.
template <class Stream>
asio::awaitable<void> flush(basic_connection<Stream>& conn, duration timeout)
{
    return detail::flush_op<true>(conn, timeout, {}, false);
}

/// `flush` that reports errors instead of throwing them.
template <class Stream>
asio::awaitable<std::tuple<std::error_code>> flush(basic_connection<Stream>& conn, as_tuple_t)
{
    return detail::flush_op<false>(conn, conn.options().write_timeout, {}, false);
}

/// `flush` that reports errors instead of throwing them, with its own time limit.
///
///     auto [ec] = co_await coline::flush(conn, std::chrono::seconds{5}, coline::as_tuple);
template <class Stream>
asio::awaitable<std::tuple<std::error_code>> flush(basic_connection<Stream>& conn, duration timeout, as_tuple_t)
{
    return detail::flush_op<false>(conn, timeout, {}, false);
}

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

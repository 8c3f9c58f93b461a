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

/// The text of a line to write: with no arguments after it, plain text sent
/// as it is (braces and all); with arguments, a {fmt} format string, checked
/// against them at compile time.
template <class... Args>
using line_text = std::conditional_t<sizeof...(Args) == 0, std::string_view, fmt::format_string<Args...>>;

namespace detail {

template <class Stream, class... Args>
std::error_code append_line(basic_connection<Stream>& conn, line_text<Args...> text, Args&&... args)
{
    auto& output = connection_access::output(conn);
    const std::size_t start = output.size();
    if constexpr (sizeof...(Args) == 0) {
        output.append(text);
    } else {
        try {
            fmt::format_to(std::back_inserter(output), text, std::forward<Args>(args)...);
        } catch (...) {
            output.resize(start); // no half-formatted line may go out with the next one
            throw;
        }
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
template <error_style Style, class Stream>
asio::awaitable<result<Style, void>> flush_op(basic_connection<Stream>& conn, duration timeout,
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

    co_return complete<Style>(ec, may_keep ? "coline::write_line" : "coline::flush");
}

} // namespace detail

/// Awaits sending a line: `text` (formatted with `args` by {fmt}, straight
/// into the connection's output buffer, when there are any) followed by
/// "\n". Returns once the kernel has taken the whole line, or, with
/// `coalesce_writes`, once it is kept for the next `read_line` to send.
/// `text` and `args` are used before the first suspension: they may go away
/// after the call. Writes from several coroutines take turns; each line goes
/// out whole.
///
///     co_await coline::write_line(conn, "Information received");
///     co_await coline::write_line(conn, "VALUE {} {}", key, value.size());
///     auto [ec] = co_await coline::write_line(conn, coline::as_tuple, "Connect");
///
/// Time limit: `conn.options().write_timeout` (change it for one call by
/// setting it before).
///
/// Errors (thrown as `std::system_error`, or returned with `coline::as_tuple`):
/// - `error::newline_in_line`: the line contains '\n' (nothing is sent);
/// - `error::timeout`: the peer did not take the line in time (it does not
///   read). Part of the line may have been sent: close the connection.
/// - Asio's errors from the stream (`asio::error::broken_pipe`, ...). After a
///   failed send, every later write fails with the same error.
///
/// A format that fails while running throws `fmt::format_error` in both styles.
template <class Stream, class... Args>
asio::awaitable<void> write_line(basic_connection<Stream>& conn, line_text<Args...> text, Args&&... args)
{
    return detail::flush_op<throw_on_error_t>(conn, conn.options().write_timeout,
                                              detail::append_line(conn, text, std::forward<Args>(args)...));
}

/// `write_line` in the error style `Style`, which comes just before the text.
template <class Stream, error_style Style, class... Args>
asio::awaitable<result<Style, void>> write_line(basic_connection<Stream>& conn, Style, line_text<Args...> text,
                                                 Args&&... args)
{
    return detail::flush_op<Style>(conn, conn.options().write_timeout,
                                   detail::append_line(conn, text, std::forward<Args>(args)...));
}

/// Awaits sending every line that `write_line` kept in the output buffer
/// (see `connection_options::coalesce_writes`). Call it before closing a
/// connection that stopped reading early. Time limit:
/// `conn.options().write_timeout`, or `timeout`. Errors as for `write_line`.
///
///     co_await coline::flush(conn);
///     auto [ec] = co_await coline::flush(conn, std::chrono::seconds{5}, coline::as_tuple);
template <class Stream, error_style Style = throw_on_error_t>
asio::awaitable<result<Style, void>> flush(basic_connection<Stream>& conn, Style = Style{})
{
    return detail::flush_op<Style>(conn, conn.options().write_timeout, {}, false);
}

/// `flush` with a time limit of its own for this call.
template <class Stream, error_style Style = throw_on_error_t>
asio::awaitable<result<Style, void>> flush(basic_connection<Stream>& conn, duration timeout, Style = Style{})
{
    return detail::flush_op<Style>(conn, timeout, {}, false);
}

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

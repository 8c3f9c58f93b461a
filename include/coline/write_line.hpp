// write_line and write: send a line, or bytes as they are, plain or formatted with {fmt}.
#pragma once

#include <coline/connection.hpp>
#include <coline/detail/send.hpp>
#include <coline/error.hpp>
#include <coline/task.hpp>
#include <coline/use_task.hpp>

#include <fmt/format.h>

#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline {

namespace detail {

// `write_line(conn, "text", coline::as_tuple)`: the style after the text. The
// text then takes anything, so that the static_assert in the operation, not
// {fmt}'s "no formatter for as_tuple_t", is the first error.
template <class... Args>
inline constexpr bool style_after_text = (error_style<std::remove_cvref_t<Args>> || ...);

struct misplaced_style_text {
    template <class Text>
    constexpr misplaced_style_text(const Text&) noexcept
    {
    }
};

} // namespace detail

/// The text of a line to write: with no arguments after it, plain text sent
/// as it is (braces and all); with arguments, a {fmt} format string, checked
/// against them at compile time.
template <class... Args>
using line_text = std::conditional_t<
    sizeof...(Args) == 0, std::string_view,
    std::conditional_t<detail::style_after_text<Args...>, detail::misplaced_style_text, fmt::format_string<Args...>>>;

namespace detail {

// Appends `text` (formatted with `args`) to the kept bytes, as it is.
template <class Stream, class... Args>
void append_text(connection_core<Stream>& conn, line_text<Args...> text, Args&&... args)
{
    auto& output = conn.output.to_fill();
    if constexpr (sizeof...(Args) == 0) {
        output.append(text);
    } else {
        const std::size_t start = output.size();
        try {
            fmt::format_to(std::back_inserter(output), text, std::forward<Args>(args)...);
        } catch (...) {
            output.resize(start); // no half-formatted text may go out with the next write
            throw;
        }
    }
}

template <class Stream, class... Args>
error_code append_line(connection_core<Stream>& conn, line_text<Args...> text, Args&&... args)
{
    auto& output = conn.output.kept();
    const std::size_t start = output.size();
    append_text(conn, text, std::forward<Args>(args)...);
    if (output.find('\n', start) != std::string::npos) {
        output.resize(start);
        return error::newline_in_line;
    }
    output.append(conn.options.newline == line_ending::crlf ? std::string_view{"\r\n"} : std::string_view{"\n"});
    return {};
}

// write: small texts join the output buffer; a large one is sent from where
// it is, after the output buffer, so the buffer stays within its bound.
template <error_style Style, class Stream, class... Args>
auto write_text(connection_core<Stream>& conn, line_text<Args...> text, Args&&... args)
{
    constexpr const char* what = "coline::write";
    if constexpr (sizeof...(Args) == 0) {
        if (conn.output.size() + text.size() > output_queue::most_kept)
            return flush_op<Style>(conn, conn.options.write_timeout, {}, true, text, what);
    }
    append_text(conn, text, std::forward<Args>(args)...);
    return flush_op<Style>(conn, conn.options.write_timeout, {}, true, {}, what);
}

} // namespace detail

/// Awaits sending a line: `text` (formatted with `args` by {fmt}, straight
/// into the connection's output buffer, when there are any) followed by
/// the connection's line ending (`options().newline`: "\n" unless set to
/// "\r\n"). Returns once the kernel has taken the whole line, or, with
/// `coalesce_writes`, once it is kept for the next read to send (without
/// suspending: the usual case for the answers to pipelined requests).
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
/// Errors (thrown as `coline::system_error`, or returned with `coline::as_tuple`):
/// - `error::newline_in_line`: the line contains '\n' (nothing is sent);
/// - `error::timeout`: the peer did not take the line in time (it does not
///   read). Part of the line may have been sent: close the connection.
/// - Asio's errors from the stream (`asio::error::broken_pipe`, ...). After a
///   failed send, every later write fails with the same error.
///
/// A format that fails while running throws `fmt::format_error` in both styles.
template <class Stream, class... Args>
auto write_line(basic_connection<Stream>& conn, line_text<Args...> text, Args&&... args)
{
    static_assert(!detail::style_after_text<Args...>, "coline: the error style comes before the text, as in "
                  "write_line(conn, coline::as_tuple, \"text {}\", args...)");
    auto& core = detail::core_of(conn);
    return detail::flush_op<throw_on_error_t>(core, core.options.write_timeout,
                                              detail::append_line(core, text, std::forward<Args>(args)...));
}

/// `write_line` in the error style `Style`, which comes just before the text.
template <class Stream, error_style Style, class... Args>
auto write_line(basic_connection<Stream>& conn, Style, line_text<Args...> text,
                                                 Args&&... args)
{
    auto& core = detail::core_of(conn);
    return detail::flush_op<Style>(core, core.options.write_timeout,
                                   detail::append_line(core, text, std::forward<Args>(args)...));
}

/// Awaits sending bytes as they are: `text` (formatted with `args` by {fmt}
/// when there are any), with no line ending added and no check of what it
/// holds. For payloads (a memcached value, a RESP bulk string) and replies
/// built by hand. It shares the output buffer, the writers' turns and
/// `coalesce_writes` with `write_line`, so a reply made of lines and
/// payloads leaves in one send:
///
///     co_await coline::write_line(conn, "VALUE {} 0 {}", key, value.size()); // kept
///     co_await coline::write(conn, value);                                  // kept
///     co_await coline::write(conn, "\r\nEND\r\n");                          // kept, sent by the next read
///
/// Memory: a text that would take the output buffer past 64 KiB is sent
/// from where it is, together with what the buffer holds, without a copy;
/// it must then stay valid until the `co_await` completes (as the buffers
/// of `asio::async_write` must). Smaller texts are copied at the call. In a
/// server whose other sessions may replace the value meanwhile (a shared
/// store), hold it across the `co_await` (a `shared_ptr` to it, as
/// `examples/memcache_server.cpp` does). Freed text is read by the send's
/// system call, not by your code: ASan reports it as a heap-use-after-free
/// in its `sendmsg` interceptor; a build without it sends whatever the
/// memory holds by then.
///
/// Time limit and errors as for `write_line`, less `error::newline_in_line`.
template <class Stream, class... Args>
auto write(basic_connection<Stream>& conn, line_text<Args...> text, Args&&... args)
{
    static_assert(!detail::style_after_text<Args...>, "coline: the error style comes before the text, as in "
                  "write_line(conn, coline::as_tuple, \"text {}\", args...)");
    return detail::write_text<throw_on_error_t>(detail::core_of(conn), text, std::forward<Args>(args)...);
}

/// `write` in the error style `Style`, which comes just before the text.
template <class Stream, error_style Style, class... Args>
auto write(basic_connection<Stream>& conn, Style, line_text<Args...> text,
                                           Args&&... args)
{
    return detail::write_text<Style>(detail::core_of(conn), text, std::forward<Args>(args)...);
}

/// Awaits sending every byte that `write_line` and `write` kept in the output buffer
/// (see `connection_options::coalesce_writes`), and reports whether they
/// went. Call it before acting on `conn.stream()` yourself (a shutdown); the
/// destructor sends kept bytes too, but has nobody to report a failure to. Time limit:
/// `conn.options().write_timeout`, or `timeout`. Errors as for `write_line`.
///
///     co_await coline::flush(conn);
///     auto [ec] = co_await coline::flush(conn, std::chrono::seconds{5}, coline::as_tuple);
template <class Stream, error_style Style = throw_on_error_t>
auto flush(basic_connection<Stream>& conn, Style = Style{})
{
    return detail::flush_op<Style>(detail::core_of(conn), conn.options().write_timeout, {}, false, {}, "coline::flush");
}

/// `flush` with a time limit of its own for this call.
template <class Stream, error_style Style = throw_on_error_t>
auto flush(basic_connection<Stream>& conn, duration timeout, Style = Style{})
{
    return detail::flush_op<Style>(detail::core_of(conn), timeout, {}, false, {}, "coline::flush");
}

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

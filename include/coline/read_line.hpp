// read_line: the next line from a connection; read_line_part: a line of any
// length, in pieces.
#pragma once

#include <coline/connection.hpp>
#include <coline/detail/receive.hpp>
#include <coline/error.hpp>

#include <optional>
#include <string_view>
#include <system_error>
#include <tuple>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline {

/// A piece of a line, from `read_line_part`.
struct line_part {
    /// The bytes, without the line's terminator.
    std::string_view text;
    /// Whether the line ends here (its terminator was stripped).
    bool ends_line = false;
};

namespace detail {

struct line_reader {
    using value_type = std::optional<std::string_view>;
    static constexpr bool reads_lines = true;
    std::size_t max_line;
    std::size_t block = 0;
    bool take(line_buffer& input, value_type& line, error_code& ec)
    {
        line = input.next_line(max_line, ec);
        return line || ec;
    }
    void end(value_type&, error_code finished, error_code& ec) { ec = finished; }
};

struct line_part_reader {
    using value_type = std::optional<line_part>;
    static constexpr bool reads_lines = true;
    std::size_t block = 0;
    bool take(line_buffer& input, value_type& part, error_code&)
    {
        bool complete = false;
        if (auto text = input.next_part(complete))
            part = line_part{*text, complete};
        return part.has_value();
    }
    void end(value_type&, error_code finished, error_code& ec) { ec = finished; }
};

} // namespace detail

/// Awaits the next line, without its "\n" or "\r\n". Returns an empty optional
/// when the peer ended the stream cleanly, so this reads a whole connection:
///
///     while (auto line = co_await coline::read_line(conn))
///         fmt::print("Buffer: {}\n", *line);
///
/// Lifetime: the view points into the connection's buffer and stays valid
/// until the next read on that connection (or until it is moved or
/// destroyed). Copy it (`std::string{*line}`) to keep it longer.
///
/// Time limit: `conn.options().read_timeout`, or `timeout` in the second
/// form; it covers the whole line, however many reads it takes.
///
/// `conn.last_line_ending()` tells whether it ended in "\r\n" or "\n".
///
/// Awaited in a `coline::task`: a line already in the buffer (the usual case
/// when the peer pipelines) is returned without suspending.
///
/// Errors (thrown as `coline::system_error`, or returned with `coline::as_tuple`,
/// the line then being empty):
/// - `error::line_too_long`: the line is longer than `options().max_line_length`
///   (set it before a call to give that call a limit of its own; read a
///   line of any length with `read_line_part`).
///   The connection stays usable: the next call returns the line after it.
/// - `error::partial_line`: the peer closed in the middle of a line; its bytes
///   are in `conn.buffered()`. Later calls return the end of the stream.
/// - `error::timeout`: no whole line arrived in time. The connection stays
///   usable; bytes already received stay buffered.
/// - Asio's errors from the stream (`asio::error::connection_reset`, ...),
///   including, with `coalesce_writes`, from sending the lines `write_line` kept.
///
/// After `conn.stop_reading()`, it returns the lines that had arrived then
/// (in the socket too; the last of them once it is complete), then the end
/// of the stream.
template <class Stream, error_style Style = throw_on_error_t>
auto read_line(basic_connection<Stream>& conn, Style = Style{})
{
    return detail::receive_op<Style>(detail::core_of(conn), conn.options().read_timeout,
                                     detail::line_reader{conn.options().max_line_length}, "coline::read_line");
}

/// `read_line` with a time limit of its own for this call:
///
///     auto [ec, line] = co_await coline::read_line(conn, std::chrono::seconds{5}, coline::as_tuple);
template <class Stream, error_style Style = throw_on_error_t>
auto read_line(basic_connection<Stream>& conn, duration timeout, Style = Style{})
{
    return detail::receive_op<Style>(detail::core_of(conn), timeout, detail::line_reader{conn.options().max_line_length},
                                     "coline::read_line");
}

/// Awaits the next piece of a line of any length, for lines that are too long
/// to buffer whole and can be handled as they arrive (memcached's
/// `get k1 k2 … k50000`): the rest of the current line when its end has
/// arrived (`ends_line` true, terminator stripped; empty when only the
/// terminator was left), otherwise the part of it received so far, at least
/// one byte and at most the input buffer's size (`max_line_length` + 2). A
/// piece may end anywhere, mid-word included.
/// Returns an empty optional when the peer ended the stream cleanly between lines.
///
///     std::string key;
///     while (auto part = co_await coline::read_line_part(conn)) {
///         /* ... split part->text into keys, carrying a cut one over ... */
///         if (part->ends_line)
///             break;
///     }
///
/// No length limit applies. Lifetime, time limit (for this piece) and errors
/// as for `read_line`, except `error::line_too_long`; `error::partial_line`
/// when the stream ends inside a line.
template <class Stream, error_style Style = throw_on_error_t>
auto read_line_part(basic_connection<Stream>& conn, Style = Style{})
{
    return detail::receive_op<Style>(detail::core_of(conn), conn.options().read_timeout, detail::line_part_reader{},
                                     "coline::read_line_part");
}

/// `read_line_part` with a time limit of its own for this call.
template <class Stream, error_style Style = throw_on_error_t>
auto read_line_part(basic_connection<Stream>& conn, duration timeout, Style = Style{})
{
    return detail::receive_op<Style>(detail::core_of(conn), timeout, detail::line_part_reader{}, "coline::read_line_part");
}

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

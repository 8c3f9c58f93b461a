// read_line: the next line from a connection.
#pragma once

#include <coline/connection.hpp>
#include <coline/error.hpp>

#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <tuple>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline {
namespace detail {

template <class Stream>
constexpr bool can_wait_for_input = requires(Stream& s) {
    s.async_wait(asio::socket_base::wait_read, asio::use_awaitable);
};

// Bytes a stream has decoded but not handed out yet (TLS specialises it).
template <class Stream>
struct decoded_bytes {
    static bool waiting(Stream&) { return false; }
};

// Whether bytes have arrived that a read would return at once.
template <class Stream>
bool bytes_waiting(Stream& stream)
{
    std::error_code ec;
    if (decoded_bytes<Stream>::waiting(stream))
        return true;
    if constexpr (requires { stream.available(ec); })
        return stream.available(ec) > 0 && !ec;
    else if constexpr (requires { stream.lowest_layer().available(ec); })
        return stream.lowest_layer().available(ec) > 0 && !ec;
    else
        return false;
}

template <error_style Style, class Stream>
asio::awaitable<result<Style, std::optional<std::string_view>>> read_line_op(basic_connection<Stream>& conn,
                                                                               duration timeout)
{
    using access = connection_access;
    auto& input = access::input(conn);
    const std::size_t max_line = conn.options().max_line_length;
    std::error_code ec;
    std::optional<std::string_view> line = input.next_line(max_line, ec);

    asio::cancellation_state parent = co_await asio::this_coro::cancellation_state;
    auto cancelled = [&] { return parent.cancelled() != asio::cancellation_type::none; };

    if (!line && !access::output(conn).empty() && !access::writing(conn) && !access::write_failed(conn)
        && !cancelled()) {
        // Lines kept by write_line (coalesce_writes) go out before the wait or the bad news.
        std::error_code write_ec;
        {
            output_send send(conn, write_ec);
            co_await send.start(conn.options().write_timeout, parent.slot());
        }
        if (write_ec && !ec)
            ec = write_ec;
    }

    if (!line && !ec && !input.at_end()) {
        auto& deadline = access::read_deadline(conn);
        deadline.start(timeout);
        access::reading(conn) = true;
        // However this ends (Asio may throw for a cancelled coroutine), the read is over.
        struct read_over {
            basic_connection<Stream>& conn;
            ~read_over()
            {
                connection_access::reading(conn) = false;
                connection_access::take_stop_cancel(conn);
                connection_access::read_deadline(conn).stop();
            }
        } over{conn};
        bool waited = false;
        while (!deadline.expired()) {
            if (cancelled()) {
                ec = asio::error::operation_aborted;
                break;
            }
            // After stop_reading(), what has arrived is still read, and a line
            // that has begun is awaited; nothing else.
            if (conn.reading_stopped() && input.unread().empty() && !bytes_waiting(access::stream(conn)))
                break;
            std::size_t n = 0;
            bool waiting_first = false;
            if constexpr (can_wait_for_input<Stream>) {
                if (input.capacity() == 0 && !waited) {
                    // Nothing received yet: an idle connection costs no input buffer.
                    waited = waiting_first = true;
                    co_await access::stream(conn).async_wait(
                        asio::socket_base::wait_read,
                        asio::bind_cancellation_slot(deadline.slot(parent.slot()),
                                                     asio::redirect_error(asio::use_awaitable, ec)));
                }
            }
            if (!waiting_first) {
                const std::span<char> space = input.prepare(max_line);
                n = co_await access::stream(conn).async_read_some(
                    asio::buffer(space.data(), space.size()),
                    asio::bind_cancellation_slot(deadline.slot(parent.slot()),
                                                 asio::redirect_error(asio::use_awaitable, ec)));
                input.commit(n);
            }
            if (ec == asio::error::operation_aborted && access::take_stop_cancel(conn) && !deadline.expired()) {
                ec.clear();
                continue;
            }
            if (ec)
                break;
            if (n == 0)
                continue; // input has arrived (or waiting was cancelled): now read it
            line = input.next_line(max_line, ec);
            if (line || ec)
                break;
        }
        const bool expired = deadline.stop();
        if (expired && !line && (!ec || ec == asio::error::operation_aborted))
            ec = error::timeout;
        else if (ec == asio::error::eof)
            ec = input.finish();
    }

    co_return complete<Style>(ec, ec ? std::nullopt : line, "coline::read_line");
}

} // namespace detail

/// Awaits the next line, without its "\n" or "\r\n". Returns an empty optional
/// when the peer ended the stream cleanly, so this reads a whole connection:
///
///     while (auto line = co_await coline::read_line(conn))
///         fmt::print("Buffer: {}\n", *line);
///
/// Lifetime: the view points into the connection's buffer and stays valid
/// until the next `read_line` on that connection (or until it is moved or
/// destroyed). Copy it (`std::string{*line}`) to keep it longer.
///
/// Time limit: `conn.options().read_timeout`, or `timeout` in the second
/// form; it covers the whole line, however many reads it takes.
///
/// Errors (thrown as `std::system_error`, or returned with `coline::as_tuple`,
/// the line then being empty):
/// - `error::line_too_long`: the line is longer than `options().max_line_length`.
///   The connection stays usable: the next call returns the line after it.
/// - `error::partial_line`: the peer closed in the middle of a line; its bytes
///   are in `conn.buffered()`. Later calls return the end of the stream.
/// - `error::timeout`: no whole line arrived in time. The connection stays
///   usable; bytes already received stay buffered.
/// - Asio's errors from the stream (`asio::error::connection_reset`, ...),
///   including, with `coalesce_writes`, from sending the lines `write_line` kept.
///
/// After `conn.stop_reading()`, it returns the lines already received (bytes
/// that have reached the socket included, and a line that has begun, once it
/// is complete), then the end of the stream.
template <class Stream, error_style Style = throw_on_error_t>
asio::awaitable<result<Style, std::optional<std::string_view>>> read_line(basic_connection<Stream>& conn,
                                                                            Style = Style{})
{
    return detail::read_line_op<Style>(conn, conn.options().read_timeout);
}

/// `read_line` with a time limit of its own for this call:
///
///     auto [ec, line] = co_await coline::read_line(conn, std::chrono::seconds{5}, coline::as_tuple);
template <class Stream, error_style Style = throw_on_error_t>
asio::awaitable<result<Style, std::optional<std::string_view>>> read_line(basic_connection<Stream>& conn,
                                                                            duration timeout, Style = Style{})
{
    return detail::read_line_op<Style>(conn, timeout);
}

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

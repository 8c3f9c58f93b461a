// read_exactly and read_some: byte-counted payloads after a line (memcached
// data blocks, RESP bulk strings, HTTP bodies), taken as they are.
#pragma once

#include <coline/connection.hpp>
#include <coline/detail/receive.hpp>
#include <coline/error.hpp>

#include <cstddef>
#include <cstring>
#include <span>
#include <optional>
#include <string_view>
#include <system_error>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline {
namespace detail {

struct exact_reader {
    using value_type = std::string_view;
    static constexpr bool reads_lines = false;
    std::size_t block;
    std::size_t limit;
    bool take(line_buffer& input, value_type& bytes, error_code& ec)
    {
        if (block > limit) {
            ec = error::block_too_large;
            return true;
        }
        auto taken = input.take(block);
        if (taken)
            bytes = *taken;
        return taken.has_value();
    }
    void end(value_type&, error_code, error_code& ec) { ec = error::partial_block; }
};

struct some_reader {
    using value_type = std::string_view;
    static constexpr bool reads_lines = false;
    std::size_t most;
    std::size_t block = 0;
    bool take(line_buffer& input, value_type& bytes, error_code&)
    {
        bytes = input.take_some(most);
        return !bytes.empty() || most == 0;
    }
    void end(value_type&, error_code finished, error_code& ec) { ec = finished; }
};

// read_exactly into the caller's buffer, once what was buffered is copied
// (`filled` bytes): the rest straight from the stream, with no copy through
// the input buffer.
template <error_style Style, class Stream>
task<result<Style, std::size_t>> read_into_rest(connection_core<Stream>& conn, std::span<char> into,
                                                duration timeout, std::size_t filled)
{
    if (read_refused(conn, true))
        co_return complete<Style>(read_refusal(conn), filled, "coline::read_exactly");
    read_claim claim(conn.input);
    auto& input = conn.input.buffer();
    error_code ec;
    chain_cancellation parent = co_await this_chain;
    if (filled < into.size()) {
        if (send_kept_now(conn, ec))
            co_await send_kept(conn, parent, ec);
        if (!ec && input.at_end())
            ec = error::partial_block;
    }
    if (filled < into.size() && !ec) {
        auto& deadline = conn.read_deadline;
        read_in_progress reading(conn, timeout);
        while (filled < into.size() && !ec) {
            if (parent.cancelled() != asio::cancellation_type::none) {
                ec = asio::error::operation_aborted;
                break;
            }
            const std::size_t rest = into.size() - filled;
            auto token = detail::use_task_bound{&ec, deadline.slot(parent.slot())};
            if (rest < line_buffer::min_capacity) {
                // A short rest goes through the input buffer: the receive that
                // brings it also brings what follows (the next request), instead
                // of a receive of its own for the few bytes missing.
                const std::span<char> space = input.prepare(conn.options.max_line_length);
                input.commit(co_await conn.stream.async_read_some(asio::buffer(space.data(), space.size()), token));
                const std::string_view got = input.take_some(rest);
                if (!got.empty())
                    std::memcpy(into.data() + filled, got.data(), got.size());
                filled += got.size();
            } else {
                const std::size_t n =
                    co_await conn.stream.async_read_some(asio::buffer(into.data() + filled, rest), token);
                input.taken_past(n); // (for stop_reading's count of what was read)
                filled += n;
            }
            // stop_reading() ends a read with nothing begun; a block begun is awaited.
            if (ec == asio::error::operation_aborted && conn.input.take_stop_cancel() && !deadline.expired())
                ec = filled > 0 ? error_code{} : error_code(error::partial_block);
        }
        const bool expired = deadline.stop();
        if (expired && filled < into.size() && (!ec || ec == asio::error::operation_aborted))
            ec = error::timeout;
        else if (ec == asio::error::eof) {
            input.finish();
            ec = error::partial_block;
        }
    }
    co_return complete<Style>(ec, filled, "coline::read_exactly");
}

// What is buffered is copied first: when that is all of it, nothing waits.
template <error_style Style, class Stream>
struct read_into_operation {
    using result_type = result<Style, std::size_t>;

    connection_core<Stream>& conn;
    std::span<char> into;
    duration timeout;
    std::size_t filled = 0;
    bool refused = false;

    bool ready()
    {
        if ((refused = read_refused(conn, false)))
            return true;
        const std::string_view buffered = conn.input.buffer().take_some(into.size());
        if (!buffered.empty())
            std::memcpy(into.data(), buffered.data(), buffered.size());
        filled = buffered.size();
        return filled == into.size();
    }
    result_type ready_result()
    {
        return complete<Style>(refused ? read_refusal(conn) : error_code{}, filled, "coline::read_exactly");
    }
    task<result_type> rest() { return read_into_rest<Style>(conn, into, timeout, filled); }
};

template <error_style Style, class Stream>
operation<read_into_operation<Style, Stream>> read_into_op(connection_core<Stream>& conn, std::span<char> into,
                                                 duration timeout)
{
    return operation<read_into_operation<Style, Stream>>{read_into_operation<Style, Stream>{conn, into, timeout}};
}

} // namespace detail

/// Awaits exactly `n` bytes, as they are, whatever they contain ("\n" and
/// NUL included): the payload a line announced.
///
///     auto header = co_await coline::read_line(conn);          // "set k 0 0 5"
///     auto value = co_await coline::read_exactly(conn, 5 + 2); // "hello\r\n"
///
/// Lifetime: the view points into the connection's buffer and stays valid
/// until the next read on that connection. Copy it to keep it longer.
///
/// Memory: `n` may be at most `conn.options().max_block_size`; the input
/// buffer grows to `n` when it is smaller. Check an announced length against
/// your protocol's own limit first; for larger payloads use `read_some`.
///
/// Time limit: `conn.options().read_timeout`, or `timeout`, for the whole block.
///
/// Errors (thrown as `coline::system_error`, or returned with `coline::as_tuple`,
/// the view then being empty):
/// - `error::block_too_large`: `n` is over `max_block_size`; nothing was read.
/// - `error::partial_block`: the peer closed before all `n` bytes arrived
///   (also when none did); those that did are in `conn.buffered()`.
/// - `error::timeout`: the bytes did not all arrive in time; those that did stay buffered.
/// - Asio's errors from the stream, as for `read_line`.
template <class Stream, error_style Style = throw_on_error_t>
auto read_exactly(basic_connection<Stream>& conn, std::size_t n,
                                                              Style = Style{})
{
    return detail::receive_op<Style>(detail::core_of(conn), conn.options().read_timeout,
                                     detail::exact_reader{n, conn.options().max_block_size}, "coline::read_exactly");
}

/// `read_exactly` with a time limit of its own for this call.
template <class Stream, error_style Style = throw_on_error_t>
auto read_exactly(basic_connection<Stream>& conn, std::size_t n,
                                                              duration timeout, Style = Style{})
{
    return detail::receive_op<Style>(detail::core_of(conn), timeout, detail::exact_reader{n, conn.options().max_block_size},
                                     "coline::read_exactly");
}

/// Awaits exactly `into.size()` bytes, as they are, into the caller's buffer:
/// those already buffered are copied, the rest is received straight into it.
/// For payloads of any size, once their length is checked against your
/// protocol's limit (the item's own storage, a file's buffer):
///
///     std::string value(length, '\0');
///     co_await coline::read_exactly(conn, std::span<char>(value));
///
/// Returns how many bytes it put there: all of them, unless there is an
/// error (with `coline::as_tuple`, the count comes with it). Time limit as
/// for `read_exactly(conn, n)`; errors as there, less `error::block_too_large`.
/// After `conn.stop_reading()`, a block that has begun is awaited.
template <class Stream, error_style Style = throw_on_error_t>
auto read_exactly(basic_connection<Stream>& conn, std::span<char> into,
                                                         Style = Style{})
{
    return detail::read_into_op<Style>(detail::core_of(conn), into, conn.options().read_timeout);
}

/// `read_exactly` into the caller's buffer with a time limit of its own for this call.
template <class Stream, error_style Style = throw_on_error_t>
auto read_exactly(basic_connection<Stream>& conn, std::span<char> into,
                                                         duration timeout, Style = Style{})
{
    return detail::read_into_op<Style>(detail::core_of(conn), into, timeout);
}

/// Awaits between 1 and `most` bytes, as they are: the bytes buffered
/// already, or those of the next receive. Reads a payload of any size in
/// pieces, with memory bounded by the input buffer, not by the payload:
///
///     for (std::size_t left = length; left > 0;) {
///         auto piece = co_await coline::read_some(conn, left);
///         if (piece.empty())
///             break; // the peer ended the stream first
///         file.write(piece.data(), piece.size());
///         left -= piece.size();
///     }
///
/// Returns an empty view when the peer ended the stream (or `most` is 0).
/// Lifetime and time limit as for `read_exactly`; errors as for
/// `read_line`, less the line's own.
template <class Stream, error_style Style = throw_on_error_t>
auto read_some(basic_connection<Stream>& conn, std::size_t most,
                                                           Style = Style{})
{
    return detail::receive_op<Style>(detail::core_of(conn), conn.options().read_timeout, detail::some_reader{most},
                                     "coline::read_some");
}

/// `read_some` with a time limit of its own for this call.
template <class Stream, error_style Style = throw_on_error_t>
auto read_some(basic_connection<Stream>& conn, std::size_t most,
                                                           duration timeout, Style = Style{})
{
    return detail::receive_op<Style>(detail::core_of(conn), timeout, detail::some_reader{most}, "coline::read_some");
}

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

// Errors that coline itself reports, and the non-throwing calling style.
#pragma once

#include <concepts>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#if defined(COLINE_USE_BOOST_ASIO)
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#endif

/// Everything coline offers: line I/O on connections, clients, servers.
/// `coline::detail` is internal.
namespace coline {

/// The errors coline reports besides the ones Asio and the OS report
/// (`asio::error::connection_reset`, `asio::error::connection_refused`, ...).
/// They compare equal to `std::error_code`s of `error_category()`.
enum class error {
    /// A line longer than the connection's `max_line_length`, not counting the
    /// terminator. Reported once per over-long line; the rest of that line is
    /// skipped, so the next `read_line` returns the line after it.
    line_too_long = 1,
    /// The peer closed the connection in the middle of a line. The unterminated
    /// bytes stay readable in `connection::buffered()`; later reads return the end.
    partial_line,
    /// The operation's deadline passed before it completed.
    timeout,
    /// `write_line` was given text that contains `'\n'`; nothing was sent.
    newline_in_line,
    /// `start_tls` found bytes received in clear after the last line read,
    /// where the TLS handshake should have begun; the connection is closed.
    input_before_tls,
    /// `read_exactly` was asked for more bytes than the connection's
    /// `max_block_size`; nothing was read, the connection stays usable.
    block_too_large,
    /// The peer closed the connection before `read_exactly` had all its
    /// bytes. Those that arrived stay readable in `connection::buffered()`.
    partial_block,
    /// A read was started while another read on the same connection was in
    /// progress (one reader at a time); the other read goes on, unharmed.
    concurrent_read,
    /// The operation was awaited from a coroutine that runs on another
    /// execution context than its connection (a session spawned on another
    /// `io_context` than its socket's); nothing was read or sent. Checked
    /// whenever an operation waits, and in debug builds on every operation.
    wrong_executor,
};

#if defined(COLINE_USE_BOOST_ASIO)
using error_code = boost::system::error_code;
using system_error = boost::system::system_error;
#else
/// The error code every operation reports, as Asio reports it:
/// `std::error_code`, or `boost::system::error_code` with Boost.Asio
/// (see "Boost.Asio" in docs/api.md). Either compares equal to `coline::error` values,
/// to `asio::error` values and to `std::errc` conditions.
using error_code = std::error_code;
/// What a failed operation throws, as Asio throws it: `std::system_error`,
/// or `boost::system::system_error` with Boost.Asio.
using system_error = std::system_error;
#endif

namespace detail {

class error_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "coline"; }

    std::string message(int value) const override
    {
        switch (static_cast<error>(value)) {
        case error::line_too_long: return "line longer than the connection's limit";
        case error::partial_line: return "peer closed the connection in the middle of a line";
        case error::timeout: return "operation timed out";
        case error::newline_in_line: return "line to write contains a newline";
        case error::input_before_tls: return "bytes received in clear before the TLS handshake";
        case error::block_too_large: return "block larger than the connection's limit";
        case error::partial_block: return "peer closed the connection in the middle of a block";
        case error::concurrent_read: return "another read is in progress on this connection";
        case error::wrong_executor: return "operation awaited on another execution context than its connection's";
        }
        return "unknown coline error";
    }

    std::error_condition default_error_condition(int value) const noexcept override
    {
        switch (static_cast<error>(value)) {
        case error::line_too_long: return std::errc::message_size;
        case error::timeout: return std::errc::timed_out;
        case error::newline_in_line: return std::errc::invalid_argument;
        case error::input_before_tls: return std::errc::protocol_error;
        case error::block_too_large: return std::errc::message_size;
        case error::concurrent_read: return std::errc::operation_in_progress;
        case error::wrong_executor: return std::errc::invalid_argument;
        default: return {value, *this};
        }
    }
};

} // namespace detail

/// The category of coline's own errors; its name is "coline".
inline const std::error_category& error_category() noexcept
{
    static const detail::error_category_impl category;
    return category;
}

/// Lets `coline::error::timeout` be used wherever a `std::error_code` is expected.
inline std::error_code make_error_code(error e) noexcept
{
    return {static_cast<int>(e), error_category()};
}

/// The calling convention, the same for every operation: what it works on
/// comes first, then its inputs, then an optional time limit, then the
/// optional error style; an operation that sends text takes the text last,
/// right after its error style (as `fmt::format_to_n` takes its size before
/// the format string). Without a style, an operation throws
/// `coline::system_error`; with `coline::as_tuple` it returns its error code
/// first in a tuple instead:
///
///     auto line = co_await coline::read_line(conn, 5s);                    // throws
///     auto [ec, line] = co_await coline::read_line(conn, 5s, coline::as_tuple);
///     auto [ec] = co_await coline::write_line(conn, coline::as_tuple, "Connect");
struct throw_on_error_t {
    explicit constexpr throw_on_error_t() = default;
};

/// The default error style: failures throw `coline::system_error`.
inline constexpr throw_on_error_t throw_on_error{};

/// The non-throwing error style, named after `asio::as_tuple`.
struct as_tuple_t {
    explicit constexpr as_tuple_t() = default;
};

/// Selects the non-throwing form: `read_line(conn, coline::as_tuple)`.
inline constexpr as_tuple_t as_tuple{};

/// `throw_on_error_t` or `as_tuple_t`: the two error styles.
template <class T>
concept error_style = std::same_as<T, throw_on_error_t> || std::same_as<T, as_tuple_t>;

/// What an operation that produces a `T` returns in error style `Style`:
/// `T` itself when it throws, `std::tuple<coline::error_code, T>` with
/// `as_tuple` (`std::tuple<coline::error_code>` when `T` is `void`).
template <error_style Style, class T>
using result = std::conditional_t<
    std::same_as<Style, throw_on_error_t>, T,
    std::conditional_t<std::is_void_v<T>, std::tuple<error_code>, std::tuple<error_code, T>>>;

namespace detail {

// The end of every operation: throw, or hand the code over with the value.
template <error_style Style, class T>
result<Style, T> complete(error_code ec, T value, const char* what)
{
    if constexpr (std::same_as<Style, throw_on_error_t>) {
        if (ec)
            throw system_error(ec, what);
        return value;
    } else {
        return {ec, std::move(value)};
    }
}

template <error_style Style>
result<Style, void> complete(error_code ec, const char* what)
{
    if constexpr (std::same_as<Style, throw_on_error_t>) {
        if (ec)
            throw system_error(ec, what);
    } else {
        return std::tuple{ec};
    }
}

} // namespace detail

} // namespace coline

template <>
struct std::is_error_code_enum<coline::error> : std::true_type {};

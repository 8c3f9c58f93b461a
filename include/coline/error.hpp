// Errors that coline itself reports, and the non-throwing calling style.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

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
};

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

/// Selects the non-throwing form of an operation: it returns
/// `std::tuple<std::error_code, T>` instead of throwing `std::system_error`,
/// the way `asio::experimental::as_tuple` does.
///
///     auto [ec, line] = co_await coline::read_line(conn, coline::as_tuple);
struct as_tuple_t {
    explicit constexpr as_tuple_t() = default;
};

/// The tag object for the non-throwing form: `read_line(conn, coline::as_tuple)`.
inline constexpr as_tuple_t as_tuple{};

} // namespace coline

template <>
struct std::is_error_code_enum<coline::error> : std::true_type {};

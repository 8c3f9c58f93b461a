// coline's error codes.
#include "support.hpp"

using coline::error;

TEST_CASE("coline's errors have their own category, messages and portable conditions")
{
    const std::error_code timeout = error::timeout;
    CHECK(std::string(timeout.category().name()) == "coline");
    CHECK(timeout == std::errc::timed_out);
    CHECK(std::error_code(error::line_too_long) == std::errc::message_size);
    CHECK(std::error_code(error::newline_in_line) == std::errc::invalid_argument);
    CHECK(std::error_code(error::input_before_tls) == std::errc::protocol_error);
    CHECK(std::error_code(error::partial_line) != std::errc::timed_out);
    CHECK(std::error_code(error::concurrent_read) == std::errc::operation_in_progress);
    CHECK(std::error_code(error::wrong_executor) == std::errc::invalid_argument);
    for (auto e : {error::line_too_long, error::partial_line, error::timeout, error::newline_in_line,
                   error::input_before_tls, error::block_too_large, error::partial_block, error::concurrent_read,
                   error::wrong_executor}) {
        const std::error_code ec = e;
        CHECK(ec);
        CHECK(ec.message() != "unknown coline error");
        CHECK(ec.category() == coline::error_category());
    }
    CHECK(std::error_code(static_cast<error>(99)).message() == "unknown coline error");
}

TEST_CASE("coline::error_code, Asio's error code type, compares with coline's errors and portable conditions")
{
    coline::error_code ec = error::timeout; // std::error_code, or boost::system::error_code with Boost.Asio
    CHECK(ec == error::timeout);
    CHECK(error::timeout == ec);
    CHECK(ec != error::partial_line);
    CHECK(ec == std::errc::timed_out);
    CHECK(ec.message() == "operation timed out");
    CHECK(std::error_code(ec).category() == coline::error_category());
    ec = asio::error::eof;
    CHECK(ec == asio::error::eof);
    CHECK(ec != error::timeout);
    try {
        throw coline::system_error(error::line_too_long, "read_line");
    } catch (const coline::system_error& e) {
        CHECK(e.code() == error::line_too_long);
        CHECK(std::string_view(e.what()).find("read_line") != std::string_view::npos);
    }
}

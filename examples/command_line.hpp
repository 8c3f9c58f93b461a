// What the server examples read from their command line, with a clear error
// for a bad argument instead of a silent wrap-around or a bare "stoul".
#pragma once

#include <coline/connection.hpp> // before any Asio header: see docs/design.md, Compilers

#include <charconv>
#include <limits>
#include <stdexcept>
#include <string>

// A whole number from 0 to `most`; `what` names it in the error.
inline unsigned long number_argument(const std::string& text, unsigned long most, const char* what)
{
    unsigned long number = 0;
    const char* end = text.data() + text.size();
    const auto [stop, ec] = std::from_chars(text.data(), end, number);
    if (ec != std::errc{} || stop != end || number > most)
        throw std::invalid_argument(std::string("not a ") + what + " (0 to " + std::to_string(most) + "): '" + text + "'");
    return number;
}

// The IP address and port a server listens on.
inline asio::ip::tcp::endpoint listen_endpoint(const std::string& host, const std::string& port)
{
    std::error_code not_an_address;
    const auto address = asio::ip::make_address(host, not_an_address);
    if (not_an_address)
        throw std::invalid_argument("not an IP address: '" + host + "'");
    return {address, static_cast<unsigned short>(number_argument(port, 65535, "port number"))};
}

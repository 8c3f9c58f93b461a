// What the server examples read from their command line, with a clear error
// for a bad argument instead of a silent wrap-around or a bare "stoul".
#pragma once

#include <coline/connection.hpp> // before any Asio header: see docs/design.md, Compilers

#include <charconv>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

// `--help` (or `-h`) among the arguments: prints `usage` to stdout and says
// so, for main to return 0.
inline bool asked_for_help(int argc, char* argv[], std::string_view usage)
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fwrite(usage.data(), 1, usage.size(), stdout);
            return true;
        }
    }
    return false;
}

// A whole number from `least` to `most`; `what` names it in the error.
inline unsigned long number_argument(const std::string& text, unsigned long least, unsigned long most, const char* what)
{
    unsigned long number = 0;
    const char* end = text.data() + text.size();
    const auto [stop, ec] = std::from_chars(text.data(), end, number);
    if (ec != std::errc{} || stop != end || number < least || number > most)
        throw std::invalid_argument(std::string("not a ") + what + " (" + std::to_string(least) + " to "
                                    + std::to_string(most) + "): '" + text + "'");
    return number;
}

// The host, then the port. A third, or an option the program does not know
// (or one given without its value), is an error, not silently taken as either.
inline void host_or_port(const std::string& arg, int& seen, std::string& host, std::string& port)
{
    if (arg.starts_with('-'))
        throw std::invalid_argument("unknown option, or one without its value: '" + arg + "'");
    if (seen == 2)
        throw std::invalid_argument("unexpected argument: '" + arg + "'");
    (seen++ == 0 ? host : port) = arg;
}

// main's exit status after run_server: 0, or as a shell reports a program
// that a signal ended (128 + its number) when a second signal forced the stop.
inline int exit_status(int forced_by_signal)
{
    return forced_by_signal == 0 ? 0 : 128 + forced_by_signal;
}

// The IP address and port a server listens on.
inline asio::ip::tcp::endpoint listen_endpoint(const std::string& host, const std::string& port)
{
    coline::error_code not_an_address;
    const auto address = asio::ip::make_address(host, not_an_address);
    if (not_an_address)
        throw std::invalid_argument("not an IP address: '" + host + "'");
    return {address, static_cast<unsigned short>(number_argument(port, 0, 65535, "port number"))};
}

// The tutorial's client: reads the greeting, sends "SOME data" (or the given
// lines) and prints the server's answer to each.
//
//   (usage: `usage` below, which --help prints)
#include "command_line.hpp"

#include <coline/coline.hpp>

#include <fmt/core.h>

#include <cctype>
#include <string>
#include <vector>

// What --help prints.
constexpr std::string_view usage = "usage: client [host] [port] [line...]     (default 127.0.0.1 10008 \"SOME data\")\n";

using namespace std::chrono_literals;

std::string lower(std::string text)
{
    for (char& c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

coline::task<int> client(std::string host, std::string port, std::vector<std::string> lines)
{
    auto conn = co_await coline::connect(host, port, 5s);
    conn.options().read_timeout = 5s;
    conn.options().write_timeout = 5s;

    auto greeting = co_await coline::read_line(conn);
    if (!greeting || greeting->find("not connect") != std::string_view::npos) {
        fmt::print("Don t connect\n");
        co_return 1;
    }
    fmt::print("Buffer Data: {}\n", coline::printable{*greeting}); // the server's bytes cannot drive the terminal
    fmt::print("Writing to socket\n");
    for (const auto& line : lines) {
        co_await coline::write_line(conn, line);
        auto answer = co_await coline::read_line(conn);
        if (!answer) {
            fmt::print("Server closed the connection\n");
            co_return 1;
        }
        // Like the tutorial, echo what was sent in lower case.
        fmt::print("sent to Server:{} response from server is:{}\n", lower(line), coline::printable{*answer});
    }
    co_return 0;
}

int main(int argc, char* argv[])
{
    if (asked_for_help(argc, argv, usage))
        return 0;
    std::string host = argc > 1 ? argv[1] : "127.0.0.1";
    std::string port = argc > 2 ? argv[2] : "10008";
    std::vector<std::string> lines(argv + std::min(argc, 3), argv + argc);
    if (lines.empty())
        lines.push_back("SOME data");

    asio::io_context io;
    int status = 2;
    coline::spawn(io, client(host, port, lines), [&](std::exception_ptr error, int result) {
        status = result;
        try {
            if (error)
                std::rethrow_exception(error);
        } catch (const std::exception& e) {
            fmt::print(stderr, "client: {}\n", e.what());
            status = 2;
        }
    });
    io.run();
    return status;
}

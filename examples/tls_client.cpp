// The tutorial's client over TLS: checks the server's certificate, reads the
// greeting, sends "SOME data" (or the given lines) and prints each answer.
//
//   (usage: `usage` below, which --help prints)
#include "command_line.hpp"

#include <coline/coline.hpp>
#include <coline/tls.hpp>

#include <fmt/core.h>

#include <string>
#include <vector>

// What --help prints.
constexpr std::string_view usage = "usage: tls_client HOST PORT CA.pem [line...]\n";

using namespace std::chrono_literals;

coline::task<int> client(std::string host, std::string port, asio::ssl::context& tls, std::vector<std::string> lines)
{
    auto conn = co_await coline::connect_tls(host, port, tls, 5s); // fails unless the certificate names `host`
    conn.options().read_timeout = 5s;
    conn.options().write_timeout = 5s;

    auto greeting = co_await coline::read_line(conn);
    fmt::print("Buffer Data: {}\n", coline::printable{greeting.value_or("<end>")});
    for (const auto& line : lines) {
        co_await coline::write_line(conn, line);
        auto answer = co_await coline::read_line(conn);
        if (!answer) {
            fmt::print("Server closed the connection\n");
            co_return 1;
        }
        fmt::print("sent to Server:{} response from server is:{}\n", line, coline::printable{*answer});
    }
    co_await coline::shutdown_tls(conn, 5s);
    co_return 0;
}

int main(int argc, char* argv[])
{
    if (asked_for_help(argc, argv, usage))
        return 0;
    if (argc < 4) {
        fmt::print(stderr, "{}", usage);
        return 2;
    }
    std::vector<std::string> lines(argv + 4, argv + argc);
    if (lines.empty())
        lines.push_back("SOME data");
    asio::ssl::context tls(asio::ssl::context::tls_client);
    tls.load_verify_file(argv[3]); // the authority (here: the self-signed certificate) we trust

    asio::io_context io;
    int status = 2;
    coline::spawn(io, client(argv[1], argv[2], tls, lines), [&](std::exception_ptr error, int result) {
        status = result;
        try {
            if (error)
                std::rethrow_exception(error);
        } catch (const std::exception& e) {
            fmt::print(stderr, "tls_client: {}\n", e.what());
            status = 2;
        }
    });
    io.run();
    return status;
}

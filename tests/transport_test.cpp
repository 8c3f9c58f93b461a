// The tutorial's exchange over every transport coline speaks besides IPv4 TCP:
// IPv6 and Unix domain sockets.
#include "support.hpp"

#include <coline/testing.hpp>

#include <cerrno>
#include <filesystem>
#include <unistd.h>

using namespace test;

namespace {

template <class Stream>
asio::awaitable<void> tutorial_session(coline::basic_connection<Stream> conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn))
        co_await coline::write_line(conn, "Information received");
}

template <class Acceptor>
asio::awaitable<void> serve_one(Acceptor& acceptor)
{
    co_await tutorial_session(co_await coline::accept(acceptor));
}

// The tutorial's client: greeting, "SOME data", answer, then its end and the server's.
template <class Stream>
asio::awaitable<std::vector<std::string>> tutorial_client(coline::basic_connection<Stream> conn)
{
    conn.options().read_timeout = 5s;
    std::vector<std::string> seen;
    auto next = [&]() -> asio::awaitable<void> {
        std::optional<std::string_view> line = co_await coline::read_line(conn);
        seen.emplace_back(line.value_or("<end>"));
    };
    co_await next();
    co_await coline::write_line(conn, "SOME data");
    co_await next();
    conn.stream().shutdown(asio::socket_base::shutdown_send);
    co_await next();
    co_return seen;
}

const std::vector<std::string> tutorial_transcript{"Connect", "Information received", "<end>"};

// A socket path of its own in the temporary directory, removed at the end.
struct socket_path {
    std::filesystem::path path = std::filesystem::temp_directory_path()
                                 / ("coline-test-" + std::to_string(::getpid()) + "-" + std::to_string(++count) + ".sock");
    ~socket_path() { std::filesystem::remove(path); }
    static inline int count = 0;
};

} // namespace

TEST_CASE("IPv6: the tutorial's exchange over ::1" * doctest::timeout(10))
{
    asio::io_context io;
    auto acceptor = ipv6_loopback_acceptor(io);
    if (!acceptor.is_open())
        return;
    asio::co_spawn(io, serve_one(acceptor), asio::detached);
    const std::string port = std::to_string(acceptor.local_endpoint().port());
    auto client = [](std::string port) -> asio::awaitable<std::vector<std::string>> {
        auto conn = co_await coline::connect("::1", port, 5s);
        CHECK(conn.stream().remote_endpoint().address().is_v6());
        co_return co_await tutorial_client(std::move(conn));
    };
    CHECK(coline::testing::run(io, client(port)) == tutorial_transcript);
}

TEST_CASE("Unix domain socket: the tutorial's exchange, accept and connect by path" * doctest::timeout(10))
{
    using local = asio::local::stream_protocol;
    asio::io_context io;
    socket_path where;
    local::acceptor acceptor(io, local::endpoint(where.path.string()));
    asio::co_spawn(io, serve_one(acceptor), asio::detached);
    auto client = [](local::endpoint at) -> asio::awaitable<std::vector<std::string>> {
        coline::local_connection conn = co_await coline::connect(at, 5s);
        co_return co_await tutorial_client(std::move(conn));
    };
    CHECK(coline::testing::run(io, client(local::endpoint(where.path.string()))) == tutorial_transcript);
}

TEST_CASE("Unix domain socket: a path nobody listens on is a clear error")
{
    using local = asio::local::stream_protocol;
    asio::io_context io;
    socket_path nowhere;
    auto [ec, conn] = coline::testing::run(io, coline::connect(local::endpoint(nowhere.path.string()), 5s, coline::as_tuple));
    CHECK(ec == std::error_code(ENOENT, asio::error::get_system_category())); // Asio keeps its own system category
    CHECK_FALSE(conn.stream().is_open());
    CHECK_THROWS_AS(coline::testing::run(io, coline::connect(local::endpoint(nowhere.path.string()))), std::system_error);
}

TEST_CASE("TCP endpoint: connect without a name to resolve")
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    asio::co_spawn(io, serve_one(acceptor), asio::detached);
    auto client = [](tcp::endpoint at) -> asio::awaitable<std::vector<std::string>> {
        co_return co_await tutorial_client(co_await coline::connect(at, 5s));
    };
    CHECK(coline::testing::run(io, client(acceptor.local_endpoint())) == tutorial_transcript);
}

// The tutorial's exchange over every transport coline speaks besides IPv4 TCP:
// IPv6 and Unix domain sockets.
#include "support.hpp"

#include <coline/testing.hpp>

#include <cerrno>
#include <filesystem>
#include <future>
#include <thread>
#include <unistd.h>

using namespace test;

namespace {

template <class Stream>
coline::task<void> tutorial_session(coline::basic_connection<Stream> conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn))
        co_await coline::write_line(conn, "Information received");
}

template <class Acceptor>
coline::task<void> serve_one(Acceptor& acceptor)
{
    co_await tutorial_session(co_await coline::accept(acceptor));
}

// The tutorial's client: greeting, "SOME data", answer, then its end and the server's.
template <class Stream>
coline::task<std::vector<std::string>> tutorial_client(coline::basic_connection<Stream> conn)
{
    conn.options().read_timeout = 5s;
    std::vector<std::string> seen;
    auto next = [&]() -> coline::task<void> {
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
    ~socket_path()
    {
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
        std::filesystem::remove(path.string() + ".lock", ignored); // a local_server's lock file, which it keeps
    }
    static inline int count = 0;
};

} // namespace

TEST_CASE("IPv6: the tutorial's exchange over ::1" * doctest::timeout(10))
{
    asio::io_context io;
    auto acceptor = ipv6_loopback_acceptor(io);
    if (!acceptor.is_open())
        return;
    coline::spawn(io, serve_one(acceptor), asio::detached);
    const std::string port = std::to_string(acceptor.local_endpoint().port());
    auto client = [](std::string port) -> coline::task<std::vector<std::string>> {
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
    coline::spawn(io, serve_one(acceptor), asio::detached);
    auto client = [](local::endpoint at) -> coline::task<std::vector<std::string>> {
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
    CHECK(ec == coline::error_code(ENOENT, asio::error::get_system_category())); // Asio keeps its own system category
    CHECK_FALSE(conn.stream().is_open());
    try {
        coline::testing::run(io, coline::connect(local::endpoint(nowhere.path.string())));
        FAIL("connect returned");
    } catch (const coline::system_error& e) {
        CHECK(e.code() == coline::error_code(ENOENT, asio::error::get_system_category()));
    }
}

TEST_CASE("TCP endpoint: connect without a name to resolve")
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    coline::spawn(io, serve_one(acceptor), asio::detached);
    auto client = [](tcp::endpoint at) -> coline::task<std::vector<std::string>> {
        co_return co_await tutorial_client(co_await coline::connect(at, 5s));
    };
    CHECK(coline::testing::run(io, client(acceptor.local_endpoint())) == tutorial_transcript);
}

namespace {

coline::task<void> local_session(coline::local_connection& conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn))
        co_await coline::write_line(conn, "Information received");
}

} // namespace

TEST_CASE("local_server: the tutorial's exchange over a Unix socket, then stop()" * doctest::timeout(10))
{
    using local = asio::local::stream_protocol;
    asio::io_context io;
    socket_path where;
    coline::local_server server(io.get_executor(), local::endpoint(where.path.string()), local_session);
    CHECK(server.local_endpoint().path() == where.path.string());
    bool returned = false;
    coline::spawn(io, server.run(), [&](std::exception_ptr) { returned = true; });
    auto client = [](local::endpoint at) -> coline::task<std::vector<std::string>> {
        co_return co_await tutorial_client(co_await coline::connect(at, 5s));
    };
    for (int i = 0; i < 2; ++i)
        CHECK(coline::testing::run(io, client(server.local_endpoint())) == tutorial_transcript);
    server.stop();
    CHECK(run_until(io, [&] { return returned; }));
    CHECK(server.client_count() == 0);
}

TEST_CASE("local_server: reuse_port is for TCP only, and refused before the path is taken")
{
    using local = asio::local::stream_protocol;
    asio::io_context io;
    socket_path where;
    coline::server_options options;
    options.reuse_port = true;
    auto make = [&] { coline::local_server server(io.get_executor(), local::endpoint(where.path.string()), local_session, options); };
    CHECK_THROWS_AS(make(), std::invalid_argument);
    CHECK_FALSE(std::filesystem::exists(where.path));
    options.reuse_port = false;
    CHECK_NOTHROW(make());
}

TEST_CASE("run_server on a Unix socket: serves until its stop token; more than one thread is refused" * doctest::timeout(20))
{
    using local = asio::local::stream_protocol;
    socket_path where;
    std::stop_source stop;
    std::promise<local::endpoint> listening;
    coline::run_options<local::endpoint> run;
    run.stop_on_signals = false;
    run.stop = stop.get_token();
    bool listened = false; // (by the server's thread only)
    run.on_listening = [&](const local::endpoint& at) {
        listened = true;
        listening.set_value(at);
    };
    std::exception_ptr failure;
    std::thread server([&] {
        try {
            coline::run_server(local::endpoint(where.path.string()), local_session, {}, run);
        } catch (...) {
            failure = std::current_exception();
            if (!listened)
                listening.set_exception(failure);
        }
    });
    auto bound = listening.get_future();
    std::optional<local::endpoint> at;
    if (bound.wait_for(10s) == std::future_status::ready) {
        try {
            at = bound.get();
        } catch (...) {
        }
    }
    CHECK(at);
    if (at) {
        asio::io_context io;
        auto client = [](local::endpoint at) -> coline::task<std::vector<std::string>> {
            co_return co_await tutorial_client(co_await coline::connect(at, 5s));
        };
        CHECK(coline::testing::run(io, client(*at)) == tutorial_transcript);
    }
    stop.request_stop();
    server.join();
    CHECK_FALSE(failure);

    socket_path other;
    run.threads = 2;
    run.on_listening = nullptr;
    CHECK_THROWS_AS(coline::run_server(local::endpoint(other.path.string()), local_session, {}, run),
                    std::invalid_argument);
    CHECK_FALSE(std::filesystem::exists(other.path));
}

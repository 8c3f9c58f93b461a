// connect: resolving, IPv4 and IPv6, refusals and time limits.
#include "support.hpp"

using namespace test;

namespace {

// Accepts one client and answers its first line with the line reversed.
asio::awaitable<void> reverse_one_line(tcp::acceptor& acceptor)
{
    auto conn = co_await coline::accept(acceptor);
    auto line = co_await coline::read_line(conn);
    std::string reversed(line->rbegin(), line->rend());
    co_await coline::write_line(conn, reversed);
}

std::string exchange_with(asio::io_context& io, tcp::acceptor& acceptor, std::string host)
{
    asio::co_spawn(io, reverse_one_line(acceptor), asio::detached);
    auto client = [&]() -> asio::awaitable<std::string> {
        auto conn = co_await coline::connect(host, port_of(acceptor), 5s);
        co_await coline::write_line(conn, "abc");
        auto answer = co_await coline::read_line(conn, 5s);
        co_return std::string(answer.value_or("<end>"));
    };
    return run(io, client());
}

// The error of a non-throwing connect; the connection must be closed on error.
asio::awaitable<std::error_code> connect_error(std::string host, std::string port)
{
    auto [ec, conn] = co_await coline::connect(host, port, 5s, coline::as_tuple);
    CHECK(conn.stream().is_open() == !ec);
    co_return ec;
}

} // namespace

TEST_CASE("connect reaches a server by IPv4 address and by name" * doctest::timeout(10))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    CHECK(exchange_with(io, acceptor, "127.0.0.1") == "cba");
    CHECK(exchange_with(io, acceptor, "localhost") == "cba");
}

TEST_CASE("connect reaches a server over IPv6" * doctest::timeout(10))
{
    asio::io_context io;
    auto acceptor = ipv6_loopback_acceptor(io);
    if (!acceptor.is_open())
        return;
    CHECK(exchange_with(io, acceptor, "::1") == "cba");
}

TEST_CASE("connect without a time limit, non-throwing: by name and by endpoint" * doctest::timeout(10))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    auto [ec, by_name] = run(io, coline::connect("127.0.0.1", port_of(acceptor), coline::as_tuple));
    CHECK_FALSE(ec);
    CHECK(by_name.stream().remote_endpoint() == acceptor.local_endpoint());
    auto [ec2, by_endpoint] = run(io, coline::connect(acceptor.local_endpoint(), coline::as_tuple));
    CHECK_FALSE(ec2);
    CHECK(by_endpoint.stream().is_open());
    const tcp::endpoint closed = acceptor.local_endpoint();
    acceptor.close();
    auto [refused, none] = run(io, coline::connect(closed, coline::as_tuple));
    CHECK(refused == asio::error::connection_refused);
}

TEST_CASE("connect to a port nobody listens on is refused" * doctest::timeout(10))
{
    asio::io_context io;
    std::string port;
    {
        auto acceptor = loopback_acceptor(io);
        port = port_of(acceptor);
    }
    CHECK(run(io, connect_error("127.0.0.1", port)) == asio::error::connection_refused);
    auto throwing = [&]() -> asio::awaitable<void> { co_await coline::connect("127.0.0.1", port); };
    CHECK_THROWS_AS(run(io, throwing()), std::system_error);
}

TEST_CASE("connect with a service name it cannot resolve reports the resolver's error" * doctest::timeout(10))
{
    asio::io_context io;
    const auto ec = run(io, connect_error("127.0.0.1", "no-such-service-name"));
    CHECK(ec);
    CHECK(ec != coline::error::timeout);
}

// Connects again and again to a listener whose accept queue is full, keeping
// every connection, until one fails; returns that error. A full queue drops
// further SYNs, so those connects hang: the loopback stand-in for an
// unreachable host. `connect_once(port)` is the form of connect under test.
template <class Connect>
std::error_code connect_until_one_hangs(Connect connect_once)
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io, 0);
    std::vector<coline::connection> queued;
    std::error_code ec;
    auto connect_and_keep = [&]() -> asio::awaitable<std::error_code> {
        auto [ec, conn] = co_await connect_once(acceptor.local_endpoint());
        CHECK(conn.stream().is_open() == !ec);
        queued.push_back(std::move(conn));
        co_return ec;
    };
    for (int i = 0; i < 64 && !ec; ++i)
        ec = run(io, connect_and_keep());
    return ec;
}

TEST_CASE("connect gives up with error::timeout when the server never completes the handshake" * doctest::timeout(30))
{
    const auto started = std::chrono::steady_clock::now();
    const auto ec = connect_until_one_hangs(
        [](tcp::endpoint at) -> asio::awaitable<std::tuple<std::error_code, coline::connection>> {
            const std::string port = std::to_string(at.port()); // lives as long as the connect
            co_return co_await coline::connect("127.0.0.1", port, 200ms, coline::as_tuple);
        });
    CHECK(ec == coline::error::timeout);
    CHECK(std::chrono::steady_clock::now() - started < 20s);
}

TEST_CASE("connect to an endpoint gives up with error::timeout too" * doctest::timeout(30))
{
    const auto started = std::chrono::steady_clock::now();
    const auto ec = connect_until_one_hangs([](tcp::endpoint at) { return coline::connect(at, 200ms, coline::as_tuple); });
    CHECK(ec == coline::error::timeout);
    CHECK(std::chrono::steady_clock::now() - started < 20s);
    // and the throwing form throws it
    const auto thrown = connect_until_one_hangs(
        [](tcp::endpoint at) -> asio::awaitable<std::tuple<std::error_code, coline::connection>> {
            std::error_code caught;
            try {
                co_return std::tuple{std::error_code{}, co_await coline::connect(at, 200ms)};
            } catch (const std::system_error& e) {
                caught = e.code();
            }
            co_return std::tuple{caught, coline::connection(tcp::socket(co_await asio::this_coro::executor))};
        });
    CHECK(thrown == coline::error::timeout);
}

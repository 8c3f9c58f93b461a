// connect: resolving, IPv4 and IPv6, refusals and time limits.
#include "support.hpp"

using namespace test;

namespace {

// Accepts one client and answers its first line with the line reversed.
coline::task<void> reverse_one_line(tcp::acceptor& acceptor)
{
    auto conn = co_await coline::accept(acceptor);
    auto line = co_await coline::read_line(conn);
    std::string reversed(line->rbegin(), line->rend());
    co_await coline::write_line(conn, reversed);
}

std::string exchange_with(asio::io_context& io, tcp::acceptor& acceptor, std::string host)
{
    coline::spawn(io, reverse_one_line(acceptor), asio::detached);
    auto client = [&]() -> coline::task<std::string> {
        auto conn = co_await coline::connect(host, port_of(acceptor), 5s);
        co_await coline::write_line(conn, "abc");
        auto answer = co_await coline::read_line(conn, 5s);
        co_return std::string(answer.value_or("<end>"));
    };
    return run(io, client());
}

// The error of a non-throwing connect; the connection must be closed on error.
coline::task<coline::error_code> connect_error(std::string host, std::string port)
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
    auto throwing = [&]() -> coline::task<void> { co_await coline::connect("127.0.0.1", port); };
    try {
        run(io, throwing());
        FAIL("connect returned");
    } catch (const coline::system_error& e) {
        CHECK(e.code() == asio::error::connection_refused);
    }
}

TEST_CASE("connect with a service name it cannot resolve reports the resolver's error" * doctest::timeout(10))
{
    asio::io_context io;
    const auto ec = run(io, connect_error("127.0.0.1", "no-such-service-name"));
    CHECK_MESSAGE(ec == asio::error::service_not_found, ec.message());
}

// Connects again and again to a listener whose accept queue is full, keeping
// every connection, until one fails; returns that error. A full queue drops
// further SYNs, so those connects hang: the loopback stand-in for an
// unreachable host. `connect_once(port)` is the form of connect under test.
template <class Connect>
coline::error_code connect_until_one_hangs(Connect connect_once)
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io, 0);
    std::vector<coline::connection> queued;
    coline::error_code ec;
    auto connect_and_keep = [&]() -> coline::task<coline::error_code> {
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
        [](tcp::endpoint at) { return coline::connect("127.0.0.1", at.port(), 200ms, coline::as_tuple); });
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
        [](tcp::endpoint at) -> coline::task<std::tuple<coline::error_code, coline::connection>> {
            coline::error_code caught;
            try {
                co_return std::tuple{coline::error_code{}, co_await coline::connect(at, 200ms)};
            } catch (const coline::system_error& e) {
                caught = e.code();
            }
            co_return std::tuple{caught, coline::connection(tcp::socket(co_await asio::this_coro::executor))};
        });
    CHECK(thrown == coline::error::timeout);
}

TEST_CASE("connect takes the port as a number, of any integer type" * doctest::timeout(10))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    const unsigned short port = acceptor.local_endpoint().port();
    coline::spawn(io, reverse_one_line(acceptor), asio::detached);
    auto client = [](unsigned short port) -> coline::task<std::string> {
        auto conn = co_await coline::connect("127.0.0.1", port, 5s);
        co_await coline::write_line(conn, "abc");
        co_return std::string((co_await coline::read_line(conn, 5s)).value_or("<end>"));
    };
    CHECK(run(io, client(port)) == "cba");
    auto [ec, conn] = run(io, coline::connect("127.0.0.1", port, 5s, coline::as_tuple));
    REQUIRE_FALSE(ec);
    CHECK(conn.stream().remote_endpoint() == acceptor.local_endpoint());
    auto by_int = run(io, coline::connect("127.0.0.1", static_cast<int>(port)));
    CHECK(by_int.stream().remote_endpoint() == acceptor.local_endpoint());
    auto by_long = run(io, coline::connect(std::string("127.0.0.1"), static_cast<long long>(port), 5s));
    CHECK(by_long.stream().remote_endpoint() == acceptor.local_endpoint());
}

TEST_CASE("a port number out of range is std::errc::invalid_argument, not a wrapped-around port" * doctest::timeout(10))
{
    asio::io_context io;
    // 65536 + 80 would be port 80 after a wrap-around to 16 bits.
    for (long long bad : {-1LL, 65536LL, 65536LL + 80, 1LL << 40}) {
        CAPTURE(bad);
        auto [ec, conn] = run(io, coline::connect("127.0.0.1", bad, 5s, coline::as_tuple));
        CHECK(ec == std::errc::invalid_argument);
        CHECK_FALSE(conn.stream().is_open());
        try {
            run(io, coline::connect("127.0.0.1", bad));
            FAIL("connect returned");
        } catch (const coline::system_error& e) {
            CHECK(e.code() == std::errc::invalid_argument);
        }
    }
    auto [ec, conn] = run(io, coline::connect("127.0.0.1", 70000u, coline::as_tuple));
    CHECK(ec == std::errc::invalid_argument);
    // The edges are in range: 0 and 65535 get as far as the connect (refused,
    // unless something happens to listen there).
    for (int edge : {0, 65535}) {
        CAPTURE(edge);
        auto [edge_ec, edge_conn] = run(io, coline::connect("127.0.0.1", edge, 5s, coline::as_tuple));
        CHECK_MESSAGE((edge_ec == asio::error::connection_refused || (!edge_ec && edge_conn.stream().is_open())),
                      edge_ec.message());
    }
}

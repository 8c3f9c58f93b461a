// TLS: the tutorial's exchange over asio::ssl::stream, with a throwaway
// self-signed certificate made at test time (no key is committed), and each
// way a TLS connection can fail.
#include "tls_support.hpp"

using namespace test;

namespace {

// The tutorial's server session over TLS, ended with close_notify.
coline::task<void> tutorial_session(coline::tls_connection conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn, 5s))
        co_await coline::write_line(conn, "Information received");
    co_await coline::shutdown_tls(conn, 5s);
    conn.close();
}

// A TLS port's accept: the next client, then the server's side of the handshake.
coline::task<std::tuple<coline::error_code, coline::tls_connection>>
accept_tls(tcp::acceptor& acceptor, asio::ssl::context& context, coline::duration timeout)
{
    co_return co_await coline::start_tls(co_await coline::accept(acceptor), context, timeout, coline::as_tuple);
}

coline::task<void> serve_one(tcp::acceptor& acceptor, asio::ssl::context& context)
{
    auto [ec, conn] = co_await accept_tls(acceptor, context, 5s);
    if (!ec)
        co_await tutorial_session(std::move(conn));
}

coline::task<std::vector<std::string>> tutorial_client(std::string host, std::string port,
                                                          asio::ssl::context& context)
{
    auto conn = co_await coline::connect_tls(host, port, context, 5s);
    std::vector<std::string> seen;
    auto next = [&]() -> coline::task<void> {
        std::optional<std::string_view> line = co_await coline::read_line(conn, 5s);
        seen.emplace_back(line.value_or("<end>"));
    };
    co_await next();
    co_await coline::write_line(conn, "SOME data");
    co_await next();
    co_await coline::shutdown_tls(conn, 5s); // our close_notify ends the server's loop; it answers with its own
    co_await next();
    co_return seen;
}

const std::vector<std::string> tutorial_transcript{"Connect", "Information received", "<end>"};

} // namespace

TEST_CASE("TLS: the tutorial's exchange, with the server named by DNS name and by IP address" * doctest::timeout(20))
{
    for (const char* host : {"localhost", "127.0.0.1"}) {
        CAPTURE(host);
        asio::io_context io;
        auto acceptor = loopback_acceptor(io);
        auto server_tls = server_context(localhost_certificate());
        auto client_tls = client_context(&localhost_certificate());
        coline::spawn(io, serve_one(acceptor, server_tls), asio::detached);
        CHECK(run(io, tutorial_client(host, port_of(acceptor), client_tls)) == tutorial_transcript);
    }
}

TEST_CASE("TLS: a client that does not trust the certificate fails with certificate verify failed" * doctest::timeout(20))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    auto server_tls = server_context(localhost_certificate());
    auto untrusting = client_context(nullptr);
    coline::error_code server_error;
    coline::spawn(io, [&]() -> coline::task<void> {
        for (int client = 0; client < 2; ++client) {
            auto [ec, conn] = co_await accept_tls(acceptor, server_tls, 5s);
            server_error = ec;
        }
    }, asio::detached);
    auto [ec, conn] = run(io, coline::connect_tls("localhost", port_of(acceptor), untrusting, 5s, coline::as_tuple));
    CHECK(ec.category() == asio::error::get_ssl_category());
    CHECK_MESSAGE(ec.message().find("certificate verify failed") != std::string::npos, ec.message());
    CHECK_FALSE(conn.stream().lowest_layer().is_open());
    CHECK_THROWS_WITH_AS(run(io, coline::connect_tls("localhost", port_of(acceptor), untrusting, 5s)),
                         doctest::Contains("certificate verify failed"), coline::system_error);
    CHECK(run_until(io, [&] { return bool(server_error); })); // the server saw the client's alert
    CHECK(server_error.category() == asio::error::get_ssl_category());
    CHECK_MESSAGE(server_error.message().find("unknown ca") != std::string::npos, server_error.message());
}

TEST_CASE("TLS: a trusted certificate for another name fails verification" * doctest::timeout(20))
{
    const auto other = make_certificate("coline.test", "DNS:coline.test");
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    auto server_tls = server_context(other);
    auto client_tls = client_context(&other);
    coline::spawn(io, serve_one(acceptor, server_tls), asio::detached);
    auto [ec, conn] = run(io, coline::connect_tls("localhost", port_of(acceptor), client_tls, 5s, coline::as_tuple));
    CHECK_MESSAGE(ec.message().find("certificate verify failed") != std::string::npos, ec.message());
}

TEST_CASE("TLS: a client that never starts the handshake is dropped at the time limit" * doctest::timeout(20))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    auto server_tls = server_context(localhost_certificate());
    tcp::socket silent(io);
    silent.connect(acceptor.local_endpoint());
    const auto started = std::chrono::steady_clock::now();
    auto [ec, conn] = run(io, accept_tls(acceptor, server_tls, 200ms));
    CHECK(ec == coline::error::timeout);
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    CHECK_FALSE(conn.stream().lowest_layer().is_open());
}

TEST_CASE("TLS: after stop_reading, the lines that had arrived, then the end at once" * doctest::timeout(20))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    std::vector<std::string> read;
    coline::error_code last_error = coline::error::timeout; // until the server's last read says otherwise
    bool server_done = false;
    coline::spawn(io, [&]() -> coline::task<void> {
        auto [ec, conn] = co_await accept_tls(acceptor, server_tls, 5s);
        if (ec)
            co_return;
        read.emplace_back((co_await coline::read_line(conn, 5s)).value_or("<end>"));
        co_await coline::write_line(conn, "ack"); // the client sends its next lines only now
        asio::steady_timer poll(io);
        for (int i = 0; i < 500 && conn.stream().lowest_layer().available() == 0; ++i) {
            poll.expires_after(10ms); // (until the encrypted lines are in the socket, unread)
            co_await poll.async_wait(coline::use_task);
        }
        conn.stop_reading();
        for (;;) {
            auto [read_error, line] = co_await coline::read_line(conn, 3s, coline::as_tuple);
            last_error = read_error;
            if (read_error || !line)
                break;
            read.emplace_back(*line);
        }
        conn.close();
        server_done = true;
    }, asio::detached);
    coline::spawn(io, [&]() -> coline::task<void> {
        auto conn = co_await coline::connect_tls("localhost", port_of(acceptor), client_tls, 5s);
        co_await coline::write_line(conn, "one");
        co_await coline::read_line(conn, 5s);
        co_await coline::write_line(conn, "two");
        co_await coline::write_line(conn, "three");
        co_await coline::flush(conn);
        co_await coline::read_line(conn, 5s, coline::as_tuple); // until the server closes
    }, asio::detached);
    CHECK(run_until(io, [&] { return server_done; }));
    CHECK(read == std::vector<std::string>{"one", "two", "three"});
    CHECK_FALSE(last_error); // the end, not error::timeout: encrypted bytes counted as lines do not hold it
}

TEST_CASE("TLS: a plain-text client is a handshake error, and throws in the throwing form" * doctest::timeout(20))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    auto server_tls = server_context(localhost_certificate());
    for (bool throwing : {false, true}) {
        tcp::socket plain(io);
        plain.connect(acceptor.local_endpoint());
        asio::write(plain, asio::buffer(std::string_view("SOME data\n")));
        if (throwing) {
            auto client = [&]() -> coline::task<void> {
                co_await coline::start_tls(co_await coline::accept(acceptor), server_tls, 5s);
            };
            try {
                run(io, client());
                FAIL("start_tls returned");
            } catch (const coline::system_error& e) {
                CHECK(e.code().category() == asio::error::get_ssl_category());
                CHECK_MESSAGE(e.code().message().find("wrong version number") != std::string::npos, e.code().message());
                CHECK(std::string(e.what()).find("coline::start_tls") != std::string::npos);
            }
        } else {
            auto [ec, conn] = run(io, accept_tls(acceptor, server_tls, 5s));
            CHECK(ec.category() == asio::error::get_ssl_category());
            CHECK_MESSAGE(ec.message().find("wrong version number") != std::string::npos, ec.message());
        }
    }
}

TEST_CASE("TLS: a peer that closes without close_notify is reported as a truncated stream" * doctest::timeout(20))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    coline::spawn(io, [&]() -> coline::task<void> {
        auto conn = co_await coline::start_tls(co_await coline::accept(acceptor), server_tls, 5s);
        co_await coline::write_line(conn, "Connect");
        conn.close(); // no close_notify
    }, asio::detached);
    auto client = [&]() -> coline::task<coline::error_code> {
        auto conn = co_await coline::connect_tls("localhost", port_of(acceptor), client_tls, 5s);
        auto greeting = co_await coline::read_line(conn, 5s);
        CHECK(greeting == "Connect");
        auto [ec, line] = co_await coline::read_line(conn, 5s, coline::as_tuple);
        CHECK_FALSE(line);
        co_return ec;
    };
    CHECK(run(io, client()) == asio::ssl::error::stream_truncated);
}

TEST_CASE("TLS: shutdown_tls gives up at its time limit when the peer never answers" * doctest::timeout(20))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    std::optional<coline::tls_connection> idle_client; // connected, then reads nothing
    auto server = [&](bool throwing) -> coline::task<coline::error_code> {
        auto conn = co_await coline::start_tls(co_await coline::accept(acceptor), server_tls, 5s);
        if (!throwing) {
            auto [ec] = co_await coline::shutdown_tls(conn, 200ms, coline::as_tuple);
            co_return ec;
        }
        try {
            co_await coline::shutdown_tls(conn, 200ms); // throws by default, like every operation
        } catch (const coline::system_error& e) {
            co_return e.code();
        }
        co_return coline::error_code{};
    };
    for (bool throwing : {false, true}) {
        CAPTURE(throwing);
        idle_client.reset();
        coline::spawn(io, [&]() -> coline::task<void> {
            idle_client.emplace(co_await coline::connect_tls("127.0.0.1", port_of(acceptor), client_tls, 5s));
        }, asio::detached);
        const auto started = std::chrono::steady_clock::now();
        CHECK(run(io, server(throwing)) == coline::error::timeout);
        CHECK(std::chrono::steady_clock::now() - started < 5s);
    }
}

TEST_CASE("STARTTLS: a plain exchange, then both sides switch to TLS on the same connection" * doctest::timeout(20))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    coline::spawn(io, [&]() -> coline::task<void> {
        // coalesce_writes on. (A local, not a temporary: GCC 12 destroys some temporaries
        // of a co_await's full-expression twice.)
        const coline::connection_options options = coline::server_options{}.connection;
        auto plain = co_await coline::accept(acceptor);
        plain.options() = options;
        auto request = co_await coline::read_line(plain, 5s);
        CHECK(request == "STARTTLS");
        co_await coline::write_line(plain, "OK go ahead"); // kept back: start_tls sends it in clear
        auto conn = co_await coline::start_tls(std::move(plain), server_tls, 5s);
        CHECK_FALSE(plain.stream().is_open());
        co_await coline::write_line(conn, "secret {}", (co_await coline::read_line(conn, 5s)).value_or("?"));
        co_await coline::shutdown_tls(conn, 5s);
    }, asio::detached);
    auto client = [&]() -> coline::task<std::string> {
        auto plain = co_await coline::connect("127.0.0.1", port_of(acceptor), 5s);
        co_await coline::write_line(plain, "STARTTLS");
        auto go = co_await coline::read_line(plain, 5s);
        CHECK(go == "OK go ahead");
        auto conn = co_await coline::start_tls(std::move(plain), client_tls, "localhost", 5s);
        co_await coline::write_line(conn, "knock");
        std::string answer{(co_await coline::read_line(conn, 5s)).value_or("<end>")};
        CHECK((co_await coline::read_line(conn, 5s)) == std::nullopt); // the server's close_notify
        co_return answer;
    };
    CHECK(run(io, client()) == "secret knock");
}

TEST_CASE("STARTTLS: bytes that came in clear after the request are refused, not taken for TLS" * doctest::timeout(20))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    auto server_tls = server_context(localhost_certificate());
    asio::write(peer, asio::buffer(std::string_view("STARTTLS\nINJECTED\n")));
    auto upgrade = [&]() -> coline::task<coline::error_code> {
        auto request = co_await coline::read_line(conn, 5s);
        CHECK(request == "STARTTLS");
        auto [ec, tls] = co_await coline::start_tls(std::move(conn), server_tls, 5s, coline::as_tuple);
        CHECK_FALSE(tls.stream().lowest_layer().is_open());
        co_return ec;
    };
    const auto ec = run(io, upgrade());
    CHECK(ec == coline::error::input_before_tls);
    CHECK(ec.message() == "bytes received in clear before the TLS handshake");
}

TEST_CASE("start_tls as the client checks the host name too" * doctest::timeout(20))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    coline::spawn(io, serve_one(acceptor, server_tls), asio::detached);
    auto client = [&]() -> coline::task<coline::error_code> {
        auto plain = co_await coline::connect("127.0.0.1", port_of(acceptor), 5s);
        auto [ec, conn] = co_await coline::start_tls(std::move(plain), client_tls, "coline.test", 5s, coline::as_tuple);
        co_return ec;
    };
    CHECK_MESSAGE(run(io, client()).message().find("certificate verify failed") != std::string::npos, "no verify failure");
}

TEST_CASE("TLS: connect_tls and start_tls spawned with temporaries, before the io_context runs" * doctest::timeout(20))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    const unsigned short port = acceptor.local_endpoint().port();
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    constexpr int clients = 4;
    coline::spawn(io, [&]() -> coline::task<void> {
        for (int i = 0; i < clients; ++i)
            coline::spawn(io, serve_one(acceptor, server_tls), asio::detached);
        co_return;
    }, asio::detached);

    std::vector<coline::tls_connection> connected;
    std::vector<std::string> failures;
    int pending = 0;
    auto keep = [&]() {
        ++pending;
        return [&](std::exception_ptr error, std::optional<coline::tls_connection> conn) {
            --pending;
            if (error) {
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    failures.emplace_back(e.what());
                }
            } else {
                connected.push_back(std::move(*conn));
            }
        };
    };
    // The name the certificate must hold, in temporaries or in buffers the
    // caller overwrites: a dangling one fails verification.
    spawn_operation(io, coline::connect_tls(std::string("localhost"), std::to_string(port), client_tls, 5s), keep());
    {
        std::string host = "localhost";
        spawn_operation(io, coline::connect_tls(host.c_str(), port, client_tls), keep());
        host = "elsewhere";
    }
    auto plain = [&] {
        tcp::socket socket(io);
        socket.connect(acceptor.local_endpoint()); // the kernel completes it before accept
        return coline::connection(std::move(socket));
    };
    spawn_operation(io, coline::start_tls(plain(), client_tls, std::string("localhost"), 5s), keep());
    {
        std::string host = "localhost";
        spawn_operation(io, coline::start_tls(plain(), client_tls, host.c_str()), keep());
        host = "elsewhere";
    }
    CHECK(run_until(io, [&] { return pending == 0; }));
    CHECK(failures == std::vector<std::string>{});
    REQUIRE(connected.size() == clients);

    auto exchange = [&](coline::tls_connection& conn) -> coline::task<std::vector<std::string>> {
        std::vector<std::string> seen;
        seen.emplace_back((co_await coline::read_line(conn, 5s)).value_or("<end>"));
        co_await coline::write_line(conn, "SOME {}", std::string("data in a temporary"));
        seen.emplace_back((co_await coline::read_line(conn, 5s)).value_or("<end>"));
        co_await coline::shutdown_tls(conn, 5s);
        co_return seen;
    };
    for (auto& conn : connected)
        CHECK(run(io, exchange(conn)) == std::vector<std::string>{"Connect", "Information received"});
}

TEST_CASE("TLS: connect_tls gives up with error::timeout when the server never answers the ClientHello" * doctest::timeout(20))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    auto client_tls = client_context(&localhost_certificate());
    std::vector<tcp::socket> mute; // accepted, then neither read nor written
    coline::spawn(io, [&]() -> coline::task<void> {
        for (int i = 0; i < 2; ++i)
            mute.push_back(co_await acceptor.async_accept(coline::use_task));
    }, asio::detached);
    for (bool throwing : {false, true}) {
        CAPTURE(throwing);
        const auto started = std::chrono::steady_clock::now();
        if (!throwing) {
            auto [ec, conn] = run(io, coline::connect_tls("127.0.0.1", port_of(acceptor), client_tls, 200ms, coline::as_tuple));
            CHECK(ec == coline::error::timeout);
            CHECK_FALSE(conn.stream().lowest_layer().is_open());
        } else {
            try {
                run(io, coline::connect_tls("127.0.0.1", port_of(acceptor), client_tls, 200ms));
                FAIL("connect_tls returned");
            } catch (const coline::system_error& e) {
                CHECK(e.code() == coline::error::timeout);
            }
        }
        const auto took = std::chrono::steady_clock::now() - started;
        CHECK(took >= 150ms);
        CHECK(took < 5s);
    }
    CHECK(mute.size() == 2); // both reached the server: it is the handshake that timed out
}

TEST_CASE("STARTTLS: when the lines kept back cannot be sent, start_tls fails with the send's error" * doctest::timeout(20))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io, coline::server_options{}.connection); // coalesce_writes on
    auto server_tls = server_context(localhost_certificate());
    asio::write(peer, asio::buffer(std::string_view("STARTTLS\nmore\n")));
    auto upgrade = [&]() -> coline::task<coline::error_code> {
        auto request = co_await coline::read_line(conn, 5s);
        CHECK(request == "STARTTLS");
        co_await coline::write_line(conn, "OK go ahead"); // kept back: "more" waits
        peer.set_option(asio::socket_base::linger(true, 0));
        peer.close(); // the peer resets the connection
        co_await conn.stream().async_wait(asio::socket_base::wait_read, coline::use_task); // the reset is here
        auto [ec, tls] = co_await coline::start_tls(std::move(conn), server_tls, 5s, coline::as_tuple);
        CHECK_FALSE(tls.stream().lowest_layer().is_open());
        co_return ec;
    };
    const auto ec = run(io, upgrade());
    CHECK_MESSAGE(cut_off(ec), ec.message()); // not error::input_before_tls: the send failed first
}

TEST_CASE("start_tls as the client: a host name SNI cannot carry fails before anything is sent" * doctest::timeout(20))
{
    asio::io_context io;
    auto [conn, peer] = make_tcp_pair(io);
    auto client_tls = client_context(&localhost_certificate());
    // Longer than the 255 bytes a DNS name (and OpenSSL's SNI) may have.
    std::string name;
    while (name.size() <= 255)
        name += "label.";
    name += "test";
    auto [ec, tls] = run(io, coline::start_tls(std::move(conn), client_tls, name, 2s, coline::as_tuple));
    CHECK(ec.category() == asio::error::get_ssl_category());
    CHECK_MESSAGE(ec.message().find("invalid servername") != std::string::npos, ec.message());
    CHECK_FALSE(tls.stream().lowest_layer().is_open());
    char byte;
    coline::error_code peer_ec;
    peer.read_some(asio::buffer(&byte, 1), peer_ec);
    CHECK(peer_ec == asio::error::eof); // closed with no ClientHello sent
    CHECK_THROWS_WITH_AS(run(io, coline::start_tls(coline::testing::make_connection_pair(io).client, client_tls, name, 2s)),
                         doctest::Contains("invalid servername"), coline::system_error);
}

namespace {

// Two ends of a TLS connection over loopback, past the handshake and a first
// line (which also takes in what the server sends after its handshake).
struct tls_pair {
    coline::tls_connection server;
    coline::tls_connection client;
};

tls_pair make_tls_pair(asio::io_context& io, asio::ssl::context& server_tls, asio::ssl::context& client_tls)
{
    auto acceptor = loopback_acceptor(io);
    std::optional<coline::tls_connection> server;
    coline::spawn(io, [&]() -> coline::task<void> {
        auto conn = co_await coline::start_tls(co_await coline::accept(acceptor), server_tls, 5s);
        co_await coline::write_line(conn, "hello");
        server.emplace(std::move(conn));
    }, asio::detached);
    auto client = run(io, coline::connect_tls("localhost", port_of(acceptor), client_tls, 5s));
    REQUIRE(run(io, coline::read_line(client, 5s)) == std::optional<std::string_view>("hello"));
    REQUIRE(run_until(io, [&] { return server.has_value(); }));
    return {std::move(*server), std::move(client)};
}

// shutdown_tls in either style; the error it returned or threw.
coline::task<coline::error_code> shutdown_result(coline::tls_connection& conn, bool throwing)
{
    if (!throwing) {
        auto [ec] = co_await coline::shutdown_tls(conn, 5s, coline::as_tuple);
        co_return ec;
    }
    try {
        co_await coline::shutdown_tls(conn, 5s);
    } catch (const coline::system_error& e) {
        co_return e.code();
    }
    co_return coline::error_code{};
}

} // namespace

TEST_CASE("TLS: shutdown_tls is done when the peer answers close_notify, or closes" * doctest::timeout(20))
{
    asio::io_context io;
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    SUBCASE("the peer answers with its close_notify")
    {
        for (bool throwing : {false, true}) {
            CAPTURE(throwing);
            auto [server, client] = make_tls_pair(io, server_tls, client_tls);
            std::optional<coline::error_code> peer_ec;
            coline::spawn(io, [&]() -> coline::task<void> {
                auto line = co_await coline::read_line(client, 5s); // our close_notify: the end
                CHECK_FALSE(line);
                auto [ec] = co_await coline::shutdown_tls(client, 5s, coline::as_tuple);
                peer_ec = ec;
            }, asio::detached);
            const auto ec = run(io, shutdown_result(server, throwing));
            CHECK_MESSAGE(!ec, ec.message());
            REQUIRE(run_until(io, [&] { return peer_ec.has_value(); }));
            CHECK_MESSAGE(!*peer_ec, peer_ec->message());
        }
    }
    SUBCASE("the peer closes without close_notify")
    {
        for (bool throwing : {false, true}) {
            CAPTURE(throwing);
            auto [server, client] = make_tls_pair(io, server_tls, client_tls);
            client.close();
            const auto ec = run(io, shutdown_result(server, throwing));
            CHECK_MESSAGE(!ec, ec.message());
        }
    }
}

TEST_CASE("TLS: shutdown_tls reports a peer that reset the connection" * doctest::timeout(20))
{
    asio::io_context io;
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    for (bool throwing : {false, true}) {
        CAPTURE(throwing);
        auto [server, client] = make_tls_pair(io, server_tls, client_tls);
        client.stream().lowest_layer().set_option(asio::socket_base::linger(true, 0));
        client.close();
        run(io, server.stream().lowest_layer().async_wait(asio::socket_base::wait_read, coline::use_task));
        const auto ec = run(io, shutdown_result(server, throwing));
        CHECK_MESSAGE(cut_off(ec), ec.message());
    }
}

TEST_CASE("session_driver: STARTTLS on both sides, then stop_server() ends the upgraded session at once"
          * doctest::timeout(20))
{
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    coline::testing::session_driver client([&](coline::connection& plain) -> coline::task<void> {
        co_await coline::write_line(plain, "Connect");
        if (co_await coline::read_line(plain) != "STARTTLS")
            co_return;
        co_await coline::write_line(plain, "OK go ahead");
        auto conn = co_await coline::start_tls(std::move(plain), server_tls, 5s);
        while (auto line = co_await coline::read_line(conn))
            co_await coline::write_line(conn, "secret {}", *line);
    });
    CHECK(client.read_line() == "Connect");
    client.write_line("STARTTLS");
    CHECK(client.read_line() == "OK go ahead");
    client.upgrade_client([&](coline::connection plain) {
        return coline::start_tls(std::move(plain), client_tls, "localhost", 5s);
    });
    client.write_line("knock");
    CHECK(client.read_line() == "secret knock");
    const auto stopped = std::chrono::steady_clock::now();
    client.stop_server();
    CHECK(client.read_line() == std::nullopt); // the end, with the handler's close_notify (else: stream_truncated)
    CHECK(std::chrono::steady_clock::now() - stopped < 2s);
    client.finish();
}

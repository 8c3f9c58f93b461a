// The server over TLS: basic_server<tls_transport>, its limits on clients and
// handshakes, the handshake's time limit, and stop() during handshakes.
#include "server_support.hpp"
#include "tls_support.hpp"

#include <optional>

using namespace test;

namespace {

using tls_server = coline::basic_server<coline::tls_transport>;

coline::task<void> server_session(coline::tls_connection& conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn))
        co_await coline::write_line(conn, "Information received {}", *line);
}

// A TLS server on 127.0.0.1 and a port the kernel picks, run on `io` (by
// the test's own calls), with the errors it reports kept.
class running_server {
public:
    running_server(asio::io_context& io, asio::ssl::context& tls, coline::server_options options = {},
                   std::optional<coline::tls_transport> transport = std::nullopt)
        : io_(io),
          server_(io.get_executor(), {asio::ip::address_v4::loopback(), 0}, server_session, with_log(options),
                  transport.value_or(coline::tls_transport{tls}))
    {
        coline::spawn(io, server_.run(), [this](std::exception_ptr e) {
            failure = e;
            returned = true;
        });
    }
    ~running_server()
    {
        server_.stop();
        run_until(io_, [this] { return returned; });
    }

    tls_server& operator*() { return server_; }
    tls_server* operator->() { return &server_; }
    unsigned short port() const { return server_.local_endpoint().port(); }

    bool reported(coline::error_code code) const
    {
        return std::find(errors.begin(), errors.end(), code) != errors.end();
    }

    bool returned = false;
    std::exception_ptr failure;
    std::vector<coline::error_code> errors; // what on_handler_error got

private:
    coline::server_options with_log(coline::server_options options)
    {
        options.on_handler_error = [this](std::exception_ptr error) {
            try {
                std::rethrow_exception(error);
            } catch (const coline::system_error& e) {
                errors.push_back(e.code());
            } catch (...) {
                errors.push_back(std::make_error_code(std::errc::state_not_recoverable));
            }
        };
        return options;
    }

    asio::io_context& io_;
    tls_server server_;
};

// The tutorial's client over TLS, ended with its close_notify.
coline::task<std::vector<std::string>> tutorial_client(unsigned short port, asio::ssl::context& tls)
{
    auto conn = co_await coline::connect_tls("localhost", port, tls, 5s);
    std::vector<std::string> seen;
    seen.emplace_back((co_await coline::read_line(conn, 5s)).value_or("<end>"));
    co_await coline::write_line(conn, "SOME data");
    seen.emplace_back((co_await coline::read_line(conn, 5s)).value_or("<end>"));
    co_await coline::shutdown_tls(conn, 5s);
    co_return seen;
}

const std::vector<std::string> server_transcript{"Connect", "Information received SOME data"};

// What a client the server closes before its handshake sees: connect_tls
// (the TCP connect succeeded) fails in the handshake. Which error depends on
// whether the client's ClientHello reached the server before the close:
// - not yet: the end of the stream, asio::ssl::error::stream_truncated
//   ("stream truncated"); seen here for a client over max_clients, which
//   the server closes as soon as it accepts it;
// - already: the close with unread input resets the connection,
//   asio::error::connection_reset; seen here for a client over
//   max_handshakes, which the transport closes a step later.
// Which one comes first is up to the scheduling of one thread, so either is accepted.
bool refused_in_handshake(coline::error_code ec)
{
    return ec == asio::ssl::error::stream_truncated || ec == asio::error::connection_reset;
}

// A TCP client that never sends its ClientHello.
tcp::socket silent_client(asio::io_context& io, unsigned short port)
{
    tcp::socket socket(io);
    socket.connect({asio::ip::address_v4::loopback(), port});
    return socket;
}

// Waits until the server closes `socket`; the error that came (eof for a close).
coline::task<coline::error_code> closed(tcp::socket& socket)
{
    coline::error_code ec;
    char sink[256];
    while (!ec)
        co_await socket.async_read_some(asio::buffer(sink), asio::redirect_error(coline::use_task, ec));
    co_return ec;
}

} // namespace

TEST_CASE("TLS server: the tutorial's exchange, then stop() and run() returns" * doctest::timeout(20))
{
    asio::io_context io;
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    running_server server(io, server_tls);
    CHECK(run(io, tutorial_client(server.port(), client_tls)) == server_transcript);
    CHECK(run(io, tutorial_client(server.port(), client_tls)) == server_transcript);
    server->stop();
    CHECK(run_until(io, [&] { return server.returned; }));
    CHECK_FALSE(server.failure);
    CHECK(server.errors.empty());
    CHECK(server->client_count() == 0);
}

TEST_CASE("TLS server: a client's close_notify is answered with the server's own" * doctest::timeout(20))
{
    asio::io_context io;
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    running_server server(io, server_tls);
    auto client = [&]() -> coline::task<coline::error_code> {
        auto conn = co_await coline::connect_tls("localhost", server.port(), client_tls, 5s);
        CHECK((co_await coline::read_line(conn, 5s)) == std::optional<std::string_view>("Connect"));
        // Asio's shutdown succeeds only on the peer's close_notify: a plain
        // close would end it with eof or stream_truncated.
        coline::error_code ec;
        co_await conn.stream().async_shutdown(asio::redirect_error(coline::use_task, ec));
        co_return ec;
    };
    const auto ec = run(io, client());
    CHECK_MESSAGE(!ec, ec.message());
    CHECK(server.errors.empty());
}

TEST_CASE("TLS server: a client over max_clients is closed before its handshake" * doctest::timeout(20))
{
    asio::io_context io;
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    coline::server_options options;
    options.max_clients = 1;
    options.refusal_line = "not connect"; // not sent over TLS: it could not be read in clear
    running_server server(io, server_tls, options);

    auto first = run(io, coline::connect_tls("localhost", server.port(), client_tls, 5s));
    CHECK(run(io, coline::read_line(first, 5s)) == std::optional<std::string_view>("Connect"));
    CHECK(server->client_count() == 1);

    auto [ec, second] = run(io, coline::connect_tls("localhost", server.port(), client_tls, 5s, coline::as_tuple));
    CHECK_MESSAGE(refused_in_handshake(ec), ec.message());
    CHECK_FALSE(second.stream().lowest_layer().is_open());

    run(io, coline::write_line(first, "still served"));
    CHECK(run(io, coline::read_line(first, 5s)) == std::optional<std::string_view>("Information received still served"));
}

TEST_CASE("TLS server: a handshake in progress holds a client's slot" * doctest::timeout(20))
{
    asio::io_context io;
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    coline::server_options options;
    options.max_clients = 1;
    running_server server(io, server_tls, options);

    auto silent = silent_client(io, server.port());
    REQUIRE(run_until(io, [&] { return server->client_count() == 1; }));
    auto [ec, refused] = run(io, coline::connect_tls("localhost", server.port(), client_tls, 5s, coline::as_tuple));
    CHECK_MESSAGE(refused_in_handshake(ec), ec.message());

    silent.close(); // its handshake fails, and the slot is free again
    REQUIRE(run_until(io, [&] { return server->client_count() == 0; }));
    CHECK(run(io, tutorial_client(server.port(), client_tls)) == server_transcript);
}

TEST_CASE("TLS server: a client over max_handshakes is closed and reported" * doctest::timeout(20))
{
    asio::io_context io;
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    coline::tls_transport transport{server_tls};
    transport.max_handshakes = 1;
    running_server server(io, server_tls, {}, transport);

    auto silent = silent_client(io, server.port());
    REQUIRE(run_until(io, [&] { return server->client_count() == 1; }));
    auto [ec, refused] = run(io, coline::connect_tls("localhost", server.port(), client_tls, 5s, coline::as_tuple));
    CHECK_MESSAGE(refused_in_handshake(ec), ec.message());
    CHECK(server.reported(std::make_error_code(std::errc::resource_unavailable_try_again)));

    // A client being served does not count: only handshakes do.
    silent.close();
    REQUIRE(run_until(io, [&] { return server->client_count() == 0; }));
    auto first = run(io, coline::connect_tls("localhost", server.port(), client_tls, 5s));
    CHECK(run(io, coline::read_line(first, 5s)) == std::optional<std::string_view>("Connect"));
    CHECK(run(io, tutorial_client(server.port(), client_tls)) == server_transcript);
}

TEST_CASE("TLS server: handshake_timeout closes a client that never sends its ClientHello" * doctest::timeout(20))
{
    asio::io_context io;
    auto server_tls = server_context(localhost_certificate());
    coline::tls_transport transport{server_tls};
    transport.handshake_timeout = 200ms;
    running_server server(io, server_tls, {}, transport);

    const auto started = std::chrono::steady_clock::now();
    auto silent = silent_client(io, server.port());
    CHECK(run(io, closed(silent)) == asio::error::eof);
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(took >= 150ms);
    CHECK(took < 5s); // the default is 10 s
    CHECK(server.reported(coline::error::timeout));
    CHECK(run_until(io, [&] { return server->client_count() == 0; }));
}

TEST_CASE("TLS server: stop() ends the handshakes in progress at once" * doctest::timeout(30))
{
    asio::io_context io;
    auto server_tls = server_context(localhost_certificate());
    coline::tls_transport transport{server_tls};
    transport.handshake_timeout = 60s;
    coline::server_options options;
    options.grace_period = 60s;
    running_server server(io, server_tls, options, transport);

    auto silent = silent_client(io, server.port());
    auto other = silent_client(io, server.port());
    REQUIRE(run_until(io, [&] { return server->client_count() == 2; }));
    const auto started = std::chrono::steady_clock::now();
    server->stop();
    CHECK(run_until(io, [&] { return server.returned; }, 20s));
    CHECK(std::chrono::steady_clock::now() - started < 5s); // neither the grace period nor the handshake's limit
    CHECK_FALSE(server.failure);
    CHECK(server.errors.empty()); // a handshake cut short by stop() is not an error to report
    CHECK(server->client_count() == 0);
    CHECK(run(io, closed(silent)) == asio::error::eof);
    CHECK(run(io, closed(other)) == asio::error::eof);
}

TEST_CASE("TLS server: out of descriptors, the client longest in its handshake makes room for a new one" * doctest::timeout(60))
{
    asio::io_context io;
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    coline::tls_transport transport{server_tls};
    transport.handshake_timeout = 60s; // the silent clients would hold their descriptors that long
    std::atomic<int> out_of_descriptors = 0;
    coline::server_options options;
    options.on_accept_error = [&](coline::error_code ec) {
        // Compare plain values: no descriptor is left for UBSan's checks of a virtual call.
        out_of_descriptors += ec.value() == EMFILE && &ec.category() == &asio::error::get_system_category();
    };
    running_server server(io, server_tls, options, transport);

    // Before descriptors run out: a whole exchange (OpenSSL loads what it
    // loads lazily), and the virtual calls UBSan checks the first time.
    CHECK(run(io, tutorial_client(server.port(), client_tls)) == server_transcript);
    [[maybe_unused]] const volatile bool warm =
        coline::error_code(asio::error::no_descriptors) == std::errc::too_many_files_open_in_system;
    [[maybe_unused]] const coline::system_error warm_message(asio::error::operation_aborted, "warm");
    show_sanitizer_the_timer_cancellation(io);

    // Sockets made before the limit drops: connecting them needs no new descriptor.
    constexpr int room = 3;
    std::vector<tcp::socket> silent;
    for (int i = 0; i < room + 8; ++i)
        silent.emplace_back(io, tcp::v4());
    tcp::socket normal(io, tcp::v4());
    std::vector<std::string> seen;
    std::chrono::steady_clock::duration took{};
    {
        descriptor_limit tight(open_descriptors() + room);
        // The silent clients take every descriptor the server has left, and
        // queue behind; the normal client comes last.
        for (auto& socket : silent)
            socket.connect({asio::ip::address_v4::loopback(), server.port()});
        normal.connect({asio::ip::address_v4::loopback(), server.port()});
        const auto started = std::chrono::steady_clock::now();
        auto client = [&]() -> coline::task<std::vector<std::string>> {
            auto conn = co_await coline::start_tls(coline::connection(std::move(normal)), client_tls, "localhost", 10s);
            std::vector<std::string> lines;
            lines.emplace_back((co_await coline::read_line(conn, 10s)).value_or("<end>"));
            co_await coline::write_line(conn, "SOME data");
            lines.emplace_back((co_await coline::read_line(conn, 10s)).value_or("<end>"));
            co_return lines;
        };
        seen = run(io, client(), 20s);
        took = std::chrono::steady_clock::now() - started;
    }
    CHECK(seen == server_transcript);
    CHECK(took < 10s); // long before any silent client's handshake times out
    CHECK(out_of_descriptors > 0);
    CHECK(run(io, closed(silent.front())) == asio::error::eof); // the oldest made room
    CHECK(server.reported(asio::error::operation_aborted));     // its handshake, cut short
    silent.clear();
    CHECK(run(io, tutorial_client(server.port(), client_tls)) == server_transcript);
}

TEST_CASE("TLS server: a session that ends with an exception still sends close_notify" * doctest::timeout(20))
{
    asio::io_context io;
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    running_server server(io, server_tls);
    // Half a line, then the client's close_notify: the handler's read_line
    // throws error::partial_line. The server's close_notify must still come,
    // which Asio's shutdown needs to succeed (without it: eof or stream_truncated).
    auto client = [&]() -> coline::task<coline::error_code> {
        auto conn = co_await coline::connect_tls("localhost", server.port(), client_tls, 5s);
        CHECK((co_await coline::read_line(conn, 5s)) == std::optional<std::string_view>("Connect"));
        co_await coline::write(conn, "half a line");
        co_await coline::flush(conn);
        coline::error_code ec;
        co_await conn.stream().async_shutdown(asio::redirect_error(coline::use_task, ec));
        co_return ec;
    };
    const auto started = std::chrono::steady_clock::now();
    const auto ec = run(io, client());
    CHECK_MESSAGE(!ec, ec.message());
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    CHECK(run_until(io, [&] { return server.reported(coline::error::partial_line); }));
}

namespace {

// A line protocol with STARTTLS on a plain server, as SMTP or IMAP has it.
coline::task<void> starttls_session(coline::connection& plain, asio::ssl::context& tls)
{
    co_await coline::write_line(plain, "Connect");
    auto request = co_await coline::read_line(plain);
    if (request != "STARTTLS")
        co_return;
    co_await coline::write_line(plain, "OK go ahead");
    auto conn = co_await coline::start_tls(std::move(plain), tls, 5s);
    while (auto line = co_await coline::read_line(conn))
        co_await coline::write_line(conn, "Information received {}", *line);
}

// A client that upgrades, is answered once, then waits for the server's end.
coline::task<std::tuple<coline::error_code, std::optional<std::string>>> starttls_client(unsigned short port,
                                                                                          asio::ssl::context& tls,
                                                                                          std::function<void()> upgraded)
{
    auto plain = co_await coline::connect("127.0.0.1", port, 5s);
    CHECK(co_await coline::read_line(plain, 5s) == std::optional<std::string_view>("Connect"));
    co_await coline::write_line(plain, "STARTTLS");
    CHECK(co_await coline::read_line(plain, 5s) == std::optional<std::string_view>("OK go ahead"));
    auto conn = co_await coline::start_tls(std::move(plain), tls, "localhost", 5s);
    co_await coline::write_line(conn, "SOME data");
    CHECK(co_await coline::read_line(conn, 5s) == std::optional<std::string_view>("Information received SOME data"));
    upgraded();
    auto [ec, line] = co_await coline::read_line(conn, 30s, coline::as_tuple); // idle, after STARTTLS
    co_return std::tuple{ec, line ? std::optional<std::string>(*line) : std::nullopt};
}

} // namespace

TEST_CASE("STARTTLS server: stop() reaches an idle upgraded session at once, and it ends with close_notify"
          * doctest::timeout(30))
{
    asio::io_context io;
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    coline::server_options options;
    options.grace_period = 10s;
    coline::server server(io.get_executor(), {asio::ip::address_v4::loopback(), 0},
                          [&](coline::connection& conn) { return starttls_session(conn, server_tls); }, options);
    bool returned = false;
    coline::spawn(io, server.run(), [&](std::exception_ptr) { returned = true; });
    std::chrono::steady_clock::time_point stopped_at;
    std::size_t clients_when_upgraded = 0;
    auto [ec, line] = run(io, starttls_client(server.local_endpoint().port(), client_tls, [&] {
        clients_when_upgraded = server.client_count();
        stopped_at = std::chrono::steady_clock::now();
        server.stop();
    }), 20s);
    const auto took = std::chrono::steady_clock::now() - stopped_at;
    CHECK(clients_when_upgraded == 1); // the upgraded session holds its slot
    CHECK_MESSAGE(!ec, ec.message());   // the end of the stream, with close_notify (not stream_truncated)
    CHECK_FALSE(line);
    CHECK(took < 1s); // at once, not at the 10 s grace
    CHECK(run_until(io, [&] { return returned; }, 5s));
    CHECK(server.client_count() == 0);
}

TEST_CASE("STARTTLS server: after the grace period the upgraded session is closed and its handler cancelled"
          * doctest::timeout(30))
{
    asio::io_context io;
    auto server_tls = server_context(localhost_certificate());
    auto client_tls = client_context(&localhost_certificate());
    coline::server_options options;
    options.grace_period = 200ms;
    // A handler that, after STARTTLS, waits for something else than its client: only the grace period ends it.
    auto session = [&](coline::connection& plain) -> coline::task<void> {
        co_await coline::write_line(plain, "Connect");
        co_await coline::read_line(plain);
        co_await coline::write_line(plain, "OK go ahead");
        auto conn = co_await coline::start_tls(std::move(plain), server_tls, 5s);
        co_await coline::write_line(conn, "Information received {}", (co_await coline::read_line(conn)).value_or(""));
        asio::steady_timer forever(co_await asio::this_coro::executor, std::chrono::hours{1});
        co_await forever.async_wait(coline::use_task);
    };
    coline::server server(io.get_executor(), {asio::ip::address_v4::loopback(), 0}, session, options);
    bool returned = false;
    coline::spawn(io, server.run(), [&](std::exception_ptr) { returned = true; });
    std::chrono::steady_clock::time_point stopped_at;
    auto [ec, line] = run(io, starttls_client(server.local_endpoint().port(), client_tls, [&] {
        stopped_at = std::chrono::steady_clock::now();
        server.stop();
    }), 20s);
    CHECK(ec); // cut off: no close_notify
    CHECK(run_until(io, [&] { return returned; }, 5s));
    CHECK(std::chrono::steady_clock::now() - stopped_at < 5s);
    CHECK(server.client_count() == 0);
}

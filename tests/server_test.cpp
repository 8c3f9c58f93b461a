// The server runner: refusal, handler errors, lingering close, stop, threads.
#include "server_support.hpp"

using namespace test;

TEST_CASE("a server on an io_context of one's own serves until stop() and then returns" * doctest::timeout(20))
{
    asio::io_context io;
    coline::server server(io.get_executor(), {asio::ip::address_v4::loopback(), 0}, echo_session);
    const auto port = std::to_string(server.local_endpoint().port());
    bool returned = false;
    asio::co_spawn(io, server.run(), [&](std::exception_ptr) { returned = true; });

    auto client = [&]() -> asio::awaitable<std::string> {
        auto conn = co_await coline::connect("127.0.0.1", port, 5s);
        co_await coline::read_line(conn, 5s);
        co_await coline::write_line(conn, "hi");
        auto answer = co_await coline::read_line(conn, 5s);
        CHECK(server.client_count() == 1);
        server.stop();
        co_return std::string(answer.value_or("<end>"));
    };
    CHECK(run(io, client()) == "Information received hi");
    for (int i = 0; i < 200 && !returned; ++i)
        io.run_one_for(50ms);
    CHECK(returned);
    CHECK(server.client_count() == 0);
}

TEST_CASE("local_endpoint is known before run() and still after stop()")
{
    asio::io_context io;
    coline::server server(io.get_executor(), {asio::ip::address_v4::loopback(), 0}, echo_session);
    const auto before = server.local_endpoint();
    CHECK(before.port() != 0);
    server.stop();
    io.run_for(1s); // run() never ran: stop() only closes the acceptor
    CHECK(server.local_endpoint() == before);
}

TEST_CASE("a refusal line with a newline is refused at construction")
{
    asio::io_context io;
    coline::server_options options;
    options.refusal_line = "not\nconnect";
    try {
        coline::server server(io.get_executor(), {asio::ip::address_v4::loopback(), 0}, echo_session, options);
        FAIL("the server was built");
    } catch (const std::system_error& e) {
        CHECK(e.code() == coline::error::newline_in_line);
    }
}

TEST_CASE("the client over max_clients is sent the refusal line and closed" * doctest::timeout(20))
{
    coline::server_options options;
    options.max_clients = 1;
    options.refusal_line = "not connect";
    background_server server(options);
    blocking_client first(server.port());
    CHECK(first.line() == "Connect");

    blocking_client second(server.port());
    CHECK(second.line() == "not connect");
    CHECK(second.wait_for_close() == asio::error::eof);

    first.send("still served\n");
    CHECK(first.line() == "Information received still served");
}

TEST_CASE("a handler that throws ends only its own client and is reported" * doctest::timeout(20))
{
    auto picky = [](coline::connection& conn) -> asio::awaitable<void> {
        auto line = co_await coline::read_line(conn);
        if (line == "boom")
            throw std::runtime_error("handler bug");
        co_await coline::write_line(conn, "ok");
    };
    background_server server({}, picky);
    blocking_client bad(server.port());
    bad.send("boom\n");
    CHECK(bad.wait_for_close());
    blocking_client good(server.port());
    good.send("fine\n");
    CHECK(good.line() == "ok");
    CHECK(server.errors.size() == 1);
}

TEST_CASE("without an error hook, an exception that is not a system_error comes out of run_server()" * doctest::timeout(20))
{
    auto buggy = [](coline::connection&) -> asio::awaitable<void> {
        throw std::logic_error("bug");
        co_return;
    };
    coline::run_options<tcp::endpoint> run;
    run.stop_on_signals = false;
    std::promise<unsigned short> listening;
    run.on_listening = [&](const tcp::endpoint& endpoint) { listening.set_value(endpoint.port()); };
    std::thread connector([&] { blocking_client(listening.get_future().get()).wait_for_close(); });
    CHECK_THROWS_AS(coline::run_server(tcp::endpoint{asio::ip::address_v4::loopback(), 0}, buggy, {}, run),
                    std::logic_error);
    connector.join();
}

TEST_CASE("a handler that ends while its client still sends lets the client read every answer" * doctest::timeout(20))
{
    auto quit_at_once = [](coline::connection& conn) -> asio::awaitable<void> {
        co_await coline::read_line(conn);
        co_await coline::write_line(conn, "BYE");
    };
    background_server server({}, quit_at_once);
    blocking_client client(server.port());
    // More than the first line is in flight: closing right away would reset the connection.
    client.send("QUIT\nmore\nand more\n");
    CHECK(client.line() == "BYE");
    CHECK(client.wait_for_close() == asio::error::eof);
}

TEST_CASE("run_server() on two threads serves clients and stops cleanly" * doctest::timeout(30))
{
    background_server server({}, echo_session, 2);
    std::vector<std::thread> clients;
    std::atomic<int> served = 0;
    for (int i = 0; i < 8; ++i)
        clients.emplace_back([&] {
            for (int j = 0; j < 10; ++j)
                served += served_normally(server.port());
        });
    for (auto& c : clients)
        c.join();
    CHECK(served == 80);
    CHECK(server.stop() < 10s);
    CHECK_FALSE(server.failure());
}

TEST_CASE("stop() before any client makes run_server() return at once" * doctest::timeout(20))
{
    background_server server;
    CHECK(server.stop() < 5s);
    CHECK(server.stopped());
}

TEST_CASE("a grace period of no_timeout waits for a begun line as long as it takes" * doctest::timeout(30))
{
    coline::server_options options;
    options.grace_period = coline::no_timeout;
    auto server = std::make_unique<background_server>(options);
    blocking_client client(server->port());
    CHECK(client.line() == "Connect");
    client.send("begun");
    std::thread stopper([&] { server->stop(); });
    std::this_thread::sleep_for(300ms); // the stop is under way; the line must not be cut off
    client.send(" and finished\n");
    CHECK(client.line() == "Information received begun and finished");
    CHECK(client.wait_for_close() == asio::error::eof);
    stopper.join();
}

TEST_CASE("when the grace period is over, a handler awaiting something else is cancelled too" * doctest::timeout(30))
{
    static std::atomic<bool> started = false;
    auto dawdle = [](coline::connection& conn) -> asio::awaitable<void> {
        started = true;
        asio::steady_timer forever(conn.get_executor(), std::chrono::hours{1});
        co_await forever.async_wait(asio::use_awaitable);
    };
    coline::server_options options;
    options.grace_period = 200ms;
    background_server server(options, dawdle);
    blocking_client client(server.port());
    for (int i = 0; i < 500 && !started; ++i)
        std::this_thread::sleep_for(10ms); // until the handler runs
    REQUIRE(started);
    const auto took = server.stop();
    CHECK(took < 10s);
    CHECK(client.wait_for_close());
}

TEST_CASE("reuse_port lets two TCP servers share a port; without it the port is in use")
{
    asio::io_context io;
    coline::server_options options;
    options.reuse_port = true;
    coline::server first(io.get_executor(), {asio::ip::address_v4::loopback(), 0}, echo_session, options);
    const tcp::endpoint at = first.local_endpoint();
    auto make = [&](const coline::server_options& with) { coline::server another(io.get_executor(), at, echo_session, with); };
    CHECK_NOTHROW(make(options));
    try {
        make({});
        FAIL("a second server took the port without reuse_port");
    } catch (const std::system_error& e) {
        CHECK(e.code() == asio::error::address_in_use);
    }
}

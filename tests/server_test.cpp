// The server runner: refusal, handler errors, lingering close, stop, threads.
#include "server_support.hpp"

using namespace test;

TEST_CASE("a server on an io_context of one's own serves until stop() and then returns" * doctest::timeout(20))
{
    asio::io_context io;
    coline::server server(io.get_executor(), {asio::ip::address_v4::loopback(), 0}, echo_session);
    const auto port = std::to_string(server.local_endpoint().port());
    bool returned = false;
    std::exception_ptr failure;
    coline::spawn(io, server.run(), [&](std::exception_ptr e) {
        failure = e;
        returned = true;
    });

    auto client = [&]() -> coline::task<std::string> {
        auto conn = co_await coline::connect("127.0.0.1", port, 5s);
        co_await coline::read_line(conn, 5s);
        co_await coline::write_line(conn, "hi");
        auto answer = co_await coline::read_line(conn, 5s);
        CHECK(server.client_count() == 1);
        server.stop();
        co_return std::string(answer.value_or("<end>"));
    };
    CHECK(run(io, client()) == "Information received hi");
    CHECK(run_until(io, [&] { return returned; }));
    CHECK_FALSE(failure);
    CHECK(server.client_count() == 0);
}

TEST_CASE("local_endpoint is known before run() and still after stop()")
{
    asio::io_context io;
    coline::server server(io.get_executor(), {asio::ip::address_v4::loopback(), 0}, echo_session);
    const auto before = server.local_endpoint();
    CHECK(before.port() != 0);
    server.stop();
    io.run(); // run() never ran: stop() only closes the acceptor
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
    } catch (const coline::system_error& e) {
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

TEST_CASE("the refusal line ends as the connection's lines do: CRLF on the wire with line_ending::crlf"
          * doctest::timeout(20))
{
    coline::server_options options;
    options.max_clients = 1;
    options.refusal_line = "421 Too many connections";
    options.connection.newline = coline::line_ending::crlf;
    background_server server(options);
    blocking_client first(server.port());
    CHECK(first.line() == "Connect\r");

    blocking_client second(server.port());
    CHECK(second.line() == "421 Too many connections\r"); // (line() strips only the "\n")
    CHECK(second.wait_for_close() == asio::error::eof);
}

TEST_CASE("a handler that throws ends only its own client and is reported" * doctest::timeout(20))
{
    auto picky = [](coline::connection& conn) -> coline::task<void> {
        auto line = co_await coline::read_line(conn);
        if (line == "boom")
            throw std::runtime_error("handler bug");
        co_await coline::write_line(conn, "ok");
    };
    background_server server({}, picky);
    blocking_client bad(server.port());
    bad.send("boom\n");
    CHECK(bad.wait_for_close() == asio::error::eof);
    blocking_client good(server.port());
    good.send("fine\n");
    CHECK(good.line() == "ok");
    CHECK(server.errors.size() == 1);
    CHECK(server.errors.contains(std::make_error_code(std::errc::state_not_recoverable))); // error_log's "not a system_error"
}

TEST_CASE("without an error hook, an exception that is not a system_error comes out of run_server()" * doctest::timeout(20))
{
    auto buggy = [](coline::connection&) -> coline::task<void> {
        throw std::logic_error("bug");
        co_return;
    };
    coline::run_options<tcp::endpoint> run;
    run.stop_on_signals = false;
    std::promise<unsigned short> listening;
    run.on_listening = [&](const tcp::endpoint& endpoint) { listening.set_value(endpoint.port()); };
    coline::error_code connector_saw;
    std::thread connector([&] { connector_saw = blocking_client(listening.get_future().get()).wait_for_close(); });
    CHECK_THROWS_AS(coline::run_server(tcp::endpoint{asio::ip::address_v4::loopback(), 0}, buggy, {}, run),
                    std::logic_error);
    connector.join();
    CHECK(connector_saw == asio::error::eof); // its client was closed before the exception came out
}

namespace {

// Answers one line, then returns once the client has sent more: the server
// ends the session with input unread, which a plain close would answer with a reset.
coline::task<void> quit_when_more_comes(coline::connection& conn)
{
    co_await coline::read_line(conn);
    co_await coline::write_line(conn, "BYE");
    co_await conn.stream().async_wait(asio::socket_base::wait_read, coline::use_task);
}

// A thread that sends empty lines on `fd` until the server cuts it off (or
// the socket is shut down; at most 30 s).
std::thread chatter(int fd)
{
    return std::thread([fd] {
        const std::string more(4096, '\n');
        const auto give_up = std::chrono::steady_clock::now() + 30s;
        while (std::chrono::steady_clock::now() < give_up) {
            if (::send(fd, more.data(), more.size(), MSG_NOSIGNAL) < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                    return;
                pollfd wanted{fd, POLLOUT, 0};
                ::poll(&wanted, 1, 100);
            }
        }
    });
}

} // namespace

TEST_CASE("a handler that ends while its client still sends lets the client read every answer" * doctest::timeout(20))
{
    background_server server({}, quit_when_more_comes);
    blocking_client client(server.port());
    client.send("QUIT\n");
    CHECK(client.line() == "BYE");
    CHECK_FALSE(client.send("more\nand more\n")); // after the server read its line, before the handler returns
    CHECK(client.wait_for_close() == asio::error::eof); // a clean end, not connection_reset
}

TEST_CASE("a client that goes on sending after its handler ended is cut off at linger_timeout" * doctest::timeout(30))
{
    coline::server_options options;
    options.linger_timeout = 200ms;
    background_server server(options, quit_when_more_comes);
    blocking_client client(server.port());
    client.send("QUIT\n");
    CHECK(client.line() == "BYE");
    CHECK_FALSE(client.send("more\n"));
    CHECK(client.wait_for_close() == asio::error::eof); // the server ended its side, and lingers
    const auto ended = std::chrono::steady_clock::now();
    coline::error_code ec;
    while (!(ec = client.send("still talking\n")) && std::chrono::steady_clock::now() - ended < 10s)
        std::this_thread::sleep_for(10ms); // the client's pace, not a measurement
    const auto took = std::chrono::steady_clock::now() - ended;
    CHECK_MESSAGE(cut_off(ec), ec.message());
    CHECK(took >= 100ms); // not before the linger is over (it began just before the client saw the end)
    CHECK(took < 5s);
}

TEST_CASE("a client that still sends and reads its answers slowly gets every one, beyond linger_timeout"
          * doctest::timeout(60))
{
    constexpr int answers = 100'000; // 2.2 MB: more than the socket buffers hold at first
    auto answer_a_lot = [](coline::connection& conn) -> coline::task<void> {
        co_await coline::read_line(conn);
        for (int i = 0; i < answers; ++i)
            co_await coline::write_line(conn, "answer {:>10}", i);
    }; // returns with the client's later lines unread
    background_server server({}, answer_a_lot); // linger_timeout: 1 s
    blocking_client client(server.port());
    client.send("GO\n");
    std::thread sender = chatter(client.socket().native_handle());
    int received = 0, wrong = 0;
    coline::error_code ended;
    for (;;) {
        const std::string line = client.line(&ended);
        if (ended)
            break;
        wrong += line != fmt::format("answer {:>10}", received);
        if (++received % 2000 == 0)
            std::this_thread::sleep_for(50ms); // the client's pace (2.5 s in all), not a measurement
    }
    ::shutdown(client.socket().native_handle(), SHUT_RDWR); // ends the sender's sends, if the server has not
    sender.join();
    CHECK(received == answers);
    CHECK(wrong == 0);
    CHECK(ended != blocking_client::timed_out());
}

TEST_CASE("a client that still sends and takes its answers too slowly is cut off once the lingering close has lasted "
          "write_timeout"
          * doctest::timeout(60))
{
    constexpr int answers = 100'000; // 2.2 MB, as above
    std::atomic<bool> handler_done{false};
    auto answer_a_lot = [&handler_done](coline::connection& conn) -> coline::task<void> {
        co_await coline::read_line(conn);
        for (int i = 0; i < answers; ++i)
            co_await coline::write_line(conn, "answer {:>10}", i);
        co_await coline::flush(conn);
        conn.options().write_timeout = 300ms; // (the writes above had 30 s) the bound of the lingering close
        handler_done = true;
    };
    background_server server({}, answer_a_lot); // linger_timeout: 1 s, a round that the client takes some in
    blocking_client client(server.port());
    client.send("GO\n");
    std::thread sender = chatter(client.socket().native_handle());
    int received = 0, received_when_done = -1;
    std::chrono::steady_clock::time_point done_at{};
    coline::error_code ended;
    for (;;) {
        const std::string line = client.line(&ended);
        if (ended)
            break;
        if (received_when_done < 0 && handler_done) {
            received_when_done = received;
            done_at = std::chrono::steady_clock::now();
        }
        ++received;
        // The client's pace, not a measurement: 2000 answers (44 kB) per 50 ms
        // while the handler writes, then per 100 ms: it takes some in every
        // round of the linger, and would need seconds for the rest.
        if (received % 2000 == 0)
            std::this_thread::sleep_for(received_when_done < 0 ? 50ms : 100ms);
    }
    const auto took = std::chrono::steady_clock::now() - done_at;
    ::shutdown(client.socket().native_handle(), SHUT_RDWR); // ends the sender's sends, if the server has not
    sender.join();
    REQUIRE(received_when_done >= 0);
    INFO("answers received: " << received << ", of which before the handler ended: " << received_when_done);
    CHECK(ended != blocking_client::timed_out()); // the server closed (the rest lost: a reset, or an end at once)
    CHECK(received < answers);
    CHECK(took < 3s); // the first round (1 s) is over after write_timeout (300 ms): no other
}

TEST_CASE("run_server() on two threads counts max_clients over both: the clients over it are refused" * doctest::timeout(30))
{
    coline::server_options options;
    options.max_clients = 2;
    options.refusal_line = "not connect";
    background_server server(options, echo_session, 2);
    // The kernel spreads clients over the two servers (SO_REUSEPORT): with 16
    // of them, both servers get some (but for a chance of 2 in 65 536), so a
    // count of each server's own would serve more than max_clients.
    constexpr std::size_t clients = 16;
    std::vector<std::unique_ptr<blocking_client>> connected;
    std::size_t served = 0, refused = 0;
    for (std::size_t i = 0; i < clients; ++i) {
        connected.push_back(std::make_unique<blocking_client>(server.port()));
        const std::string first = connected.back()->line();
        served += first == "Connect";
        refused += first == "not connect";
    }
    CHECK(served == options.max_clients);
    CHECK(refused == clients - options.max_clients);
    CHECK(server.stop() < 10s);
    CHECK_FALSE(server.failure());
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
    blocking_client client(server->port()), idle(server->port());
    CHECK(client.line() == "Connect");
    CHECK(idle.line() == "Connect");
    client.send("begun");
    std::thread stopper([&] { server->stop(); });
    CHECK(idle.wait_for_close() == asio::error::eof); // the stop is under way
    // The begun line is not cut off, even long after a grace period of a second would have ended.
    CHECK(client.quiet_for(1500ms));
    client.send(" and finished\n");
    CHECK(client.line() == "Information received begun and finished");
    CHECK(client.wait_for_close() == asio::error::eof);
    stopper.join();
}

TEST_CASE("after stop(), a client that keeps sending is read only up to what had arrived, and every line read is answered"
          * doctest::timeout(60))
{
    coline::server_options options;
    options.grace_period = coline::no_timeout; // the stop point alone must bound the stop
    std::atomic<std::size_t> lines_read = 0;
    auto counting_echo = [&lines_read](coline::connection& conn) -> coline::task<void> {
        co_await coline::write_line(conn, "Connect");
        while (auto line = co_await coline::read_line(conn)) {
            ++lines_read;
            co_await coline::write_line(conn, "Information received {}", line->size());
        }
    };
    background_server server(options, counting_echo);
    blocking_client client(server.port());
    REQUIRE(client.line() == "Connect");

    // The flooder sends lines of 100 bytes for up to 20 s, until the server cuts it off.
    std::thread flooder([&] {
        std::string chunk;
        for (int i = 0; i < 256; ++i)
            chunk += std::string(99, 'x') + "\n";
        const auto give_up = std::chrono::steady_clock::now() + 20s;
        const int fd = client.socket().native_handle();
        while (std::chrono::steady_clock::now() < give_up) {
            const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                break; // cut off
            if (n < 0) {
                pollfd wanted{fd, POLLOUT, 0};
                ::poll(&wanted, 1, 100);
            }
        }
    });
    std::size_t answers = 0, wrong = 0;
    coline::error_code ended;
    std::chrono::steady_clock::duration stop_took{};
    std::thread stopper;
    for (;;) {
        if (answers == 20000) // the flood is well under way
            stopper = std::thread([&] { stop_took = server.stop(); });
        const std::string line = client.line(&ended);
        if (ended)
            break;
        wrong += line != "Information received 99";
        ++answers;
    }
    if (stopper.joinable())
        stopper.join();
    flooder.join();
    CHECK(answers > 20000);
    CHECK(stop_took < 10s); // not when the flooder gives up, 20 s on
    CHECK(ended == asio::error::eof); // the answers, then the server's end: not a reset
    CHECK(answers == lines_read.load());
    CHECK(wrong == 0);
}

TEST_CASE("stop_now() during a graceful stop closes the clients at once" * doctest::timeout(30))
{
    asio::io_context io;
    coline::server server(io.get_executor(), tcp::endpoint{asio::ip::address_v4::loopback(), 0}, echo_session);
    bool returned = false;
    coline::spawn(io, server.run(), [&](std::exception_ptr) { returned = true; });
    std::thread runner([&] { io.run(); });
    blocking_client client(server.local_endpoint().port());
    CHECK(client.line() == "Connect");
    client.send("a line begun"); // the graceful stop waits for its end, for the 10 s grace period
    server.stop();
    CHECK(client.quiet_for(300ms)); // the stop is graceful: the begun line is awaited
    const auto forced = std::chrono::steady_clock::now();
    server.stop_now();
    CHECK(client.wait_for_close() != blocking_client::timed_out());
    runner.join(); // run() has returned: nothing is left
    CHECK(returned);
    CHECK(std::chrono::steady_clock::now() - forced < 5s);
}

TEST_CASE("when the grace period is over, a handler awaiting something else is cancelled too" * doctest::timeout(30))
{
    std::promise<void> started;
    auto dawdle = [&started](coline::connection& conn) -> coline::task<void> {
        started.set_value();
        asio::steady_timer forever(conn.get_executor(), std::chrono::hours{1});
        co_await forever.async_wait(coline::use_task);
    };
    coline::server_options options;
    options.grace_period = 200ms;
    background_server server(options, dawdle);
    blocking_client client(server.port());
    REQUIRE(started.get_future().wait_for(10s) == std::future_status::ready);
    const auto took = server.stop();
    CHECK(took >= 150ms); // the handler had the grace period
    CHECK(took < 10s);
    CHECK(client.wait_for_close() == asio::error::eof);
    CHECK(server.errors.contains(asio::error::operation_aborted)); // the handler was cancelled
}

TEST_CASE("when the grace period is over, a handler that shields itself from cancellation has its connection closed" * doctest::timeout(30))
{
    // Cancellation does not end it: after an error it starts over, for as long as its connection is open.
    auto shielded = [](coline::connection& conn) -> coline::task<void> {
        for (;;) {
            try {
                co_await echo_session(conn);
                co_return;
            } catch (const coline::system_error&) {
                if (!conn.stream().is_open())
                    co_return;
            }
        }
    };
    coline::server_options options;
    options.grace_period = 200ms;
    options.connection.read_timeout = 10s; // what would end it otherwise
    background_server server(options, shielded);
    blocking_client stuck(server.port());
    CHECK(stuck.line() == "Connect");
    stuck.send("never ending");
    CHECK(served_normally(server.port())); // the server has taken in the partial line by now
    const auto took = server.stop();
    CHECK(took >= 150ms);
    CHECK(took < 5s);
    CHECK(stuck.wait_for_close() == asio::error::eof);
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
    } catch (const coline::system_error& e) {
        CHECK(e.code() == asio::error::address_in_use);
    }
}

namespace {

// The README's session: it takes its connection by value, as under a bare accept loop.
coline::task<void> echo_by_value(coline::connection conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn))
        co_await coline::write_line(conn, "Information received {}", *line);
}

// Takes its connection by value and returns at once, with its greeting only kept.
coline::task<void> greet_by_value(coline::connection conn)
{
    co_await coline::write_line(conn, "Connect");
}

} // namespace

TEST_CASE("a handler that takes its connection by value runs under run_server, and stop() reaches it at once"
          * doctest::timeout(30))
{
    coline::server_options options;
    options.grace_period = 10s;
    background_server server(options, echo_by_value);
    blocking_client client(server.port());
    CHECK(client.line() == "Connect");
    CHECK_FALSE(client.send("a\nb\n"));
    CHECK(client.line() == "Information received a");
    CHECK(client.line() == "Information received b");
    // Idle in read_line: the stop reaches the connection the handler moved, not the grace period.
    const auto took = server.stop();
    CHECK(took < 5s);
    CHECK(client.wait_for_close() == asio::error::eof);
    CHECK(server.errors.size() == 0);
}

TEST_CASE("a by-value handler that returns while its client still sends: the answer kept reaches the client"
          * doctest::timeout(30))
{
    background_server server({}, greet_by_value);
    blocking_client client(server.port());
    CHECK_FALSE(client.send("unread\n")); // unread input: a plain close would reset the stream
    CHECK(client.line() == "Connect");
    CHECK(client.wait_for_close() == asio::error::eof);
}

TEST_CASE("max_clients counts a session whose handler took the connection by value" * doctest::timeout(30))
{
    coline::server_options options;
    options.max_clients = 1;
    options.refusal_line = "not connect";
    background_server server(options, echo_by_value);
    blocking_client first(server.port());
    CHECK(first.line() == "Connect");
    blocking_client second(server.port());
    CHECK(second.line() == "not connect");
    CHECK(second.wait_for_close() == asio::error::eof);
}

// The tutorial's exchange over loopback, with one client and with many at once.
#include "support.hpp"

#include <map>

using namespace test;

namespace {

struct server_log {
    std::vector<std::string> lines_received;
    int sessions_closed = 0;
};

// The tutorial's server session, written with the public API.
coline::task<void> tutorial_session(coline::connection conn, server_log& log)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn))
    {
        log.lines_received.emplace_back(*line);
        co_await coline::write_line(conn, "Information received");
    }
    ++log.sessions_closed;
}

coline::task<void> tutorial_server(tcp::acceptor& acceptor, server_log& log)
{
    for (;;) {
        auto [ec, conn] = co_await coline::accept(acceptor, coline::as_tuple);
        if (ec)
            co_return;
        coline::spawn(acceptor.get_executor(), tutorial_session(std::move(conn), log), asio::detached);
    }
}

// A client that sends `count` numbered lines one after the other and returns the answers.
coline::task<std::vector<std::string>> tutorial_client(std::string port, int id, int count)
{
    auto conn = co_await coline::connect("127.0.0.1", port, 5s);
    conn.options().read_timeout = 5s;
    std::vector<std::string> answers;
    answers.emplace_back(*co_await coline::read_line(conn));
    for (int i = 0; i < count; ++i) {
        co_await coline::write_line(conn, "SOME data {} {}", id, i);
        auto answer = co_await coline::read_line(conn);
        answers.emplace_back(answer ? *answer : "<end>");
    }
    co_return answers;
}

} // namespace

TEST_CASE("the tutorial's exchange: greeting, one line, one answer" * doctest::timeout(10))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    server_log log;
    coline::spawn(io, tutorial_server(acceptor, log), asio::detached);

    const auto answers = run(io, tutorial_client(port_of(acceptor), 0, 1));
    CHECK(answers == std::vector<std::string>{"Connect", "Information received"});
    for (int i = 0; i < 100 && log.sessions_closed == 0; ++i)
        io.run_one_for(50ms);
    CHECK(log.lines_received == std::vector<std::string>{"SOME data 0 0"});
    CHECK(log.sessions_closed == 1);
}

TEST_CASE("100 clients at once, 10 exchanges each: every line and every answer accounted for" * doctest::timeout(60))
{
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    server_log log;
    coline::spawn(io, tutorial_server(acceptor, log), asio::detached);

    constexpr int clients = 100, exchanges = 10;
    std::map<int, std::vector<std::string>> answers;
    int finished = 0;
    for (int id = 0; id < clients; ++id)
        coline::spawn(io, tutorial_client(port_of(acceptor), id, exchanges),
                       [&, id](std::exception_ptr error, std::vector<std::string> got) {
                           CHECK_FALSE(error);
                           answers[id] = std::move(got);
                           ++finished;
                       });
    const auto give_up = std::chrono::steady_clock::now() + 50s;
    while ((finished < clients || log.sessions_closed < clients) && std::chrono::steady_clock::now() < give_up)
        io.run_one_for(50ms);

    REQUIRE(finished == clients);
    std::vector<std::string> expected{"Connect"};
    expected.insert(expected.end(), exchanges, "Information received");
    for (const auto& [id, got] : answers)
        CHECK_MESSAGE(got == expected, "client " << id);

    CHECK(log.sessions_closed == clients);
    REQUIRE(log.lines_received.size() == clients * exchanges);
    // Each client's lines arrived in the order it sent them.
    std::map<int, int> next_of;
    for (const auto& line : log.lines_received) {
        int id = -1, i = -1;
        REQUIRE(std::sscanf(line.c_str(), "SOME data %d %d", &id, &i) == 2);
        CHECK(i == next_of[id]++);
    }
    CHECK(next_of.size() == clients);
}

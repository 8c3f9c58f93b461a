// The abuse suite: each case sends what a hostile or broken peer would, checks
// that the server copes, and that a normal client is served right after.
#include "server_support.hpp"

#include <array>
#include <cerrno>

using namespace test;
using coline::error;

namespace {

constexpr std::size_t MiB = 1024 * 1024;

coline::server_options with_timeouts(coline::duration read, coline::duration write)
{
    coline::server_options options;
    options.connection.read_timeout = read;
    options.connection.write_timeout = write;
    return options;
}

} // namespace

TEST_CASE("64 MiB without a newline: line_too_long, the peer is closed, memory stays bounded" * doctest::timeout(60))
{
    background_server server;
    blocking_client peer(server.port());
    CHECK(peer.line() == "Connect");
    const std::string chunk(MiB, 'x');
    const std::size_t before = resident_bytes();
    std::size_t sent = 0;
    coline::error_code ec;
    while (sent < 64 * MiB && !(ec = peer.send(chunk)))
        sent += chunk.size();
    const std::size_t growth = resident_bytes() - std::min(before, resident_bytes());
    MESSAGE("sent " << sent / MiB << " MiB before " << ec.message() << "; memory grew by " << growth / 1024 << " KiB");
    CHECK_MESSAGE(cut_off(ec), ec.message()); // the server cut the peer off before it could send it all
    CHECK(sent < 64 * MiB);
    CHECK(growth < 16 * MiB);
    CHECK(served_normally(server.port()));
    server.stop();
    CHECK(server.errors.contains(error::line_too_long));
}

TEST_CASE("200 slowloris peers are all closed by the line deadline while a normal client is served" * doctest::timeout(60))
{
    background_server server(with_timeouts(300ms, 5s));
    std::vector<std::unique_ptr<blocking_client>> peers;
    for (int i = 0; i < 200; ++i) {
        peers.push_back(std::make_unique<blocking_client>(server.port()));
        CHECK(peers.back()->line() == "Connect");
    }
    // Each peer dribbles a line, a byte per round, and never ends it.
    std::vector<bool> closed(peers.size(), false);
    std::size_t still_open = peers.size();
    bool normal_served = false;
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    for (int round = 0; still_open > 0 && std::chrono::steady_clock::now() < give_up; ++round) {
        for (std::size_t i = 0; i < peers.size(); ++i) {
            if (closed[i])
                continue;
            if (const auto ec = peers[i]->send("x")) {
                CHECK_MESSAGE(cut_off(ec), ec.message());
                closed[i] = true;
                --still_open;
            }
        }
        if (round == 2)
            normal_served = served_normally(server.port());
        std::this_thread::sleep_for(20ms); // the pace of the attack, not a measurement
    }
    CHECK(normal_served);
    CHECK(still_open == 0);
    CHECK(served_normally(server.port()));
    server.stop();
    CHECK(server.errors.contains(error::timeout));
}

TEST_CASE("a peer that resets mid-line is dropped and nothing else is disturbed" * doctest::timeout(30))
{
    background_server server;
    {
        blocking_client peer(server.port());
        CHECK(peer.line() == "Connect");
        peer.send("half a li");
        peer.socket().set_option(asio::socket_base::linger(true, 0));
        peer.socket().close();
    }
    CHECK(served_normally(server.port()));
    server.stop();
    CHECK(server.errors.contains(asio::error::connection_reset));
}

TEST_CASE("a peer that half-closes after its lines still receives every answer" * doctest::timeout(30))
{
    background_server server;
    blocking_client peer(server.port());
    peer.send("one\ntwo\nthree\n");
    peer.socket().shutdown(tcp::socket::shutdown_send);
    CHECK(peer.line() == "Connect");
    CHECK(peer.line() == "Information received one");
    CHECK(peer.line() == "Information received two");
    CHECK(peer.line() == "Information received three");
    CHECK(peer.wait_for_close() == asio::error::eof);
    CHECK(served_normally(server.port()));
}

TEST_CASE("CRLF, bare LF, NUL bytes, invalid UTF-8 and empty lines are answered normally" * doctest::timeout(30))
{
    background_server server;
    blocking_client peer(server.port());
    const std::string odd{"\0nul\xff\xfe", 6};
    peer.send("crlf\r\nlf\n" + odd + "\n\n\r\n");
    CHECK(peer.line() == "Connect");
    CHECK(peer.line() == "Information received crlf");
    CHECK(peer.line() == "Information received lf");
    CHECK(peer.line() == "Information received " + odd);
    CHECK(peer.line() == "Information received ");
    CHECK(peer.line() == "Information received ");
    CHECK(served_normally(server.port()));
}

TEST_CASE("a peer that sends 100 000 lines and never reads is dropped with memory bounded" * doctest::timeout(60))
{
    background_server server(with_timeouts(10s, 300ms));
    blocking_client peer(server.port());
    peer.socket().set_option(asio::socket_base::receive_buffer_size(64 * 1024));
    // 200-byte lines: 20 MB is more than all the socket buffers on the way can hold.
    std::string lines;
    const std::string line = "SOME data " + std::string(189, 'x') + "\n";
    for (int i = 0; i < 100'000; ++i)
        lines += line;
    const std::size_t before = resident_bytes();
    // The server answers until the peer's buffers are full, then its write
    // waits, then its write deadline drops the peer: this send fails.
    const auto ec = peer.send(lines);
    const std::size_t growth = resident_bytes() - std::min(before, resident_bytes());
    MESSAGE("send ended with: " << ec.message() << "; memory grew by " << growth / 1024 << " KiB");
    CHECK_MESSAGE(cut_off(ec), ec.message());
    CHECK(growth < 16 * MiB);
    CHECK(served_normally(server.port()));
    server.stop();
    CHECK(server.errors.contains(error::timeout));
}

TEST_CASE("2000 clients at once, 10 exchanges each: every answer exactly once and in order" * doctest::timeout(120))
{
    if (descriptor_limit::hard() < 5000) {
        MESSAGE("SKIPPED: 2000 clients and their server need 5000 descriptors; the hard limit is "
                << descriptor_limit::hard());
        return;
    }
    descriptor_limit enough(8192);
    background_server server;
    asio::io_context io;
    constexpr int clients = 2000, exchanges = 10;
    std::atomic<int> good_answers = 0, finished = 0, failed = 0;
    auto client = [&](int id) -> coline::task<void> {
        auto conn = co_await coline::connect("127.0.0.1", server.port(), 20s);
        conn.options().read_timeout = 30s;
        if (co_await coline::read_line(conn) != std::optional<std::string_view>("Connect"))
            ++failed;
        for (int i = 0; i < exchanges; ++i) {
            co_await coline::write_line(conn, "line {} {}", id, i);
            auto answer = co_await coline::read_line(conn);
            if (answer && *answer == fmt::format("Information received line {} {}", id, i))
                ++good_answers;
            else
                ++failed;
        }
    };
    for (int id = 0; id < clients; ++id)
        coline::spawn(io, client(id), [&](std::exception_ptr error) {
            failed += error != nullptr;
            ++finished;
        });
    const auto give_up = std::chrono::steady_clock::now() + 100s;
    while (finished < clients && std::chrono::steady_clock::now() < give_up)
        io.run_one_for(100ms);
    CHECK(finished == clients);
    CHECK(failed == 0);
    CHECK(good_answers == clients * exchanges);
    CHECK(served_normally(server.port()));
}

TEST_CASE("descriptor exhaustion: accept errors are reported, backed off, and serving resumes" * doctest::timeout(60))
{
    // The first errors' times: after each, the server pauses 5 ms, doubling.
    constexpr int watched = 6;
    constexpr auto backed_off = 5ms * ((1 << (watched - 1)) - 1); // 5 + 10 + 20 + 40 + 80
    std::array<std::chrono::steady_clock::time_point, watched> seen{};
    std::atomic<int> accept_errors = 0, other_errors = 0;
    std::promise<void> all_seen;
    coline::server_options options;
    options.on_accept_error = [&](coline::error_code ec) {
        // Runs while the process has no descriptor to spare: compare plain
        // values (UBSan's check of a virtual call needs a descriptor itself).
        if (ec.value() != EMFILE || &ec.category() != &asio::error::get_system_category()) {
            ++other_errors;
            return;
        }
        const int n = accept_errors++;
        if (n < watched)
            seen[n] = std::chrono::steady_clock::now();
        if (n == watched - 1)
            all_seen.set_value();
    };
    background_server server(options);
    asio::io_context io;

    // UBSan checks a virtual call's object through a pipe the first time it
    // sees its type, which fails while no descriptor is left: let it see the
    // error category's type now, in the comparison the server makes.
    [[maybe_unused]] const volatile bool warm =
        coline::error_code(asio::error::no_descriptors) == std::errc::too_many_files_open_in_system;
    show_sanitizer_the_timer_cancellation(io);

    // Sockets made before the limit drops; connecting them needs no new descriptor.
    std::vector<tcp::socket> peers;
    for (int i = 0; i < 40; ++i)
        peers.emplace_back(io, tcp::v4());
    {
        descriptor_limit tight(open_descriptors() + 10);
        for (auto& peer : peers)
            peer.connect({asio::ip::address_v4::loopback(), server.port()});
        // The server can accept about 10 of them, then it is out of descriptors.
        REQUIRE(all_seen.get_future().wait_for(20s) == std::future_status::ready);
    }
    // Only now, with descriptors to spare (UBSan's checks need some too): the
    // server's sessions with these peers end with errors.
    peers.clear();
    CHECK(other_errors == 0);
    CHECK(seen[watched - 1] - seen[0] >= backed_off); // not a spin
    CHECK(served_normally(server.port()));
}

TEST_CASE("graceful shutdown: answered lines and a line in progress are not lost, idle clients are closed" * doctest::timeout(60))
{
    coline::server_options options;
    options.grace_period = 5s;
    auto server = std::make_unique<background_server>(options);

    blocking_client talker(server->port()), idle(server->port()), unread(server->port());
    CHECK(talker.line() == "Connect");
    CHECK(idle.line() == "Connect");
    talker.send("one\ntwo\n");
    CHECK(talker.line() == "Information received one");
    CHECK(talker.line() == "Information received two");
    talker.send("a line in prog");
    unread.send("x\ny\n");

    std::promise<std::chrono::steady_clock::duration> stopped;
    std::thread stopper([&] { stopped.set_value(server->stop()); });
    CHECK(idle.wait_for_close() == asio::error::eof); // closed once the stop is under way
    talker.send("ress\n");
    CHECK(talker.line() == "Information received a line in progress");
    CHECK(talker.wait_for_close() == asio::error::eof);
    CHECK(unread.line() == "Connect");
    CHECK(unread.line() == "Information received x");
    CHECK(unread.line() == "Information received y");
    CHECK(unread.wait_for_close() == asio::error::eof);
    auto took = stopped.get_future().get();
    stopper.join();
    CHECK(took < 5s); // everyone finished: no need to wait for the grace period
}

TEST_CASE("graceful shutdown: a line that never ends is cut off when the grace period is over" * doctest::timeout(60))
{
    coline::server_options options;
    options.grace_period = 500ms;
    background_server server(options);
    blocking_client stuck(server.port());
    CHECK(stuck.line() == "Connect");
    stuck.send("never ending");
    CHECK(served_normally(server.port())); // the server has taken in the partial line by now
    const auto took = server.stop();
    CHECK(took >= 400ms);
    CHECK(took < 10s);
    CHECK(stuck.wait_for_close() == asio::error::eof);
}

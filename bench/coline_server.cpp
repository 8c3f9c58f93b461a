// The tutorial's server written with coline the way the README teaches: a
// session and coline::run_server(), default options. For the benchmark it counts
// heap allocations and answered lines; SIGUSR1 prints both to stderr
// ("allocations A lines L"), so the runner can divide the differences.
//
//   bench_coline_server HOST PORT
#include "alloc_counter.hpp"

#include <coline/coline.hpp>

#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

std::atomic<std::uint64_t> lines_answered{0};

coline::task<void> session(coline::connection& conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn)) {
        co_await coline::write_line(conn, "Information received");
        // One thread writes it: a plain increment, not a locked one, to cost next to nothing.
        lines_answered.store(lines_answered.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
}

int main(int argc, char* argv[])
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 2;
    }
    // SIGUSR1 is taken by a thread of its own, away from the server's threads.
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
    std::thread reporter([usr1] {
        for (int signal = 0; sigwait(&usr1, &signal) == 0;)
            std::fprintf(stderr, "allocations %llu lines %llu\n",
                         static_cast<unsigned long long>(heap_allocations.load()),
                         static_cast<unsigned long long>(lines_answered.load()));
    });
    reporter.detach();

    coline::run_options run;
    run.on_listening = [](const asio::ip::tcp::endpoint& endpoint) {
        std::fprintf(stderr, "Listening on %s:%u\n", endpoint.address().to_string().c_str(), endpoint.port());
    };
    const asio::ip::tcp::endpoint endpoint{asio::ip::make_address(argv[1]),
                                           static_cast<unsigned short>(std::stoul(argv[2]))};
    coline::run_server(endpoint, session, {}, run);
}

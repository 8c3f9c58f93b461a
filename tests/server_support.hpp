// Helpers for tests of the server runner: a server on its own thread, blocking
// clients with their own deadlines, and the process's memory and descriptors.
#pragma once

#include "support.hpp"

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

namespace test {

/// The tutorial's session, answering each line with "Information received "
/// followed by the line, so that tests can tell the answers apart.
inline coline::task<void> echo_session(coline::connection& conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn))
        co_await coline::write_line(conn, "Information received {}", *line);
}

/// Errors that ended handlers, as the server reported them.
class error_log {
public:
    void add(std::exception_ptr error)
    {
        std::lock_guard lock(mutex_);
        try {
            std::rethrow_exception(error);
        } catch (const coline::system_error& e) {
            codes_.push_back(e.code());
        } catch (...) {
            codes_.push_back(std::make_error_code(std::errc::state_not_recoverable));
        }
    }
    bool contains(coline::error_code code) const
    {
        std::lock_guard lock(mutex_);
        return std::find(codes_.begin(), codes_.end(), code) != codes_.end();
    }
    std::size_t size() const
    {
        std::lock_guard lock(mutex_);
        return codes_.size();
    }

private:
    mutable std::mutex mutex_;
    std::vector<coline::error_code> codes_;
};

/// coline::run_server() on a thread of its own, on 127.0.0.1 and a port the
/// kernel picks. Stops and joins when destroyed (or on stop()).
class background_server {
public:
    explicit background_server(coline::server_options options = {}, coline::session_handler<> handler = echo_session,
                               std::size_t threads = 1)
    {
        coline::run_options<tcp::endpoint> run;
        run.threads = threads;
        run.stop_on_signals = false;
        run.stop = stop_.get_token();
        std::promise<unsigned short> listening;
        auto port = listening.get_future();
        run.on_listening = [&listening](const tcp::endpoint& endpoint) { listening.set_value(endpoint.port()); };
        options.on_handler_error = [this](std::exception_ptr error) { errors.add(error); };
        thread_ = std::thread([this, options, handler, run] {
            try {
                coline::run_server(tcp::endpoint{asio::ip::address_v4::loopback(), 0}, handler, options, run);
            } catch (...) {
                failure_ = std::current_exception();
            }
            stopped_ = true;
        });
        REQUIRE(port.wait_for(10s) == std::future_status::ready);
        port_ = port.get();
    }
    ~background_server() { stop(); }

    unsigned short port() const { return port_; }

    /// Requests a graceful stop and waits for run_server() to return; how long that took.
    std::chrono::steady_clock::duration stop()
    {
        const auto started = std::chrono::steady_clock::now();
        stop_.request_stop();
        if (thread_.joinable())
            thread_.join();
        return std::chrono::steady_clock::now() - started;
    }
    bool stopped() const { return stopped_; }
    std::exception_ptr failure() const { return failure_; }

    error_log errors;

private:
    std::stop_source stop_;
    std::thread thread_;
    unsigned short port_ = 0;
    std::atomic<bool> stopped_ = false;
    std::exception_ptr failure_;
};

/// A client socket with blocking calls, each of which gives up after a time
/// limit (10 s unless told) and then returns `timed_out()`. (SO_RCVTIMEO
/// would not do: Asio's blocking calls wait again when it runs out.)
class blocking_client {
public:
    /// What a call returns when its time ran out: neither eof nor a reset, so
    /// a check for either fails on a server that did nothing.
    static coline::error_code timed_out() { return std::make_error_code(std::errc::timed_out); }

    explicit blocking_client(unsigned short port, std::chrono::milliseconds limit = 10s) : socket_(io_), limit_(limit)
    {
        socket_.connect({asio::ip::address_v4::loopback(), port});
        socket_.non_blocking(true);
    }

    /// Sends all of `bytes`; the error that stopped it, or timed_out().
    coline::error_code send(std::string_view bytes)
    {
        const auto give_up = std::chrono::steady_clock::now() + limit_;
        while (!bytes.empty()) {
            coline::error_code ec;
            bytes.remove_prefix(socket_.write_some(asio::buffer(bytes), ec));
            if (ec == asio::error::would_block) {
                if (!ready(POLLOUT, give_up))
                    return timed_out();
            } else if (ec) {
                return ec;
            }
        }
        return {};
    }

    /// The next line without "\n", or "<the error's message>" if an error came
    /// first (eof when the server closed, timed_out() when nothing came).
    std::string line(coline::error_code* error = nullptr)
    {
        const auto give_up = std::chrono::steady_clock::now() + limit_;
        std::size_t at;
        while ((at = received_.find('\n')) == std::string::npos) {
            if (const auto ec = receive(give_up)) {
                if (error)
                    *error = ec;
                return "<" + ec.message() + ">";
            }
        }
        std::string line = received_.substr(0, at);
        received_.erase(0, at + 1);
        return line;
    }

    /// Reads (and drops) until the server ends the connection; the error that
    /// ended it: eof for an orderly close, connection_reset for a reset,
    /// timed_out() if the server did neither in time.
    coline::error_code wait_for_close()
    {
        const auto give_up = std::chrono::steady_clock::now() + limit_;
        for (;;) {
            if (const auto ec = receive(give_up))
                return ec;
            received_.clear();
        }
    }

    /// Whether nothing at all (no byte, no end, no error) arrives for `span`.
    bool quiet_for(std::chrono::milliseconds span)
    {
        return received_.empty() && !ready(POLLIN, std::chrono::steady_clock::now() + span);
    }

    tcp::socket& socket() { return socket_; }

private:
    // Waits until the socket is ready for `events` (or has an error); false at `give_up`.
    bool ready(short events, std::chrono::steady_clock::time_point give_up)
    {
        for (;;) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return false;
            pollfd wanted{socket_.native_handle(), events, 0};
            const int n = ::poll(&wanted, 1, static_cast<int>(left.count()));
            if (n > 0)
                return true;
            if (n < 0 && errno != EINTR)
                return true; // let the next call on the socket report what is wrong
        }
    }

    // Appends what has arrived to received_, waiting for it until `give_up`.
    coline::error_code receive(std::chrono::steady_clock::time_point give_up)
    {
        for (;;) {
            char chunk[4096];
            coline::error_code ec;
            const std::size_t n = socket_.read_some(asio::buffer(chunk), ec);
            if (!ec) {
                received_.append(chunk, n);
                return {};
            }
            if (ec != asio::error::would_block)
                return ec;
            if (!ready(POLLIN, give_up))
                return timed_out();
        }
    }

    asio::io_context io_;
    tcp::socket socket_;
    std::chrono::milliseconds limit_;
    std::string received_;
};

/// Whether a well-behaved client gets the tutorial's exchange from the server.
inline bool served_normally(unsigned short port)
{
    blocking_client client(port);
    if (client.line() != "Connect")
        return false;
    client.send("SOME data\n");
    return client.line() == "Information received SOME data";
}

/// This process's resident memory, in bytes.
inline std::size_t resident_bytes()
{
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

/// Sets the soft limit of open descriptors for as long as it lives.
class descriptor_limit {
public:
    explicit descriptor_limit(rlim_t soft)
    {
        ::getrlimit(RLIMIT_NOFILE, &saved_);
        rlimit wanted = saved_;
        wanted.rlim_cur = std::min(soft, saved_.rlim_max);
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &wanted) == 0);
    }
    ~descriptor_limit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
    static rlim_t hard()
    {
        rlimit now{};
        ::getrlimit(RLIMIT_NOFILE, &now);
        return now.rlim_max;
    }

private:
    rlimit saved_{};
};

inline std::size_t open_descriptors()
{
    std::size_t count = 0;
    for ([[maybe_unused]] auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
        ++count;
    return count;
}

/// For the tests that use up every descriptor: UBSan checks an object's
/// type through a pipe the first time it sees the type, which fails while no
/// descriptor is left, and it then reports a sound object as having an
/// invalid vptr. This lets it see, while descriptors are free, the type of
/// the cancellation handler that the server's accept back-off installs (a
/// timer awaited in a task) and its destruction when the wait completes.
inline void show_sanitizer_the_timer_cancellation(asio::io_context& io)
{
    asio::steady_timer timer(io, std::chrono::milliseconds{1});
    auto wait = [&timer]() -> coline::task<void> {
        coline::error_code ec;
        co_await timer.async_wait(asio::redirect_error(coline::use_task, ec));
    };
    coline::testing::run(io, wait());
}

} // namespace test

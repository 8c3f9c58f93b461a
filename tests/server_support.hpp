// Helpers for tests of the server runner: a server on its own thread, blocking
// clients with their own deadlines, and the process's memory and descriptors.
#pragma once

#include "support.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

namespace test {

/// The tutorial's session, answering each line with "Information received "
/// followed by the line, so that tests can tell the answers apart.
inline asio::awaitable<void> echo_session(coline::connection& conn)
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
        } catch (const std::system_error& e) {
            codes_.push_back(e.code());
        } catch (...) {
            codes_.push_back(std::make_error_code(std::errc::state_not_recoverable));
        }
    }
    bool contains(std::error_code code) const
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
    std::vector<std::error_code> codes_;
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

/// A plain blocking client socket; every wait on it gives up after 10 s.
class blocking_client {
public:
    explicit blocking_client(unsigned short port) : socket_(io_)
    {
        socket_.connect({asio::ip::address_v4::loopback(), port});
        set_timeouts(10s);
    }

    void set_timeouts(std::chrono::milliseconds limit)
    {
        timeval tv{static_cast<time_t>(limit.count() / 1000), static_cast<suseconds_t>(limit.count() % 1000 * 1000)};
        ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }

    std::error_code send(std::string_view bytes)
    {
        std::error_code ec;
        asio::write(socket_, asio::buffer(bytes), ec);
        return ec;
    }

    /// The next line without "\n", or the error that came first (eof when the server closed).
    std::string line(std::error_code* error = nullptr)
    {
        std::error_code ec;
        const std::size_t n = asio::read_until(socket_, asio::dynamic_buffer(received_), '\n', ec);
        if (ec) {
            if (error)
                *error = ec;
            return "<" + ec.message() + ">";
        }
        std::string line = received_.substr(0, n - 1);
        received_.erase(0, n);
        return line;
    }

    /// Reads until the server ends the connection; the error that ended it
    /// (eof for an orderly close, connection_reset for a reset).
    std::error_code wait_for_close()
    {
        std::error_code ec;
        char sink[4096];
        while (!ec)
            socket_.read_some(asio::buffer(sink), ec);
        return ec;
    }

    tcp::socket& socket() { return socket_; }

private:
    asio::io_context io_;
    tcp::socket socket_;
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

} // namespace test

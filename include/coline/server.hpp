// The server runner: accepts clients and runs a handler for each, within
// limits, and shuts down gracefully.
#pragma once

#include <coline/accept.hpp>
#include <coline/connection.hpp>
#include <coline/write_line.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline {

/// What a server runs for each client: read and write lines on the
/// connection, return when done. The server closes the connection after it
/// returns; the handler must not leave operations running on it.
using session_handler = std::function<asio::awaitable<void>(connection&)>;

/// The limits and hooks of a `server`. Every field has a default that is safe
/// to face the Internet with.
struct server_options {
    /// Clients served at once. The one over the limit is sent `refusal_line`
    /// (if not empty) and closed.
    std::size_t max_clients = 10'000;
    /// The line a client over `max_clients` gets, without "\n" (the server
    /// refuses to start with error::newline_in_line if it contains one).
    std::string refusal_line;

    /// Each client's connection. `read_timeout` is the idle timeout and the
    /// per-line deadline at once: a client must complete its next line within
    /// it, so one that sends nothing, or dribbles a line a byte at a time
    /// (slowloris), is closed. `write_timeout` closes a client that does not
    /// read its answers (the handler waits for it meanwhile: output is never
    /// buffered beyond the line being written, or the answers to requests
    /// already received: `coalesce_writes` is on, the server flushes after
    /// each handler). Change fields one by one: assigning a fresh
    /// `connection_options{}` drops these defaults (no time limits at all).
    connection_options connection{
        .max_line_length = 64 * 1024,
        .read_timeout = std::chrono::minutes{5},
        .write_timeout = std::chrono::seconds{30},
        .coalesce_writes = true,
    };

    /// On `stop()`: how long handlers may go on (answering the lines they
    /// have received, waiting for a line that has begun) before the server
    /// closes the connections that remain and cancels their handlers.
    duration grace_period = std::chrono::seconds{10};

    /// After a handler returns while the client still sends: how long to wait
    /// for the client to end its side (reading and dropping what it sends)
    /// before closing, so that it reads every answer rather than a reset.
    duration linger_timeout = std::chrono::seconds{1};

    /// With `threads` > 1, each thread's server calls the hooks below on its
    /// own thread (so they may run at the same time) and runs its own copy of
    /// the handler.

    /// Called with every error of accept (`no_descriptors` for EMFILE,
    /// `connection_aborted`, ...). The server then waits before it tries again,
    /// 5 ms at first, doubling up to 1 s, so that it neither spins nor gives up.
    std::function<void(std::error_code)> on_accept_error;

    /// Called when a handler ends with an exception. Without it, a
    /// `std::system_error` (a client misbehaved or went away) just ends that
    /// client, and any other exception propagates out of `io_context::run`.
    std::function<void(std::exception_ptr)> on_handler_error;

    /// For `serve()`: the number of threads, each with its own io_context and
    /// its own acceptor on the same port (SO_REUSEPORT, so the kernel spreads
    /// clients over them).
    std::size_t threads = 1;

    /// For `serve()`: called once the server listens, with the endpoint it is
    /// bound to (the actual port, where port 0 was asked for).
    std::function<void(const asio::ip::tcp::endpoint&)> on_listening;

    /// For `serve()`: stop on SIGINT and SIGTERM.
    bool stop_on_signals = true;
};

namespace detail {

// Waits for the peer to end its side, dropping what it sends, for at most `limit`.
template <class Stream>
asio::awaitable<void> discard_input(basic_connection<Stream>& conn, duration limit)
{
    auto& deadline = connection_access::read_deadline(conn);
    asio::cancellation_state parent = co_await asio::this_coro::cancellation_state;
    deadline.start(limit);
    std::error_code ec;
    char sink[512];
    while (!ec && !deadline.expired())
        co_await conn.stream().async_read_some(
            asio::buffer(sink),
            asio::bind_cancellation_slot(deadline.slot(parent.slot()), asio::redirect_error(asio::use_awaitable, ec)));
    deadline.stop();
}

#ifdef SO_REUSEPORT
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
#endif

} // namespace detail

/// Accepts clients on one endpoint and runs a handler for each, all on one
/// executor, which must not run handlers on several threads at once (an
/// io_context run by one thread, or a strand). Use `serve()` to run one or
/// more of them from `main`, on as many threads as you like.
///
///     coline::server server(io.get_executor(), {asio::ip::make_address("127.0.0.1"), 10008}, session);
///     asio::co_spawn(io, server.serve(), asio::detached);
///     // ... later, from any thread: server.stop();
class server {
public:
    /// Binds and listens at once, so `local_endpoint()` is known before
    /// `serve()` runs. Throws `std::system_error` if it cannot (address in use, ...),
    /// or with error::newline_in_line for a `refusal_line` that holds "\\n".
    server(const asio::any_io_executor& executor, const asio::ip::tcp::endpoint& endpoint, session_handler handler,
           server_options options = {})
        : server(executor, endpoint, std::move(handler), std::move(options),
                 std::make_shared<std::atomic<std::size_t>>(0), false)
    {
    }

    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Where the server listens (the actual port, where port 0 was asked for), even after `stop()`.
    asio::ip::tcp::endpoint local_endpoint() const { return endpoint_; }

    /// Clients being served now (by all servers that `serve()` runs together).
    std::size_t client_count() const noexcept { return clients_->load(); }

    /// Accepts clients and runs the handler for each until `stop()`; then
    /// waits for the handlers (closing what remains after the grace period)
    /// and returns.
    asio::awaitable<void> serve()
    {
        co_await accept_clients();
        const auto force_at = detail::time_after(options_.grace_period);
        bool forced = false;
        while (!sessions_.empty()) {
            wake_.expires_at(forced ? std::chrono::steady_clock::time_point::max() : force_at);
            std::error_code ec;
            co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (!ec && !forced) {
                forced = true;
                for (auto& session : sessions_) {
                    session.conn.close();
                    session.cancel.emit(asio::cancellation_type::terminal); // whatever else it awaits
                }
            }
        }
    }

    /// Shuts down gracefully: stops accepting, lets each handler answer the
    /// lines it has received and finish a line that has begun (see
    /// `connection::stop_reading`), closes idle clients, and after the grace
    /// period closes the rest. Callable from any thread, more than once; the
    /// server must live until `serve()` has returned.
    void stop()
    {
        asio::dispatch(executor_, [this] {
            if (stopping_)
                return;
            stopping_ = true;
            std::error_code ignored;
            acceptor_.close(ignored);
            backoff_.cancel();
            for (auto& session : sessions_)
                session.conn.stop_reading();
        });
    }

private:
    friend void serve(const asio::ip::tcp::endpoint&, session_handler, server_options, std::stop_token);

    struct session {
        explicit session(connection c) : conn(std::move(c)) {}
        connection conn;
        asio::cancellation_signal cancel; // ends the handler when the grace period is over
    };

    server(const asio::any_io_executor& executor, const asio::ip::tcp::endpoint& endpoint, session_handler handler,
           server_options options, std::shared_ptr<std::atomic<std::size_t>> clients, bool reuse_port)
        : executor_(executor),
          acceptor_(executor, endpoint.protocol()),
          handler_(std::move(handler)),
          options_(std::move(options)),
          clients_(std::move(clients)),
          backoff_(executor),
          wake_(executor)
    {
        if (options_.refusal_line.find('\n') != std::string::npos)
            throw std::system_error(error::newline_in_line, "coline::server: refusal_line");
        acceptor_.set_option(asio::socket_base::reuse_address(true));
#ifdef SO_REUSEPORT
        if (reuse_port)
            acceptor_.set_option(detail::reuse_port(true));
#else
        (void)reuse_port;
#endif
        acceptor_.bind(endpoint);
        acceptor_.listen();
        endpoint_ = acceptor_.local_endpoint();
    }

    asio::awaitable<void> accept_clients()
    {
        using namespace std::chrono_literals;
        duration pause = 0ms;
        while (!stopping_) {
            auto [ec, conn] = co_await coline::accept(acceptor_, as_tuple, options_.connection);
            if (stopping_)
                break;
            if (ec) {
                if (options_.on_accept_error)
                    options_.on_accept_error(ec);
                if (ec == asio::error::connection_aborted)
                    continue; // that client gave up; the next one may be waiting
                pause = std::clamp<duration>(pause * 2, 5ms, 1s);
                backoff_.expires_after(pause);
                co_await backoff_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                continue;
            }
            pause = 0ms;
            if (clients_->fetch_add(1) >= options_.max_clients) { // the count is shared by serve()'s threads
                --*clients_;
                co_await refuse(conn);
                continue;
            }
            auto it = sessions_.emplace(sessions_.end(), std::move(conn));
            asio::co_spawn(executor_, run_session(it->conn),
                           asio::bind_cancellation_slot(it->cancel.slot(), [this, it](std::exception_ptr error) {
                               end_session(it, error);
                           }));
        }
    }

    asio::awaitable<void> refuse(connection& conn)
    {
        using namespace std::chrono_literals;
        if (!options_.refusal_line.empty()) {
            co_await write_line(conn, 1s, as_tuple, options_.refusal_line);
            co_await flush(conn, 1s, as_tuple);
        }
        std::error_code ignored;
        conn.stream().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
        conn.close();
    }

    asio::awaitable<void> run_session(connection& conn)
    {
        std::exception_ptr error;
        try {
            co_await handler_(conn);
        } catch (...) {
            error = std::current_exception(); // handed on below, once the client is closed
        }
        // Answers the handler wrote go out, even when it failed on a later line
        // (unless the grace period is over: then the session is cancelled).
        co_await asio::this_coro::throw_if_cancelled(false);
        co_await flush(conn, options_.connection.write_timeout, as_tuple);
        // A client that still sends after a normal end gets the chance to read
        // every answer; one that misbehaved is cut off at once.
        if (!error && !conn.at_end() && conn.stream().is_open()) {
            std::error_code ignored;
            conn.stream().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
            co_await detail::discard_input(conn, options_.linger_timeout);
        }
        conn.close();
        if (error)
            std::rethrow_exception(error);
    }

    void end_session(std::list<session>::iterator it, std::exception_ptr error)
    {
        sessions_.erase(it);
        --*clients_;
        if (stopping_ && sessions_.empty())
            wake_.cancel();
        if (!error)
            return;
        if (options_.on_handler_error) {
            options_.on_handler_error(error);
            return;
        }
        try {
            std::rethrow_exception(error);
        } catch (const std::system_error&) {
            // A client misbehaved or went away: that client is done, no one else is affected.
        }
    }

    asio::any_io_executor executor_;
    asio::ip::tcp::acceptor acceptor_;
    asio::ip::tcp::endpoint endpoint_; // what acceptor_ is bound to, kept for after it is closed
    session_handler handler_;
    server_options options_;
    std::shared_ptr<std::atomic<std::size_t>> clients_;
    std::list<session> sessions_;
    asio::steady_timer backoff_; // between accept attempts after an error
    asio::steady_timer wake_;    // wakes serve() when the last session ends
    bool stopping_ = false;
};

/// Runs a server from `main`: listens on `endpoint`, runs `handler` for each
/// client on `options.threads` threads, and returns once it has stopped and
/// every handler has ended: after SIGINT or SIGTERM (`options.stop_on_signals`),
/// or when `stop` is requested. Rethrows what escaped a handler or the server.
///
///     coline::serve({asio::ip::make_address("127.0.0.1"), 10008}, session);
inline void serve(const asio::ip::tcp::endpoint& endpoint, session_handler handler, server_options options = {},
                  std::stop_token stop = {})
{
    const std::size_t count = std::max<std::size_t>(1, options.threads);
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    std::vector<std::unique_ptr<server>> servers;
    auto clients = std::make_shared<std::atomic<std::size_t>>(0);
    auto bound = endpoint;
    for (std::size_t i = 0; i < count; ++i) {
        contexts.push_back(std::make_unique<asio::io_context>(1));
        servers.push_back(std::unique_ptr<server>(
            new server(contexts[i]->get_executor(), bound, handler, options, clients, count > 1)));
        bound = servers[0]->local_endpoint(); // the others share the port the first one got
    }
    auto stop_all = [&servers] {
        for (auto& s : servers)
            s->stop();
    };
    asio::signal_set signals(*contexts[0]);
    if (options.stop_on_signals) {
        signals.add(SIGINT);
        signals.add(SIGTERM);
        signals.async_wait([&](std::error_code ec, int) {
            if (!ec)
                stop_all();
        });
    }
    std::stop_callback on_stop(stop, stop_all);
    if (options.on_listening) // only now: a signal sent as soon as this is seen is handled
        options.on_listening(bound);

    std::mutex failure_mutex;
    std::exception_ptr failure;
    auto fail = [&](std::exception_ptr error) {
        {
            std::lock_guard lock(failure_mutex);
            if (!failure)
                failure = error;
        }
        stop_all();
    };
    std::atomic<std::size_t> running = count;
    for (std::size_t i = 0; i < count; ++i)
        asio::co_spawn(*contexts[i], servers[i]->serve(), [&](std::exception_ptr error) {
            if (error)
                fail(error);
            if (--running == 0) // nothing is left to stop: let the first context run out of work
                asio::post(*contexts[0], [&signals] { signals.cancel(); });
        });

    auto run = [&](asio::io_context& io) {
        for (;;) {
            try {
                io.run();
                return;
            } catch (...) {
                fail(std::current_exception()); // rethrown below, once every thread is done
            }
        }
    };
    std::vector<std::jthread> threads;
    for (std::size_t i = 1; i < count; ++i)
        threads.emplace_back([&, i] { run(*contexts[i]); });
    run(*contexts[0]);
    threads.clear(); // joins
    if (failure)
        std::rethrow_exception(failure);
}

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

// The server: accepts clients and runs a handler for each, within limits,
// over any transport, and shuts down gracefully.
#pragma once

#include <coline/connection.hpp>
#include <coline/detail/session_end.hpp>
#include <coline/detail/unix_socket_claim.hpp>
#include <coline/task.hpp>
#include <coline/transport.hpp>
#include <coline/write_line.hpp>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline {

/// What a server runs for each client: a function that returns a
/// `coline::task<void>`, which reads and writes lines on the connection and
/// returns when done. It takes the connection by reference, or by value as
/// the bare accept loop's session does (README), so the same session runs
/// under both:
///
///     coline::task<void> session(coline::connection conn);  // or (coline::connection& conn)
///     coline::run_server(endpoint, session);
///
/// The server ends the connection after the handler returns (what it kept
/// sent, then a lingering close), also one the handler took by value or made
/// anew (`start_tls`): the server's stop and limits reach it wherever it
/// moved. The handler must not leave operations running on it.
template <class Connection = connection>
class session_handler {
public:
    /// None: calling it throws std::bad_function_call (a server that is only listened on).
    session_handler() = default;
    /// A function that takes `Connection&`.
    template <class F>
        requires std::is_invocable_r_v<task<void>, F&, Connection&>
    session_handler(F f) : run_(std::move(f))
    {
    }
    /// A function that takes `Connection` by value: the connection is moved into it.
    template <class F>
        requires(!std::is_invocable_r_v<task<void>, F&, Connection&> && std::is_invocable_r_v<task<void>, F&, Connection &&>)
    session_handler(F f) : run_([f = std::move(f)](Connection& conn) mutable { return f(std::move(conn)); })
    {
    }

    /// Starts the session on `conn`.
    task<void> operator()(Connection& conn) const { return run_(conn); }

private:
    std::function<task<void>(Connection&)> run_;
};

/// The limits and hooks of a server. Every field has a default that is safe
/// to face the Internet with; docs/limits.md says how to choose them.
struct server_options {
    /// Clients served at once, those still in their handshake included. The
    /// one over the limit is sent `refusal_line` (if not empty, and the
    /// transport sends it: over TLS it is closed at once) and closed.
    std::size_t max_clients = 10'000;
    /// The line a client over `max_clients` gets, without its line ending:
    /// the server ends it as `connection.newline` says ("\r\n" with
    /// `line_ending::crlf`). The server refuses to start with
    /// error::newline_in_line if it contains "\n".
    std::string refusal_line;

    /// Each client's connection. `read_timeout` is the idle timeout and the
    /// per-line deadline at once: a client must complete its next line within
    /// it, so one that sends nothing, or dribbles a line a byte at a time
    /// (slowloris), is closed. `request_timeout` bounds a request of several
    /// reads, once the handler calls `begin_request()`, so that a client that
    /// dribbles its lines cannot hold its slot either. `write_timeout` closes
    /// a client that does not read its answers. `coalesce_writes` is on, as
    /// everywhere; the server flushes after each handler. Change fields one by
    /// one: assigning a fresh `connection_options{}` drops these defaults (no
    /// time limits at all).
    connection_options connection{
        .max_line_length = 64 * 1024,
        .read_timeout = std::chrono::minutes{5},
        .request_timeout = std::chrono::minutes{1},
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
    /// While the client is still taking answers that the kernel holds for
    /// it, it gets this long again each time it took some (on Linux), up to
    /// the connection's `write_timeout` (10 s without one) more in all.
    duration linger_timeout = std::chrono::seconds{1};

    /// Called with every error of accept (`no_descriptors` for EMFILE,
    /// `connection_aborted`, ...). The server then waits before it tries again,
    /// 5 ms at first, doubling up to 1 s, so that it neither spins nor gives up.
    std::function<void(error_code)> on_accept_error;

    /// Called when a handler ends with an exception, or a client's transport
    /// failed to open (a failed TLS handshake, as `coline::system_error`).
    /// Without it, a `coline::system_error` (a client misbehaved or went away)
    /// just ends that client, and any other exception propagates out of
    /// `io_context::run`. With several threads (`run_server`), each thread
    /// calls it (and `on_accept_error`) on its own.
    std::function<void(std::exception_ptr)> on_handler_error;

    /// Bind with SO_REUSEPORT, so that several servers (one per thread, as
    /// `run_server` makes them) share the port and the kernel spreads clients
    /// over them. TCP only: the server refuses to start with it on another protocol.
    bool reuse_port = false;
};

namespace detail {
struct server_access;

// After a crowd of clients has gone (a burst, an attack), hands the memory
// they used back to the system: glibc keeps freed memory in the process
// otherwise. Each time the sessions fall to a quarter of their peak, and
// once more when the last of them has gone.
inline void return_memory(std::size_t sessions, std::size_t& most_sessions)
{
#if defined(__GLIBC__)
    if ((most_sessions >= 64 && sessions <= most_sessions / 4) || (most_sessions >= 16 && sessions == 0)) {
        ::malloc_trim(0);
        most_sessions = sessions;
    }
#else
    (void)sessions;
    (void)most_sessions;
#endif
}

} // namespace detail

/// Accepts clients on one endpoint and runs a handler for each, all on one
/// executor, which must not run handlers on several threads at once (an
/// io_context run by one thread, or a strand). `Transport` says what comes
/// between accept and the handler: nothing (`tcp_transport`,
/// `local_transport`) or a TLS handshake (`tls_transport`). Use `run_server`
/// to run it from `main`, on as many threads as you like.
///
///     coline::server server(io.get_executor(), {asio::ip::make_address("127.0.0.1"), 10008}, session);
///     coline::spawn(io, server.run(), asio::detached);
///     // ... later, from any thread: server.stop();
template <transport Transport>
class basic_server {
public:
    /// The transport's protocol.
    using protocol_type = typename Transport::protocol_type;
    /// Where the server listens.
    using endpoint_type = typename protocol_type::endpoint;
    /// What each handler gets.
    using connection_type = typename Transport::connection_type;
    /// The handler's type.
    using handler_type = session_handler<connection_type>;

    /// Binds and listens at once, so `local_endpoint()` is known before
    /// `run()`. Throws `coline::system_error` if it cannot (address in use, ...),
    /// or with error::newline_in_line for a `refusal_line` that holds "\\n".
    /// On a Unix socket path, it replaces only a stale socket file (see `local_server`).
    basic_server(const asio::any_io_executor& executor, const endpoint_type& endpoint, handler_type handler,
                 server_options options = {}, Transport transport = {})
        : executor_(executor),
          acceptor_(executor, endpoint.protocol()),
          handler_(std::move(handler)),
          options_(std::move(options)),
          transport_(std::move(transport)),
          clients_(std::make_shared<std::atomic<std::size_t>>(0)),
          backoff_(executor),
          wake_(executor)
    {
        if (options_.refusal_line.find('\n') != std::string::npos)
            throw system_error(error::newline_in_line, "coline::server: refusal_line");
        if constexpr (std::same_as<protocol_type, asio::ip::tcp>) {
            acceptor_.set_option(asio::socket_base::reuse_address(true));
            if (options_.reuse_port)
                set_reuse_port();
        } else if (options_.reuse_port) {
            throw std::invalid_argument("coline::server: reuse_port needs TCP");
        }
        claim_.claim(endpoint); // a Unix socket's path: locked, and a stale file removed; else throws
        acceptor_.bind(endpoint);
        claim_.bound();
        acceptor_.listen();
        endpoint_ = acceptor_.local_endpoint();
    }

    basic_server(const basic_server&) = delete;
    basic_server& operator=(const basic_server&) = delete;

    ~basic_server()
    {
        error_code ignored;
        acceptor_.close(ignored);
        claim_.release(); // (if stop() has not): our socket file goes, then the lock
    }

    /// Where the server listens (the actual port, where port 0 was asked for), even after `stop()`.
    endpoint_type local_endpoint() const { return endpoint_; }

    /// Clients being served now, those in their handshake included (by all
    /// servers that `run_server` runs together).
    std::size_t client_count() const noexcept { return clients_->load(); }

    /// Accepts clients and runs the handler for each until `stop()`; then
    /// waits for the handlers (closing what remains after the grace period)
    /// and returns.
    task<void> run()
    {
        co_await accept_clients();
        const auto force_at = detail::time_after(options_.grace_period);
        bool forced = false;
        while (!sessions_.empty()) {
            if (!forced && stopping_now_) {
                forced = true;
                close_sessions();
            }
            wake_.expires_at(forced ? std::chrono::steady_clock::time_point::max() : force_at);
            error_code ec;
            co_await wake_.async_wait(asio::redirect_error(use_task, ec));
            if (!ec && !forced) {
                forced = true;
                close_sessions();
            }
        }
    }

    /// Shuts down gracefully: stops accepting, ends the handshakes in
    /// progress, lets each handler answer the lines it has received and
    /// finish a line that has begun (see `connection::stop_reading`), closes
    /// idle clients, and after the grace period closes the rest. Callable
    /// from any thread, more than once; the server must live until `run()`
    /// has returned.
    void stop()
    {
        asio::dispatch(executor_, [this] {
            if (stopping_)
                return;
            stopping_ = true;
            error_code ignored;
            acceptor_.close(ignored);
            claim_.release(); // a Unix socket's file, if it is still ours, and its lock
            backoff_.cancel();
            for (auto& session : sessions_) {
                if (session.conn)
                    session.link.stop_reading(); // the connection the handler works on, STARTTLS or not
                else
                    session.cancel.emit(asio::cancellation_type::terminal); // a handshake: nothing to answer yet
            }
        });
    }

    /// Stops at once, as when the grace period is over: `stop()`, then
    /// every connection is closed and every handler cancelled. Callable from
    /// any thread, also during a graceful stop (a second Ctrl-C).
    void stop_now()
    {
        stop();
        asio::dispatch(executor_, [this] {
            stopping_now_ = true;
            wake_.cancel();
        });
    }

private:
    friend struct detail::server_access;

    void close_sessions()
    {
        for (auto& session : sessions_) {
            session.link.close();
            session.cancel.emit(asio::cancellation_type::terminal); // whatever else it awaits
        }
    }
    using socket_type = typename protocol_type::socket;

    struct session {
        std::optional<connection_type> conn; // once the transport has opened it
        asio::cancellation_signal cancel;    // ends the handshake, or the handler after the grace period
        // Reaches the connection the handler works on: conn, or what it made
        // of it (start_tls). (After conn: it lets go of it first.)
        detail::session_link link;
    };

    void set_reuse_port()
    {
#if defined(SO_REUSEPORT)
        const int on = 1;
        if (::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
            throw system_error(error_code(errno, asio::error::get_system_category()), "coline::server: SO_REUSEPORT");
#else
        throw system_error(error_code(std::make_error_code(std::errc::not_supported)), "coline::server: SO_REUSEPORT");
#endif
    }

    task<void> accept_clients()
    {
        using namespace std::chrono_literals;
        duration pause = 0ms;
        while (!stopping_) {
            error_code ec;
            socket_type socket(executor_);
            co_await acceptor_.async_accept(socket, asio::redirect_error(use_task, ec));
            if (stopping_)
                break;
            if (ec) {
                if (options_.on_accept_error)
                    options_.on_accept_error(ec);
                if (ec == asio::error::connection_aborted)
                    continue; // that client gave up; the next one may be waiting
                // Out of descriptors while clients sit in their handshake: the
                // one that has taken longest makes room, so that clients that
                // never finish theirs cannot lock the others out.
                pause = out_of_descriptors(ec) && drop_oldest_opening() ? 5ms : std::clamp<duration>(pause * 2, 5ms, 1s);
                backoff_.expires_after(pause);
                co_await backoff_.async_wait(asio::redirect_error(use_task, ec));
                continue;
            }
            pause = 0ms;
            if (clients_->fetch_add(1) >= options_.max_clients) { // the count is shared by run_server's threads
                --*clients_;
                co_await refuse(std::move(socket));
                continue;
            }
            auto it = sessions_.emplace(sessions_.end());
            most_sessions_ = std::max(most_sessions_, sessions_.size());
            coline::spawn(executor_, run_session(*it, std::move(socket)),
                           asio::bind_cancellation_slot(it->cancel.slot(), [this, it](std::exception_ptr error) {
                               end_session(it, error);
                           }));
        }
    }

    task<void> refuse(socket_type socket)
    {
        using namespace std::chrono_literals;
        error_code ignored;
        if constexpr (Transport::sends_refusal_line) {
            if (!options_.refusal_line.empty()) {
                socket_connection<protocol_type> conn(std::move(socket));
                conn.options().newline = options_.connection.newline; // "\r\n" for SMTP, HTTP, Redis
                conn.options().write_timeout = 1s;
                conn.options().coalesce_writes = false; // sent before the shutdown below
                co_await write_line(conn, as_tuple, options_.refusal_line);
                conn.stream().shutdown(asio::socket_base::shutdown_send, ignored);
                co_return; // closed as it goes
            }
        }
        socket.shutdown(asio::socket_base::shutdown_send, ignored);
        socket.close(ignored);
    }

    task<void> run_session(session& s, socket_type socket)
    {
        const error_code open_error = co_await open(s, std::move(socket));
        if (open_error == asio::error::operation_aborted && stopping_)
            co_return; // the server stopped during the handshake: nothing to report
        if (open_error)
            throw system_error(open_error, "coline::server: opening the connection");
        if (stopping_)
            s.link.stop_reading();
        std::exception_ptr error;
        try {
            co_await handler_(*s.conn);
        } catch (...) {
            error = std::current_exception(); // handed on below, once the client is closed
        }
        co_await detail::end_session(detail::core_of(*s.conn), !error, options_.linger_timeout);
        // A connection the handler made of conn and let go (after STARTTLS) ends the same way.
        if (auto upgraded = s.link.close_adoption())
            co_await upgraded->end(!error, options_.linger_timeout);
        if (error)
            std::rethrow_exception(error);
    }

    // The connection goes straight to the session's slot: the frame of
    // run_session, which lasts as long as the client, holds no copy of it.
    task<error_code> open(session& s, socket_type socket)
    {
        auto [open_error, conn] = co_await transport_.open(std::move(socket), options_.connection);
        if (!open_error) {
            s.conn.emplace(std::move(conn));
            detail::link_session(detail::core_of(*s.conn), s.link);
        }
        co_return open_error;
    }

    static bool out_of_descriptors(error_code ec)
    {
        return ec == asio::error::no_descriptors || ec == std::errc::too_many_files_open_in_system;
    }

    bool drop_oldest_opening()
    {
        for (auto& session : sessions_)
            if (!session.conn) {
                session.cancel.emit(asio::cancellation_type::terminal);
                return true;
            }
        return false;
    }

    void end_session(typename std::list<session>::iterator it, std::exception_ptr error)
    {
        sessions_.erase(it);
        --*clients_;
        detail::return_memory(sessions_.size(), most_sessions_);
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
        } catch (const system_error&) {
            // A client misbehaved or went away: that client is done, no one else is affected.
        }
    }

    asio::any_io_executor executor_;
    typename protocol_type::acceptor acceptor_;
    detail::address_claim<protocol_type> claim_; // for a Unix socket: its path's lock and the file we bound
    endpoint_type endpoint_; // what acceptor_ is bound to, kept for after it is closed
    handler_type handler_;
    server_options options_;
    Transport transport_;
    std::shared_ptr<std::atomic<std::size_t>> clients_;
    std::list<session> sessions_;
    asio::steady_timer backoff_; // between accept attempts after an error
    asio::steady_timer wake_;    // wakes run() when the last session ends
    std::size_t most_sessions_ = 0; // since memory was last given back
    bool stopping_ = false;
    bool stopping_now_ = false;
};

/// A server over plain TCP.
using server = basic_server<tcp_transport>;

#if defined(COLINE_HAS_LOCAL_SOCKETS)
/// A server on a Unix domain socket: its endpoint is a path. While it
/// listens it holds an flock on "<path>.lock" (created if missing, never
/// removed), so a second server on the path is refused. A socket file at the
/// path that refuses connections (its server is gone) is replaced; anything
/// else there (a live server, a socket of another type or that it may not
/// connect to, a file that is not a socket) stays, and the constructor
/// throws `coline::system_error` with address_in_use. It removes its socket
/// file when it stops, unless another has replaced it. (Not on Windows.)
using local_server = basic_server<local_transport>;
#endif

namespace detail {

// Lets run_server share one client count among its servers.
struct server_access {
    template <class Transport>
    static void share_clients(basic_server<Transport>& server, std::shared_ptr<std::atomic<std::size_t>> clients)
    {
        server.clients_ = std::move(clients);
    }
};

} // namespace detail

} // namespace coline

COLINE_SILENCE_FRAME_WARNINGS_END

// Testing: drive a session handler from a test case (doctest or any other),
// with no port to pick and no thread to manage.
//
//     coline::testing::session_driver client(session);
//     CHECK(client.read_line() == "Connect");
//     client.write_line("SOME data");
//     CHECK(client.read_line() == "Information received");
#pragma once

#include <coline/coline.hpp>
#include <coline/detail/session_end.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

/// Helpers for unit tests of session handlers and coroutines.
namespace coline::testing {

/// How long each step of a test may take before it fails (rather than hangs).
inline constexpr duration default_limit = std::chrono::seconds{5};

/// What `run` and `session_driver` throw when a step overran its limit: not
/// a `coline::system_error`, so that a test expecting coline's
/// `error::timeout` (or any other error) cannot pass on the runner giving up.
class step_timed_out : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {

// What a task run by `run` left behind; shared with its completion handler,
// which may outlive the call to `run` if the task does not unwind in time.
template <class T>
struct task_state {
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> result;
    std::exception_ptr error;
    bool done = false;
    asio::cancellation_signal cancel;
};

template <class T>
task<void> store_result(task<T> work, std::shared_ptr<task_state<T>> state)
{
    if constexpr (std::is_void_v<T>) {
        co_await std::move(work);
        state->result.emplace(true);
    } else {
        state->result.emplace(co_await std::move(work));
    }
}

// What co_await of `Awaitable` gives in a task: a coline operation's
// result_type, or an asio::awaitable's value.
template <class Awaitable>
struct await_result {};
template <class Awaitable>
    requires requires { typename Awaitable::result_type; }
struct await_result<Awaitable> {
    using type = typename Awaitable::result_type;
};
template <class T, class Executor>
struct await_result<asio::awaitable<T, Executor>> {
    using type = T;
};

} // namespace detail

/// Runs `work` on `io` until it finishes; returns what it returns and
/// rethrows what it throws. A task still running after `limit` is cancelled,
/// and `run` throws `step_timed_out`: a test that would hang fails instead.
/// Other work on `io` (a server, a handler) runs meanwhile.
///
///     asio::io_context io;
///     CHECK(coline::testing::run(io, greet(conn)) == "Connect");
template <class T>
T run(asio::io_context& io, task<T> work, duration limit = default_limit)
{
    auto state = std::make_shared<detail::task_state<T>>();
    coline::spawn(io, detail::store_result(std::move(work), state),
                  asio::bind_cancellation_slot(state->cancel.slot(), [state](std::exception_ptr e) {
                      state->error = e;
                      state->done = true;
                  }));

    const auto give_up = coline::detail::time_after(limit);
    io.restart();
    while (!state->done && std::chrono::steady_clock::now() < give_up) {
        if (io.run_one_until(give_up) == 0 && io.stopped() && !state->done)
            throw std::logic_error("coline::testing::run: the io_context ran out of work before the task finished");
    }
    if (!state->done) {
        // Give the task a moment to unwind, so it is not left half-done.
        state->cancel.emit(asio::cancellation_type::terminal);
        io.restart();
        const auto unwound = coline::detail::time_after(std::chrono::seconds{1});
        while (!state->done && io.run_one_until(unwound) != 0) {
        }
        throw step_timed_out("coline::testing::run: the task ran longer than its limit");
    }
    if (state->error)
        std::rethrow_exception(state->error);
    if constexpr (!std::is_void_v<T>)
        return std::move(*state->result);
}

/// `run` for one operation (or an `asio::awaitable`), awaited in a task of its own:
///
///     auto conn = coline::testing::run(io, coline::connect("127.0.0.1", port));
///     CHECK(coline::testing::run(io, coline::read_line(conn)) == "Connect");
template <class Awaitable>
typename detail::await_result<Awaitable>::type run(asio::io_context& io, Awaitable awaitable,
                                                   duration limit = default_limit)
{
    using T = typename detail::await_result<Awaitable>::type;
    return run(io, coline::detail::await_in_task<T>(std::move(awaitable)), limit);
}

/// Two connected ends of a TCP connection over loopback (the kernel picks
/// the port), as a server and its client would hold them.
struct connection_pair {
    connection server; ///< The accepted end.
    connection client; ///< The connecting end.
};

/// Connects a pair at once, without awaiting: `server` gets `server_options`
/// (by default, what `coline::server` gives its clients), `client` gets `client_options`.
inline connection_pair make_connection_pair(asio::io_context& io,
                                            connection_options server_options = coline::server_options{}.connection,
                                            connection_options client_options = {})
{
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    asio::ip::tcp::socket client(io);
    client.connect(acceptor.local_endpoint()); // the kernel completes it before accept is called
    asio::ip::tcp::socket server = acceptor.accept();
    coline::detail::tune_for_lines(client);
    coline::detail::tune_for_lines(server);
    return {connection(std::move(server), server_options), connection(std::move(client), client_options)};
}

namespace detail {

// The client's end of a session_driver: the plain connection it starts
// with, or what `upgrade_client` made of it (a TLS connection).
struct driver_client {
    virtual ~driver_client() = default;
    virtual task<std::optional<std::string>> read_line(duration limit) = 0;
    virtual task<void> write_line(std::string text) = 0;
    virtual task<void> write(std::string bytes) = 0;
    virtual task<void> end_input(duration limit) = 0;
    virtual void close() noexcept = 0;
};

template <class Stream>
class driver_client_on final : public driver_client {
public:
    explicit driver_client_on(basic_connection<Stream>& conn) : conn_(&conn) {}
    explicit driver_client_on(basic_connection<Stream>&& conn) : owned_(std::move(conn)), conn_(&*owned_) {}

    task<std::optional<std::string>> read_line(duration limit) override
    {
        auto line = co_await coline::read_line(*conn_, limit);
        co_return line ? std::optional<std::string>(*line) : std::nullopt;
    }
    task<void> write_line(std::string text) override
    {
        co_await coline::write_line(*conn_, text);
        co_await coline::flush(*conn_);
    }
    task<void> write(std::string bytes) override
    {
        co_await coline::write(*conn_, bytes);
        co_await coline::flush(*conn_);
    }
    task<void> end_input(duration limit) override
    {
        co_await coline::flush(*conn_, limit, as_tuple);
        error_code ignored;
        if constexpr (requires { conn_->stream().shutdown(asio::socket_base::shutdown_send, ignored); })
            conn_->stream().shutdown(asio::socket_base::shutdown_send, ignored);
        else
            co_await coline::detail::lingering_close<Stream>::run(coline::detail::core_of(*conn_), limit); // TLS: close_notify, and the peer's
    }
    void close() noexcept override { conn_->close(); }
    basic_connection<Stream>& connection() noexcept { return *conn_; }

private:
    std::optional<basic_connection<Stream>> owned_;
    basic_connection<Stream>* conn_;
};

} // namespace detail

/// How a `session_driver` sets up its two ends.
struct driver_options {
    /// The handler's connection: what `coline::server` gives its clients, by default.
    connection_options server = coline::server_options{}.connection;
    /// The client's connection (a test's own `read_line` on `client()` uses it too).
    connection_options client = {};
    /// How long each call may take.
    duration limit = default_limit;
};

/// Runs one session handler as `coline::server` would (same connection
/// options; after the handler returns, the answers it wrote are flushed and
/// the client sees the end of the stream) and lets a test play its client
/// with plain calls. Each call runs the io_context until it is done, failing
/// with `step_timed_out` after `limit`.
///
/// The session is in the driver's care as a server's is: `stop_server()`
/// stops it as `server::stop()` would, also after the handler upgraded
/// its connection with `start_tls`; the client side upgrades with
/// `upgrade_client`:
///
///     coline::testing::session_driver client(smtp_session);
///     client.write_line("STARTTLS");
///     CHECK(client.read_line() == "220 go ahead");
///     client.upgrade_client([&](coline::connection plain) {
///         return coline::start_tls(std::move(plain), client_tls, "localhost", std::chrono::seconds{5});
///     });
///     client.stop_server();
///     CHECK(client.read_line() == "421 closing"); // then the end, after close_notify
class session_driver {
public:
    /// Starts `handler` on a connection with `options` (the server's by
    /// default); each call then fails after `limit`.
    explicit session_driver(session_handler<> handler, connection_options options = server_options{}.connection,
                            duration limit = default_limit)
        : session_driver(std::move(handler), driver_options{options, {}, limit})
    {
    }

    /// Starts `handler` with both ends set up as `options` say.
    session_driver(session_handler<> handler, driver_options options)
        : handler_(std::move(handler)),
          pair_(std::make_unique<connection_pair>(make_connection_pair(io_, options.server, options.client))),
          client_(std::make_unique<detail::driver_client_on<connection::stream_type>>(pair_->client)),
          limit_(options.limit)
    {
        coline::detail::link_session(coline::detail::core_of(pair_->server), link_);
        coline::spawn(io_, run_handler(), asio::bind_cancellation_slot(cancel_.slot(), [this](std::exception_ptr e) {
                           error_ = e;
                           finished_ = true;
                       }));
    }

    session_driver(const session_driver&) = delete;
    session_driver& operator=(const session_driver&) = delete;

    /// Ends the handler if it still runs: closes both ends, cancels it, and
    /// runs it (for at most the limit) until it has returned.
    ~session_driver()
    {
        link_.close();
        pair_->server.close();
        client_->close();
        cancel_.emit(asio::cancellation_type::terminal);
        finish_within(limit_);
        if (!finished_) {
            // A handler that ignores cancellation still refers to its connection:
            // leak the pair rather than free it under the handler's feet.
            (void)pair_.release();
            link_.detach();
            return;
        }
        io_.restart();
        io_.poll();
    }

    /// The next line the handler wrote, or an empty optional once the handler
    /// has returned and every line it wrote was read. If the handler ended
    /// with an exception, that exception comes out here instead of the end
    /// (and out of `finish()`), so a failing handler cannot pass for one that ended.
    std::optional<std::string> read_line()
    {
        auto line = run(io_, client_->read_line(limit_), limit_ + std::chrono::seconds{1});
        if (line)
            return line;
        end_input(); // the end came: the handler is returning, and need not linger
        finish_within(std::chrono::seconds{1});
        if (error_)
            std::rethrow_exception(error_);
        return std::nullopt;
    }

    /// Sends `text` + "\n" (or the client's newline) to the handler.
    void write_line(std::string_view text) { run(io_, client_->write_line(std::string(text)), limit_); }

    /// Sends bytes as they are: part of a line, several lines, anything.
    void write(std::string_view bytes) { run(io_, client_->write(std::string(bytes)), limit_); }

    /// Ends the client's side of the stream: the handler's `read_line`
    /// returns the end. Over TLS (after `upgrade_client`) that is
    /// close_notify, and it waits for the handler's side to end too.
    void end_input() { run(io_, client_->end_input(limit_), limit_ + std::chrono::seconds{1}); }

    /// Stops the session as `server::stop()` does: `stop_reading()` on the
    /// connection the handler works on, the plain one or what `start_tls`
    /// made of it. (No grace period: the driver's destructor ends what remains.)
    void stop_server() { link_.stop_reading(); }

    /// The client's side of an upgrade (STARTTLS): `upgrade(connection)`
    /// returns a task of the new connection made of the client's (from
    /// `coline::start_tls`), which the driver then reads and writes; the
    /// handler does its own side meanwhile. Rethrows what the upgrade threw.
    template <class Upgrade>
    void upgrade_client(Upgrade upgrade)
    {
        auto upgraded = run(io_, upgrade(std::move(pair_->client)), limit_);
        client_ = std::make_unique<detail::driver_client_on<typename decltype(upgraded)::stream_type>>(
            std::move(upgraded));
    }

    /// Waits until the handler has returned; rethrows what it threw, or
    /// throws `step_timed_out` after the limit.
    void finish()
    {
        finish_within(limit_);
        if (!finished_)
            throw step_timed_out("coline::testing::session_driver::finish: the handler did not return in time");
        if (error_)
            std::rethrow_exception(error_);
    }

    /// Whether the handler has returned (runs nothing).
    bool finished() const noexcept { return finished_; }

    /// The client's end, for anything the calls above do not cover (before
    /// `upgrade_client`; afterwards, a connection moved from).
    connection& client() noexcept { return pair_->client; }
    /// The io_context that runs the handler and the calls.
    asio::io_context& io() noexcept { return io_; }

private:
    void finish_within(duration limit)
    {
        const auto give_up = coline::detail::time_after(limit);
        io_.restart();
        while (!finished_ && io_.run_one_until(give_up) != 0) {
        }
    }

    task<void> run_handler()
    {
        std::exception_ptr error;
        try {
            co_await handler_(pair_->server);
        } catch (...) {
            error = std::current_exception();
        }
        co_await coline::detail::end_session(coline::detail::core_of(pair_->server), !error, linger_);
        if (auto upgraded = link_.close_adoption()) // what the handler made of its connection (start_tls)
            co_await upgraded->end(!error, linger_);
        if (error)
            std::rethrow_exception(error);
    }

    // Destroyed in reverse order: the connections before the io_context they
    // use, and the io_context (with any coroutine frame it still holds)
    // before the handler and the signal those frames refer to.
    session_handler<> handler_;
    asio::cancellation_signal cancel_;
    asio::io_context io_{1};
    std::unique_ptr<connection_pair> pair_; // on the heap, so that it can outlive a handler that never ends
    std::unique_ptr<detail::driver_client> client_; // pair_->client, or what upgrade_client made of it
    coline::detail::session_link link_; // reaches the handler's connection, upgraded or not
    duration limit_;
    duration linger_ = server_options{}.linger_timeout;
    std::exception_ptr error_;
    bool finished_ = false;
};

} // namespace coline::testing

COLINE_SILENCE_FRAME_WARNINGS_END

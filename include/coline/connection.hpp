// The connection: a stream plus the buffers and limits that line I/O needs.
#pragma once

#include <coline/detail/config.hpp>
#include <coline/error.hpp>
#include <coline/detail/deadline.hpp>
#include <coline/detail/line_buffer.hpp>
#include <coline/detail/session_link.hpp>
#include <coline/detail/turn_end.hpp>
#include <coline/task.hpp>
#include <coline/timeout.hpp>
#include <coline/use_task.hpp>

#include <array>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <span>
#include <type_traits>
#include <string>
#include <string_view>
#include <utility>

namespace coline::detail {

// Bytes a stream has decoded but not handed out yet (TLS specialises it).
template <class Stream>
struct decoded_bytes {
    static std::size_t count(Stream&) { return 0; }
};

// Bytes that have arrived and that a read would return without waiting
// (over TLS, the encrypted ones count as they are: a little more).
template <class Stream>
std::size_t bytes_arrived(Stream& stream)
{
    error_code ec;
    std::size_t n = decoded_bytes<Stream>::count(stream);
    if constexpr (requires { stream.available(ec); })
        n += stream.available(ec);
    else if constexpr (requires { stream.lowest_layer().available(ec); })
        n += stream.lowest_layer().available(ec);
    return ec ? 0 : n;
}

} // namespace coline::detail

namespace coline {

/// The end of a line: what `write_line` appends, and what `read_line` saw.
enum class line_ending {
    lf,   ///< "\n", as Unix tools and the tutorial's protocol write it
    crlf, ///< "\r\n", as memcached, Redis, SMTP and HTTP require
};

/// Limits that apply to one connection. Change them any time through
/// `connection::options()`; the next operation uses the new values.
struct connection_options {
    /// Longest line `read_line` accepts, not counting "\n" or "\r\n". Also
    /// bounds the input buffer: it never grows past this plus 2 bytes (or 4 KiB,
    /// whichever is larger).
    std::size_t max_line_length = 64 * 1024;
    /// Most bytes `read_exactly` returns in one view. It bounds the input
    /// buffer too: asking for more is error::block_too_large, never an
    /// allocation of what the peer announced. Read larger payloads in pieces
    /// with `read_some`.
    std::size_t max_block_size = 64 * 1024;
    /// What `write_line` appends to each line. `read_line` accepts both.
    line_ending newline = line_ending::lf;
    /// Default time limit of each `read_line` (from its call until a whole line arrived).
    duration read_timeout = no_timeout;
    /// Default time limit of a request made of several reads, between
    /// `begin_request()` and `end_request()` (see there).
    duration request_timeout = no_timeout;
    /// Default time limit of each `write_line` (until the kernel took the whole line).
    duration write_timeout = no_timeout;
    /// Everything written while handling one request leaves in one send, and
    /// so do the answers to pipelined requests: while no read waits for
    /// input, `write_line` and `write` keep what they write in the output
    /// buffer (at most 64 KiB; a write past that sends first). The kept bytes
    /// go out with the next read, before it waits for input or reports the
    /// end or an error; when the session waits for something else (its turn
    /// on the executor ends); or when the connection is destroyed (see
    /// `basic_connection::~basic_connection`). Writes made while a read waits
    /// (from another coroutine) are sent at once. Turn it off to have each
    /// write awaited until the kernel took it, and for a connection on an
    /// io_context run by several threads without a strand: the send at the
    /// turn's end is a handler of its own on the connection's executor.
    bool coalesce_writes = true;
};

namespace detail {
struct connection_access;
}

/// A stream that speaks lines: it owns the stream (usually a TCP socket), the
/// buffer of received bytes that are not yet lines, and the output buffer.
///
/// Use it with `read_line` and `write_line`: one `read_line` at a time, and
/// any number of writers, which take turns (so a reader coroutine and writer
/// coroutines can share it). Use it from one thread at a time, like an Asio
/// socket, and do not move it while an operation on it is in progress.
///
///     coline::connection conn = co_await coline::accept(acceptor);
///     conn.options().read_timeout = std::chrono::seconds{30};
///
/// `Stream` is any Asio stream with `async_read_some`, `async_write_some`,
/// `get_executor` and `lowest_layer`; see `connection`, `local_connection`
/// and `tls_connection`.
template <class Stream>
class basic_connection {
public:
    /// The stream the connection owns.
    using stream_type = Stream;
    /// The executor its operations run on.
    using executor_type = typename Stream::executor_type;

    /// Takes over a stream that is already connected.
    explicit basic_connection(Stream stream, connection_options options = {})
        : stream_(std::move(stream)),
          options_(options),
          read_deadline_(stream_.get_executor()),
          write_deadline_(stream_.get_executor())
    {
    }

    /// Moves the stream, the buffers and the limits (not while an operation is in progress).
    basic_connection(basic_connection&& other) noexcept;
    /// Moves the stream, the buffers and the limits (not while an operation
    /// is in progress). What this connection kept goes out first, as in the destructor.
    basic_connection& operator=(basic_connection&& other) noexcept;

    /// Closes the stream. Bytes that writes kept (`coalesce_writes`) are not
    /// lost: they go out first, and when the peer has not ended its side, the
    /// close waits for it to (dropping what it sends) so that it can read
    /// them. What the socket takes at once is sent here; the rest, and that
    /// wait, are finished by a coroutine on the connection's executor, each
    /// within `write_timeout` (10 seconds when it has none). When the peer is
    /// gone, the kept bytes are dropped: nobody is left to tell.
    ~basic_connection();

    /// The underlying stream, for socket options, endpoints and the like.
    /// Bytes that writes kept (`coalesce_writes`) are not in it yet: `co_await
    /// flush(conn)` before a shutdown, or anything else that ends or hands over the stream.
    Stream& stream() noexcept { return stream_; }
    /// The underlying stream.
    const Stream& stream() const noexcept { return stream_; }

    /// The stream's executor.
    executor_type get_executor() noexcept { return stream_.get_executor(); }

    /// The connection's limits; changes apply from the next operation on.
    connection_options& options() noexcept { return options_; }
    /// The connection's limits.
    const connection_options& options() const noexcept { return options_; }

    /// Bytes received but not yet returned by `read_line`: the start of the
    /// next line, or after error::partial_line, the unterminated last line.
    std::string_view buffered() const noexcept { return input_.unread(); }

    /// Whether the peer ended the stream (a read returned the end, or error::partial_line).
    bool at_end() const noexcept { return input_.at_end(); }

    /// How the last line `read_line` returned ended: "\r\n" or a bare "\n".
    /// A protocol that requires "\r\n" checks it here.
    line_ending last_line_ending() const noexcept { return input_.last_line_crlf() ? line_ending::crlf : line_ending::lf; }

    /// Ends the input gracefully, as a server does when it shuts down:
    /// `read_line` still returns the lines that had arrived when it was
    /// called (bytes that had reached the socket included), waits for the
    /// rest of the last of them if it had begun, then returns the end of the
    /// stream without waiting for the peer to end it. Lines sent later are not
    /// read, so a peer that keeps sending cannot keep the connection open.
    /// A `read_line` waiting with nothing begun returns the end at once.
    /// `read_exactly` and `read_some` still read a block of which some bytes
    /// have arrived. Writing is not affected.
    void stop_reading() noexcept
    {
        if (!reading_stopped_)
            stop_point_ = input_.received_total() + detail::bytes_arrived(stream_);
        reading_stopped_ = true;
        if (reading_ && input_.unread().empty()) {
            read_cancelled_by_stop_ = true;
            read_deadline_.cancel();
        }
    }

    /// Whether stop_reading() was called.
    bool reading_stopped() const noexcept { return reading_stopped_; }

    /// A time limit for a whole request made of several reads (a RESP
    /// command's bulk strings, a memcached value after its command, a long
    /// line read in pieces), which each read's own limit cannot give: a peer
    /// that dribbles one line every minute never breaks a `read_timeout` of
    /// five. Until `end_request()`, every read also ends with error::timeout
    /// once `options().request_timeout` (or `limit`) has passed since the
    /// first of them that had to wait; reads that the buffer serves at once
    /// are not timed, so a request that arrived whole costs no clock reading.
    /// Calling it while a request is under way changes nothing.
    ///
    ///     auto header = co_await coline::read_line(conn); // read_timeout: the idle limit
    ///     conn.begin_request();                           // the rest of this request, in all
    ///     auto value = co_await coline::read_exactly(conn, length);
    ///     conn.end_request();
    void begin_request() noexcept { begin_request(options_.request_timeout); }
    /// `begin_request` with a time limit of its own for this request.
    void begin_request(duration limit) noexcept
    {
        if (!request_begun_) {
            request_begun_ = true;
            request_limit_ = limit;
            request_due_ = no_due_time;
        }
    }
    /// Ends the request's time limit: the next reads have only their own.
    void end_request() noexcept { request_begun_ = false; }

    /// Closes the stream at once; operations in progress end with
    /// `asio::error::operation_aborted`. Closing twice is harmless.
    void close() noexcept
    {
        error_code ignored;
        stream_.lowest_layer().close(ignored);
    }

private:
    friend struct detail::connection_access;

    // What moves besides the stream, the options and the deadlines.
    void take_state(basic_connection& other) noexcept;

    Stream stream_;
    connection_options options_;
    detail::line_buffer input_;
    std::string output_;  // bytes written and not sent yet
    std::string sending_; // what the write in progress hands to the kernel (before a large write's own bytes)
    detail::deadline<executor_type> read_deadline_;
    detail::deadline<executor_type> write_deadline_;
    // Never expires: writers wait on it for their turn, the write in progress
    // cancels it when done. Made when a writer first has to wait.
    using turn_timer = asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>,
                                                  executor_type>;
    std::unique_ptr<turn_timer> write_turn_;
    bool reading_ = false; // a read is waiting for input
    bool read_claimed_ = false; // a read that could not finish at once is under way (one at a time)
    // begin_request(): the limit, and its due time once a read had to wait.
    static constexpr auto no_due_time = std::chrono::steady_clock::time_point::min();
    bool request_begun_ = false;
    duration request_limit_ = no_timeout;
    std::chrono::steady_clock::time_point request_due_ = no_due_time;
    // The server's session this connection is in the care of, if any (see detail/session_link.hpp).
    detail::session_link* link_ = nullptr;
    bool received_since_yield_ = false; // bytes came without a wait since the executor last ran others
    std::size_t output_hint_ = 0;       // the output buffer's size before the last release
    bool writing_ = false; // sending_ is being written
    bool reading_stopped_ = false;
    std::uint64_t stop_point_ = 0; // with reading_stopped_: the stream's bytes that had arrived then
    bool read_cancelled_by_stop_ = false; // the abort the read sees is stop_reading()'s
    error_code write_failed_;        // once a write failed, every later one fails alike
    bool send_failure_unreported_ = false; // write_failed_ comes from a send at the turn's end
    // The send at the end of the turn (see send_at_turn_end): its place in
    // the io_context's queue, or a post of its own on other executors, and
    // a way for a pending wait to see that the connection is gone. Not moved:
    // queued work keeps the address it was queued for, which a move leaves empty.
    struct posted_send {
        detail::turn_end_node node;
        detail::turn_end_service* queue = nullptr; // found at the first bytes kept
        bool posted = false;         // (executors other than an io_context's)
        bool waiting = false;        // for the socket to take the rest
        std::shared_ptr<bool> alive; // made at the first bytes kept
        posted_send() = default;
        posted_send(posted_send&&) noexcept {}
        posted_send& operator=(posted_send&&) noexcept
        {
            leave_queue();
            posted = waiting = false;
            alive.reset();
            return *this;
        }
        ~posted_send() { leave_queue(); }
        void leave_queue() noexcept
        {
            if (queue)
                queue->remove(node);
        }
    } posted_send_;
};

/// A stream protocol of Asio's: one whose sockets are
/// `asio::basic_stream_socket`s (`asio::ip::tcp`,
/// `asio::local::stream_protocol`). UDP and other datagram protocols are not.
template <class Protocol>
concept stream_protocol = requires {
    typename Protocol::endpoint;
    typename Protocol::socket;
} && std::same_as<typename Protocol::socket, asio::basic_stream_socket<Protocol>>;

/// An endpoint of a stream protocol: what `connect` and the servers take.
/// `asio::ip::udp::endpoint` is rejected at compile time.
template <class Endpoint>
concept stream_endpoint = requires { typename Endpoint::protocol_type; } && stream_protocol<typename Endpoint::protocol_type>;

/// A connection over a socket of `Protocol`: what `accept` returns for an
/// acceptor of that protocol, and `connect` for an endpoint of it.
template <stream_protocol Protocol, class Executor = asio::any_io_executor>
using socket_connection = basic_connection<asio::basic_stream_socket<Protocol, Executor>>;

/// A connection over TCP.
using connection = socket_connection<asio::ip::tcp>;

#if defined(COLINE_HAS_LOCAL_SOCKETS)
/// A connection over a Unix domain socket (`asio::local::stream_protocol`).
using local_connection = socket_connection<asio::local::stream_protocol>;
#endif

namespace detail {

// Line protocols exchange small messages: do not let Nagle hold them back.
template <class Socket>
void tune_for_lines(Socket& socket)
{
    if constexpr (std::is_same_v<typename Socket::protocol_type, asio::ip::tcp>) {
        error_code ignored;
        socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    }
}

// Lets read_line and write_line reach a connection's buffers; not for users.
struct connection_access {
    template <class Stream>
    static Stream& stream(basic_connection<Stream>& c) noexcept { return c.stream_; }
    template <class Stream>
    static line_buffer& input(basic_connection<Stream>& c) noexcept { return c.input_; }
    template <class Stream>
    static std::string& output(basic_connection<Stream>& c) noexcept { return c.output_; }
    template <class Stream>
    static auto& read_deadline(basic_connection<Stream>& c) noexcept { return c.read_deadline_; }
    template <class Stream>
    static auto& write_deadline(basic_connection<Stream>& c) noexcept { return c.write_deadline_; }
    template <class Stream>
    static bool& reading(basic_connection<Stream>& c) noexcept { return c.reading_; }
    template <class Stream>
    static bool& received_since_yield(basic_connection<Stream>& c) noexcept { return c.received_since_yield_; }
    template <class Stream>
    static bool& read_claimed(basic_connection<Stream>& c) noexcept { return c.read_claimed_; }
    template <class Stream>
    static session_link*& link(basic_connection<Stream>& c) noexcept { return c.link_; }
    /// When the request under way (begin_request) must be read by: its clock
    /// starts at the first read that waits. The latest time point without one.
    template <class Stream>
    static std::chrono::steady_clock::time_point request_due(basic_connection<Stream>& c)
    {
        if (!c.request_begun_ || c.request_limit_ == no_timeout)
            return std::chrono::steady_clock::time_point::max();
        if (c.request_due_ == c.no_due_time)
            c.request_due_ = time_after(c.request_limit_);
        return c.request_due_;
    }
    /// Nothing more is sent on the connection: every later write fails with `ec`.
    template <class Stream>
    static void fail_writes(basic_connection<Stream>& c, error_code ec) noexcept
    {
        c.write_failed_ = ec;
        c.output_.clear();
    }
    /// The output buffer, at the size the last burst needed when it starts empty.
    template <class Stream>
    static std::string& output_to_fill(basic_connection<Stream>& c)
    {
        if (c.output_.empty() && c.output_.capacity() < c.output_hint_)
            c.output_.reserve(c.output_hint_);
        return c.output_;
    }
    template <class Stream>
    static bool writing(basic_connection<Stream>& c) noexcept { return c.writing_; }
    template <class Stream>
    static auto& write_turn(basic_connection<Stream>& c)
    {
        if (!c.write_turn_)
            c.write_turn_ = std::make_unique<typename basic_connection<Stream>::turn_timer>(
                c.stream_.get_executor(), std::chrono::steady_clock::time_point::max());
        return *c.write_turn_;
    }

    /// The most bytes a connection keeps in its output buffer (coalesce_writes).
    static constexpr std::size_t most_kept = 64 * 1024;
    /// How long a destroyed connection's kept bytes may take to leave, and
    /// the peer to end its side, when it has no write_timeout.
    static constexpr duration closing_limit = std::chrono::seconds{10};

    /// The destructor's part (in <coline/detail/closing.hpp>).
    template <class Stream>
    static void send_kept_at_close(basic_connection<Stream>& c) noexcept;

    /// Sends what the socket takes of the kept bytes now, without waiting;
    /// false if the send failed (the bytes are dropped and the failure
    /// recorded for the next operation to report).
    template <class Stream>
    static bool send_now(basic_connection<Stream>& c) noexcept
    {
#if defined(MSG_NOSIGNAL)
        constexpr int flags = MSG_DONTWAIT | MSG_NOSIGNAL; // a peer gone is an error, not a SIGPIPE
#else
        constexpr int flags = MSG_DONTWAIT;
#endif
        const auto sent = ::send(c.stream_.native_handle(), c.output_.data(), c.output_.size(), flags);
        if (sent >= 0)
            c.output_.erase(0, static_cast<std::size_t>(sent));
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            c.write_failed_ = error_code(errno, asio::error::get_system_category());
            c.output_.clear();
            c.send_failure_unreported_ = true;
            return false;
        }
        return true;
    }

    /// Receives what has arrived, without waiting, into the input buffer
    /// (room for `block` bytes, see line_buffer::prepare). Returns the bytes
    /// received; 0 with `ec` set: asio::error::eof at the end of the stream,
    /// asio::error::would_block when nothing has arrived, or the socket's error.
    template <class Stream>
    static std::size_t receive_now(basic_connection<Stream>& c, std::size_t block, error_code& ec) noexcept
    {
        const std::span<char> space = c.input_.prepare(c.options_.max_line_length, block);
        const auto n = ::recv(c.stream_.native_handle(), space.data(), space.size(), MSG_DONTWAIT);
        if (n > 0) {
            c.input_.commit(static_cast<std::size_t>(n));
            return static_cast<std::size_t>(n);
        }
        if (n == 0)
            ec = asio::error::eof;
        else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            ec = asio::error::would_block;
        else
            ec = error_code(errno, asio::error::get_system_category());
        return 0;
    }

    /// The connection waits for input: buffers with nothing in them go back
    /// (the input buffer to the pool; output buffers grown past 1 KiB by a
    /// burst are freed), so an idle connection holds no buffer of its own.
    template <class Stream>
    static void release_idle_buffers(basic_connection<Stream>& c) noexcept
    {
        c.input_.release();
        constexpr std::size_t small = 1024;
        if (c.output_.empty() && c.output_.capacity() > small) {
            c.output_hint_ = c.output_.capacity() / 2; // the next burst grows once at most; smaller ones shrink it
            std::string().swap(c.output_);
        }
        if (!c.writing_ && c.sending_.capacity() > small)
            std::string().swap(c.sending_);
    }

    /// Whether the peer sent bytes that nobody read (a close now would reset the stream).
    template <class Stream>
    static bool input_waiting(basic_connection<Stream>& c) noexcept
    {
        error_code ec;
        return c.stream_.available(ec) > 0 && !ec;
    }

    /// Whether kept bytes can go out when the turn ends (send_at_turn_end):
    /// a socket whose descriptor takes a send that never blocks.
    template <class Stream>
    static constexpr bool sends_at_turn_end = [] {
#if defined(COLINE_WINDOWS) || defined(__CYGWIN__)
        return false;
#else
        if constexpr (requires { typename Stream::protocol_type; })
            return std::is_same_v<Stream, asio::basic_stream_socket<typename Stream::protocol_type,
                                                                    typename Stream::executor_type>>;
        else
            return false;
#endif
    }();

    /// Whether a write may keep its bytes for the next read to send: while
    /// no read waits for input (on a socket that sends them when the turn
    /// ends), or one will not have to (the next request is buffered whole).
    template <class Stream>
    static bool may_keep_output(basic_connection<Stream>& c) noexcept
    {
        if (!c.options_.coalesce_writes || c.output_.size() >= most_kept)
            return false;
        if constexpr (sends_at_turn_end<Stream>)
            return !c.reading_ || c.input_.has_line();
        else
            return c.input_.has_line();
    }

    /// Bytes were kept in the output buffer: unless a read or write sends
    /// them first, they go out once the coroutines running now are suspended
    /// (the executor's turn ends), so a session that waits for something
    /// else than its peer does not hold them back. That send never blocks:
    /// what the socket does not take at once goes when it is writable again.
    /// A failed send is reported by the next read or write.
    template <class Stream>
    static void send_at_turn_end(basic_connection<Stream>& c)
    {
        if constexpr (sends_at_turn_end<Stream>) {
            auto& posted = c.posted_send_;
            if (posted.node.queued || posted.posted)
                return; // once per turn (read without the queue's lock: the connection's thread queued it)
            if (!posted.alive)
                posted.alive = std::make_shared<bool>(true);
            const auto executor = c.get_executor();
            if (posted.queue == nullptr && on_io_context(executor))
                posted.queue = &asio::use_service<turn_end_service>(asio::query(executor, asio::execution::context));
            if (posted.queue != nullptr) {
                // One post per turn for all the connections of the io_context.
                posted.node.owner = &c;
                posted.node.run = [](turn_end_node& node) {
                    send_kept_when_writable(*static_cast<basic_connection<Stream>*>(node.owner));
                };
                posted.queue->add(posted.node, executor);
                return;
            }
            posted.posted = true;
            asio::post(executor, [&c, alive = std::weak_ptr<bool>(posted.alive)] {
                if (alive.expired())
                    return; // the connection is gone
                c.posted_send_.posted = false;
                send_kept_when_writable(c);
            });
        }
    }

    // Whether `executor` is an io_context's own (not a strand, not another kind of context).
    template <class Executor>
    static bool on_io_context(const Executor& executor) noexcept
    {
        if constexpr (std::is_same_v<Executor, asio::io_context::executor_type>)
            return true;
        else if constexpr (requires { executor.template target<asio::io_context::executor_type>(); })
            return executor.template target<asio::io_context::executor_type>() != nullptr;
        else
            return false;
    }

    // Sends what the socket takes of the kept bytes now, and the rest each
    // time it is writable again, unless a send in progress takes them (see flush_op).
    template <class Stream>
    static void send_kept_when_writable(basic_connection<Stream>& c)
    {
        if (c.output_.empty() || c.writing_ || c.write_failed_ || !c.stream_.is_open())
            return;
        if (!send_now(c) || c.output_.empty() || c.posted_send_.waiting)
            return;
        c.posted_send_.waiting = true;
        c.stream_.async_wait(asio::socket_base::wait_write,
                             [&c, alive = std::weak_ptr<bool>(c.posted_send_.alive)](error_code) {
                                 if (alive.expired())
                                     return; // the connection is gone
                                 c.posted_send_.waiting = false;
                                 send_kept_when_writable(c);
                             });
    }

    /// A send at the turn's end failed and no operation reported it yet (and forgets it).
    template <class Stream>
    static bool take_unreported_send_failure(basic_connection<Stream>& c) noexcept
    {
        return std::exchange(c.send_failure_unreported_, false);
    }

    /// Starts writing the output buffer, then `tail` (a large write's own
    /// bytes, sent from where they are, in the same system call when they
    /// fit); await the result, then call finish_sending. Bytes written
    /// meanwhile go to a fresh output buffer, never into the bytes in flight.
    template <class Stream>
    static auto start_sending(basic_connection<Stream>& c, duration timeout, asio::cancellation_slot parent,
                              error_code& ec, std::string_view tail = {})
    {
        c.writing_ = true;
        std::swap(c.output_, c.sending_);
        c.write_deadline_.start(timeout);
        auto token = use_task_bound{&ec, c.write_deadline_.slot(parent)};
        // All of it in each call, not Asio's default of 64 KiB: a large reply in as few system calls as the kernel allows.
        auto everything = [](const error_code& error, std::size_t) -> std::size_t {
            return error ? 0 : std::numeric_limits<std::size_t>::max();
        };
        const std::array<asio::const_buffer, 2> buffers{asio::buffer(c.sending_), asio::buffer(tail)};
        return asio::async_write(c.stream_, buffers, everything, token);
    }

    template <class Stream>
    static void finish_sending(basic_connection<Stream>& c, error_code& ec)
    {
        if (c.write_deadline_.stop() && ec == asio::error::operation_aborted)
            ec = error::timeout;
        c.sending_.clear();
        if (ec) {
            // Nobody knows how much the peer got: send nothing more, and tell
            // every writer whose line was waiting.
            c.write_failed_ = ec;
            c.output_.clear();
        }
        c.writing_ = false;
        if (c.write_turn_)
            c.write_turn_->cancel(); // wakes writers waiting for their turn
    }

    template <class Stream>
    static error_code write_failed(basic_connection<Stream>& c) noexcept { return c.write_failed_; }

    // The send never started (Asio threw at the co_await): the lines go back, unsent.
    template <class Stream>
    static void abandon_sending(basic_connection<Stream>& c)
    {
        c.write_deadline_.stop();
        c.output_.insert(0, c.sending_);
        c.sending_.clear();
        c.writing_ = false;
        if (c.write_turn_)
            c.write_turn_->cancel();
    }

    /// After stop_reading(): whether every line that had arrived then was
    /// taken, and no line is half taken (read_line_part): the next line read returns the end.
    template <class Stream>
    static bool past_stop_point(const basic_connection<Stream>& c) noexcept
    {
        return c.reading_stopped_ && c.input_.taken_total() >= c.stop_point_ && !c.input_.line_open();
    }

    /// Whether the read just aborted was cancelled by stop_reading() (and forgets it).
    template <class Stream>
    static bool take_stop_cancel(basic_connection<Stream>& c) noexcept
    {
        return std::exchange(c.read_cancelled_by_stop_, false);
    }
};

/// Sends a connection's output buffer: `co_await send.start(...)`; the
/// destructor finishes the send whatever happened, so the connection is never
/// left looking busy. Results land in `ec`.
template <class Stream>
class output_send {
public:
    output_send(basic_connection<Stream>& conn, error_code& ec)
        : conn_(conn), ec_(ec), exceptions_(std::uncaught_exceptions())
    {
    }
    output_send(const output_send&) = delete;
    output_send& operator=(const output_send&) = delete;
    ~output_send()
    {
        if (std::uncaught_exceptions() > exceptions_)
            connection_access::abandon_sending(conn_);
        else
            connection_access::finish_sending(conn_, ec_);
    }

    auto start(duration timeout, asio::cancellation_slot parent, std::string_view tail = {})
    {
        return connection_access::start_sending(conn_, timeout, parent, ec_, tail);
    }

private:
    basic_connection<Stream>& conn_;
    error_code& ec_;
    int exceptions_;
};

} // namespace detail

template <class Stream>
basic_connection<Stream>::basic_connection(basic_connection&& other) noexcept
    : stream_(std::move(other.stream_)),
      options_(other.options_),
      read_deadline_(std::move(other.read_deadline_)),
      write_deadline_(std::move(other.write_deadline_))
{
    take_state(other);
}

template <class Stream>
basic_connection<Stream>& basic_connection<Stream>::operator=(basic_connection&& other) noexcept
{
    if (this == &other)
        return *this;
    if (link_ != nullptr)
        std::exchange(link_, nullptr)->gone(this);
    detail::connection_access::send_kept_at_close(*this);
    stream_ = std::move(other.stream_);
    options_ = other.options_;
    read_deadline_ = std::move(other.read_deadline_);
    write_deadline_ = std::move(other.write_deadline_);
    posted_send_ = std::move(other.posted_send_);
    take_state(other);
    return *this;
}

template <class Stream>
void basic_connection<Stream>::take_state(basic_connection& other) noexcept
{
    input_ = std::move(other.input_);
    output_ = std::exchange(other.output_, {});
    sending_ = std::exchange(other.sending_, {});
    write_turn_ = std::move(other.write_turn_);
    reading_ = std::exchange(other.reading_, false);
    read_claimed_ = std::exchange(other.read_claimed_, false);
    request_begun_ = std::exchange(other.request_begun_, false);
    request_limit_ = other.request_limit_;
    request_due_ = other.request_due_;
    received_since_yield_ = std::exchange(other.received_since_yield_, false);
    output_hint_ = std::exchange(other.output_hint_, 0);
    writing_ = std::exchange(other.writing_, false);
    reading_stopped_ = std::exchange(other.reading_stopped_, false);
    stop_point_ = std::exchange(other.stop_point_, 0);
    read_cancelled_by_stop_ = std::exchange(other.read_cancelled_by_stop_, false);
    write_failed_ = std::exchange(other.write_failed_, {});
    send_failure_unreported_ = std::exchange(other.send_failure_unreported_, false);
    if ((link_ = std::exchange(other.link_, nullptr)))
        link_->moved(&other, this);
}

template <class Stream>
basic_connection<Stream>::~basic_connection()
{
    if (link_ != nullptr) {
        // A connection the handler made of its server's (start_tls): the
        // server ends it as it ends its own, once the handler has returned.
        if (link_->adopting() && link_->hand_over(this))
            return; // (what is left here is moved from)
        std::exchange(link_, nullptr)->gone(this);
    }
    detail::connection_access::send_kept_at_close(*this);
}

} // namespace coline

#include <coline/detail/closing.hpp>

// Internal: what a connection is made of. The stream, its two halves (the
// input, detail/line_input.hpp; the output, detail/output_queue.hpp), one
// time limit per direction, and the server's link. `basic_connection` is the
// public face of it; the operations work on it directly.
#pragma once

#include <coline/connection_options.hpp>
#include <coline/detail/config.hpp>
#include <coline/detail/deadline.hpp>
#include <coline/detail/line_input.hpp>
#include <coline/detail/output_queue.hpp>
#include <coline/detail/session_link.hpp>
#include <coline/detail/socket_calls.hpp>
#include <coline/detail/task_context.hpp>
#include <coline/detail/turn_end.hpp>
#include <coline/error.hpp>
#include <coline/timeout.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <type_traits>
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

// Line protocols exchange small messages: do not let Nagle hold them back.
template <class Socket>
void tune_for_lines(Socket& socket)
{
    if constexpr (std::is_same_v<typename Socket::protocol_type, asio::ip::tcp>) {
        error_code ignored;
        socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    }
}

// Whether `executor` is an io_context's own (not a strand, not another kind of context).
template <class Executor>
bool on_io_context(const Executor& executor) noexcept
{
    if constexpr (std::is_same_v<Executor, asio::io_context::executor_type>)
        return true;
    else if constexpr (requires { executor.template target<asio::io_context::executor_type>(); })
        return executor.template target<asio::io_context::executor_type>() != nullptr;
    else
        return false;
}

template <class Stream>
class connection_core {
public:
    using executor_type = typename Stream::executor_type;

    /// A socket whose descriptor takes a send or a receive that never waits
    /// (detail/socket_calls.hpp): a plain stream socket, not TLS.
    static constexpr bool direct_calls = [] {
#if defined(COLINE_WINDOWS) || defined(__CYGWIN__)
        return false;
#else
        if constexpr (requires { typename Stream::protocol_type; })
            return std::is_same_v<Stream, asio::basic_stream_socket<typename Stream::protocol_type, executor_type>>;
        else
            return false;
#endif
    }();
    /// How long a destroyed connection's kept bytes may take to leave, and
    /// the peer to end its side, when it has no write_timeout.
    static constexpr duration closing_limit = std::chrono::seconds{10};

    Stream stream;
    connection_options options;
    line_input input;
    output_queue output;
    deadline<executor_type> read_deadline;
    deadline<executor_type> write_deadline;
    session_link* link = nullptr; // the server's session in whose care it is (detail/session_link.hpp)

    connection_core(Stream s, connection_options o)
        : stream(std::move(s)), options(o), read_deadline(stream.get_executor()), write_deadline(stream.get_executor())
    {
    }
    connection_core(connection_core&& other) noexcept
        : stream(std::move(other.stream)),
          options(other.options),
          input(std::move(other.input)),
          output(std::move(other.output)),
          read_deadline(std::move(other.read_deadline)),
          write_deadline(std::move(other.write_deadline)),
          write_turn_(std::move(other.write_turn_))
    {
        take_link(other);
    }
    connection_core& operator=(connection_core&& other) noexcept
    {
        if (this == &other)
            return *this;
        leave_link();
        send_kept_at_close();
        stream = std::move(other.stream);
        options = other.options;
        input = std::move(other.input);
        output = std::move(other.output);
        read_deadline = std::move(other.read_deadline);
        write_deadline = std::move(other.write_deadline);
        write_turn_ = std::move(other.write_turn_);
        posted_.reset();
        take_link(other);
        return *this;
    }
    ~connection_core()
    {
        // A connection the handler made of its server's (start_tls): the
        // server ends it as it ends its own, once the handler has returned.
        if (link != nullptr && link->adopting() && link->hand_over(this))
            return; // (what is left here is moved from)
        leave_link();
        send_kept_at_close();
    }

    executor_type get_executor() noexcept { return stream.get_executor(); }

    void close() noexcept
    {
        error_code ignored;
        stream.lowest_layer().close(ignored);
    }

    void stop_reading() noexcept
    {
        if (input.stop(bytes_arrived(stream)))
            read_deadline.cancel();
    }

    // (direct_calls only)
    bool send_now() noexcept { return detail::send_now(stream.native_handle(), output); }
    std::size_t receive_now(std::size_t block, error_code& ec) noexcept
    {
        return detail::receive_now(stream.native_handle(), input.buffer(), options.max_line_length, block, ec);
    }

    /// The connection waits for input: buffers with nothing in them go back
    /// (the input buffer to the pool; output buffers grown by a burst are
    /// freed), so an idle connection holds no buffer of its own.
    void release_idle_buffers() noexcept
    {
        input.buffer().release();
        output.release_idle();
    }

    /// Whether the peer sent bytes that nobody read (a close now would reset the stream).
    bool input_waiting() noexcept
    {
        error_code ec;
        return stream.lowest_layer().available(ec) > 0 && !ec;
    }

    /// Whether a write may keep its bytes for the next read to send: while
    /// no read waits for input (on a socket, which sends them when the turn
    /// ends), or one will not have to (the next request is buffered whole).
    bool may_keep_output() noexcept
    {
        if (!options.coalesce_writes || output.size() >= output_queue::most_kept)
            return false;
        if constexpr (direct_calls)
            return !input.waiting() || input.buffer().has_line();
        else
            return input.buffer().has_line();
    }

    // Writers wait on it for their turn; the send in progress wakes them when done.
    using turn_timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                                  asio::wait_traits<std::chrono::steady_clock>, executor_type>;
    turn_timer& write_turn()
    {
        if (!write_turn_) // made when a writer first has to wait; it never expires
            write_turn_ = std::make_unique<turn_timer>(stream.get_executor(), std::chrono::steady_clock::time_point::max());
        return *write_turn_;
    }
    void wake_writers()
    {
        if (write_turn_)
            write_turn_->cancel();
    }

    /// Bytes were kept in the output queue: unless a read or write sends
    /// them first, they go out once the coroutines running now are suspended
    /// (the executor's turn ends), so a session that waits for something
    /// else than its peer does not hold them back. That send never blocks:
    /// what the socket does not take at once goes when it is writable again.
    /// A failed send is reported by the next read or write.
    void send_at_turn_end()
    {
        if constexpr (direct_calls) {
            if (posted_.node.queued || posted_.posted)
                return; // once per turn (read without the queue's lock: the connection's thread queued it)
            if (!posted_.alive)
                posted_.alive = std::make_shared<bool>(true);
            posted_.node.owner = this;
            posted_.node.run = [](turn_end_node& node) noexcept {
                try {
                    static_cast<connection_core*>(node.owner)->send_kept_when_writable();
                } catch (...) { // (no memory for the wait): the next read or write sends the bytes
                }
            };
            if (running_chain != nullptr) {
                // Written from a coroutine of coline's: sent when it suspends,
                // unless the read it suspends in sends them first.
                chain_end_queue::add(posted_.node);
                return;
            }
            const auto executor = get_executor();
            if (posted_.queue == nullptr && on_io_context(executor))
                posted_.queue = &asio::use_service<turn_end_service>(asio::query(executor, asio::execution::context));
            if (posted_.queue != nullptr) {
                // One post per turn for all the connections of the io_context.
                posted_.queue->add(posted_.node, executor);
                return;
            }
            posted_.posted = true;
            asio::post(executor, [this, alive = std::weak_ptr<bool>(posted_.alive)] {
                if (alive.expired())
                    return; // the connection is gone
                posted_.posted = false;
                send_kept_when_writable();
            });
        }
    }

private:
    // Sends what the socket takes of the kept bytes now, and the rest each
    // time it is writable again, unless a send in progress takes them.
    void send_kept_when_writable()
    {
        if (output.empty() || output.sending() || output.failed() || !stream.is_open())
            return;
        if (!send_now() || output.empty() || posted_.waiting)
            return;
        posted_.waiting = true;
        stream.async_wait(asio::socket_base::wait_write, [this, alive = std::weak_ptr<bool>(posted_.alive)](error_code) {
            if (alive.expired())
                return; // the connection is gone
            posted_.waiting = false;
            send_kept_when_writable();
        });
    }

    // What the destructor and the move assignment do with kept bytes (in <coline/detail/closing.hpp>).
    void send_kept_at_close() noexcept;

    void take_link(connection_core& other) noexcept
    {
        if ((link = std::exchange(other.link, nullptr)))
            link->moved(&other, this);
    }
    void leave_link() noexcept
    {
        if (link != nullptr)
            std::exchange(link, nullptr)->gone(this);
    }

    std::unique_ptr<turn_timer> write_turn_;
    // The send at the end of the turn (send_at_turn_end): its place in the
    // io_context's queue, or a post of its own on other executors, and a way
    // for a pending wait to see that the connection is gone. Not moved:
    // queued work keeps the address it was queued for, which a move leaves empty.
    struct posted_send {
        turn_end_node node;
        turn_end_service* queue = nullptr; // found at the first bytes kept
        bool posted = false;               // (executors other than an io_context's)
        bool waiting = false;              // for the socket to take the rest
        std::shared_ptr<bool> alive;       // made at the first bytes kept
        posted_send() = default;
        posted_send(const posted_send&) = delete;
        posted_send& operator=(const posted_send&) = delete;
        ~posted_send() { leave_queue(); }
        void reset() noexcept
        {
            leave_queue();
            queue = nullptr; // (the stream moved in may be on another io_context)
            posted = waiting = false;
            alive.reset();
        }
        void leave_queue() noexcept
        {
            if (node.at_chain_end)
                chain_end_queue::remove(node);
            else if (queue)
                queue->remove(node);
        }
    };
    posted_send posted_;
};

} // namespace coline::detail

#include <coline/detail/closing.hpp>

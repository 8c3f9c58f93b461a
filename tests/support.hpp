// Helpers shared by coline's tests: running a coroutine with a deadline,
// loopback sockets, and an in-memory stream that delivers scripted chunks.
#pragma once

#include <coline/coline.hpp>
#include <coline/testing.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <poll.h>

namespace test {

using namespace std::chrono_literals;
using asio::ip::tcp;

/// Runs `task` on `io` until it finishes and returns its result; rethrows
/// what it threw, and throws error::timeout if it runs longer than `limit`.
template <class Awaitable>
decltype(auto) run(asio::io_context& io, Awaitable work, std::chrono::steady_clock::duration limit = 10s)
{
    return coline::testing::run(io, std::move(work), limit);
}

/// What `co_await operation` gives when the operation completes without
/// suspending (its await_ready() is true: the buffer could serve it), or an
/// empty optional when it would have to suspend (it is then dropped, not
/// awaited). A void result is `true`.
template <class Operation>
auto without_suspending(Operation operation)
{
    using result = typename Operation::result_type;
    using value = std::conditional_t<std::is_void_v<result>, bool, result>;
    std::optional<value> ready;
    if (operation.await_ready()) {
        if constexpr (std::is_void_v<result>) {
            operation.await_resume();
            ready.emplace(true);
        } else {
            ready.emplace(operation.await_resume());
        }
    }
    return ready;
}

/// Runs `io` until `done()` holds, `limit` passes or nothing is left to run;
/// returns `done()`. For work spawned before, with handlers of its own.
template <class Done>
bool run_until(asio::io_context& io, Done done, std::chrono::steady_clock::duration limit = 10s)
{
    const auto give_up = std::chrono::steady_clock::now() + limit;
    io.restart();
    while (!done() && std::chrono::steady_clock::now() < give_up)
        if (io.run_one_until(give_up) == 0 && io.stopped())
            break;
    return done();
}

namespace detail {
template <class T, class Done>
coline::task<void> deliver(coline::task<T> operation, Done done)
{
    std::exception_ptr error;
    std::optional<T> result;
    try {
        result.emplace(co_await std::move(operation));
    } catch (...) {
        error = std::current_exception();
    }
    done(error, std::move(result));
}
} // namespace detail

/// co_spawn for an operation that returns a connection: runs `operation` (made
/// by the caller, arguments and all) and calls `done(exception_ptr,
/// std::optional<T>)`. (Asio 1.22's co_spawn with a handler needs a T it can
/// default-construct for the exception case, which a connection is not.)
template <class T, class Done>
void spawn_operation(asio::io_context& io, coline::task<T> operation, Done done)
{
    coline::spawn(io, detail::deliver(std::move(operation), std::move(done)), asio::detached);
}

/// Waits (up to `limit`) until `socket` has `n` bytes to read; whether it has.
inline bool wait_for_arrival(tcp::socket& socket, std::size_t n, std::chrono::steady_clock::duration limit = 5s)
{
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (socket.available() < n)
        if (std::chrono::steady_clock::now() > give_up)
            return false;
        else
            std::this_thread::yield();
    return true;
}

/// An acceptor on 127.0.0.1 with a port the kernel picked.
inline tcp::acceptor loopback_acceptor(asio::io_context& io, int backlog = asio::socket_base::max_listen_connections)
{
    tcp::acceptor acceptor(io, tcp::v4());
    acceptor.bind({asio::ip::address_v4::loopback(), 0});
    acceptor.listen(backlog);
    return acceptor;
}

/// An acceptor on ::1 with a port the kernel picked, or a closed one (and a
/// message starting "SKIPPED:", which CTest reports as a skip) on a machine
/// without IPv6.
inline tcp::acceptor ipv6_loopback_acceptor(asio::io_context& io)
{
    tcp::acceptor acceptor(io);
    coline::error_code ec;
    acceptor.open(tcp::v6(), ec);
    if (!ec)
        acceptor.bind({asio::ip::address_v6::loopback(), 0}, ec);
    if (!ec)
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        MESSAGE("SKIPPED: this machine has no ::1 (" << ec.message() << ")");
        acceptor.close(ec);
    }
    return acceptor;
}

/// Whether `ec` says the peer cut the connection off: a reset, or a send
/// after one (broken pipe).
inline bool cut_off(coline::error_code ec)
{
    return ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

inline std::string port_of(const tcp::acceptor& acceptor)
{
    return std::to_string(acceptor.local_endpoint().port());
}

/// A coline connection and the raw socket at the other end, over loopback.
struct tcp_pair {
    coline::connection conn;
    tcp::socket peer;
};

inline tcp_pair make_tcp_pair(asio::io_context& io, coline::connection_options options = {})
{
    auto acceptor = loopback_acceptor(io);
    tcp::socket peer(io);
    peer.connect(acceptor.local_endpoint());
    return {coline::connection(acceptor.accept(), options), std::move(peer)};
}

/// Reads from a raw socket until `count` '\n' have arrived; returns all of it.
/// Throws `std::errc::timed_out` when nothing arrives for `limit` (a poll:
/// Asio's blocking reads wait again when SO_RCVTIMEO runs out).
inline std::string read_lines_from(tcp::socket& socket, int count, std::chrono::milliseconds limit = std::chrono::seconds{15})
{
    std::string received;
    while (std::count(received.begin(), received.end(), '\n') < count) {
        pollfd ready{socket.native_handle(), POLLIN, 0};
        if (::poll(&ready, 1, static_cast<int>(limit.count())) <= 0)
            throw coline::system_error(std::make_error_code(std::errc::timed_out), "read_lines_from");
        char chunk[4096];
        const std::size_t n = socket.read_some(asio::buffer(chunk));
        received.append(chunk, n);
    }
    return received;
}

/// An in-memory stream: each read gets the next scripted chunk (or as much
/// of it as fits), then the end of the stream. Writes are collected.
class scripted_stream {
public:
    using executor_type = asio::any_io_executor;
    using lowest_layer_type = scripted_stream;

    scripted_stream(executor_type executor, std::vector<std::string> chunks)
        : executor_(std::move(executor)), chunks_(std::move(chunks))
    {
    }

    executor_type get_executor() const { return executor_; }
    lowest_layer_type& lowest_layer() { return *this; }
    void close(coline::error_code&) { closed_ = true; }
    bool closed() const { return closed_; }
    bool is_open() const { return !closed_; }
    const std::string& written() const { return written_; }
    std::size_t reads() const { return reads_; }
    std::size_t writes() const { return writes_; }
    /// From now on every write fails with `ec` and takes nothing.
    void fail_writes_with(coline::error_code ec) { write_error_ = ec; }
    /// The next write throws std::bad_alloc as it starts, as when memory runs out.
    void throw_at_next_write_start() { throw_at_write_ = true; }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token)
    {
        return asio::async_initiate<Token, void(coline::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& buffers) {
                ++reads_;
                coline::error_code ec;
                std::size_t n = 0;
                if (next_ == chunks_.size()) {
                    ec = asio::error::eof;
                } else {
                    const std::string& chunk = chunks_[next_];
                    n = asio::buffer_copy(buffers, asio::buffer(chunk) + offset_);
                    offset_ += n;
                    if (offset_ == chunk.size())
                        ++next_, offset_ = 0;
                }
                complete(std::move(handler), ec, n);
            },
            token, buffers);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token)
    {
        return asio::async_initiate<Token, void(coline::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& buffers) {
                if (std::exchange(throw_at_write_, false))
                    throw std::bad_alloc();
                ++writes_;
                std::size_t n = 0;
                if (write_error_)
                    return complete(std::move(handler), write_error_, 0);
                for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
                    written_.append(static_cast<const char*>(it->data()), it->size());
                    n += it->size();
                }
                complete(std::move(handler), coline::error_code{}, n);
            },
            token, buffers);
    }

private:
    template <class Handler>
    void complete(Handler handler, coline::error_code ec, std::size_t n)
    {
        auto executor = asio::get_associated_executor(handler, executor_);
        asio::post(executor, [handler = std::move(handler), ec, n]() mutable { std::move(handler)(ec, n); });
    }

    executor_type executor_;
    std::vector<std::string> chunks_;
    std::size_t next_ = 0;
    std::size_t offset_ = 0;
    std::size_t reads_ = 0;
    std::size_t writes_ = 0;
    std::string written_;
    coline::error_code write_error_;
    bool throw_at_write_ = false;
    bool closed_ = false;
};

using scripted_connection = coline::basic_connection<scripted_stream>;

inline scripted_connection scripted(asio::io_context& io, std::vector<std::string> chunks,
                                    coline::connection_options options = {})
{
    return scripted_connection(scripted_stream(io.get_executor(), std::move(chunks)), options);
}

/// Every byte of `text` as a chunk of its own.
inline std::vector<std::string> one_byte_chunks(std::string_view text)
{
    std::vector<std::string> chunks;
    for (char c : text)
        chunks.emplace_back(1, c);
    return chunks;
}

/// What a stream of read_line calls produced: the lines, and the error that ended it.
struct read_all_result {
    std::vector<std::string> lines;
    coline::error_code error;
};

/// Reads lines until the end of the stream or the first error.
template <class Stream>
coline::task<read_all_result> read_all(coline::basic_connection<Stream>& conn)
{
    read_all_result result;
    for (;;) {
        auto [ec, line] = co_await coline::read_line(conn, coline::as_tuple);
        if (ec) {
            result.error = ec;
            co_return result;
        }
        if (!line)
            co_return result;
        result.lines.emplace_back(*line);
    }
}

} // namespace test

// A prototype, not coline's API: the tutorial's server on coline::task with
// the data path the next step of issue 22 gives the operations. It measures
// what that step can reach before the connection is rebuilt on it:
// - read_line is an awaiter whose await_ready() takes a buffered line, so a
//   pipelined line costs no frame and no suspension;
// - otherwise a task (a frame from the per-thread cache) sends what is kept,
//   tries a non-blocking recv, and waits for readability only on would-block;
// - write_line keeps its answer, which goes out with the next read that has
//   to wait (coalesce_writes, as today).
// No time limits, no stop: those are what the real operations add.
//
//   bench_task_server HOST PORT        (PORT 0: the kernel picks one)
#include <coline/detail/line_buffer.hpp>
#include <coline/spawn.hpp>
#include <coline/task.hpp>
#include <coline/use_task.hpp>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <sys/socket.h>

using asio::ip::tcp;

namespace {

constexpr std::size_t max_line = 64 * 1024;

struct prototype_connection {
    tcp::socket socket;
    coline::detail::line_buffer input;
    std::string output;
};

// Sends what is kept; waits for the socket to take the rest.
coline::task<void> send_kept(prototype_connection& c)
{
    while (!c.output.empty()) {
        const auto sent = ::send(c.socket.native_handle(), c.output.data(), c.output.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent >= 0) {
            c.output.erase(0, static_cast<std::size_t>(sent));
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            co_await c.socket.async_wait(tcp::socket::wait_write, coline::use_task);
        } else {
            throw coline::system_error(coline::error_code(errno, std::system_category()), "send");
        }
    }
}

coline::task<std::optional<std::string_view>> read_line_slow(prototype_connection& c)
{
    co_await send_kept(c);
    for (;;) {
        coline::error_code ec;
        if (auto line = c.input.next_line(max_line, ec))
            co_return line;
        const std::span<char> space = c.input.prepare(max_line);
        const auto n = ::recv(c.socket.native_handle(), space.data(), space.size(), MSG_DONTWAIT);
        if (n > 0)
            c.input.commit(static_cast<std::size_t>(n));
        else if (n == 0)
            co_return std::nullopt;
        else if (errno == EAGAIN || errno == EWOULDBLOCK)
            co_await c.socket.async_wait(tcp::socket::wait_read, coline::use_task);
        else
            throw coline::system_error(coline::error_code(errno, std::system_category()), "recv");
    }
}

class read_line {
public:
    explicit read_line(prototype_connection& c) : c_(c) {}
    bool await_ready()
    {
        line_ = c_.input.next_line_if_whole(max_line);
        return line_.has_value();
    }
    template <class Promise>
    void await_suspend(std::coroutine_handle<Promise> awaiting)
    {
        slow_.emplace(read_line_slow(c_));
        waiting_.emplace(std::move(*slow_).operator co_await());
        waiting_->await_suspend(awaiting);
    }
    std::optional<std::string_view> await_resume() { return waiting_ ? waiting_->await_resume() : line_; }

private:
    using slow_task = coline::task<std::optional<std::string_view>>;
    prototype_connection& c_;
    std::optional<std::string_view> line_;
    std::optional<slow_task> slow_;
    std::optional<slow_task::awaiter> waiting_;
};

struct write_line {
    prototype_connection& c;
    std::string_view text;
    bool await_ready()
    {
        c.output.append(text);
        c.output.push_back('\n');
        return true; // kept: sent by the next read that waits
    }
    void await_suspend(std::coroutine_handle<>) {}
    void await_resume() {}
};

coline::task<void> session(tcp::socket socket)
{
    prototype_connection c{std::move(socket), {}, {}};
    try {
        co_await write_line{c, "Connect"};
        while (auto line = co_await read_line(c))
            co_await write_line{c, "Information received"};
        co_await send_kept(c);
    } catch (const coline::system_error&) {
        // The peer vanished: the session ends.
    }
}

coline::task<void> listen(tcp::acceptor& acceptor)
{
    for (;;) {
        auto socket = co_await acceptor.async_accept(coline::use_task);
        socket.set_option(tcp::no_delay(true));
        coline::spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
    }
}

} // namespace

int main(int argc, char* argv[])
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 2;
    }
    asio::io_context io{1};
    tcp::acceptor acceptor{io, {asio::ip::make_address(argv[1]), static_cast<unsigned short>(std::stoul(argv[2]))}};
    std::fprintf(stderr, "Listening on %s:%u\n", acceptor.local_endpoint().address().to_string().c_str(),
                 acceptor.local_endpoint().port());
    coline::spawn(io, listen(acceptor), asio::detached);
    io.run();
}

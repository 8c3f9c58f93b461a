// "Speed of light" reference server for the benchmark: the tutorial protocol
// hand-written on a single-threaded, level-triggered epoll loop, no Asio.
//
//   epoll_server HOST PORT        (PORT 0: the kernel picks one)
//
// Protocol: greet each client with "Connect\n", answer every line it sends
// (terminated by "\n", a "\r" before it stripped) with "Information received\n",
// in order; close when the client closes. A line longer than 64 KiB (terminator
// not counted) drops the client.
//
// Batching: on readability read until the socket is drained or the input buffer
// is full, answer every complete line into the output buffer, then write that
// buffer once. A client whose unsent backlog exceeds 1 MiB is not read from
// until the backlog drains.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t max_line = 64 * 1024;          // terminator not counted
constexpr std::size_t in_capacity = max_line + 2;    // the longest line plus "\r\n"
constexpr std::size_t max_backlog = 1024 * 1024;     // stop reading above this
constexpr std::string_view greeting = "Connect\n";
constexpr std::string_view answer = "Information received\n";

[[noreturn]] void die(const char* what)
{
    std::fprintf(stderr, "epoll_server: %s: %s\n", what, std::strerror(errno));
    std::exit(2);
}

struct connection {
    int fd;
    std::unique_ptr<char[]> in{new char[in_capacity]}; // reused for the whole connection
    std::size_t in_len = 0;
    std::string out;              // answers not yet accepted by the kernel
    std::size_t out_off = 0;      // first unsent byte of out
    std::uint32_t events = 0;     // what epoll currently watches for this fd
    bool peer_closed = false;     // read returned 0: close once out is flushed
    bool dead = false;            // closed; the fd itself is closed after the batch

    std::size_t backlog() const { return out.size() - out_off; }
};

class server {
public:
    server(int listener, int signals) : listener_(listener), signals_(signals)
    {
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_ < 0)
            die("epoll_create1");
        watch(listener_, EPOLLIN, EPOLL_CTL_ADD);
        watch(signals_, EPOLLIN, EPOLL_CTL_ADD);
    }

    void run()
    {
        std::vector<epoll_event> events(256);
        for (;;) {
            const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), -1);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                die("epoll_wait");
            }
            for (int i = 0; i < n; ++i) {
                const int fd = events[i].data.fd;
                const std::uint32_t ev = events[i].events;
                if (fd == signals_)
                    return; // SIGINT or SIGTERM
                if (fd == listener_) {
                    accept_all();
                    continue;
                }
                connection* c = conns_[static_cast<std::size_t>(fd)].get();
                if (c == nullptr || c->dead)
                    continue; // stale event for a client dropped earlier in this batch
                if (ev & EPOLLERR)
                    drop(*c);
                else {
                    if (ev & (EPOLLIN | EPOLLHUP))
                        on_readable(*c);
                    if (!c->dead && (ev & EPOLLOUT))
                        flush(*c);
                }
            }
            // Close the fds only now, so the kernel cannot hand a number to a new
            // client while an event for its previous owner is still in `events`.
            for (int fd : to_close_) {
                close(fd);
                conns_[static_cast<std::size_t>(fd)].reset();
            }
            to_close_.clear();
        }
    }

private:
    void watch(int fd, std::uint32_t events, int op)
    {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        if (epoll_ctl(epoll_, op, fd, &ev) < 0)
            die("epoll_ctl");
    }

    // Watch for input unless the client has closed or is too far behind, and
    // for output while some is pending.
    void update_events(connection& c)
    {
        std::uint32_t want = 0;
        if (!c.peer_closed && c.backlog() <= max_backlog)
            want |= EPOLLIN;
        if (c.backlog() > 0)
            want |= EPOLLOUT;
        if (want != c.events) {
            watch(c.fd, want, EPOLL_CTL_MOD);
            c.events = want;
        }
    }

    void accept_all()
    {
        for (;;) {
            const int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                    // e.g. EMFILE: the listener stays readable, so this retries
                    // on the next loop; good enough for a benchmark.
                    std::fprintf(stderr, "epoll_server: accept: %s\n", std::strerror(errno));
                return;
            }
            const int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (conns_.size() <= static_cast<std::size_t>(fd))
                conns_.resize(static_cast<std::size_t>(fd) + 1);
            auto& slot = conns_[static_cast<std::size_t>(fd)];
            slot = std::make_unique<connection>();
            slot->fd = fd;
            slot->out.assign(greeting);
            slot->events = EPOLLIN;
            watch(fd, EPOLLIN, EPOLL_CTL_ADD);
            flush(*slot);
        }
    }

    void on_readable(connection& c)
    {
        // Read until the socket is drained or the buffer is full. A short read
        // means the socket is drained (for now): skipping the extra read() that
        // would return EAGAIN is safe because epoll is level-triggered.
        for (;;) {
            const std::size_t room = in_capacity - c.in_len;
            if (room == 0)
                break;
            const ssize_t n = read(c.fd, c.in.get() + c.in_len, room);
            if (n > 0) {
                c.in_len += static_cast<std::size_t>(n);
                if (static_cast<std::size_t>(n) < room)
                    break;
            } else if (n == 0) {
                c.peer_closed = true;
                break;
            } else if (errno == EINTR)
                continue;
            else if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            else
                return drop(c); // ECONNRESET and friends
        }

        // Answer every complete line, then keep the partial one at the front.
        const char* begin = c.in.get();
        const char* end = begin + c.in_len;
        while (const char* nl = static_cast<const char*>(std::memchr(begin, '\n', static_cast<std::size_t>(end - begin)))) {
            std::size_t len = static_cast<std::size_t>(nl - begin);
            if (len > 0 && nl[-1] == '\r')
                --len;
            if (len > max_line)
                return drop(c);
            c.out.append(answer);
            begin = nl + 1;
        }
        c.in_len = static_cast<std::size_t>(end - begin);
        if (c.in_len == in_capacity)
            return drop(c); // full and not a single "\n": the line is too long
        if (c.in_len > 0 && begin != c.in.get())
            std::memmove(c.in.get(), begin, c.in_len);

        // An unterminated line at the end of the stream gets no answer.
        flush(c);
    }

    // Write the pending output once; keep what the kernel did not take.
    void flush(connection& c)
    {
        while (c.backlog() > 0) {
            const ssize_t n = send(c.fd, c.out.data() + c.out_off, c.backlog(), MSG_NOSIGNAL);
            if (n >= 0) {
                c.out_off += static_cast<std::size_t>(n);
                if (c.backlog() > 0)
                    break; // short write: the socket buffer is full
            } else if (errno == EINTR)
                continue;
            else if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            else
                return drop(c); // EPIPE, ECONNRESET
        }
        if (c.backlog() == 0) {
            c.out.clear();
            c.out_off = 0;
            if (c.peer_closed)
                return drop(c); // the client closed and has all its answers
        } else if (c.out_off >= c.out.size() / 2) {
            c.out.erase(0, c.out_off); // keep the buffer from creeping
            c.out_off = 0;
        }
        update_events(c);
    }

    void drop(connection& c)
    {
        epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
        c.dead = true;
        to_close_.push_back(c.fd);
    }

    int listener_, signals_, epoll_;
    std::vector<std::unique_ptr<connection>> conns_; // indexed by fd
    std::vector<int> to_close_;
};

} // namespace

int main(int argc, char* argv[])
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 2;
    }
    // Numeric addresses only (like asio::ip::make_address), IPv4 or IPv6.
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    const auto port = static_cast<std::uint16_t>(std::strtoul(argv[2], nullptr, 10));
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
    if (inet_pton(AF_INET, argv[1], &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        addr_len = sizeof *v4;
    } else if (inet_pton(AF_INET6, argv[1], &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        addr_len = sizeof *v6;
    } else {
        std::fprintf(stderr, "epoll_server: not a numeric address: %s\n", argv[1]);
        return 2;
    }

    // SIGINT/SIGTERM arrive through a signalfd; SIGPIPE is ignored (and every
    // send uses MSG_NOSIGNAL anyway).
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &mask, nullptr) < 0)
        die("sigprocmask");
    const int signals = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signals < 0)
        die("signalfd");

    const int listener = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0)
        die("socket");
    const int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, reinterpret_cast<sockaddr*>(&addr), addr_len) < 0)
        die("bind");
    if (listen(listener, SOMAXCONN) < 0)
        die("listen");
    if (getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &addr_len) < 0)
        die("getsockname");
    char host[INET6_ADDRSTRLEN] = {};
    const bool is_v4 = addr.ss_family == AF_INET;
    inet_ntop(addr.ss_family, is_v4 ? static_cast<void*>(&v4->sin_addr) : static_cast<void*>(&v6->sin6_addr), host, sizeof host);
    std::fprintf(stderr, "Listening on %s:%u\n", host, unsigned{ntohs(is_v4 ? v4->sin_port : v6->sin6_port)});

    server(listener, signals).run();
    return 0;
}

// Load generator for the tutorial protocol: raw single-threaded epoll, no Asio.
//
//   loadgen --port P [--host 127.0.0.1] [--mode pingpong|pipelined|connect]
//           [--connections N] [--inflight K] [--line-length L]
//           [--duration S] [--warmup S]
//
// pingpong/pipelined: open N connections, verify each greeting ("Connect"),
//   then keep exactly K lines outstanding on each (K = 1 for pingpong): send K,
//   and one more per answer. The sends one epoll event produces go out in one
//   write. Latency of a line: from the write that carried it to its answer
//   (answers come in order: a FIFO of send times per connection).
// connect: N slots each loop connect, greeting, one line, answer, close; a
//   cycle is one "line", its latency the whole cycle. Towards 127.x.x.x the
//   cycles rotate over source addresses 127.0.0.1-64 (see open()).
//
// Every answer must be exactly "Information received"; anything else, and any
// unexpected close or socket error, is an error. Lines and latencies count only
// inside the measured window [warmup, warmup + duration). Afterwards no more
// lines are sent; pingpong/pipelined connections then shut down their sending
// side and read the remaining answers and the server's close (a server that
// loses answers or does not close within 5 s scores errors).
//
// Prints one line of JSON on stdout; exits 0 iff errors == 0 and lines > 0.
// Latency percentiles come from a log-linear histogram (error < 0.4%).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view greeting = "Connect";
constexpr std::string_view answer = "Information received";
constexpr std::int64_t setup_timeout_ns = 10'000'000'000; // all greetings
constexpr std::int64_t drain_timeout_ns = 5'000'000'000;  // answers and close at the end
constexpr std::size_t max_reply = 4096;                   // longer server lines are errors

std::int64_t now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Latency histogram: exact below 128 ns, then 128 linear buckets per power of
// two, so a bucket is at most 1/128 of its value wide.
class histogram {
public:
    void record(std::int64_t ns)
    {
        const auto v = static_cast<std::uint64_t>(std::clamp<std::int64_t>(ns, 0, max_value));
        ++counts_[index(v)];
        ++total_;
    }
    std::uint64_t total() const { return total_; }
    // Nearest-rank percentile (p in [0, 1]), as the middle of its bucket, in µs.
    double percentile_us(double p) const
    {
        if (total_ == 0)
            return 0;
        const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(total_))));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i)
            if ((seen += counts_[i]) >= rank)
                return middle(i) / 1000.0;
        return middle(counts_.size() - 1) / 1000.0;
    }

private:
    static constexpr int sub_bits = 7;
    static constexpr std::int64_t max_value = std::int64_t{1} << 40; // ~18 minutes
    static std::size_t index(std::uint64_t v)
    {
        if (v < (1u << sub_bits))
            return v;
        const int shift = std::bit_width(v) - 1 - sub_bits;
        return (static_cast<std::size_t>(shift + 1) << sub_bits) | ((v >> shift) & ((1u << sub_bits) - 1));
    }
    static double middle(std::size_t i)
    {
        const std::size_t block = i >> sub_bits;
        if (block == 0)
            return static_cast<double>(i);
        const std::size_t shift = block - 1;
        const double low = static_cast<double>(((std::size_t{1} << sub_bits) | (i & ((1u << sub_bits) - 1))) << shift);
        return low + static_cast<double>(std::size_t{1} << shift) / 2;
    }
    std::array<std::uint64_t, (40 - sub_bits + 2) << sub_bits> counts_{};
    std::uint64_t total_ = 0;
};

enum class mode { pingpong, pipelined, connect };

struct options {
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    mode m = mode::pingpong;
    std::string mode_name = "pingpong";
    int connections = 0; // 0: the mode's default
    int inflight = 16;
    std::size_t line_length = 10;
    double duration = 5, warmup = 1;
};

struct conn {
    enum state_t { closed, connecting, greeting, running, draining } state = closed;
    int fd = -1;
    std::uint32_t gen = 0;   // bumped on every close: tells stale epoll events apart
    std::uint32_t events = 0;
    std::string in;          // received bytes not yet parsed into lines
    std::string out;         // bytes not yet accepted by the kernel
    std::size_t out_off = 0;
    std::vector<std::int64_t> sent; // ring of send times of the outstanding lines
    std::size_t sent_head = 0, outstanding = 0;
    std::int64_t cycle_start = 0;   // connect mode
    bool shut = false;              // draining: our side is shut down
};

class loadgen {
public:
    explicit loadgen(const options& o) : o_(o), conns_(static_cast<std::size_t>(o.connections))
    {
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_ < 0) {
            std::perror("epoll_create1");
            std::exit(2);
        }
        line_ = "SOME data";
        line_.resize(o.line_length, 'x');
        line_ += '\n';
        for (auto& c : conns_)
            c.sent.resize(static_cast<std::size_t>(o.inflight));
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&o.addr);
        spread_sources_ = o.addr.ss_family == AF_INET && (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    }

    int run()
    {
        if (o_.m == mode::connect) {
            start_ = now_ns();
            set_window();
            for (auto& c : conns_)
                open(c);
            loop(end_);
            for (auto& c : conns_)
                close_conn(c); // cycles still in progress are abandoned, not errors
        } else {
            // Connect everyone and wait for the greetings, then start the load.
            for (auto& c : conns_)
                open(c);
            const std::int64_t setup_deadline = now_ns() + setup_timeout_ns;
            while (count(conn::connecting) + count(conn::greeting) > 0 && now_ns() < setup_deadline)
                poll(setup_deadline);
            for (auto& c : conns_)
                if (c.state == conn::connecting || c.state == conn::greeting)
                    fail(c, "no greeting in time");
            start_ = now_ns();
            set_window();
            for (auto& c : conns_)
                if (c.state == conn::running)
                    send_lines(c, static_cast<std::size_t>(o_.inflight));
            loop(end_);
            // Stop sending; let the servers answer what is in flight and close.
            for (auto& c : conns_)
                if (c.state == conn::running) {
                    c.state = conn::draining;
                    flush(c);
                }
            const std::int64_t drain_deadline = now_ns() + drain_timeout_ns;
            while (count(conn::draining) > 0 && now_ns() < drain_deadline)
                poll(drain_deadline);
            for (auto& c : conns_)
                if (c.state == conn::draining)
                    fail(c, "server did not close in time");
        }
        report();
        return errors_ == 0 && hist_.total() > 0 ? 0 : 1;
    }

private:
    void set_window()
    {
        measure_ = start_ + static_cast<std::int64_t>(o_.warmup * 1e9);
        end_ = measure_ + static_cast<std::int64_t>(o_.duration * 1e9);
    }
    std::size_t count(conn::state_t s) const
    {
        return static_cast<std::size_t>(std::count_if(conns_.begin(), conns_.end(), [s](const conn& c) { return c.state == s; }));
    }
    void loop(std::int64_t deadline)
    {
        while (now_ns() < deadline)
            poll(deadline);
    }

    void error(const conn& c, const char* what)
    {
        if (++errors_ <= 10)
            std::fprintf(stderr, "loadgen: connection %zu: %s\n", static_cast<std::size_t>(&c - conns_.data()), what);
    }
    // An error that ends the connection; a connect-mode slot starts over.
    void fail(conn& c, const char* what)
    {
        error(c, what);
        close_conn(c);
        if (o_.m == mode::connect && now_ns() < end_)
            reopen_.push_back(&c); // on the next poll: no recursion if open() fails at once
    }

    void watch(conn& c, std::uint32_t events)
    {
        if (events == c.events)
            return;
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = (std::uint64_t{c.gen} << 32) | static_cast<std::uint64_t>(&c - conns_.data());
        epoll_ctl(epoll_, c.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
        c.events = events;
    }

    void open(conn& c)
    {
        c.fd = socket(o_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0)
            return fail(c, std::strerror(errno));
        const int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (o_.m == mode::connect && spread_sources_) {
            // Every cycle leaves a TIME_WAIT socket here (we close first). From a
            // single source address the kernel soon runs short of ephemeral ports
            // for this server and connect() slows down (tens of ms at the tail):
            // rotate over 64 loopback sources, picking the port at connect().
            setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            sockaddr_in source{};
            source.sin_family = AF_INET;
            source.sin_addr.s_addr = htonl(0x7f000001u + next_source_++ % 64); // 127.0.0.1-64
            if (bind(c.fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) < 0)
                return fail(c, std::strerror(errno));
        }
        c.cycle_start = now_ns();
        c.state = conn::connecting;
        if (connect(c.fd, reinterpret_cast<const sockaddr*>(&o_.addr), o_.addr_len) < 0 && errno != EINPROGRESS)
            return fail(c, std::strerror(errno));
        watch(c, EPOLLOUT); // writable once connected (or failed)
    }

    void close_conn(conn& c)
    {
        if (c.fd >= 0)
            close(c.fd); // also leaves the epoll set
        c.fd = -1;
        ++c.gen;
        c.events = 0;
        c.state = conn::closed;
        c.in.clear();
        c.out.clear();
        c.out_off = 0;
        c.sent_head = c.outstanding = 0;
        c.shut = false;
    }

    void poll(std::int64_t deadline)
    {
        std::vector<conn*> reopen;
        reopen.swap(reopen_);
        for (conn* c : reopen)
            if (c->state == conn::closed)
                open(*c);
        std::array<epoll_event, 256> events;
        const std::int64_t wait_ns = reopen_.empty() ? std::max<std::int64_t>(0, deadline - now_ns()) : 0;
        const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>((wait_ns + 999'999) / 1'000'000));
        if (n < 0 && errno != EINTR) {
            std::perror("epoll_wait");
            std::exit(2);
        }
        for (int i = 0; i < n; ++i) {
            conn& c = conns_[events[i].data.u64 & 0xffffffff];
            if (c.state == conn::closed || c.gen != events[i].data.u64 >> 32)
                continue; // stale: the connection was closed earlier in this batch
            if (c.state == conn::connecting)
                on_connected(c);
            else {
                if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    on_readable(c);
                if (c.state != conn::closed && (events[i].events & EPOLLOUT))
                    flush(c);
            }
        }
    }

    void on_connected(conn& c)
    {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0)
            return fail(c, std::strerror(err));
        c.state = conn::greeting;
        watch(c, EPOLLIN);
    }

    void on_readable(conn& c)
    {
        char buf[64 * 1024];
        bool eof = false;
        for (;;) { // until drained (a short read) or closed
            const ssize_t n = read(c.fd, buf, sizeof buf);
            if (n > 0) {
                c.in.append(buf, static_cast<std::size_t>(n));
                if (static_cast<std::size_t>(n) < sizeof buf)
                    break;
            } else if (n == 0) {
                eof = true;
                break;
            } else if (errno == EINTR)
                continue;
            else if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            else
                return fail(c, std::strerror(errno));
        }
        const std::int64_t now = now_ns(); // arrival time of everything just read
        const std::uint32_t gen = c.gen;    // changes if c gets closed below
        std::size_t replies = 0, begin = 0, nl;
        while ((nl = c.in.find('\n', begin)) != std::string::npos) {
            const std::string_view line(c.in.data() + begin, nl - begin);
            begin = nl + 1;
            if (c.state == conn::greeting) {
                if (line != greeting)
                    return fail(c, "bad greeting");
                c.state = conn::running;
                if (o_.m == mode::connect) {
                    send_lines(c, 1);
                    if (c.gen != gen)
                        return; // the send failed
                }
                continue;
            }
            if (c.outstanding == 0)
                return fail(c, "answer to a line never sent");
            const std::int64_t sent = c.sent[c.sent_head];
            c.sent_head = (c.sent_head + 1) % c.sent.size();
            --c.outstanding;
            ++replies;
            if (line != answer) {
                error(c, "wrong answer");
                continue;
            }
            if (c.state == conn::draining)
                continue; // after the window: checked, not counted
            if (now >= measure_ && now < end_)
                hist_.record(now - (o_.m == mode::connect ? c.cycle_start : sent));
            if (o_.m == mode::connect) { // cycle complete: start the next one
                close_conn(c);
                if (now < end_)
                    open(c);
                return;
            }
        }
        c.in.erase(0, begin);
        if (c.in.size() > max_reply)
            return fail(c, "overlong line from the server");
        if (eof) {
            if (c.state == conn::draining && c.shut && c.outstanding == 0 && c.in.empty())
                return close_conn(c); // the orderly end
            return fail(c, c.state == conn::draining ? "closed before answering every line" : "unexpected close");
        }
        // Keep K outstanding: one new line per reply, all in one write.
        if (c.state == conn::running && replies > 0 && now < end_)
            send_lines(c, replies);
    }

    // Queue n lines, stamp them and write them out in one go.
    void send_lines(conn& c, std::size_t n)
    {
        const std::int64_t now = now_ns();
        c.out.reserve(c.out.size() + n * line_.size());
        for (std::size_t i = 0; i < n; ++i) {
            c.out += line_;
            c.sent[(c.sent_head + c.outstanding) % c.sent.size()] = now;
            ++c.outstanding;
        }
        flush(c);
    }

    void flush(conn& c)
    {
        while (c.out_off < c.out.size()) {
            const ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
            if (n >= 0) {
                c.out_off += static_cast<std::size_t>(n);
            } else if (errno == EINTR)
                continue;
            else if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            else
                return fail(c, std::strerror(errno));
        }
        const bool pending = c.out_off < c.out.size();
        if (!pending) {
            c.out.clear();
            c.out_off = 0;
            if (c.state == conn::draining && !c.shut) {
                shutdown(c.fd, SHUT_WR); // whole lines only: the server sees a clean end
                c.shut = true;
            }
        }
        watch(c, EPOLLIN | (pending ? EPOLLOUT : 0u));
    }

    void report() const
    {
        const int inflight = o_.m == mode::pipelined ? o_.inflight : 1;
        std::printf("{\"mode\":\"%s\",\"connections\":%d,\"inflight\":%d,\"line_length\":%zu,\"seconds\":%.2f,"
                    "\"lines\":%llu,\"lines_per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"errors\":%llu}\n",
                    o_.mode_name.c_str(), o_.connections, inflight, o_.line_length, o_.duration,
                    static_cast<unsigned long long>(hist_.total()), static_cast<double>(hist_.total()) / o_.duration,
                    hist_.percentile_us(0.50), hist_.percentile_us(0.99), hist_.percentile_us(0.999),
                    static_cast<unsigned long long>(errors_));
    }

    const options& o_;
    std::vector<conn> conns_;
    int epoll_;
    std::string line_;
    std::int64_t start_ = 0, measure_ = 0, end_ = 0;
    histogram hist_;
    std::uint64_t errors_ = 0;
    std::vector<conn*> reopen_; // connect-mode slots to start over
    bool spread_sources_ = false;  // connect mode to 127.x.x.x: see open()
    std::uint32_t next_source_ = 0;
};

[[noreturn]] void usage(const char* why)
{
    std::fprintf(stderr,
                 "loadgen: %s\n"
                 "usage: loadgen --port P [--host H] [--mode pingpong|pipelined|connect] [--connections N]\n"
                 "               [--inflight K] [--line-length L] [--duration S] [--warmup S]\n",
                 why);
    std::exit(2);
}

options parse(int argc, char* argv[])
{
    options o;
    std::string host = "127.0.0.1";
    long port = -1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i + 1 >= argc)
            usage("missing value");
        const char* value = argv[++i];
        char* end = nullptr;
        const auto number = [&] {
            const double v = std::strtod(value, &end);
            if (end == value || *end != '\0' || !(v >= 0))
                usage("bad number");
            return v;
        };
        if (arg == "--host")
            host = value;
        else if (arg == "--port")
            port = static_cast<long>(number());
        else if (arg == "--mode") {
            o.mode_name = value;
            if (o.mode_name == "pingpong")
                o.m = mode::pingpong;
            else if (o.mode_name == "pipelined")
                o.m = mode::pipelined;
            else if (o.mode_name == "connect")
                o.m = mode::connect;
            else
                usage("unknown mode");
        } else if (arg == "--connections")
            o.connections = static_cast<int>(number());
        else if (arg == "--inflight")
            o.inflight = static_cast<int>(number());
        else if (arg == "--line-length")
            o.line_length = static_cast<std::size_t>(number());
        else if (arg == "--duration")
            o.duration = number();
        else if (arg == "--warmup")
            o.warmup = number();
        else
            usage("unknown option");
    }
    if (port <= 0 || port > 65535)
        usage("--port is required (1-65535)");
    if (o.connections == 0)
        o.connections = o.m == mode::pingpong ? 1 : o.m == mode::pipelined ? 64 : 16;
    if (o.m != mode::pipelined)
        o.inflight = 1;
    if (o.inflight < 1 || o.line_length < 1 || o.line_length > 64 * 1024 || o.duration <= 0)
        usage("need --inflight >= 1, 1 <= --line-length <= 65536, --duration > 0");

    auto* v4 = reinterpret_cast<sockaddr_in*>(&o.addr);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&o.addr);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<std::uint16_t>(port));
        o.addr_len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<std::uint16_t>(port));
        o.addr_len = sizeof *v6;
    } else
        usage("--host must be a numeric address");
    return o;
}

} // namespace

int main(int argc, char* argv[])
{
    signal(SIGPIPE, SIG_IGN);
    const options o = parse(argc, argv);
    return loadgen(o).run();
}

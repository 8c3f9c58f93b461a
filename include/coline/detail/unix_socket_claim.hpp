// Internal: how a server takes the path of a Unix stream socket. A socket
// file outlives the server that bound it, so a server that starts over one
// must tell a stale file (its server is gone: replace it) from anything else
// (leave it alone), and two servers that start at once must not both listen.
#pragma once

#include <coline/detail/config.hpp>
#include <coline/error.hpp>

#include <algorithm>
#include <string>
#include <utility>

#if defined(COLINE_HAS_LOCAL_SOCKETS) && !defined(COLINE_WINDOWS)
#include <cerrno>
#include <cstddef>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#endif

namespace coline::detail {

#if defined(COLINE_HAS_LOCAL_SOCKETS) && !defined(COLINE_WINDOWS)

/// The right to listen on a Unix socket path, held from before the bind until
/// the server stops: an exclusive flock on "<path>.lock", and the inode of the
/// socket file the server bound, so that it removes only its own file.
class unix_socket_claim {
public:
    unix_socket_claim() = default;
    unix_socket_claim(unix_socket_claim&& other) noexcept
        : path_(std::move(other.path_)), lock_fd_(std::exchange(other.lock_fd_, -1)),
          device_(other.device_), inode_(other.inode_), bound_(std::exchange(other.bound_, false))
    {
    }
    unix_socket_claim& operator=(unix_socket_claim&& other) noexcept
    {
        if (this != &other) {
            release();
            path_ = std::move(other.path_);
            lock_fd_ = std::exchange(other.lock_fd_, -1);
            device_ = other.device_;
            inode_ = other.inode_;
            bound_ = std::exchange(other.bound_, false);
        }
        return *this;
    }
    ~unix_socket_claim() { release(); }

    /// Takes `path` for a bind: returns holding its lock with nothing left at
    /// the path (a stale socket file removed), or throws `coline::system_error`
    /// with address_in_use, leaving whatever is there as it was. An abstract
    /// address (empty, or starting with '\0') has no file: nothing to do.
    void claim(const std::string& path)
    {
        release();
        if (path.empty() || path[0] == '\0')
            return;
        path_ = path;
        lock();
        try {
            clear_stale_file();
        } catch (...) {
            release();
            throw;
        }
    }

    /// After the bind: remembers which file is the server's.
    void bound() noexcept
    {
        struct stat st{};
        if (lock_fd_ >= 0 && ::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
            device_ = st.st_dev;
            inode_ = st.st_ino;
            bound_ = true;
        }
    }

    /// Removes the socket file if it is still the one the server bound (a
    /// server started since, by someone who removed ours, keeps its own), then
    /// unlocks. Only a program that takes no lock could swap the file between
    /// the check and the unlink. Idempotent.
    void release() noexcept
    {
        if (bound_) {
            struct stat st{};
            if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == device_ && st.st_ino == inode_)
                ::unlink(path_.c_str());
            bound_ = false;
        }
        if (lock_fd_ >= 0)
            ::close(std::exchange(lock_fd_, -1)); // (after the unlink: no other server can bind in between)
    }

private:
    // Serialises the servers that start on the path: the one that gets the
    // lock probes and binds; the others are refused while it listens. The lock
    // file is never deleted: were it deleted on the way out, a server that had
    // opened it just before would lock the deleted file while a third created
    // and locked a new one, and both would listen. Opened read-only (flock needs no more), so a lock
    // file that another user created with 0644 serves too; never through a
    // symlink, never blocking (a FIFO), and only a regular file will do.
    void lock()
    {
        const std::string lock_path = path_ + ".lock";
        lock_fd_ = ::open(lock_path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0666);
        if (lock_fd_ < 0)
            fail(errno, "cannot open the lock file " + lock_path);
        struct stat st{};
        if (::fstat(lock_fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
            release();
            in_use("the lock file " + lock_path + " is not a regular file");
        }
        if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
            const int error = errno;
            release();
            if (error == EWOULDBLOCK)
                in_use("a server is listening on " + path_);
            fail(error, "cannot lock " + lock_path);
        }
    }

    // With the lock held: what is at the path? Nothing: bind. A socket that
    // refuses a connection is stale: remove it. Anything else stays, and the
    // server does not start: not a socket (a symlink counts as not one), a
    // live server (it accepts, its backlog is full, or it does not answer in
    // time), a socket of another type (EPROTOTYPE: /dev/log is a datagram
    // socket), or one we may not connect to (EACCES: another user's server).
    void clear_stale_file()
    {
        struct stat st{};
        if (::lstat(path_.c_str(), &st) != 0) {
            if (errno == ENOENT)
                return;
            fail(errno, path_);
        }
        if (!S_ISSOCK(st.st_mode))
            in_use(path_ + " exists and is not a socket");
        const int error = probe();
        if (error == ENOENT)
            return; // gone since the lstat
        if (error != ECONNREFUSED)
            live_or_unknown(error);
        if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
            fail(errno, "cannot remove the stale socket file " + path_);
    }

    // A non-blocking connect with a stream socket: a blocking one waits as
    // long as a live server's backlog is full. 0 for a server that answers,
    // else the errno that says why not (ETIMEDOUT: no answer within 1 s).
    // (BSD and macOS answer a full backlog with ECONNREFUSED: there, a live
    // server that takes no lock looks stale while its backlog is full.)
    int probe() const
    {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            fail(errno, "cannot probe " + path_);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        const std::size_t length = std::min(path_.size(), sizeof address.sun_path - 1);
        std::memcpy(address.sun_path, path_.data(), length);
        int error = 0;
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
            error = errno;
        if (error == EINPROGRESS || error == EINTR) { // (Linux answers at once: EAGAIN for a full backlog)
            pollfd ready{fd, POLLOUT, 0};
            int n;
            do
                n = ::poll(&ready, 1, 1000);
            while (n < 0 && errno == EINTR); // (a signal may extend the wait, not make it endless)
            socklen_t size = sizeof error;
            if (n <= 0)
                error = ETIMEDOUT;
            else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0)
                error = errno;
        }
        ::close(fd);
        return error;
    }

    [[noreturn]] void live_or_unknown(int error) const
    {
        if (error == 0 || error == EAGAIN || error == EWOULDBLOCK || error == ETIMEDOUT)
            in_use("a server is listening on " + path_);
        in_use("cannot tell whether a server listens on " + path_ + " (" + message(error) + "), so it is left alone");
    }

    // (std::errc's code: standalone Asio 1.22's own system category does not
    // compare equal to std::errc::address_in_use.)
    [[noreturn]] static void in_use(const std::string& what)
    {
        throw system_error(error_code(std::make_error_code(std::errc::address_in_use)), "coline::server: " + what);
    }

    [[noreturn]] static void fail(int error, const std::string& what)
    {
        throw system_error(error_code(error, asio::error::get_system_category()), "coline::server: " + what);
    }

    static std::string message(int error) { return error_code(error, asio::error::get_system_category()).message(); }

    std::string path_;
    int lock_fd_ = -1;
    dev_t device_ = 0;
    ino_t inode_ = 0;
    bool bound_ = false;
};

#endif

/// What a server of `Protocol` claims before it binds: nothing (a TCP bind
/// takes the port or fails by itself) but for a Unix stream socket's path.
template <class Protocol>
struct address_claim {
    void claim(const typename Protocol::endpoint&) noexcept {}
    void bound() noexcept {}
    void release() noexcept {}
};

#if defined(COLINE_HAS_LOCAL_SOCKETS) && !defined(COLINE_WINDOWS)
template <>
struct address_claim<asio::local::stream_protocol> {
    void claim(const asio::local::stream_protocol::endpoint& endpoint) { path.claim(endpoint.path()); }
    void bound() noexcept { path.bound(); }
    void release() noexcept { path.release(); }
    unix_socket_claim path;
};
#endif

} // namespace coline::detail

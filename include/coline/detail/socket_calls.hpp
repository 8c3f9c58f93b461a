// Internal: the system calls coline makes behind Asio's back, all of them.
// A send or a receive that must not wait costs a system call where Asio's
// operation costs hundreds of instructions more, and the kernel's count of
// unacknowledged bytes tells a lingering close how the peer is doing.
// (POSIX sockets only: see connection_core::direct_calls.)
#pragma once

#include <coline/detail/config.hpp>
#include <coline/detail/line_buffer.hpp>
#include <coline/detail/output_queue.hpp>
#include <coline/error.hpp>

#include <cerrno>
#include <cstddef>
#include <span>

#if defined(__linux__)
#include <sys/ioctl.h>
#endif

namespace coline::detail {

/// Sends what the socket takes of `out`'s kept bytes now, without waiting;
/// false if the send failed (the bytes are dropped, the failure recorded
/// for the next operation to report).
template <class Handle>
bool send_now(Handle socket, output_queue& out) noexcept
{
#if defined(MSG_NOSIGNAL)
    constexpr int flags = MSG_DONTWAIT | MSG_NOSIGNAL; // a peer gone is an error, not a SIGPIPE
#else
    constexpr int flags = MSG_DONTWAIT;
#endif
    const auto sent = ::send(socket, out.kept().data(), out.kept().size(), flags);
    if (sent >= 0)
        out.sent(static_cast<std::size_t>(sent));
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        out.fail_unreported(error_code(errno, asio::error::get_system_category()));
        return false;
    }
    return true;
}

/// Receives what has arrived, without waiting, into `input` (room for
/// `block` bytes, see line_buffer::prepare). Returns the bytes received; 0
/// with `ec` set: asio::error::eof at the end of the stream,
/// asio::error::would_block when nothing has arrived, or the socket's error.
template <class Handle>
std::size_t receive_now(Handle socket, line_buffer& input, std::size_t max_line, std::size_t block,
                        error_code& ec) noexcept
{
    const std::span<char> space = input.prepare(max_line, block);
    const auto n = ::recv(socket, space.data(), space.size(), MSG_DONTWAIT);
    if (n > 0) {
        input.commit(static_cast<std::size_t>(n));
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

/// Bytes sent that the peer has not acknowledged yet; 0 where that cannot be told.
template <class Handle>
std::size_t unacknowledged_output([[maybe_unused]] Handle socket) noexcept
{
#if defined(__linux__) && defined(TIOCOUTQ)
    int bytes = 0;
    if (::ioctl(socket, TIOCOUTQ, &bytes) == 0 && bytes > 0)
        return static_cast<std::size_t>(bytes);
#endif
    return 0;
}

} // namespace coline::detail

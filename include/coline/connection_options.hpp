// connection_options: the limits of one connection, and line_ending.
#pragma once

#include <coline/timeout.hpp>

#include <cstddef>

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

} // namespace coline

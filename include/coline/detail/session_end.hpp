// Internal: how a session ends, the same in the server and in the testing helper.
#pragma once

#include <coline/connection.hpp>
#include <coline/detail/closing.hpp>
#include <coline/write_line.hpp>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline::detail {

// After the handler: the answers it wrote go out, even when it failed on a
// later line; a peer that still sends after a clean end gets the chance to
// read them all (`linger`), one that misbehaved (`clean` false) is cut off at
// once (over TLS, after close_notify, within `linger`). Runs even in a
// cancelled coroutine (the grace period is over): the flush and the linger
// then end at once.
template <class Stream>
task<void> end_session(basic_connection<Stream>& conn, bool clean, duration linger)
{
    co_await flush(conn, as_tuple);
    if ((clean || lingering_close<Stream>::after_errors) && conn.stream().lowest_layer().is_open())
        co_await lingering_close<Stream>::run(conn, linger);
    conn.close();
}

} // namespace coline::detail

COLINE_SILENCE_FRAME_WARNINGS_END

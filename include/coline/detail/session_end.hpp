// Internal: how a session ends, the same in the server and in the testing helper.
#pragma once

#include <coline/detail/closing.hpp>
#include <coline/detail/connection_core.hpp>
#include <coline/detail/send.hpp>
#include <coline/error.hpp>

#include <memory>
#include <utility>

COLINE_SILENCE_FRAME_WARNINGS_BEGIN

namespace coline::detail {

// After the handler: the answers it wrote go out, even when it failed on a
// later line; a peer that still sends after a clean end gets the chance to
// read them all (`linger`), one that misbehaved (`clean` false) is cut off at
// once (over TLS, after close_notify, within `linger`). Runs even in a
// cancelled coroutine (the grace period is over): the flush and the linger
// then end at once.
template <class Stream>
task<void> end_session(connection_core<Stream>& conn, bool clean, duration linger)
{
    co_await flush_op<as_tuple_t>(conn, conn.options.write_timeout, {}, false, {}, "coline::flush");
    if ((clean || lingering_close<Stream>::after_errors) && conn.stream.lowest_layer().is_open())
        co_await lingering_close<Stream>::run(conn, linger);
    conn.close();
}

// The session link's operations on a connection_core<Stream>.
template <class Stream>
struct linked_connection {
    static connection_core<Stream>& of(void* conn) noexcept { return *static_cast<connection_core<Stream>*>(conn); }
    static void stop_reading(void* conn) noexcept { of(conn).stop_reading(); }
    static void close(void* conn) noexcept { of(conn).close(); }
    static void forget_link(void* conn) noexcept { of(conn).link = nullptr; }
    static bool hand_over(void* conn) noexcept;
    static constexpr link_operations operations{&stop_reading, &close, &forget_link, &hand_over};
};

// A connection handed over to its server when the handler let it go.
template <class Stream>
class adopted final : public adopted_connection {
public:
    explicit adopted(connection_core<Stream>&& conn) noexcept : conn_(std::move(conn)) {}
    ~adopted() override
    {
        if (session_link* link = std::exchange(conn_.link, nullptr))
            link->gone(&conn_); // (so that its destructor hands nothing over again)
    }
    task<void> end(bool clean, duration linger) override { return end_session(conn_, clean, linger); }

private:
    connection_core<Stream> conn_;
};

template <class Stream>
bool linked_connection<Stream>::hand_over(void* conn) noexcept
{
    try {
        session_link* link = of(conn).link;
        link->adopt(std::make_unique<adopted<Stream>>(std::move(of(conn))));
        return true;
    } catch (...) {
        return false; // (out of memory) it closes as any connection does
    }
}

// `conn` is the connection `link`'s session works on from now on: a
// server's own, or what the handler made of it. It starts stopped if the
// server's stop came first.
template <class Stream>
void link_session(connection_core<Stream>& conn, session_link& link) noexcept
{
    conn.link = &link;
    link.attach(&conn, linked_connection<Stream>::operations);
    if (link.stopped())
        conn.stop_reading();
}

// `to`, made of `from`, takes over `from`'s place in its server's care (if it has one).
template <class From, class To>
void pass_session_link(connection_core<From>& from, connection_core<To>& to) noexcept
{
    if (session_link* link = std::exchange(from.link, nullptr))
        link_session(to, *link);
}

} // namespace coline::detail

COLINE_SILENCE_FRAME_WARNINGS_END

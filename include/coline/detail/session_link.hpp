// Internal: how a server keeps a session in its care when the handler turns
// its connection into another (start_tls makes a tls_connection of a plain
// one): the stop, the close and the session's end reach whichever connection
// the session works on now.
#pragma once

#include <coline/task.hpp>
#include <coline/timeout.hpp>

#include <memory>
#include <utility>

namespace coline::detail {

// What the link can do to the connection it points to, whatever its stream.
struct link_operations {
    void (*stop_reading)(void* conn) noexcept;
    void (*close)(void* conn) noexcept;
    void (*forget_link)(void* conn) noexcept; // the link goes: the connection stops pointing to it
    // Moves the connection (being destroyed) into an adopted_connection
    // given to the link; false if that failed (out of memory).
    bool (*hand_over)(void* conn) noexcept;
};

// A connection that the handler made and dropped, handed to the server to
// end as it ends its own (the answers sent, the lingering close, TLS's close_notify).
struct adopted_connection {
    virtual ~adopted_connection() = default;
    virtual task<void> end(bool clean, duration linger) = 0;
};

// Held by a server's session; a connection linked to it points back to it,
// and tells it when it moves or goes.
class session_link {
public:
    session_link() = default;
    session_link(const session_link&) = delete;
    session_link& operator=(const session_link&) = delete;
    ~session_link() { detach(); }

    // `conn` is the connection the session works on from now on.
    void attach(void* conn, const link_operations& operations) noexcept
    {
        current_ = conn;
        operations_ = &operations;
    }
    void moved(void* from, void* to) noexcept
    {
        if (current_ == from)
            current_ = to;
    }
    void gone(void* conn) noexcept
    {
        if (current_ == conn)
            current_ = nullptr;
    }

    // server::stop(): also reaches a connection linked later (it starts stopped).
    void stop_reading() noexcept
    {
        stopped_ = true;
        if (current_)
            operations_->stop_reading(current_);
    }
    bool stopped() const noexcept { return stopped_; }
    void close() noexcept
    {
        if (current_)
            operations_->close(current_);
    }

    // Whether a linked connection being destroyed should be handed over:
    // the session is still under way and has none yet.
    bool adopting() const noexcept { return open_ && !adopted_; }
    bool hand_over(void* conn) noexcept { return operations_->hand_over(conn); }
    void adopt(std::unique_ptr<adopted_connection> conn) noexcept { adopted_ = std::move(conn); }
    // The session's handler has ended: what it handed over, if anything; nothing more is taken.
    std::unique_ptr<adopted_connection> close_adoption() noexcept
    {
        open_ = false;
        return std::move(adopted_);
    }

    // The session is over: the connection still linked (one the handler
    // kept elsewhere) is on its own from now on.
    void detach() noexcept
    {
        if (current_)
            operations_->forget_link(std::exchange(current_, nullptr));
    }

private:
    void* current_ = nullptr;
    const link_operations* operations_ = nullptr;
    bool stopped_ = false;
    bool open_ = true;
    std::unique_ptr<adopted_connection> adopted_;
};

} // namespace coline::detail

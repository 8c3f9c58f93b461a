// Internal: work that waits for the end of the executor's turn, one post per
// turn for every connection of an io_context instead of one per connection.
#pragma once

#include <coline/detail/config.hpp>

#include <mutex>

namespace coline::detail {

/// A connection's place in the queue; it stays where the connection is (not moved).
struct turn_end_node {
    void (*run)(turn_end_node&) = nullptr; // the work, given the node
    void* owner = nullptr;                 // what `run` works on
    turn_end_node* prev = nullptr;
    turn_end_node* next = nullptr;
    bool queued = false;
    bool at_chain_end = false; // queued in chain_end_queue, not an io_context's
};

/// Work that waits for the coroutines running on this thread to suspend:
/// detail::resume runs it when the outermost chain it resumed stops. It
/// costs no post, and takes no lock (each thread has its own queue): a
/// read or write that sends the kept bytes first leaves nothing for it.
class chain_end_queue {
public:
    /// Queues `node` (once) for the end of the running chain.
    static void add(turn_end_node& node) noexcept
    {
        if (node.queued)
            return;
        node.queued = node.at_chain_end = true;
        node.prev = tail_;
        node.next = nullptr;
        (tail_ ? tail_->next : head_) = &node;
        tail_ = &node;
    }

    /// Takes `node` out (its owner is going away).
    static void remove(turn_end_node& node) noexcept
    {
        if (!node.at_chain_end)
            return;
        (node.prev ? node.prev->next : head_) = node.next;
        (node.next ? node.next->prev : tail_) = node.prev;
        node.prev = node.next = nullptr;
        node.queued = node.at_chain_end = false;
    }

    /// Runs what is queued (the nodes' work neither throws nor queues more
    /// than the node it runs, but a loop costs nothing when it does).
    static void run() noexcept
    {
        while (turn_end_node* node = head_) {
            remove(*node);
            node->run(*node);
        }
    }

private:
    inline static thread_local turn_end_node* head_ = nullptr;
    inline static thread_local turn_end_node* tail_ = nullptr;
};

/// The queue of an io_context: the first node queued posts one handler, which
/// runs every node queued by the time it runs (its turn comes after the
/// handlers already queued, so after the coroutines running now suspend).
/// The lock only guards the queue: the nodes' work assumes, as the
/// connections do, that the io_context runs on one thread (or the connection
/// has a strand, which takes the per-connection path instead).
class turn_end_service : public asio::execution_context::service {
public:
    using key_type = turn_end_service;
    inline static asio::execution_context::id id;

    explicit turn_end_service(asio::execution_context& context) : asio::execution_context::service(context) {}

    /// Queues `node` (once) to run when the turn ends, on `executor`.
    template <class Executor>
    void add(turn_end_node& node, const Executor& executor)
    {
        std::unique_lock lock(mutex_);
        if (node.queued || shut_down_)
            return;
        node.queued = true;
        node.prev = tail_;
        node.next = nullptr;
        (tail_ ? tail_->next : head_) = &node;
        tail_ = &node;
        if (std::exchange(posted_, true))
            return;
        lock.unlock();
        asio::post(executor, [this] { run_queued(); });
    }

    /// Takes `node` out of the queue (its owner is going away).
    void remove(turn_end_node& node) noexcept
    {
        std::lock_guard lock(mutex_);
        unlink(node);
    }

private:
    // One lock per turn: the queue is taken whole. The nodes' work never
    // destroys a connection, so none leaves the taken list meanwhile.
    void run_queued()
    {
        turn_end_node* node = nullptr;
        {
            std::lock_guard lock(mutex_);
            node = std::exchange(head_, nullptr);
            tail_ = nullptr;
            posted_ = false;
            for (turn_end_node* n = node; n != nullptr; n = n->next)
                n->queued = false;
        }
        while (node != nullptr) {
            turn_end_node* next = std::exchange(node->next, nullptr);
            node->prev = nullptr;
            node->run(*node);
            node = next;
        }
    }

    void unlink(turn_end_node& node) noexcept
    {
        if (!node.queued)
            return;
        (node.prev ? node.prev->next : head_) = node.next;
        (node.next ? node.next->prev : tail_) = node.prev;
        node.prev = node.next = nullptr;
        node.queued = false;
    }

    void shutdown() override
    {
        std::lock_guard lock(mutex_);
        shut_down_ = true;
        while (head_)
            unlink(*head_);
    }

    std::mutex mutex_;
    turn_end_node* head_ = nullptr;
    turn_end_node* tail_ = nullptr;
    bool posted_ = false;
    bool shut_down_ = false;
};

} // namespace coline::detail

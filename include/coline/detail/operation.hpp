// Internal: how coline's operations are awaited in a task. An operation
// first tries what needs no waiting (a line already in the buffer, an answer
// to keep) in await_ready(): when that finishes it, the co_await costs no
// suspension and no frame. Only otherwise does it start a task for the rest.
#pragma once

#include <coline/task.hpp>

#include <coroutine>
#include <optional>
#include <utility>

namespace coline::detail {

// `Op` is the operation's state and its two paths:
//   using result_type = ...;
//   bool ready();                 // the fast path: true when it finished the operation
//   result_type ready_result();   // then, its result (or its exception)
//   task<result_type> rest();     // otherwise, the task that finishes it
template <class Op>
class [[nodiscard]] operation : Op {
public:
    using result_type = typename Op::result_type;

    explicit operation(Op op) : Op(std::move(op)) {}

    bool await_ready() { return Op::ready(); }

    template <class Promise>
    void await_suspend(std::coroutine_handle<Promise> awaiting)
    {
        rest_.emplace(Op::rest());
        waiting_.emplace(std::move(*rest_).operator co_await());
        waiting_->await_suspend(awaiting);
    }

    result_type await_resume()
    {
        if (waiting_)
            return waiting_->await_resume();
        return Op::ready_result();
    }

private:
    std::optional<task<result_type>> rest_;
    std::optional<typename task<result_type>::awaiter> waiting_;
};

} // namespace coline::detail

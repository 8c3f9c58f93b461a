// The connection's two halves on their own, without a stream: the output
// queue (what writes kept, the send in flight, a failure) and the line input
// (one read at a time, stop_reading's stop point, a request's time limit).
#include <coline/detail/line_input.hpp>
#include <coline/detail/output_queue.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using coline::detail::line_input;
using coline::detail::output_queue;
using namespace std::chrono_literals;

namespace {

// Puts `bytes` into the input buffer as a receive would.
void receive(line_input& input, std::string_view bytes)
{
    auto space = input.buffer().prepare(64 * 1024);
    REQUIRE(space.size() >= bytes.size());
    bytes.copy(space.data(), bytes.size());
    input.buffer().commit(bytes.size());
}

} // namespace

TEST_CASE("output_queue: a send takes every kept byte; what is written meanwhile waits behind it")
{
    output_queue out;
    out.to_fill() += "one\n";
    out.to_fill() += "two\n";
    CHECK(out.size() == 8);
    const std::string_view in_flight = out.start_send();
    CHECK(in_flight == "one\ntwo\n");
    CHECK(out.sending());
    CHECK(out.empty());
    out.to_fill() += "three\n"; // written while the send is in flight
    CHECK(in_flight == "one\ntwo\n"); // untouched
    out.finish_send({});
    CHECK_FALSE(out.sending());
    CHECK_FALSE(out.failed());
    CHECK(out.kept() == "three\n");
}

TEST_CASE("output_queue: a send that never started gives its bytes back, in front of the later ones")
{
    output_queue out;
    out.to_fill() += "first\n";
    (void)out.start_send();
    out.to_fill() += "second\n";
    out.abandon_send();
    CHECK_FALSE(out.sending());
    CHECK(out.kept() == "first\nsecond\n");
}

TEST_CASE("output_queue: a failed send drops what is kept and fails every later write")
{
    output_queue out;
    out.to_fill() += "a\n";
    (void)out.start_send();
    out.to_fill() += "b\n";
    out.finish_send(asio::error::broken_pipe);
    CHECK(out.failed() == asio::error::broken_pipe);
    CHECK(out.empty());
    CHECK_FALSE(out.sending());
    CHECK_FALSE(out.take_unreported_failure()); // its awaiter was told
}

TEST_CASE("output_queue: a failure nobody awaited is reported once")
{
    output_queue out;
    out.to_fill() += "x\n";
    out.fail_unreported(asio::error::connection_reset);
    CHECK(out.empty());
    CHECK(out.failed() == asio::error::connection_reset);
    CHECK(out.take_unreported_failure());
    CHECK_FALSE(out.take_unreported_failure());
    CHECK(out.failed() == asio::error::connection_reset); // later writes still fail
}

TEST_CASE("output_queue: a direct send's bytes leave the front")
{
    output_queue out;
    out.to_fill() += "hello\nworld\n";
    out.sent(6);
    CHECK(out.kept() == "world\n");
}

TEST_CASE("output_queue: idle, a buffer grown by a burst is freed, and the next burst reserves half of it at once")
{
    output_queue out;
    out.to_fill().append(100000, 'x');
    const std::size_t grown = out.kept().capacity();
    out.sent(out.size());
    out.release_idle();
    CHECK(out.capacity() <= 2 * output_queue::small); // (an empty std::string holds a few bytes of its own)
    CHECK(out.kept().capacity() < grown);
    CHECK(out.to_fill().capacity() >= grown / 2);
    out.to_fill() = "small";
    out.release_idle(); // not empty: kept
    CHECK(out.kept() == "small");
}

TEST_CASE("output_queue: moving it moves the bytes, the send state and the failure")
{
    output_queue out;
    out.to_fill() += "kept";
    out.fail_unreported(asio::error::broken_pipe);
    output_queue moved(std::move(out));
    CHECK(moved.failed() == asio::error::broken_pipe);
    CHECK(moved.take_unreported_failure());
    CHECK_FALSE(out.failed());
    CHECK_FALSE(out.take_unreported_failure());
}

TEST_CASE("line_input: stop() marks the lines that had arrived, those in the stream included")
{
    line_input input;
    receive(input, "a\nb\n");
    CHECK_FALSE(input.stop(2)); // "c\n" is still in the socket; no read waits
    CHECK(input.stopped());
    CHECK(input.buffer().next_line_if_whole(100) == "a");
    CHECK(input.buffer().next_line_if_whole(100) == "b");
    CHECK_FALSE(input.past_stop_point()); // "c\n" still to be read
    receive(input, "c\nlater\n");
    CHECK(input.buffer().next_line_if_whole(100) == "c");
    CHECK(input.past_stop_point()); // "later" came after the stop
    input.stop(100);                // a second stop keeps the first point
    CHECK(input.past_stop_point());
}

TEST_CASE("line_input: stop() cancels a waiting read only when nothing has begun, and says so once")
{
    line_input input;
    input.set_waiting(true);
    CHECK(input.stop(0));
    CHECK(input.take_stop_cancel());
    CHECK_FALSE(input.take_stop_cancel());

    line_input begun;
    receive(begun, "half a li");
    begun.set_waiting(true);
    CHECK_FALSE(begun.stop(0)); // the line begun is awaited
    CHECK_FALSE(begun.take_stop_cancel());
}

TEST_CASE("line_input: a request's clock starts at the first read that waits, and begin_request twice changes nothing")
{
    line_input input;
    CHECK(input.request_due() == line_input::time_point::max()); // no request
    input.begin_request(coline::no_timeout);
    CHECK(input.request_due() == line_input::time_point::max()); // a request without a limit
    input.end_request();

    input.begin_request(10s);
    const auto before = std::chrono::steady_clock::now();
    const auto due = input.request_due();
    CHECK(due >= before + 10s);
    CHECK(due <= std::chrono::steady_clock::now() + 10s);
    input.begin_request(1s); // under way: unchanged
    CHECK(input.request_due() == due);
    input.end_request();
    CHECK(input.request_due() == line_input::time_point::max());
}

TEST_CASE("line_input: one claim at a time, and a receive without a wait is noticed the second time")
{
    line_input input;
    CHECK_FALSE(input.claimed());
    input.claim();
    CHECK(input.claimed());
    input.unclaim();
    CHECK_FALSE(input.claimed());

    CHECK_FALSE(input.received_without_wait()); // the first
    CHECK(input.received_without_wait());       // the second in a row: yield
    input.yielded();
    CHECK_FALSE(input.received_without_wait());
}

TEST_CASE("line_input: moving it moves the bytes and the stop point")
{
    line_input input;
    receive(input, "x\n");
    input.stop(0);
    input.claim();
    line_input moved(std::move(input));
    CHECK(moved.stopped());
    CHECK(moved.claimed());
    CHECK(moved.buffer().next_line_if_whole(10) == "x");
    CHECK(moved.past_stop_point());
    CHECK_FALSE(input.stopped());
    CHECK_FALSE(input.claimed());
}

#!/usr/bin/python3
"""Breaks coline's promises on purpose and checks that the test suite notices.

    scripts/mutate.py [--jobs N] [--only NAME]...

Each mutant below changes one line of a header the way a plausible bug
would (the promise it breaks is its name, as docs/limits.md states it). For
each, the script builds the test files that cover that promise against the
mutated headers (in a copy: the checkout is never touched), runs the named
test cases, and counts the mutant as killed when they fail. It exits 1 if a
mutant survives, if one no longer applies (its text is not in the header
exactly once) or does not compile, or if the unmutated headers fail those
same tests.
"""

import argparse
import concurrent.futures
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

# name, header (under include/coline), text, replacement, test files, test cases (doctest -tc patterns)
MUTANTS = [
    ("the lingering close",
     "detail/session_end.hpp",
     "    if ((clean || lingering_close<Stream>::after_errors) && conn.stream.lowest_layer().is_open())\n        co_await lingering_close<Stream>::run(conn, linger);",
     "",
     ["server_test.cpp", "testing_test.cpp"],
     ["a handler that ends while its client still sends lets the client read every answer",
      "session_driver ends a session as the server does*"]),
    ("linger_timeout: a client that never stops sending is cut off",
     "detail/closing.hpp", "        deadline.start(limit);", "        deadline.start(no_timeout);",
     ["server_test.cpp"], ["a client that goes on sending after its handler ended is cut off at linger_timeout"]),
    ("the lingering close's extra rounds end at write_timeout",
     "detail/closing.hpp", " || std::chrono::steady_clock::now() >= last_round)", ")",
     ["server_test.cpp"],
     ["a client that still sends and takes its answers too slowly is cut off once the lingering close has lasted*"]),
    ("kept answers go out when a session ends",
     "detail/session_end.hpp", "    co_await flush_op<as_tuple_t>(conn, conn.options.write_timeout, {}, false, {}, \"coline::flush\");\n", "",
     ["testing_test.cpp"], ["session_driver ends a session as the server does*",
                            "session_driver sends what a handler kept when it returns at once*"]),
    ("the read timeout",
     "detail/receive.hpp",
     "        conn.read_deadline.start(timeout, conn.input.request_due());\n        conn.input.set_waiting(true);",
     "        conn.read_deadline.start(no_timeout, conn.input.request_due());\n        conn.input.set_waiting(true);",
     ["read_line_test.cpp"], ["a read with a time limit ends with error::timeout when no line arrives"]),
    ("the request's time limit",
     "detail/receive.hpp",
     "        conn.read_deadline.start(timeout, conn.input.request_due());",
     "        conn.read_deadline.start(timeout);",
     ["read_bytes_test.cpp"], ["begin_request: a request dribbled a line at a time ends at its limit*",
                               "begin_request bounds read_exactly (both forms), read_some and read_line_part*"]),
    ("one read at a time",
     "detail/receive.hpp",
     "    return conn.input.claimed()\n           || ((waits", "    return ((waits",
     ["ownership_test.cpp"], ["a second read while one waits fails with error::concurrent_read*"]),
    ("operations on their connection's executor",
     "detail/receive.hpp", "           || ((waits || check_every_operation) && !on_running_context(conn.get_executor()));",
     "           || false;",
     ["ownership_test.cpp"], ["an operation awaited on another io_context than its connection's*"]),
    ("the upgraded session stays in the server's care",
     "tls.hpp", "    pass_session_link(core_of(plain), core_of(conn));", "",
     ["tls_server_test.cpp", "tls_test.cpp"],
     ["STARTTLS server: stop() reaches an idle upgraded session at once*",
      "session_driver: STARTTLS on both sides*"]),
    ("the write timeout",
     "detail/send.hpp", "        conn_.write_deadline.start(timeout);", "        conn_.write_deadline.start(no_timeout);",
     ["write_line_test.cpp"], ["a write to a peer that never reads ends with error::timeout"]),
    ("the line limit",
     "detail/line_buffer.hpp", "        if (line.size() > max_line) {", "        if (line.size() > max_line + 1) {",
     ["read_line_test.cpp"], ["a line exactly at the limit is read and one byte more is error::line_too_long"]),
    ("the line limit's recovery: the rest of an overlong line is skipped",
     "detail/line_buffer.hpp", "                ec = error::line_too_long;\n                discarding_ = true;",
     "                ec = error::line_too_long;\n                discarding_ = false;",
     ["read_line_test.cpp"], ["after error::line_too_long the connection skips that line and reads the next"]),
    ("the input buffer bounded by the line limit",
     "detail/line_buffer.hpp", "std::max({max_line + 2, min_capacity, block})", "std::max({max_line * 4, min_capacity, block})",
     ["read_line_test.cpp"], ["memory stays bounded by the limit whatever a peer sends without a newline"]),
    ("CRLF stripping",
     "detail/line_buffer.hpp", "        if (crlf_)\n            --length;", "        if (false && crlf_)\n            --length;",
     ["read_line_test.cpp"], ["CRLF and LF line ends mix freely and a lone CR stays in the line"]),
    ("a partial line at the end of the stream is reported",
     "detail/line_buffer.hpp",
     "        return begin_ == end_ && !open ? error_code{} : error_code(error::partial_line);",
     "        return error_code{};",
     ["read_line_test.cpp"], ["the end of the stream in the middle of a line is error::partial_line*"]),
    ("the refusal at max_clients",
     "server.hpp", "if (clients_->fetch_add(1) >= options_.max_clients)", "if (clients_->fetch_add(1) > options_.max_clients)",
     ["server_test.cpp"], ["the client over max_clients is sent the refusal line and closed"]),
    ("graceful stop answers what was read",
     "server.hpp", "                if (session.conn)\n                    session.link.stop_reading();",
     "                if (session.conn)\n                    session.link.close();",
     ["abuse_test.cpp"], ["graceful shutdown: answered lines and a line in progress are not lost*"]),
    ("the grace period ends what remains",
     "server.hpp", "            session.link.close();\n            session.cancel.emit",
     "            session.cancel.emit",
     ["abuse_test.cpp", "server_test.cpp"],
     ["graceful shutdown: a line that never ends is cut off when the grace period is over",
      "when the grace period is over, a handler that shields itself from cancellation*"]),
    ("the accept back-off",
     "server.hpp", "                backoff_.expires_after(pause);", "                backoff_.expires_after(duration::zero());",
     ["abuse_test.cpp"], ["descriptor exhaustion: accept errors are reported, backed off, and serving resumes"]),
    ("out of descriptors, the client longest in its handshake makes room",
     "server.hpp", "                session.cancel.emit(asio::cancellation_type::terminal);\n                return true;",
     "                return true;",
     ["tls_server_test.cpp"], ["TLS server: out of descriptors, the client longest in its handshake makes room*"]),
    ("max_clients counts the clients of all of run_server's threads",
     "run_server.hpp", "        detail::server_access::share_clients(*servers[i], clients);\n", "",
     ["server_test.cpp"], ["run_server() on two threads counts max_clients over both*"]),
    ("a grace period of no_timeout does not overflow into none",
     "timeout.hpp",
     "    if (limit >= std::chrono::steady_clock::time_point::max() - now)\n"
     "        return std::chrono::steady_clock::time_point::max();\n", "",
     ["server_test.cpp"], ["a grace period of no_timeout waits for a begun line as long as it takes"]),
    ("kept output is flushed before read_line waits",
     "detail/receive.hpp", "    if ((!done || ec) && send_kept_now(conn, ec))",
     "    if (false && (!done || ec) && send_kept_now(conn, ec))",
     ["write_line_test.cpp"], ["kept answers are sent before read_line reports an error or the end",
                               "with coalesce_writes, answers to pipelined lines leave in one write",
                               "read_line reports a failed send of the answers write_line kept*"]),
    ("read_line reports a failed send of kept answers",
     "detail/receive.hpp", "    if (write_ec && !ec)\n        ec = write_ec;\n", "",
     ["write_line_test.cpp"], ["read_line reports a failed send of the answers write_line kept*"]),
    ("at most 64 KiB of answers is kept",
     "detail/connection_core.hpp", "if (!options.coalesce_writes || output.size() >= output_queue::most_kept)",
     "if (!options.coalesce_writes)",
     ["write_line_test.cpp"], ["with coalesce_writes, no more than 64 KiB of answers is kept*"]),
    ("flush's own time limit",
     "write_line.hpp", "    return detail::flush_op<Style>(detail::core_of(conn), timeout, {}, false, {}, \"coline::flush\");",
     "    return detail::flush_op<Style>(detail::core_of(conn), no_timeout, {}, false, {}, \"coline::flush\");",
     ["write_line_test.cpp"], ["flush gives up with error::timeout when the peer does not take the lines"]),
    ("a send Asio refused to start gives its lines back",
     "detail/output_queue.hpp", "        kept_.insert(0, in_flight_);\n", "",
     ["write_line_test.cpp"], ["a send that fails to start (the stream throws) gives its lines back*"]),
    ("a send Asio refused to start leaves the connection free",
     "detail/output_queue.hpp", "        kept_.insert(0, in_flight_);\n        in_flight_.clear();\n        sending_ = false;\n",
     "        kept_.insert(0, in_flight_);\n        in_flight_.clear();\n",
     ["write_line_test.cpp"], ["a send that fails to start (the stream throws) gives its lines back and leaves the connection free"]),
    ("a failed write fails every later one",
     "detail/output_queue.hpp", "        failed_ = ec;\n        kept_.clear();\n", "        kept_.clear();\n",
     ["write_line_test.cpp"], ["a write to a peer that has gone ends with the stream's error, and so does every later one",
                               "after a failed send, a later write fails alike*"]),
    ("the test runner's time-out is its own, not coline's",
     "testing.hpp", '        throw step_timed_out("coline::testing::run: the task ran longer than its limit");',
     '        throw std::system_error(coline::error::timeout, "coline::testing::run");',
     ["testing_test.cpp"], ["run: a task that outlives its limit is cancelled*"]),
    ("a line with a newline is refused",
     "write_line.hpp", "    if (output.find('\\n', start) != std::string::npos) {",
     "    if (false && output.find('\\n', start) != std::string::npos) {",
     ["write_line_test.cpp"], ["text with a newline is refused with error::newline_in_line and nothing is sent"]),
    ("close_notify after a handler's exception",
     "tls.hpp", "    static constexpr bool after_errors = true;", "    static constexpr bool after_errors = false;",
     ["tls_server_test.cpp"], ["TLS server: a session that ends with an exception still sends close_notify"]),
    ("connect_tls's time limit covers the handshake",
     "tls.hpp", "co_await start_tls_op<as_tuple_t>(std::move(plain), context, std::move(host), time_left(due));",
     "co_await start_tls_op<as_tuple_t>(std::move(plain), context, std::move(host), no_timeout);",
     ["tls_test.cpp"], ["TLS: connect_tls gives up with error::timeout when the server never answers the ClientHello"]),
    ("start_tls reports a failed send of the lines kept back",
     "tls.hpp", "    auto [ec] = co_await flush(plain, timeout, as_tuple);",
     "    co_await flush(plain, timeout, as_tuple);\n    std::error_code ec;",
     ["tls_test.cpp"], ["STARTTLS: when the lines kept back cannot be sent, start_tls fails with the send's error"]),
    ("a host name SNI cannot carry is refused",
     "tls.hpp", "if (not_an_address && ::SSL_set_tlsext_host_name", "if (false && ::SSL_set_tlsext_host_name",
     ["tls_test.cpp"], ["start_tls as the client: a host name SNI cannot carry fails before anything is sent"]),
    ("shutdown_tls reports what went wrong",
     "tls.hpp", "    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)\n        ec.clear();",
     "    ec.clear();",
     ["tls_test.cpp"], ["TLS: shutdown_tls reports a peer that reset the connection",
                        "TLS: shutdown_tls gives up at its time limit when the peer never answers"]),
    ("shutdown_tls: a peer that closes first counts as done",
     "tls.hpp", "    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)\n        ec.clear();",
     "    if (ec == asio::error::eof)\n        ec.clear();",
     ["tls_test.cpp"], ["TLS: shutdown_tls is done when the peer answers close_notify, or closes"]),
    ("a task that finishes at once takes no turn of the executor",
     "task.hpp", "            detail::transfer_to(frame_); // runs next, on this thread, from the trampoline",
     "            asio::post(awaiting.promise().context_->executor, [f = frame_, c = awaiting.promise().context_] { detail::resume(f, c); });",
     ["task_test.cpp"], ["an await whose operation is ready, and a task that finishes at once, take no turn*"]),
    ("an exception reaches the awaiter",
     "task.hpp", "    void unhandled_exception() noexcept { exception_ = std::current_exception(); }",
     "    void unhandled_exception() noexcept {}",
     ["task_test.cpp"], ["an exception reaches the awaiting task at its co_await"]),
    ("a task resumes on its own executor",
     "use_task.hpp", "        executor_type get_executor() const noexcept { return context_->executor; }",
     "        executor_type get_executor() const noexcept { return asio::system_executor(); }",
     ["task_test.cpp"], ["a task resumes on its own executor, whichever thread completed what it awaited"]),
    ("cancellation reaches the operation a task awaits",
     "use_task.hpp", "            return op_->slot_.is_connected() ? op_->slot_ : context_->cancel.slot();",
     "            return op_->slot_.is_connected() ? op_->slot_ : cancellation_slot_type{};",
     ["task_test.cpp"], ["cancellation emitted on the slot bound to spawn's handler cancels the operation*"]),
    ("detached lets a task's exception out of run()",
     "spawn.hpp", "        } catch (const system_error&) {\n            // A peer went away",
     "        } catch (...) {\n            // A peer went away",
     ["task_test.cpp"], ["an exception reaches each completion token*"]),
    ("await_ready ignored",
     "detail/operation.hpp", "    bool await_ready() { return Op::ready(); }",
     "    bool await_ready() { return Op::ready() && false; }",
     ["read_bytes_test.cpp", "read_line_test.cpp"],
     ["a session served from the buffer takes no turns of the executor: 10,000 pipelined lines in a handful",
      "read_line and read_exactly complete without suspending when the buffer holds what they want*",
      "read_line reports a whole line over the limit without suspending, and goes on with the next",
      "write keeps bytes without suspending where it can keep them, and suspends to send otherwise",
      "read_exactly into a caller's buffer receives a short rest through the input buffer, with what follows",
      "stop_reading ends the input gracefully"]),
    ("a time limit passes the coroutine's cancellation on after another operation used the slot",
     "detail/deadline.hpp", "            state->forwarding = {};", "            (void)state;",
     ["read_line_test.cpp"],
     ["cancelling the awaiting coroutine reaches a read with a time limit after another operation used its slot"]),
    ("kept bytes go out when the coroutine that kept them suspends",
     "detail/task_context.hpp", "        chain_end_queue::run();", "        ;",
     ["read_bytes_test.cpp"],
     ["with coalesce_writes, kept bytes leave when the session waits for something else than its peer"]),
]

FLAGS = ["-std=c++20", "-O0", "-w", "-pthread"]
LIBS = ["-lssl", "-lcrypto"]  # for the TLS tests


def compile_object(source, include, output):
    subprocess.run(["g++", *FLAGS, "-I", str(include), "-c", str(source), "-o", str(output)], check=True,
                   capture_output=True, text=True)


def case_filter(cases):
    """doctest's -tc= value for these patterns (a comma separates patterns, so one in a name is escaped)."""
    return "-tc=" + ",".join(c.replace("\\", "\\\\").replace(",", "\\,") for c in cases)


def cases_matching(binary, pattern):
    """How many of `binary`'s test cases `pattern` selects."""
    listed = subprocess.run([str(binary), "--list-test-cases", case_filter([pattern])], capture_output=True,
                            text=True, check=True).stdout
    marker = "passing the current filters: "
    return int(listed[listed.index(marker) + len(marker):].split()[0])


def build_and_test(name, include, files, cases, work, main_object):
    """Builds `files` against `include` and runs `cases`; returns (passed, seconds, output)."""
    start = time.monotonic()
    binary = work / "tests"
    objects = []
    for f in files:
        obj = work / (f + ".o")
        compile_object(ROOT / "tests" / f, include, obj)
        objects.append(str(obj))
    subprocess.run(["g++", *FLAGS, str(main_object), *objects, "-o", str(binary), "-lfmt", *LIBS], check=True,
                   capture_output=True, text=True)
    try:
        # Not --minimal: it prints nothing at all when no case ran, which "ran" below must see.
        run = subprocess.run([str(binary), case_filter(cases), "--no-intro"], capture_output=True, text=True,
                             timeout=120)
        passed = run.returncode == 0
        output = run.stdout + run.stderr
    except subprocess.TimeoutExpired:
        passed, output = False, "timed out after 120 s"
    ran = "test cases: 0 |" not in output
    return passed and ran, time.monotonic() - start, output


def copy_headers(work):
    include = work / "include"
    shutil.copytree(ROOT / "include", include)
    return include


def run_mutant(mutant, main_object, base):
    name, header, text, replacement, files, cases = mutant
    work = pathlib.Path(tempfile.mkdtemp(dir=base))
    include = copy_headers(work)
    path = include / "coline" / header
    source = path.read_text()
    if source.count(text) != 1:
        return name, "no longer applies", 0.0, f"{header}: the text to mutate is there {source.count(text)} times"
    path.write_text(source.replace(text, replacement))
    try:
        passed, seconds, output = build_and_test(name, include, files, cases, work, main_object)
    except subprocess.CalledProcessError as e:
        return name, "does not compile", 0.0, e.stderr[-2000:]  # a mutant must be a bug, not a typo
    return name, "SURVIVED" if passed else "killed", seconds, output


def check_applies(mutants):
    """Whether each mutant still applies, without building anything."""
    stale = 0
    for name, header, text, _, files, cases in mutants:
        count = (ROOT / "include" / "coline" / header).read_text().count(text)
        tests = "".join((ROOT / "tests" / f).read_text() for f in files)
        missing = [c for c in cases if c.rstrip("*") not in tests]
        if count != 1 or missing:
            stale += 1
            print(f"mutant '{name}': its text is in {header} {count} times; cases not found: {missing}")
    print(f"mutate.py --check: {len(mutants) - stale} of {len(mutants)} mutants apply")
    return 1 if stale else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", action="append", help="run only the mutants whose name contains this")
    parser.add_argument("--check", action="store_true",
                        help="only check, in a second, that every mutant's text is in its header exactly once "
                             "and that its test cases exist by name in its test files (.ci/run does)")
    args = parser.parse_args()
    mutants = [m for m in MUTANTS if not args.only or any(o in m[0] for o in args.only)]
    if args.check:
        return check_applies(mutants)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="coline-mutants-") as base_name:
        base = pathlib.Path(base_name)
        main_object = base / "main.o"
        compile_object(ROOT / "tests" / "main.cpp", ROOT / "include", main_object)

        # The unmutated headers must pass every test the mutants use.
        files = sorted({f for m in mutants for f in m[4]})
        cases = [c for m in mutants for c in m[5]]
        clean = base / "clean"
        clean.mkdir()
        passed, seconds, output = build_and_test("none", ROOT / "include", files, cases, clean, main_object)
        print(f"unmutated: {'passed' if passed else 'FAILED'} ({seconds:.0f} s)", flush=True)
        if not passed:
            print(output)
            return 1
        # Each mutant's test cases must exist: a pattern that selects nothing would let it survive unseen.
        unknown = [c for c in cases if cases_matching(clean / "tests", c) == 0]
        if unknown:
            print("no test case matches: " + "; ".join(unknown))
            return 1

        results = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for name, verdict, seconds, output in pool.map(lambda m: run_mutant(m, main_object, base), mutants):
                print(f"{verdict}: {name} ({seconds:.0f} s)", flush=True)
                if verdict != "killed":
                    print("   " + output.strip().replace("\n", "\n   "))
                results.append(verdict)
    killed = results.count("killed")
    print(f"mutants: {killed} killed, {len(results) - killed} not, in {time.monotonic() - start:.0f} s")
    print(f"{killed} passed, {len(results) - killed} failed")
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())

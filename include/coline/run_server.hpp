// run_server: a server run from main, on one or more threads, until a signal
// or a stop request.
#pragma once

#include <coline/server.hpp>

#include <atomic>
#include <csignal>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <type_traits>
#include <vector>

namespace coline {

/// How `run_server` runs its servers, for endpoints of type `Endpoint`.
template <stream_endpoint Endpoint = asio::ip::tcp::endpoint>
struct run_options {
    /// The number of threads, each with its own io_context and its own server
    /// on the same port (`server_options::reuse_port`, so the kernel spreads
    /// clients over them). More than one needs TCP.
    std::size_t threads = 1;

    /// Stop on SIGINT and SIGTERM; a second one during the grace period
    /// stops at once (`server::stop_now`), as a second Ctrl-C does.
    bool stop_on_signals = true;

    /// Called once the servers listen, with the endpoint they are bound to
    /// (the actual port, where port 0 was asked for).
    std::function<void(const Endpoint&)> on_listening;

    /// Stops the servers when a stop is requested on it.
    std::stop_token stop;
};

/// Runs a server from `main`: listens on `endpoint`, runs `handler` for each
/// client on `run.threads` threads, and returns once it has stopped and every
/// handler has ended: after SIGINT or SIGTERM (`run.stop_on_signals`), or
/// when `run.stop` is requested. Rethrows what escaped a handler or a server.
/// The transport follows from the endpoint (TCP or a Unix socket) unless one
/// is given: `coline::tls_transport` for TLS.
///
/// Returns 0, or the number of the second signal that cut the graceful stop
/// short. A shell reports a program that a signal ended as 128 plus its
/// number; `main` can do the same:
///
///     if (int forced = coline::run_server(endpoint, session))
///         return 128 + forced; // 130 after a second Ctrl-C
template <stream_endpoint Endpoint, transport Transport = plain_transport<typename Endpoint::protocol_type>>
    requires std::same_as<typename Transport::protocol_type, typename Endpoint::protocol_type>
int run_server(const Endpoint& endpoint, session_handler<typename Transport::connection_type> handler,
                server_options options = {}, run_options<Endpoint> run = {}, Transport transport = {})
{
    const std::size_t count = std::max<std::size_t>(1, run.threads);
    if constexpr (!std::same_as<typename Endpoint::protocol_type, asio::ip::tcp>) {
        if (count > 1)
            throw std::invalid_argument("coline::run_server: more than one thread needs TCP");
    }
    if (count > 1)
        options.reuse_port = true;
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    std::vector<std::unique_ptr<basic_server<Transport>>> servers;
    auto clients = std::make_shared<std::atomic<std::size_t>>(0);
    auto bound = endpoint;
    for (std::size_t i = 0; i < count; ++i) {
        contexts.push_back(std::make_unique<asio::io_context>(1));
        servers.push_back(std::make_unique<basic_server<Transport>>(contexts[i]->get_executor(), bound, handler,
                                                                    options, transport));
        detail::server_access::share_clients(*servers[i], clients);
        bound = servers[0]->local_endpoint(); // the others share the port the first one got
    }
    auto stop_all = [&servers] {
        for (auto& s : servers)
            s->stop();
    };
    asio::signal_set signals(*contexts[0]);
    int forced_by = 0;
    bool all_ended = false; // (on contexts[0]) no signal wait may start again
    if (run.stop_on_signals) {
        signals.add(SIGINT);
        signals.add(SIGTERM);
        signals.async_wait([&](error_code ec, int) {
            if (ec)
                return;
            stop_all();
            if (all_ended)
                return; // this signal came with the last server's end: nothing is left to force
            signals.async_wait([&](error_code ec, int second) {
                if (ec)
                    return;
                forced_by = second;
                for (auto& s : servers)
                    s->stop_now();
            });
        });
    }
    std::stop_callback on_stop(run.stop, stop_all);
    if (run.on_listening) // only now: a signal sent as soon as this is seen is handled
        run.on_listening(bound);

    std::mutex failure_mutex;
    std::exception_ptr failure;
    auto fail = [&](std::exception_ptr error) {
        {
            std::lock_guard lock(failure_mutex);
            if (!failure)
                failure = error;
        }
        stop_all();
    };
    std::atomic<std::size_t> running = count;
    for (std::size_t i = 0; i < count; ++i)
        coline::spawn(*contexts[i], servers[i]->run(), [&](std::exception_ptr error) {
            if (error)
                fail(error);
            if (--running == 0) // nothing is left to stop: let the first context run out of work
                asio::post(*contexts[0], [&] {
                    all_ended = true;
                    signals.cancel();
                });
        });

    auto run_context = [&](asio::io_context& io) {
        for (;;) {
            try {
                io.run();
                return;
            } catch (...) {
                fail(std::current_exception()); // rethrown below, once every thread is done
            }
        }
    };
    std::vector<std::jthread> threads;
    for (std::size_t i = 1; i < count; ++i)
        threads.emplace_back([&, i] { run_context(*contexts[i]); });
    run_context(*contexts[0]);
    threads.clear(); // joins
    if (failure)
        std::rethrow_exception(failure);
    return forced_by;
}

} // namespace coline

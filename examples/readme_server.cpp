#include <coline/coline.hpp>
#include <fmt/core.h>

coline::task<void> session(coline::connection conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn)) {
        fmt::print("Buffer: {}\n", coline::printable{*line});
        co_await coline::write_line(conn, "Information received");
    }
}

coline::task<void> listen(asio::ip::tcp::acceptor& acceptor)
{
    for (;;)
        coline::spawn(acceptor.get_executor(), session(co_await coline::accept(acceptor)), asio::detached);
}

int main(int argc, char* argv[])
{
    const asio::ip::port_type port = argc > 1 ? std::stoi(argv[1]) : 10008;
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), port});
    coline::spawn(io, listen(acceptor), asio::detached);
    io.run();
}

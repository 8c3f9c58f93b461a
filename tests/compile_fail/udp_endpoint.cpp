// Compile-time check: coline::connect takes endpoints of stream protocols
// only. Built twice by tests/CMakeLists.txt: as it is (TCP), which must
// compile, so that a broken include path cannot pass for the check; and
// with -DCOLINE_USE_UDP, which must fail on the stream_endpoint constraint.
#include <coline/coline.hpp>

coline::task<void> client()
{
#ifdef COLINE_USE_UDP
    const asio::ip::udp::endpoint at{asio::ip::address_v4::loopback(), 10008};
#else
    const asio::ip::tcp::endpoint at{asio::ip::address_v4::loopback(), 10008};
#endif
    auto conn = co_await coline::connect(at);
    co_await coline::write_line(conn, "hello");
}

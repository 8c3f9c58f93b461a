// A project that uses coline over TLS: links coline::tls, which brings OpenSSL.
#include <coline/coline.hpp>
#include <coline/tls.hpp>

#include <fmt/core.h>

int main()
{
    asio::ssl::context tls(asio::ssl::context::tls_client);
    tls.set_default_verify_paths();
    asio::io_context io;
    coline::tls_connection conn(coline::tls_stream(io, tls));
    fmt::print("consumer ok\n");
}

// A project that uses coline over TLS: links coline::tls, which brings
// OpenSSL, and runs one exchange with a TLS server over loopback, then says
// "consumer ok". Its certificate is made here, for 127.0.0.1 and an hour.
#include <coline/coline.hpp>
#include <coline/tls.hpp>

#include <openssl/x509v3.h>

#include <fmt/core.h>

#include <exception>
#include <string>

// A throwaway self-signed certificate: the server uses it, the client trusts it.
void make_certificate(asio::ssl::context& server, asio::ssl::context& client)
{
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("consumer"), -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_EXTENSION* names = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, "IP:127.0.0.1");
    X509_add_ext(cert, names, -1);
    X509_sign(cert, key, EVP_sha256());
    SSL_CTX_use_certificate(server.native_handle(), cert);
    SSL_CTX_use_PrivateKey(server.native_handle(), key);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(client.native_handle()), cert);
    X509_EXTENSION_free(names);
    X509_free(cert);
    EVP_PKEY_free(key);
}

coline::task<void> session(coline::tls_connection& conn)
{
    co_await coline::write_line(conn, "Connect");
    while (auto line = co_await coline::read_line(conn))
        co_await coline::write_line(conn, "Information received");
}

coline::task<std::string> client(coline::basic_server<coline::tls_transport>& server, asio::ssl::context& tls)
{
    using namespace std::chrono_literals;
    auto conn = co_await coline::connect_tls("127.0.0.1", server.local_endpoint().port(), tls, 5s);
    std::string greeting{(co_await coline::read_line(conn, 5s)).value_or("?")};
    co_await coline::write_line(conn, "SOME data");
    auto answer = co_await coline::read_line(conn, 5s);
    std::string result = fmt::format("{} / {}", greeting, answer.value_or("?"));
    co_await coline::shutdown_tls(conn, 5s);
    server.stop();
    co_return result;
}

int main()
{
    asio::ssl::context server_tls(asio::ssl::context::tls_server);
    asio::ssl::context client_tls(asio::ssl::context::tls_client);
    make_certificate(server_tls, client_tls);
    asio::io_context io;
    coline::basic_server<coline::tls_transport> server(io.get_executor(), {asio::ip::address_v4::loopback(), 0},
                                                       session, {}, coline::tls_transport{server_tls});
    coline::spawn(io, server.run(), asio::detached);
    std::string result;
    coline::spawn(io, client(server, client_tls), [&](std::exception_ptr error, std::string r) {
        try {
            if (error)
                std::rethrow_exception(error);
            result = r;
        } catch (const std::exception& e) {
            result = e.what();
        }
    });
    io.run_for(std::chrono::seconds{10});
    if (result != "Connect / Information received") {
        fmt::print("consumer FAILED: {}\n", result);
        return 1;
    }
    fmt::print("consumer ok\n");
}

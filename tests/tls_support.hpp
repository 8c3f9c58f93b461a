// Helpers shared by the TLS tests: a throwaway self-signed certificate made
// at test time (no key is committed), and TLS contexts that use it.
#pragma once

#include "support.hpp"

#include <coline/tls.hpp>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace test {

// A key and a self-signed certificate for `names` (subjectAltName syntax:
// "DNS:localhost,IP:127.0.0.1"), valid for an hour, in PEM.
struct throwaway_certificate {
    std::string certificate;
    std::string key;
};

template <class T, void (*Free)(T*)>
struct openssl_free {
    void operator()(T* p) const { Free(p); }
};

template <class T, void (*Free)(T*)>
using openssl_ptr = std::unique_ptr<T, openssl_free<T, Free>>;

inline std::string pem_of(auto write)
{
    openssl_ptr<BIO, BIO_free_all> bio(BIO_new(BIO_s_mem()));
    REQUIRE(write(bio.get()) == 1);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

inline throwaway_certificate make_certificate(const char* common_name, const char* names)
{
    openssl_ptr<EVP_PKEY, EVP_PKEY_free> key(EVP_EC_gen("P-256"));
    REQUIRE(key);
    openssl_ptr<X509, X509_free> cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, cert.get(), cert.get(), nullptr, nullptr, 0);
    openssl_ptr<X509_EXTENSION, X509_EXTENSION_free> alt_names(
        X509V3_EXT_conf_nid(nullptr, &context, NID_subject_alt_name, names));
    REQUIRE(alt_names);
    X509_add_ext(cert.get(), alt_names.get(), -1);
    REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
    return {pem_of([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); }),
            pem_of([&](BIO* b) { return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); })};
}

inline asio::ssl::context server_context(const throwaway_certificate& cert)
{
    asio::ssl::context context(asio::ssl::context::tls_server);
    context.use_certificate_chain(asio::buffer(cert.certificate));
    context.use_private_key(asio::buffer(cert.key), asio::ssl::context::pem);
    return context;
}

inline asio::ssl::context client_context(const throwaway_certificate* trusted)
{
    asio::ssl::context context(asio::ssl::context::tls_client);
    if (trusted)
        context.add_certificate_authority(asio::buffer(trusted->certificate));
    return context;
}

inline const throwaway_certificate& localhost_certificate()
{
    static const throwaway_certificate cert = make_certificate("localhost", "DNS:localhost,IP:127.0.0.1");
    return cert;
}

} // namespace test

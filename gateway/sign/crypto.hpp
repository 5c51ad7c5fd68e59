// OpenSSL plumbing shared by the signer and the verifier: owning handles, base64, the SignatureValue
// encodings (DER ↔ r‖s), certificate loading, and one-shot sign/verify with the algorithm's digest.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "gateway/core/error.hpp"
#include "gateway/sign/sign.hpp"

namespace portgate::sign::detail {

struct pkey_free { void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); } };
struct x509_free { void operator()(X509* p) const noexcept { X509_free(p); } };
struct md_ctx_free { void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); } };
struct md_free { void operator()(EVP_MD* p) const noexcept { EVP_MD_free(p); } };
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;
using md_ptr = std::unique_ptr<EVP_MD, md_free>;

// The last OpenSSL error(s) as text (clears the queue).
std::string openssl_errors();

std::string base64_encode(std::string_view bytes);
// Whitespace inside the text is ignored (XML line-wraps base64); nullopt when not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

// The digest of an algorithm ("SM3", "SHA256", "SHA1"), fetched once per process.
const EVP_MD* digest_of(algorithm a);
const EVP_MD* digest_for_uri(std::string_view uri);

// Kind of key a certificate or private key holds, as the algorithms need it.
enum class key_kind { rsa, ec_p256, sm2, other };
key_kind kind_of(const EVP_PKEY* k);
bool suits(algorithm a, key_kind k);

// ECDSA/SM2 signature conversions. `width` is the byte length of r and of s (32 for P-256 and SM2).
std::optional<std::string> der_to_raw(std::string_view der, std::size_t width);
std::optional<std::string> raw_to_der(std::string_view raw);

// A certificate from PEM or DER bytes.
x509_ptr parse_certificate(std::string_view bytes);
// The same through a small process-wide cache: decoding a certificate and its key costs OpenSSL 3 about
// 150 µs, more than the rest of a verification, and verifiers see the same few certificates again and
// again. The certificate is shared read-only; nullptr when the bytes are not a certificate.
std::shared_ptr<X509> cached_certificate(std::string_view bytes);
std::string certificate_der(const X509* cert);
std::string certificate_serial_hex(const X509* cert);
std::string certificate_subject(const X509* cert);

// Verifies `sig` (already converted to what OpenSSL expects: DER for EC/SM2) over `data`.
// Returns 1 valid, 0 invalid, -1 could not run.
int verify_bytes(algorithm a, EVP_PKEY* key, std::string_view data, std::string_view sig, std::string_view sm2_id);

}  // namespace portgate::sign::detail

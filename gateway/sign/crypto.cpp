// OpenSSL helpers for gateway/sign and the algorithm table (names, URIs, digests).
// EVP_PKEY_get0_EC_KEY (deprecated in OpenSSL 3) is still the only way to ask an engine-backed key its curve.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "gateway/sign/crypto.hpp"

#include <array>
#include <cctype>
#include <mutex>
#include <unordered_map>

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/pem.h>

namespace portgate::sign {

namespace {

struct algorithm_row {
    algorithm alg;
    std::string_view name;
    std::string_view signature_uri;
    std::string_view digest_uri;
    const char* digest;
};

constexpr std::array<algorithm_row, 4> algorithms{{
    {algorithm::sm2_sm3, "sm2-sm3", sm2_sm3_uri, sm3_uri, "SM3"},
    {algorithm::rsa_sha1, "rsa-sha1", rsa_sha1_uri, sha1_uri, "SHA1"},
    {algorithm::rsa_sha256, "rsa-sha256", rsa_sha256_uri, sha256_uri, "SHA256"},
    {algorithm::ecdsa_sha256, "ecdsa-sha256", ecdsa_sha256_uri, sha256_uri, "SHA256"},
}};

const algorithm_row& row(algorithm a) {
    for (auto& r : algorithms)
        if (r.alg == a) return r;
    return algorithms[0];
}

}  // namespace

std::string_view algorithm_name(algorithm a) { return row(a).name; }

std::optional<algorithm> algorithm_from_name(std::string_view name) {
    for (auto& r : algorithms)
        if (r.name == name) return r.alg;
    return std::nullopt;
}

std::string_view signature_method_uri(algorithm a) { return row(a).signature_uri; }
std::string_view digest_method_uri(algorithm a) { return row(a).digest_uri; }
bool uses_sha1(algorithm a) { return a == algorithm::rsa_sha1; }

namespace detail {

std::string openssl_errors() {
    std::string out;
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out.empty() ? "no OpenSSL detail" : out;
}

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    std::string clean;
    clean.reserve(text.size());
    for (char c : text) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) return std::nullopt;
        clean += c;
    }
    if (clean.empty() || clean.size() % 4 != 0) return std::nullopt;
    std::string out(clean.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
    if (n < 0) return std::nullopt;
    std::size_t len = static_cast<std::size_t>(n);
    // EVP_DecodeBlock counts padding as zero bytes.
    if (clean.ends_with("==")) len -= 2;
    else if (clean.ends_with("=")) len -= 1;
    out.resize(len);
    return out;
}

namespace {
const EVP_MD* fetch(const char* name) {
    // Fetched once and kept for the process: explicit fetches avoid an implicit lookup per signature.
    if (std::string_view(name) == "SM3") { static EVP_MD* md = EVP_MD_fetch(nullptr, "SM3", nullptr); return md; }
    if (std::string_view(name) == "SHA1") { static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA1", nullptr); return md; }
    static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md;
}
}  // namespace

const EVP_MD* digest_of(algorithm a) { return fetch(row(a).digest); }

const EVP_MD* digest_for_uri(std::string_view uri) {
    if (uri == sm3_uri) return fetch("SM3");
    if (uri == sha256_uri) return fetch("SHA256");
    if (uri == sha1_uri) return fetch("SHA1");
    return nullptr;
}

key_kind kind_of(const EVP_PKEY* k) {
    if (k == nullptr) return key_kind::other;
    if (EVP_PKEY_is_a(k, "RSA")) return key_kind::rsa;
    if (EVP_PKEY_is_a(k, "SM2")) return key_kind::sm2;
    if (EVP_PKEY_is_a(k, "EC")) {
        char curve[64] = {0};
        size_t len = 0;
        if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve, &len) == 1) {
            std::string_view c(curve, len);
            if (c == "prime256v1" || c == "P-256" || c == "secp256r1") return key_kind::ec_p256;
            if (c == "SM2") return key_kind::sm2;
        }
        // Engine-backed (legacy) keys may not answer the provider query.
        if (const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(k)) {
            const EC_GROUP* g = EC_KEY_get0_group(ec);
            const int nid = g ? EC_GROUP_get_curve_name(g) : NID_undef;
            if (nid == NID_X9_62_prime256v1) return key_kind::ec_p256;
            if (nid == NID_sm2) return key_kind::sm2;
        }
    }
    return key_kind::other;
}

bool suits(algorithm a, key_kind k) {
    switch (a) {
    case algorithm::sm2_sm3: return k == key_kind::sm2;
    case algorithm::rsa_sha1:
    case algorithm::rsa_sha256: return k == key_kind::rsa;
    case algorithm::ecdsa_sha256: return k == key_kind::ec_p256;
    }
    return false;
}

std::optional<std::string> der_to_raw(std::string_view der, std::size_t width) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    if (sig == nullptr) return std::nullopt;
    std::string out(2 * width, '\0');
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(sig, &r, &s);
    const bool ok = BN_bn2binpad(r, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(width)) > 0 &&
                    BN_bn2binpad(s, reinterpret_cast<unsigned char*>(out.data()) + width, static_cast<int>(width)) > 0;
    ECDSA_SIG_free(sig);
    if (!ok) return std::nullopt;
    return out;
}

std::optional<std::string> raw_to_der(std::string_view raw) {
    if (raw.empty() || raw.size() % 2 != 0) return std::nullopt;
    const std::size_t w = raw.size() / 2;
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(w), nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + w, static_cast<int>(w), nullptr);
    if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return std::nullopt;
    }
    unsigned char* der = nullptr;
    const int n = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (n <= 0) return std::nullopt;
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
    OPENSSL_free(der);
    return out;
}

x509_ptr parse_certificate(std::string_view bytes) {
    if (bytes.find("-----BEGIN") != std::string_view::npos) {
        BIO* bio = BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size()));
        X509* c = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
        BIO_free(bio);
        return x509_ptr(c);
    }
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    return x509_ptr(d2i_X509(nullptr, &p, static_cast<long>(bytes.size())));
}

std::shared_ptr<X509> cached_certificate(std::string_view bytes) {
    constexpr std::size_t capacity = 256;  // distinct signer certificates kept; then the cache starts over
    static std::mutex mutex;
    static std::unordered_map<std::string, std::shared_ptr<X509>> cache;
    {
        std::lock_guard lock(mutex);
        if (auto it = cache.find(std::string(bytes)); it != cache.end()) return it->second;
    }
    x509_ptr parsed = parse_certificate(bytes);
    if (!parsed) return nullptr;
    X509_get0_pubkey(parsed.get());  // decoded now, once, not by concurrent readers later
    std::shared_ptr<X509> shared(parsed.release(), x509_free{});
    std::lock_guard lock(mutex);
    if (cache.size() >= capacity) cache.clear();
    cache.emplace(std::string(bytes), shared);
    return shared;
}

std::string certificate_der(const X509* cert) {
    unsigned char* der = nullptr;
    const int n = i2d_X509(cert, &der);
    if (n <= 0) return {};
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
    OPENSSL_free(der);
    return out;
}

std::string certificate_serial_hex(const X509* cert) {
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    if (bn == nullptr) return {};
    char* hex = BN_bn2hex(bn);
    std::string out = hex ? hex : "";
    OPENSSL_free(hex);
    BN_free(bn);
    return out;
}

std::string certificate_subject(const X509* cert) {
    BIO* bio = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
}

int verify_bytes(algorithm a, EVP_PKEY* key, std::string_view data, std::string_view sig, std::string_view sm2_id) {
    md_ctx_ptr ctx(EVP_MD_CTX_new());
    if (!ctx) return -1;
    EVP_PKEY_CTX* pctx = nullptr;
    if (EVP_DigestVerifyInit_ex(ctx.get(), &pctx, EVP_MD_get0_name(digest_of(a)), nullptr, nullptr, key, nullptr) != 1) {
        ERR_clear_error();
        return -1;
    }
    // The SM2 signer ID enters the Z value: set after initialisation, before the first update.
    if (a == algorithm::sm2_sm3 && EVP_PKEY_CTX_set1_id(pctx, sm2_id.data(), sm2_id.size()) != 1) {
        ERR_clear_error();
        return -1;
    }
    const int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                                    reinterpret_cast<const unsigned char*>(data.data()), data.size());
    ERR_clear_error();
    return rc == 1 ? 1 : 0;
}

}  // namespace detail
}  // namespace portgate::sign

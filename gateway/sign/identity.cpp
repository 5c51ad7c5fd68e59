// Signing identities: the key and certificate are loaded once (PEM, PKCS#12, or a PKCS#11 token through
// OpenSSL's pkcs11 engine from libp11), signing contexts are initialised once and copied per signature
// from a small pool, and a token bucket paces the signatures of each identity.
//
// The pkcs11 engine is used because Debian 12 ships libengine-pkcs11-openssl but no pkcs11-provider;
// the ENGINE API is deprecated in OpenSSL 3 (still supported), hence OPENSSL_SUPPRESS_DEPRECATED here.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "gateway/sign/sign.hpp"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include "gateway/sign/crypto.hpp"
#include "gateway/sign/token_bucket.hpp"

namespace portgate::sign {

namespace {

using namespace detail;

error key_error(std::string message) { return error(errc::sign_key_unavailable, std::move(message)); }

result<std::string> read_file(const std::string& path, std::string_view what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return key_error(fmt::format("cannot read the {} file {}", what, path));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The password or PIN, from the environment or a file; nullopt when the config names neither.
result<std::optional<std::string>> read_secret(const identity_config& cfg) {
    if (!cfg.password_env.empty()) {
        const char* v = std::getenv(cfg.password_env.c_str());
        if (v == nullptr) return key_error(fmt::format("environment variable {} (password_env) is not set", cfg.password_env));
        return std::optional<std::string>(v);
    }
    if (!cfg.password_file.empty()) {
        auto bytes = read_file(cfg.password_file, "password");
        if (!bytes) return bytes.err();
        std::string& s = bytes.value();
        const auto eol = s.find_first_of("\r\n");
        std::optional<std::string> out(s.substr(0, eol));
        OPENSSL_cleanse(s.data(), s.size());
        return out;
    }
    return std::optional<std::string>();
}

struct engine_handle {
    ENGINE* e = nullptr;
    bool initialised = false;
    ~engine_handle() {
        if (e != nullptr) {
            if (initialised) ENGINE_finish(e);
            ENGINE_free(e);
        }
    }
};

std::chrono::system_clock::time_point not_after_of(const X509* cert) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return {};
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

class key_identity final : public identity {
public:
    key_identity(const identity_config& cfg, algorithm a, sm2_encoding enc, pkey_ptr key, x509_ptr cert,
                 std::shared_ptr<engine_handle> engine)
        : name_(cfg.name), alg_(a), enc_(enc), sm2_id_(cfg.sm2_id), key_(std::move(key)), cert_(std::move(cert)),
          engine_(std::move(engine)), bucket_(cfg.per_minute, cfg.burst), warning_days_(cfg.expiry_warning_days) {
        serial_ = certificate_serial_hex(cert_.get());
        subject_ = detail::certificate_subject(cert_.get());
        cert_b64_ = base64_encode(certificate_der(cert_.get()));
        key_name_ = cfg.key_name.empty() ? serial_ : cfg.key_name;
        not_after_ = not_after_of(cert_.get());
        // A token signs one request at a time; the engine's sessions are not ours to multiplex.
        serialise_ = engine_ != nullptr;
    }

    ~key_identity() override {
        pool_.clear();
        template_.reset();
        key_.reset();  // before the engine that backs it
    }

    // Initialises the template context once; every signature starts from a copy of it.
    status prepare() {
        template_.reset(EVP_MD_CTX_new());
        if (!template_) return error(errc::internal, "out of memory");
        EVP_PKEY_CTX* pctx = nullptr;
        int rc;
        if (alg_ == algorithm::sm2_sm3) {
            // The signer ID enters SM2's Z value. OpenSSL 3.0 accepts it only once the context is
            // initialised and before the first update, so it is set here, on the template.
            rc = EVP_DigestSignInit_ex(template_.get(), &pctx, "SM3", nullptr, nullptr, key_.get(), nullptr);
            if (rc == 1) rc = EVP_PKEY_CTX_set1_id(pctx, sm2_id_.data(), sm2_id_.size()) == 1 ? 1 : 0;
        } else {
            rc = EVP_DigestSignInit(template_.get(), &pctx, digest_of(alg_), nullptr, key_.get());
        }
        if (rc != 1)
            return key_error(fmt::format("cannot use the key of identity '{}' for {}: {}", name_, algorithm_name(alg_),
                                         openssl_errors()));
        return ok();
    }

    const std::string& name() const override { return name_; }
    algorithm alg() const override { return alg_; }
    const std::string& key_name() const override { return key_name_; }
    const std::string& certificate_base64() const override { return cert_b64_; }
    const std::string& certificate_serial() const override { return serial_; }
    const std::string& certificate_subject() const override { return subject_; }
    std::chrono::system_clock::time_point not_after() const override { return not_after_; }
    double days_left(std::chrono::system_clock::time_point now) const override {
        return std::chrono::duration<double>(not_after_ - now).count() / 86400.0;
    }
    bool expiry_warning(std::chrono::system_clock::time_point now) const override {
        return days_left(now) < warning_days_;
    }
    identity_stats stats() const override {
        std::lock_guard lock(stats_mutex_);
        return stats_;
    }

    result<std::string> sign_bytes(std::string_view data) const override {
        const auto waited = bucket_.acquire();
        std::unique_lock<std::mutex> token_lock;
        if (serialise_) token_lock = std::unique_lock(token_mutex_);
        md_ctx_ptr ctx = take_context();
        if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), template_.get()) != 1)
            return error(errc::sign_failed, fmt::format("signing context for '{}': {}", name_, openssl_errors()));
        std::string sig;
        size_t len = 0;
        if (EVP_DigestSignUpdate(ctx.get(), data.data(), data.size()) != 1 ||
            EVP_DigestSignFinal(ctx.get(), nullptr, &len) != 1)
            return error(errc::sign_failed, fmt::format("signing with '{}' failed: {}", name_, openssl_errors()));
        sig.resize(len);
        if (EVP_DigestSignFinal(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len) != 1)
            return error(errc::sign_failed, fmt::format("signing with '{}' failed: {}", name_, openssl_errors()));
        sig.resize(len);
        give_back(std::move(ctx));
        if (token_lock.owns_lock()) token_lock.unlock();
        {
            std::lock_guard lock(stats_mutex_);
            ++stats_.signatures;
            if (waited.count() > 0) {
                ++stats_.waits;
                stats_.waited += std::chrono::duration_cast<std::chrono::nanoseconds>(waited);
            }
        }
        const bool to_raw = alg_ == algorithm::ecdsa_sha256 || (alg_ == algorithm::sm2_sm3 && enc_ == sm2_encoding::raw);
        if (!to_raw) return sig;
        auto raw = der_to_raw(sig, 32);
        if (!raw) return error(errc::sign_failed, "the EC signature is not a DER ECDSA-Sig-Value");
        return std::move(*raw);
    }

    EVP_PKEY* key() const { return key_.get(); }

private:
    md_ctx_ptr take_context() const {
        {
            std::lock_guard lock(pool_mutex_);
            if (!pool_.empty()) {
                md_ctx_ptr c = std::move(pool_.back());
                pool_.pop_back();
                return c;
            }
        }
        return md_ctx_ptr(EVP_MD_CTX_new());
    }
    void give_back(md_ctx_ptr c) const {
        std::lock_guard lock(pool_mutex_);
        if (pool_.size() < 64) pool_.push_back(std::move(c));
    }

    std::string name_;
    algorithm alg_;
    sm2_encoding enc_;
    std::string sm2_id_;
    pkey_ptr key_;
    x509_ptr cert_;
    std::shared_ptr<engine_handle> engine_;
    mutable token_bucket bucket_;
    int warning_days_;
    std::string serial_, subject_, cert_b64_, key_name_;
    std::chrono::system_clock::time_point not_after_;
    bool serialise_ = false;
    md_ctx_ptr template_;
    mutable std::mutex pool_mutex_;
    mutable std::vector<md_ctx_ptr> pool_;
    mutable std::mutex token_mutex_;
    mutable std::mutex stats_mutex_;
    mutable identity_stats stats_;
};

int password_callback(char* buf, int size, int, void* user) {
    const auto* pw = static_cast<const std::optional<std::string>*>(user);
    if (pw == nullptr || !pw->has_value()) return -1;  // encrypted key without a configured password
    const auto n = std::min<std::size_t>((*pw)->size(), static_cast<std::size_t>(size));
    std::copy_n((*pw)->data(), n, buf);
    return static_cast<int>(n);
}

result<pkey_ptr> load_pem_key(const identity_config& cfg, const std::optional<std::string>& pw) {
    auto bytes = read_file(cfg.key_file, "key");
    if (!bytes) return bytes.err();
    BIO* bio = BIO_new_mem_buf(bytes->data(), static_cast<int>(bytes->size()));
    EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, &password_callback, const_cast<std::optional<std::string>*>(&pw));
    BIO_free(bio);
    OPENSSL_cleanse(bytes->data(), bytes->size());
    if (k == nullptr) {
        const bool encrypted = bytes->find("ENCRYPTED") != std::string::npos;
        return key_error(encrypted && !pw
                             ? fmt::format("the key file {} is encrypted: set password_env or password_file", cfg.key_file)
                             : fmt::format("cannot load the private key {} (wrong password or not a PEM key): {}",
                                           cfg.key_file, openssl_errors()));
    }
    return pkey_ptr(k);
}

result<x509_ptr> load_cert(const std::string& path) {
    auto bytes = read_file(path, "certificate");
    if (!bytes) return bytes.err();
    x509_ptr c = parse_certificate(bytes.value());
    if (!c) return key_error(fmt::format("cannot read the certificate {}: {}", path, openssl_errors()));
    return c;
}

struct loaded {
    pkey_ptr key;
    x509_ptr cert;
    std::shared_ptr<engine_handle> engine;
};

result<loaded> load_pkcs12(const identity_config& cfg, const std::optional<std::string>& pw) {
    auto bytes = read_file(cfg.pkcs12_file, "PKCS#12");
    if (!bytes) return bytes.err();
    BIO* bio = BIO_new_mem_buf(bytes->data(), static_cast<int>(bytes->size()));
    PKCS12* p12 = d2i_PKCS12_bio(bio, nullptr);
    BIO_free(bio);
    if (p12 == nullptr) return key_error(fmt::format("{} is not a PKCS#12 file: {}", cfg.pkcs12_file, openssl_errors()));
    EVP_PKEY* k = nullptr;
    X509* c = nullptr;
    STACK_OF(X509)* ca = nullptr;
    const int rc = PKCS12_parse(p12, pw ? pw->c_str() : "", &k, &c, &ca);
    PKCS12_free(p12);
    sk_X509_pop_free(ca, X509_free);
    if (rc != 1 || k == nullptr) {
        EVP_PKEY_free(k);
        X509_free(c);
        return key_error(fmt::format("cannot open the PKCS#12 file {} (wrong password?): {}", cfg.pkcs12_file, openssl_errors()));
    }
    loaded out{pkey_ptr(k), x509_ptr(c), nullptr};
    if (!cfg.cert_file.empty()) {
        auto cert = load_cert(cfg.cert_file);
        if (!cert) return cert.err();
        out.cert = std::move(cert.value());
    }
    if (!out.cert) return key_error(fmt::format("the PKCS#12 file {} holds no certificate: set cert_file", cfg.pkcs12_file));
    return out;
}

std::mutex engine_mutex;  // ENGINE set-up is not thread-safe per engine

result<loaded> load_pkcs11(const identity_config& cfg, const std::optional<std::string>& pin) {
    if (cfg.pkcs11_uri.empty()) return key_error("key_source pkcs11 needs pkcs11_uri");
    if (cfg.cert_file.empty()) return key_error("key_source pkcs11 needs cert_file (the token's certificate as a file)");
    auto cert = load_cert(cfg.cert_file);
    if (!cert) return cert.err();
    std::lock_guard lock(engine_mutex);
    auto engine = std::make_shared<engine_handle>();
    ENGINE_load_builtin_engines();
    engine->e = ENGINE_by_id("pkcs11");
    if (engine->e == nullptr)
        return key_error(fmt::format("OpenSSL's pkcs11 engine is not available (Debian: libengine-pkcs11-openssl): {}",
                                     openssl_errors()));
    std::string module = cfg.pkcs11_module;
    if (module.empty())
        if (const char* m = std::getenv("PKCS11_MODULE")) module = m;
    if (!module.empty() && ENGINE_ctrl_cmd_string(engine->e, "MODULE_PATH", module.c_str(), 0) != 1)
        return key_error(fmt::format("pkcs11 engine refused the module {}: {}", module, openssl_errors()));
    if (pin && ENGINE_ctrl_cmd_string(engine->e, "PIN", pin->c_str(), 0) != 1)
        return key_error(fmt::format("pkcs11 engine refused the PIN: {}", openssl_errors()));
    if (ENGINE_init(engine->e) != 1)
        return key_error(fmt::format("cannot initialise the PKCS#11 module {}: {}", module.empty() ? "(default)" : module,
                                     openssl_errors()));
    engine->initialised = true;
    EVP_PKEY* k = ENGINE_load_private_key(engine->e, cfg.pkcs11_uri.c_str(), nullptr, nullptr);
    if (k == nullptr)
        return key_error(fmt::format("no private key at {} (token absent, wrong PIN or object): {}", cfg.pkcs11_uri,
                                     openssl_errors()));
    return loaded{pkey_ptr(k), std::move(cert.value()), std::move(engine)};
}

}  // namespace

result<std::shared_ptr<identity>> open_identity(const identity_config& cfg) {
    const auto alg = algorithm_from_name(cfg.algorithm);
    if (!alg)
        return error(errc::sign_unsupported,
                     fmt::format("identity '{}': unknown algorithm '{}' (sm2-sm3, rsa-sha1, rsa-sha256, ecdsa-sha256)",
                                 cfg.name, cfg.algorithm));
    if (uses_sha1(*alg) && !cfg.allow_sha1)
        return error(errc::sign_unsupported,
                     fmt::format("identity '{}': rsa-sha1 signs only where the endpoint's policy allows SHA-1 (allow_sha1)", cfg.name));
    sm2_encoding enc;
    if (cfg.sm2_encoding == "raw") enc = sm2_encoding::raw;
    else if (cfg.sm2_encoding == "der") enc = sm2_encoding::der;
    else return error(errc::sign_unsupported, fmt::format("identity '{}': sm2_encoding must be raw or der", cfg.name));
    if (*alg == algorithm::sm2_sm3 && cfg.source == key_source::pkcs11)
        return error(errc::sign_unsupported,
                     fmt::format("identity '{}': SM2 on a PKCS#11 token needs a vendor mechanism that the pkcs11 engine "
                                 "does not offer; use a PEM or PKCS#12 key for sm2-sm3", cfg.name));

    auto secret = read_secret(cfg);
    if (!secret) return secret.err();
    const auto& pw = secret.value();
    // The password or PIN is wiped from our memory once the key is loaded, whatever the outcome.
    struct wipe {
        std::optional<std::string>& s;
        ~wipe() {
            if (s) OPENSSL_cleanse(s->data(), s->size());
        }
    } wipe_secret{secret.value()};

    loaded l;
    switch (cfg.source) {
    case key_source::file: {
        if (cfg.key_file.empty() || cfg.cert_file.empty()) return key_error(fmt::format("identity '{}': key_file and cert_file are required", cfg.name));
        auto key = load_pem_key(cfg, pw);
        if (!key) return key.err();
        auto cert = load_cert(cfg.cert_file);
        if (!cert) return cert.err();
        l.key = std::move(key.value());
        l.cert = std::move(cert.value());
        break;
    }
    case key_source::pkcs12: {
        if (cfg.pkcs12_file.empty()) return key_error(fmt::format("identity '{}': pkcs12_file is required", cfg.name));
        auto r = load_pkcs12(cfg, pw);
        if (!r) return r.err();
        l = std::move(r.value());
        break;
    }
    case key_source::pkcs11: {
        auto r = load_pkcs11(cfg, pw);
        if (!r) return r.err();
        l = std::move(r.value());
        break;
    }
    }

    const auto kind = kind_of(l.key.get());
    if (!suits(*alg, kind))
        return key_error(fmt::format("identity '{}': the key does not suit {} (RSA for rsa-*, EC P-256 for ecdsa-sha256, "
                                     "SM2 for sm2-sm3)", cfg.name, algorithm_name(*alg)));
    EVP_PKEY* pub = X509_get0_pubkey(l.cert.get());
    if (pub == nullptr || EVP_PKEY_eq(pub, l.key.get()) == 0)
        return key_error(fmt::format("identity '{}': the private key does not belong to the certificate", cfg.name));
    ERR_clear_error();

    auto id = std::make_shared<key_identity>(cfg, *alg, enc, std::move(l.key), std::move(l.cert), std::move(l.engine));
    if (auto s = id->prepare(); !s) return s.err();
    return std::shared_ptr<identity>(std::move(id));
}

}  // namespace portgate::sign

// Enveloped XML signatures for customs messages (FORMATS.md §4): signing identities (PEM, PKCS#12 or a
// PKCS#11 token), signing a document without re-serialising it, and verification with an allow-list
// policy whose verdict (valid / invalid with a reason) is kept apart from "could not check" errors.
//
// The whole API:
//   auto id = sign::open_identity(cfg);                       // once, at start-up: loads key + certificate
//   auto signed_bytes = sign::sign_document(**id, bytes, sign::placement::last_child());
//   auto v = sign::verify_document(signed_bytes.value(), sign::verify_policy{});
//   if (v && v->valid) …  else if (v) reject(v->reason)  else could_not_check(v.err())
// Identities are thread-safe; share one std::shared_ptr per configured key.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/error.hpp"
#include "gateway/xml/parser.hpp"

namespace portgate::sign {

// ---------------------------------------------------------------------------------------------------
// Algorithms and their URIs

enum class algorithm { sm2_sm3, rsa_sha1, rsa_sha256, ecdsa_sha256 };

// "sm2-sm3", "rsa-sha1", "rsa-sha256", "ecdsa-sha256" — the names used in config and on the CLI.
std::string_view algorithm_name(algorithm a);
std::optional<algorithm> algorithm_from_name(std::string_view name);
std::string_view signature_method_uri(algorithm a);
std::string_view digest_method_uri(algorithm a);
bool uses_sha1(algorithm a);

inline constexpr std::string_view dsig_ns = "http://www.w3.org/2000/09/xmldsig#";
inline constexpr std::string_view c14n_uri = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
inline constexpr std::string_view enveloped_uri = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
inline constexpr std::string_view sm2_sm3_uri = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3";
inline constexpr std::string_view sm3_uri = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm3";
inline constexpr std::string_view rsa_sha1_uri = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
inline constexpr std::string_view rsa_sha256_uri = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
inline constexpr std::string_view ecdsa_sha256_uri = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
inline constexpr std::string_view sha1_uri = "http://www.w3.org/2000/09/xmldsig#sha1";
inline constexpr std::string_view sha256_uri = "http://www.w3.org/2001/04/xmlenc#sha256";

inline constexpr std::string_view default_sm2_id = "1234567812345678";

// How an SM2 SignatureValue is encoded: the 64 bytes r‖s (default; what the customs samples carry) or
// the DER SEQUENCE OpenSSL produces. ECDSA is always r‖s (XML-DSig 1.1), RSA is PKCS#1 v1.5.
enum class sm2_encoding { raw, der };

// ---------------------------------------------------------------------------------------------------
// Signing identities

enum class key_source { file, pkcs12, pkcs11 };

// What the gateway's TOML loader fills for one signing identity. Secrets never appear here: passwords
// and PINs come from an environment variable or a file.
struct identity_config {
    std::string name;                      // for logs and metrics
    key_source source = key_source::file;
    std::string key_file;                  // file: PEM private key (PKCS#8 or traditional, optionally encrypted)
    std::string cert_file;                 // file, pkcs11: PEM (or DER) certificate; pkcs12: optional override
    std::string pkcs12_file;               // pkcs12: bundle with key and certificate
    std::string pkcs11_uri;                // pkcs11: RFC 7512 URI of the private key, e.g. pkcs11:token=t;object=k
    std::string pkcs11_module;             // pkcs11: module (.so); empty = $PKCS11_MODULE or the engine's default
    std::string password_env;              // variable holding the key password / PKCS#12 password / PIN
    std::string password_file;             // file whose first line is that password / PIN
    std::string algorithm = "sm2-sm3";     // see algorithm_name()
    std::string sm2_id = std::string(default_sm2_id);
    std::string sm2_encoding = "raw";      // "raw" | "der"
    bool allow_sha1 = false;               // rsa-sha1 may only sign when the endpoint's policy allows it
    std::string key_name;                  // KeyName text; empty = the certificate serial in hex
    // Signatures per minute; 0 = unlimited (the default for files). A USB key manages about 250.
    // When the budget is spent, sign calls wait (back-pressure) instead of failing.
    double per_minute = 0;
    int burst = 1;                         // signatures allowed back to back before the rate applies
    int expiry_warning_days = 30;          // expiry_warning() turns true this many days before notAfter
};

struct identity_stats {
    std::uint64_t signatures = 0;
    std::uint64_t waits = 0;               // signatures that had to wait for the rate limit
    std::chrono::nanoseconds waited{0};    // total time spent waiting
};

class identity {
public:
    virtual ~identity() = default;

    virtual const std::string& name() const = 0;
    virtual algorithm alg() const = 0;
    virtual const std::string& key_name() const = 0;        // KeyName written into KeyInfo
    virtual const std::string& certificate_base64() const = 0;  // DER, base64, no line breaks
    virtual const std::string& certificate_serial() const = 0;  // hex, upper case
    virtual const std::string& certificate_subject() const = 0;
    virtual std::chrono::system_clock::time_point not_after() const = 0;
    // Days until the certificate expires (negative once it has), and whether that is under the threshold.
    virtual double days_left(std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const = 0;
    virtual bool expiry_warning(std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const = 0;
    virtual identity_stats stats() const = 0;

    // Signs `data` (for XML: the canonical SignedInfo) with the identity's algorithm and encoding. Waits
    // for the rate limit first. Thread-safe. Errors: sign_failed.
    virtual result<std::string> sign_bytes(std::string_view data) const = 0;
};

// Loads the key and the certificate once, checks that they belong together and suit the algorithm.
// Errors: sign_key_unavailable (unreadable file, wrong password, token/module missing, key ≠ certificate),
// sign_unsupported (unknown algorithm, rsa-sha1 without allow_sha1, SM2 on a PKCS#11 token).
result<std::shared_ptr<identity>> open_identity(const identity_config& cfg);

// ---------------------------------------------------------------------------------------------------
// Signing

// Where ds:Signature goes among the root's children. CBEC import family: last child (after
// ExtendMessage). CBEC export family: before ExtendMessage — when that child is absent, last.
struct placement {
    std::string before;  // local name ("ExtendMessage") or "{namespace}local"; empty = last child

    static placement last_child() { return {}; }
    static placement before_child(std::string name) { return {std::move(name)}; }
};

struct sign_options {
    xml::limits limits{};
};

// Returns `bytes` with a ds:Signature inserted: the original bytes are kept as they are, only the
// Signature element's text is added (immediately before the tag that follows it), so what is signed is
// exactly what is sent. Errors: the parser's xml_* codes, sign_unsupported (already signed, UTF-16),
// sign_failed.
result<std::string> sign_document(const identity& id, std::string_view bytes, const placement& where = {},
                                  const sign_options& options = {});

// The same for a caller that has parsed `bytes` already (the pipeline parses each message once):
// `parsed` must come from exactly these bytes through xml::parse; it is only read.
result<std::string> sign_document(const identity& id, std::string_view bytes, const xml::document& parsed,
                                  const placement& where = {});

// As above, and the ds:Signature is also added to `parsed`, where it went in the bytes: the tree is then the
// signed document (whitespace around the signature aside), so a check of what is sent needs no second
// parse. Line numbers in the tree are still those of `bytes`.
result<std::string> sign_document_into(const identity& id, std::string_view bytes, xml::document& parsed,
                                       const placement& where = {});

// ---------------------------------------------------------------------------------------------------
// Verification

struct verify_policy {
    // Allowed SignatureMethods; SHA-1 (rsa-sha1 and the sha1 DigestMethod) additionally needs allow_sha1.
    std::vector<algorithm> allowed = {algorithm::sm2_sm3, algorithm::rsa_sha256, algorithm::ecdsa_sha256,
                                      algorithm::rsa_sha1};
    bool allow_sha1 = false;
    // The expected signer certificate (PEM or DER bytes). When set, a certificate in KeyInfo must be
    // this one; when KeyInfo has none, this one is used.
    std::string certificate;
    // PEM file of trusted CA certificates; when set, the signer certificate must chain to one of them
    // (validity period included).
    std::string trusted_ca_file;
    std::string sm2_id = std::string(default_sm2_id);
    std::optional<sm2_encoding> sm2_enc;   // nullopt = accept both (64 bytes = r‖s, else DER)
    bool allow_comments = false;           // comments inside the root element are refused by default
    xml::limits limits{};
};

struct verdict {
    bool valid = false;
    std::string code;     // stable reason id when invalid, e.g. "digest_mismatch" (see docs/signing.md)
    std::string reason;   // a sentence for people
    std::optional<algorithm> alg;
    std::string key_name;
    std::string signer_subject;
    std::string signer_serial;
};

// Errors ("could not check") only: signature_unverifiable (no certificate in KeyInfo nor in the policy,
// unreadable certificate or CA file), internal. A document that is malformed, unsigned, tampered or
// against the policy is a verdict with valid = false.
result<verdict> verify_document(std::string_view bytes, const verify_policy& policy = {});

}  // namespace portgate::sign

// The one error catalogue of portgate: stable numeric codes, each mapped once to an HTTP status and a
// partner-facing code string. Values are never reused; new codes are appended inside their block.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace portgate {

enum class errc : std::uint16_t {
    ok = 0,

    // 1xx — the request itself (HTTP edge, authentication, limits on the envelope)
    unauthorized = 101,           // no or wrong partner credential
    forbidden = 102,              // credential valid, action not allowed
    payload_too_large = 103,      // body / file over the configured size limit
    unsupported_media_type = 104, // body is not XML (content type or first byte)
    not_found = 105,              // unknown resource, or one the partner may not see
    bad_request = 106,            // malformed request (query, path, headers)
    overloaded = 107,             // worker queue full: retry later
    method_not_allowed = 108,
    request_timeout = 109,

    // 2xx — XML well-formedness and hardening limits
    xml_malformed = 201,          // not well-formed (libxml2's message, line and column)
    xml_dtd_forbidden = 202,      // a DOCTYPE: DTDs and entities are never processed
    xml_too_deep = 203,           // nesting deeper than limits.max_depth
    xml_too_many_elements = 204,  // more elements than limits.max_elements
    xml_too_large = 205,          // document over limits.max_bytes
    xml_bad_encoding = 206,       // invalid byte sequence for the declared encoding
    xml_value_too_long = 207,     // text or attribute value over the parser's value limit
    xml_empty = 208,              // no document at all

    // 3xx — routing and validation verdicts
    schema_invalid = 301,         // XSD validation failed (errors carry line, column, message)
    no_route = 302,               // no route for this partner and root element
    unknown_schema = 303,         // a route names a schema the catalog does not have
    rule_violated = 304,          // a business rule (xsd/rules/*.toml) failed: rule id, path, line, customs code
    unknown_type = 305,           // the document's root matches no registered message type (xsd/families/)
    mapping_failed = 306,         // a mapping stopped: unknown code, missing parameter, xsl:message terminate
    mapping_output_invalid = 307, // a mapping's output breaks the customs schema or business rules

    // 4xx — XML signatures (gateway/sign)
    sign_key_unavailable = 401,   // key or certificate could not be loaded (file, password, token, mismatch)
    sign_failed = 402,            // the signing operation itself failed (token removed, provider error): retry
    sign_unsupported = 403,       // document cannot be signed as asked (already signed, encoding, policy)
    signature_invalid = 404,      // verdict: the signature does not verify or breaks the policy (reason)
    signature_unverifiable = 405, // could not check: no certificate to check against, unreadable certificate

    // 5xx — could not decide (retryable)
    store_failed = 501,
    internal = 502,
    io_error = 503,
    shutting_down = 504,

    // 6xx — configuration (start-up only)
    config_invalid = 601,
};

// "PG-201" — the code partners and operators see in JSON and in .err.json files.
std::string code_string(errc e);
// Short stable identifier, e.g. "xml_dtd_forbidden".
std::string_view code_name(errc e);
// HTTP status answered for this code (200 for ok).
int http_status(errc e);
// True for "could not decide" errors that a caller may retry; false for verdicts.
bool is_retryable(errc e);

// One finding about a document or a request: where (line/column, 0 = unknown; path when known) and what.
struct problem {
    int line = 0;
    int column = 0;
    std::string path;
    std::string message;
    std::string rule;  // schema constraint or business-rule id when one applies
};

// An error value: a code, a human sentence, and optional detailed problems.
struct error {
    errc code = errc::internal;
    std::string message;
    std::vector<problem> problems;

    error() = default;
    error(errc c, std::string m, std::vector<problem> p = {})
        : code(c), message(std::move(m)), problems(std::move(p)) {}
};

// Minimal expected-like result (std::expected is C++23; Debian's g++ 12 lacks it).
template <class T>
class result {
public:
    result(T v) : v_(std::in_place_index<0>, std::move(v)) {}
    result(error e) : v_(std::in_place_index<1>, std::move(e)) {}
    explicit operator bool() const { return v_.index() == 0; }
    bool has_value() const { return v_.index() == 0; }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    T& operator*() & { return std::get<0>(v_); }
    const T& operator*() const& { return std::get<0>(v_); }
    const error& err() const { return std::get<1>(v_); }
    error& err() { return std::get<1>(v_); }

private:
    std::variant<T, error> v_;
};

struct unit {};
using status = result<unit>;
inline status ok() { return unit{}; }

}  // namespace portgate

// Mapping of the error catalogue to names, partner-facing codes and HTTP statuses.
#include "gateway/core/error.hpp"

#include <fmt/format.h>

namespace portgate {

std::string code_string(errc e) { return fmt::format("PG-{:03}", static_cast<int>(e)); }

std::string_view code_name(errc e) {
    switch (e) {
    case errc::ok: return "ok";
    case errc::unauthorized: return "unauthorized";
    case errc::forbidden: return "forbidden";
    case errc::payload_too_large: return "payload_too_large";
    case errc::unsupported_media_type: return "unsupported_media_type";
    case errc::not_found: return "not_found";
    case errc::bad_request: return "bad_request";
    case errc::overloaded: return "overloaded";
    case errc::method_not_allowed: return "method_not_allowed";
    case errc::request_timeout: return "request_timeout";
    case errc::xml_malformed: return "xml_malformed";
    case errc::xml_dtd_forbidden: return "xml_dtd_forbidden";
    case errc::xml_too_deep: return "xml_too_deep";
    case errc::xml_too_many_elements: return "xml_too_many_elements";
    case errc::xml_too_large: return "xml_too_large";
    case errc::xml_bad_encoding: return "xml_bad_encoding";
    case errc::xml_value_too_long: return "xml_value_too_long";
    case errc::xml_empty: return "xml_empty";
    case errc::schema_invalid: return "schema_invalid";
    case errc::no_route: return "no_route";
    case errc::unknown_schema: return "unknown_schema";
    case errc::rule_violated: return "rule_violated";
    case errc::unknown_type: return "unknown_type";
    case errc::mapping_failed: return "mapping_failed";
    case errc::mapping_output_invalid: return "mapping_output_invalid";
    case errc::sign_key_unavailable: return "sign_key_unavailable";
    case errc::sign_failed: return "sign_failed";
    case errc::sign_unsupported: return "sign_unsupported";
    case errc::signature_invalid: return "signature_invalid";
    case errc::signature_unverifiable: return "signature_unverifiable";
    case errc::store_failed: return "store_failed";
    case errc::internal: return "internal";
    case errc::io_error: return "io_error";
    case errc::shutting_down: return "shutting_down";
    case errc::config_invalid: return "config_invalid";
    }
    return "unknown";
}

int http_status(errc e) {
    switch (e) {
    case errc::ok: return 200;
    case errc::unauthorized: return 401;
    case errc::forbidden: return 403;
    case errc::payload_too_large: return 413;
    case errc::unsupported_media_type: return 415;
    case errc::not_found: return 404;
    case errc::bad_request: return 400;
    case errc::overloaded: return 503;
    case errc::method_not_allowed: return 405;
    case errc::request_timeout: return 408;
    case errc::xml_too_large: return 413;
    case errc::xml_malformed:
    case errc::xml_dtd_forbidden:
    case errc::xml_too_deep:
    case errc::xml_too_many_elements:
    case errc::xml_bad_encoding:
    case errc::xml_value_too_long:
    case errc::xml_empty:
    case errc::schema_invalid:
    case errc::no_route:
    case errc::rule_violated:
    case errc::unknown_type:
    case errc::mapping_failed:
    case errc::mapping_output_invalid:
    case errc::sign_unsupported:
    case errc::signature_invalid: return 422;
    case errc::sign_key_unavailable:
    case errc::sign_failed:
    case errc::signature_unverifiable: return 500;
    case errc::unknown_schema:
    case errc::store_failed:
    case errc::internal:
    case errc::io_error:
    case errc::config_invalid: return 500;
    case errc::shutting_down: return 503;
    }
    return 500;
}

bool is_retryable(errc e) {
    switch (e) {
    case errc::overloaded:
    case errc::store_failed:
    case errc::internal:
    case errc::io_error:
    case errc::shutting_down:
    case errc::sign_failed:
    case errc::request_timeout: return true;
    default: return false;
    }
}

}  // namespace portgate

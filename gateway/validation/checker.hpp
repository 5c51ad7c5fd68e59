// One judgement of a document, the same for `portgate validate`, the intake pipeline and the tests:
// parse (hardened) → detect the type → XSD of that type (draft or as-sent profile) → business rules.
// Everything it needs is loaded once from xsd/ into `knowledge` and shared read-only by all threads.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/error.hpp"
#include "gateway/formats/calendar.hpp"
#include "gateway/formats/codes.hpp"
#include "gateway/formats/receipt.hpp"
#include "gateway/formats/registry.hpp"
#include "gateway/rules/rules.hpp"
#include "gateway/xml/parser.hpp"
#include "gateway/xsd/validator.hpp"

namespace portgate::validation {

struct knowledge {
    std::shared_ptr<const xsd::catalog> catalog;
    std::shared_ptr<const formats::registry> types;
    std::shared_ptr<const formats::code_tables> codes;
    std::shared_ptr<const formats::calendar> calendar;
    std::shared_ptr<const rules::rule_book> rules;
    std::shared_ptr<const formats::receipt_reader> receipts;

    // xsd_dir holds catalog.toml, families/, rules/, codes/ and calendar.toml. `calendar_file` overrides
    // xsd/calendar.toml. Every problem of every file is reported with file and line.
    static result<std::shared_ptr<const knowledge>> load(const std::filesystem::path& xsd_dir,
                                                         const std::filesystem::path& calendar_file = {});
};

enum class profile { automatic, draft, sent };

struct options {
    std::string type = "auto";  // a registered type id, or auto
    bool rules = true;
    std::string schema;  // catalog name overriding the type's own schema ("" = the type's)
    profile prof = profile::automatic;  // automatic: "sent" when the root carries a ds:Signature, else "draft"
    std::optional<formats::civil_seconds> now;  // fixes pg:now() (tests)
};

struct report {
    errc code = errc::ok;  // ok or the verdict: xml_*, unknown_type, schema_invalid, rule_violated
    std::string message;
    const formats::type_info* type = nullptr;
    std::string schema;   // catalog name used
    std::string profile;  // draft | sent
    std::vector<problem> problems;  // what makes it invalid (errors)
    std::vector<problem> warnings;  // rule warnings (do not make it invalid)
    std::vector<formats::key_values> keys;
    std::shared_ptr<report> inner;  // the business document inside a DxpMsg
    bool valid() const { return code == errc::ok; }
};

// Error (not a verdict): the document could not be checked (a broken rule file, out of memory …).
result<report> check(const knowledge& k, std::string_view bytes, const options& opt, const xml::limits& lim,
                     std::string_view name = "document");
// Same, for a document the caller has already parsed from `bytes`.
result<report> check_parsed(const knowledge& k, const xml::document& doc, std::string_view bytes, const options& opt,
                            const xml::limits& lim, std::string_view name = "document");

}  // namespace portgate::validation

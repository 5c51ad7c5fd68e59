// Business rules beyond the XSD, as data (xsd/rules/<family>.toml): Schematron-like XPath assertions, each
// with a stable id, a severity, a message and the customs error it prevents. Compiled once at load time;
// checked after the schema on any number of threads.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "gateway/core/error.hpp"
#include "gateway/formats/calendar.hpp"
#include "gateway/formats/codes.hpp"
#include "gateway/formats/registry.hpp"
#include "gateway/rules/expr.hpp"
#include "gateway/xml/xpath.hpp"

namespace portgate::rules {

// What the extension functions (pg:in-table, pg:is-working-time …) see.
struct environment {
    std::shared_ptr<const formats::code_tables> codes;
    std::shared_ptr<const formats::calendar> calendar;
    std::optional<formats::civil_seconds> now;  // fixed "now" for tests; the machine clock when empty
};

// The namespace of portgate's XPath extension functions (prefix pg).
inline constexpr const char* functions_namespace = "urn:portgate:xpath";

namespace detail {
// What pg:in-table, pg:decimals and pg:resident-id compute, for libxml2's XPath and portgate's own evaluation.
bool in_table(const environment* env, std::string_view table, std::string_view value);
std::size_t decimal_places(std::string_view v);
bool resident_id(std::string_view v);
std::string_view trim_view(std::string_view s);
}  // namespace detail

// Registers pg:in-table, pg:code, pg:decimals, pg:matches, pg:now, pg:hours-between, pg:is-working-time and
// pg:last-close-before (and the pg prefix) on a libxml2 XPath context.
void register_functions(xmlXPathContext* ctx);

// Makes `env` the environment of the extension functions on this thread for the guard's lifetime.
class environment_scope {
public:
    explicit environment_scope(const environment* env);
    ~environment_scope();
    environment_scope(const environment_scope&) = delete;
    environment_scope& operator=(const environment_scope&) = delete;

private:
    const environment* previous_;
};

// While one is alive on a thread, pg:code of an unknown code stops the evaluation (an XPath error) and
// records why — the mappings' behaviour; rules get '' instead.
class strict_codes_scope {
public:
    strict_codes_scope();
    ~strict_codes_scope();
    strict_codes_scope(const strict_codes_scope&) = delete;
    strict_codes_scope& operator=(const strict_codes_scope&) = delete;
    // The first failure recorded in this scope ("" when none).
    const std::string& failure() const;
};

enum class stage { any, draft, sent };

// A rule context that is only a union of absolute child paths ("/ceb:A/ceb:B/ceb:c | /ceb:A/ceb:B/ceb:d", the
// common case) is selected by a walk of the tree that follows those paths, not by the XPath engine: the same
// nodes in the same (document) order, without libxml2's node-set machinery. Anything else (predicates, //,
// axes, functions) stays XPath.
class path_union {
public:
    // Empty when `text` is not such a union, or uses a prefix `namespaces` does not bind.
    static std::optional<path_union> parse(std::string_view text, const xml::namespace_list& namespaces);
    std::vector<xmlNode*> select(xmlDoc* doc) const;

private:
    struct step {
        std::string ns, name;  // ns "" = no namespace
        bool selected = false;  // a path of the union ends here
        std::vector<step> next;
    };
    void walk(xmlNode* element, const std::vector<step>& steps, std::vector<xmlNode*>& out, namespace_memo& namespaces) const;
    std::vector<step> roots_;
};

struct rule {
    std::string id, family, severity, message, customs_code, file;
    stage applies_at = stage::any;  // draft = before signing only, sent = as sent (signed) only
    std::vector<std::string> types;  // empty = every type of the family
    xml::xpath_expr context, assertion, value;
    std::optional<path_union> context_paths;  // the context, when it is a union of child paths (selected by a walk)
    std::optional<fast_expr> fast_context;     // else the context, and the assertion, when within fast_expr's part of
    std::optional<fast_expr> fast_assertion;   // XPath (nearly all rules); otherwise libxml2's XPath evaluates them
    int line = 0;
};

struct finding {
    std::string rule, severity, message, customs_code, path;
    int line = 0;
    bool is_error() const { return severity == "error"; }
};

class rule_book {
public:
    // Loads every *.toml in `dir`, checking that families, types and code tables they name exist.
    static result<std::shared_ptr<const rule_book>> load(const std::filesystem::path& dir, const formats::registry& types,
                                                        const formats::code_tables& codes);

    // Runs the rules of `type` on `doc`. `profile` draft or sent (stage::any runs rules of every stage).
    // Error: a rule could not be evaluated (a bug in the rules file, reported as such, never a verdict).
    result<std::vector<finding>> check(const formats::type_info& type, xmlDoc* doc, const environment& env,
                                       stage profile) const;

    std::size_t size() const { return rules_.size(); }
    // The prefixes the rules of `family` use (the family's and the rule file's own).
    const xml::namespace_list& namespaces(std::string_view family) const;
    const std::vector<std::unique_ptr<rule>>& all() const { return rules_; }

private:
    std::vector<std::unique_ptr<rule>> rules_;
    std::map<std::string, std::vector<const rule*>, std::less<>> by_type_;
    std::map<std::string, xml::namespace_list, std::less<>> namespaces_;  // by family
};

// Problems for reports: "[RULE] message (prevents customs code X)" with path and line.
std::vector<problem> to_problems(const std::vector<finding>& findings, bool errors_only);

}  // namespace portgate::rules

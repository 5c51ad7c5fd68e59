#include "gateway/rules/rules.hpp"

#include "gateway/core/files.hpp"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <regex>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <libxml/xpathInternals.h>
#include <toml++/toml.h>

namespace portgate::rules {
namespace fs = std::filesystem;

namespace detail {

std::string_view trim_view(std::string_view s) {
    auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && ws(s.back())) s.remove_suffix(1);
    while (!s.empty() && ws(s.front())) s.remove_prefix(1);
    return s;
}

// What pg:in-table and pg:decimals compute, for libxml2's XPath and fast_expr alike.
bool in_table(const environment* env, std::string_view table, std::string_view value) {
    const formats::code_table* t = env && env->codes ? env->codes->table(table) : nullptr;
    return t && t->find(value) != nullptr;
}

std::size_t decimal_places(std::string_view v) {
    const auto dot = v.find('.');
    return dot == std::string_view::npos ? 0 : v.size() - dot - 1;
}

// A resident ID number (居民身份证号码, GB 11643): 18 characters, six digits of area (not starting with 0), a
// birth date yyyyMMdd with year 18xx–20xx, month 01–12 and day 01–31, three digits, and the ISO 7064 MOD 11-2
// check character (0–9 or upper-case X) over the first 17 digits.
bool resident_id(std::string_view v) {
    if (v.size() != 18) return false;
    for (std::size_t i = 0; i < 17; ++i)
        if (v[i] < '0' || v[i] > '9') return false;
    auto two = [&](std::size_t at) { return (v[at] - '0') * 10 + (v[at + 1] - '0'); };
    const int century = two(6), month = two(10), day = two(12);
    if (v[0] == '0' || century < 18 || century > 20 || month < 1 || month > 12 || day < 1 || day > 31) return false;
    static constexpr int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (std::size_t i = 0; i < 17; ++i) sum += (v[i] - '0') * weights[i];
    return v[17] == "10X98765432"[sum % 11];
}

}  // namespace detail

namespace {

using detail::decimal_places;
using detail::in_table;
using detail::resident_id;
using detail::trim_view;

thread_local const environment* current_env = nullptr;
thread_local int strict_depth = 0;
thread_local std::string strict_failure;

std::string pop_string(xmlXPathParserContext* ctxt) {
    xmlChar* s = xmlXPathPopString(ctxt);
    std::string r = s ? reinterpret_cast<const char*>(s) : "";
    if (s) xmlFree(s);
    return r;
}


std::string trim(const std::string& s) { return std::string(trim_view(s)); }


void return_string(xmlXPathParserContext* ctxt, const std::string& s) {
    valuePush(ctxt, xmlXPathNewString(reinterpret_cast<const xmlChar*>(s.c_str())));
}

formats::civil_seconds now_of(const environment* env) {
    return env && env->now ? *env->now : formats::now_civil();
}

// pg:in-table(table, value) → boolean
void fn_in_table(xmlXPathParserContext* ctxt, int nargs) {
    if (nargs != 2) {
        xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
        return;
    }
    std::string value = trim(pop_string(ctxt));
    std::string table = pop_string(ctxt);
    valuePush(ctxt, xmlXPathNewBoolean(in_table(current_env, table, value)));
}

// pg:code(table, code-or-alias) → the code, or '' when unknown
void fn_code(xmlXPathParserContext* ctxt, int nargs) {
    if (nargs != 2) {
        xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
        return;
    }
    std::string value = trim(pop_string(ctxt));
    std::string table = pop_string(ctxt);
    std::string out;
    const formats::code_table* t = current_env && current_env->codes ? current_env->codes->table(table) : nullptr;
    if (t)
        if (auto* e = t->lookup(value)) out = e->code;
    if (out.empty() && strict_depth > 0) {
        if (strict_failure.empty())
            strict_failure = t ? fmt::format("pg:code('{}', '{}'): no such code or alias in xsd/codes/{}.tsv", table, value, table)
                               : fmt::format("pg:code('{}', '{}'): there is no code table '{}'", table, value, table);
        xmlXPathErr(ctxt, XPATH_EXPR_ERROR);
        return;
    }
    return_string(ctxt, out);
}

// pg:decimals(x) → digits after the decimal point
void fn_decimals(xmlXPathParserContext* ctxt, int nargs) {
    if (nargs != 1) {
        xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
        return;
    }
    valuePush(ctxt, xmlXPathNewFloat(static_cast<double>(decimal_places(trim_view(pop_string(ctxt))))));
}

// pg:resident-id(x) → whether string(x) is a valid resident ID number (exactly, no trimming)
void fn_resident_id(xmlXPathParserContext* ctxt, int nargs) {
    if (nargs != 1) {
        xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
        return;
    }
    valuePush(ctxt, xmlXPathNewBoolean(resident_id(pop_string(ctxt))));
}

// pg:matches(x, regex) → whole-string ECMAScript match
void fn_matches(xmlXPathParserContext* ctxt, int nargs) {
    if (nargs != 2) {
        xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
        return;
    }
    std::string re = pop_string(ctxt);
    std::string v = pop_string(ctxt);
    thread_local std::unordered_map<std::string, std::regex> cache;
    auto it = cache.find(re);
    if (it == cache.end()) {
        try {
            it = cache.emplace(re, std::regex(re, std::regex::ECMAScript)).first;
        } catch (const std::regex_error&) {
            xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
            return;
        }
    }
    valuePush(ctxt, xmlXPathNewBoolean(std::regex_match(v, it->second)));
}

void fn_now(xmlXPathParserContext* ctxt, int nargs) {
    if (nargs != 0) {
        xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
        return;
    }
    return_string(ctxt, formats::format_compact(now_of(current_env)));
}

// pg:hours-between(a, b) → (b − a) in hours, NaN when either is not a time
void fn_hours_between(xmlXPathParserContext* ctxt, int nargs) {
    if (nargs != 2) {
        xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
        return;
    }
    auto b = formats::parse_civil(trim(pop_string(ctxt)));
    auto a = formats::parse_civil(trim(pop_string(ctxt)));
    double h = (a && b) ? static_cast<double>(*b - *a) / 3600.0 : std::nan("");
    valuePush(ctxt, xmlXPathNewFloat(h));
}

void fn_is_working_time(xmlXPathParserContext* ctxt, int nargs) {
    if (nargs != 1) {
        xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
        return;
    }
    auto t = formats::parse_civil(trim(pop_string(ctxt)));
    static const formats::calendar fallback;
    const formats::calendar& cal = current_env && current_env->calendar ? *current_env->calendar : fallback;
    valuePush(ctxt, xmlXPathNewBoolean(t && cal.is_working_time(*t)));
}

void fn_last_close_before(xmlXPathParserContext* ctxt, int nargs) {
    if (nargs != 1) {
        xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
        return;
    }
    auto t = formats::parse_civil(trim(pop_string(ctxt)));
    static const formats::calendar fallback;
    const formats::calendar& cal = current_env && current_env->calendar ? *current_env->calendar : fallback;
    std::optional<formats::civil_seconds> c;
    if (t) c = cal.last_close_before(*t);
    return_string(ctxt, c ? formats::format_compact(*c) : std::string());
}

// pg:abs(x)
void fn_abs(xmlXPathParserContext* ctxt, int nargs) {
    if (nargs != 1) {
        xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
        return;
    }
    double v = xmlXPathPopNumber(ctxt);
    valuePush(ctxt, xmlXPathNewFloat(std::fabs(v)));
}

// pg:round(x, n) → x rounded half away from zero to n decimals (customs amounts)
void fn_round(xmlXPathParserContext* ctxt, int nargs) {
    if (nargs != 2) {
        xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
        return;
    }
    double n = xmlXPathPopNumber(ctxt);
    double v = xmlXPathPopNumber(ctxt);
    double scale = std::pow(10.0, std::floor(n));
    valuePush(ctxt, xmlXPathNewFloat(std::round(v * scale) / scale));
}

// pg:sum-length(node-set) → the total number of characters of the nodes' string values
void fn_sum_length(xmlXPathParserContext* ctxt, int nargs) {
    if (nargs != 1) {
        xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
        return;
    }
    xmlNodeSet* ns = xmlXPathPopNodeSet(ctxt);
    double total = 0;
    if (ns) {
        for (int i = 0; i < ns->nodeNr; ++i) {
            xmlChar* s = xmlXPathCastNodeToString(ns->nodeTab[i]);
            if (s) {
                total += xmlUTF8Strlen(s);
                xmlFree(s);
            }
        }
        xmlXPathFreeNodeSet(ns);
    }
    valuePush(ctxt, xmlXPathNewFloat(total));
}

stage parse_stage(const std::string& s, bool& ok) {
    ok = true;
    if (s.empty() || s == "any") return stage::any;
    if (s == "draft") return stage::draft;
    if (s == "sent") return stage::sent;
    ok = false;
    return stage::any;
}

}  // namespace

void register_functions(xmlXPathContext* ctx) {
    auto ns = reinterpret_cast<const xmlChar*>(functions_namespace);
    xmlXPathRegisterNs(ctx, reinterpret_cast<const xmlChar*>("pg"), ns);
    auto reg = [&](const char* name, xmlXPathFunction f) { xmlXPathRegisterFuncNS(ctx, reinterpret_cast<const xmlChar*>(name), ns, f); };
    reg("in-table", fn_in_table);
    reg("code", fn_code);
    reg("decimals", fn_decimals);
    reg("matches", fn_matches);
    reg("resident-id", fn_resident_id);
    reg("now", fn_now);
    reg("hours-between", fn_hours_between);
    reg("is-working-time", fn_is_working_time);
    reg("last-close-before", fn_last_close_before);
    reg("abs", fn_abs);
    reg("round", fn_round);
    reg("sum-length", fn_sum_length);
}

strict_codes_scope::strict_codes_scope() {
    if (strict_depth++ == 0) strict_failure.clear();
}
strict_codes_scope::~strict_codes_scope() { --strict_depth; }
const std::string& strict_codes_scope::failure() const { return strict_failure; }

environment_scope::environment_scope(const environment* env) : previous_(current_env) { current_env = env; }
environment_scope::~environment_scope() { current_env = previous_; }

result<std::shared_ptr<const rule_book>> rule_book::load(const fs::path& dir, const formats::registry& types,
                                                         const formats::code_tables& codes) {
    auto book = std::make_shared<rule_book>();
    std::vector<problem> problems;
    auto add = [&](const std::string& file, int line, std::string msg) {
        problems.push_back({line, 0, file, fmt::format("{}:{}: {}", file, line, msg), ""});
    };
    const auto files = files_in(dir, {".toml"});
    std::set<std::string> ids;
    static const std::regex table_ref(R"(pg:(?:in-table|code)\(\s*'([^']*)')");
    static const std::regex id_shape("[A-Z0-9_]+");
    for (auto& path : files) {
        std::string file = path.string();
        toml::table tbl;
        try {
            tbl = toml::parse_file(file);
        } catch (const toml::parse_error& e) {
            add(file, static_cast<int>(e.source().begin.line), std::string(e.description()));
            continue;
        }
        std::string family = tbl["family"].value_or(path.stem().string());
        const formats::family_info* fam = types.family(family);
        if (!fam) {
            add(file, 1, fmt::format("family '{}' is not in the type registry (xsd/families/)", family));
            continue;
        }
        xml::namespace_list nsl = fam->namespaces;
        if (auto* ns = tbl["namespaces"].as_table())
            for (auto& [k, v] : *ns) nsl.emplace_back(std::string(k.str()), v.value_or(std::string()));
        book->namespaces_[family] = nsl;
        auto* arr = tbl["rule"].as_array();
        if (!arr) continue;
        for (auto& node : *arr) {
            auto* t = node.as_table();
            int line = static_cast<int>(node.source().begin.line);
            if (!t) {
                add(file, line, "[[rule]] must be a table");
                continue;
            }
            auto r = std::make_unique<rule>();
            r->file = file;
            r->line = line;
            r->family = family;
            r->id = (*t)["id"].value_or(std::string());
            r->severity = (*t)["severity"].value_or(std::string("error"));
            r->message = (*t)["message"].value_or(std::string());
            r->customs_code = (*t)["customs_code"].value_or(std::string());
            bool stage_ok;
            r->applies_at = parse_stage((*t)["stage"].value_or(std::string()), stage_ok);
            if (!stage_ok) add(file, line, fmt::format("rule {}: stage must be any, draft or sent", r->id));
            if (!std::regex_match(r->id, id_shape)) add(file, line, fmt::format("rule id '{}' must match [A-Z0-9_]+", r->id));
            else if (!ids.insert(r->id).second) add(file, line, fmt::format("rule id '{}' is used twice", r->id));
            if (r->severity != "error" && r->severity != "warning")
                add(file, line, fmt::format("rule {}: severity must be error or warning", r->id));
            if (r->message.empty()) add(file, line, fmt::format("rule {}: message is missing", r->id));
            if (auto* ty = (*t)["types"].as_array())
                for (auto& v : *ty) r->types.push_back(v.value_or(std::string()));
            for (auto& ty : r->types) {
                auto* ti = types.find(ty);
                if (!ti) add(file, line, fmt::format("rule {}: type '{}' is not registered", r->id, ty));
                else if (ti->family != family)
                    add(file, line, fmt::format("rule {}: type '{}' belongs to family '{}', not '{}'", r->id, ty, ti->family, family));
            }
            auto compile = [&](const char* key, xml::xpath_expr& into, bool required) {
                std::string text = (*t)[key].value_or(std::string());
                if (text.empty()) {
                    if (required) add(file, line, fmt::format("rule {}: {} is missing", r->id, key));
                    return;
                }
                for (std::sregex_iterator it(text.begin(), text.end(), table_ref), end; it != end; ++it)
                    if (!codes.table((*it)[1].str()))
                        add(file, line, fmt::format("rule {}: code table '{}' does not exist in xsd/codes/", r->id, (*it)[1].str()));
                auto c = xml::xpath_expr::compile(text);
                if (!c) add(file, line, fmt::format("rule {}: {}: {}", r->id, key, c.err().message));
                else into = std::move(c.value());
            };
            compile("context", r->context, true);
            compile("assert", r->assertion, true);
            compile("value", r->value, false);
            book->rules_.push_back(std::move(r));
        }
    }
    if (!problems.empty())
        return error(errc::config_invalid, fmt::format("{} problem(s) in the business rules of {}", problems.size(), dir.string()),
                     std::move(problems));
    for (auto& r : book->rules_) {
        r->context_paths = path_union::parse(r->context.text(), book->namespaces_[r->family]);
        const auto& nsl = book->namespaces_[r->family];
        if (!r->context_paths)
            if (auto c = fast_expr::compile(r->context.text(), nsl); c && c->result_type() == fast_expr::type::nodes) r->fast_context = std::move(c);
        r->fast_assertion = fast_expr::compile(r->assertion.text(), nsl);
        const formats::family_info* fam = types.family(r->family);
        for (auto* ti : fam->types)
            if (r->types.empty() || std::find(r->types.begin(), r->types.end(), ti->id) != r->types.end())
                book->by_type_[ti->id].push_back(r.get());
    }
    return std::shared_ptr<const rule_book>(book);
}

const xml::namespace_list& rule_book::namespaces(std::string_view family) const {
    static const xml::namespace_list none;
    auto it = namespaces_.find(family);
    return it == namespaces_.end() ? none : it->second;
}

std::optional<path_union> path_union::parse(std::string_view text, const xml::namespace_list& namespaces) {
    auto is_name = [](std::string_view n) {  // an NCName: no '*', '@', '(', '[', ':' …
        return !n.empty() && xmlValidateNCName(reinterpret_cast<const xmlChar*>(std::string(n).c_str()), 0) == 0;
    };
    path_union u;
    for (std::size_t from = 0;;) {
        const std::size_t bar = text.find('|', from);
        std::string_view branch = trim_view(text.substr(from, bar == std::string_view::npos ? std::string_view::npos : bar - from));
        if (branch.size() < 2 || branch[0] != '/' || branch[1] == '/') return std::nullopt;
        branch.remove_prefix(1);
        std::vector<step>* level = &u.roots_;
        for (std::size_t s = 0;;) {
            const std::size_t slash = branch.find('/', s);
            std::string_view name = branch.substr(s, slash == std::string_view::npos ? std::string_view::npos : slash - s);
            std::string ns;
            if (auto colon = name.find(':'); colon != std::string_view::npos) {
                std::string_view prefix = name.substr(0, colon);
                name.remove_prefix(colon + 1);
                // The last binding wins, as in the XPath context (each registration replaces the one before);
                // a prefix bound to no namespace selects nothing in XPath: left to it.
                auto bound = std::find_if(namespaces.rbegin(), namespaces.rend(), [&](auto& p) { return p.first == prefix; });
                if (!is_name(prefix) || bound == namespaces.rend() || bound->second.empty()) return std::nullopt;
                ns = bound->second;
            }
            if (!is_name(name)) return std::nullopt;  // *, @x, .., text(), predicates, axes: XPath's business
            auto at = std::find_if(level->begin(), level->end(), [&](const step& x) { return x.ns == ns && x.name == name; });
            if (at == level->end()) {
                level->push_back(step{ns, std::string(name), false, {}});
                at = level->end() - 1;
            }
            if (slash == std::string_view::npos) {
                at->selected = true;
                break;
            }
            level = &at->next;
            s = slash + 1;
        }
        if (bar == std::string_view::npos) break;
        from = bar + 1;
    }
    return u;
}

void path_union::walk(xmlNode* element, const std::vector<step>& steps, std::vector<xmlNode*>& out, namespace_memo& namespaces) const {
    const char* name = reinterpret_cast<const char*>(element->name);
    for (const step& st : steps) {
        // The name first: short, and it tells most elements apart at the first byte.
        if (st.name[0] != name[0] || std::strcmp(st.name.c_str(), name) != 0) continue;
        if (!namespaces.is(element->ns, st.ns)) continue;
        if (st.selected) out.push_back(element);
        if (!st.next.empty())
            for (xmlNode* c = element->children; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE) walk(c, st.next, out, namespaces);
        return;  // steps of one level differ by name or namespace: at most one matches
    }
}

std::vector<xmlNode*> path_union::select(xmlDoc* doc) const {
    std::vector<xmlNode*> out;
    namespace_memo namespaces;
    if (xmlNode* root = doc ? xmlDocGetRootElement(doc) : nullptr) walk(root, roots_, out, namespaces);
    return out;
}

result<std::vector<finding>> rule_book::check(const formats::type_info& type, xmlDoc* doc, const environment& env,
                                              stage profile) const {
    std::vector<finding> out;
    auto it = by_type_.find(type.id);
    if (it == by_type_.end()) return out;
    environment_scope scope(&env);
    // libxml2's XPath only for the few rules fast_expr does not take, and for messages' {value}: made when
    // first needed.
    std::optional<xml::xpath_context> xpath;
    auto ctx = [&]() -> xml::xpath_context& {
        if (!xpath) xpath.emplace(doc, namespaces(type.family), nullptr, &register_functions);
        return *xpath;
    };
    xmlNode* root = xmlDocGetRootElement(doc);
    // Rules often share a context (the item lines, the currency fields): each distinct one is selected once
    // per check. Rules only read the document, so the node-sets stay valid.
    std::vector<std::pair<const std::string*, std::vector<xmlNode*>>> selected;
    selected.reserve(it->second.size());
    for (const rule* r : it->second) {
        if (profile != stage::any && r->applies_at != stage::any && r->applies_at != profile) continue;
        const std::vector<xmlNode*>* nodes = nullptr;
        for (auto& [text, set] : selected)
            if (*text == r->context.text()) {
                nodes = &set;
                break;
            }
        if (!nodes) {
            if (r->context_paths) {
                selected.emplace_back(&r->context.text(), r->context_paths->select(doc));
            } else if (r->fast_context) {
                selected.emplace_back(&r->context.text(), r->fast_context->nodes(root, env));
            } else {
                auto fresh = ctx().nodes(r->context, root);
                if (!fresh)
                    return error(errc::internal, fmt::format("rule {} ({}:{}): context: {}", r->id, r->file, r->line, fresh.err().message));
                selected.emplace_back(&r->context.text(), std::move(fresh.value()));
            }
            nodes = &selected.back().second;
        }
        for (xmlNode* n : *nodes) {
            if (r->fast_assertion) {
                if (r->fast_assertion->boolean(n, env)) continue;
            } else {
                auto ok = ctx().boolean(r->assertion, n);
                if (!ok) return error(errc::internal, fmt::format("rule {} ({}:{}): assert: {}", r->id, r->file, r->line, ok.err().message));
                if (*ok) continue;
            }
            finding f;
            f.rule = r->id;
            f.severity = r->severity;
            f.customs_code = r->customs_code;
            f.message = r->message;
            if (r->value) {
                auto v = ctx().string(r->value, n);
                std::string shown = v ? v.value() : std::string("?");
                auto pos = f.message.find("{value}");
                if (pos != std::string::npos) f.message.replace(pos, 7, shown);
                else f.message += fmt::format(" (found: {})", shown);
            }
            f.path = xml::node_path(n);
            f.line = xml::node_line(n);
            out.push_back(std::move(f));
        }
    }
    return out;
}

std::vector<problem> to_problems(const std::vector<finding>& findings, bool errors_only) {
    std::vector<problem> out;
    for (auto& f : findings) {
        if (errors_only && !f.is_error()) continue;
        std::string msg = fmt::format("[{}] {}", f.rule, f.message);
        if (!f.customs_code.empty()) msg += fmt::format(" (prevents customs error {})", f.customs_code);
        if (!f.is_error()) msg = "warning: " + msg;
        msg += fmt::format(" at {}", f.path);
        out.push_back({f.line, 0, f.path, std::move(msg), f.rule});
    }
    return out;
}

}  // namespace portgate::rules

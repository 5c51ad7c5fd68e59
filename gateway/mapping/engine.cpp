#include "gateway/mapping/engine.hpp"

#include "gateway/core/files.hpp"
#include "gateway/core/ids.hpp"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <libexslt/exslt.h>
#include <libxml/xpathInternals.h>
#include <libxslt/documents.h>
#include <libxslt/security.h>
#include <libxslt/transform.h>
#include <libxslt/xslt.h>
#include <libxslt/xsltInternals.h>
#include <libxslt/xsltutils.h>
#include <openssl/rand.h>

#include "gateway/xml/parser.hpp"

namespace portgate::mapping {
namespace fs = std::filesystem;

namespace {

constexpr const char* fn_ns = "urn:portgate:xpath";

// ---- the restricted loader: xsl:import/include inside the mappings directory only; document() refused.
std::mutex loader_mutex;
fs::path allowed_root;  // set while a library loads (start-up only)

xmlDocPtr restricted_loader(const xmlChar* uri, xmlDictPtr, int, void*, xsltLoadType type) {
    if (type != XSLT_LOAD_STYLESHEET || !uri) return nullptr;  // document(): never
    std::string u = reinterpret_cast<const char*>(uri);
    if (u.rfind("file://", 0) == 0) u = u.substr(7);
    if (u.find("://") != std::string::npos) return nullptr;
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::path(u), ec);
    if (ec || allowed_root.empty()) return nullptr;
    auto rel = p.lexically_relative(allowed_root);
    if (rel.empty() || *rel.begin() == "..") return nullptr;
    std::ifstream in(p, std::ios::binary);
    if (!in) return nullptr;
    std::stringstream ss;
    ss << in.rdbuf();
    xml::limits lim;
    auto doc = xml::parse(ss.str(), lim, p.string());
    if (!doc) return nullptr;
    xmlDoc* d = doc->doc.release();
    if (!d->URL) d->URL = xmlStrdup(reinterpret_cast<const xmlChar*>(p.string().c_str()));
    return d;
}

// ---- per-run state for the extension functions (one transform at a time per thread).
struct run_state {
    const run_options* opt = nullptr;
    std::mt19937_64 rng;
    formats::civil_seconds now = 0;
    int now_ms = 0;
    std::string failure;
};
thread_local run_state* current = nullptr;

std::string pop_string(xmlXPathParserContext* ctxt) {
    xmlChar* s = xmlXPathPopString(ctxt);
    std::string r = s ? reinterpret_cast<const char*>(s) : "";
    if (s) xmlFree(s);
    auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!r.empty() && ws(r.back())) r.pop_back();
    std::size_t i = 0;
    while (i < r.size() && ws(r[i])) ++i;
    return r.substr(i);
}

void push_string(xmlXPathParserContext* ctxt, const std::string& s) {
    valuePush(ctxt, xmlXPathNewString(reinterpret_cast<const xmlChar*>(s.c_str())));
}

void fail(xmlXPathParserContext* ctxt, std::string why) {
    if (current && current->failure.empty()) current->failure = std::move(why);
    xmlXPathErr(ctxt, XPATH_EXPR_ERROR);
}

bool arity(xmlXPathParserContext* ctxt, int nargs, int want) {
    if (nargs == want) return true;
    xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
    return false;
}

std::string format_time(formats::civil_seconds t, int ms, const std::string& f, bool& ok) {
    std::string c = formats::format_compact(t);  // yyyyMMddHHmmss
    ok = true;
    if (f == "yyyyMMddHHmmss") return c;
    if (f == "yyyyMMddHHmmssSSS") return c + fmt::format("{:03}", ms);
    if (f == "yyyyMMdd") return c.substr(0, 8);
    if (f == "yyyy-MM-ddTHH:mm:ss")
        return fmt::format("{}-{}-{}T{}:{}:{}", c.substr(0, 4), c.substr(4, 2), c.substr(6, 2), c.substr(8, 2), c.substr(10, 2), c.substr(12, 2));
    if (f == "yyyy-MM-dd HH:mm:ss")
        return fmt::format("{}-{}-{} {}:{}:{}", c.substr(0, 4), c.substr(4, 2), c.substr(6, 2), c.substr(8, 2), c.substr(10, 2), c.substr(12, 2));
    ok = false;
    return {};
}

void fn_guid(xmlXPathParserContext* ctxt, int nargs) {
    if (!arity(ctxt, nargs, 0) || !current) return;
    std::uint64_t a = current->rng(), b = current->rng();
    push_string(ctxt, guid_from(a, b));
}

void fn_now(xmlXPathParserContext* ctxt, int nargs) {
    if (nargs > 1) {
        xmlXPathErr(ctxt, XPATH_INVALID_ARITY);
        return;
    }
    std::string f = nargs == 1 ? pop_string(ctxt) : "yyyyMMddHHmmss";
    if (!current) return;
    bool ok;
    std::string s = format_time(current->now, current->now_ms, f, ok);
    if (!ok) return fail(ctxt, fmt::format("pg:now('{}'): unknown format (yyyyMMddHHmmss, yyyyMMddHHmmssSSS, yyyyMMdd, yyyy-MM-ddTHH:mm:ss)", f));
    push_string(ctxt, s);
}

void fn_time(xmlXPathParserContext* ctxt, int nargs) {
    if (!arity(ctxt, nargs, 2)) return;
    std::string f = pop_string(ctxt);
    std::string v = pop_string(ctxt);
    auto t = formats::parse_civil(v);
    if (!t) return fail(ctxt, fmt::format("pg:time('{}'): not a time", v));
    int ms = 0;
    if (auto dot = v.find('.'); dot != std::string::npos && dot + 3 < v.size() + 0 && v.size() >= dot + 4)
        ms = std::atoi(v.substr(dot + 1, 3).c_str());
    else if (v.size() == 17 && v.find_first_not_of("0123456789") == std::string::npos)
        ms = std::atoi(v.substr(14).c_str());
    bool ok;
    std::string s = format_time(*t, ms, f, ok);
    if (!ok) return fail(ctxt, fmt::format("pg:time(…, '{}'): unknown format", f));
    push_string(ctxt, s);
}

double round_half_away(double x, int n) {
    double scale = std::pow(10.0, n);
    // Nudge by a relative epsilon so 2.675 (binary 2.67499…) rounds like the decimal it stands for.
    double v = x * scale;
    v = v >= 0 ? std::floor(v + 0.5 + 1e-9 * std::max(1.0, std::fabs(v))) : -std::floor(-v + 0.5 + 1e-9 * std::max(1.0, std::fabs(v)));
    return v / scale;
}

void fn_amount(xmlXPathParserContext* ctxt, int nargs) {
    if (!arity(ctxt, nargs, 2)) return;
    double n = xmlXPathPopNumber(ctxt);
    std::string raw = pop_string(ctxt);
    double x = xmlXPathCastStringToNumber(reinterpret_cast<const xmlChar*>(raw.c_str()));
    if (std::isnan(x) || std::isnan(n) || n < 0 || n > 10) return fail(ctxt, fmt::format("pg:amount('{}', {}): not an amount", raw, n));
    int digits = static_cast<int>(n);
    push_string(ctxt, fmt::format("{:.{}f}", round_half_away(x, digits), digits));
}

void fn_param(xmlXPathParserContext* ctxt, int nargs) {
    if (!arity(ctxt, nargs, 1)) return;
    std::string name = pop_string(ctxt);
    if (!current) return;
    const auto* params = current->opt->params;
    if (!params || !params->count(name))
        return fail(ctxt, fmt::format("pg:param('{}'): the route has no parameter '{}' ([route.params] in the config)", name, name));
    push_string(ctxt, params->at(name));
}

void fn_input(xmlXPathParserContext* ctxt, int nargs) {
    if (!arity(ctxt, nargs, 1)) return;
    std::string name = pop_string(ctxt);
    if (!current) return;
    auto it = current->opt->inputs.find(name);
    if (it == current->opt->inputs.end() || !it->second)
        return fail(ctxt, fmt::format("pg:input('{}'): no such input document (a join mapping gets it from the route's join)", name));
    valuePush(ctxt, xmlXPathNewNodeSet(xmlDocGetRootElement(it->second)));
}

thread_local const formats::code_tables* tl_codes = nullptr;

void fn_name_real(xmlXPathParserContext* ctxt, int nargs) {
    if (!arity(ctxt, nargs, 2)) return;
    std::string code = pop_string(ctxt);
    std::string table = pop_string(ctxt);
    std::string out;
    if (tl_codes)
        if (auto* t = tl_codes->table(table))
            if (auto* e = t->lookup(code)) out = e->name_zh;
    push_string(ctxt, out);
}

void register_mapping_functions(xmlXPathContext* x) {
    rules::register_functions(x);
    auto ns = reinterpret_cast<const xmlChar*>(fn_ns);
    auto reg = [&](const char* name, xmlXPathFunction f) { xmlXPathRegisterFuncNS(x, reinterpret_cast<const xmlChar*>(name), ns, f); };
    reg("guid", fn_guid);
    reg("now", nullptr);  // drop the rules' pg:now (no format argument) before adding ours
    reg("now", fn_now);
    reg("time", fn_time);
    reg("amount", fn_amount);
    reg("param", fn_param);
    reg("input", fn_input);
    reg("name", fn_name_real);
}

// libxslt's errors for one transform (xsl:message, XPath failures) — collected, never printed.
struct transform_errors {
    std::string text;
};
void collect_transform_error(void* data, const char* msg, ...) {
    auto* e = static_cast<transform_errors*>(data);
    char buf[1024];
    va_list ap;
    va_start(ap, msg);
    std::vsnprintf(buf, sizeof buf, msg, ap);
    va_end(ap);
    if (e && e->text.size() < 4096) e->text += buf;
}

std::string tidy(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    std::string out;
    for (char c : s) out += c == '\n' ? ' ' : c;
    return out;
}

// `indent`: libxml2's formatting (whitespace added between element-only children).
std::string dump_document(xmlDoc* d, bool indent) {
    xmlChar* buf = nullptr;
    int len = 0;
    xmlDocDumpFormatMemoryEnc(d, &buf, &len, "UTF-8", indent ? 1 : 0);
    std::string s = buf ? std::string(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(len)) : std::string();
    if (buf) xmlFree(buf);
    return s;
}

}  // namespace

void add_indentation(xmlDoc* doc) {
    // libxml2 (xmlsave.c): two spaces a level, capped at 60 characters (30 levels).
    static const std::string spaces(60, ' ');
    auto text = [doc](int level) {
        std::string s = "\n" + spaces.substr(0, static_cast<std::size_t>(std::min(level, 30)) * 2);
        return xmlNewDocTextLen(doc, reinterpret_cast<const xmlChar*>(s.data()), static_cast<int>(s.size()));
    };
    xmlNode* root = doc ? xmlDocGetRootElement(doc) : nullptr;
    if (!root) return;
    // Elements to format, with their level: their children are indented one level deeper.
    std::vector<std::pair<xmlNode*, int>> todo{{root, 0}};
    while (!todo.empty()) {
        auto [e, level] = todo.back();
        todo.pop_back();
        if (e->children == nullptr) continue;  // <a/>
        bool mixed = false;
        for (xmlNode* c = e->children; c != nullptr && !mixed; c = c->next)
            mixed = c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE || c->type == XML_ENTITY_REF_NODE;
        if (mixed) continue;  // written as it is, and all below it
        for (xmlNode* c = e->children; c != nullptr;) {
            xmlNode* next = c->next;
            xmlAddPrevSibling(c, text(level + 1));
            if (c->type == XML_ELEMENT_NODE) todo.emplace_back(c, level + 1);
            c = next;
        }
        xmlAddChild(e, text(level));
    }
}

struct library::compiled {
    std::string name;
    xsltStylesheetPtr style = nullptr;
    ~compiled() {
        if (style) xsltFreeStylesheet(style);
    }
};

void initialise() {
    static std::once_flag once;
    std::call_once(once, [] {
        xml::initialise();
        exsltRegisterAll();
        xsltSetLoaderFunc(&restricted_loader);
    });
}

library::~library() = default;

result<std::shared_ptr<const library>> library::load(const fs::path& dir, rules::environment env) {
    initialise();
    auto lib = std::shared_ptr<library>(new library());
    lib->env_ = std::move(env);
    std::error_code ec;
    const auto files = files_in(dir, {".xsl", ".xslt"});
    std::vector<problem> problems;
    std::lock_guard lock(loader_mutex);
    allowed_root = fs::weakly_canonical(dir, ec);
    for (auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        xml::limits lim;
        auto doc = xml::parse(ss.str(), lim, f.string());
        if (!doc) {
            for (auto& p : doc.err().problems)
                problems.push_back({p.line, p.column, f.string(), fmt::format("{}:{}: {}", f.string(), p.line, p.message), ""});
            if (doc.err().problems.empty()) problems.push_back({0, 0, f.string(), fmt::format("{}: {}", f.string(), doc.err().message), ""});
            continue;
        }
        xmlDoc* d = doc->doc.release();
        std::string abs = fs::weakly_canonical(f, ec).string();
        if (d->URL) xmlFree(const_cast<xmlChar*>(d->URL));
        d->URL = xmlStrdup(reinterpret_cast<const xmlChar*>(abs.c_str()));
        transform_errors errs;
        xsltSetGenericErrorFunc(&errs, &collect_transform_error);
        xmlSetGenericErrorFunc(&errs, &collect_transform_error);
        xsltStylesheetPtr style = xsltParseStylesheetDoc(d);
        xsltSetGenericErrorFunc(nullptr, nullptr);
        xmlSetGenericErrorFunc(nullptr, nullptr);
        if (!style || style->errors > 0) {
            if (style) xsltFreeStylesheet(style);
            else xmlFreeDoc(d);
            problems.push_back({0, 0, f.string(), fmt::format("{}: not a usable XSLT 1.0 stylesheet: {}", f.string(), tidy(errs.text)), ""});
            continue;
        }
        auto c = std::make_unique<compiled>();
        c->name = f.filename().string();
        c->style = style;
        lib->sheets_.emplace(c->name, std::move(c));
    }
    allowed_root.clear();
    if (!problems.empty())
        return error(errc::config_invalid, fmt::format("{} problem(s) in the mappings of {}", problems.size(), dir.string()), std::move(problems));
    return std::shared_ptr<const library>(lib);
}

bool library::has(std::string_view s) const { return sheets_.find(s) != sheets_.end(); }

std::vector<std::string> library::names() const {
    std::vector<std::string> r;
    for (auto& [k, v] : sheets_) r.push_back(k);
    return r;
}

result<std::vector<output>> library::apply(std::string_view name, xmlDoc* input, const run_options& opt) const {
    auto it = sheets_.find(name);
    if (it == sheets_.end()) return error(errc::mapping_failed, fmt::format("mapping '{}' does not exist in mappings/", name));
    xsltStylesheetPtr style = it->second->style;

    run_state st;
    st.opt = &opt;
    if (opt.seed) {
        // Per stylesheet (FNV-1a of its name, stable everywhere): two stylesheets never share guids.
        std::uint64_t h = 1469598103934665603ull;
        for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
        st.rng.seed(*opt.seed ^ h);
    }
    else {
        std::uint64_t s = 0;
        if (RAND_bytes(reinterpret_cast<unsigned char*>(&s), sizeof s) != 1) s = std::random_device{}();
        st.rng.seed(s);
    }
    if (opt.now) st.now = *opt.now;
    else {
        st.now = formats::now_civil();
        st.now_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now().time_since_epoch()).count() % 1000);
    }
    run_state* saved = current;
    current = &st;
    const formats::code_tables* saved_codes = tl_codes;
    tl_codes = env_.codes.get();
    rules::environment env = env_;
    if (opt.now) env.now = opt.now;
    rules::environment_scope env_scope(&env);
    rules::strict_codes_scope strict;

    xsltTransformContextPtr ctxt = xsltNewTransformContext(style, input);
    if (!ctxt) {
        current = saved;
        tl_codes = saved_codes;
        return error(errc::internal, "out of memory");
    }
    xsltSecurityPrefsPtr sec = xsltNewSecurityPrefs();
    for (auto pref : {XSLT_SECPREF_READ_FILE, XSLT_SECPREF_WRITE_FILE, XSLT_SECPREF_CREATE_DIRECTORY, XSLT_SECPREF_READ_NETWORK,
                      XSLT_SECPREF_WRITE_NETWORK})
        xsltSetSecurityPrefs(sec, pref, xsltSecurityForbid);
    xsltSetCtxtSecurityPrefs(sec, ctxt);
    transform_errors errs;
    xsltSetTransformErrorFunc(ctxt, &errs, &collect_transform_error);
    register_mapping_functions(ctxt->xpathCtxt);
    ctxt->maxTemplateDepth = 2000;
    ctxt->maxTemplateVars = 20000;

    std::vector<std::string> quoted;
    std::vector<const char*> params;
    for (auto& [k, v] : opt.xslt_params) {
        quoted.push_back(k);
        std::string q = v.find('\'') == std::string::npos ? "'" + v + "'" : "\"" + v + "\"";
        quoted.push_back(q);
    }
    for (auto& q : quoted) params.push_back(q.c_str());
    params.push_back(nullptr);

    auto prev_generic = xmlGenericError;
    auto prev_generic_ctx = xmlGenericErrorContext;
    xmlSetGenericErrorFunc(&errs, &collect_transform_error);
    xmlDocPtr res = xsltApplyStylesheetUser(style, input, params.data(), nullptr, nullptr, ctxt);
    xmlSetGenericErrorFunc(prev_generic_ctx, prev_generic);
    bool failed = !res || ctxt->state != XSLT_STATE_OK;
    std::string failure = !st.failure.empty() ? st.failure : strict.failure();
    xsltFreeTransformContext(ctxt);
    xsltFreeSecurityPrefs(sec);
    current = saved;
    tl_codes = saved_codes;

    if (failed) {
        if (res) xmlFreeDoc(res);
        std::string why = !failure.empty() ? failure : tidy(errs.text);
        if (why.empty()) why = "the transformation failed";
        return error(errc::mapping_failed, fmt::format("mapping {} failed: {}", name, why), {{0, 0, std::string(name), why, std::string(name)}});
    }
    std::vector<output> outs;
    xmlNode* root = xmlDocGetRootElement(res);
    // xsl:output indent="no" is written as the tree is; otherwise the tree gets the indentation first.
    const bool indent = style->indent != 0;
    bool text_method = style->method && xmlStrEqual(style->method, reinterpret_cast<const xmlChar*>("text"));
    if (text_method) {
        xmlChar* buf = nullptr;
        int len = 0;
        xsltSaveResultToString(&buf, &len, res, style);
        output o;
        o.text = true;
        o.bytes = buf ? std::string(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(len)) : std::string();
        if (buf) xmlFree(buf);
        outs.push_back(std::move(o));
    } else if (root && root->ns && xmlStrEqual(root->ns->href, reinterpret_cast<const xmlChar*>(output_namespace)) &&
               xmlStrEqual(root->name, reinterpret_cast<const xmlChar*>("outputs"))) {
        for (xmlNode* o = root->children; o; o = o->next) {
            if (o->type != XML_ELEMENT_NODE) continue;
            xmlNode* child = o->children;
            while (child && child->type != XML_ELEMENT_NODE) child = child->next;
            if (!child) continue;
            xmlDocPtr one = xmlNewDoc(reinterpret_cast<const xmlChar*>("1.0"));
            xmlNode* copy = xmlDocCopyNode(child, one, 1);
            xmlDocSetRootElement(one, copy);
            xmlReconciliateNs(one, copy);
            output out;
            if (xmlChar* t = xmlGetNoNsProp(o, reinterpret_cast<const xmlChar*>("type"))) {
                out.type = reinterpret_cast<const char*>(t);
                xmlFree(t);
            }
            if (out.type.empty() && opt.type_of) out.type = opt.type_of(one);
            if (indent) add_indentation(one);
            out.bytes = dump_document(one, false);
            out.tree.reset(one);
            outs.push_back(std::move(out));
        }
    } else if (root) {
        output out;
        if (opt.type_of) out.type = opt.type_of(res);
        if (indent) add_indentation(res);
        out.bytes = dump_document(res, false);
        out.tree.reset(res);
        res = nullptr;
        outs.push_back(std::move(out));
    }
    if (res) xmlFreeDoc(res);
    return outs;
}

std::string receipt_document(const formats::receipt_record& r, const receipt_original* original) {
    xmlDocPtr d = xmlNewDoc(reinterpret_cast<const xmlChar*>("1.0"));
    xmlNodePtr root = xmlNewDocNode(d, nullptr, reinterpret_cast<const xmlChar*>("receipt"), nullptr);
    xmlDocSetRootElement(d, root);
    xmlNsPtr ns = xmlNewNs(root, reinterpret_cast<const xmlChar*>(receipt_namespace), nullptr);
    xmlSetNs(root, ns);
    auto x = [](const std::string& v) { return reinterpret_cast<const xmlChar*>(v.c_str()); };
    auto attr = [&](xmlNodePtr n, const char* k, const std::string& v) { xmlNewProp(n, reinterpret_cast<const xmlChar*>(k), x(v)); };
    attr(root, "family", r.family);
    attr(root, "type", r.type);
    attr(root, "status", r.status);
    attr(root, "final", r.final ? "true" : "false");
    attr(root, "judgement", r.judgement);
    for (auto& [k, v] : r.keys) {
        xmlNodePtr kn = xmlNewTextChild(root, ns, reinterpret_cast<const xmlChar*>("key"), x(v));
        attr(kn, "name", k);
    }
    xmlNewTextChild(root, ns, reinterpret_cast<const xmlChar*>("meaning"), x(r.meaning));
    xmlNewTextChild(root, ns, reinterpret_cast<const xmlChar*>("time"), x(r.time));
    xmlNewTextChild(root, ns, reinterpret_cast<const xmlChar*>("info"), x(r.info));
    if (!r.customs_code.empty()) {
        xmlNewTextChild(root, ns, reinterpret_cast<const xmlChar*>("customsCode"), x(r.customs_code));
        xmlNewTextChild(root, ns, reinterpret_cast<const xmlChar*>("customsDesc"), x(r.customs_desc));
    }
    if (original) {
        xmlNodePtr o = xmlNewChild(root, ns, reinterpret_cast<const xmlChar*>("original"), nullptr);
        attr(o, "id", original->id);
        attr(o, "type", original->type);
        attr(o, "partner", original->partner);
        attr(o, "partnerRef", original->partner_ref);
    }
    std::string out = dump_document(d, true);
    xmlFreeDoc(d);
    return out;
}

}  // namespace portgate::mapping

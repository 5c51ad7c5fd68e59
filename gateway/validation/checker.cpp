#include "gateway/validation/checker.hpp"

#include <fmt/format.h>

#include "gateway/core/base64.hpp"

namespace portgate::validation {
namespace fs = std::filesystem;

namespace {

constexpr const char* dsig_ns = "http://www.w3.org/2000/09/xmldsig#";

bool is_dsig(const xmlNode* n, std::string_view local) {
    return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href && std::string_view(reinterpret_cast<const char*>(n->ns->href)) == dsig_ns &&
           std::string_view(reinterpret_cast<const char*>(n->name)) == local;
}

// Signed = a ds:Signature child of the root, or (Golden-2 packages) a root that is itself a ds:Signature
// carrying a non-empty SignatureValue.
bool root_is_signed(xmlDoc* doc) {
    xmlNode* root = xmlDocGetRootElement(doc);
    if (!root) return false;
    if (is_dsig(root, "Signature")) {
        for (xmlNode* c = root->children; c; c = c->next)
            if (is_dsig(c, "SignatureValue")) {
                xmlChar* t = xmlNodeGetContent(c);
                bool has = t && t[0] != 0;
                if (t) xmlFree(t);
                return has;
            }
        return false;
    }
    for (xmlNode* c = root->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && c->ns && c->ns->href && std::string_view(reinterpret_cast<const char*>(c->ns->href)) == dsig_ns &&
            std::string_view(reinterpret_cast<const char*>(c->name)) == "Signature")
            return true;
    return false;
}

std::string data_of_dxp(xmlDoc* doc) {
    xmlNode* root = xmlDocGetRootElement(doc);
    for (xmlNode* c = root ? root->children : nullptr; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && std::string_view(reinterpret_cast<const char*>(c->name)) == "Data") {
            xmlChar* t = xmlNodeGetContent(c);
            std::string s = t ? reinterpret_cast<const char*>(t) : "";
            if (t) xmlFree(t);
            return s;
        }
    return {};
}

}  // namespace

result<std::shared_ptr<const knowledge>> knowledge::load(const fs::path& xsd_dir, const fs::path& calendar_file) {
    auto k = std::make_shared<knowledge>();
    std::vector<problem> problems;
    auto absorb = [&](const error& e) {
        if (e.problems.empty()) problems.push_back({0, 0, "", e.message, ""});
        for (auto& p : e.problems) problems.push_back(p);
    };
    auto cat = xsd::catalog::load(xsd_dir);
    if (!cat) absorb(cat.err());
    else k->catalog = *cat;
    auto types = formats::registry::load(xsd_dir / "families");
    if (!types) absorb(types.err());
    else k->types = *types;
    auto codes = formats::code_tables::load(xsd_dir / "codes");
    if (!codes) absorb(codes.err());
    else k->codes = *codes;
    fs::path cal = calendar_file.empty() ? xsd_dir / "calendar.toml" : calendar_file;
    std::error_code ec;
    if (fs::exists(cal, ec)) {
        auto c = formats::calendar::load(cal);
        if (!c) absorb(c.err());
        else k->calendar = *c;
    } else if (!calendar_file.empty()) {
        problems.push_back({0, 0, cal.string(), fmt::format("calendar file {} does not exist", cal.string()), ""});
    } else {
        k->calendar = std::make_shared<formats::calendar>();
    }
    if (k->types && k->codes) {
        auto rb = rules::rule_book::load(xsd_dir / "rules", *k->types, *k->codes);
        if (!rb) absorb(rb.err());
        else k->rules = *rb;
        k->receipts = std::make_shared<formats::receipt_reader>(k->types, k->codes);
    }
    if (k->types && k->catalog)
        for (auto& t : k->types->types()) {
            for (const std::string* s : {&t->schema, &t->draft_schema})
                if (!s->empty() && !k->catalog->find(*s))
                    problems.push_back({t->line, 0, t->file,
                                        fmt::format("{}:{}: type {} names schema '{}', which is not in xsd/catalog.toml", t->file, t->line, t->id, *s), ""});
            for (auto& r : t->receipts)
                if (!k->types->find(r))
                    problems.push_back({t->line, 0, t->file,
                                        fmt::format("{}:{}: type {} lists receipt '{}', which is not registered", t->file, t->line, t->id, r), ""});
            if (t->is_receipt() && !t->returns.status_table.empty() && k->codes && !k->codes->table(t->returns.status_table))
                problems.push_back({t->line, 0, t->file,
                                    fmt::format("{}:{}: type {} names status table '{}', which is not in xsd/codes/", t->file, t->line, t->id,
                                                t->returns.status_table), ""});
        }
    if (!problems.empty())
        return error(errc::config_invalid, fmt::format("{} problem(s) in {}", problems.size(), xsd_dir.string()), std::move(problems));
    return std::shared_ptr<const knowledge>(k);
}

result<report> check(const knowledge& k, std::string_view bytes, const options& opt, const xml::limits& lim, std::string_view name) {
    auto doc = xml::parse(bytes, lim, name);
    if (!doc) {
        report r;
        r.code = doc.err().code;
        r.message = doc.err().message;
        r.problems = doc.err().problems;
        return r;
    }
    return check_parsed(k, *doc, bytes, opt, lim, name);
}

result<report> check_parsed(const knowledge& k, const xml::document& parsed, std::string_view bytes, const options& opt,
                            const xml::limits& lim, std::string_view name) {
    report r;
    xmlDoc* doc = parsed.doc.get();
    const formats::type_info* t = nullptr;
    if (opt.type.empty() || opt.type == "auto") {
        auto d = k.types->detect(doc);
        if (!d) {
            r.code = d.err().code;
            r.message = d.err().message;
            r.problems.push_back({1, 0, "/", d.err().message, ""});
            return r;
        }
        t = *d;
    } else {
        t = k.types->find(opt.type);
        if (!t) return error(errc::unknown_type, fmt::format("type '{}' is not registered (see xsd/families/)", opt.type));
    }
    r.type = t;
    bool sent = opt.prof == profile::sent || (opt.prof == profile::automatic && root_is_signed(doc));
    r.profile = sent ? "sent" : "draft";
    r.schema = !opt.schema.empty() ? opt.schema : (!sent && !t->draft_schema.empty()) ? t->draft_schema : t->schema;
    if (!r.schema.empty()) {
        auto sc = k.catalog->find(r.schema);
        if (!sc) return error(errc::unknown_schema, fmt::format("type {} names schema '{}', which the catalog lacks", t->id, r.schema));
        auto v = sc->validate(bytes, name);
        if (!v) return v.err();
        if (!v->empty()) {
            r.code = errc::schema_invalid;
            r.message = fmt::format("{} is not valid against schema '{}' ({} problem(s))", t->id, r.schema, v->size());
            r.problems = std::move(v.value());
            return r;
        }
    }
    if (auto keys = k.types->keys(*t, doc)) r.keys = std::move(keys.value());
    if (opt.rules && k.rules) {
        rules::environment env{k.codes, k.calendar, opt.now};
        auto f = k.rules->check(*t, doc, env, sent ? rules::stage::sent : rules::stage::draft);
        if (!f) return f.err();
        r.problems = rules::to_problems(*f, true);
        for (auto& p : rules::to_problems(*f, false))
            if (p.message.rfind("warning: ", 0) == 0) r.warnings.push_back(std::move(p));
        if (!r.problems.empty()) {
            r.code = errc::rule_violated;
            r.message = fmt::format("{} breaks {} business rule(s)", t->id, r.problems.size());
            return r;
        }
    }
    if (t->id == "DXP") {
        std::string data = data_of_dxp(doc);
        auto inner = base64_decode(data, lim.max_bytes);
        if (!inner) {
            r.code = errc::schema_invalid;
            r.message = "DxpMsg Data is not valid base64 or is larger than the size limit";
            r.problems.push_back({0, 0, "/DxpMsg/Data", r.message, ""});
            return r;
        }
        options io = opt;
        io.type = "auto";
        io.schema.clear();  // a schema forced for the envelope is not the inner document's
        auto ir = check(k, *inner, io, lim, fmt::format("{}#Data", name));
        if (!ir) return ir.err();
        r.inner = std::make_shared<report>(std::move(ir.value()));
        if (!r.inner->valid()) {
            r.code = r.inner->code;
            r.message = fmt::format("DxpMsg Data ({}): {}", r.inner->type ? r.inner->type->id : "?", r.inner->message);
            for (auto p : r.inner->problems) {
                p.message = "Data: " + p.message;
                r.problems.push_back(std::move(p));
            }
        }
    }
    return r;
}

}  // namespace portgate::validation

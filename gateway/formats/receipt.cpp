#include "gateway/formats/receipt.hpp"

#include <iconv.h>

#include <algorithm>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "gateway/core/base64.hpp"

namespace portgate::formats {
namespace {

std::string local_name(const xmlNode* n) { return reinterpret_cast<const char*>(n->name); }

std::string text_of(const xmlNode* n) {
    xmlChar* c = xmlNodeGetContent(n);
    std::string s = c ? reinterpret_cast<const char*>(c) : "";
    if (c) xmlFree(c);
    auto ws = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; };
    std::size_t b = 0, e = s.size();
    while (b < e && ws(s[b])) ++b;
    while (e > b && ws(s[e - 1])) --e;
    return s.substr(b, e - b);
}

const xmlNode* child(const xmlNode* parent, std::string_view name) {
    for (const xmlNode* c = parent->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && name == reinterpret_cast<const char*>(c->name)) return c;
    return nullptr;
}

// "a/b" relative to `rec`, by local names; the first match at each step.
const xmlNode* find_path(const xmlNode* rec, std::string_view path) {
    const xmlNode* cur = rec;
    while (cur && !path.empty()) {
        auto slash = path.find('/');
        std::string_view step = path.substr(0, slash);
        cur = child(cur, step);
        path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    }
    return cur;
}

std::string field(const xmlNode* rec, const std::string& path) {
    if (path.empty()) return {};
    const xmlNode* n = find_path(rec, path);
    return n ? text_of(n) : std::string();
}

void collect(const xmlNode* n, std::string_view name, std::vector<const xmlNode*>& out, int depth = 0) {
    if (depth > 256) return;
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (name == reinterpret_cast<const char*>(n->name)) out.push_back(n);
        else collect(n->children, name, out, depth + 1);
    }
}

bool declares_encoding(std::string_view bytes) {
    auto head = bytes.substr(0, std::min<std::size_t>(bytes.size(), 200));
    return head.rfind("<?xml", 0) == 0 && head.find("encoding") != std::string_view::npos && head.find("?>") > head.find("encoding");
}

}  // namespace

std::pair<std::string, std::string> customs_code_in(std::string_view info) {
    static const std::regex re(R"(\[\s*Code\s*(?::|：)\s*([^;\]]*?)\s*(?:;|；)\s*Desc\s*(?::|：)\s*([^\]]*)\])", std::regex::icase);
    std::cmatch m;
    if (std::regex_search(info.data(), info.data() + info.size(), m, re)) return {m[1].str(), m[2].str()};
    return {};
}

std::optional<std::string> gb18030_to_utf8(std::string_view bytes) {
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
    std::string out(bytes.size() * 2 + 16, '\0');
    char* in = const_cast<char*>(bytes.data());
    std::size_t inleft = bytes.size();
    char* op = out.data();
    std::size_t outleft = out.size();
    bool ok = true;
    while (inleft > 0) {
        if (iconv(cd, &in, &inleft, &op, &outleft) == static_cast<std::size_t>(-1)) {
            if (errno == E2BIG) {
                std::size_t used = out.size() - outleft;
                out.resize(out.size() * 2);
                op = out.data() + used;
                outleft = out.size() - used;
                continue;
            }
            ok = false;
            break;
        }
    }
    iconv_close(cd);
    if (!ok) return std::nullopt;
    out.resize(out.size() - outleft);
    return out;
}

receipt_reader::receipt_reader(std::shared_ptr<const registry> types, std::shared_ptr<const code_tables> codes)
    : types_(std::move(types)), codes_(std::move(codes)) {}

result<receipt_reading> receipt_reader::read(std::string_view bytes, const xml::limits& lim, std::string_view name) const {
    auto doc = xml::parse(bytes, lim, name);
    if (!doc && doc.err().code == errc::xml_bad_encoding && !declares_encoding(bytes)) {
        // Undeclared GB2312/GBK: some endpoints send it without an encoding declaration.
        if (auto utf8 = gb18030_to_utf8(bytes)) doc = xml::parse(*utf8, lim, name);
    }
    if (!doc) return doc.err();
    return read_doc(doc->doc.get(), lim, 0);
}

result<receipt_reading> receipt_reader::read(const xml::document& doc) const { return read_doc(doc.doc.get(), {}, 0); }

result<receipt_reading> receipt_reader::read_doc(xmlDoc* doc, const xml::limits& lim, int depth) const {
    xmlNode* root = xmlDocGetRootElement(doc);
    if (!root) return error(errc::unknown_type, "no root element");
    if (local_name(root) == "DxpMsg" && depth == 0) {
        const xmlNode* data = child(root, "Data");
        if (!data) return error(errc::unknown_type, "DxpMsg without Data");
        auto inner = base64_decode(text_of(data), lim.max_bytes);
        if (!inner) return error(errc::xml_malformed, "DxpMsg Data is not valid base64 (or larger than the size limit)");
        auto parsed = xml::parse(*inner, lim, "DxpMsg/Data");
        if (!parsed && parsed.err().code == errc::xml_bad_encoding && !declares_encoding(*inner))
            if (auto utf8 = gb18030_to_utf8(*inner)) parsed = xml::parse(*utf8, lim, "DxpMsg/Data");
        if (!parsed) return parsed.err();
        auto r = read_doc(parsed->doc.get(), lim, depth + 1);
        if (r) r->envelope = "DxpMsg";
        return r;
    }
    const type_info* t = types_->detect_lenient(doc);
    if (!t)
        return error(errc::unknown_type,
                     fmt::format("{} is not a receipt type portgate knows (see xsd/families/: kind = \"receipt\")", local_name(root)));
    receipt_reading out;
    out.type = t;
    const code_table* statuses = codes_ && !t->returns.status_table.empty() ? codes_->table(t->returns.status_table) : nullptr;
    std::vector<const xmlNode*> recs;
    if (t->returns.record == local_name(root)) recs.push_back(root);
    else collect(root->children, t->returns.record, recs);
    std::set<std::string> seen;
    for (const xmlNode* rec : recs) {
        receipt_record r;
        r.family = t->family;
        r.type = t->id;
        for (auto& k : t->returns.keys) {
            std::string v = field(rec, k);
            if (!v.empty()) {
                auto slash = k.rfind('/');
                r.keys.emplace_back(slash == std::string::npos ? k : k.substr(slash + 1), std::move(v));
            }
        }
        r.status = field(rec, t->returns.status);
        r.time = field(rec, t->returns.time);
        r.info = field(rec, t->returns.info);
        r.line = static_cast<int>(xmlGetLineNo(rec));
        std::string dedup = r.status + '\x1f' + r.time;
        for (auto& [k, v] : r.keys) dedup += '\x1f' + k + '=' + v;
        if (!seen.insert(dedup).second) {
            ++out.duplicates;
            continue;
        }
        if (statuses)
            if (auto* e = statuses->find(r.status)) {
                r.meaning = e->name_en.empty() ? e->name_zh : fmt::format("{} ({})", e->name_zh, e->name_en);
                std::vector<const std::string*> cols{&e->alias};
                for (auto& x : e->extra) cols.push_back(&x);
                for (auto* c : cols) {
                    if (*c == "final") r.final = true;
                    if (*c == "ok" || *c == "bad") r.judgement = *c;
                }
            }
        if (std::find(t->returns.final_statuses.begin(), t->returns.final_statuses.end(), r.status) != t->returns.final_statuses.end())
            r.final = true;
        if (r.meaning.empty() && !r.status.empty() && r.status[0] == '-') {
            // Negative codes are processing errors of customs; the tables name the well-known ones only.
            r.meaning = "processing error (处理错误)";
            r.final = true;
            r.judgement = "bad";
        }
        auto [code, desc] = customs_code_in(r.info);
        r.customs_code = std::move(code);
        r.customs_desc = std::move(desc);
        out.records.push_back(std::move(r));
    }
    return out;
}

}  // namespace portgate::formats

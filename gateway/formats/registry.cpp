#include "gateway/formats/registry.hpp"

#include "gateway/core/files.hpp"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

namespace portgate::formats {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& c : r)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return r;
}

int line_of(const toml::node& n) { return static_cast<int>(n.source().begin.line); }

bool has_local_element(const xmlNode* n, std::string_view name, int depth = 0) {
    if (depth > 256) return false;
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (name == reinterpret_cast<const char*>(n->name)) return true;
        if (has_local_element(n->children, name, depth + 1)) return true;
    }
    return false;
}

}  // namespace

result<std::shared_ptr<const registry>> registry::load(const fs::path& dir) {
    auto reg = std::make_shared<registry>();
    std::vector<problem> problems;
    const auto files = files_in(dir, {".toml"});
    auto add = [&](const std::string& file, int line, std::string msg) {
        problems.push_back({line, 0, file, fmt::format("{}:{}: {}", file, line, msg), ""});
    };
    for (auto& path : files) {
        std::string file = path.string();
        toml::table tbl;
        try {
            tbl = toml::parse_file(file);
        } catch (const toml::parse_error& e) {
            add(file, static_cast<int>(e.source().begin.line), std::string(e.description()));
            continue;
        }
        family_info fam;
        fam.file = file;
        fam.name = tbl["family"].value_or(path.stem().string());
        fam.description = tbl["description"].value_or(std::string());
        fam.signature = tbl["signature"].value_or(std::string("none"));
        fam.sign_before = tbl["sign_before"].value_or(std::string());
        if (fam.signature != "none" && fam.signature != "enveloped") add(file, 1, fmt::format("signature must be none or enveloped, not '{}'", fam.signature));
        if (auto* ns = tbl["namespaces"].as_table())
            for (auto& [k, v] : *ns) fam.namespaces.emplace_back(std::string(k.str()), v.value_or(std::string()));
        if (reg->families_.count(fam.name)) {
            add(file, 1, fmt::format("family '{}' is defined twice", fam.name));
            continue;
        }
        auto* types = tbl["type"].as_array();
        if (!types) add(file, 1, "no [[type]] entries");
        if (types)
            for (auto& node : *types) {
                auto* t = node.as_table();
                if (!t) {
                    add(file, line_of(node), "[[type]] must be a table");
                    continue;
                }
                auto ti = std::make_unique<type_info>();
                ti->file = file;
                ti->line = line_of(node);
                ti->family = fam.name;
                ti->id = (*t)["id"].value_or(std::string());
                ti->kind = (*t)["kind"].value_or(std::string("message"));
                ti->root = (*t)["root"].value_or(std::string());
                ti->ns = (*t)["namespace"].value_or(std::string());
                ti->schema = (*t)["schema"].value_or(std::string());
                ti->draft_schema = (*t)["draft_schema"].value_or(std::string());
                ti->label = (*t)["label"].value_or(std::string());
                if (auto* r = (*t)["receipts"].as_array())
                    for (auto& v : *r) ti->receipts.push_back(v.value_or(std::string()));
                if (ti->id.empty() || ti->root.empty()) {
                    add(file, ti->line, "a [[type]] needs id and root");
                    continue;
                }
                if (ti->kind != "message" && ti->kind != "receipt") {
                    add(file, ti->line, fmt::format("type {}: kind must be message or receipt, not '{}'", ti->id, ti->kind));
                    continue;
                }
                if (reg->find(ti->id)) {
                    add(file, ti->line, fmt::format("type id '{}' is registered twice", ti->id));
                    continue;
                }
                auto compile = [&](const std::string& text, xml::xpath_expr& into, const char* what) {
                    if (text.empty()) return;
                    auto c = xml::xpath_expr::compile(text);
                    if (!c) add(file, ti->line, fmt::format("type {}: {}: {}", ti->id, what, c.err().message));
                    else into = std::move(c.value());
                };
                compile((*t)["when"].value_or(std::string()), ti->when, "when");
                if (auto* k = (*t)["keys"].as_table()) {
                    compile((*k)["record"].value_or(std::string()), ti->key_record, "keys.record");
                    if (auto* f = (*k)["fields"].as_table()) {
                        // toml++ iterates keys sorted; keep the order they are written in (primary key first).
                        std::vector<std::tuple<toml::source_position, std::string, std::string>> ordered;
                        for (auto& [name, v] : *f)
                            ordered.emplace_back(name.source().begin, std::string(name.str()), v.value_or(std::string()));
                        std::sort(ordered.begin(), ordered.end(), [](auto& a, auto& b) {
                            auto& pa = std::get<0>(a);
                            auto& pb = std::get<0>(b);
                            return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
                        });
                        for (auto& [pos, name, text] : ordered) {
                            xml::xpath_expr e;
                            compile(text, e, "keys.fields");
                            if (e) ti->key_fields.emplace_back(name, std::move(e));
                        }
                    }
                }
                if (auto* r = (*t)["returns"].as_table()) {
                    ti->returns.record = (*r)["record"].value_or(std::string());
                    if (auto* ks = (*r)["keys"].as_array())
                        for (auto& v : *ks) ti->returns.keys.push_back(v.value_or(std::string()));
                    ti->returns.status = (*r)["status"].value_or(std::string());
                    ti->returns.time = (*r)["time"].value_or(std::string());
                    ti->returns.info = (*r)["info"].value_or(std::string());
                    ti->returns.status_table = (*r)["status_table"].value_or(std::string());
                    if (auto* fs_ = (*r)["final_statuses"].as_array())
                        for (auto& v : *fs_) ti->returns.final_statuses.push_back(v.value_or(std::string()));
                }
                if (ti->is_receipt() && ti->returns.record.empty())
                    add(file, ti->line, fmt::format("receipt type {} needs [type.returns] with record", ti->id));
                reg->by_root_.emplace(ti->root, ti.get());
                fam.types.push_back(ti.get());
                reg->types_.push_back(std::move(ti));
            }
        reg->families_.emplace(fam.name, std::move(fam));
    }
    if (!problems.empty())
        return error(errc::config_invalid, fmt::format("{} problem(s) in the type registry {}", problems.size(), dir.string()),
                     std::move(problems));
    for (auto& t : reg->types_)
        for (auto& r : t->receipts)
            for (auto& [name, expr] : t->key_fields) {
                auto& names = reg->answered_keys_[r];
                if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
            }
    return std::shared_ptr<const registry>(reg);
}

const std::vector<std::string>& registry::answered_key_names(std::string_view receipt_type) const {
    static const std::vector<std::string> none;
    auto it = answered_keys_.find(receipt_type);
    return it == answered_keys_.end() ? none : it->second;
}

const type_info* registry::find(std::string_view id) const {
    std::string l = lower(id);
    for (auto& t : types_)
        if (lower(t->id) == l) return t.get();
    return nullptr;
}

const family_info* registry::family(std::string_view name) const {
    auto it = families_.find(name);
    return it == families_.end() ? nullptr : &it->second;
}

std::vector<const family_info*> registry::families() const {
    std::vector<const family_info*> r;
    for (auto& [k, v] : families_) r.push_back(&v);
    return r;
}

result<const type_info*> registry::detect(xmlDoc* doc) const {
    xmlNode* root = xmlDocGetRootElement(doc);
    if (!root) return error(errc::unknown_type, "the document has no root element");
    std::string local = reinterpret_cast<const char*>(root->name);
    std::string ns = root->ns && root->ns->href ? reinterpret_cast<const char*>(root->ns->href) : "";
    std::vector<const type_info*> same_root, candidates;
    auto [b, e] = by_root_.equal_range(local);
    for (auto it = b; it != e; ++it) {
        same_root.push_back(it->second);
        if (it->second->ns == ns) candidates.push_back(it->second);
    }
    if (candidates.empty()) {
        std::string qualified = ns.empty() ? local : fmt::format("{{{}}}{}", ns, local);
        if (!same_root.empty())
            return error(errc::unknown_type,
                         fmt::format("root {} is in the wrong namespace: {} is registered in namespace '{}'", qualified, local,
                                     same_root.front()->ns));
        return error(errc::unknown_type, fmt::format("root {} is not a registered message type (see xsd/families/)", qualified));
    }
    std::vector<const type_info*> chosen;
    for (auto* t : candidates) {
        if (!t->when) {
            chosen.push_back(t);
            continue;
        }
        const family_info* fam = family(t->family);
        xml::xpath_context ctx(doc, fam ? fam->namespaces : xml::namespace_list{});
        auto v = ctx.boolean(t->when, root);
        if (v && *v) chosen.push_back(t);
    }
    // A type with a matching `when` beats one without.
    auto with_when = std::count_if(chosen.begin(), chosen.end(), [](auto* t) { return bool(t->when); });
    if (with_when > 0) chosen.erase(std::remove_if(chosen.begin(), chosen.end(), [](auto* t) { return !t->when; }), chosen.end());
    if (chosen.empty())
        return error(errc::unknown_type, fmt::format("root {} matches no registered type's condition (candidates: {})", local,
                                                     fmt::join([&] {
                                                         std::vector<std::string> ids;
                                                         for (auto* t : candidates) ids.push_back(t->id);
                                                         return ids;
                                                     }(), ", ")));
    if (chosen.size() > 1) {
        std::vector<std::string> ids;
        for (auto* t : chosen) ids.push_back(t->id);
        return error(errc::unknown_type, fmt::format("root {} is ambiguous: types {} all match", local, fmt::join(ids, ", ")));
    }
    return chosen.front();
}

const type_info* registry::detect_lenient(xmlDoc* doc) const {
    xmlNode* root = xmlDocGetRootElement(doc);
    if (!root) return nullptr;
    if (auto strict = detect(doc); strict && (*strict)->is_receipt()) return *strict;
    std::string local = reinterpret_cast<const char*>(root->name);
    std::vector<const type_info*> candidates;
    auto [b, e] = by_root_.equal_range(local);
    for (auto it = b; it != e; ++it)
        if (it->second->is_receipt()) candidates.push_back(it->second);
    if (candidates.empty()) return nullptr;
    if (candidates.size() == 1) return candidates.front();
    for (auto* t : candidates) {
        if (!t->when) continue;
        const family_info* fam = family(t->family);
        xml::xpath_context ctx(doc, fam ? fam->namespaces : xml::namespace_list{});
        auto v = ctx.boolean(t->when, root);
        if (v && *v) return t;
    }
    for (auto* t : candidates)
        if (has_local_element(root, t->returns.record)) return t;
    return nullptr;
}

result<std::vector<key_values>> registry::keys(const type_info& t, xmlDoc* doc) const {
    std::vector<key_values> out;
    if (!t.key_record) return out;
    const family_info* fam = family(t.family);
    xml::xpath_context ctx(doc, fam ? fam->namespaces : xml::namespace_list{});
    auto recs = ctx.nodes(t.key_record, xmlDocGetRootElement(doc));
    if (!recs) return recs.err();
    for (xmlNode* r : *recs) {
        key_values kv;
        for (auto& [name, expr] : t.key_fields) {
            auto v = ctx.string(expr, r);
            if (!v) return v.err();
            if (!v->empty()) kv.emplace_back(name, std::move(v.value()));
        }
        out.push_back(std::move(kv));
    }
    return out;
}

}  // namespace portgate::formats

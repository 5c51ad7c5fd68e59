#include "gateway/mapping/route_runner.hpp"

#include <algorithm>
#include <set>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include <fmt/format.h>

#include "gateway/xml/xpath.hpp"

namespace portgate::mapping {

namespace {
// Join-key XPaths come from the config: compiled once each, then shared (intake asks for them per message).
result<xml::xpath_expr> compiled(const std::string& text) {
    static std::shared_mutex mu;
    static std::unordered_map<std::string, xml::xpath_expr> cache;
    {
        std::shared_lock lk(mu);
        if (auto it = cache.find(text); it != cache.end()) return it->second;
    }
    auto e = xml::xpath_expr::compile(text);
    if (!e) return e.err();
    std::unique_lock lk(mu);
    return cache.emplace(text, e.value()).first->second;
}

xml::namespace_list namespaces_for(const validation::knowledge& k, xmlDoc* doc) {
    xml::namespace_list ns;
    if (auto t = k.types->detect(doc))
        if (auto* fam = k.types->family((*t)->family)) ns = fam->namespaces;
    return ns;
}
}  // namespace

result<std::vector<std::string>> join_keys(const validation::knowledge& k, xmlDoc* doc, const std::string& xpath) {
    auto expr = compiled(xpath);
    if (!expr) return expr.err();
    xml::xpath_context ctx(doc, namespaces_for(k, doc));
    auto nodes = ctx.nodes(*expr, xmlDocGetRootElement(doc));
    std::vector<std::string> out;
    if (!nodes) {
        // Not a node-set: a string key.
        auto s = ctx.string(*expr, xmlDocGetRootElement(doc));
        if (!s) return s.err();
        if (!s->empty()) out.push_back(*s);
        return out;
    }
    std::set<std::string> seen;
    for (xmlNode* n : *nodes) {
        xmlChar* c = xmlNodeGetContent(n);
        std::string v = c ? reinterpret_cast<const char*>(c) : "";
        if (c) xmlFree(c);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\n' || v.back() == '\r' || v.back() == '\t')) v.pop_back();
        v.erase(0, v.find_first_not_of(" \n\r\t") == std::string::npos ? v.size() : v.find_first_not_of(" \n\r\t"));
        if (!v.empty() && seen.insert(v).second) out.push_back(v);
    }
    return out;
}

result<route_result> run_route(const validation::knowledge& k, const library& lib, const config::route& r, xmlDoc* input,
                               const route_run_options& opt) {
    route_result res;
    auto run_one = [&](const config::route_map& m, const run_options& ro, const std::string& join_key) -> status {
        auto outs = lib.apply(m.stylesheet, input, ro);
        if (!outs) return outs.err();
        if (outs->empty() && !m.optional)
            return error(errc::mapping_failed, fmt::format("mapping {} produced no output{}", m.stylesheet,
                                                           join_key.empty() ? "" : fmt::format(" for join key {}", join_key)),
                         {{0, 0, m.stylesheet, "no output", m.stylesheet}});
        std::size_t n = 0;
        for (auto& o : *outs) {
            ++n;
            mapped mp;
            mp.stylesheet = m.stylesheet;
            mp.type = !o.type.empty() ? o.type : m.output;
            mp.join_key = join_key;
            if (o.text) {
                mp.bytes = std::move(o.bytes);
                res.outputs.push_back(std::move(mp));
                continue;
            }
            const bool later = !mp.type.empty() && opt.checked_when_signed && opt.checked_when_signed(mp.type);
            if (opt.check_outputs && !later) {
                validation::options vo;
                vo.type = mp.type.empty() ? "auto" : mp.type;
                vo.rules = true;
                vo.prof = validation::profile::automatic;
                if (opt.now) vo.now = opt.now;
                xml::limits lim;
                lim.max_bytes = std::size_t(64) << 20;
                const std::string name = fmt::format("{}#{}", m.stylesheet, n);
                // The result tree the bytes hold exactly, when it can be taken, instead of parsing them again; a
                // rule broken is checked again from the bytes, so that its problems carry the lines of the bytes.
                auto doc = xml::adopt_or_parse(std::move(o.tree), o.bytes, lim, name);
                // (Bytes that do not parse are rare: check() parses them again to report it as the other checks do.)
                auto rep = doc ? validation::check_parsed(k, *doc, o.bytes, vo, lim, name) : validation::check(k, o.bytes, vo, lim, name);
                if (rep && !rep->valid() && rep->code == errc::rule_violated) rep = validation::check(k, o.bytes, vo, lim, name);
                if (!rep) return rep.err();
                if (!rep->valid()) {
                    std::vector<problem> ps;
                    for (auto p : rep->problems) {
                        p.message = fmt::format("{} output {} ({}): {}", m.stylesheet, n, mp.type.empty() ? "?" : mp.type, p.message);
                        ps.push_back(std::move(p));
                    }
                    return error(errc::mapping_output_invalid,
                                 fmt::format("mapping {} output {}{} is not a valid {}: {} {}", m.stylesheet, n,
                                             join_key.empty() ? "" : fmt::format(" (join key {})", join_key),
                                             mp.type.empty() ? "customs message" : mp.type, code_string(rep->code), rep->message),
                                 std::move(ps));
                }
                if (rep->type) mp.type = rep->type->id;
                mp.keys = rep->keys;
            }
            mp.bytes = std::move(o.bytes);
            if (later) mp.tree = std::move(o.tree);  // for the signer; no longer needed otherwise
            res.outputs.push_back(std::move(mp));
        }
        return ok();
    };

    for (auto& m : r.maps) {
        run_options ro;
        ro.params = &r.params;
        if (opt.checked_when_signed && m.output.empty())
            // A map that declares no output type (enrich-ceb.xsl keeps the input's): the type is read from the
            // result tree, so that a signed output is still checked only once, as signed.
            ro.type_of = [&k](xmlDoc* d) {
                auto t = k.types->detect(d);
                return t && *t ? (*t)->id : std::string();
            };
        ro.now = opt.now;
        ro.seed = opt.seed;
        if (!m.join) {
            if (auto s = run_one(m, ro, ""); !s) return s.err();
            continue;
        }
        auto mine = join_keys(k, input, m.join->key);
        if (!mine) return error(errc::mapping_failed, fmt::format("mapping {}: join key {}: {}", m.stylesheet, m.join->key, mine.err().message));
        pending_join waiting{m.stylesheet, m.join->with, m.join->as, {}};
        auto jt = opt.joined.find(m.join->as);
        for (auto& key : *mine) {
            xmlDoc* partner_doc = nullptr;
            if (jt != opt.joined.end())
                for (xmlDoc* d : jt->second) {
                    auto theirs = join_keys(k, d, m.join->other_key);
                    if (theirs && std::find(theirs->begin(), theirs->end(), key) != theirs->end()) {
                        partner_doc = d;
                        break;
                    }
                }
            if (!partner_doc) {
                waiting.keys.push_back(key);
                continue;
            }
            run_options jro = ro;
            jro.inputs[m.join->as] = partner_doc;
            jro.xslt_params["joinKey"] = key;
            if (auto s = run_one(m, jro, key); !s) return s.err();
        }
        if (!waiting.keys.empty()) res.waiting.push_back(std::move(waiting));
    }
    return res;
}

}  // namespace portgate::mapping

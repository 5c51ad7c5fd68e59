// The golden sample runner: every XML file under samples/ (outside the expected/ outputs and notifications/
// of samples/partners, and samples/scenarios) is a test case, judged by its name —
//   <type>-invalid-<CODE>-<slug>.xml  must fail with exactly CODE (PG301 for the XSD, else a rule id),
//   <type>-lenient-<slug>.xml         is a receipt as endpoints really send it: the lenient reader must turn
//                                     it into at least one record with a status,
//   anything else                     must pass type detection, its schema and its business rules (and, for a
//                                     receipt, read into records).
// libxml2's validator judges the same files against the same schema files, so a schema that only one of the
// two validators accepts is caught.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "gateway/rules/rules.hpp"
#include "gateway/validation/checker.hpp"
#include "gateway/xml/xpath.hpp"

namespace fs = std::filesystem;
namespace v = portgate::validation;

namespace {

const fs::path source_dir = PORTGATE_SOURCE_DIR;

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<fs::path> sample_files() {
    std::vector<fs::path> out;
    for (auto& e : fs::recursive_directory_iterator(source_dir / "samples")) {
        if (!e.is_regular_file() || e.path().extension() != ".xml") continue;
        auto rel = fs::relative(e.path(), source_dir / "samples").generic_string();
        if (rel.rfind("scenarios/", 0) == 0 || rel.find("/expected/") != std::string::npos ||
            rel.find("/notifications/") != std::string::npos)
            continue;
        out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

const v::knowledge& knowledge() {
    static std::shared_ptr<const v::knowledge> k = [] {
        portgate::xml::initialise();
        portgate::xsd::initialise();
        auto r = v::knowledge::load(source_dir / "xsd");
        if (!r) {
            std::string all;
            for (auto& p : r.err().problems) all += p.message + "\n";
            FAIL("xsd/ does not load: " << r.err().message << "\n" << all);
        }
        return *r;
    }();
    return *k;
}

// libxml2's verdict on `bytes` against the schema file; the schema is compiled once per file.
struct libxml2_schemas {
    std::map<fs::path, xmlSchemaPtr> compiled;
    ~libxml2_schemas() {
        for (auto& [k, s] : compiled)
            if (s) xmlSchemaFree(s);
    }
    static void quiet(void*, const char*, ...) {}
    static void collect(void* ctx, xmlErrorPtr e) {
        if (e && e->message) static_cast<std::string*>(ctx)->append(std::to_string(e->line) + ": " + e->message);
    }
    // nullopt when libxml2 cannot compile the schema (reported by the caller).
    std::optional<std::pair<bool, std::string>> validate(const fs::path& schema, const std::string& bytes, std::string& compile_error) {
        auto it = compiled.find(schema);
        if (it == compiled.end()) {
            // The gateway refuses every external entity; schema files on disk are loaded here with
            // libxml2's no-network loader (each test case runs in its own process).
            xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
            std::string errors;
            xmlSetStructuredErrorFunc(&errors, &collect);
            xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(schema.string().c_str());
            xmlSchemaPtr s = xmlSchemaParse(pc);
            xmlSchemaFreeParserCtxt(pc);
            xmlSetStructuredErrorFunc(nullptr, nullptr);
            if (!s) compile_error = errors;
            it = compiled.emplace(schema, s).first;
        }
        if (!it->second) return std::nullopt;
        xmlDocPtr doc = xmlReadMemory(bytes.data(), static_cast<int>(bytes.size()), "sample.xml", nullptr, XML_PARSE_NONET);
        if (!doc) return std::make_pair(false, std::string("not well-formed for libxml2"));
        xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(it->second);
        std::string errors;
        xmlSchemaSetValidStructuredErrors(vc, &collect, &errors);
        int rc = xmlSchemaValidateDoc(vc, doc);
        xmlSchemaFreeValidCtxt(vc);
        xmlFreeDoc(doc);
        return std::make_pair(rc == 0, errors);
    }
};

std::string describe(const v::report& r) {
    std::string s = portgate::code_string(r.code) + " " + r.message;
    for (auto& p : r.problems) s += "\n  " + std::to_string(p.line) + ":" + std::to_string(p.column) + " " + p.message;
    return s;
}

}  // namespace

TEST_CASE("golden samples: every sample is judged as its name says, by portgate and by libxml2", "[golden][formats]") {
    const auto& k = knowledge();
    libxml2_schemas lx;
    static const std::regex invalid_name(R"(-invalid-([A-Za-z0-9_]+)-)");
    portgate::xml::limits lim;
    lim.max_bytes = std::size_t(64) << 20;
    v::options opt;
    opt.rules = true;
    std::map<std::string, int> per_family;
    std::size_t valid = 0, invalid = 0, lenient = 0, libxml2_checked = 0;
    auto files = sample_files();
    REQUIRE(files.size() > 10);
    for (auto& file : files) {
        auto rel = fs::relative(file, source_dir).generic_string();
        auto name = file.filename().string();
        std::string bytes = read(file);
        std::smatch m;
        if (name.find("-lenient-") != std::string::npos) {
            ++lenient;
            auto rr = k.receipts->read(bytes, lim, rel);
            INFO(rel << ": " << (rr ? "" : rr.err().message));
            REQUIRE(rr);
            CHECK(!rr->records.empty());
            for (auto& rec : rr->records) CHECK(!rec.status.empty());
            continue;
        }
        // A sample breaking a rule that applies only as sent (e.g. "appStatus 2 needs a signature") is
        // judged as sent; every other one by the automatic profile (signed = as sent, else draft).
        v::options this_opt = opt;
        if (std::regex_search(name, m, invalid_name))
            for (auto& rule : k.rules->all())
                if (rule->id == m[1].str() && rule->applies_at == portgate::rules::stage::sent) this_opt.prof = v::profile::sent;
        auto r = v::check(k, bytes, this_opt, lim, rel);
        INFO(rel << " (could not check: " << (r ? "" : r.err().message) << ")");
        REQUIRE(r);
        INFO(rel << ": " << describe(*r));
        // PG306/PG307 partner samples are valid inputs that fail in the mapping (tests/mapping/).
        bool expect_valid = !std::regex_search(name, m, invalid_name) || m[1].str() == "PG306" || m[1].str() == "PG307";
        if (expect_valid) {
            ++valid;
            CHECK(r->valid());
            if (r->type) per_family[r->type->family]++;
            if (r->valid() && r->type && r->type->is_receipt()) {
                auto rr = k.receipts->read(bytes, lim, rel);
                INFO("receipt reader: " << (rr ? "" : rr.err().message));
                REQUIRE(rr);
                CHECK(!rr->records.empty());
            }
        } else {
            ++invalid;
            std::string code = m[1].str();
            if (std::regex_match(code, std::regex("PG[0-9]{3}"))) {
                CHECK(portgate::code_string(r->code) == "PG-" + code.substr(2));
            } else {
                CHECK(r->code == portgate::errc::rule_violated);
                std::set<std::string> broken;
                for (auto& p : r->problems) broken.insert(p.rule);
                CHECK(broken == std::set<std::string>{code});
            }
        }
        // libxml2 on the same schema file: valid samples pass, XSD-invalid ones fail.
        bool schema_verdict_known = r->type && !r->schema.empty() && (expect_valid || r->code == portgate::errc::schema_invalid);
        if (schema_verdict_known) {
            auto sc = k.catalog->find(r->schema);
            REQUIRE(sc);
            std::string compile_error;
            auto lv = lx.validate(sc->file(), bytes, compile_error);
            INFO("libxml2 cannot compile " << sc->file().string() << ": " << compile_error);
            REQUIRE(lv);
            INFO("libxml2 says: " << lv->second);
            CHECK(lv->first == (r->code != portgate::errc::schema_invalid));
            ++libxml2_checked;
        }
    }
    WARN(files.size() << " samples: " << valid << " valid, " << invalid << " invalid, " << lenient << " lenient; "
                      << libxml2_checked << " also judged by libxml2");
}

TEST_CASE("golden samples: every registered type has a valid sample and every rule an invalid one", "[golden][formats]") {
    const auto& k = knowledge();
    std::set<std::string> types_with_valid, rules_with_sample;
    static const std::regex invalid_name(R"(-invalid-([A-Za-z0-9_]+)-)");
    portgate::xml::limits lim;
    lim.max_bytes = std::size_t(64) << 20;
    for (auto& file : sample_files()) {
        auto name = file.filename().string();
        std::smatch m;
        if (std::regex_search(name, m, invalid_name) && m[1].str() != "PG306" && m[1].str() != "PG307") {
            rules_with_sample.insert(m[1].str());
            continue;
        }
        if (name.find("-lenient-") != std::string::npos) continue;
        auto r = v::check(k, read(file), {}, lim, name);
        if (r && r->valid() && r->type) {
            types_with_valid.insert(r->type->id);
            if (r->inner && r->inner->type) types_with_valid.insert(r->inner->type->id);
        }
    }
    for (auto& t : k.types->types()) {
        INFO("type " << t->id << " (" << t->file << ") has no valid sample in samples/");
        CHECK(types_with_valid.count(t->id) == 1);
    }
    for (auto& rule : k.rules->all()) {
        if (rule->severity != "error") continue;
        INFO("rule " << rule->id << " (" << rule->file << ":" << rule->line << ") has no samples/…-invalid-" << rule->id << "-….xml");
        CHECK(rules_with_sample.count(rule->id) == 1);
    }
}

// Calls fn(file, doc, rule) for every well-formed sample of a detected type and every rule of that type.
template <typename Fn>
void for_each_sample_rule(Fn fn) {
    const auto& k = knowledge();
    for (auto& file : sample_files()) {
        std::string bytes = read(file);
        xmlDoc* raw = xmlReadMemory(bytes.data(), static_cast<int>(bytes.size()), nullptr, nullptr, XML_PARSE_NONET);
        if (!raw) continue;  // the malformed samples
        std::unique_ptr<xmlDoc, void (*)(xmlDoc*)> doc(raw, xmlFreeDoc);
        auto type = k.types->detect(doc.get());
        if (!type) continue;
        for (auto& r : k.rules->all()) {
            if (r->family != (*type)->family) continue;
            if (!r->types.empty() && std::find(r->types.begin(), r->types.end(), (*type)->id) == r->types.end()) continue;
            fn(file, doc.get(), *r);
        }
    }
}

TEST_CASE("rule contexts selected by walking their paths are the nodes XPath selects, on every sample", "[golden][formats][rules]") {
    const auto& k = knowledge();
    std::size_t native = 0, compared = 0;
    for (auto& r : k.rules->all()) native += r->context_paths ? 1 : 0;
    // Most contexts are plain unions of child paths; if none were, the walk would never be used.
    CHECK(native * 2 > k.rules->size());
    for_each_sample_rule([&](const fs::path& file, xmlDoc* doc, const portgate::rules::rule& r) {
        if (!r.context_paths) return;
        portgate::xml::xpath_context ctx(doc, k.rules->namespaces(r.family));
        auto by_xpath = ctx.nodes(r.context, xmlDocGetRootElement(doc));
        REQUIRE(by_xpath);
        INFO(file.filename().string() << ": rule " << r.id << " context " << r.context.text());
        CHECK(r.context_paths->select(doc) == *by_xpath);
        ++compared;
    });
    CHECK(compared > 500);
}

TEST_CASE("assertions evaluated without XPath give XPath's verdict, on every sample", "[golden][formats][rules]") {
    const auto& k = knowledge();
    namespace r = portgate::rules;
    r::environment env{k.codes, k.calendar, std::nullopt};
    r::environment_scope scope(&env);
    std::size_t compiled = 0, compared = 0, broken = 0;
    for (auto& rl : k.rules->all()) compiled += rl->fast_assertion ? 1 : 0;
    CHECK(compiled + 15 >= k.rules->size());  // all but date arithmetic, pg:matches, substring, translate, concat
    for_each_sample_rule([&](const fs::path& file, xmlDoc* doc, const r::rule& rl) {
        if (!rl.fast_assertion) return;
        portgate::xml::xpath_context ctx(doc, k.rules->namespaces(rl.family));
        r::register_functions(ctx.raw());
        auto nodes = ctx.nodes(rl.context, xmlDocGetRootElement(doc));
        REQUIRE(nodes);
        for (xmlNode* n : *nodes) {
            auto by_xpath = ctx.boolean(rl.assertion, n);
            REQUIRE(by_xpath);
            INFO(file.filename().string() << ": rule " << rl.id << " at " << portgate::xml::node_path(n));
            CHECK(rl.fast_assertion->boolean(n, env) == *by_xpath);
            ++compared;
            broken += *by_xpath ? 0 : 1;
        }
    });
    CHECK(compared > 1000);
    CHECK(broken > 10);  // the invalid samples break them too: both verdicts were compared
}

namespace {

// Copies of `doc` bent the ways that tell evaluators apart: leaf values and attributes set to awkward texts
// (empty, blank, signs, exponents, long numbers, words, codes the rules look for), elements removed or
// duplicated. Deterministic: the seed is the copy's number.
std::vector<std::unique_ptr<xmlDoc, void (*)(xmlDoc*)>> bent_copies(xmlDoc* doc, int copies) {
    static const char* awkward[] = {"", " ", "0", "-0", "1e3", "  12.50 ", "NaN", "abc", "1.005", "-3", "99999999999999999999",
                                    ".5", "5.", "2", "1", "I", "E", "9610", "1210", "142", "01", "中文", "0.001", "100",
                                    "20261124120000", "X", "  I ", "\t2\n", "1 2"};
    std::vector<std::unique_ptr<xmlDoc, void (*)(xmlDoc*)>> out;
    for (int c = 0; c < copies; ++c) {
        xmlDoc* copy = xmlCopyDoc(doc, 1);
        std::mt19937 rng(static_cast<unsigned>(c) * 7919u + 17u);
        std::vector<xmlNode*> leaves, all;
        auto collect = [&](auto& self, xmlNode* n) -> void {
            for (xmlNode* k = n->children; k; k = k->next) {
                if (k->type != XML_ELEMENT_NODE) continue;
                all.push_back(k);
                bool element_children = false;
                for (xmlNode* g = k->children; g; g = g->next) element_children |= g->type == XML_ELEMENT_NODE;
                if (!element_children) leaves.push_back(k);
                self(self, k);
            }
        };
        collect(collect, reinterpret_cast<xmlNode*>(copy));
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits && !leaves.empty(); ++e) {
            xmlNode* leaf = leaves[rng() % leaves.size()];
            switch (rng() % 6) {
            case 0: case 1: case 2: {
                const char* v = awkward[rng() % std::size(awkward)];
                xmlNodeSetContent(leaf, reinterpret_cast<const xmlChar*>(v));
                break;
            }
            case 3:  // another leaf's value
                if (xmlChar* other = xmlNodeGetContent(leaves[rng() % leaves.size()])) {
                    std::string keep(reinterpret_cast<const char*>(other));
                    xmlFree(other);
                    xmlNodeSetContent(leaf, reinterpret_cast<const xmlChar*>(keep.c_str()));
                }
                break;
            case 4:  // a duplicate right after it
                xmlAddNextSibling(leaf, xmlCopyNode(leaf, 1));
                break;
            default:  // gone (a leaf: nothing else points into it)
                xmlUnlinkNode(leaf);
                xmlFreeNode(leaf);
                leaves.erase(std::find(leaves.begin(), leaves.end(), leaf));
                break;
            }
        }
        for (xmlNode* n : all)  // attributes, where there are any
            for (xmlAttr* a = n->properties; a; a = a->next)
                if (rng() % 3 == 0) xmlSetProp(n, a->name, reinterpret_cast<const xmlChar*>(awkward[rng() % std::size(awkward)]));
        out.emplace_back(copy, xmlFreeDoc);
    }
    return out;
}

}  // namespace

TEST_CASE("contexts and assertions compiled by portgate give XPath's nodes and verdicts, on every sample and bent copies", "[golden][formats][rules]") {
    const auto& k = knowledge();
    namespace r = portgate::rules;
    r::environment env{k.codes, k.calendar, std::nullopt};
    r::environment_scope scope(&env);
    std::size_t contexts = 0, assertions = 0;
    for (auto& rl : k.rules->all()) {
        contexts += rl->fast_context ? 1 : 0;
        assertions += rl->fast_assertion ? 1 : 0;
    }
    // Nearly every rule not of the three common forms: what is left is date arithmetic, pg:matches,
    // substring, translate, concat (see the list in rules.hpp).
    CHECK(contexts >= 5);
    CHECK(assertions >= 45);
    std::size_t compared = 0, broken = 0, documents = 0;
    auto compare = [&](const std::string& where, xmlDoc* doc, const r::rule& rl) {
        portgate::xml::xpath_context ctx(doc, k.rules->namespaces(rl.family), nullptr, &r::register_functions);
        xmlNode* root = xmlDocGetRootElement(doc);
        auto nodes = ctx.nodes(rl.context, root);
        REQUIRE(nodes);
        INFO(where << ": rule " << rl.id);
        if (rl.fast_context) CHECK(rl.fast_context->nodes(root, env) == *nodes);
        if (!rl.fast_assertion) return;
        for (xmlNode* n : *nodes) {
            auto by_xpath = ctx.boolean(rl.assertion, n);
            REQUIRE(by_xpath);
            INFO("at " << portgate::xml::node_path(n) << ": " << rl.assertion.text());
            CHECK(rl.fast_assertion->boolean(n, env) == *by_xpath);
            ++compared;
            broken += *by_xpath ? 0 : 1;
        }
    };
    for (auto& file : sample_files()) {
        std::string bytes = read(file);
        xmlDoc* raw = xmlReadMemory(bytes.data(), static_cast<int>(bytes.size()), nullptr, nullptr, XML_PARSE_NONET);
        if (!raw) continue;
        std::unique_ptr<xmlDoc, void (*)(xmlDoc*)> doc(raw, xmlFreeDoc);
        auto type = k.types->detect(doc.get());
        if (!type) continue;
        std::vector<const r::rule*> mine;
        for (auto& rl : k.rules->all())
            if (rl->family == (*type)->family && (rl->fast_context || rl->fast_assertion) &&
                (rl->types.empty() || std::find(rl->types.begin(), rl->types.end(), (*type)->id) != rl->types.end()))
                mine.push_back(rl.get());
        if (mine.empty()) continue;
        const std::string name = file.filename().string();
        for (auto* rl : mine) compare(name, doc.get(), *rl);
        auto copies = bent_copies(doc.get(), 12);
        for (std::size_t c = 0; c < copies.size(); ++c) {
            ++documents;
            for (auto* rl : mine) compare(name + " bent #" + std::to_string(c), copies[c].get(), *rl);
        }
    }
    CHECK(documents > 300);
    CHECK(compared > 5000);
    CHECK(broken > 500);  // both verdicts were compared many times
}

TEST_CASE("the common assertion forms are evaluated without XPath", "[rules]") {
    namespace r = portgate::rules;
    const portgate::xml::namespace_list none;
    for (const char* common : {" pg:in-table( 'currency' , . ) ", "pg:decimals(.) <= 5",
                               "normalize-space(.) = '9610' or normalize-space( . )=\"1210\"\n  or not(pg:in-table('trade-mode', .))",
                               " normalize-space(.) = 'I' "}) {
        INFO(common);
        auto e = r::fast_expr::compile(common, none);
        REQUIRE(e);
        CHECK(e->result_type() == r::fast_expr::type::boolean);
    }
}

TEST_CASE("normalize-space equality evaluated without XPath gives XPath's verdict on awkward values", "[rules]") {
    namespace r = portgate::rules;
    const auto& k = knowledge();
    r::environment env{k.codes, k.calendar, std::nullopt};
    r::environment_scope scope(&env);
    int held = 0, failed = 0;
    for (const char* assertion : {"normalize-space(.) = '142' or normalize-space(.) = 'A B' or not(pg:in-table('currency', .))",
                                  "normalize-space(.) = 'A B' or normalize-space(.) = ''"})
    for (const char* v : {"142", " 142 ", "\n142\t", "1 42", "502", " 502", "999", "", " \n ", "A B", "  A \t\n B ", "AB", "A  B", "a b", "usd", "USD"}) {
        auto native = r::fast_expr::compile(assertion, {});
        REQUIRE(native);
        auto expr = portgate::xml::xpath_expr::compile(assertion);
        REQUIRE(expr);
        const std::string text = std::string("<r>") + v + "</r>";
        xmlDoc* doc = xmlReadMemory(text.data(), static_cast<int>(text.size()), "v.xml", nullptr, XML_PARSE_NONET);
        REQUIRE(doc);
        {
            portgate::xml::xpath_context ctx(doc, {}, nullptr, &r::register_functions);
            auto by_xpath = ctx.boolean(*expr, xmlDocGetRootElement(doc));
            REQUIRE(by_xpath);
            INFO(assertion << " on '" << v << "'");
            CHECK(native->boolean(xmlDocGetRootElement(doc), env) == *by_xpath);
            (*by_xpath ? held : failed)++;
        }
        xmlFreeDoc(doc);
    }
    CHECK(held >= 10);
    CHECK(failed >= 10);  // 502 and USD are currencies other than 142; most values are neither 'A B' nor empty
}

TEST_CASE("only unions of plain child paths are walked; everything else stays XPath", "[rules]") {
    const portgate::xml::namespace_list ns{{"c", "urn:c"}};
    namespace r = portgate::rules;
    for (const char* plain : {"/c:A", "/c:A/c:B | /c:A/c:C/c:d", " /c:A/c:B|/c:A/c:B ", "/A/b.c/d-e"})
        CHECK(r::path_union::parse(plain, ns).has_value());
    // The last binding of a prefix wins, as in XPath; a prefix bound to no namespace is left to XPath.
    const portgate::xml::namespace_list rebound{{"c", "urn:old"}, {"c", "urn:c"}, {"e", ""}};
    CHECK_FALSE(r::path_union::parse("/e:A", rebound).has_value());
    for (const char* other : {"//c:A", "/c:A//c:B", "/c:A[1]", "/c:A/@x", "/c:A/*", "/c:A/text()", "c:A", "/x:A", "/c:A/..",
                              "/c:A | c:B", "/c:A/child::c:B", "/c:A/", "/", "/c:A | ", "/c:A/c:B[c:x = '|']"})
        CHECK_FALSE(r::path_union::parse(other, ns).has_value());
    // Prefixes are namespaces, not spellings: an element of another namespace is not selected.
    std::string xml = R"(<A xmlns="urn:c" xmlns:o="urn:o"><B/><o:B/><B><d/></B></A>)";
    xmlDoc* raw = xmlReadMemory(xml.data(), static_cast<int>(xml.size()), nullptr, nullptr, 0);
    REQUIRE(raw);
    std::unique_ptr<xmlDoc, void (*)(xmlDoc*)> doc(raw, xmlFreeDoc);
    auto u = r::path_union::parse("/c:A/c:B/c:d | /c:A/c:B", ns);
    REQUIRE(u);
    auto got = u->select(doc.get());
    auto rebound_u = r::path_union::parse("/c:A/c:B/c:d | /c:A/c:B", rebound);
    REQUIRE(rebound_u);
    CHECK(rebound_u->select(doc.get()) == got);
    REQUIRE(got.size() == 3);  // B, B, d in document order
    CHECK(std::string(reinterpret_cast<const char*>(got[0]->name)) == "B");
    CHECK(got[1] == got[2]->parent);
    CHECK(std::string(reinterpret_cast<const char*>(got[2]->name)) == "d");
}

TEST_CASE("a schema forced for a DxpMsg applies to the envelope only, not to the document in its Data", "[golden][formats]") {
    const auto& k = knowledge();
    v::options opt;
    opt.type = "DXP";
    opt.schema = "dxp";  // what a route naming the envelope's schema does
    portgate::xml::limits lim;
    auto r = v::check(k, read(source_dir / "samples" / "dxp" / "dxp-ceb311-order.xml"), opt, lim, "dxp");
    REQUIRE(r);
    INFO(describe(*r));
    CHECK(r->valid());
    REQUIRE(r->inner);
    REQUIRE(r->inner->type);
    CHECK(r->inner->type->id == "CEB311");
    CHECK(r->inner->schema == "ceb-import-draft");
}

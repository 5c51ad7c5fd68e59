// fast_expr, the business rules' own evaluation of their part of XPath 1.0: what it refuses, and, on random
// expressions over random documents, the same verdicts and node-sets as libxml2's XPath.
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <libxml/parser.h>

#include "gateway/formats/codes.hpp"
#include "gateway/rules/expr.hpp"
#include "gateway/rules/rules.hpp"
#include "gateway/xml/xpath.hpp"

namespace r = portgate::rules;
namespace xml = portgate::xml;

namespace {

const xml::namespace_list ns{{"p", "urn:test:p"}, {"q", "urn:test:q"}};

using doc_ptr = std::unique_ptr<xmlDoc, void (*)(xmlDoc*)>;

doc_ptr parse(const std::string& text) {
    return doc_ptr(xmlReadMemory(text.data(), static_cast<int>(text.size()), nullptr, nullptr, XML_PARSE_NONET), xmlFreeDoc);
}

const char* const values[] = {"", " ", "0", "-0", "1", "2", "3", "1.5", " 2 ", "1e3", "NaN", "abc", "-3", ".5", "5.", "0.01",
                              "99999999999999999999", "I", "E", " I ", "a  b", "142", "502", "110101199003071234", "中文"};

// A random document: a list of items with children that are sometimes missing, repeated, blank or odd.
std::string random_document(std::mt19937& rng) {
    auto value = [&] { return std::string(values[rng() % std::size(values)]); };
    std::string d = "<r xmlns:p='urn:test:p' xmlns:q='urn:test:q'><p:head n='" + value() + "'><p:total>" + value() +
                    "</p:total><p:code>" + value() + "</p:code></p:head><p:list size='" + value() + "' pages='" + value() + "'>";
    const int items = 1 + static_cast<int>(rng() % 5);
    for (int i = 0; i < items; ++i) {
        d += "<p:item a='" + value() + "'>";
        for (const char* child : {"q", "price", "code"}) {
            const int copies = static_cast<int>(rng() % 7 == 0 ? 0 : rng() % 6 == 0 ? 2 : 1);
            for (int c = 0; c < copies; ++c) d += std::string("<p:") + child + ">" + value() + "</p:" + child + ">";
        }
        if (rng() % 4 == 0) d += "<q:note>" + value() + "<q:b>" + value() + "</q:b></q:note>";
        d += "</p:item>";
    }
    d += "</p:list><plain>" + value() + "</plain></r>";
    return d;
}

// Random expressions of the covered part (and, through unbound prefixes and other functions, some outside it).
struct generator {
    std::mt19937& rng;
    int pick(int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); }
    std::string literal() { return "'" + std::string(values[rng() % std::size(values)]) + "'"; }
    std::string number() {
        static const char* n[] = {"0", "1", "2", "3", "1.5", "0.01", "100", "-1"};
        return n[pick(std::size(n))];
    }
    std::string test() {
        static const char* t[] = {"p:item", "p:q", "p:price", "p:code", "p:total", "p:head", "p:list", "*", "p:*", "q:note", "q:b",
                                  "plain", "node()", "x:y"};
        return t[pick(std::size(t))];
    }
    std::string step(int depth) {
        static const char* axes[] = {"", "", "", "child::", "self::", "parent::", "descendant::", "descendant-or-self::",
                                     "preceding-sibling::", "following-sibling::", "@", "ancestor::"};
        std::string s;
        switch (pick(8)) {
        case 0: s = "."; break;
        case 1: s = ".."; break;
        default: {
            std::string axis = axes[pick(std::size(axes))];
            if (axis == "@") {
                static const char* attrs[] = {"a", "n", "size", "pages", "*"};
                s = "@" + std::string(attrs[pick(std::size(attrs))]);
            } else {
                s = axis + test();
            }
            if (pick(4) == 0) s += "[" + (pick(2) ? std::to_string(1 + pick(3)) : boolean(depth + 1)) + "]";
        }
        }
        return s;
    }
    std::string path(int depth) {
        std::string p;
        const int shape = pick(6);
        if (shape == 0) p = "/r";
        else if (shape == 1) p = "/";
        else if (shape == 2) p = "//";
        int steps = 1 + pick(3);
        for (int i = 0; i < steps; ++i) {
            if (i > 0) p += pick(5) == 0 ? "//" : "/";
            p += step(depth);
        }
        if (p == "/r" || p == "//") p += "/" + step(depth);
        if (pick(10) == 0) p += " | " + path(depth + 1);
        return p;
    }
    std::string number_expr(int depth) {
        if (depth > 3) return pick(2) ? number() : path(depth);
        switch (pick(10)) {
        case 0: return number();
        case 1: return "count(" + path(depth + 1) + ")";
        case 2: return "sum(" + path(depth + 1) + ")";
        case 3: return "number(" + (pick(3) ? path(depth + 1) : ".") + ")";
        case 4: return "string-length(" + (pick(3) ? path(depth + 1) : string_expr(depth + 1)) + ")";
        case 5: return "pg:decimals(" + path(depth + 1) + ")";
        case 6: return "-" + number_expr(depth + 1);
        case 7: {
            static const char* ops[] = {" + ", " - ", " * ", " div ", " mod "};
            return "(" + number_expr(depth + 1) + ops[pick(std::size(ops))] + number_expr(depth + 1) + ")";
        }
        default: return path(depth + 1);
        }
    }
    std::string string_expr(int depth) {
        switch (pick(5)) {
        case 0: return literal();
        case 1: return "normalize-space(" + (pick(4) ? path(depth + 1) : "") + ")";
        case 2: return "string(" + path(depth + 1) + ")";
        default: return path(depth + 1);
        }
    }
    std::string operand(int depth) {
        switch (pick(4)) {
        case 0: return number_expr(depth + 1);
        case 1: return string_expr(depth + 1);
        case 2: return depth > 2 ? "true()" : boolean(depth + 1);
        default: return path(depth + 1);
        }
    }
    std::string boolean(int depth) {
        if (depth > 3) return path(depth) + " = " + literal();
        static const char* cmp[] = {" = ", " != ", " < ", " <= ", " > ", " >= "};
        switch (pick(12)) {
        case 0: return "(" + boolean(depth + 1) + (pick(2) ? " and " : " or ") + boolean(depth + 1) + ")";
        case 1: return "not(" + operand(depth + 1) + ")";
        case 2: return "boolean(" + operand(depth + 1) + ")";
        case 3: return (pick(2) ? "contains(" : "starts-with(") + string_expr(depth + 1) + ", " + string_expr(depth + 1) + ")";
        case 4: return "pg:in-table('currency', " + string_expr(depth + 1) + ")";
        case 5: return "pg:resident-id(" + path(depth + 1) + ")";
        case 6: return pick(2) ? "true()" : "false()";
        case 7: return path(depth + 1);
        default: return operand(depth + 1) + cmp[pick(std::size(cmp))] + operand(depth + 1);
        }
    }
};

std::vector<xmlNode*> elements_of(xmlDoc* doc) {
    std::vector<xmlNode*> out;
    auto walk = [&](auto& self, xmlNode* n) -> void {
        for (xmlNode* k = n->children; k; k = k->next)
            if (k->type == XML_ELEMENT_NODE) {
                out.push_back(k);
                for (xmlAttr* a = k->properties; a; a = a->next) out.push_back(reinterpret_cast<xmlNode*>(a));
                self(self, k);
            }
    };
    walk(walk, reinterpret_cast<xmlNode*>(doc));
    return out;
}

std::shared_ptr<const portgate::formats::code_tables> currency_table() {
    static auto codes = [] {
        auto c = portgate::formats::code_tables::load(PORTGATE_SOURCE_DIR "/xsd/codes");
        REQUIRE(c);
        return c.value();
    }();
    return codes;
}

}  // namespace

TEST_CASE("fast_expr refuses what it does not cover, so that libxml2 evaluates it", "[rules]") {
    for (const char* outside : {"substring(., 1, 2) = 'a'", "translate(., 'a', 'b')", "concat('a', p:q)", "pg:matches(., 'x')",
                                "position() = 1", "p:item[last()]", "p:item[position() > 1]", "p:item[count(p:q)]", "$v = 1",
                                "ancestor::p:list", "following::p:q", "text() = 'a'", "string(1 + 1) = '2'", "normalize-space(3)",
                                "x:unbound = 1", "(p:item | p:q)[1]", "(p:item)/p:q", "pg:now()", "1 +", "p:q = 'a", "p:q ==== 1",
                                "count(1)", "sum('a')", "p:q and", "1e3 = 1000", "p:item[", "id('a')", "lang('en')",
                                "p:q[1] = 1 or q:*[2]/processing-instruction()", "p:*  = 1 andd 2", "//.", "p:q//self::p:q", "number() = 0"})
        CHECK_FALSE(r::fast_expr::compile(outside, ns).has_value());
    for (const char* inside : {"p:q = 1", "number(p:q) <= number(p:price)", "count(preceding-sibling::p:item) + 1 = p:q",
                               "not(../preceding-sibling::p:item/p:code = p:code)", "preceding-sibling::p:item[1]/p:q < p:q",
                               "/r/p:list/p:item[normalize-space(p:code) = 'I'] | /r/p:head", "@size <= @pages * 204800",
                               ".//p:code[. = '2'] or q:*", "sum(../p:item/p:price) - p:total < 0.01", "-p:q mod 2 = -1",
                               "string-length(normalize-space()) > 0", "pg:in-table('currency', string(.))", "p:item[2][p:q]",
                               "boolean(p:q) = boolean(p:code)", "starts-with(normalize-space(p:code), 'I')", "//p:q",
                               "self::p:item and p:q = preceding-sibling::p:item/p:q", "true() != false()", "pg:resident-id(p:code)"})
        CHECK(r::fast_expr::compile(inside, ns).has_value());
    // Types as XPath has them.
    CHECK(r::fast_expr::compile("p:q | p:price", ns)->result_type() == r::fast_expr::type::nodes);
    CHECK(r::fast_expr::compile("p:q * 2", ns)->result_type() == r::fast_expr::type::number);
    CHECK(r::fast_expr::compile("normalize-space(p:q)", ns)->result_type() == r::fast_expr::type::string);
    CHECK(r::fast_expr::compile("p:q or p:r", ns)->result_type() == r::fast_expr::type::boolean);
}

TEST_CASE("fast_expr gives libxml2's verdicts and node-sets on random expressions over random documents", "[rules]") {
    r::environment env{currency_table(), nullptr, std::nullopt};
    r::environment_scope scope(&env);
    std::mt19937 rng(20261124);
    generator gen{rng};
    std::size_t compiled = 0, refused = 0, compared = 0, held = 0, node_sets = 0;
    for (int d = 0; d < 60; ++d) {
        const std::string text = random_document(rng);
        auto doc = parse(text);
        REQUIRE(doc);
        const auto contexts = elements_of(doc.get());
        xml::xpath_context ctx(doc.get(), ns, nullptr, &r::register_functions);
        for (int e = 0; e < 60; ++e) {
            const std::string expr = rng() % 5 == 0 ? gen.path(0) : gen.boolean(0);
            auto by_libxml2 = xml::xpath_expr::compile(expr);
            auto mine = r::fast_expr::compile(expr, ns);
            if (!mine) {
                ++refused;
                continue;
            }
            ++compiled;
            REQUIRE(by_libxml2);  // what fast_expr takes, libxml2 takes
            for (xmlNode* c : contexts) {
                auto verdict = ctx.boolean(*by_libxml2, c);
                REQUIRE(verdict);
                INFO("document " << text << "\nexpression " << expr << "\ncontext " << xml::node_path(c));
                CHECK(mine->boolean(c, env) == *verdict);
                ++compared;
                held += *verdict ? 1 : 0;
                if (mine->result_type() == r::fast_expr::type::nodes) {
                    auto nodes = ctx.nodes(*by_libxml2, c);
                    REQUIRE(nodes);
                    CHECK(mine->nodes(c, env) == *nodes);
                    ++node_sets;
                }
            }
        }
    }
    // Both sides of the covered part were generated, both verdicts come up often, node-sets are compared.
    CHECK(compiled > 1500);
    CHECK(refused > 500);
    CHECK(compared > 20000);
    CHECK(held * 5 > compared);
    CHECK((compared - held) * 5 > compared);
    CHECK(node_sets > 2000);
}

TEST_CASE("fast_expr: arithmetic, conversions and comparisons at their edges agree with libxml2", "[rules]") {
    r::environment env{currency_table(), nullptr, std::nullopt};
    r::environment_scope scope(&env);
    auto doc = parse("<r xmlns:p='urn:test:p'><p:a>5</p:a><p:a> 7 </p:a><p:b>-0</p:b><p:c/><p:d>1e2</p:d><p:e> 0.10 </p:e></r>");
    REQUIRE(doc);
    xmlNode* root = xmlDocGetRootElement(doc.get());
    xml::xpath_context ctx(doc.get(), ns, nullptr, &r::register_functions);
    std::size_t held = 0, total = 0;
    for (const char* e : {"5 mod 3 = 2", "-5 mod 3 = -2", "5 mod -3 = 2", "5.5 mod 2 = 1.5", "p:a mod 3 = 2", "1 div 0 > 1000000",
                          "-1 div 0 < -1000000", "0 div 0 = 0 div 0", "0 div 0 != 0 div 0", "-0 = 0", "p:b = 0", "1 div p:b < 0",
                          "'abc' = 'abc'", "1 = '1.0'", "'1' = '1.0'", "true() = 'x'", "'' = false()", "p:c = ''", "p:c = 0",
                          "p:c != 0", "p:zz = ''", "p:zz != ''", "not(p:zz != 1)", "p:a = 7", "p:a = ' 7 '", "p:a != 5", "p:a > 6",
                          "7 > p:a", "p:a < p:a", "p:a = p:a[2]", "p:a != p:a", "p:a = true()", "p:zz = false()", "p:d = 100",
                          "p:d != p:d", "p:e = 0.1", "p:e = '0.10'", "sum(p:a) = 12", "sum(p:a | p:d) != sum(p:a | p:d)",
                          "count(p:a | p:a) = 2", "-p:a = -5", "- - p:a = 5", "string-length('中文') = 2", "string(p:c) = ''",
                          "normalize-space('  a \t b ') = 'a b'", "pg:decimals(p:e) = 2", "pg:in-table('currency', ' 142 ')",
                          "contains('abc', '')", "starts-with('', '')", "number('') != number('')", "boolean('0')",
                          "boolean(0)", "boolean(-0)", "boolean(0 div 0)", "boolean(p:c)", "true() > false()", "'2' > '10'",
                          "p:a[1] + p:a[2] = 12", "p:a[3] + 1 = p:a[3] + 1", "0.1 + 0.2 = 0.3", "0.3 - 0.1 = 0.2", "3 * 0.1 < 0.3"}) {
        auto mine = r::fast_expr::compile(e, ns);
        INFO(e);
        REQUIRE(mine);
        auto theirs = xml::xpath_expr::compile(e);
        REQUIRE(theirs);
        auto verdict = ctx.boolean(*theirs, root);
        REQUIRE(verdict);
        CHECK(mine->boolean(root, env) == *verdict);
        held += *verdict ? 1 : 0;
        ++total;
    }
    CHECK(held > 10);
    CHECK(total - held > 10);
}

TEST_CASE("fast_expr binds the xml and pg prefixes as the rules' XPath context does, whatever a rule file says", "[rules]") {
    r::environment env{currency_table(), nullptr, std::nullopt};
    r::environment_scope scope(&env);
    const xml::namespace_list odd{{"p", "urn:test:p"}, {"xml", "urn:not-xml"}, {"pg", "urn:not-pg"}};
    auto doc = parse("<r xmlns:p='urn:test:p' xmlns:f='urn:portgate:xpath' xml:lang='zh'><f:x>1</f:x><p:y>2</p:y></r>");
    REQUIRE(doc);
    xmlNode* root = xmlDocGetRootElement(doc.get());
    xml::xpath_context ctx(doc.get(), odd, nullptr, &r::register_functions);
    for (const char* e : {"@xml:lang = 'zh'", "count(pg:x) = 1", "pg:x = 1 and p:y = 2", "count(@*) = 1"}) {
        INFO(e);
        auto mine = r::fast_expr::compile(e, odd);
        REQUIRE(mine);
        auto theirs = xml::xpath_expr::compile(e);
        REQUIRE(theirs);
        auto verdict = ctx.boolean(*theirs, root);
        REQUIRE(verdict);
        CHECK(*verdict);  // the document is made so that each holds
        CHECK(mine->boolean(root, env) == *verdict);
    }
}

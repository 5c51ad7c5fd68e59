// Tests of xml::xpath_context's per-thread pool of libxml2 contexts: a context given back and taken again
// must behave exactly like a fresh one — the document it is bound to, the namespaces and functions its kind
// registered and nothing else, the errors of its own evaluation, and several alive at once.
#include "gateway/xml/xpath.hpp"

#include <string>

#include <catch2/catch.hpp>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpathInternals.h>

namespace px = portgate::xml;

namespace {

struct doc_holder {
    xmlDoc* doc;
    explicit doc_holder(const std::string& text) : doc(xmlReadMemory(text.data(), static_cast<int>(text.size()), "t.xml", nullptr, XML_PARSE_NONET)) {}
    ~doc_holder() { xmlFreeDoc(doc); }
    xmlNode* root() const { return xmlDocGetRootElement(doc); }
};

px::xpath_expr expr(const char* text) {
    auto e = px::xpath_expr::compile(text);
    REQUIRE(e);
    return std::move(e.value());
}

void twice(xmlXPathParserContext* ctxt, int nargs) {
    double v = xmlXPathPopNumber(ctxt);
    (void)nargs;
    xmlXPathReturnNumber(ctxt, 2 * v);
}

void register_twice(xmlXPathContext* ctx) {
    xmlXPathRegisterFuncNS(ctx, reinterpret_cast<const xmlChar*>("twice"), reinterpret_cast<const xmlChar*>("urn:test:fn"), twice);
}

const px::namespace_list a_ns{{"a", "urn:a"}, {"f", "urn:test:fn"}};
const px::namespace_list b_ns{{"b", "urn:b"}, {"f", "urn:test:fn"}};

}  // namespace

TEST_CASE("xpath_context: a pooled context is bound to each new document", "[xml][xpath]") {
    doc_holder one("<a:r xmlns:a='urn:a'><a:x/></a:r>"), three("<a:r xmlns:a='urn:a'><a:x/><a:x/><a:x/></a:r>");
    auto count = expr("count(//a:x)");
    for (int round = 0; round < 3; ++round) {  // the second and third rounds take the context the first gave back
        {
            px::xpath_context c(one.doc, a_ns);
            CHECK(c.string(count, one.root()).value() == "1");
        }
        {
            px::xpath_context c(three.doc, a_ns);
            CHECK(c.string(count, three.root()).value() == "3");
            // The root of "/" is the document bound now, not the one before.
            CHECK(c.string(expr("count(/a:r/a:x)"), three.root()).value() == "3");
        }
    }
}

TEST_CASE("xpath_context: namespaces and functions come from the context's own kind only", "[xml][xpath]") {
    doc_holder d("<a:r xmlns:a='urn:a' xmlns:b='urn:b'><a:x>4</a:x><b:y>5</b:y></a:r>");
    auto with_fn = expr("f:twice(number(//a:x))");
    auto b_path = expr("string(//b:y)");
    {
        px::xpath_context c(d.doc, a_ns, nullptr, &register_twice);
        CHECK(c.string(with_fn, d.root()).value() == "8");
    }
    {
        // Same namespaces, no registrar: the pooled context that has f:twice must not be the one given. (A
        // freshly compiled expression: libxml2 keeps the function it found in the compiled expression.)
        px::xpath_context c(d.doc, a_ns);
        auto r = c.string(expr("f:twice(number(//a:x))"), d.root());
        REQUIRE_FALSE(r);
        CHECK_THAT(r.err().message, Catch::Contains("twice"));
    }
    {
        // Other namespaces: prefix b is bound, a is not.
        px::xpath_context c(d.doc, b_ns);
        CHECK(c.string(b_path, d.root()).value() == "5");
        CHECK_FALSE(c.string(expr("string(//a:x)"), d.root()));
    }
    {
        // An error in one use leaves nothing behind for the next.
        px::xpath_context c(d.doc, a_ns, nullptr, &register_twice);
        CHECK_FALSE(c.string(expr("f:nope(1)"), d.root()));
        CHECK(c.string(with_fn, d.root()).value() == "8");
        CHECK(c.last_error().empty());
    }
    {
        px::xpath_context c(d.doc, a_ns, nullptr, &register_twice);
        CHECK(c.string(with_fn, d.root()).value() == "8");
    }
}

TEST_CASE("xpath_context: contexts of one kind alive at once are distinct; one changed from outside is not reused", "[xml][xpath]") {
    doc_holder one("<a:r xmlns:a='urn:a'><a:x/></a:r>"), two("<a:r xmlns:a='urn:a'><a:x/><a:x/></a:r>");
    auto count = expr("count(//a:x)");
    {
        px::xpath_context outer(one.doc, a_ns);
        px::xpath_context inner(two.doc, a_ns);
        CHECK(inner.string(count, two.root()).value() == "2");
        CHECK(outer.string(count, one.root()).value() == "1");
        CHECK(outer.raw() != inner.raw());
    }
    {
        px::xpath_context c(one.doc, a_ns);
        c.add_namespaces({{"z", "urn:b"}});
        CHECK(c.string(expr("count(//z:y)"), one.root()).value() == "0");
    }
    for (int i = 0; i < 3; ++i) {
        // Whichever context of this kind comes out of the pool, prefix z is not bound in it.
        px::xpath_context c(one.doc, a_ns);
        CHECK_FALSE(c.string(expr("count(//z:y)"), one.root()));
    }
}

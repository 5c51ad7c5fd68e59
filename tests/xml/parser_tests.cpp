// Tests of the hardened XML parser: the document it returns, each xml_* error code on a hostile input,
// positions in messages, GB2312 input, silence on stdout/stderr and concurrent use from worker threads.
#include "gateway/xml/parser.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>
#include <libxml/parser.h>
#include <libxml/tree.h>

namespace px = portgate::xml;
using portgate::errc;

namespace {

const char* const receipt_doc =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<receipt xmlns=\"urn:cn:customs:receipt\">\n"
    "  <head><id>R-1</id></head>\n"
    "  <body><status code=\"1\">accepted</status></body>\n"
    "</receipt>\n";

px::limits default_limits() { return px::limits{}; }

px::limits with_max_bytes(std::size_t n) {
    px::limits lim;
    lim.max_bytes = n;
    return lim;
}

std::string nested(int depth) {
    std::string s;
    s.reserve(static_cast<std::size_t>(depth) * 7);
    for (int i = 0; i < depth; ++i) s += "<a>";
    for (int i = 0; i < depth; ++i) s += "</a>";
    return s;
}

std::string content_of(const xmlNode* node) {
    xmlChar* text = xmlNodeGetContent(node);
    std::string s = text ? reinterpret_cast<const char*>(text) : "";
    xmlFree(text);
    return s;
}

const xmlNode* first_element_child(const xmlNode* node) {
    for (const xmlNode* c = node->children; c != nullptr; c = c->next)
        if (c->type == XML_ELEMENT_NODE) return c;
    return nullptr;
}

// Runs `fn` with stdout and stderr sent to a temporary file and returns what was written to them.
template <class F>
std::string captured_output(F&& fn) {
    std::fflush(stdout);
    std::fflush(stderr);
    std::FILE* sink = std::tmpfile();
    REQUIRE(sink != nullptr);
    const int saved_out = dup(1);
    const int saved_err = dup(2);
    dup2(fileno(sink), 1);
    dup2(fileno(sink), 2);
    fn();
    std::fflush(stdout);
    std::fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    std::string out;
    std::rewind(sink);
    char buf[512];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, sink)) > 0;) out.append(buf, n);
    std::fclose(sink);
    return out;
}

struct recorded_errors {
    int count = 0;
};

void record_error(void* data, xmlErrorPtr) { ++static_cast<recorded_errors*>(data)->count; }

}  // namespace

TEST_CASE("a valid namespaced document yields its root, element count and depth", "[xml]") {
    px::initialise();
    auto r = px::parse(receipt_doc, default_limits());
    REQUIRE(r);
    CHECK(r->root_namespace == "urn:cn:customs:receipt");
    CHECK(r->root_name == "receipt");
    CHECK(px::qualified_root(*r) == "{urn:cn:customs:receipt}receipt");
    CHECK(r->elements == 5);
    CHECK(r->depth == 3);
    REQUIRE(r->doc);
    const xmlNode* root = xmlDocGetRootElement(r->doc.get());
    REQUIRE(root != nullptr);
    // Blanks are kept: signed documents depend on their whitespace text nodes.
    REQUIRE(root->children != nullptr);
    CHECK(root->children->type == XML_TEXT_NODE);
    CHECK(content_of(root->children) == "\n  ");
}

TEST_CASE("root fields for a prefixed namespace and for no namespace", "[xml]") {
    auto prefixed = px::parse("<c:declaration xmlns:c=\"urn:cn:customs\"><c:item/></c:declaration>",
                              default_limits());
    REQUIRE(prefixed);
    CHECK(prefixed->root_namespace == "urn:cn:customs");
    CHECK(prefixed->root_name == "declaration");
    CHECK(px::qualified_root(*prefixed) == "{urn:cn:customs}declaration");

    auto plain = px::parse("<manifest><line/></manifest>", default_limits());
    REQUIRE(plain);
    CHECK(plain->root_namespace.empty());
    CHECK(px::qualified_root(*plain) == "manifest");
    CHECK(plain->elements == 2);
    CHECK(plain->depth == 2);
}

TEST_CASE("empty and whitespace-only input is xml_empty", "[xml]") {
    for (std::string_view input : {std::string_view{}, std::string_view{" \r\n\t "},
                                   std::string_view{"\xEF\xBB\xBF\n"}}) {
        auto r = px::parse(input, default_limits(), "upload.xml");
        REQUIRE_FALSE(r);
        CHECK(r.err().code == errc::xml_empty);
        CHECK(r.err().message.starts_with("upload.xml: "));
    }
}

TEST_CASE("input over max_bytes is xml_too_large before any parsing", "[xml]") {
    const std::string doc = "<a>0123456789</a>";
    CHECK(px::parse(doc, with_max_bytes(doc.size())));

    auto r = px::parse(doc, with_max_bytes(doc.size() - 1));
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::xml_too_large);

    // Not XML at all, yet the size verdict comes first: nothing was handed to libxml2.
    auto junk = px::parse(std::string(100, 'x'), with_max_bytes(99));
    REQUIRE_FALSE(junk);
    CHECK(junk.err().code == errc::xml_too_large);
}

TEST_CASE("an XXE document is refused as xml_dtd_forbidden with its position", "[xml]") {
    const std::string xxe =
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE receipt [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
        "<receipt>&x;</receipt>";
    auto r = px::parse(xxe, default_limits());
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::xml_dtd_forbidden);
    CHECK_THAT(r.err().message, Catch::Contains("DOCTYPE is not allowed"));
    REQUIRE(r.err().problems.size() == 1);
    CHECK(r.err().problems[0].line == 2);
    // Column 19 is the '[' opening the internal subset: refused before the ENTITY was even read.
    CHECK(r.err().problems[0].column == 19);
}

TEST_CASE("an external DTD reference is refused without being fetched", "[xml]") {
    auto r = px::parse("<!DOCTYPE a SYSTEM \"http://127.0.0.1:9/evil.dtd\"><a/>", default_limits());
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::xml_dtd_forbidden);
    CHECK(r.err().problems.at(0).line == 1);
}

TEST_CASE("billion laughs is refused quickly as xml_dtd_forbidden", "[xml]") {
    std::string lol = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n";
    for (int i = 1; i <= 9; ++i) {
        lol += "<!ENTITY lol" + std::to_string(i) + " \"";
        for (int k = 0; k < 10; ++k) lol += "&lol" + (i == 1 ? std::string{} : std::to_string(i - 1)) + ";";
        lol += "\">\n";
    }
    lol += "]>\n<lolz>&lol9;</lolz>";
    const auto start = std::chrono::steady_clock::now();
    auto r = px::parse(lol, default_limits());
    const auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::xml_dtd_forbidden);
    CHECK(elapsed < std::chrono::seconds(1));
}

TEST_CASE("100,000-deep nesting is xml_too_deep, without recursion or delay", "[xml]") {
    const auto start = std::chrono::steady_clock::now();
    auto r = px::parse(nested(100'000), with_max_bytes(64 * 1024 * 1024));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::xml_too_deep);
    REQUIRE(r.err().problems.size() == 1);
    CHECK(r.err().problems[0].line == 1);
    // Reported at the '>' of the 257th <a> (column 257 * 3): our limit (256) fires, not libxml2's.
    CHECK(r.err().problems[0].column == 771);
    CHECK_THAT(r.err().message, Catch::Contains("deeper than 256 at line 1, column 771"));
    CHECK(elapsed < std::chrono::seconds(2));
}

TEST_CASE("max_depth is enforced exactly", "[xml]") {
    px::limits lim;
    lim.max_depth = 10;
    auto at_limit = px::parse(nested(10), lim);
    REQUIRE(at_limit);
    CHECK(at_limit->depth == 10);

    auto over = px::parse(nested(11), lim);
    REQUIRE_FALSE(over);
    CHECK(over.err().code == errc::xml_too_deep);
}

TEST_CASE("libxml2's own depth cap is reported as xml_too_deep when max_depth is above it", "[xml]") {
    px::limits lim;
    lim.max_depth = 1000;
    auto r = px::parse(nested(600), lim);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::xml_too_deep);
    CHECK(r.err().problems.at(0).line == 1);
}

TEST_CASE("more elements than max_elements is xml_too_many_elements", "[xml]") {
    px::limits lim;
    lim.max_elements = 5;
    auto five = px::parse("<r><i/><i/><i/><i/></r>", lim);
    REQUIRE(five);
    CHECK(five->elements == 5);

    auto six = px::parse("<r>\n<i/><i/><i/><i/><i/></r>", lim);
    REQUIRE_FALSE(six);
    CHECK(six.err().code == errc::xml_too_many_elements);
    CHECK(six.err().problems.at(0).line == 2);
    CHECK_THAT(six.err().message, Catch::Contains("more than 5 elements"));
}

TEST_CASE("invalid UTF-8 is xml_bad_encoding with its position", "[xml]") {
    SECTION("in text") {
        auto r = px::parse("<a>\n  <b>\xC3\x28</b>\n</a>", default_limits());
        REQUIRE_FALSE(r);
        CHECK(r.err().code == errc::xml_bad_encoding);
        CHECK(r.err().problems.at(0).line == 2);
        CHECK(r.err().problems.at(0).column == 6);
        CHECK_THAT(r.err().message, Catch::Contains("invalid UTF-8 byte sequence"));
        CHECK_THAT(r.err().message, Catch::Contains("0xC3"));
    }
    SECTION("right after an element name, which libxml2 reports as a syntax error") {
        auto r = px::parse("<a\xFF/>", default_limits());
        REQUIRE_FALSE(r);
        CHECK(r.err().code == errc::xml_bad_encoding);
        CHECK(r.err().problems.at(0).column == 3);
    }
    SECTION("a GBK document without an encoding declaration") {
        auto r = px::parse("<\xBA\xA3\xB9\xD8/>", default_limits());
        REQUIRE_FALSE(r);
        CHECK(r.err().code == errc::xml_bad_encoding);
    }
    SECTION("an encoded surrogate") {
        auto r = px::parse("<a>\xED\xA0\x80</a>", default_limits());
        REQUIRE_FALSE(r);
        CHECK(r.err().code == errc::xml_bad_encoding);
    }
}

TEST_CASE("an allowed byte sequence for a disallowed character stays xml_malformed", "[xml]") {
    auto r = px::parse("<a>\x01</a>", default_limits());
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::xml_malformed);
}

TEST_CASE("GB2312 documents are decoded to UTF-8", "[xml]") {
    // <?xml ... encoding="GB2312"?><回执 xmlns="urn:cn:customs"><状态>成功</状态></回执>
    const std::string gb2312 =
        "<?xml version=\"1.0\" encoding=\"GB2312\"?>\n"
        "<\xBB\xD8\xD6\xB4 xmlns=\"urn:cn:customs\"><\xD7\xB4\xCC\xAC>\xB3\xC9\xB9\xA6</\xD7\xB4\xCC\xAC>"
        "</\xBB\xD8\xD6\xB4>";
    auto r = px::parse(gb2312, default_limits());
    REQUIRE(r);
    CHECK(r->root_name == "\xE5\x9B\x9E\xE6\x89\xA7");  // 回执
    CHECK(px::qualified_root(*r) == "{urn:cn:customs}\xE5\x9B\x9E\xE6\x89\xA7");
    const xmlNode* status = first_element_child(xmlDocGetRootElement(r->doc.get()));
    REQUIRE(status != nullptr);
    CHECK(content_of(status) == "\xE6\x88\x90\xE5\x8A\x9F");  // 成功

    auto gbk = px::parse("<?xml version=\"1.0\" encoding=\"GBK\"?><a>\xBA\xA3\xB9\xD8</a>", default_limits());
    REQUIRE(gbk);
    CHECK(content_of(xmlDocGetRootElement(gbk->doc.get())) == "\xE6\xB5\xB7\xE5\x85\xB3");  // 海关
}

TEST_CASE("bytes invalid for a declared encoding are xml_bad_encoding", "[xml]") {
    auto bad = px::parse("<?xml version=\"1.0\" encoding=\"GB2312\"?>\n<a>ok\n\xFF\xFF</a>", default_limits());
    REQUIRE_FALSE(bad);
    CHECK(bad.err().code == errc::xml_bad_encoding);
    CHECK_THAT(bad.err().message, Catch::Contains("GB2312"));

    auto unknown = px::parse("<?xml version=\"1.0\" encoding=\"X-NO-SUCH\"?><a/>", default_limits());
    REQUIRE_FALSE(unknown);
    CHECK(unknown.err().code == errc::xml_bad_encoding);
}

TEST_CASE("a truncated document is xml_malformed at its end", "[xml]") {
    auto r = px::parse("<a>\n<b>\n<c>", default_limits(), "cut.xml");
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::xml_malformed);
    CHECK(r.err().problems.at(0).line == 3);
    CHECK_THAT(r.err().message, Catch::StartsWith("cut.xml: ") && Catch::Contains("Premature end of data"));
}

TEST_CASE("a malformed line 3 is reported with libxml2's message, line and column", "[xml]") {
    auto r = px::parse("<a>\n<b>\n</c></a>", default_limits());
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::xml_malformed);
    REQUIRE(r.err().problems.size() == 1);
    const auto& p = r.err().problems[0];
    CHECK(p.line == 3);
    CHECK(p.column == 5);
    CHECK(p.message == "Opening and ending tag mismatch: b line 2 and c");
    CHECK_THAT(r.err().message, Catch::EndsWith("(line 3, column 5)"));
}

TEST_CASE("undeclared entities and namespace prefixes are xml_malformed", "[xml]") {
    auto entity = px::parse("<a>&foo;</a>", default_limits());
    REQUIRE_FALSE(entity);
    CHECK(entity.err().code == errc::xml_malformed);

    auto prefix = px::parse("<x:a/>", default_limits());
    REQUIRE_FALSE(prefix);
    CHECK(prefix.err().code == errc::xml_malformed);
    CHECK_THAT(prefix.err().message, Catch::Contains("namespace"));

    auto predefined = px::parse("<a>&amp;&#x41;</a>", default_limits());
    REQUIRE(predefined);
    CHECK(content_of(xmlDocGetRootElement(predefined->doc.get())) == "&A");
}

TEST_CASE("a 50 MB attribute value is xml_value_too_long, quickly", "[xml]") {
    const std::string doc = "<a v=\"" + std::string(50 * 1024 * 1024, 'x') + "\"/>";
    const auto start = std::chrono::steady_clock::now();
    auto r = px::parse(doc, with_max_bytes(64 * 1024 * 1024));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::xml_value_too_long);
    CHECK(r.err().problems.at(0).line == 1);
    CHECK(elapsed < std::chrono::seconds(3));
}

TEST_CASE("text content over the value limit is xml_value_too_long", "[xml]") {
    // libxml2 2.9 caps attribute values itself but not text; the parser's own hook must catch this.
    const std::string doc = "<a>" + std::string(10'000'001, 'x') + "</a>";
    auto r = px::parse(doc, with_max_bytes(64 * 1024 * 1024));
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::xml_value_too_long);

    const std::string fits = "<a>" + std::string(10'000'000, 'x') + "</a>";
    CHECK(px::parse(fits, with_max_bytes(64 * 1024 * 1024)));
}

TEST_CASE("hostile documents print nothing to stdout or stderr", "[xml]") {
    std::vector<errc> codes;
    const auto output = captured_output([&] {
        for (std::string_view doc : {
                 std::string_view{"<a>\xC3\x28</a>"},
                 std::string_view{"<?xml version=\"1.0\" encoding=\"GB2312\"?><a>\xFF\xFF</a>"},
                 std::string_view{"<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>"},
                 std::string_view{"<a><b></a>"},
                 std::string_view{"<x:a/>"},
             }) {
            auto r = px::parse(doc, default_limits());
            codes.push_back(r ? errc::ok : r.err().code);
        }
    });
    CHECK(output.empty());
    CHECK(codes == std::vector<errc>{errc::xml_bad_encoding, errc::xml_bad_encoding, errc::xml_dtd_forbidden,
                                     errc::xml_malformed, errc::xml_malformed});
}

TEST_CASE("the thread's own libxml2 error handler is neither called nor replaced", "[xml]") {
    recorded_errors seen;
    xmlSetStructuredErrorFunc(&seen, &record_error);
    auto r = px::parse("<a><b></a>", default_limits());
    const bool handler_kept = xmlStructuredError == &record_error && xmlStructuredErrorContext == &seen;
    xmlSetStructuredErrorFunc(nullptr, nullptr);
    CHECK_FALSE(r);
    CHECK(seen.count == 0);
    CHECK(handler_kept);
}

TEST_CASE("other libxml2 users can still read files through the entity loader", "[xml]") {
    px::initialise();
    const auto path = std::filesystem::temp_directory_path() /
                      ("portgate_xml_loader_" + std::to_string(::getpid()) + ".xml");
    {
        std::ofstream out(path);
        out << "<schema/>";
    }
    xmlDocPtr doc = xmlReadFile(path.c_str(), nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR);
    std::filesystem::remove(path);
    CHECK(doc != nullptr);
    xmlFreeDoc(doc);
}

TEST_CASE("4 threads parsing 1000 documents each get correct, independent results", "[xml]") {
    px::initialise();
    std::atomic<int> good{0};
    std::atomic<int> wrong{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < 1000; ++i) {
                auto r = px::parse(receipt_doc, default_limits());
                if (r && px::qualified_root(*r) == "{urn:cn:customs:receipt}receipt" && r->elements == 5)
                    ++good;
                else
                    ++wrong;
                // Interleave failures so one thread's captured errors cannot leak into another's result.
                if (i % 50 == t) {
                    auto bad = px::parse("<a>\n<b>\xC3\x28</b></a>", default_limits());
                    if (bad || bad.err().code != errc::xml_bad_encoding || bad.err().problems.at(0).line != 2)
                        ++wrong;
                }
            }
        });
    }
    for (auto& w : workers) w.join();
    CHECK(good == 4000);
    CHECK(wrong == 0);
}

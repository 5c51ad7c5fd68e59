// The command line over the formats data: `validate --type auto [--rules]`, `receipt`, `types`, and the
// errors a broken xsd/ directory gets.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "tests/support/gateway_process.hpp"

using namespace portgate::test;

namespace {
std::string src(const std::string& rel) { return (fs::path(PORTGATE_SOURCE_DIR) / rel).string(); }
std::string slurp(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
std::string replace_once(std::string s, const std::string& from, const std::string& to) {
    auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
}
}  // namespace

TEST_CASE("validate --type auto detects the type and schema, --rules adds the business rules", "[cli][formats]") {
    std::string out;
    std::string order = src("samples/ceb/ceb311-order-valid.xml");
    REQUIRE(run_portgate(fmt::format("validate --type auto --rules {}", order), out) == 0);
    CHECK(out.find("valid CEB311 [ceb-import] schema ceb-import-draft (draft), rules passed") != std::string::npos);

    // A line total that does not add up passes the XSD alone but not the rules.
    temp_dir tmp("cli-formats");
    std::string doc = slurp(order);
    auto bad = tmp.path / "order-bad-total.xml";
    write(bad, replace_once(doc, "<ceb:totalPrice>396.00</ceb:totalPrice>", "<ceb:totalPrice>397.00</ceb:totalPrice>"));
    CHECK(run_portgate(fmt::format("validate --type auto {}", bad.string()), out) == 0);
    CHECK(run_portgate(fmt::format("validate --type auto --rules {}", bad.string()), out) == 1);
    INFO(out);
    CHECK(out.find("PG-304") != std::string::npos);
    // file:line: [RULE] message (prevents customs error …) at /path
    CHECK(std::regex_search(out, std::regex(R"(order-bad-total\.xml:[0-9]+: \[IMP_[A-Z0-9_]+\] .* at /CEB311Message/Order/OrderList\[1\])")));

    // The wrong namespace is named as such.
    auto wrong_ns = tmp.path / "wrong-ns.xml";
    write(wrong_ns, replace_once(doc, "xmlns:ceb=\"http://www.chinaport.gov.cn/ceb\"", "xmlns:ceb=\"http://example.com/ceb\""));
    CHECK(run_portgate(fmt::format("validate --type auto {}", wrong_ns.string()), out) == 1);
    CHECK(out.find("PG-305") != std::string::npos);
    CHECK(out.find("wrong namespace") != std::string::npos);

    // An explicit type, and an unknown one (usage error).
    CHECK(run_portgate(fmt::format("validate --type CEB311 {}", order), out) == 0);
    CHECK(run_portgate(fmt::format("validate --type CEB999 {}", order), out) == 2);
    CHECK(run_portgate(fmt::format("validate --schema ceb-import --type auto {}", order), out) == 2);
    CHECK(run_portgate(fmt::format("validate --schema ceb-import --rules {}", order), out) == 2);
}

TEST_CASE("portgate receipt prints normalized records as JSON lines", "[cli][formats]") {
    std::string out;
    REQUIRE(run_portgate(fmt::format("receipt {}", src("samples/ceb/ceb622-receipt-800.xml")), out) == 0);
    INFO(out);
    CHECK(out.find(R"("type":"CEB622")") != std::string::npos);
    CHECK(out.find(R"("status":"800")") != std::string::npos);
    CHECK(out.find(R"("family":"ceb-import")") != std::string::npos);
    temp_dir tmp("cli-receipt");
    auto junk = tmp.path / "junk.xml";
    write(junk, "<Hello/>");
    CHECK(run_portgate(fmt::format("receipt {}", junk.string()), out) == 1);
    CHECK(out.find("PG-305") != std::string::npos);
}

TEST_CASE("portgate types lists the registry, a broken rules file is reported with file and line", "[cli][formats]") {
    std::string out;
    REQUIRE(run_portgate("types", out) == 0);
    CHECK(std::regex_search(out, std::regex(R"(CEB311 +ceb-import +message +CEB311Message)")));
    CHECK(std::regex_search(out, std::regex(R"([0-9]+ types, [0-9]+ business rules, [0-9]+ code tables)")));

    // A copy of xsd/ with one broken rule.
    temp_dir tmp("cli-broken-xsd");
    fs::copy(src("xsd"), tmp.path / "xsd", fs::copy_options::recursive);
    {
        std::ofstream(tmp.path / "xsd" / "rules" / "ceb-import.toml", std::ios::app)
            << "\n[[rule]]\nid = \"IMP_BROKEN_FOR_TEST\"\ncontext = \"//ceb:OrderHead[\"\nassert = \"true()\"\nmessage = \"m\"\n";
    }
    CHECK(run_portgate(fmt::format("types --xsd-dir {}", (tmp.path / "xsd").string()), out) == 2);
    CHECK(std::regex_search(out, std::regex(R"(ceb-import\.toml:[0-9]+: rule IMP_BROKEN_FOR_TEST: context: XPath .* does not compile)")));
}


// The XSLT engine on stylesheets of the test's own: extension functions, several outputs from one input,
// clear failures (unknown code, missing parameter, the stylesheet's own refusal), no file or network access,
// deterministic guids and times for golden tests, text output.
#include "gateway/mapping/engine.hpp"

#include <fstream>
#include <regex>

#include <catch2/catch.hpp>

#include "gateway/xml/parser.hpp"
#include "tests/support/gateway_process.hpp"

namespace m = portgate::mapping;
namespace f = portgate::formats;
namespace fs = std::filesystem;

namespace {

constexpr const char* head = R"~(<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
  xmlns:pg="urn:portgate:xpath" xmlns:out="urn:portgate:mapping" xmlns:s="urn:test:shop"
  extension-element-prefixes="pg" exclude-result-prefixes="pg s">
)~";

struct fixture {
    portgate::test::temp_dir dir{"mapping"};
    std::shared_ptr<const f::code_tables> codes;
    fixture() {
        fs::create_directories(dir.path / "codes");
        fs::create_directories(dir.path / "mappings");
        std::ofstream(dir.path / "codes" / "currency.tsv") << "142\t人民币\tyuan\tCNY\n502\t美元\tUS dollar\tUSD\n";
        codes = *f::code_tables::load(dir.path / "codes");
    }
    void sheet(const std::string& name, const std::string& body) {
        std::ofstream(dir.path / "mappings" / name) << head << body << "\n</xsl:stylesheet>\n";
    }
    portgate::result<std::shared_ptr<const m::library>> load() {
        return m::library::load(dir.path / "mappings", portgate::rules::environment{codes, nullptr, std::nullopt});
    }
};

constexpr const char* batch = R"(<Batch xmlns="urn:test:shop"><Order><no>A1</no><cur>USD</cur><amount>198</amount><at>2026-11-23T09:08:07</at></Order><Order><no>A2</no><cur>CNY</cur><amount>2.675</amount><at>20261123100000</at></Order></Batch>)";

}  // namespace

TEST_CASE("a stylesheet maps one batch to one document per order with codes, amounts, times, params and guids", "[mapping]") {
    portgate::xml::initialise();
    fixture fx;
    fx.sheet("orders.xsl", R"~(
  <xsl:template match="/s:Batch">
    <out:outputs>
      <xsl:for-each select="s:Order">
        <out:output type="ORDER">
          <o:Order xmlns:o="urn:test:customs" guid="{pg:guid()}">
            <o:no><xsl:value-of select="s:no"/></o:no>
            <o:currency><xsl:value-of select="pg:code('currency', s:cur)"/></o:currency>
            <o:currencyName><xsl:value-of select="pg:name('currency', pg:code('currency', s:cur))"/></o:currencyName>
            <o:amount><xsl:value-of select="pg:amount(s:amount, 2)"/></o:amount>
            <o:time><xsl:value-of select="pg:time(s:at, 'yyyyMMddHHmmss')"/></o:time>
            <o:appTime><xsl:value-of select="pg:now('yyyyMMddHHmmss')"/></o:appTime>
            <o:cop><xsl:value-of select="pg:param('copCode')"/></o:cop>
          </o:Order>
        </out:output>
      </xsl:for-each>
    </out:outputs>
  </xsl:template>)~");
    auto lib = fx.load();
    INFO((lib ? std::string() : lib.err().message));
    REQUIRE(lib);
    auto doc = portgate::xml::parse(batch, {}, "batch");
    REQUIRE(doc);
    std::map<std::string, std::string> params{{"copCode", "3301960ABC"}};
    m::run_options opt;
    opt.params = &params;
    opt.now = f::parse_civil("20261123100000");
    opt.seed = 7;
    auto outs = (*lib)->apply("orders.xsl", doc->doc.get(), opt);
    INFO((outs ? std::string() : outs.err().message));
    REQUIRE(outs);
    REQUIRE(outs->size() == 2);
    auto& a = (*outs)[0].bytes;
    CHECK((*outs)[0].type == "ORDER");
    CHECK(a.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 0) == 0);
    CHECK(a.find("<o:Order xmlns:o=\"urn:test:customs\"") != std::string::npos);  // namespace declared on the new root
    CHECK(a.find("urn:portgate:mapping") == std::string::npos);
    CHECK(a.find("<o:currency>502</o:currency>") != std::string::npos);
    CHECK(a.find("<o:currencyName>美元</o:currencyName>") != std::string::npos);
    CHECK(a.find("<o:amount>198.00</o:amount>") != std::string::npos);
    CHECK(a.find("<o:time>20261123090807</o:time>") != std::string::npos);
    CHECK(a.find("<o:appTime>20261123100000</o:appTime>") != std::string::npos);
    CHECK(a.find("<o:cop>3301960ABC</o:cop>") != std::string::npos);
    CHECK((*outs)[1].bytes.find("<o:amount>2.68</o:amount>") != std::string::npos);  // half away from zero
    std::smatch g;
    REQUIRE(std::regex_search(a, g, std::regex("guid=\"([0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[0-9A-F]{4}-[0-9A-F]{12})\"")));
    // The same seed gives the same guids; another seed, others.
    auto again = (*lib)->apply("orders.xsl", doc->doc.get(), opt);
    REQUIRE(again);
    CHECK((*again)[0].bytes == a);
    opt.seed = 8;
    auto other = (*lib)->apply("orders.xsl", doc->doc.get(), opt);
    REQUIRE(other);
    CHECK((*other)[0].bytes != a);
    // Without a seed guids differ between runs.
    opt.seed.reset();
    auto r1 = (*lib)->apply("orders.xsl", doc->doc.get(), opt);
    auto r2 = (*lib)->apply("orders.xsl", doc->doc.get(), opt);
    REQUIRE(r1);
    REQUIRE(r2);
    CHECK((*r1)[0].bytes != (*r2)[0].bytes);

    // An unknown currency stops the mapping and says which table and value.
    std::string bad = batch;
    bad.replace(bad.find("<cur>USD"), 8, "<cur>XYZ");
    auto bd = portgate::xml::parse(bad, {}, "bad");
    auto failed = (*lib)->apply("orders.xsl", bd->doc.get(), opt);
    REQUIRE_FALSE(failed);
    CHECK(failed.err().code == portgate::errc::mapping_failed);
    CHECK(failed.err().message.find("orders.xsl") != std::string::npos);
    CHECK(failed.err().message.find("pg:code('currency', 'XYZ')") != std::string::npos);

    // A missing route parameter too.
    std::map<std::string, std::string> none;
    opt.params = &none;
    auto np = (*lib)->apply("orders.xsl", doc->doc.get(), opt);
    REQUIRE_FALSE(np);
    CHECK(np.err().message.find("pg:param('copCode')") != std::string::npos);
}

TEST_CASE("a stylesheet's own refusal, document() and foreign includes are errors, not crashes", "[mapping]") {
    portgate::xml::initialise();
    fixture fx;
    fx.sheet("refuse.xsl", R"~(
  <xsl:template match="/">
    <xsl:message terminate="yes">order <xsl:value-of select="//s:no"/> has no buyer</xsl:message>
  </xsl:template>)~");
    fx.sheet("peek.xsl", R"~(
  <xsl:template match="/"><r><xsl:copy-of select="document('/etc/passwd')"/></r></xsl:template>)~");
    fx.sheet("json.xsl", R"~(
  <xsl:output method="text"/>
  <xsl:template match="/">{"orders": <xsl:value-of select="count(//s:Order)"/>, "input": "<xsl:value-of select="local-name(pg:input('extra'))"/>"}</xsl:template>)~");
    fx.sheet("common.xsl", R"~(<xsl:template name="x"><x/></xsl:template>)~");
    fx.sheet("uses-common.xsl", R"~(<xsl:include href="common.xsl"/><xsl:template match="/"><xsl:call-template name="x"/></xsl:template>)~");
    auto lib = fx.load();
    INFO((lib ? std::string() : lib.err().message + (lib.err().problems.empty() ? "" : lib.err().problems[0].message)));
    REQUIRE(lib);
    auto doc = portgate::xml::parse(batch, {}, "batch");
    m::run_options opt;
    auto r = (*lib)->apply("refuse.xsl", doc->doc.get(), opt);
    REQUIRE_FALSE(r);
    CHECK(r.err().message.find("order A1 has no buyer") != std::string::npos);
    auto p = (*lib)->apply("peek.xsl", doc->doc.get(), opt);
    if (p) CHECK((*p)[0].bytes.find("root:") == std::string::npos);  // nothing read either way
    auto extra = portgate::xml::parse("<Extra/>", {}, "extra");
    opt.inputs["extra"] = extra->doc.get();
    auto j = (*lib)->apply("json.xsl", doc->doc.get(), opt);
    REQUIRE(j);
    REQUIRE(j->size() == 1);
    CHECK((*j)[0].text);
    CHECK((*j)[0].bytes == R"({"orders": 2, "input": "Extra"})");
    auto inc = (*lib)->apply("uses-common.xsl", doc->doc.get(), opt);
    REQUIRE(inc);
    CHECK((*inc)[0].bytes.find("<x") != std::string::npos);
    CHECK_FALSE((*lib)->apply("nope.xsl", doc->doc.get(), opt));

    // An include reaching outside mappings/ and a broken stylesheet are refused at load, with the file.
    fx.sheet("escape.xsl", R"~(<xsl:include href="../codes/x.xsl"/>)~");
    std::ofstream(fx.dir.path / "codes" / "x.xsl") << head << "</xsl:stylesheet>";
    std::ofstream(fx.dir.path / "mappings" / "broken.xsl") << "<xsl:stylesheet version=\"1.0\" xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\"><xsl:template match=\"/\"><xsl:value-of/></xsl:template></xsl:stylesheet>";
    auto bad = fx.load();
    REQUIRE_FALSE(bad);
    std::string all;
    for (auto& pr : bad.err().problems) all += pr.message + "\n";
    INFO(all);
    CHECK(all.find("escape.xsl") != std::string::npos);
    CHECK(all.find("broken.xsl") != std::string::npos);
}

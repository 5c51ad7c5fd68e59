// The lenient receipt reader and type detection on a registry of the test's own: namespaces or none,
// GB2312 declared or not, unknown and empty elements, repeated returns, DxpMsg wrapping, [Code:…;Desc:…].
#include "gateway/formats/receipt.hpp"

#include <fstream>

#include <iconv.h>

#include <catch2/catch.hpp>

#include "adapters/dxp/dxp.hpp"
#include "gateway/core/base64.hpp"
#include "gateway/pipeline/customs_status.hpp"
#include "tests/support/gateway_process.hpp"

namespace f = portgate::formats;
namespace fs = std::filesystem;

namespace {

struct fixture {
    portgate::test::temp_dir dir{"receipts"};
    std::shared_ptr<const f::registry> types;
    std::shared_ptr<const f::code_tables> codes;
    fixture() {
        fs::create_directories(dir.path / "families");
        fs::create_directories(dir.path / "codes");
        std::ofstream(dir.path / "families" / "t.toml") << R"~(
family = "t"
[namespaces]
ceb = "http://www.chinaport.gov.cn/ceb"
[[type]]
id = "CEB622"
kind = "receipt"
root = "CEB622Message"
namespace = "http://www.chinaport.gov.cn/ceb"
[type.returns]
record = "InventoryReturn"
keys = ["copNo", "preNo", "invtNo"]
status = "returnStatus"
time = "returnTime"
info = "returnInfo"
status_table = "status"
[[type]]
id = "PKG_A"
kind = "receipt"
root = "Package"
when = "//*[local-name()='message_type'] = 'A'"
[type.returns]
record = "ResultA"
keys = ["Head/no"]
status = "flag"
[[type]]
id = "PKG_B"
kind = "receipt"
root = "Package"
when = "//*[local-name()='message_type'] = 'B'"
[type.returns]
record = "ResultB"
keys = ["no"]
status = "flag"
[[type]]
id = "MSG"
root = "CEB621Message"
namespace = "http://www.chinaport.gov.cn/ceb"
[type.keys]
record = "/ceb:CEB621Message/ceb:Inventory/ceb:InventoryHead"
fields = { copNo = "ceb:copNo", invtNo = "ceb:invtNo" }
)~";
        std::ofstream(dir.path / "codes" / "status.tsv") << "800\t放行\treleased\t\tok\n899\t结关\tclosed\tfinal\tok\n100\t退单\treturned\tfinal\tbad\n";
        auto t = f::registry::load(dir.path / "families");
        if (!t) FAIL(t.err().message << (t.err().problems.empty() ? "" : ": " + t.err().problems[0].message));
        types = *t;
        codes = *f::code_tables::load(dir.path / "codes");
    }
};

constexpr const char* receipt_ns = R"(<?xml version="1.0" encoding="UTF-8"?>
<CEB622Message xmlns="http://www.chinaport.gov.cn/ceb" guid="X" version="1.0">
  <InventoryReturn>
    <guid>4CDE1CFD-EDED-46B1-946C-B8022E42FC94</guid>
    <copNo>C001</copNo>
    <preNo>B20261123000001</preNo>
    <invtNo></invtNo>
    <returnStatus>800</returnStatus>
    <returnTime>20261123101010123</returnTime>
    <returnInfo>[Code:2600;Desc:放行]</returnInfo>
    <somethingNew>ignored</somethingNew>
  </InventoryReturn>
  <InventoryReturn>
    <copNo>C001</copNo><preNo>B20261123000001</preNo>
    <returnStatus>800</returnStatus><returnTime>20261123101010123</returnTime><returnInfo>[Code:2600;Desc:放行]</returnInfo>
  </InventoryReturn>
  <InventoryReturn>
    <copNo>C002</copNo>
    <returnStatus>100</returnStatus><returnTime>20261123101011000</returnTime><returnInfo>订购人身份信息校验未通过</returnInfo>
  </InventoryReturn>
</CEB622Message>)";

}  // namespace

TEST_CASE("receipts read into normalized records with meaning, keys and customs code, repeats dropped", "[formats][receipt]") {
    portgate::xml::initialise();
    fixture fx;
    f::receipt_reader reader(fx.types, fx.codes);
    auto r = reader.read(receipt_ns);
    REQUIRE(r);
    CHECK(r->type->id == "CEB622");
    CHECK(r->duplicates == 1);
    REQUIRE(r->records.size() == 2);
    auto& a = r->records[0];
    CHECK(a.family == "t");
    CHECK(a.keys == f::key_values{{"copNo", "C001"}, {"preNo", "B20261123000001"}});  // empty invtNo left out
    CHECK(a.status == "800");
    CHECK(a.meaning == "放行 (released)");
    CHECK(a.judgement == "ok");
    CHECK_FALSE(a.final);
    CHECK(a.time == "20261123101010123");
    CHECK(a.customs_code == "2600");
    CHECK(a.customs_desc == "放行");
    CHECK(a.line == 3);
    auto& b = r->records[1];
    CHECK(b.status == "100");
    CHECK(b.final);
    CHECK(b.judgement == "bad");
    CHECK(b.customs_code.empty());
}

TEST_CASE("receipts without namespace, in GB2312 declared or not, and wrapped in DxpMsg", "[formats][receipt]") {
    portgate::xml::initialise();
    fixture fx;
    f::receipt_reader reader(fx.types, fx.codes);
    std::string plain = receipt_ns;
    const std::string ns_decl = " xmlns=\"http://www.chinaport.gov.cn/ceb\"";
    plain.replace(plain.find(ns_decl), ns_decl.size(), "");
    auto r = reader.read(plain);
    REQUIRE(r);
    CHECK(r->records.size() == 2);

    // The same text in GB2312, declared.
    auto to_gb = [](const std::string& utf8) {
        iconv_t cd = iconv_open("GB2312", "UTF-8");
        std::string out(utf8.size() * 2, '\0');
        char* in = const_cast<char*>(utf8.data());
        std::size_t inleft = utf8.size(), outleft = out.size();
        char* op = out.data();
        REQUIRE(iconv(cd, &in, &inleft, &op, &outleft) != static_cast<std::size_t>(-1));
        iconv_close(cd);
        out.resize(out.size() - outleft);
        return out;
    };
    std::string gb_decl = plain;
    gb_decl.replace(gb_decl.find("UTF-8"), 5, "GB2312");
    auto gb = reader.read(to_gb(gb_decl));
    REQUIRE(gb);
    REQUIRE(gb->records.size() == 2);
    CHECK(gb->records[0].customs_desc == "放行");
    CHECK(gb->records[1].info == "订购人身份信息校验未通过");

    // GB2312 bytes with no declaration at all: read after re-encoding.
    std::string undeclared = plain.substr(plain.find("?>") + 2);
    auto gu = reader.read(to_gb(undeclared));
    REQUIRE(gu);
    REQUIRE(gu->records.size() == 2);
    CHECK(gu->records[1].info == "订购人身份信息校验未通过");

    // Wrapped in a DXP envelope, as the exchange delivers it.
    std::string dxp = "<DxpMsg xmlns=\"http://www.chinaport.gov.cn/dxp\" ver=\"1.0\"><TransInfo><CopMsgId>1</CopMsgId></TransInfo><Data>" +
                      portgate::base64_encode(receipt_ns) + "</Data></DxpMsg>";
    auto d = reader.read(dxp);
    REQUIRE(d);
    CHECK(d->envelope == "DxpMsg");
    CHECK(d->type->id == "CEB622");
    CHECK(d->records.size() == 2);

    std::string bad_dxp = "<DxpMsg><Data>!!notbase64</Data></DxpMsg>";
    auto bd = reader.read(bad_dxp);
    REQUIRE_FALSE(bd);
    CHECK(bd.err().message.find("base64") != std::string::npos);
}

TEST_CASE("types sharing a root are told apart by `when`, then by their record element", "[formats][receipt]") {
    portgate::xml::initialise();
    fixture fx;
    f::receipt_reader reader(fx.types, fx.codes);
    auto a = reader.read("<Package><EnvelopInfo><message_type>A</message_type></EnvelopInfo><ResultA><Head><no>7</no></Head><flag>1</flag></ResultA></Package>");
    REQUIRE(a);
    CHECK(a->type->id == "PKG_A");
    REQUIRE(a->records.size() == 1);
    CHECK(a->records[0].keys == f::key_values{{"no", "7"}});
    auto b = reader.read("<x:Package xmlns:x=\"urn:whatever\"><ResultB><no>8</no><flag>-1</flag></ResultB></x:Package>");
    REQUIRE(b);
    CHECK(b->type->id == "PKG_B");  // no message_type: the record element decides
    auto none = reader.read("<Unknown/>");
    REQUIRE_FALSE(none);
    CHECK(none.err().code == portgate::errc::unknown_type);
    CHECK(none.err().message.find("Unknown") != std::string::npos);
}

TEST_CASE("strict detection checks the namespace, and business keys come from the type's XPaths", "[formats][registry]") {
    portgate::xml::initialise();
    fixture fx;
    auto doc = portgate::xml::parse(R"(<CEB621Message xmlns="http://www.chinaport.gov.cn/ceb"><Inventory><InventoryHead><copNo>A</copNo><invtNo>I1</invtNo></InventoryHead></Inventory><Inventory><InventoryHead><copNo>B</copNo></InventoryHead></Inventory></CEB621Message>)", {}, "d");
    REQUIRE(doc);
    auto t = fx.types->detect(doc->doc.get());
    REQUIRE(t);
    CHECK((*t)->id == "MSG");
    auto keys = fx.types->keys(**t, doc->doc.get());
    REQUIRE(keys);
    REQUIRE(keys->size() == 2);
    CHECK((*keys)[0] == f::key_values{{"copNo", "A"}, {"invtNo", "I1"}});
    CHECK((*keys)[1] == f::key_values{{"copNo", "B"}});

    auto wrong_ns = portgate::xml::parse("<CEB621Message xmlns=\"urn:other\"/>", {}, "d");
    auto w = fx.types->detect(wrong_ns->doc.get());
    REQUIRE_FALSE(w);
    CHECK(w.err().message.find("wrong namespace") != std::string::npos);
    auto two = portgate::xml::parse("<Package><message_type>C</message_type></Package>", {}, "d");
    auto tw = fx.types->detect(two->doc.get());
    REQUIRE_FALSE(tw);
    CHECK(tw.err().message.find("matches no registered type's condition") != std::string::npos);
    CHECK(fx.types->find("ceb622") != nullptr);  // ids are case-insensitive
}

TEST_CASE("customs codes are found in returnInfo in their usual spellings", "[formats][receipt]") {
    CHECK(f::customs_code_in("[Code:2600;Desc:放行]") == std::make_pair(std::string("2600"), std::string("放行")));
    CHECK(f::customs_code_in("审核不通过 [code: -621005 ; desc:超过单次限值]") ==
          std::make_pair(std::string("-621005"), std::string("超过单次限值")));
    CHECK(f::customs_code_in("[Code：1001；Desc：签名无效]").first == "1001");
    CHECK(f::customs_code_in("plain text").first.empty());
}

// The transport decides what a DxpRep code does to the delivery (adapters/dxp classify: 0000 sent,
// 0001-1999 refused, 2000-3999 retried); the same answer is also stored as a receipt. Read through the
// project's own tables, a code the transport retries must never move the message (rank 0), or a retry
// that later succeeds would leave it RETURNED; a code it refuses is final and bad.
TEST_CASE("a DxpRep code the transport retries never finalises the message it answers", "[formats][receipt]") {
    portgate::xml::initialise();
    const fs::path xsd = fs::path(PORTGATE_SOURCE_DIR) / "xsd";
    auto types = f::registry::load(xsd / "families");
    REQUIRE(types);
    auto codes = f::code_tables::load(xsd / "codes");
    REQUIRE(codes);
    f::receipt_reader reader(*types, *codes);
    const std::string sample = portgate::test::sample("dxp/dxprep-success.xml");
    auto with_code = [&](const std::string& code) {
        std::string s = sample;
        const auto at = s.find("<dxp:ResponseCode>0000<");
        REQUIRE(at != std::string::npos);
        s.replace(at + 18, 4, code);
        auto r = reader.read(s);
        REQUIRE(r);
        REQUIRE(r->records.size() == 1);
        return r->records.front();
    };
    for (const char* code : {"2001", "3001", "3002", "3999"}) {
        INFO(code);
        CHECK(portgate::adapters::dxp::classify(code) == portgate::adapters::outcome::retry);
        const auto rec = with_code(code);
        CHECK_FALSE(rec.final);
        CHECK(portgate::progress_of(rec).rank == 0);
    }
    for (const char* code : {"0002", "1001"}) {
        INFO(code);
        CHECK(portgate::adapters::dxp::classify(code) == portgate::adapters::outcome::rejected);
        const auto rec = with_code(code);
        CHECK(rec.final);
        CHECK(rec.judgement == "bad");
        CHECK(portgate::progress_of(rec).state == portgate::doc_state::returned);
    }
    const auto ok = with_code("0000");
    CHECK_FALSE(ok.final);
    CHECK(portgate::adapters::dxp::classify("0000") == portgate::adapters::outcome::accepted);
}

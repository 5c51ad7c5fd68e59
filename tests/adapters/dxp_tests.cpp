// DXP wrapping (checked against xsd/dxp/dxp.xsd by the project's own validator) and lenient DxpRep reading.
#include <chrono>

#include <catch2/catch.hpp>

#include "adapters/dxp/dxp.hpp"
#include "gateway/core/base64.hpp"
#include "gateway/validation/checker.hpp"
#include "tests/support/gateway_process.hpp"

namespace fs = std::filesystem;
namespace v = portgate::validation;
using namespace portgate::adapters;

namespace {

const v::knowledge& knowledge() {
    static std::shared_ptr<const v::knowledge> k = [] {
        portgate::xml::initialise();
        portgate::xsd::initialise();
        auto r = v::knowledge::load(fs::path(PORTGATE_SOURCE_DIR) / "xsd");
        if (!r) FAIL("xsd/ does not load: " << r.err().message);
        return *r;
    }();
    return *k;
}

v::report check_dxp(const std::string& bytes) {
    // The DXP type's own schema is the catalog's "dxp" (xsd/dxp/dxp.xsd); the document inside Data is
    // judged by its own type. (options.schema = "dxp" would also apply to the inner document.)
    v::options o;
    auto r = v::check(knowledge(), bytes, o, portgate::xml::limits{}, "wrapped");
    if (!r) FAIL("check: " << r.err().message);
    std::string all = r->message;
    for (auto& p : r->problems) all += "\n  " + std::to_string(p.line) + ": " + p.message;
    if (r->inner)
        for (auto& p : r->inner->problems) all += "\n  inner " + std::to_string(p.line) + ": " + p.rule + " " + p.message;
    UNSCOPED_INFO(all);
    return *r;
}

std::string between(const std::string& s, const std::string& open, const std::string& close) {
    auto b = s.find(open);
    if (b == std::string::npos) return {};
    b += open.size();
    return s.substr(b, s.find(close, b) - b);
}

delivery inventory() {
    delivery d;
    d.message_id = "01JTESTMESSAGE0000000000000";
    d.type = "CEB621";
    d.cop_msg_id = "9FD28E74-B47F-4F15-82D3-3F5F068C6D1F";
    d.bytes = portgate::test::sample("ceb/ceb621-inventory-valid.xml");
    d.file_name = "CEB621_9FD28E74-B47F-4F15-82D3-3F5F068C6D1F.xml";
    return d;
}

}  // namespace

TEST_CASE("dxp: wrap builds a DxpMsg valid against dxp.xsd around the exact bytes", "[adapters]") {
    dxp::dxp_config c;
    c.sender_id = "DXPENT0000023871";
    c.now = std::chrono::system_clock::from_time_t(1795478400);  // 2026-11-24T00:00:00Z
    auto d = inventory();
    std::string x = dxp::wrap(d, c);
    auto rep = check_dxp(x);
    INFO(x.substr(0, 800));
    CHECK(rep.valid());
    CHECK(rep.schema == "dxp");
    REQUIRE(rep.type != nullptr);
    CHECK(rep.type->id == "DXP");
    REQUIRE(rep.inner != nullptr);
    CHECK(rep.inner->valid());
    CHECK(x.find("ver=\"1.0\"") != std::string::npos);
    CHECK(between(x, "<dxp:CopMsgId>", "<") == d.cop_msg_id);
    CHECK(between(x, "<dxp:SenderId>", "<") == "DXPENT0000023871");
    CHECK(between(x, "<dxp:ReceiverId>", "<") == "DXPEDCCEB0000002");
    CHECK(between(x, "<dxp:CreatTime>", "<") == "2026-11-24T08:00:00");  // China time
    CHECK(between(x, "<dxp:MsgType>", "<") == "CEB621Message");
    CHECK(between(x, "<dxp:FileName>", "<") == d.file_name);
    auto data = portgate::base64_decode(between(x, "<dxp:Data>", "</dxp:Data>"));
    REQUIRE(data);
    CHECK(*data == d.bytes);  // byte for byte: the signature inside stays valid
}

TEST_CASE("dxp: export receiver, several receivers, no AddInfo, escaping, a signed document", "[adapters]") {
    dxp::dxp_config c;
    c.sender_id = "DXPENT0000023871";
    c.receiver_ids = {std::string(dxp::receiver_cbec_export), "DXPEDCCEB0000002"};
    c.file_name = false;
    auto d = inventory();
    d.cop_msg_id = "A&B<C>";
    std::string x = dxp::wrap(d, c);
    CHECK(x.find("<dxp:AddInfo>") == std::string::npos);
    CHECK(x.find("A&amp;B&lt;C&gt;") != std::string::npos);
    CHECK(x.find("DXPEDCCEB0000003") != std::string::npos);
    CHECK(check_dxp(x).valid());

    c.is_text = true;
    c.file_name = true;
    auto signed_doc = inventory();
    signed_doc.bytes = portgate::base64_decode(between(portgate::test::sample("dxp/dxp-ceb621-inventory-signed.xml"), "<dxp:Data>", "</dxp:Data>")).value_or("");
    REQUIRE_FALSE(signed_doc.bytes.empty());
    x = dxp::wrap(signed_doc, c);
    auto rep = check_dxp(x);
    CHECK(rep.valid());
    CHECK(x.find("<dxp:IsText>true</dxp:IsText>") != std::string::npos);
}

TEST_CASE("dxp: root_local_name and config checks", "[adapters]") {
    CHECK(dxp::root_local_name("\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- <x> --><?pi?>\n<ceb:CEB311Message xmlns:ceb=\"u\"/>") == "CEB311Message");
    CHECK(dxp::root_local_name("<DecMessage>") == "DecMessage");
    CHECK(dxp::root_local_name("no xml here").empty());
    dxp::dxp_config c;
    CHECK_FALSE(dxp::check_config(c));  // no sender
    c.sender_id = "DXPENT0000023871";
    CHECK(dxp::check_config(c));
    c.sender_id = "DXPENT00000238710";  // 17
    CHECK_FALSE(dxp::check_config(c));
    c.sender_id = "DXPENT0000023871";
    c.receiver_ids = {"A", "B", "C", "D", "E", "F"};
    CHECK_FALSE(dxp::check_config(c));
    c.receiver_ids.clear();
    CHECK_FALSE(dxp::check_config(c));
}

TEST_CASE("dxp: parse_reply reads DxpRep samples leniently", "[adapters]") {
    auto ok = dxp::parse_reply(portgate::test::sample("dxp/dxprep-success.xml"));
    REQUIRE(ok);
    CHECK(ok->responses.at(0).code == "0000");
    CHECK(ok->responses.at(0).ori_cop_msg_id == "5FE29E1E-10A9-4F6C-8373-C194AFDD5D2F");
    CHECK(dxp::classify(ok->responses[0].code) == outcome::accepted);

    auto f = dxp::parse_reply(portgate::test::sample("dxp/dxprep-failed-0002-schema.xml"));
    REQUIRE(f);
    CHECK(f->receiver_id == "DXPENT0000023871");
    CHECK(f->responses[0].code == "0002");
    CHECK(f->responses[0].info == "报文格式校验失败");
    CHECK(f->responses[0].results.size() == 2);
    CHECK(f->responses[0].ori_msg_type == "CEB621Message");
    CHECK(dxp::classify("0002") == outcome::rejected);

    auto s = dxp::parse_reply(portgate::test::sample("dxp/dxprep-failed-1001-signature.xml"));
    REQUIRE(s);
    CHECK(dxp::classify(s->responses[0].code) == outcome::rejected);

    // no namespace, GB2312, repeated responses, unknown and empty elements
    auto g = dxp::parse_reply(portgate::test::sample("dxp/dxprep-lenient-gb2312-repeated.xml"));
    REQUIRE(g);
    CHECK(g->responses.size() >= 2);
    CHECK(g->responses[0].info.find("报文格式校验失败") == 0);
    CHECK(g->about("9FD28E74-B47F-4F15-82D3-3F5F068C6D1F").code == "0002");
    CHECK(&g->about("unknown") == &g->responses.front());

    CHECK_FALSE(dxp::parse_reply("<CEB621Message/>"));
    CHECK_FALSE(dxp::parse_reply("<DxpRep><Response><ResponseInfo>x</ResponseInfo></Response></DxpRep>"));
    CHECK_FALSE(dxp::parse_reply("not xml"));
    CHECK_FALSE(dxp::parse_reply("<!DOCTYPE x [<!ENTITY a 'b'>]><DxpRep/>"));
}

TEST_CASE("dxp: response code classification", "[adapters]") {
    CHECK(dxp::classify("0000") == outcome::accepted);
    CHECK(dxp::classify("0001") == outcome::rejected);
    CHECK(dxp::classify("0999") == outcome::rejected);
    CHECK(dxp::classify("1004") == outcome::rejected);
    CHECK(dxp::classify("1999") == outcome::rejected);
    CHECK(dxp::classify("2000") == outcome::retry);
    CHECK(dxp::classify("3999") == outcome::retry);
    CHECK(dxp::classify("4000") == outcome::retry);
    CHECK(dxp::classify("") == outcome::retry);
    CHECK(dxp::classify("00x0") == outcome::retry);
}

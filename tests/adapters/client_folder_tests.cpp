// The desktop client's folders with real temporary directories: atomic OutBox writes, InBox/FailBox
// reading with claim-by-rename, crash-left .work/ files, duplicates, errors.
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "adapters/client_folder/client_folder.hpp"
#include "gateway/core/base64.hpp"
#include "gateway/core/digest.hpp"
#include "tests/support/gateway_process.hpp"

namespace fs = std::filesystem;
using namespace portgate::adapters;
using namespace portgate::adapters::client_folder;
using portgate::test::read_file;
using portgate::test::temp_dir;
using portgate::test::write_file;

namespace {

client_folder_config cfg_for(const temp_dir& t) {
    client_folder_config c;
    c.id = "eport-client";
    c.root = t.path / "client";
    c.biz = "Deccus001";
    c.settle_time = std::chrono::milliseconds(0);
    c.poll_interval = std::chrono::milliseconds(50);
    return c;
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

std::set<std::string> names_in(const fs::path& dir) {
    std::set<std::string> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec))
        if (e.is_regular_file()) out.insert(e.path().filename().string());
    return out;
}

struct recorder {
    std::vector<inbox_file> files;
    portgate::status answer = portgate::ok();
    inbox_handler handler() {
        return [this](const inbox_file& f) {
            files.push_back(f);
            return answer;
        };
    }
};

}  // namespace

TEST_CASE("client-folder: send writes the exact bytes atomically into OutBox", "[adapters]") {
    temp_dir t("adapters-cf-send");
    auto c = cfg_for(t);
    auto ep = client_folder_endpoint::create(c);
    REQUIRE(ep);
    for (auto sub : {"OutBox", "InBox", "SentBox", "FailBox"}) CHECK(fs::is_directory(c.biz_dir() / sub));
    auto d = inventory();
    auto r = (*ep)->send(d);
    INFO(r.detail);
    CHECK(r.result == outcome::accepted);
    CHECK(names_in(c.outbox()) == std::set<std::string>{d.file_name});  // no temporary file left
    CHECK(read_file(c.outbox() / d.file_name) == d.bytes);
    CHECK((*ep)->where(d.file_name) == "outbox");
    // a retry of the same message writes the same file again
    CHECK((*ep)->send(d).result == outcome::accepted);
    CHECK(names_in(c.outbox()).size() == 1);
    // the client takes it
    fs::rename(c.outbox() / d.file_name, c.sentbox() / d.file_name);
    CHECK((*ep)->where(d.file_name) == "sent");
    CHECK((*ep)->where("nothing.xml").empty());
}

TEST_CASE("client-folder: send with DXP wrapping, and file names made safe", "[adapters]") {
    temp_dir t("adapters-cf-dxp");
    auto c = cfg_for(t);
    dxp::dxp_config x;
    x.sender_id = "DXPENT0000023871";
    c.dxp = x;
    auto ep = client_folder_endpoint::create(c);
    REQUIRE(ep);
    auto d = inventory();
    REQUIRE((*ep)->send(d).result == outcome::accepted);
    std::string written = read_file(c.outbox() / d.file_name);
    CHECK(written.find("<dxp:DxpMsg") != std::string::npos);
    CHECK(written.find("<dxp:MsgType>CEB621Message</dxp:MsgType>") != std::string::npos);

    delivery e = d;
    e.file_name = "../../etc/passwd";
    CHECK(file_name_for(e) == "_.._etc_passwd");
    e.file_name.clear();
    CHECK(file_name_for(e) == "CEB621_9FD28E74-B47F-4F15-82D3-3F5F068C6D1F.xml");
    e.file_name = "..";
    CHECK(file_name_for(e) == "01JTESTMESSAGE0000000000000.xml");

    c.biz.clear();
    CHECK_FALSE(client_folder_endpoint::create(c));
}

TEST_CASE("client-folder: the reader hands over Successed_/Failed_ responses and receipts, then archives them", "[adapters]") {
    temp_dir t("adapters-cf-read");
    auto c = cfg_for(t);
    REQUIRE(prepare_folders(c));
    write_file(c.inbox() / "Successed_CEB621_A.xml", "<ok/>");
    write_file(c.inbox() / "Failed_CEB621_B.xml", "<failed/>");
    write_file(c.inbox() / "CEB622Message_1.xml", "<CEB622Message/>");
    write_file(c.inbox() / ".hidden.tmp", "half");
    write_file(c.inbox() / "coming.part", "half");
    write_file(c.failbox() / "CEB621_C.xml", "<never-sent/>");
    recorder rec;
    client_folder_reader reader(c, rec.handler());
    CHECK(reader.poll_once() == 4);
    REQUIRE(rec.files.size() == 4);
    std::map<std::string, inbox_file> by;
    for (auto& f : rec.files) by[f.name] = f;
    CHECK(by.at("Successed_CEB621_A.xml").kind == answer_kind::success);
    CHECK(by.at("Successed_CEB621_A.xml").original_name == "CEB621_A.xml");
    CHECK(by.at("Failed_CEB621_B.xml").kind == answer_kind::failure);
    CHECK(by.at("Failed_CEB621_B.xml").original_name == "CEB621_B.xml");
    CHECK(by.at("CEB622Message_1.xml").kind == answer_kind::receipt);
    CHECK(by.at("CEB622Message_1.xml").bytes == "<CEB622Message/>");
    CHECK(by.at("CEB622Message_1.xml").idempotency_key ==
          "client-folder:eport-client:CEB622Message_1.xml:" + portgate::sha256_hex("<CEB622Message/>"));
    CHECK_FALSE(by.at("CEB622Message_1.xml").recovered);
    CHECK(by.at("CEB621_C.xml").kind == answer_kind::send_failed);
    CHECK(names_in(c.inbox()) == std::set<std::string>{".hidden.tmp", "coming.part"});
    CHECK(names_in(c.archive()) == std::set<std::string>{"Successed_CEB621_A.xml", "Failed_CEB621_B.xml", "CEB622Message_1.xml"});
    CHECK(names_in(c.archive() / "FailBox") == std::set<std::string>{"CEB621_C.xml"});
    CHECK(reader.poll_once() == 0);
    CHECK(reader.stats().handed == 4);
}

TEST_CASE("client-folder: a file left in .work/ by a crash is handed over again with the same key", "[adapters]") {
    temp_dir t("adapters-cf-crash");
    auto c = cfg_for(t);
    REQUIRE(prepare_folders(c));
    // claimed before the crash, never handed over
    write_file(c.inbox() / ".work" / "CEB622Message_7.xml", "<CEB622Message>7</CEB622Message>");
    recorder rec;
    client_folder_reader reader(c, rec.handler());
    CHECK(reader.poll_once() == 1);
    REQUIRE(rec.files.size() == 1);
    CHECK(rec.files[0].recovered);
    CHECK(rec.files[0].idempotency_key ==
          "client-folder:eport-client:CEB622Message_7.xml:" + portgate::sha256_hex("<CEB622Message>7</CEB622Message>"));
    CHECK(names_in(c.inbox() / ".work").empty());
    CHECK(names_in(c.archive()) == std::set<std::string>{"CEB622Message_7.xml"});

    // a crash while the handler ran (simulated by a retryable failure): it stays claimed and comes back with the same key
    rec.answer = portgate::error(portgate::errc::store_failed, "database busy");
    write_file(c.inbox() / "CEB622Message_8.xml", "<CEB622Message>8</CEB622Message>");
    CHECK(reader.poll_once() == 0);
    CHECK(names_in(c.inbox() / ".work") == std::set<std::string>{"CEB622Message_8.xml"});
    rec.answer = portgate::ok();
    CHECK(reader.poll_once() == 1);
    REQUIRE(rec.files.size() == 3);
    CHECK(rec.files[1].idempotency_key == rec.files[2].idempotency_key);
    CHECK(rec.files[2].recovered);
    CHECK(names_in(c.inbox() / ".work").empty());
}

TEST_CASE("client-folder: the same name and content is not handed over twice, new content is", "[adapters]") {
    temp_dir t("adapters-cf-dup");
    auto c = cfg_for(t);
    REQUIRE(prepare_folders(c));
    recorder rec;
    client_folder_reader reader(c, rec.handler());
    write_file(c.inbox() / "Successed_X.xml", "<a/>");
    CHECK(reader.poll_once() == 1);
    // the client drops the very same file again (or a crash put it back into .work/ after archiving)
    write_file(c.inbox() / "Successed_X.xml", "<a/>");
    write_file(c.inbox() / ".work" / "Successed_X.xml", "<a/>");
    CHECK(reader.poll_once() == 0);
    CHECK(rec.files.size() == 1);
    CHECK(reader.stats().duplicates >= 1);
    CHECK(names_in(c.inbox()).empty());
    CHECK(names_in(c.inbox() / ".work").empty());
    // same name, other content: a different answer, handed over and archived beside the first
    write_file(c.inbox() / "Successed_X.xml", "<b/>");
    CHECK(reader.poll_once() == 1);
    REQUIRE(rec.files.size() == 2);
    CHECK(rec.files[1].bytes == "<b/>");
    CHECK(names_in(c.archive()) ==
          std::set<std::string>{"Successed_X.xml", "Successed_X.xml." + portgate::sha256_hex("<b/>").substr(0, 12)});
}

TEST_CASE("client-folder: a refused file goes to the error folder with a reason, unsettled files wait", "[adapters]") {
    temp_dir t("adapters-cf-error");
    auto c = cfg_for(t);
    REQUIRE(prepare_folders(c));
    recorder rec;
    rec.answer = portgate::error(portgate::errc::xml_malformed, "not a receipt");
    client_folder_reader reader(c, rec.handler());
    write_file(c.inbox() / "junk.xml", "<<<");
    CHECK(reader.poll_once() == 0);
    CHECK(names_in(c.errors()) == std::set<std::string>{"junk.xml", "junk.xml.err.json"});
    CHECK(read_file(c.errors() / "junk.xml.err.json").find("not a receipt") != std::string::npos);
    CHECK(names_in(c.inbox() / ".work").empty());

    auto slow = c;
    slow.settle_time = std::chrono::seconds(30);
    recorder rec2;
    client_folder_reader reader2(slow, rec2.handler());
    write_file(c.inbox() / "fresh.xml", "<x/>");
    CHECK(reader2.poll_once() == 0);
    CHECK(names_in(c.inbox()) == std::set<std::string>{"fresh.xml"});
}

TEST_CASE("client-folder: the background reader picks up files and stops cleanly", "[adapters]") {
    temp_dir t("adapters-cf-thread");
    auto c = cfg_for(t);
    std::mutex mu;
    std::vector<std::string> seen;
    client_folder_reader reader(c, [&](const inbox_file& f) {
        std::lock_guard lk(mu);
        seen.push_back(f.name);
        return portgate::ok();
    });
    REQUIRE(reader.start());
    write_file(c.inbox() / "Successed_Y.xml", "<y/>");
    for (int i = 0; i < 100; ++i) {
        {
            std::lock_guard lk(mu);
            if (!seen.empty()) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    reader.stop();
    std::lock_guard lk(mu);
    CHECK(seen == std::vector<std::string>{"Successed_Y.xml"});
}

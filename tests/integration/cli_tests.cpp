// The command line: validate's exit codes and file:line:col output, check-config's report, hash-key.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "tests/support/gateway_process.hpp"

using namespace portgate::test;

namespace {
std::string src(const std::string& rel) { return (fs::path(PORTGATE_SOURCE_DIR) / rel).string(); }
std::string read_file(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
}  // namespace

TEST_CASE("portgate validate: 0 when all valid, 1 with file:line:col when not, 2 on usage errors", "[cli]") {
    std::string out;
    CHECK(run_portgate(fmt::format("validate --schema ceb-import-draft {} {}", src("samples/ceb/ceb311-order-valid.xml"),
                                   src("samples/ceb/ceb621-inventory-valid.xml")),
                       out) == 0);
    temp_dir tmp("cli-validate");
    std::string bad = (tmp.path / "ceb621-gcode-too-long.xml").string();
    {
        std::string doc = read_file(src("samples/ceb/ceb621-inventory-valid.xml"));
        auto at = doc.find("<ceb:gcode>");
        REQUIRE(at != std::string::npos);
        doc.insert(at + 11, "12345678901");  // gcode is at most 10 characters
        std::ofstream(bad) << doc;
    }
    CHECK(run_portgate(fmt::format("validate --schema ceb-import-draft {} {}", src("samples/ceb/ceb311-order-valid.xml"), bad), out) == 1);
    CHECK(out.find(bad + ":") != std::string::npos);
    CHECK(std::regex_search(out, std::regex(bad + ":[0-9]+:[0-9]+: .*gcode")));
    // The strict profile wants the signature on CEB621.
    CHECK(run_portgate(fmt::format("validate --schema ceb-import {}", src("samples/ceb/ceb621-inventory-valid.xml")), out) == 1);
    CHECK(out.find("Signature") != std::string::npos);
    // A schema given as a file path.
    CHECK(run_portgate(fmt::format("validate --schema {} {}", src("xsd/ceb/ceb-import-draft.xsd"), src("samples/ceb/ceb311-order-valid.xml")), out) == 0);
    // Usage errors.
    CHECK(run_portgate("validate --schema no-such-schema x.xml", out) == 2);
    CHECK(run_portgate("validate", out) == 2);
    CHECK(run_portgate("frobnicate", out) == 2);
}

TEST_CASE("portgate validate reports hostile files with their own error", "[cli][hostile]") {
    auto dir = fresh_dir("cli-hostile");
    write_file(dir / "xxe.xml", "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<r>&x;</r>");
    std::string out;
    CHECK(run_portgate(fmt::format("validate --schema ceb-import-draft {}", (dir / "xxe.xml").string()), out) == 1);
    CHECK(out.find("DOCTYPE") != std::string::npos);
    CHECK(out.find("root:") == std::string::npos);  // /etc/passwd never read
    fs::remove_all(dir);
}

TEST_CASE("portgate check-config reports every problem with its line", "[cli][config]") {
    std::string out;
    CHECK(run_portgate("check-config --config " + src("samples/portgate.toml"), out) == 0);
    CHECK(out.find("ok") != std::string::npos);

    auto dir = fresh_dir("cli-config");
    write_file(dir / "bad.toml", fmt::format(R"([paths]
xsd = "{}"
[server]
listen = "nowhere"
[[partner]]
id = "p1"
api_keys = ["plain-text-key"]
[[route]]
partner = "ghost"
root = "{{urn:x}}Doc"
schema = "ceb-import-draft"
[[route]]
partner = "p1"
root = "{{urn:x}}Doc"
schema = "no-such-schema"
)",
                                             src("xsd")));
    CHECK(run_portgate("check-config --config " + (dir / "bad.toml").string(), out) == 1);
    auto file = (dir / "bad.toml").string();
    CHECK(out.find(file + ":4:") != std::string::npos);   // listen
    CHECK(out.find(file + ":7:") != std::string::npos);   // plain key
    CHECK(out.find(file + ":9:") != std::string::npos);   // unknown partner
    fs::remove_all(dir);
}

TEST_CASE("portgate hash-key prints the stored form of a key", "[cli]") {
    std::string out;
    CHECK(run_portgate("hash-key demo-shop-key", out) == 0);
    CHECK(out == "sha256:f5d072715bf986543308d9f187277c2406847cd7bfd33cbc2264fedc284a9992\n");
}

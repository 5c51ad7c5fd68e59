// Code tables: loading, lookups by code and alias, and the errors of a broken table; the shipped tables.
#include "gateway/formats/codes.hpp"

#include <fstream>

#include <catch2/catch.hpp>

#include "tests/support/gateway_process.hpp"

namespace f = portgate::formats;

TEST_CASE("code tables load, look up by code and alias, and report broken lines", "[formats][codes]") {
    portgate::test::temp_dir dir("codes");
    {
        std::ofstream(dir.path / "currency.tsv") << "# test table\n142\t人民币\tyuan\tCNY\n502\t美元\tUS dollar\tUSD\n\n";
        std::ofstream(dir.path / "status.tsv") << "800\t放行\treleased\t\tok\n899\t结关\tclosed\tfinal\tok\n";
        std::ofstream(dir.path / "notes.txt") << "not a table\n";
    }
    auto t = f::code_tables::load(dir.path);
    REQUIRE(t);
    CHECK((*t)->names() == std::vector<std::string>{"currency", "status"});
    auto* cur = (*t)->table("currency");
    REQUIRE(cur);
    CHECK(cur->size() == 2);
    REQUIRE(cur->find("502"));
    CHECK(cur->find("502")->name_en == "US dollar");
    CHECK(cur->lookup("usd")->code == "502");
    CHECK(cur->lookup("142")->alias == "CNY");
    CHECK(cur->find("USD") == nullptr);
    CHECK(cur->lookup("XXX") == nullptr);
    auto* st = (*t)->table("status");
    CHECK(st->find("899")->alias == "final");
    CHECK(st->find("899")->extra == std::vector<std::string>{"ok"});

    {
        std::ofstream(dir.path / "currency.tsv") << "142\ta\n\tb\n142\tc\n";
    }
    auto bad = f::code_tables::load(dir.path);
    REQUIRE_FALSE(bad);
    REQUIRE(bad.err().problems.size() == 2);
    CHECK(bad.err().problems[0].line == 2);
    CHECK(bad.err().problems[1].message.find("duplicate code '142'") != std::string::npos);
    CHECK(bad.err().problems[1].line == 3);
}

TEST_CASE("the shipped code tables hold the codes the rules and mappings rely on", "[formats][codes]") {
    auto t = f::code_tables::load(std::filesystem::path(PORTGATE_SOURCE_DIR) / "xsd" / "codes");
    REQUIRE(t);
    for (auto name : {"currency", "country", "unit", "transport-mode", "trade-mode", "customs-area", "ceb-return-status",
                      "dec-channel", "dxp-response"})
        CHECK((*t)->table(name) != nullptr);
    auto code = [&](const char* table, const char* c) {
        auto* tb = (*t)->table(table);
        return tb ? tb->lookup(c) : nullptr;
    };
    REQUIRE(code("currency", "USD"));
    CHECK(code("currency", "USD")->code == "502");
    CHECK(code("currency", "142"));
    CHECK(code("country", "502"));
    CHECK(code("country", "116"));
    CHECK(code("unit", "035"));
    CHECK(code("unit", "007"));
    CHECK(code("trade-mode", "9610"));
    CHECK(code("trade-mode", "1210"));
    CHECK(code("customs-area", "2244"));
    CHECK(code("ceb-return-status", "800"));
    CHECK(code("ceb-return-status", "-621005"));
    CHECK(code("dec-channel", "P"));
    CHECK(code("dxp-response", "0002"));
}

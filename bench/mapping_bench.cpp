// Mapping throughput on one core: a typical 5-item order (samples/partners/shop-orders/
// shop_orders-single-five-items.xml) through the shop-orders route of samples/portgate.toml.
// Prints documents/s for: the CEB311 stylesheet alone (parse of the input excluded), the stylesheet plus the
// check of its output (schema + rules), and the whole route with the join to the warehouse confirmation
// (CEB311 + CEB411 + CEB621, every output checked).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "gateway/config/config.hpp"
#include "gateway/mapping/route_runner.hpp"

namespace fs = std::filesystem;
using namespace portgate;

namespace {
std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

template <class F>
double per_second(F&& f, double seconds = 2.0) {
    using clock = std::chrono::steady_clock;
    for (int i = 0; i < 20; ++i) f();  // warm up
    std::size_t n = 0;
    auto start = clock::now();
    double elapsed = 0;
    do {
        for (int i = 0; i < 50; ++i) f();
        n += 50;
        elapsed = std::chrono::duration<double>(clock::now() - start).count();
    } while (elapsed < seconds);
    return n / elapsed;
}
}  // namespace

int main(int argc, char** argv) {
    fs::path src = argc > 1 ? fs::path(argv[1]) : fs::path(PORTGATE_SOURCE_DIR);
    xml::initialise();
    xsd::initialise();
    auto cfg = config::load(src / "samples" / "portgate.toml");
    if (!cfg) return std::fprintf(stderr, "config: %s\n", cfg.err().message.c_str()), 1;
    auto k = validation::knowledge::load(cfg->xsd_dir);
    if (!k) return std::fprintf(stderr, "xsd: %s\n", k.err().message.c_str()), 1;
    auto lib = mapping::library::load(cfg->mappings_dir, rules::environment{(*k)->codes, (*k)->calendar, std::nullopt});
    if (!lib) return std::fprintf(stderr, "mappings: %s\n", lib.err().message.c_str()), 1;
    const config::route* r = cfg->route_by_id("shop-orders");
    if (!r) return std::fprintf(stderr, "no route shop-orders\n"), 1;

    std::string order = read(src / "samples/partners/shop-orders/shop_orders-single-five-items.xml");
    std::string ship = read(src / "samples/partners/wms-shipments/wms_shipments-five-items-parcel.xml");
    auto od = xml::parse(order, {}, "order");
    auto sd = xml::parse(ship, {}, "shipment");
    if (!od || !sd) return 1;

    mapping::run_options ro;
    ro.params = &r->params;
    double xslt_only = per_second([&] { (void)(*lib)->apply("shop-orders-to-ceb311.xsl", od->doc.get(), ro); });

    config::route only311 = *r;
    only311.maps.resize(1);
    double with_check = per_second([&] {
        auto res = mapping::run_route(**k, **lib, only311, od->doc.get(), {});
        if (!res) std::abort();
    });

    mapping::route_run_options jo;
    jo.joined["shipment"].push_back(sd->doc.get());
    std::size_t outputs = 0;
    double whole = per_second([&] {
        auto doc = xml::parse(order, {}, "order");  // the route's full cost includes parsing its input
        auto res = mapping::run_route(**k, **lib, *r, doc->doc.get(), jo);
        if (!res) std::abort();
        outputs = res->outputs.size();
    });

    std::printf("%-62s %12s %10s\n", "mapping (5-item order, one thread)", "docs/s", "us/doc");
    auto row = [](const std::string& what, double rate) { std::printf("%-62s %12.0f %10.1f\n", what.c_str(), rate, 1e6 / rate); };
    row("XSLT shop-orders-to-ceb311.xsl alone", xslt_only);
    row("CEB311: XSLT + output check (XSD + 50 rules)", with_check);
    row(fmt::format("whole route: parse + {} outputs (CEB311, CEB411, CEB621 join), checked", outputs), whole);
    return 0;
}

// Collects the figures of one `./dev bench` run (JSON files in build/bench/) into one table and one JSON
// document (build/bench/results.json): end-to-end runs, per-stage costs, the signing limit, the scripted
// pipeline, and the ratios the targets of issue 7 are stated in. Figures are only compared within one run.
//   bench_report --dir build/bench [--out build/bench/results.json]
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::optional<json> load(const fs::path& p) {
    std::ifstream in(p);
    if (!in) return std::nullopt;
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = json::parse(ss.str(), nullptr, false);
    if (j.is_discarded()) {
        std::cerr << "bench_report: " << p.string() << " is not JSON (skipped)\n";
        return std::nullopt;
    }
    return j;
}

double num(const json& j, const json::json_pointer& p, double fallback = NAN) {
    if (!j.contains(p)) return fallback;
    const json& v = j.at(p);
    return v.is_number() ? v.get<double>() : fallback;
}

std::string f0(double v) { return std::isnan(v) ? "-" : fmt::format("{:.0f}", v); }
std::string f1(double v) { return std::isnan(v) ? "-" : fmt::format("{:.1f}", v); }
std::string f2(double v) { return std::isnan(v) ? "-" : fmt::format("{:.2f}", v); }

// A Google Benchmark entry's real time in µs.
double us_of(const json& b) {
    const double t = num(b, "/real_time"_json_pointer);
    const std::string unit = b.value("time_unit", "ns");
    return unit == "ns" ? t / 1000 : unit == "us" ? t : unit == "ms" ? t * 1000 : t * 1e6;
}

// The last run with this label (a rerun replaces an earlier one).
const json* run(const json& runs, const std::string& label) {
    const json* found = nullptr;
    for (auto& r : runs)
        if (r.value("label", "") == label) found = &r;
    return found;
}

}  // namespace

int main(int argc, char** argv) {
    fs::path dir = "build/bench", out;
    std::string value_label, value_field;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--dir") dir = argv[i + 1];
        else if (a == "--out") out = argv[i + 1];
        else if (a == "--value" && i + 2 < argc) {  // --value LABEL /json/pointer: print one figure of one e2e run
            value_label = argv[i + 1];
            value_field = argv[i + 2];
            ++i;
        } else {
            std::cerr << "usage: bench_report --dir DIR [--out FILE] | --dir DIR --value LABEL /json/pointer\n";
            return 2;
        }
    }
    if (!value_label.empty()) {
        json all = load(dir / "e2e.json").value_or(json::array());
        const json* r = run(all, value_label);
        double v = r ? num(*r, json::json_pointer(value_field)) : NAN;
        if (std::isnan(v)) return 1;
        std::cout << fmt::format("{:.0f}\n", v);
        return 0;
    }
    if (out.empty()) out = dir / "results.json";
    json result{{"e2e", json::array()}, {"stages", json::array()}};
    json runs = load(dir / "e2e.json").value_or(json::array());
    auto limit = load(dir / "signing_limit.json");
    auto scripted = load(dir / "scripted_pipeline.json");
    auto stages = load(dir / "stages.json");
    auto floor_runs = load(dir / "stages_floor.json");  // the ceiling's stages again, repeated: the fastest of each counts

    std::cout << "\n== End to end (HTTP intake → map → sign → store → HTTPS to the sink simulator) ==\n";
    std::cout << fmt::format("{:<16} {:>5} {:>3} {:>5} {:>9} {:>10} {:>10} {:>22} {:>22} {:>8} {:>7}\n", "run", "alg", "wk", "items",
                             "stored", "accepted/s", "delivered/s", "intake→stored p50/99/999", "intake→sent p50/99/999", "cpu µs", "RSS MB");
    for (auto& r : runs) {
        auto ms = [&](const char* which) {
            return fmt::format("{}/{}/{}", f1(num(r, json::json_pointer(std::string("/") + which + "/p50"))),
                               f1(num(r, json::json_pointer(std::string("/") + which + "/p99"))),
                               f1(num(r, json::json_pointer(std::string("/") + which + "/p999"))));
        };
        std::cout << fmt::format("{:<16} {:>5} {:>3} {:>5} {:>9} {:>10} {:>10} {:>22} {:>22} {:>8} {:>7}\n", r.value("label", "?"),
                                 r.value("alg", "?"), f0(num(r, "/workers_effective"_json_pointer)), f0(num(r, "/items"_json_pointer)),
                                 f0(num(r, "/store_rows_before"_json_pointer)), f0(num(r, "/accepted_per_s"_json_pointer)),
                                 f0(num(r, "/delivered_per_s"_json_pointer)), ms("intake_to_stored_ms"), ms("intake_to_sent_ms"),
                                 f0(num(r, "/gateway/cpu_us_per_message"_json_pointer)),
                                 f1(num(r, "/gateway/peak_rss_kb"_json_pointer) / 1024));
        result["e2e"].push_back(r);
    }

    bool any_receipts = false;
    for (auto& r : runs) any_receipts |= r.value("receipts", false);
    if (any_receipts) {
        std::cout << "\n== Receipts back to the partner (simulator callbacks → correlation → partner mailbox) ==\n";
        std::cout << fmt::format("{:<16} {:>5} {:>9} {:>9} {:>14} {:>24} {:>9}\n", "run", "alg", "offered", "final", "to partner/s",
                                 "intake→partner p50/99/999", "cpu µs");
        for (auto& r : runs) {
            if (!r.value("receipts", false)) continue;
            std::cout << fmt::format("{:<16} {:>5} {:>9} {:>9} {:>14} {:>24} {:>9}\n", r.value("label", "?"), r.value("alg", "?"),
                                     f0(num(r, "/rate"_json_pointer)), f0(num(r, "/final_statuses"_json_pointer)),
                                     f0(num(r, "/intake_to_partner_per_s"_json_pointer)),
                                     fmt::format("{}/{}/{}", f0(num(r, "/intake_to_partner_ms/p50"_json_pointer)),
                                                 f0(num(r, "/intake_to_partner_ms/p99"_json_pointer)),
                                                 f0(num(r, "/intake_to_partner_ms/p999"_json_pointer))),
                                     f0(num(r, "/gateway/cpu_us_per_message"_json_pointer)));
        }
    }

    std::map<std::string, double> stage_us;  // µs per operation by benchmark name
    if (stages && stages->contains("benchmarks")) {
        std::cout << "\n== Per stage (Google Benchmark, one thread) ==\n";
        std::cout << fmt::format("{:<52} {:>12} {:>12}\n", "stage", "µs/op", "items/s");
        for (auto& b : (*stages)["benchmarks"]) {
            if (b.value("run_type", "iteration") == "aggregate") continue;
            double us = us_of(b);
            double ips = num(b, "/items_per_second"_json_pointer);
            std::cout << fmt::format("{:<52} {:>12} {:>12}\n", b.value("name", "?"), f1(us), f0(ips));
            stage_us[b.value("name", "?")] = us;
            result["stages"].push_back({{"name", b.value("name", "?")}, {"us_per_op", us}, {"items_per_s", ips}});
        }
    }

    double sm2_limit = NAN, ecdsa_limit = NAN, sm2_ideal = NAN, ecdsa_ideal = NAN, cores = NAN;
    if (limit) {
        sm2_limit = num(*limit, "/sm2_sign_per_s"_json_pointer);
        ecdsa_limit = num(*limit, "/ecdsa_p256_sign_per_s"_json_pointer);
        cores = num(*limit, "/cores"_json_pointer);
        sm2_ideal = num(*limit, "/one_core_per_cpu_s/sm2_sign_per_s"_json_pointer) * cores;
        ecdsa_ideal = num(*limit, "/one_core_per_cpu_s/ecdsa_p256_sign_per_s"_json_pointer) * cores;
        std::cout << "\n== Signing limit (openssl speed, same machine, same run) ==\n";
        std::cout << fmt::format("SM2 sign/s: {} with -multi {} (wall), {} = one core per CPU second × {}\n", f0(sm2_limit), f0(cores),
                                 f0(sm2_ideal), f0(cores));
        std::cout << fmt::format("ECDSA P-256 sign/s: {} with -multi {} (wall), {} = one core per CPU second × {}\n", f0(ecdsa_limit),
                                 f0(cores), f0(ecdsa_ideal), f0(cores));
        result["signing_limit"] = *limit;
    }
    double script_par = NAN, script_seq = NAN;
    if (scripted) {
        script_par = num(*scripted, "/parallel_per_s"_json_pointer);
        script_seq = num(*scripted, "/sequential_per_s"_json_pointer);
        std::cout << "\n== Scripted pipeline (xmllint, xsltproc, xmllint, xmlsec1 --sign per message, ECDSA) ==\n";
        std::cout << fmt::format("sequential {} msg/s, parallel (xargs -P) {} msg/s\n", f1(script_seq), f1(script_par));
        result["scripted_pipeline"] = *scripted;
    }

    // The ceiling the chartered libraries set: what one 5-item CEB621 cannot do without on the end-to-end route,
    // each library call once (the input parsed by libxml2 for the XSLT and by Xerces for its schema; the
    // XSLT; the signed output through Xerces for its schema as sent; C14N with the digest; the signature
    // primitive), everything else (HTTP, rules, keys, serialising, the store, the delivery) counted as free.
    // No implementation on these libraries goes above cores × 10^6 ÷ that sum.
    std::map<std::string, double> ceiling;  // by algorithm: messages/s at most
    std::map<std::string, double> fastest = stage_us;
    if (floor_runs && floor_runs->contains("benchmarks")) {
        std::map<std::string, double> best;
        for (auto& b : (*floor_runs)["benchmarks"]) {
            if (b.value("run_type", "iteration") == "aggregate") continue;
            const std::string name = b.value("run_name", b.value("name", "?"));
            const double us = us_of(b);
            if (!best.count(name) || us < best[name]) best[name] = us;
        }
        for (auto& [name, us] : best)
            if (!fastest.count(name) || us < fastest[name]) fastest[name] = us;
    }
    if (!fastest.empty() && !std::isnan(cores)) {
        std::cout << "\n== Ceiling of the libraries (fastest of the per-stage runs; everything else counted as free) ==\n";
        json floors = json::object();
        for (auto [alg, c14n] : {std::pair<std::string, std::string>{"sm2-sm3", "c14n_sm3/items:5"}, {"ecdsa-sha256", "c14n_sha256/items:5"}}) {
            const std::vector<std::string> parts{"parse/items:5", "xsd_validate/items:5", "map_xslt/items:5", "xsd_sent/items:5", c14n,
                                                 "sign_bytes/" + alg};
            double sum = 0;
            std::string terms;
            for (auto& p : parts) {
                auto it = fastest.find(p);
                sum += it == fastest.end() ? NAN : it->second;
                terms += fmt::format("{}{} {}", terms.empty() ? "" : " + ", p.substr(0, p.find('/') == std::string::npos ? p.size() : p.find('/')),
                                     it == fastest.end() ? "?" : f0(it->second));
            }
            double most = cores * 1e6 / sum;
            if (!std::isnan(sum)) ceiling[alg] = most;
            std::cout << fmt::format("{:<13} {} = {} µs a message → at most {} msg/s on {} cores\n", alg, terms, f0(sum), f0(most), f0(cores));
            floors[alg] = {{"library_us_per_message", std::isnan(sum) ? json(nullptr) : json(sum)},
                           {"at_most_per_s", std::isnan(most) ? json(nullptr) : json(most)}};
        }
        result["library_ceiling"] = floors;
    }
    auto ceiling_of = [&](const std::string& alg) { return ceiling.count(alg) ? ceiling[alg] : NAN; };

    // Ratios and targets (issue 7).
    json targets = json::array();
    auto target = [&](const std::string& name, double value, double goal, bool at_least, const std::string& unit, const std::string& note) {
        bool met = !std::isnan(value) && (at_least ? value >= goal : value <= goal);
        targets.push_back({{"target", name}, {"value", std::isnan(value) ? json(nullptr) : json(value)}, {"goal", goal},
                           {"at_least", at_least}, {"met", met}, {"unit", unit}, {"note", note}});
    };
    auto delivered = [&](const char* label) {
        const json* r = run(runs, label);
        return r ? num(*r, "/delivered_per_s"_json_pointer) : NAN;
    };
    double sm2 = delivered("sm2"), ecdsa = delivered("ecdsa");
    target("SM2-SM3 end to end ÷ SM2 signing limit (-multi)", sm2 / sm2_limit, 0.70, true, "ratio",
           fmt::format("{} delivered/s ÷ {} sign/s; libraries' ceiling {}", f0(sm2), f0(sm2_limit), f2(ceiling_of("sm2-sm3") / sm2_limit)));
    target("ECDSA-P256 end to end, messages/s", ecdsa, 8000, true, "msg/s",
           fmt::format("ECDSA signing limit here: {} sign/s; libraries' ceiling {}", f0(ecdsa_limit), f0(ceiling_of("ecdsa-sha256"))));
    if (const json* h = run(runs, "ecdsa-half-load"))
        target("p99 intake→stored at half the maximum load", num(*h, "/intake_to_stored_ms/p99"_json_pointer), 20, false, "ms",
               fmt::format("offered {} msg/s", f0(num(*h, "/rate"_json_pointer))));
    target("portgate ÷ scripted pipeline (both cores)", ecdsa / script_par, 100, true, "ratio",
           fmt::format("{} ÷ {} msg/s; libraries' ceiling {}", f0(ecdsa), f1(script_par), f0(ceiling_of("ecdsa-sha256") / script_par)));
    const json* small = run(runs, "store-10k");
    const json* big = run(runs, "store-1m");
    if (!big) big = run(runs, "store-100k");
    if (small && big) {
        double a0 = num(*small, "/accepted_per_s"_json_pointer), a1 = num(*big, "/accepted_per_s"_json_pointer);
        double m0 = num(*small, "/gateway/peak_rss_kb"_json_pointer), m1 = num(*big, "/gateway/peak_rss_kb"_json_pointer);
        double p0 = num(*small, "/intake_to_stored_ms/p99"_json_pointer), p1 = num(*big, "/intake_to_stored_ms/p99"_json_pointer);
        target("throughput, largest store ÷ 10 k store", a1 / a0, 0.85, true, "ratio",
               fmt::format("{} vs {} accepted/s with {} vs {} rows", f0(a1), f0(a0), f0(num(*big, "/store_rows_before"_json_pointer)),
                           f0(num(*small, "/store_rows_before"_json_pointer))));
        target("peak RSS, largest store ÷ 10 k store", m1 / m0, 1.15, false, "ratio", fmt::format("{} vs {} MB", f1(m1 / 1024), f1(m0 / 1024)));
        target("p99 intake→stored, largest store ÷ 10 k store", p1 / p0, 1.5, false, "ratio", fmt::format("{} vs {} ms", f1(p1), f1(p0)));
    }
    std::cout << "\n== Targets (issue 7) ==\n";
    for (auto& t : targets)
        std::cout << fmt::format("{:<4} {:<50} {:>10} (goal {} {}) {}\n", t["met"].get<bool>() ? "MET" : "MISS", t["target"].get<std::string>(),
                                 t["value"].is_null() ? "-" : f2(t["value"].get<double>()), t["at_least"].get<bool>() ? "≥" : "≤",
                                 f2(t["goal"].get<double>()), t["note"].get<std::string>());
    result["targets"] = targets;
    std::ofstream o(out);
    o << result.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    std::cout << "\nresults: " << out.string() << "\n";
    return 0;
}

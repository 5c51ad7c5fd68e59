// Signing throughput on one core: whole sign_document calls (parse, C14N, digest, signature, splice) on
// a realistic CEB621 document, next to the raw EVP signature rate of the same key and `openssl speed`.
// Keys come from tests/sign/make_test_pki.sh in a temporary directory. Prints a table; asserts nothing.
//   sign_bench [--seconds S] [--no-openssl-speed]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "gateway/sign/sign.hpp"
#include "gateway/xml/parser.hpp"

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return out;
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
}

// The CEB621 sample cut to 3–5 KB: InventoryList items are dropped from the end until it fits.
std::string realistic_document() {
    std::string doc = slurp(fs::path(PORTGATE_SOURCE_DIR) / "samples/ceb/ceb621-inventory-valid.xml");
    while (doc.size() > 5000) {
        const auto start = doc.rfind("    <ceb:InventoryList>");
        const auto end = doc.find("</ceb:InventoryList>\n", start);
        if (start == std::string::npos || end == std::string::npos) break;
        doc.erase(start, end + 21 - start);
    }
    return doc;
}

template <class F>
double per_second(double seconds, F&& op) {
    std::size_t n = 0;
    const auto t0 = clock_type::now();
    const auto until = t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
    auto now = t0;
    while (now < until) {
        for (int i = 0; i < 8; ++i) op();
        n += 8;
        now = clock_type::now();
    }
    return static_cast<double>(n) / std::chrono::duration<double>(now - t0).count();
}

// The primitive alone, as `openssl speed` measures it: EVP_PKEY_sign over a ready digest, context reused.
double raw_sign_rate(const fs::path& key_file, const char* digest_name, bool sm2, double seconds) {
    FILE* f = std::fopen(key_file.c_str(), "r");
    EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
    EVP_PKEY_sign_init(ctx);
    const EVP_MD* md = EVP_get_digestbyname(digest_name);
    if (!sm2) EVP_PKEY_CTX_set_signature_md(ctx, md);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_Digest("SignedInfo", 10, digest, &dlen, md, nullptr);
    unsigned char sig[1024];
    const double rate = per_second(seconds, [&] {
        size_t len = sizeof sig;
        if (EVP_PKEY_sign(ctx, sig, &len, digest, dlen) != 1) std::abort();
    });
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(key);
    return rate;
}

// `openssl speed`'s sign/s for one of its algorithm names, or 0 when it could not be read.
double openssl_speed(const std::string& alg, double seconds, std::string& line) {
    const std::string out = run(fmt::format("openssl speed -seconds {} {} 2>/dev/null", static_cast<int>(seconds + 0.5), alg));
    std::istringstream in(out);
    std::string l;
    while (std::getline(in, l)) {
        std::smatch m;
        // "rsa 2048 bits 0.000608s 0.000018s   1645.5  55260.6" / " 256 bits ecdsa (nistp256) …" / "… SM2 (CurveSM2) …"
        if (std::regex_search(l, m, std::regex(R"(s\s+([0-9.]+)\s+([0-9.]+)\s*$)"))) {
            line = l;
            return std::stod(m[1].str());
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 2;
    bool speed = true;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
        else if (a == "--no-openssl-speed") speed = false;
        else {
            std::cerr << "usage: sign_bench [--seconds S] [--no-openssl-speed]\n";
            return 2;
        }
    }
    portgate::xml::initialise();
    const fs::path dir = fs::temp_directory_path() / fmt::format("portgate-sign-bench-{}", ::getpid());
    if (std::system(fmt::format("{}/tests/sign/make_test_pki.sh '{}' >/dev/null 2>&1", PORTGATE_SOURCE_DIR, dir.string()).c_str()) != 0) {
        std::cerr << "sign_bench: make_test_pki.sh failed\n";
        return 1;
    }
    const std::string doc = realistic_document();

    struct row {
        const char* alg;
        const char* stem;
        const char* digest;
        const char* speed_name;
    };
    const std::vector<row> rows = {{"sm2-sm3", "sm2", "SM3", "sm2"},
                                   {"rsa-sha256", "rsa", "SHA256", "rsa2048"},
                                   {"rsa-sha1", "rsa", "SHA1", "rsa2048"},
                                   {"ecdsa-sha256", "ec", "SHA256", "ecdsap256"}};

    std::cout << fmt::format("portgate sign_bench — CEB621 of {} bytes, one thread, {:.0f} s per figure, {}\n\n", doc.size(), seconds,
                             OpenSSL_version(OPENSSL_VERSION));
    std::cout << fmt::format("{:<14} {:>16} {:>12} {:>14} {:>15} {:>16} {:>12} {:>18}\n", "algorithm", "sign_document/s",
                             "(parsed)/s", "sign_bytes/s", "raw EVP sign/s", "openssl speed/s", "XML cost", "verify_document/s");
    std::vector<std::string> speed_lines;
    for (const auto& r : rows) {
        portgate::sign::identity_config cfg;
        cfg.name = r.stem;
        cfg.key_file = (dir / (std::string(r.stem) + ".key")).string();
        cfg.cert_file = (dir / (std::string(r.stem) + ".pem")).string();
        cfg.algorithm = r.alg;
        cfg.allow_sha1 = true;
        auto id = portgate::sign::open_identity(cfg);
        if (!id) {
            std::cerr << fmt::format("{}: {}\n", r.alg, id.err().message);
            continue;
        }
        std::string signed_doc;
        const double full = per_second(seconds, [&] {
            auto out = portgate::sign::sign_document(**id, doc, portgate::sign::placement::last_child());
            if (!out) std::abort();
            signed_doc = std::move(out.value());
        });
        portgate::xml::limits lim;
        auto parsed = portgate::xml::parse(doc, lim);
        const double preparsed = per_second(seconds, [&] {
            if (!portgate::sign::sign_document(**id, doc, parsed.value())) std::abort();
        });
        portgate::sign::verify_policy policy;
        policy.allow_sha1 = true;
        const double verify = per_second(seconds, [&] {
            auto v = portgate::sign::verify_document(signed_doc, policy);
            if (!v || !v->valid) std::abort();
        });
        const std::string signed_info(900, 'x');  // about the size of a canonical SignedInfo
        const double bytes_rate = per_second(seconds, [&] {
            if (!(*id)->sign_bytes(signed_info)) std::abort();
        });
        const double raw = raw_sign_rate(cfg.key_file, r.digest, std::string(r.stem) == "sm2", seconds);
        double os = 0;
        if (speed) {
            std::string line;
            os = openssl_speed(r.speed_name, seconds, line);
            if (!line.empty()) speed_lines.push_back(fmt::format("openssl speed {}: {}", r.speed_name, line));
        }
        // What everything but the signature costs per document (parse, C14N, digest, splice), in µs.
        const double overhead_us = (1e6 / full) - (1e6 / bytes_rate);
        std::cout << fmt::format("{:<14} {:>16.0f} {:>12.0f} {:>14.0f} {:>15.0f} {:>16} {:>9.1f} µs {:>18.0f}\n", r.alg, full, preparsed,
                                 bytes_rate, raw,
                                 os > 0 ? fmt::format("{:.0f}", os) : std::string("-"), overhead_us, verify);
    }
    if (!speed_lines.empty()) {
        std::cout << "\n";
        for (auto& l : speed_lines) std::cout << l << "\n";
    } else if (!speed) {
        std::cout << "\n(openssl speed skipped; run: openssl speed -seconds 2 sm2 rsa2048 ecdsap256)\n";
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    return 0;
}

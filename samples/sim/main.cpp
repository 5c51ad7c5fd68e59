// portgate-customs-sim — see docs/simulator.md.
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "gateway/xml/parser.hpp"
#include "samples/sim/sim.hpp"

#ifndef PORTGATE_SOURCE_DIR
#define PORTGATE_SOURCE_DIR "."
#endif

int main(int argc, char** argv) {
    using namespace portgate;
    CLI::App app{"portgate-customs-sim: a customs exchange stand-in (DXP over HTTPS, or the desktop client's folders)"};
    sim::options o;
    sim::https_options h;
    sim::folder_options f;
    std::string xsd = std::string(PORTGATE_SOURCE_DIR) + "/xsd", scenarios = std::string(PORTGATE_SOURCE_DIR) + "/samples/scenarios";
    std::string folder, biz;
    bool https = false;
    app.add_flag("--https", https, "serve DXP over HTTPS (needs --cert and --key)");
    app.add_flag("--http", h.plain_http, "serve DXP over plain HTTP (local benchmarks only)");
    app.add_option("--listen", h.listen, "HOST:PORT to listen on (port 0 = any free port)");
    app.add_option("--cert", h.cert, "server certificate chain (PEM)");
    app.add_option("--key", h.key, "server private key (PEM)");
    app.add_option("--ca", h.ca, "CA certificates (PEM) that client certificates must chain to");
    app.add_flag("--require-client-cert", h.require_client_cert, "mutual TLS: refuse clients without a certificate from --ca");
    app.add_option("--answer-delay-ms", h.answer_delay_ms, "hold each DxpRep answer this long (a slow exchange; connections are served in parallel)")
        ->check(CLI::Range(0, 600000));
    app.add_option("--callback", h.callback, "URL receipts are POSTed to (e.g. the gateway's /v1/receipts)");
    app.add_option("--callback-token", h.callback_token, "Bearer token for the callback");
    app.add_option("--callback-ca", h.callback_ca, "CA file to verify an https:// callback (default: no verification)");
    app.add_option("--folder", folder, "client-folder mode: ROOT holding <Biz>/{OutBox,InBox,SentBox,FailBox}");
    app.add_option("--biz", biz, "folder mode: comma-separated Biz folders (default CEB,Deccus001,Sas)");
    app.add_option("--poll-ms", f.poll_ms, "folder mode: OutBox polling interval");
    app.add_option("--xsd-dir", xsd, "portgate's xsd/ directory (schemas, type registry, rules)");
    app.add_option("--scenarios", scenarios, "directory of scenario files (*.toml)");
    app.add_option("--seed", o.seed, "seed of every random choice (same seed + same messages = same receipts)");
    app.add_option("--trust-ca", o.trust_ca, "signatures must chain to these CA certificates (PEM); default --ca");
    app.add_flag("--trust-any-cert", o.trust_any, "accept any certificate carried in KeyInfo");
    app.add_flag("--accept-all", o.accept_all, "answer 0000 without checking (benchmarks)");
    app.add_option("--receiver-id", o.receiver_id, "DXP receiver id used when a bare document arrives");
    CLI11_PARSE(app, argc, argv);

    if (https == !folder.empty() && !h.plain_http) {
        std::cerr << "portgate-customs-sim: choose exactly one of --https (or --http) and --folder ROOT\n";
        return 2;
    }
    if (https && (h.cert.empty() || h.key.empty())) {
        std::cerr << "portgate-customs-sim: --https needs --cert and --key\n";
        return 2;
    }
    if (o.trust_ca.empty()) o.trust_ca = h.ca;
    if (o.trust_ca.empty() && !o.trust_any && !o.accept_all) {
        std::cerr << "portgate-customs-sim: say which signatures to trust: --trust-ca FILE (or --ca) or --trust-any-cert\n";
        return 2;
    }
    o.xsd_dir = xsd;
    o.scenarios_dir = scenarios;
    if (o.accept_all && folder.empty() && h.callback.empty()) o.receipts = false;
    xml::initialise();
    auto e = sim::engine::create(o);
    if (!e) {
        std::cerr << "portgate-customs-sim: " << e.err().message << "\n";
        return 2;
    }
    if (!folder.empty()) {
        f.root = folder;
        if (!biz.empty()) {
            f.biz.clear();
            std::size_t p = 0;
            while (p <= biz.size()) {
                auto c = biz.find(',', p);
                auto part = biz.substr(p, c == std::string::npos ? std::string::npos : c - p);
                if (!part.empty()) f.biz.push_back(part);
                if (c == std::string::npos) break;
                p = c + 1;
            }
        }
        return sim::run_folder(**e, f);
    }
    return sim::run_https(**e, h);
}

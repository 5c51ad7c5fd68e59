// Per-stage micro-benchmarks (Google Benchmark) of what the gateway does with one message: the CBEC import
// inventory list CEB621 the end-to-end benchmark sends (samples/ceb/ceb621-inventory-valid.xml, 5 items;
// 1, 10 and 99 items as an argument) through a route like demo-shop-ceb311 (enrich-ceb.xsl, its parameters),
// each stage on the real gateway code: parse, XSD, mapping, business rules, C14N, signature, the whole
// in-process route, the store's group commit, and receipts (lenient read, correlation in the store).
//   stages_bench [--root DIR] [--tmp DIR] [--benchmark_filter=RE] [--benchmark_out=F --benchmark_out_format=json]
// --root (or $PORTGATE_ROOT, default ".") is the repository; --tmp holds the test keys and the stores.
// Prints figures (items/s = messages/s); asserts nothing about timings.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <libxml/c14n.h>
#include <libxml/parser.h>
#include <libxml/xmlIO.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "gateway/config/config.hpp"
#include "gateway/core/digest.hpp"
#include "gateway/core/ids.hpp"
#include "gateway/core/metrics.hpp"
#include "gateway/intake/intake.hpp"
#include "gateway/mapping/route_runner.hpp"
#include "gateway/pipeline/state.hpp"
#include "gateway/sign/sign.hpp"
#include "gateway/store/store.hpp"
#include "gateway/validation/checker.hpp"
#include "gateway/xml/parser.hpp"

namespace {

namespace fs = std::filesystem;
using namespace portgate;

constexpr const char* ceb_ns = "http://www.chinaport.gov.cn/ceb";
const std::vector<int> item_counts = {1, 5, 10, 99};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

fs::path scratch;  // the temporary directory (keys, stores); removed on every way out

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "stages_bench: %s\n", what.c_str());
    std::error_code ec;
    if (!scratch.empty()) fs::remove_all(scratch, ec);
    std::exit(1);
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
    for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
    return s;
}

// The sample's InventoryList items repeated (cycling through its own) until there are `n`, gnum 1..n: the
// rules (IMP_INVT_GNUM, line totals, codes) hold because every line is one of the sample's valid lines.
std::string inventory_with_items(const std::string& sample, int n) {
    const std::string open = "    <ceb:InventoryList>", close = "</ceb:InventoryList>\n";
    const auto first = sample.find(open);
    if (first == std::string::npos) die("no InventoryList in the CEB621 sample");
    std::vector<std::string> lines;
    std::size_t end = first;
    for (auto at = first; at != std::string::npos && sample.compare(at, open.size(), open) == 0; at = sample.find(open, end)) {
        end = sample.find(close, at);
        if (end == std::string::npos) die("unterminated InventoryList in the CEB621 sample");
        end += close.size();
        lines.push_back(sample.substr(at, end - at));
        if (sample.compare(end, open.size(), open) != 0) break;
    }
    if (static_cast<int>(lines.size()) == n) return sample;
    std::string items;
    for (int i = 0; i < n; ++i) {
        std::string line = lines[i % lines.size()];
        const auto g = line.find("<ceb:gnum>"), ge = line.find("</ceb:gnum>");
        line.replace(g + 10, ge - g - 10, std::to_string(i + 1));
        items += line;
    }
    return sample.substr(0, first) + items + sample.substr(end);
}

// ---- what every benchmark shares: loaded once, read-only afterwards ------------------------------------

struct algorithm_keys {
    std::string name, stem;  // gateway algorithm name, file stem in the test PKI
};
const std::vector<algorithm_keys> algorithms = {{"sm2-sm3", "sm2"}, {"ecdsa-sha256", "ec"}, {"rsa-sha256", "rsa"}};

struct bench_context {
    fs::path root, work;
    config::config cfg;
    xml::limits limits;  // the gateway's: [server.xml] of samples/portgate.toml, max_bytes = max_body_bytes
    std::shared_ptr<const validation::knowledge> k;
    std::shared_ptr<const mapping::library> lib;
    config::route route;  // the e2e route: CEB621, ceb-import-draft, enrich-ceb.xsl with demo-shop-ceb311's params
    const formats::type_info* type = nullptr;
    std::shared_ptr<const xsd::schema> draft_schema;
    std::shared_ptr<const xsd::schema> sent_schema;  // the type's schema as sent (with its ds:Signature)
    sign::placement where;
    std::map<int, std::string> input;   // the CEB621 by item count
    std::map<int, std::string> mapped;  // its enrich-ceb.xsl output (what is signed)
    std::map<std::string, std::shared_ptr<sign::identity>> ids;  // by algorithm name
    std::map<int, std::string> signed_sm2;  // mapped + SM2 signature (what is sent)
    std::string receipt;  // a CEB622 answering the 5-item sample
};
bench_context* ctx = nullptr;

// The intake pipeline's stages for one message on one worker thread, in the order intake::pipeline::process
// runs them for a route with a mapping and a signer: hardened parse → route's check (type, XSD draft, keys,
// rules) → run_route (XSLT; the output's own check is left to the as-sent check, as the pipeline does for
// outputs it signs) → sign_document_into on the output (its result tree, which its bytes hold exactly)
// → the signed document checked as sent
// (pipeline::sign_for_route: one parse of the output, which the signature is added to, serves the signer and
// the as-sent rules; the schema reads the signed bytes). Returns the signed output.
std::string in_process_route(const bench_context& c, const std::string& bytes, const sign::identity& id) {
    auto parsed = xml::parse(bytes, c.limits, "document");
    if (!parsed) die("route: parse: " + parsed.err().message);
    validation::options opt;
    opt.type = c.route.type;
    opt.rules = c.route.rules;
    opt.schema = c.route.schema;
    opt.prof = validation::profile::automatic;
    auto rep = validation::check_parsed(*c.k, *parsed, bytes, opt, c.limits, "document");
    if (!rep || !rep->valid()) die("route: check: " + (rep ? rep->message : rep.err().message));
    mapping::route_run_options ro;
    ro.checked_when_signed = [](const std::string&) { return true; };
    auto res = mapping::run_route(*c.k, *c.lib, c.route, parsed->doc.get(), ro);
    if (!res || res->outputs.size() != 1) die("route: mapping: " + (res ? std::string("not one output") : res.err().message));
    auto& out = res->outputs.front();
    // As the pipeline does: the mapping's own tree when its bytes hold it exactly, else the bytes parsed.
    auto tree = xml::adopt_or_parse(std::move(out.tree), out.bytes, c.limits, out.type);
    if (!tree) die("route: output parse: " + tree.err().message);
    auto signed_bytes = sign::sign_document_into(id, out.bytes, *tree, c.where);
    if (!signed_bytes) die("route: sign: " + signed_bytes.err().message);
    validation::options vo;
    vo.type = out.type;
    vo.prof = validation::profile::sent;
    auto sent = validation::check_parsed(*c.k, *tree, *signed_bytes, vo, c.limits, out.type);
    if (!sent || !sent->valid()) die("route: as sent: " + (sent ? sent->message : sent.err().message));
    return std::move(signed_bytes.value());
}

// The store operation intake makes of an accepted CEB621 on this route (pipeline::process): the input with
// its events and business key, and its mapped output as a child with the "signed" payload, queued for the
// route's endpoint. Ids are fresh per call; `copNo` is the business key receipts correlate by.
store::new_message stored_form(const bench_context& c, int items, const std::string& copNo) {
    const std::string root = fmt::format("{{{}}}CEB621Message", ceb_ns);
    store::new_message m;
    m.id = new_message_id();
    m.partner = c.route.partner;
    m.channel = "http";
    m.root = root;
    m.type = "CEB621";
    m.doc_guid = "9FD28E74-B47F-4F15-82D3-3F5F068C6D1F";
    m.received_at = store::now_ms();
    m.bytes = c.input.at(items);
    m.sha256 = sha256_hex(m.bytes);
    m.route = c.route.id;
    m.events.push_back({"received", std::string(to_string(doc_state::received)), "",
                        nlohmann::json{{"channel", "http"}, {"size", m.bytes.size()}, {"sha256", m.sha256}}.dump()});
    m.events.push_back({"validated", std::string(to_string(doc_state::validated)), "",
                        nlohmann::json{{"schema", "ceb-import-draft"}, {"type", "CEB621"}, {"keys", {{{"copNo", copNo}}}}}.dump()});
    m.keys.emplace_back("copNo", copNo);

    store::new_message o;
    o.id = new_message_id();
    o.partner = m.partner;
    o.channel = "mapping";
    o.route = c.route.id;
    o.direction = "out";
    o.payload_stage = "mapped";
    o.type = "CEB621";
    o.root = root;
    o.doc_guid = "5B0D4C2E-8C71-4E0B-9D1F-2A6E3C4B7D10";
    o.received_at = m.received_at;
    o.bytes = c.mapped.at(items);
    o.sha256 = sha256_hex(o.bytes);
    o.keys.emplace_back("copNo", copNo);
    o.events.push_back({"mapped", std::string(to_string(doc_state::mapped)), "",
                        nlohmann::json{{"stylesheet", "enrich-ceb.xsl"}, {"type", "CEB621"}}.dump()});
    o.more_payloads.emplace_back("signed", c.signed_sm2.at(items));
    o.events.push_back({"signed", std::string(to_string(doc_state::signed_)), "",
                        nlohmann::json{{"signer", "bench-sm2"}, {"algorithm", "sm2-sm3"}, {"key_name", "bench"}}.dump()});
    o.outbox_endpoint = "bench-customs";
    o.state = std::string(to_string(doc_state::queued));
    o.events.push_back({"queued", o.state, "", nlohmann::json{{"endpoint", o.outbox_endpoint}, {"cop_msg_id", o.id}}.dump()});
    m.children.push_back(std::move(o));

    m.state = std::string(to_string(doc_state::mapped));
    m.events.push_back({"mapped", m.state, "", nlohmann::json{{"outputs", {{{"id", m.children[0].id}, {"type", "CEB621"}}}}}.dump()});
    return m;
}

std::string bench_copno(std::int64_t i) { return fmt::format("BN{:013d}", i); }

// C14N 1.0 (inclusive, no comments) of a whole document streamed into a sink: the call the signer makes.
struct c14n_sink {
    EVP_MD_CTX* md = nullptr;
    std::string* text = nullptr;
};
int c14n_write(void* p, const char* buf, int len) {
    auto* s = static_cast<c14n_sink*>(p);
    if (s->md) EVP_DigestUpdate(s->md, buf, static_cast<size_t>(len));
    if (s->text) s->text->append(buf, static_cast<size_t>(len));
    return len;
}
int c14n_close(void*) { return 0; }
bool canonicalise(xmlDoc* doc, c14n_sink& s) {
    xmlOutputBufferPtr buf = xmlOutputBufferCreateIO(&c14n_write, &c14n_close, &s, nullptr);
    if (buf == nullptr) return false;
    const int rc = xmlC14NDocSaveTo(doc, nullptr, XML_C14N_1_0, nullptr, 0, buf);
    return xmlOutputBufferClose(buf) >= 0 && rc >= 0;
}

void per_message(benchmark::State& state, std::size_t bytes) {
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

// ---- 1-5: parse, XSD, mapping, rules, C14N ---------------------------------------------------------

void bm_parse(benchmark::State& state) {
    const std::string& doc = ctx->input.at(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        auto d = xml::parse(doc, ctx->limits, "document");
        if (!d) state.SkipWithError("parse failed");
        benchmark::DoNotOptimize(d);
    }
    per_message(state, doc.size());
}

// Reference for the hardened parser: libxml2's own xmlReadMemory with the same no-network option and no
// hooks, so the cost of the limits and DOCTYPE refusal shows as the difference.
void bm_parse_plain(benchmark::State& state) {
    const std::string& doc = ctx->input.at(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        xml::doc_ptr d(xmlReadMemory(doc.data(), static_cast<int>(doc.size()), "document", nullptr, XML_PARSE_NONET));
        if (!d) state.SkipWithError("parse failed");
        benchmark::DoNotOptimize(d);
    }
    per_message(state, doc.size());
}

void bm_xsd(benchmark::State& state) {
    const std::string& doc = ctx->input.at(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        auto v = ctx->draft_schema->validate(doc, "document");
        if (!v || !v->empty()) state.SkipWithError("not valid against ceb-import-draft");
    }
    per_message(state, doc.size());
}

// What intake's validate stage calls on the parsed document: type detection, XSD, keys, business rules.
void bm_check(benchmark::State& state) {
    const std::string& doc = ctx->input.at(static_cast<int>(state.range(0)));
    auto parsed = xml::parse(doc, ctx->limits, "document");
    validation::options opt;
    opt.schema = ctx->route.schema;
    for (auto _ : state) {
        auto rep = validation::check_parsed(*ctx->k, *parsed, doc, opt, ctx->limits, "document");
        if (!rep || !rep->valid()) state.SkipWithError("check failed");
    }
    per_message(state, doc.size());
}

void bm_map_xslt(benchmark::State& state) {
    const std::string& doc = ctx->input.at(static_cast<int>(state.range(0)));
    auto parsed = xml::parse(doc, ctx->limits, "document");
    mapping::run_options ro;
    ro.params = &ctx->route.params;
    for (auto _ : state) {
        auto out = ctx->lib->apply("enrich-ceb.xsl", parsed->doc.get(), ro);
        if (!out || out->size() != 1) state.SkipWithError("mapping failed");
        benchmark::DoNotOptimize(out);
    }
    per_message(state, doc.size());
}

// The route's mapping stage as intake runs it: the XSLT plus the check of its output (re-parse, XSD, rules).
void bm_map_route(benchmark::State& state) {
    const std::string& doc = ctx->input.at(static_cast<int>(state.range(0)));
    auto parsed = xml::parse(doc, ctx->limits, "document");
    for (auto _ : state) {
        auto res = mapping::run_route(*ctx->k, *ctx->lib, ctx->route, parsed->doc.get(), {});
        if (!res || res->outputs.size() != 1) state.SkipWithError("run_route failed");
    }
    per_message(state, doc.size());
}

void bm_rules(benchmark::State& state) {
    const std::string& doc = ctx->input.at(static_cast<int>(state.range(0)));
    auto parsed = xml::parse(doc, ctx->limits, "document");
    const rules::environment env{ctx->k->codes, ctx->k->calendar, std::nullopt};
    for (auto _ : state) {
        auto f = ctx->k->rules->check(*ctx->type, parsed->doc.get(), env, rules::stage::draft);
        if (!f || !rules::to_problems(*f, true).empty()) state.SkipWithError("rules failed");
    }
    per_message(state, doc.size());
}

void bm_c14n(benchmark::State& state, const char* digest) {
    const std::string& doc = ctx->mapped.at(static_cast<int>(state.range(0)));
    auto parsed = xml::parse(doc, ctx->limits, "document");
    const EVP_MD* md = digest ? EVP_get_digestbyname(digest) : nullptr;
    if (digest && !md) return state.SkipWithError("digest not available");
    EVP_MD_CTX* mdc = EVP_MD_CTX_new();
    std::string text;
    for (auto _ : state) {
        c14n_sink s;
        if (md) {
            EVP_DigestInit_ex(mdc, md, nullptr);
            s.md = mdc;
        } else {
            text.clear();
            s.text = &text;
        }
        if (!canonicalise(parsed->doc.get(), s)) state.SkipWithError("C14N failed");
        if (md) {
            unsigned char out[EVP_MAX_MD_SIZE];
            unsigned int len = 0;
            EVP_DigestFinal_ex(mdc, out, &len);
            benchmark::DoNotOptimize(out);
        }
        benchmark::DoNotOptimize(text);
    }
    EVP_MD_CTX_free(mdc);
    per_message(state, doc.size());
}

// ---- 6: signatures ---------------------------------------------------------------------------------

void bm_sign(benchmark::State& state, const std::string& alg) {
    const std::string& doc = ctx->mapped.at(static_cast<int>(state.range(0)));
    const sign::identity& id = *ctx->ids.at(alg);
    for (auto _ : state) {
        auto out = sign::sign_document(id, doc, ctx->where);
        if (!out) state.SkipWithError("sign_document failed");
        benchmark::DoNotOptimize(out);
    }
    per_message(state, doc.size());
}

// The signature primitive alone over a SignedInfo-sized text: what sign_document cannot go below.
void bm_sign_bytes(benchmark::State& state, const std::string& alg) {
    const sign::identity& id = *ctx->ids.at(alg);
    const std::string signed_info(900, 'x');
    for (auto _ : state) {
        auto sig = id.sign_bytes(signed_info);
        if (!sig) state.SkipWithError("sign_bytes failed");
        benchmark::DoNotOptimize(sig);
    }
    state.SetItemsProcessed(state.iterations());
}

// pipeline::sign_for_route checks what it signed against the schema as sent and the as-sent rules.
void bm_check_sent(benchmark::State& state) {
    const std::string& doc = ctx->signed_sm2.at(static_cast<int>(state.range(0)));
    validation::options vo;
    vo.type = "CEB621";
    vo.prof = validation::profile::sent;
    for (auto _ : state) {
        auto rep = validation::check(*ctx->k, doc, vo, ctx->limits, "CEB621");
        if (!rep || !rep->valid()) state.SkipWithError("signed output not valid as sent");
    }
    per_message(state, doc.size());
}

// Xerces alone on what is sent: the schema half of the as-sent check, which no route that signs can skip
// (bench_report adds it to the other library stages a message cannot do without).
void bm_xsd_sent(benchmark::State& state) {
    const std::string& doc = ctx->signed_sm2.at(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        auto v = ctx->sent_schema->validate(doc, "CEB621");
        if (!v || !v->empty()) state.SkipWithError("signed output not valid against its schema as sent");
    }
    per_message(state, doc.size());
}

// ---- 7: the in-process reference ------------------------------------------------------------------

void bm_route(benchmark::State& state, const std::string& alg) {
    const std::string& doc = ctx->input.at(static_cast<int>(state.range(0)));
    const sign::identity& id = *ctx->ids.at(alg);
    for (auto _ : state) benchmark::DoNotOptimize(in_process_route(*ctx, doc, id));
    per_message(state, doc.size());
}

// ---- 8: store commits -------------------------------------------------------------------------------

std::atomic<int> store_seq{0};

fs::path fresh_store_dir(const std::string& what) {
    fs::path d = ctx->work / fmt::format("store-{}-{}", what, store_seq.fetch_add(1));
    fs::remove_all(d);
    return d;
}

config::store_config store_settings(const std::string& sync) {
    config::store_config sc = ctx->cfg.store;
    sc.synchronous = sync;
    return sc;
}

// One submitter: every message is its own group commit (one transaction, one fsync with "full").
void bm_store_single(benchmark::State& state, const std::string& sync) {
    const fs::path dir = fresh_store_dir("single-" + sync);
    auto st = store::store::open(dir, store_settings(sync));
    if (!st) return state.SkipWithError(st.err().message.c_str());
    const store::new_message form = stored_form(*ctx, 5, bench_copno(0));
    std::int64_t n = 0;
    for (auto _ : state) {
        store::new_message m = form;
        m.id = new_message_id();
        m.children[0].id = new_message_id();
        m.keys[0].second = m.children[0].keys[0].second = bench_copno(++n);
        auto r = (*st)->submit_wait(std::move(m));
        if (!r) state.SkipWithError(r.err().message.c_str());
    }
    const auto ws = (*st)->writer_stats();
    state.counters["msgs_per_commit"] = ws.commits ? static_cast<double>(ws.operations) / ws.commits : 0;
    (*st)->close();
    st->reset();
    fs::remove_all(dir);
    state.SetItemsProcessed(state.iterations());
}

// N submitters at once (benchmark threads, each waiting for its own commit, as requests in flight wait for
// theirs): the writer takes what has queued up into one transaction.
struct shared_store {
    std::unique_ptr<store::store> st;
    fs::path dir;
    std::atomic<std::int64_t> n{0};
};
shared_store grouped;

void bm_store_grouped(benchmark::State& state, const std::string& sync) {
    if (state.thread_index() == 0) {
        grouped.dir = fresh_store_dir("grouped-" + sync);
        auto st = store::store::open(grouped.dir, store_settings(sync));
        if (!st) die("store: " + st.err().message);
        grouped.st = std::move(st.value());
    }
    const store::new_message form = stored_form(*ctx, 5, bench_copno(0));
    for (auto _ : state) {  // the benchmark library starts every thread here together, after thread 0's set-up
        store::new_message m = form;
        m.id = new_message_id();
        m.children[0].id = new_message_id();
        m.keys[0].second = m.children[0].keys[0].second = bench_copno(grouped.n.fetch_add(1) + 1);
        auto r = grouped.st->submit_wait(std::move(m));
        if (!r) state.SkipWithError(r.err().message.c_str());
    }
    state.SetItemsProcessed(state.iterations());
    if (state.thread_index() == 0) {  // every thread has left the loop (the library waits for all)
        const auto ws = grouped.st->writer_stats();
        state.counters["msgs_per_commit"] = ws.commits ? static_cast<double>(ws.operations) / ws.commits : 0;
        grouped.st->close();
        grouped.st.reset();
        fs::remove_all(grouped.dir);
    }
}

// ---- 9: receipts -------------------------------------------------------------------------------------

void bm_receipt_read(benchmark::State& state) {
    for (auto _ : state) {
        auto r = ctx->k->receipts->read(ctx->receipt, ctx->limits, "receipt");
        if (!r || r->records.size() != 1) state.SkipWithError("receipt not read");
        benchmark::DoNotOptimize(r);
    }
    per_message(state, ctx->receipt.size());
}

// A store holding `prefill` accepted CEB621 (input + signed output, as intake stores them), each with its
// own copNo, and the intake pipeline in front of it for process_receipt. Built once per sync mode.
struct receipt_store {
    std::unique_ptr<store::store> st;
    std::unique_ptr<metrics> m;
    std::unique_ptr<intake::pipeline> pipe;
    std::int64_t prefill = 0;
    std::int64_t next = 0;  // receipts sent so far (each answers message next % prefill)
};
std::map<std::string, receipt_store> receipt_stores;

receipt_store& receipt_store_for(const std::string& sync) {
    auto& rs = receipt_stores[sync];
    if (rs.st) return rs;
    auto st = store::store::open(fresh_store_dir("receipts-" + sync), store_settings(sync));
    if (!st) die("store: " + st.err().message);
    rs.st = std::move(st.value());
    rs.prefill = 2000;
    std::vector<std::future<result<store::stored>>> done;
    for (std::int64_t i = 0; i < rs.prefill; ++i) {
        auto p = std::make_shared<std::promise<result<store::stored>>>();
        done.push_back(p->get_future());
        rs.st->submit(stored_form(*ctx, 5, bench_copno(i)), [p](result<store::stored> r) { p->set_value(std::move(r)); });
    }
    for (auto& f : done)
        if (auto r = f.get(); !r) die("prefill: " + r.err().message);
    rs.m = std::make_unique<metrics>();
    rs.pipe = std::make_unique<intake::pipeline>(ctx->cfg, ctx->k, ctx->lib, *rs.st, *rs.m);
    return rs;
}

// The CEB622 "800 released" receipt of stored message `i`, its keys (copNo, preNo, invtNo) that message's
// own, its returnTime unique per receipt (`j`) so no two receipts are the same bytes or the same record.
std::string receipt_for(std::int64_t i, std::int64_t j) {
    std::string r = replace_all(ctx->receipt, "HM2026112400017", bench_copno(i));
    r = replace_all(std::move(r), "B20261124000412873", fmt::format("B{:017d}", i));
    r = replace_all(std::move(r), "22442026I000538214", fmt::format("2244BENCHI{:08d}", i));
    return replace_all(std::move(r), "20261124143522118", fmt::format("{:017d}", 20261124000000000LL + j));
}

// pipeline::process_receipt: sha256, lenient read, records, then the writer stores the receipt and
// correlates each record with a stored message by its business keys (status forward only) in one commit.
void bm_receipt_correlate(benchmark::State& state, const std::string& sync) {
    auto& rs = receipt_store_for(sync);
    int unmatched = 0;
    for (auto _ : state) {
        state.PauseTiming();
        const std::int64_t j = rs.next++;
        std::string bytes = receipt_for(j % rs.prefill, j);
        state.ResumeTiming();
        std::promise<intake::pipeline::receipt_answer> p;
        auto f = p.get_future();
        rs.pipe->process_receipt(std::move(bytes), "http", "", [&p](intake::pipeline::receipt_answer a) { p.set_value(std::move(a)); });
        auto a = f.get();
        if (a.code != errc::ok || !a.stored) state.SkipWithError(a.message.c_str());
        if (a.outcome.matched != 1) ++unmatched;
    }
    state.counters["unmatched"] = unmatched;
    per_message(state, ctx->receipt.size());
}

// ---- set-up ---------------------------------------------------------------------------------------------

void load_context(bench_context& c) {
    xml::initialise();
    xsd::initialise();
    mapping::initialise();
    if (!fs::exists(c.root / "samples" / "portgate.toml"))
        die(fmt::format("'{}' is not the repository root (no samples/portgate.toml): use --root DIR or PORTGATE_ROOT", c.root.string()));
    auto cfg = config::load(c.root / "samples" / "portgate.toml");
    if (!cfg) die(fmt::format("{}: {}", (c.root / "samples/portgate.toml").string(), cfg.err().message));
    c.cfg = std::move(cfg.value());
    c.limits = c.cfg.server.xml;
    auto k = validation::knowledge::load(c.cfg.xsd_dir, c.cfg.calendar_file);
    if (!k) die("xsd: " + k.err().message);
    c.k = std::move(k.value());
    auto lib = mapping::library::load(c.cfg.mappings_dir, rules::environment{c.k->codes, c.k->calendar, std::nullopt});
    if (!lib) die("mappings: " + lib.err().message);
    c.lib = std::move(lib.value());

    const config::route* shop = c.cfg.route_by_id("demo-shop-ceb311");
    if (!shop) die("samples/portgate.toml has no route demo-shop-ceb311");
    c.route.id = "bench-ceb621";
    c.route.partner = shop->partner;
    c.route.root = fmt::format("{{{}}}CEB621Message", ceb_ns);
    c.route.schema = "ceb-import-draft";
    for (const char* p : {"copCode", "copName", "dxpId"}) c.route.params[p] = shop->params.at(p);
    config::route_map enrich;
    enrich.stylesheet = "enrich-ceb.xsl";
    c.route.maps.push_back(enrich);

    c.type = c.k->types->find("CEB621");
    c.draft_schema = c.k->catalog->find("ceb-import-draft");
    if (!c.type || !c.draft_schema) die("CEB621 or schema ceb-import-draft is not known");
    c.sent_schema = c.k->catalog->find(c.type->schema);
    if (!c.sent_schema) die(fmt::format("CEB621's schema as sent, '{}', is not known", c.type->schema));
    const formats::family_info* fam = c.k->types->family(c.type->family);
    c.where = fam->sign_before.empty() ? sign::placement::last_child() : sign::placement::before_child(fam->sign_before);

    const std::string sample = slurp(c.root / "samples/ceb/ceb621-inventory-valid.xml");
    if (sample.empty()) die("cannot read samples/ceb/ceb621-inventory-valid.xml under " + c.root.string());
    for (int n : item_counts) {
        c.input[n] = inventory_with_items(sample, n);
        auto parsed = xml::parse(c.input[n], c.limits, "document");
        if (!parsed) die(fmt::format("{} items: {}", n, parsed.err().message));
        validation::options opt;
        opt.schema = c.route.schema;
        auto rep = validation::check_parsed(*c.k, *parsed, c.input[n], opt, c.limits, "document");
        if (!rep || !rep->valid()) die(fmt::format("the {}-item CEB621 is not valid: {}", n, rep ? rep->message : rep.err().message));
        auto res = mapping::run_route(*c.k, *c.lib, c.route, parsed->doc.get(), {});
        if (!res || res->outputs.size() != 1) die(fmt::format("{} items: enrich-ceb.xsl: {}", n, res ? "not one output" : res.err().message));
        c.mapped[n] = res->outputs.front().bytes;
    }

    const fs::path pki = c.work / "pki";
    const std::string cmd = fmt::format("bash '{}' '{}' >/dev/null 2>&1", (c.root / "tests/sign/make_test_pki.sh").string(), pki.string());
    if (std::system(cmd.c_str()) != 0) die("tests/sign/make_test_pki.sh failed");
    for (auto& a : algorithms) {
        sign::identity_config ic;
        ic.name = "bench-" + a.stem;
        ic.key_file = (pki / (a.stem + ".key")).string();
        ic.cert_file = (pki / (a.stem + ".pem")).string();
        ic.algorithm = a.name;
        auto id = sign::open_identity(ic);
        if (!id) die(fmt::format("{}: {}", a.name, id.err().message));
        c.ids[a.name] = std::move(id.value());
    }
    for (int n : item_counts) c.signed_sm2[n] = in_process_route(c, c.input[n], *c.ids.at("sm2-sm3"));

    c.receipt = slurp(c.root / "samples/ceb/ceb622-receipt-800.xml");
    if (c.receipt.empty()) die("cannot read samples/ceb/ceb622-receipt-800.xml");
}

void register_benchmarks() {
    auto items = [](benchmark::internal::Benchmark* b) {
        b->ArgName("items");
        for (int n : item_counts) b->Arg(n);
    };
    items(benchmark::RegisterBenchmark("parse", bm_parse));
    benchmark::RegisterBenchmark("parse_libxml2_plain", bm_parse_plain)->ArgName("items")->Arg(5);
    items(benchmark::RegisterBenchmark("xsd_validate", bm_xsd));
    items(benchmark::RegisterBenchmark("check_draft", bm_check));
    items(benchmark::RegisterBenchmark("map_xslt", bm_map_xslt));
    items(benchmark::RegisterBenchmark("map_route", bm_map_route));
    items(benchmark::RegisterBenchmark("rules", bm_rules));
    items(benchmark::RegisterBenchmark("c14n", bm_c14n, nullptr));
    items(benchmark::RegisterBenchmark("c14n_sm3", bm_c14n, "SM3"));
    benchmark::RegisterBenchmark("c14n_sha256", bm_c14n, "SHA256")->ArgName("items")->Arg(5);
    for (auto& a : algorithms) items(benchmark::RegisterBenchmark(("sign/" + a.name).c_str(), bm_sign, a.name));
    for (auto& a : algorithms) benchmark::RegisterBenchmark(("sign_bytes/" + a.name).c_str(), bm_sign_bytes, a.name);
    items(benchmark::RegisterBenchmark("check_sent", bm_check_sent));
    items(benchmark::RegisterBenchmark("xsd_sent", bm_xsd_sent));
    for (const char* a : {"sm2-sm3", "ecdsa-sha256"}) items(benchmark::RegisterBenchmark(fmt::format("route/{}", a).c_str(), bm_route, a));
    for (const char* s : {"full", "normal"})
        benchmark::RegisterBenchmark(fmt::format("store_single/{}", s).c_str(), bm_store_single, s)->UseRealTime();
    for (const char* s : {"full", "normal"})
        benchmark::RegisterBenchmark(fmt::format("store_grouped/{}", s).c_str(), bm_store_grouped, s)->Threads(8)->Threads(32)->UseRealTime();
    benchmark::RegisterBenchmark("receipt_read", bm_receipt_read);
    for (const char* s : {"full", "normal"})
        benchmark::RegisterBenchmark(fmt::format("receipt_correlate/{}", s).c_str(), bm_receipt_correlate, s)->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
    bench_context c;
    const char* env_root = std::getenv("PORTGATE_ROOT");
    c.root = env_root && *env_root ? env_root : ".";
    fs::path tmp = fs::temp_directory_path();
    // Our options out, Google Benchmark's through; a default minimum time per benchmark that a
    // --benchmark_min_time given on the command line overrides (the later flag wins).
    std::vector<char*> args = {argv[0]};
    std::string min_time = "--benchmark_min_time=0.2";
    args.push_back(min_time.data());
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if ((a == "--root" || a == "--tmp") && i + 1 < argc) (a == "--root" ? c.root : tmp) = argv[++i];
        else if (a.rfind("--root=", 0) == 0) c.root = a.substr(7);
        else if (a.rfind("--tmp=", 0) == 0) tmp = a.substr(6);
        else args.push_back(argv[i]);
    }
    int n = static_cast<int>(args.size());
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data())) {
        std::fprintf(stderr, "usage: stages_bench [--root DIR] [--tmp DIR] [--benchmark_* options]\n");
        return 2;
    }
    spdlog::set_level(spdlog::level::warn);  // store migrations log at info

    c.work = tmp / fmt::format("portgate-stages-bench-{}", ::getpid());
    fs::create_directories(c.work);
    scratch = c.work;
    ctx = &c;
    load_context(c);
    benchmark::AddCustomContext("message", fmt::format("CEB621, {} items = {} bytes (items: 1/5/10/99 = {}/{}/{}/{} bytes)", 5,
                                                       c.input[5].size(), c.input[1].size(), c.input[5].size(), c.input[10].size(),
                                                       c.input[99].size()));
    benchmark::AddCustomContext("route", "ceb-import-draft + enrich-ceb.xsl (params of demo-shop-ceb311), signed output checked as sent");
    benchmark::AddCustomContext("store_dir", c.work.string());
    register_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();

    for (auto& [sync, rs] : receipt_stores) {
        rs.pipe.reset();
        if (rs.st) rs.st->close();
        rs.st.reset();
    }
    std::error_code ec;
    fs::remove_all(c.work, ec);
    return 0;
}

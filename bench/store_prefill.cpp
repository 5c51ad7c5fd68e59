// Store prefill for the store-size scaling benchmark: adds N finished CEB621 inventory lists to
// <data-dir>/portgate.db — the rows the gateway leaves for a document that was taken in over HTTP, signed,
// delivered and receipted — with direct SQLite in large transactions, after the gateway's own store module
// has created (or migrated) the database. Filling 1 M documents through HTTP would take hours.
//
// One specimen goes through the real modules first (XSD + rules, the route's mapping, signing, the lenient
// receipt reader, the partner's notification mapping); every document written is that specimen with its own
// ids, guids, business numbers and times. Two things differ from a live store on purpose: the signature is the
// specimen's (right size and shape; it verifies only for the specimen), and receipts keep no raw bytes because
// intake stores none today (process_receipt never fills new_receipt::bytes). Then the store is opened again
// through its API to time a few of its queries at the filled size, and the plans of its hot statements are
// printed (full scans flagged).
//   store_prefill --data-dir DIR [--count N] [--sample FILE] [--items K] [--shape demo|e2e] [--partner P]
//                 [--route R] [--config F] [--key K --cert C --alg A] [--batch DOCS] [--days D] [--seed S]
//                 [--notify mailbox|none] [--journal off|wal] [--indexes auto|after|during] [--compression none|zstd]
//                 [--no-verify]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <libxml/tree.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <unistd.h>

#include "gateway/config/config.hpp"
#include "gateway/core/digest.hpp"
#include "gateway/core/ids.hpp"
#include "gateway/mapping/engine.hpp"
#include "gateway/mapping/route_runner.hpp"
#include "gateway/pipeline/customs_status.hpp"
#include "gateway/pipeline/state.hpp"
#include "gateway/sign/sign.hpp"
#include "gateway/store/packing.hpp"
#include "gateway/store/store.hpp"
#include "gateway/validation/checker.hpp"
#include "gateway/xml/parser.hpp"
#include "gateway/xsd/validator.hpp"

namespace {

namespace fs = std::filesystem;
using namespace portgate;
using millis = store::millis;
using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point t) { return std::chrono::duration<double>(steady::now() - t).count(); }

// CPU seconds of the calling thread (the machine is shared: wall time alone says little).
double thread_cpu_s() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::optional<std::string> slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A path of the source tree: as given when it exists from here, else under the tree this was built from.
fs::path in_tree(const fs::path& rel) {
#ifdef PORTGATE_SOURCE_DIR
    if (!fs::exists(rel)) return fs::path(PORTGATE_SOURCE_DIR) / rel;
#endif
    return rel;
}

struct options {
    fs::path data_dir;
    long long count = 10'000;  // documents taken in (each leaves one message row, two with --shape e2e)
    fs::path config = in_tree("samples/portgate.toml");
    fs::path sample = in_tree("samples/ceb/ceb621-inventory-valid.xml");
    int items = 3;              // InventoryList items kept from the sample (0 = all): a 5 KB document
    std::string shape = "demo";  // demo: route demo-shop-ceb621 as ./dev demo runs it · e2e: e2e_bench's route
    std::string partner;  // "" = demo-shop (demo) or bench (e2e: e2e_bench's partner)
    std::string route = "demo-shop-ceb621";
    std::string key, cert, alg = "ecdsa-sha256";
    std::string notify = "mailbox";
    int batch = 2000;  // documents per transaction (≈ 58 k rows)
    std::string journal = "off";  // while filling: off (no journal; WAL set again at the end) | wal
    std::string compression = "none";  // as [store] compression: zstd packs the payloads like the store does
    std::string indexes = "auto"; // after: drop the secondary indexes, build them after the fill · during · auto: after when adding more than there is
    int days = 30;
    std::uint64_t seed = 0;
    bool verify = true;
};

// ---------------------------------------------------------------------------------------------------
// Patterns: a specimen text cut at the values that differ per document.

enum field : int {
    f_id,            // the input message's id
    f_out_id,        // the customs message made from it (e2e shape; the input itself in the demo shape)
    f_guid,          // input root guid
    f_head_guid,     // input head guid
    f_out_guid,      // mapped root guid
    f_out_head_guid, // mapped head guid
    f_order_no,
    f_cop_no,
    f_logistics_no,
    f_app_time,
    f_out_app_time,
    f_pre_no,        // customs-assigned numbers, learnt from the receipts
    f_invt_no,
    f_receipt_fields  // then per receipt r: id, raw time, ISO time with ms, ISO time (4 each)
};
constexpr int per_receipt = 4;
int receipt_field(std::size_t r, int k) { return f_receipt_fields + static_cast<int>(r) * per_receipt + k; }

class pattern {
public:
    struct mark {
        std::string text;  // as it stands in the specimen
        int field;
    };
    static pattern of(std::string_view text, const std::vector<mark>& marks) {
        pattern p;
        std::size_t pos = 0;
        for (;;) {
            std::size_t best = std::string_view::npos;
            const mark* which = nullptr;
            for (auto& m : marks) {
                if (m.text.empty()) continue;
                auto f = text.find(m.text, pos);
                if (f == std::string_view::npos) continue;
                if (f < best || (f == best && m.text.size() > which->text.size())) best = f, which = &m;
            }
            if (!which) break;
            p.pieces_.emplace_back(text.substr(pos, best - pos));
            p.fields_.push_back(which->field);
            pos = best + which->text.size();
        }
        p.pieces_.emplace_back(text.substr(pos));
        return p;
    }
    void render(std::string& out, const std::vector<std::string>& v) const {
        out.clear();
        for (std::size_t i = 0; i < fields_.size(); ++i) {
            out += pieces_[i];
            out += v[static_cast<std::size_t>(fields_[i])];
        }
        out += pieces_.back();
    }
    std::string render(const std::vector<std::string>& v) const {
        std::string s;
        render(s, v);
        return s;
    }
    std::size_t holes() const { return fields_.size(); }

private:
    std::vector<std::string> pieces_;
    std::vector<int> fields_;
};

// ---------------------------------------------------------------------------------------------------
// Times as customs writes them (China time).

struct civil {
    int y, mo, d, h, mi, s, ms;
};
civil china(millis t) {
    using namespace std::chrono;
    sys_time<milliseconds> tp{milliseconds(t + 8 * 3600 * 1000)};
    auto day = floor<days>(tp);
    year_month_day ymd{day};
    hh_mm_ss hms{tp - day};
    return {int(ymd.year()), int(unsigned(ymd.month())), int(unsigned(ymd.day())), int(hms.hours().count()),
            int(hms.minutes().count()), int(hms.seconds().count()), int(hms.subseconds().count())};
}
std::string digits14(const civil& c) { return fmt::format("{:04}{:02}{:02}{:02}{:02}{:02}", c.y, c.mo, c.d, c.h, c.mi, c.s); }
std::string digits17(const civil& c) { return digits14(c) + fmt::format("{:03}", c.ms); }
std::string iso_s(const civil& c) { return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", c.y, c.mo, c.d, c.h, c.mi, c.s); }
std::string iso_ms(const civil& c) { return iso_s(c) + fmt::format(".{:03}", c.ms); }

enum class time_format { digits17, digits14, iso_s, fixed };
time_format format_of(const std::string& s) {
    bool digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (digits && s.size() == 17) return time_format::digits17;
    if (digits && s.size() == 14) return time_format::digits14;
    if (s.size() == 19 && s[4] == '-' && s[10] == 'T') return time_format::iso_s;
    return time_format::fixed;
}
std::string format_time(time_format f, const civil& c, const std::string& fixed) {
    switch (f) {
    case time_format::digits17: return digits17(c);
    case time_format::digits14: return digits14(c);
    case time_format::iso_s: return iso_s(c);
    case time_format::fixed: break;
    }
    return fixed;
}

// ---------------------------------------------------------------------------------------------------
// The specimen: the sample document through the real modules, cut into patterns.

struct xml_free {
    void operator()(xmlChar* p) const noexcept { xmlFree(p); }
};

xmlNode* first_element(xmlNode* n, std::string_view local, std::string_view parent_suffix = {}) {
    for (xmlNode* c = n ? n->children : nullptr; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        std::string_view name(reinterpret_cast<const char*>(c->name));
        std::string_view pname(reinterpret_cast<const char*>(n->name));
        if (name == local && (parent_suffix.empty() ||
                              (pname.size() >= parent_suffix.size() && pname.substr(pname.size() - parent_suffix.size()) == parent_suffix)))
            return c;
        if (auto* f = first_element(c, local, parent_suffix)) return f;
    }
    return nullptr;
}
std::string text_of(xmlNode* n) {
    if (!n) return {};
    std::unique_ptr<xmlChar, xml_free> t(xmlNodeGetContent(n));
    return t ? std::string(reinterpret_cast<const char*>(t.get())) : std::string();
}
std::string root_guid(xmlDoc* d) {
    xmlNode* root = xmlDocGetRootElement(d);
    std::unique_ptr<xmlChar, xml_free> g(root ? xmlGetNoNsProp(root, BAD_CAST "guid") : nullptr);
    return g ? std::string(reinterpret_cast<const char*>(g.get())) : std::string();
}

// The values of a CEB document that differ from one document to the next.
struct doc_values {
    std::string guid, head_guid, order_no, cop_no, logistics_no, app_time;
};
doc_values values_of(xmlDoc* d) {
    xmlNode* root = xmlDocGetRootElement(d);
    return {root_guid(d), text_of(first_element(root, "guid", "Head")), text_of(first_element(root, "orderNo")),
            text_of(first_element(root, "copNo")), text_of(first_element(root, "logisticsNo")), text_of(first_element(root, "appTime"))};
}

// Keeps the first `items` InventoryList items of the sample (0 = all of them).
result<std::string> trim_items(const std::string& bytes, int items, const xml::limits& lim) {
    if (items <= 0) return bytes;
    auto d = xml::parse(bytes, lim, "sample");
    if (!d) return d.err();
    std::vector<xmlNode*> lists;
    std::vector<xmlNode*> stack{xmlDocGetRootElement(d->doc.get())};
    while (!stack.empty()) {
        xmlNode* n = stack.back();
        stack.pop_back();
        for (xmlNode* c = n->last; c; c = c->prev)
            if (c->type == XML_ELEMENT_NODE) {
                if (std::string_view(reinterpret_cast<const char*>(c->name)) == "InventoryList") lists.push_back(c);
                else stack.push_back(c);
            }
    }
    std::sort(lists.begin(), lists.end(), [](xmlNode* a, xmlNode* b) { return xmlGetLineNo(a) < xmlGetLineNo(b); });
    if (lists.size() <= static_cast<std::size_t>(items)) return bytes;
    for (std::size_t i = static_cast<std::size_t>(items); i < lists.size(); ++i) {
        xmlNode* n = lists[i];
        if (n->prev && n->prev->type == XML_TEXT_NODE && xmlIsBlankNode(n->prev)) {
            xmlNode* ws = n->prev;
            xmlUnlinkNode(ws);
            xmlFreeNode(ws);
        }
        xmlUnlinkNode(n);
        xmlFreeNode(n);
    }
    xmlChar* out = nullptr;
    int len = 0;
    xmlDocDumpMemoryEnc(d->doc.get(), &out, &len, "UTF-8");
    std::unique_ptr<xmlChar, xml_free> keep(out);
    return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
}

struct evp_pkey_free {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct x509_free {
    void operator()(X509* x) const noexcept { X509_free(x); }
};
struct file_close {
    void operator()(FILE* f) const noexcept { std::fclose(f); }
};

// A throw-away ECDSA P-256 key and self-signed certificate, so the specimen is signed for real (the same
// bytes a configured signer adds) without a test PKI. --key/--cert/--alg sign with a real key instead.
result<std::shared_ptr<sign::identity>> ephemeral_identity(std::mt19937_64& rng) {
    std::unique_ptr<EVP_PKEY, evp_pkey_free> key(EVP_EC_gen("P-256"));
    std::unique_ptr<X509, x509_free> cert(X509_new());
    if (!key || !cert) return error(errc::sign_key_unavailable, "cannot make an EC key");
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), rng() >> 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 86400);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "C", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("CN"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("portgate store_prefill"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("store_prefill"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return error(errc::sign_key_unavailable, "cannot sign the certificate");
    fs::path dir = fs::temp_directory_path() / fmt::format("store-prefill-{}", getpid());
    fs::create_directories(dir);
    {
        std::unique_ptr<FILE, file_close> k(std::fopen((dir / "key.pem").c_str(), "w")), c(std::fopen((dir / "cert.pem").c_str(), "w"));
        if (!k || !c || !PEM_write_PrivateKey(k.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) || !PEM_write_X509(c.get(), cert.get()))
            return error(errc::io_error, fmt::format("cannot write the throw-away key into {}", dir.string()));
    }
    sign::identity_config ic;
    ic.name = "store_prefill";
    ic.key_file = (dir / "key.pem").string();
    ic.cert_file = (dir / "cert.pem").string();
    ic.algorithm = "ecdsa-sha256";
    auto id = sign::open_identity(ic);
    std::error_code ec;
    fs::remove_all(dir, ec);
    return id;
}

// One receipt of the road a delivered CEB621 takes (120 stored by customs, then 899 closed).
struct receipt_spec {
    const formats::type_info* type = nullptr;
    formats::receipt_record rec;  // as read from the sample
    customs_progress progress;
    time_format tf = time_format::fixed;
    std::vector<std::pair<std::string, pattern>> keys;   // receipt_key rows (values not empty)
    std::vector<std::pair<std::string, pattern>> learn;  // keys the message learns from it
    pattern bytes, event, body, source;
    std::string channel, content_type;
    millis after_min = 0, after_max = 0;  // arrival after the message was sent
};

struct specimen {
    bool e2e = false;
    std::string root, type, route, endpoint, partner, signer_name;
    std::vector<std::string> channels;  // notification channels of the partner
    pattern inbound, mapped, signed_, validated, queued, sent, outputs;
    std::string signed_detail, child_mapped_detail;
    std::vector<std::pair<std::string, pattern>> in_keys, out_keys;
    std::vector<receipt_spec> receipts;
    std::vector<std::string> sentinels;  // the specimen's own value of each field
};

// Sentinels for values the sample does not carry: distinctive, so they are found only where they were put.
std::string sentinel_ulid(std::mt19937_64& rng) { return make_ulid(978'307'200'000ULL + (rng() % 1000), rng(), rng()); }

result<specimen> make_specimen(const options& o, const config::config& cfg, const validation::knowledge& k, const mapping::library& lib,
                               std::mt19937_64& rng) {
    specimen sp;
    sp.e2e = o.shape == "e2e";
    sp.partner = o.partner;
    const config::route* base = cfg.route_by_id(o.route);
    if (!base) return error(errc::config_invalid, fmt::format("no route '{}' in {}", o.route, cfg.file.string()));
    config::route route = *base;
    route.partner = o.partner;
    if (sp.e2e && route.maps.empty()) {
        // e2e_bench's route (bench-ceb621): the native document enriched by enrich-ceb.xsl with the BaseTransfer
        // parameters of demo-shop-ceb311, signed by bench-signer, sent to customs-sim over HTTPS.
        config::route_map m;
        m.stylesheet = "enrich-ceb.xsl";
        route.maps.push_back(m);
        if (auto* r311 = cfg.route_by_id("demo-shop-ceb311")) route.params = r311->params;
        route.id = "bench-ceb621";
    }
    sp.route = route.id;
    sp.endpoint = sp.e2e ? "customs-sim" : "demo-eport";
    sp.signer_name = sp.e2e ? "bench-signer" : "demo-card";
    if (o.notify != "none") {
        auto* p = cfg.find_partner(o.partner);
        sp.channels = p && !p->notify.channels.empty() ? p->notify.channels : std::vector<std::string>{"mailbox"};
    }

    auto raw = slurp(o.sample);
    if (!raw) return error(errc::io_error, fmt::format("cannot read {}", o.sample.string()));
    auto in_bytes = trim_items(*raw, o.items, cfg.server.xml);
    if (!in_bytes) return in_bytes.err();
    validation::options vo;
    vo.type = route.type;
    vo.rules = route.rules;
    vo.schema = route.schema;
    auto rep = validation::check(k, *in_bytes, vo, cfg.server.xml, o.sample.string());
    if (!rep) return rep.err();
    if (!rep->valid()) return error(rep->code, fmt::format("{} ({} items) is not valid: {}", o.sample.string(), o.items, rep->message), rep->problems);
    auto in_doc = xml::parse(*in_bytes, cfg.server.xml, "sample");
    if (!in_doc) return in_doc.err();
    sp.root = xml::qualified_root(*in_doc);
    sp.type = rep->type ? rep->type->id : in_doc->root_name;
    doc_values in = values_of(in_doc->doc.get());

    std::vector<std::string>& s = sp.sentinels;
    s.resize(static_cast<std::size_t>(f_receipt_fields));
    s[f_id] = sentinel_ulid(rng);
    s[f_out_id] = sp.e2e ? sentinel_ulid(rng) : s[f_id];
    s[f_guid] = in.guid, s[f_head_guid] = in.head_guid, s[f_order_no] = in.order_no, s[f_cop_no] = in.cop_no;
    s[f_logistics_no] = in.logistics_no, s[f_app_time] = in.app_time;
    s[f_pre_no] = "B20010203999999901", s[f_invt_no] = "99992001I999999901";

    // What is sent: the input itself (demo) or the route's mapping output (e2e).
    std::string out_bytes = *in_bytes;
    std::vector<formats::key_values> out_keys;
    if (sp.e2e) {
        mapping::route_run_options ro;
        auto res = mapping::run_route(k, lib, route, in_doc->doc.get(), ro);
        if (!res) return res.err();
        if (res->outputs.size() != 1) return error(errc::mapping_failed, fmt::format("route {} made {} outputs, expected 1", route.id, res->outputs.size()));
        out_bytes = res->outputs[0].bytes;
        out_keys = res->outputs[0].keys;
        sp.child_mapped_detail = dump({{"stylesheet", res->outputs[0].stylesheet}, {"type", res->outputs[0].type}});
        auto od = xml::parse(out_bytes, cfg.server.xml, "mapped");
        if (!od) return od.err();
        doc_values out = values_of(od->doc.get());
        s[f_out_guid] = out.guid, s[f_out_head_guid] = out.head_guid, s[f_out_app_time] = out.app_time;
    } else {
        s[f_out_guid] = s[f_guid], s[f_out_head_guid] = s[f_head_guid], s[f_out_app_time] = s[f_app_time];
    }

    // Signed for real, placed as the pipeline places it, and checked as sent.
    std::shared_ptr<sign::identity> idn;
    if (!o.key.empty()) {
        sign::identity_config ic;
        ic.name = sp.signer_name;
        ic.key_file = o.key;
        ic.cert_file = o.cert;
        ic.algorithm = o.alg;
        auto r = sign::open_identity(ic);
        if (!r) return r.err();
        idn = *r;
    } else {
        auto r = ephemeral_identity(rng);
        if (!r) return r.err();
        idn = *r;
    }
    const formats::type_info* ti = k.types->find(sp.type);
    const formats::family_info* fam = ti ? k.types->family(ti->family) : nullptr;
    sign::placement where = !fam || fam->sign_before.empty() ? sign::placement::last_child() : sign::placement::before_child(fam->sign_before);
    auto signed_bytes = sign::sign_document(*idn, out_bytes, where);
    if (!signed_bytes) return signed_bytes.err();
    validation::options so;
    so.type = sp.type;
    so.prof = validation::profile::sent;
    auto srep = validation::check(k, *signed_bytes, so, cfg.server.xml, "signed");
    if (!srep) return srep.err();
    if (!srep->valid()) return error(srep->code, fmt::format("the signed specimen is not valid as sent: {}", srep->message), srep->problems);
    sp.signed_detail = nlohmann::json{{"signer", sp.signer_name}, {"algorithm", sign::algorithm_name(idn->alg())}, {"key_name", idn->key_name()}}.dump();

    std::vector<pattern::mark> doc_marks{{s[f_guid], f_guid}, {s[f_head_guid], f_head_guid}, {s[f_order_no], f_order_no},
                                         {s[f_cop_no], f_cop_no}, {s[f_logistics_no], f_logistics_no}, {s[f_app_time], f_app_time}};
    std::vector<pattern::mark> out_marks = doc_marks;
    if (sp.e2e) {
        out_marks = {{s[f_out_guid], f_out_guid}, {s[f_out_head_guid], f_out_head_guid}, {s[f_order_no], f_order_no},
                     {s[f_cop_no], f_cop_no}, {s[f_logistics_no], f_logistics_no}, {s[f_out_app_time], f_out_app_time}};
    }
    std::vector<pattern::mark> all_marks = doc_marks;
    all_marks.insert(all_marks.end(), {{s[f_id], f_id}, {s[f_out_id], f_out_id}, {s[f_pre_no], f_pre_no}, {s[f_invt_no], f_invt_no}});
    if (sp.e2e) all_marks.insert(all_marks.end(), {{s[f_out_guid], f_out_guid}, {s[f_out_head_guid], f_out_head_guid}, {s[f_out_app_time], f_out_app_time}});

    sp.inbound = pattern::of(*in_bytes, doc_marks);
    if (sp.e2e) sp.mapped = pattern::of(out_bytes, out_marks);
    sp.signed_ = pattern::of(*signed_bytes, out_marks);

    // Event details exactly as intake writes them, with the specimen's values.
    nlohmann::json keys_json = nlohmann::json::array();
    for (auto& rec : rep->keys) {
        nlohmann::json obj = nlohmann::json::object();
        for (auto& [kk, vv] : rec) obj[kk] = vv;
        keys_json.push_back(std::move(obj));
    }
    nlohmann::json details{{"schema", rep->schema}, {"type", sp.type}};
    if (!keys_json.empty()) details["keys"] = keys_json;
    if (!rep->warnings.empty()) std::cerr << fmt::format("note: the specimen has {} rule warning(s); they are left out of its event\n", rep->warnings.size());
    sp.validated = pattern::of(dump(details), all_marks);
    for (auto& rec : keys_json)
        for (auto& [kk, vv] : rec.items()) sp.in_keys.emplace_back(kk, pattern::of(vv.get<std::string>(), all_marks));
    for (auto& rec : out_keys)
        for (auto& [kk, vv] : rec) sp.out_keys.emplace_back(kk, pattern::of(vv, all_marks));
    sp.queued = pattern::of(nlohmann::json{{"endpoint", sp.endpoint}, {"cop_msg_id", s[f_out_id]}}.dump(), all_marks);
    nlohmann::json sent{{"endpoint", sp.endpoint}, {"attempt", 1}};
    if (sp.e2e) {
        sent["code"] = "0000";
        sent["detail"] = "HTTP 200, DxpRep 0000";
    } else {
        sent["code"] = "outbox";
        sent["detail"] = fmt::format("written to {}", (fs::absolute(o.data_dir) / "client" / "CEB" / "OutBox" / fmt::format("{}_{}.xml", sp.type, s[f_out_id])).string());
    }
    sp.sent = pattern::of(dump(sent), all_marks);
    sp.outputs = pattern::of(dump({{"outputs", nlohmann::json::array({{{"id", s[f_out_id]}, {"type", sp.type}}})}}), all_marks);

    // A couple of the receipts customs sends for a delivered inventory list (120 stored by customs, 899 closed),
    // read by the gateway's own reader. Until the first arrives the list is SENT; the DxpRep transport answer
    // is left out (it would add a receipt, a record, a key, an event and a notification per document).
    struct road {
        const char* file;
        millis after_min, after_max;
    };
    const road roads[] = {{"samples/ceb/ceb622-receipt-120.xml", 5 * 60'000, 30 * 60'000},
                          {"samples/ceb/ceb622-receipt-899.xml", 6 * 3'600'000, 28 * 3'600'000}};
    // A receipt key → the field of the message it names.
    auto key_field = [&](const std::string& name) -> int {
        if (name == "copNo") return f_cop_no;
        if (name == "guid") return f_out_head_guid;
        if (name == "preNo") return f_pre_no;
        if (name == "invtNo") return f_invt_no;
        if (name == "CopMsgId") return f_out_id;
        if (name == "orderNo") return f_order_no;
        if (name == "logisticsNo") return f_logistics_no;
        return -1;
    };
    for (auto& rd : roads) {
        fs::path file = in_tree(rd.file);
        auto bytes = slurp(file);
        if (!bytes) return error(errc::io_error, fmt::format("cannot read {}", file.string()));
        auto reading = k.receipts->read(*bytes, cfg.server.xml, file.string());
        if (!reading) return reading.err();
        if (reading->records.size() != 1 || !reading->type) return error(errc::unknown_type, fmt::format("{}: expected one receipt record", file.string()));
        std::size_t r = sp.receipts.size();
        s.resize(static_cast<std::size_t>(receipt_field(r + 1, 0)));
        receipt_spec rs;
        rs.type = reading->type;
        rs.rec = reading->records[0];
        rs.progress = progress_of(rs.rec);
        rs.tf = format_of(rs.rec.time);
        rs.after_min = rd.after_min;
        rs.after_max = rd.after_max;
        civil sentinel_time{2001, 2, 3, 4, 5, static_cast<int>(r), 789};
        s[receipt_field(r, 0)] = sentinel_ulid(rng);
        s[receipt_field(r, 1)] = format_time(rs.tf, sentinel_time, rs.rec.time);
        s[receipt_field(r, 2)] = iso_ms(sentinel_time);
        s[receipt_field(r, 3)] = iso_s(sentinel_time);
        std::vector<pattern::mark> rmarks = all_marks;
        for (int kf = 0; kf < per_receipt; ++kf) rmarks.push_back({s[receipt_field(r, kf)], receipt_field(r, kf)});

        // The raw receipt (its sha256 is unique per receipt): the sample's own values are the marks.
        std::vector<pattern::mark> bmarks;
        for (auto& [name, value] : rs.rec.keys)
            if (int f = key_field(name); f >= 0 && !value.empty()) bmarks.push_back({value, f});
        if (rs.tf != time_format::fixed) bmarks.push_back({rs.rec.time, receipt_field(r, 1)});
        rs.bytes = pattern::of(*bytes, bmarks);

        // The record as this document's receipt: keys by name, time in the sample's format.
        formats::receipt_record mine = rs.rec;
        for (auto& [name, value] : mine.keys)
            if (int f = key_field(name); f >= 0) value = s[static_cast<std::size_t>(f)];
        mine.time = s[receipt_field(r, 1)];
        const auto& learnable = k.types->answered_key_names(rs.rec.type);
        for (auto& [name, value] : mine.keys) {
            if (value.empty()) continue;
            rs.keys.emplace_back(name, pattern::of(value, rmarks));
            if (std::find(learnable.begin(), learnable.end(), name) != learnable.end()) rs.learn.emplace_back(name, pattern::of(value, rmarks));
        }
        nlohmann::json detail{{"receipt", s[receipt_field(r, 0)]}, {"type", mine.type}, {"status", mine.status}, {"meaning", mine.meaning}, {"time", mine.time}};
        if (!mine.customs_code.empty()) detail["customs_code"] = mine.customs_code;
        if (!mine.info.empty()) detail["info"] = mine.info;
        rs.event = pattern::of(dump(detail), rmarks);
        if (sp.e2e) {
            rs.channel = rs.rec.family == "dxp" ? "endpoint" : "http";
            rs.source = pattern::of(rs.rec.family == "dxp" ? fmt::format("{}:{}", sp.endpoint, s[f_out_id]) : std::string(), rmarks);
        } else {
            rs.channel = "endpoint";
            rs.source = pattern::of(rs.rec.family == "dxp" ? fmt::format("{}:Successed_{}_{}.xml", sp.endpoint, sp.type, s[f_out_id])
                                                           : fmt::format("{}:{}_{}_{}_{}_00.xml", sp.endpoint, rs.type->id, sp.type, s[f_out_id],
                                                                         digits17(sentinel_time)),
                                    rmarks);
        }

        // The notification body: the partner's reverse mapping of the record, as the notifier makes it
        // (keys in the order the store reads them back: by name).
        if (!sp.channels.empty()) {
            formats::receipt_record n = mine;
            std::sort(n.keys.begin(), n.keys.end());
            n.keys.erase(std::remove_if(n.keys.begin(), n.keys.end(), [](auto& kv) { return kv.second.empty(); }), n.keys.end());
            mapping::receipt_original orig{s[f_out_id], sp.type, sp.partner, ""};
            std::string xml = mapping::receipt_document(n, &orig);
            auto* p = cfg.find_partner(o.partner);
            std::string sheet = p && !p->notify.stylesheet.empty() ? p->notify.stylesheet : "notify-shop-json.xsl";
            auto nd = xml::parse(xml, {}, "receipt");
            if (!nd) return nd.err();
            auto outs = lib.apply(sheet, nd->doc.get(), {});
            if (!outs) return outs.err();
            if (outs->empty()) return error(errc::mapping_failed, fmt::format("{} made no notification", sheet));
            rs.body = pattern::of((*outs)[0].bytes, rmarks);
            rs.content_type = (*outs)[0].text ? "application/json" : "application/xml";
        }
        sp.receipts.push_back(std::move(rs));
    }
    return sp;
}

// ---------------------------------------------------------------------------------------------------
// Rows of one batch, made by the generator thread and written by the SQLite thread.

struct key_row {
    std::string name, value;
};
struct event_row {
    millis at = 0;
    std::string kind, state, detail;
};
struct receipt_row {
    std::int64_t seq = 0;
    const receipt_spec* spec = nullptr;
    std::string id, source, sha256, time;
    millis at = 0;
    std::vector<key_row> keys;
    bool notified = false;
    std::string body, notify_state;
    millis notify_updated = 0;
};
struct message_row {
    std::int64_t seq = 0, parent_seq = 0;
    std::string id, direction, channel, state, doc_guid, sha256, customs_status;
    int rank = 0;
    std::int64_t size = 0;
    millis received_at = 0, updated_at = 0, payload_at = 0;
    std::vector<std::pair<std::string, std::string>> payloads;  // stage, bytes
    std::vector<event_row> events;
    std::vector<key_row> keys;
    bool outbox = false;
    millis outbox_at = 0;
    std::vector<receipt_row> receipts;
};
struct batch {
    std::vector<message_row> rows;
    long long docs = 0;
};

struct sequences {
    std::int64_t message = 0, receipt = 0, record = 0;
};

class generator {
public:
    generator(const specimen& sp, const options& o, millis now, long long first_doc, sequences seq)
        : sp_(sp), o_(o), now_(now), first_doc_(first_doc), seq_(seq), rng_(o.seed ? o.seed : std::random_device{}()) {
        v_ = sp.sentinels;
        window_ = static_cast<millis>(o.days) * 86'400'000;
    }

    // Documents [from, to) of this run into `b`.
    void make(long long from, long long to, batch& b) {
        b.rows.clear();
        b.docs = to - from;
        for (long long i = from; i < to; ++i) one(i, b);
    }

private:
    std::uint64_t r() { return rng_(); }
    millis between(millis a, millis b) { return b > a ? a + static_cast<millis>(r() % static_cast<std::uint64_t>(b - a)) : a; }
    std::string ulid(millis t) { return make_ulid(static_cast<std::uint64_t>(t), r(), r()); }
    std::string guid() {
        std::uint64_t a = r(), b = r();
        a = (a & 0xffffffffffff0fffULL) | 0x4000ULL;
        b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
        return fmt::format("{:08X}-{:04X}-{:04X}-{:04X}-{:012X}", a >> 32, (a >> 16) & 0xffff, a & 0xffff, b >> 48, b & 0xffffffffffffULL);
    }

    void one(long long i, batch& b) {
        const long long n = first_doc_ + i;  // unique across runs: numbers never repeat when a store is extended
        const millis step = std::max<millis>(1, window_ / std::max<long long>(1, o_.count));
        const millis t = now_ - window_ + static_cast<millis>(i) * step + between(0, step);
        const civil c = china(t);
        v_[f_id] = ulid(t);
        v_[f_guid] = guid();
        v_[f_head_guid] = guid();
        v_[f_order_no] = fmt::format("YH{}{:04}", digits14(c), n % 10'000);
        v_[f_cop_no] = fmt::format("HM{:04}{:02}{:02}{:07}", c.y, c.mo, c.d, n % 10'000'000);
        v_[f_logistics_no] = fmt::format("SD{:013}", n);
        v_[f_app_time] = digits14(china(t - between(60'000, 600'000)));
        v_[f_pre_no] = fmt::format("B{:04}{:02}{:02}{:09}", c.y, c.mo, c.d, n % 1'000'000'000);
        v_[f_invt_no] = fmt::format("2244{:04}I{:09}", c.y, n % 1'000'000'000);
        if (sp_.e2e) {
            v_[f_out_id] = ulid(t + 1);
            v_[f_out_guid] = guid();
            v_[f_out_head_guid] = guid();
            v_[f_out_app_time] = digits14(china(t + 1));
        } else {
            v_[f_out_id] = v_[f_id];
            v_[f_out_guid] = v_[f_guid];
            v_[f_out_head_guid] = v_[f_head_guid];
            v_[f_out_app_time] = v_[f_app_time];
        }
        const millis commit = t + between(2, 6);

        // The message the partner sent (stage inbound).
        message_row& in = b.rows.emplace_back();
        in.seq = ++seq_.message;
        in.id = v_[f_id];
        in.direction = "in";
        in.channel = "http";
        in.doc_guid = v_[f_guid].substr(0, 64);
        in.received_at = t;
        in.payload_at = commit;
        in.payloads.emplace_back("inbound", sp_.inbound.render(v_));
        in.size = static_cast<std::int64_t>(in.payloads[0].second.size());
        in.sha256 = sha256_hex(in.payloads[0].second);
        in.events.push_back({commit, "received", std::string(to_string(doc_state::received)),
                             dump({{"channel", "http"}, {"size", in.size}, {"sha256", in.sha256}})});
        in.events.push_back({commit, "validated", std::string(to_string(doc_state::validated)), sp_.validated.render(v_)});
        for (auto& [name, p] : sp_.in_keys) in.keys.push_back({name, p.render(v_)});

        // The customs message: the input itself (demo) or its mapping output (e2e), signed and queued.
        message_row* out = &in;
        if (sp_.e2e) {
            in.events.push_back({commit, "mapped", std::string(to_string(doc_state::mapped)), sp_.outputs.render(v_)});
            in.state = std::string(to_string(doc_state::mapped));
            in.updated_at = commit;
            const std::int64_t parent = in.seq;
            out = &b.rows.emplace_back();
            out->seq = ++seq_.message;
            out->parent_seq = parent;
            out->id = v_[f_out_id];
            out->direction = "out";
            out->channel = "mapping";
            out->doc_guid = v_[f_out_guid].substr(0, 64);
            out->received_at = t + 1;
            out->payload_at = commit;
            out->payloads.emplace_back("mapped", sp_.mapped.render(v_));
            out->size = static_cast<std::int64_t>(out->payloads[0].second.size());
            out->sha256 = sha256_hex(out->payloads[0].second);
            out->events.push_back({commit, "mapped", std::string(to_string(doc_state::mapped)), sp_.child_mapped_detail});
            for (auto& [name, p] : sp_.out_keys) out->keys.push_back({name, p.render(v_)});
        }
        message_row& m = *out;
        m.payloads.emplace_back("signed", sp_.signed_.render(v_));
        m.events.push_back({commit, "signed", std::string(to_string(doc_state::signed_)), sp_.signed_detail});
        m.events.push_back({commit, "queued", std::string(to_string(doc_state::queued)), sp_.queued.render(v_)});
        m.keys.push_back({"CopMsgId", v_[f_out_id]});
        const millis sent_at = commit + between(20, 150);
        m.outbox = true;
        m.outbox_at = sent_at;
        m.events.push_back({sent_at, "sent", std::string(to_string(doc_state::sent)), sp_.sent.render(v_)});
        m.state = std::string(to_string(doc_state::sent));
        m.updated_at = sent_at;

        // Receipts that have arrived by now, in the order customs sends them; statuses only move forward.
        millis prev = sent_at;
        for (std::size_t ri = 0; ri < sp_.receipts.size(); ++ri) {
            const receipt_spec& rs = sp_.receipts[ri];
            const millis at = std::max(prev + 1, sent_at + between(rs.after_min, rs.after_max));
            if (at > now_) break;
            prev = at;
            const civil rc = china(at - (rs.rec.family == "dxp" ? 0 : between(20, 200)));
            v_[receipt_field(ri, 0)] = ulid(at);
            v_[receipt_field(ri, 1)] = format_time(rs.tf, rc, rs.rec.time);
            v_[receipt_field(ri, 2)] = iso_ms(rc);
            v_[receipt_field(ri, 3)] = iso_s(rc);
            receipt_row& rr = m.receipts.emplace_back();
            rr.seq = ++seq_.receipt;
            rr.spec = &rs;
            rr.id = v_[receipt_field(ri, 0)];
            rs.source.render(rr.source, v_);
            rr.sha256 = sha256_hex(rs.bytes.render(v_));
            rr.time = v_[receipt_field(ri, 1)];
            rr.at = at;
            for (auto& [name, p] : rs.keys) rr.keys.push_back({name, p.render(v_)});
            for (auto& [name, p] : rs.learn) {
                std::string value = p.render(v_);
                bool known = std::any_of(m.keys.begin(), m.keys.end(), [&](auto& kr) { return kr.name == name && kr.value == value; });
                if (!known) m.keys.push_back({name, std::move(value)});
            }
            const bool forward = rs.progress.rank > m.rank;
            m.events.push_back({at, "receipt", forward ? std::string(to_string(rs.progress.state)) : std::string(), rs.event.render(v_)});
            if (forward) {
                m.rank = rs.progress.rank;
                m.customs_status = rs.rec.status;
                m.state = std::string(to_string(rs.progress.state));
                m.updated_at = at;
                if (!sp_.channels.empty()) {
                    rr.notified = true;
                    rs.body.render(rr.body, v_);
                    // Older mailbox notifications have been pulled and acknowledged; the last day's wait.
                    const bool acked = at < now_ - 86'400'000;
                    rr.notify_state = acked ? "acked" : "ready";
                    rr.notify_updated = acked ? at + between(60'000, 3'600'000) : at + between(50, 500);
                }
            }
        }
    }

    const specimen& sp_;
    const options& o_;
    millis now_, window_ = 0;
    long long first_doc_;
    sequences seq_;
    std::mt19937_64 rng_;
    std::vector<std::string> v_;
};

// ---------------------------------------------------------------------------------------------------
// SQLite

struct db_close {
    void operator()(sqlite3* d) const noexcept { sqlite3_close_v2(d); }
};
using db_ptr = std::unique_ptr<sqlite3, db_close>;
struct stmt_finalize {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_finalize>;

struct sqlite_failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

void exec(sqlite3* db, const std::string& sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
        std::string m = msg ? msg : "unknown";
        sqlite3_free(msg);
        throw sqlite_failure(fmt::format("{}: {}", sql, m));
    }
}
stmt_ptr prepare(sqlite3* db, std::string_view sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
        throw sqlite_failure(fmt::format("prepare {}: {}", sql, sqlite3_errmsg(db)));
    return stmt_ptr(s);
}
std::int64_t scalar(sqlite3* db, const std::string& sql) {
    auto s = prepare(db, sql);
    return sqlite3_step(s.get()) == SQLITE_ROW ? sqlite3_column_int64(s.get(), 0) : 0;
}

// One statement's parameters, bound from 1 in order; strings are bound without copying (they outlive the step).
class binder {
public:
    binder(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
    binder& operator()(const std::string& v) {
        sqlite3_bind_text(s_, ++i_, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
        return *this;
    }
    binder& operator()(const char* v) {
        sqlite3_bind_text(s_, ++i_, v, -1, SQLITE_STATIC);
        return *this;
    }
    binder& operator()(std::int64_t v) {
        sqlite3_bind_int64(s_, ++i_, v);
        return *this;
    }
    binder& blob(const std::string& v) {
        sqlite3_bind_blob(s_, ++i_, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
        return *this;
    }
    binder& null() {
        sqlite3_bind_null(s_, ++i_);
        return *this;
    }
    void step() {
        int rc = sqlite3_step(s_);
        sqlite3_reset(s_);
        if (rc != SQLITE_DONE) throw sqlite_failure(fmt::format("{}: {}", sqlite3_sql(s_), sqlite3_errmsg(db_)));
    }

private:
    sqlite3* db_;
    sqlite3_stmt* s_;
    int i_ = 0;
};

struct row_counts {
    std::int64_t message = 0, payload = 0, event = 0, key = 0, outbox = 0, receipt = 0, record = 0, receipt_key = 0, notification = 0;
    std::int64_t total() const { return message + payload + event + key + outbox + receipt + record + receipt_key + notification; }
};

// The fill's writer: the store's columns, one statement per table (gateway/store/store.cpp insert_one,
// apply(new_receipt), apply_status, apply(outbox_change), the notifier's update and the mailbox ack).
class writer {
public:
    writer(sqlite3* db, const specimen& sp, bool pack) : db_(db), sp_(sp), pack_(pack) {
        message_ = prepare(db, "INSERT INTO message (seq, id, partner, channel, root, type, state, error_code, doc_guid, idempotency_key, source_name, "
                               "size, sha256, received_at, updated_at, route, direction, parent_seq, customs_status, customs_rank) "
                               "VALUES (?,?,?,?,?,?,?,'',?,'','',?,?,?,?,?,?,?,?,?)");
        payload_ = prepare(db, "INSERT INTO payload (message_seq, stage, version, bytes, created_at, encoding) VALUES (?,?,1,?,?,?)");
        event_ = prepare(db, "INSERT INTO event (message_seq, at, kind, state, code, detail) VALUES (?,?,?,?,'',?)");
        key_ = prepare(db, "INSERT OR IGNORE INTO message_key (message_seq, name, value) VALUES (?,?,?)");
        outbox_ = prepare(db, "INSERT INTO outbox (message_seq, endpoint, cop_msg_id, state, attempts, next_at, last_error, updated_at) "
                              "VALUES (?,?,?,'sent',1,0,'',?)");
        receipt_ = prepare(db, "INSERT INTO receipt (seq, id, channel, source, type, family, sha256, bytes, error, received_at) VALUES (?,?,?,?,?,?,?,?,'',?)");
        record_ = prepare(db, "INSERT INTO receipt_record (seq, receipt_seq, message_seq, type, status, meaning, time, info, customs_code, rank, to_state) "
                              "VALUES (?,?,?,?,?,?,?,?,?,?,?)");
        receipt_key_ = prepare(db, "INSERT OR IGNORE INTO receipt_key (record_seq, name, value) VALUES (?,?,?)");
        notification_ = prepare(db, "INSERT INTO notification (partner, message_seq, record_seq, channel, state, attempts, next_at, content_type, body, "
                                    "last_error, created_at, updated_at) VALUES (?,?,?,?,?,0,0,?,?,'',?,?)");
    }

    void write(const batch& b) {
        exec(db_, "BEGIN");
        for (auto& m : b.rows) write(m);
        exec(db_, "COMMIT");
    }
    const row_counts& counts() const { return n_; }

private:
    void write(const message_row& m) {
        {
            binder x(db_, message_.get());
            x(m.seq)(m.id)(sp_.partner)(m.channel)(sp_.root)(sp_.type)(m.state)(m.doc_guid)(m.size)(m.sha256)(m.received_at)(m.updated_at)(sp_.route)(m.direction);
            if (m.parent_seq) x(m.parent_seq);
            else x.null();
            x(m.customs_status)(static_cast<std::int64_t>(m.rank)).step();
            ++n_.message;
        }
        for (auto& [stage, bytes] : m.payloads) {
            // --compression zstd: packed as the store itself does (packing.hpp).
            const std::string packed = pack_ ? portgate::store::pack(bytes) : std::string();
            binder(db_, payload_.get())(m.seq)(stage).blob(packed.empty() ? bytes : packed)(m.payload_at)(packed.empty() ? "" : "zstd").step();
            ++n_.payload;
        }
        for (auto& e : m.events) {
            binder(db_, event_.get())(m.seq)(e.at)(e.kind)(e.state)(e.detail).step();
            ++n_.event;
        }
        for (auto& k : m.keys) {
            binder(db_, key_.get())(m.seq)(k.name)(k.value).step();
            n_.key += sqlite3_changes(db_);
        }
        if (m.outbox) {
            binder(db_, outbox_.get())(m.seq)(sp_.endpoint)(m.id)(m.outbox_at).step();
            ++n_.outbox;
        }
        static const std::string no_bytes;  // what intake stores today (process_receipt never sets new_receipt::bytes)
        for (auto& r : m.receipts) {
            const receipt_spec& rs = *r.spec;
            binder(db_, receipt_.get())(r.seq)(r.id)(rs.channel)(r.source)(rs.type->id)(rs.type->family)(r.sha256).blob(no_bytes)(r.at).step();
            binder(db_, record_.get())(r.seq)(r.seq)(m.seq)(rs.rec.type)(rs.rec.status)(rs.rec.meaning)(r.time)(rs.rec.info)(rs.rec.customs_code)(
                static_cast<std::int64_t>(rs.progress.rank))(std::string(to_string(rs.progress.state)))
                .step();
            n_.receipt += 1, n_.record += 1;
            for (auto& k : r.keys) {
                binder(db_, receipt_key_.get())(r.seq)(k.name)(k.value).step();
                n_.receipt_key += sqlite3_changes(db_);
            }
            if (r.notified)
                for (auto& ch : sp_.channels) {
                    binder(db_, notification_.get())(sp_.partner)(m.seq)(r.seq)(ch)(r.notify_state)(rs.content_type).blob(r.body)(r.at)(r.notify_updated).step();
                    ++n_.notification;
                }
        }
    }

    sqlite3* db_;
    const specimen& sp_;
    stmt_ptr message_, payload_, event_, key_, outbox_, receipt_, record_, receipt_key_, notification_;
    bool pack_ = false;
    row_counts n_;
};

// Batches travel generator → writer → generator (the rows' memory is reused).
class conveyor {
public:
    void put_full(std::unique_ptr<batch> b) { push(full_, std::move(b)); }
    void put_empty(std::unique_ptr<batch> b) { push(empty_, std::move(b)); }
    std::unique_ptr<batch> take_full() { return pop(full_); }
    std::unique_ptr<batch> take_empty() { return pop(empty_); }
    void close() {
        std::lock_guard lk(mu_);
        closed_ = true;
        cv_.notify_all();
    }

private:
    void push(std::deque<std::unique_ptr<batch>>& q, std::unique_ptr<batch> b) {
        std::lock_guard lk(mu_);
        q.push_back(std::move(b));
        cv_.notify_all();
    }
    std::unique_ptr<batch> pop(std::deque<std::unique_ptr<batch>>& q) {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return !q.empty() || closed_; });
        if (q.empty()) return nullptr;
        auto b = std::move(q.front());
        q.pop_front();
        return b;
    }
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<batch>> full_, empty_;
    bool closed_ = false;
};

std::uintmax_t file_size_or_0(const fs::path& p) {
    std::error_code ec;
    auto n = fs::file_size(p, ec);
    return ec ? 0 : n;
}

// ---------------------------------------------------------------------------------------------------
// Verification at the filled size: the store's API, and the plans of its statements.

template <class F>
std::pair<double, double> time_ms(int n, F&& f) {
    std::vector<double> t;
    for (int i = 0; i < n; ++i) {
        auto s = steady::now();
        f(i);
        t.push_back(std::chrono::duration<double, std::milli>(steady::now() - s).count());
    }
    std::sort(t.begin(), t.end());
    return {t[t.size() / 2], t.back()};
}

// The store's statements on the paths every message, receipt and API call takes (gateway/store/store.cpp;
// those built at run time are shown in their common form).
struct statement {
    const char* name;
    std::string sql;
};
std::vector<statement> store_statements() {
    const std::string cols =
        "seq, id, partner, channel, root, type, state, error_code, doc_guid, idempotency_key, source_name, sha256, size, received_at, updated_at, "
        "route, direction, COALESCE((SELECT p.id FROM message p WHERE p.seq = message.parent_seq), '')";
    return {
        {"intake: idempotency look-up", "SELECT m.id, m.state, m.type FROM idempotency i JOIN message m ON m.seq = i.message_seq WHERE i.partner = ? AND i.key = ?"},
        {"update: message by id", "SELECT seq, state FROM message WHERE id = ?"},
        {"update: waiting join keys of a message", "SELECT COUNT(*) FROM join_key WHERE message_seq = ? AND waiting = 1"},
        {"join: mark key done", "UPDATE join_key SET waiting = 0 WHERE route = ? AND key = ? AND message_seq = ? AND waiting = 1"},
        {"find_join", "SELECT m.id, m.partner, m.state, j.waiting FROM join_key j JOIN message m ON m.seq = j.message_seq WHERE j.route = ? AND j.key = ? ORDER BY m.seq"},
        {"receipt: duplicate bytes", "SELECT id FROM receipt WHERE sha256 = ?"},
        {"receipt: correlation candidates (3 key values)",
         "WITH v(value) AS (VALUES (?),(?),(?)), "
         "df AS (SELECT k.value, COUNT(DISTINCT k.message_seq) AS n FROM message_key k JOIN v ON v.value = k.value GROUP BY k.value) "
         "SELECT m.seq, m.id, SUM(1.0 / df.n) AS score, m.direction = 'out' FROM message_key k "
         "JOIN df ON df.value = k.value JOIN message m ON m.seq = k.message_seq "
         "GROUP BY m.seq ORDER BY score DESC, m.direction = 'out' DESC, m.seq DESC LIMIT 2"},
        {"receipt: repeated record", "SELECT 1 FROM receipt_record WHERE message_seq IS ? AND type = ? AND status = ? AND time = ? LIMIT 1"},
        {"receipt: orphans (writer start, rollback)", "SELECT COUNT(*) FROM receipt_record WHERE message_seq IS NULL"},
        {"receipt: adopt orphans",
         "SELECT DISTINCT r.seq, r.status, r.rank, r.to_state, r.type, r.time, rc.id FROM receipt_key rk "
         "JOIN receipt_record r ON r.seq = rk.record_seq JOIN receipt rc ON rc.seq = r.receipt_seq "
         "WHERE r.message_seq IS NULL AND rk.value IN (?,?) ORDER BY r.seq"},
        {"get: message", fmt::format("SELECT {} FROM message WHERE id = ?", cols)},
        {"get: events", "SELECT seq, at, kind, state, code, detail FROM event WHERE message_seq = ? ORDER BY seq"},
        {"get: receipts", "SELECT rc.id, r.type, r.status, r.meaning, r.time, r.info, r.customs_code, rc.received_at "
                          "FROM receipt_record r JOIN receipt rc ON rc.seq = r.receipt_seq WHERE r.message_seq = ? ORDER BY r.seq"},
        {"get: children", "SELECT id, type, state FROM message WHERE parent_seq = ? ORDER BY seq"},
        {"payload", "SELECT p.bytes, p.encoding FROM payload p JOIN message m ON m.seq = p.message_seq WHERE m.id = ? AND p.stage = ? ORDER BY p.version DESC LIMIT 1"},
        {"list: partner", fmt::format("SELECT {} FROM message WHERE 1=1 AND partner = ? ORDER BY seq DESC LIMIT 51", cols)},
        {"list: partner + state", fmt::format("SELECT {} FROM message WHERE 1=1 AND partner = ? AND state = ? ORDER BY seq DESC LIMIT 51", cols)},
        {"list: partner + type", fmt::format("SELECT {} FROM message WHERE 1=1 AND partner = ? AND type = ? ORDER BY seq DESC LIMIT 51", cols)},
        {"list: partner + time range", fmt::format("SELECT {} FROM message WHERE 1=1 AND partner = ? AND received_at >= ? AND received_at < ? ORDER BY seq DESC LIMIT 51", cols)},
        {"list: partner + q (search)", fmt::format("SELECT {} FROM message WHERE 1=1 AND partner = ? AND (id = ? OR doc_guid = ? OR idempotency_key = ? OR source_name = ?) "
                                                   "ORDER BY seq DESC LIMIT 51", cols)},
        {"list: state (recheck_waiting, operators)", fmt::format("SELECT {} FROM message WHERE 1=1 AND state = ? ORDER BY seq DESC LIMIT 501", cols)},
        {"due_outbox",
         "SELECT o.message_seq, m.id, m.type, o.endpoint, o.cop_msg_id, o.state, o.attempts, o.last_error "
         "FROM outbox o JOIN message m ON m.seq = o.message_seq WHERE o.state = 'pending' AND o.next_at <= ? ORDER BY o.next_at, o.message_seq LIMIT 256"},
        {"due_outbox: the payload sent",
         "SELECT bytes, encoding FROM payload WHERE message_seq = ? ORDER BY stage = 'signed' DESC, stage = 'mapped' DESC, version DESC LIMIT 1"},
        {"outbox_in_state (GET /v1/outbox?state=)",
         "SELECT o.message_seq, m.id, m.type, o.endpoint, o.cop_msg_id, o.state, o.attempts, o.last_error "
         "FROM outbox o JOIN message m ON m.seq = o.message_seq WHERE o.state = ? ORDER BY o.message_seq DESC LIMIT 500"},
        {"due_notifications",
         "SELECT n.seq FROM notification n JOIN message m ON m.seq = n.message_seq JOIN receipt_record r ON r.seq = n.record_seq "
         "JOIN receipt rc ON rc.seq = r.receipt_seq WHERE n.state = 'pending' AND n.next_at <= ? ORDER BY n.next_at, n.seq LIMIT 100"},
        {"dead_notifications",
         "SELECT n.seq FROM notification n JOIN message m ON m.seq = n.message_seq JOIN receipt_record r ON r.seq = n.record_seq "
         "JOIN receipt rc ON rc.seq = r.receipt_seq WHERE n.state = 'dead' ORDER BY n.seq DESC LIMIT 200"},
        {"notification keys", "SELECT name, value FROM receipt_key WHERE record_seq = ?"},
        {"mailbox", "SELECT n.seq, m.id, n.content_type, n.body, n.created_at FROM notification n JOIN message m ON m.seq = n.message_seq "
                    "WHERE n.partner = ? AND n.channel = 'mailbox' AND n.state = 'ready' AND n.seq > ? ORDER BY n.seq LIMIT 100"},
        {"mailbox ack", "UPDATE notification SET state = 'acked', updated_at = ? WHERE partner = ? AND channel = 'mailbox' AND state = 'ready' AND seq <= ?"},
        {"count", "SELECT COUNT(*) FROM message"},
    };
}

// "SCAN t" without an index (a full table scan), or an index scanned from end to end.
bool is_full_scan(const std::string& detail) {
    if (detail.rfind("SCAN ", 0) != 0) return false;
    if (detail.find("CONSTANT ROW") != std::string::npos) return false;
    std::string table = detail.substr(5, detail.find(' ', 5) - 5);
    return table != "v" && table != "df";  // the CTEs of the correlation query (a handful of values)
}

void explain(sqlite3* db) {
    std::cout << "query plans of the store's statements (EXPLAIN QUERY PLAN; FULL SCAN = every row is visited):\n";
    for (auto& st : store_statements()) {
        sqlite3_stmt* raw = nullptr;
        std::string sql = "EXPLAIN QUERY PLAN " + st.sql;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
            std::cout << fmt::format("  {:<44} cannot prepare: {}\n", st.name, sqlite3_errmsg(db));
            continue;
        }
        stmt_ptr s(raw);
        std::vector<std::string> lines;
        bool full = false;
        while (sqlite3_step(s.get()) == SQLITE_ROW) {
            auto p = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 3));
            std::string d = p ? p : "";
            full = full || is_full_scan(d);
            lines.push_back(d);
        }
        std::cout << fmt::format("  {}{:<44} {}\n", full ? "FULL SCAN " : "          ", st.name, fmt::join(lines, " | "));
    }
}

// type, name, table and SQL of every schema object.
std::set<std::string> schema_of(const fs::path& file) {
    std::set<std::string> out;
    sqlite3* raw = nullptr;
    if (sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close_v2(raw);
        return out;
    }
    db_ptr db(raw);
    auto q = prepare(db.get(), "SELECT type || ' ' || name || ' ON ' || tbl_name || ': ' || COALESCE(sql, '') FROM sqlite_master");
    while (sqlite3_step(q.get()) == SQLITE_ROW) out.emplace(reinterpret_cast<const char*>(sqlite3_column_text(q.get(), 0)));
    return out;
}

// The filled database has the schema a fresh `portgate serve` store gets (indexes may have been rebuilt).
void compare_schema(const options& o, const config::config& cfg) {
    fs::path fresh = fs::temp_directory_path() / fmt::format("store-prefill-schema-{}", getpid());
    {
        auto st = store::store::open(fresh, cfg.store);
        if (!st) {
            std::cout << "  schema: could not open a fresh store to compare: " << st.err().message << "\n";
            return;
        }
        (*st)->close();
    }
    auto want = schema_of(fresh / "portgate.db"), have = schema_of(o.data_dir / "portgate.db");
    std::error_code ec;
    fs::remove_all(fresh, ec);
    std::vector<std::string> missing, extra;
    std::set_difference(want.begin(), want.end(), have.begin(), have.end(), std::back_inserter(missing));
    std::set_difference(have.begin(), have.end(), want.begin(), want.end(), std::back_inserter(extra));
    if (missing.empty() && extra.empty()) std::cout << fmt::format("  schema: identical to a fresh store's ({} objects)\n", want.size());
    for (auto& m : missing) std::cout << "  schema: MISSING " << m << "\n";
    for (auto& e : extra) std::cout << "  schema: EXTRA " << e << "\n";
}

struct verify_inputs {
    std::vector<std::string> ids;  // prefilled messages (customs messages: receipts, payload "signed")
    std::string partner, doc_guid, cop_no, pre_no;
    millis day_from = 0;
};

int verify(const options& o, const config::config& cfg, const verify_inputs& in) {
    auto t0 = steady::now();
    auto st = store::store::open(o.data_dir, cfg.store);
    if (!st) {
        std::cerr << "store_prefill: the store does not open after the fill: " << st.err().message << "\n";
        return 1;
    }
    auto& s = **st;
    double open_ms = seconds_since(t0) * 1000;
    auto n = s.count();
    std::cout << fmt::format("verify through the store API at {} message rows (store::open {:.0f} ms, schema version {}):\n", n ? *n : -1, open_ms,
                             s.schema_version());
    std::mt19937_64 rng(7);
    if (in.ids.empty()) {
        std::cout << "  nothing to read back\n";
        return 1;
    }
    auto pick = [&] { return in.ids[rng() % in.ids.size()]; };
    auto line = [](const char* what, std::pair<double, double> t, const std::string& note) {
        std::cout << fmt::format("  {:<40} median {:8.3f} ms   max {:8.3f} ms   {}\n", what, t.first, t.second, note);
    };
    std::size_t events = 0, receipts = 0;
    bool all_found = true;
    auto t = time_ms(200, [&](int) {
        auto m = s.get(pick(), in.partner);
        if (!m || !m->has_value()) all_found = false;
        else events = (*m)->events.size(), receipts = (*m)->receipts.size();
    });
    line("get(id, partner)", t, fmt::format("{} ({} events, {} receipts in the last one)", all_found ? "all found" : "SOME NOT FOUND", events, receipts));
    std::size_t bytes = 0;
    t = time_ms(200, [&](int) {
        auto p = s.payload(pick(), "signed");
        if (p && p->has_value()) bytes = (*p)->size();
    });
    line("payload(id, signed)", t, fmt::format("{} bytes", bytes));
    auto list_line = [&](const char* what, store::query q, int reps = 20) {
        std::size_t items = 0;
        auto t = time_ms(reps, [&](int) {
            auto pg = s.list(q);
            items = pg ? pg->items.size() : 0;
        });
        line(what, t, fmt::format("{} items", items));
    };
    store::query q;
    q.partner = in.partner;
    list_line("list(partner) newest 50", q);
    q.before_seq = std::max<std::int64_t>(2, (n ? *n : 2) / 2);
    list_line("list(partner, before = middle) 50", q);
    q.before_seq.reset();
    q.state = "CLOSED";
    list_line("list(partner, state CLOSED) 50", q);
    q.state = "ACCEPTED";
    list_line("list(partner, state ACCEPTED) 50", q);
    q.state = "SENT";
    list_line("list(partner, state SENT) 50", q);
    q.state = "REJECTED";
    list_line("list(partner, state REJECTED) (none)", q, 3);
    q.state.clear();
    q.type = "CEB621";
    list_line("list(partner, type CEB621) 50", q);
    q.type.clear();
    q.from = in.day_from;
    q.to = in.day_from + 86'400'000;
    list_line("list(partner, one day 20 days ago) 50", q, 3);
    q.from.reset();
    q.to.reset();
    q.q = in.doc_guid;
    list_line("list(partner, q = a doc guid)", q, 3);
    q.q.clear();
    std::size_t found = 0;
    t = time_ms(20, [&](int) {
        auto m = s.mailbox(in.partner, 0, 100);
        found = m ? m->size() : 0;
    });
    line("mailbox(partner, after 0, 100)", t, fmt::format("{} items", found));
    t = time_ms(20, [&](int) {
        auto d = s.due_outbox(store::now_ms(), 256);
        found = d ? d->size() : 0;
    });
    line("due_outbox(now, 256)", t, fmt::format("{} due", found));
    t = time_ms(n && *n > 200'000 ? 1 : 3, [&](int) {
        auto d = s.outbox_in_state("sent", 500);
        found = d ? d->size() : 0;
    });
    line("outbox_in_state(sent, 500)", t, fmt::format("{} rows", found));
    line("due_notifications(now, 100)", time_ms(20, [&](int) { (void)s.due_notifications(store::now_ms(), 100); }), "");
    line("count()", time_ms(5, [&](int) { (void)s.count(); }), "");
    s.close();

    // The writer's correlation query is private to the store: timed here on a read connection, same SQL.
    sqlite3* raw = nullptr;
    if (sqlite3_open_v2((o.data_dir / "portgate.db").c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return 1;
    db_ptr db(raw);
    auto stmts = store_statements();
    auto cand = std::find_if(stmts.begin(), stmts.end(), [](auto& x) { return std::string_view(x.name).rfind("receipt: correlation", 0) == 0; });
    auto cq = prepare(db.get(), cand->sql);
    std::string matched;
    t = time_ms(50, [&](int) {
             sqlite3_bind_text(cq.get(), 1, in.cop_no.c_str(), -1, SQLITE_STATIC);
             sqlite3_bind_text(cq.get(), 2, in.pre_no.c_str(), -1, SQLITE_STATIC);
             sqlite3_bind_text(cq.get(), 3, "no-such-guid", -1, SQLITE_STATIC);
             if (sqlite3_step(cq.get()) == SQLITE_ROW) matched = reinterpret_cast<const char*>(sqlite3_column_text(cq.get(), 1));
             sqlite3_reset(cq.get());
         });
    line("receipt correlation (copNo, preNo, guid)", t, fmt::format("-> {}", matched.empty() ? "no match" : matched));
    {
        auto states = prepare(db.get(), "SELECT state, COUNT(*) FROM message GROUP BY state ORDER BY 2 DESC");
        std::vector<std::string> parts;
        while (sqlite3_step(states.get()) == SQLITE_ROW)
            parts.push_back(fmt::format("{} {}", reinterpret_cast<const char*>(sqlite3_column_text(states.get(), 0)), sqlite3_column_int64(states.get(), 1)));
        std::cout << fmt::format("  states: {}\n", fmt::join(parts, " · "));
    }
    compare_schema(o, cfg);
    std::cout << fmt::format("  (sqlite_stat1 present: {} — the store never runs ANALYZE)\n",
                             scalar(db.get(), "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'") ? "yes" : "no");
    explain(db.get());
    return all_found ? 0 : 1;
}

int usage(const std::string& why) {
    std::cerr << "store_prefill: " << why << "\n"
              << "usage: store_prefill --data-dir DIR [--count N] [--sample FILE] [--items K] [--shape demo|e2e] [--partner P] [--route R]\n"
              << "                     [--config F] [--key K --cert C --alg A] [--batch DOCS] [--days D] [--seed S] [--notify mailbox|none] [--journal off|wal]\n"
              << "                     [--indexes auto|after|during] [--compression none|zstd] [--no-verify]\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::optional<std::string> { return i + 1 < argc ? std::optional<std::string>(argv[++i]) : std::nullopt; };
        std::optional<std::string> v;
        if (a == "--no-verify") {
            o.verify = false;
            continue;
        }
        if (!(v = next())) return usage(a + " needs a value");
        try {
            if (a == "--data-dir") o.data_dir = *v;
            else if (a == "--count") o.count = std::stoll(*v);
            else if (a == "--sample") o.sample = *v;
            else if (a == "--items") o.items = std::stoi(*v);
            else if (a == "--shape") o.shape = *v;
            else if (a == "--partner") o.partner = *v;
            else if (a == "--route") o.route = *v;
            else if (a == "--config") o.config = *v;
            else if (a == "--key") o.key = *v;
            else if (a == "--cert") o.cert = *v;
            else if (a == "--alg") o.alg = *v;
            else if (a == "--batch") o.batch = std::stoi(*v);
            else if (a == "--days") o.days = std::stoi(*v);
            else if (a == "--seed") o.seed = std::stoull(*v);
            else if (a == "--notify") o.notify = *v;
            else if (a == "--journal") o.journal = *v;
            else if (a == "--indexes") o.indexes = *v;
            else if (a == "--compression") o.compression = *v;
            else return usage("unknown option " + a);
        } catch (const std::exception&) {
            return usage(fmt::format("{} {}: not a number", a, *v));
        }
    }
    if (o.data_dir.empty()) return usage("--data-dir is required");
    if (o.count < 1 || o.batch < 1 || o.days < 1) return usage("--count, --batch and --days must be positive");
    if (o.shape != "demo" && o.shape != "e2e") return usage("--shape is demo or e2e");
    if (o.notify != "mailbox" && o.notify != "none") return usage("--notify is mailbox or none");
    if (o.journal != "off" && o.journal != "wal") return usage("--journal is off or wal");
    if (o.indexes != "auto" && o.indexes != "after" && o.indexes != "during") return usage("--indexes is auto, after or during");
    if (o.compression != "none" && o.compression != "zstd") return usage("--compression is none or zstd");
    if (o.key.empty() != o.cert.empty()) return usage("--key and --cert go together");
    if (o.partner.empty()) o.partner = o.shape == "e2e" ? "bench" : "demo-shop";

    auto t_setup = steady::now();
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);  // before SQLite starts: no global mutex around every allocation
    xml::initialise();
    xsd::initialise();
    mapping::initialise();
    auto cfg = config::load(o.config);
    if (!cfg) {
        std::cerr << fmt::format("store_prefill: {}: {}\n", o.config.string(), cfg.err().message);
        for (auto& p : cfg.err().problems) std::cerr << fmt::format("  line {}: {}\n", p.line, p.message);
        return 1;
    }
    auto k = validation::knowledge::load(cfg->xsd_dir, cfg->calendar_file);
    if (!k) {
        std::cerr << "store_prefill: " << k.err().message << "\n";
        return 1;
    }
    auto lib = mapping::library::load(cfg->mappings_dir, rules::environment{(*k)->codes, (*k)->calendar, std::nullopt});
    if (!lib) {
        std::cerr << "store_prefill: " << lib.err().message << "\n";
        return 1;
    }
    std::mt19937_64 rng(o.seed ? o.seed ^ 0x5eed : std::random_device{}());
    auto sp = make_specimen(o, *cfg, **k, **lib, rng);
    if (!sp) {
        std::cerr << fmt::format("store_prefill: {} {}\n", code_string(sp.err().code), sp.err().message);
        for (auto& p : sp.err().problems) std::cerr << fmt::format("  line {}: {}\n", p.line, p.message);
        return 1;
    }

    // The database as `portgate serve --data-dir DIR` leaves it: created and migrated by the store itself.
    std::int64_t before = 0;
    {
        auto st = store::store::open(o.data_dir, cfg->store);
        if (!st) {
            std::cerr << "store_prefill: " << st.err().message << "\n";
            return 1;
        }
        auto n = (*st)->count();
        before = n ? *n : 0;
        (*st)->close();
    }
    const fs::path file = o.data_dir / "portgate.db";
    sqlite3* raw = nullptr;
    if (sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
        std::cerr << fmt::format("store_prefill: cannot open {}: {}\n", file.string(), raw ? sqlite3_errmsg(raw) : "out of memory");
        sqlite3_close_v2(raw);
        return 1;
    }
    db_ptr db(raw);
    verify_inputs vi;
    const millis now = store::now_ms();
    row_counts counts;
    double fill_s = 0;
    try {
        // Nothing is fsynced while filling, the connection keeps the file to itself, and the page cache holds the
        // indexes that take inserts at random places (sha256, guids). --journal off also skips the WAL, which
        // would write every page twice (WAL, then checkpoint); WAL mode is set again at the end either way.
        exec(db.get(), "PRAGMA locking_mode=EXCLUSIVE");
        exec(db.get(), o.journal == "off" ? "PRAGMA journal_mode=OFF" : "PRAGMA journal_mode=WAL");
        exec(db.get(), "PRAGMA synchronous=OFF");
        exec(db.get(), "PRAGMA cache_size=-1048576");
        exec(db.get(), "PRAGMA temp_store=MEMORY");
        sequences seq{scalar(db.get(), "SELECT COALESCE(MAX(seq), 0) FROM message"), scalar(db.get(), "SELECT COALESCE(MAX(seq), 0) FROM receipt"),
                      scalar(db.get(), "SELECT COALESCE(MAX(seq), 0) FROM receipt_record")};
        if (seq.receipt != seq.record) {
            // Receipts and their records share seq values here (one record per receipt); keep both free.
            seq.receipt = seq.record = std::max(seq.receipt, seq.record);
        }
        const std::int64_t first_seq = seq.message;
        std::cout << fmt::format("store_prefill: {} · shape {} (partner {}, route {}, {} → {}{}) · sample {} ({}, {} bytes inbound)\n", file.string(),
                                 o.shape, o.partner, sp->route, sp->type, sp->endpoint, sp->channels.empty() ? "" : ", mailbox",
                                 o.sample.filename().string(), o.items > 0 ? fmt::format("{} items", o.items) : std::string("all items"),
                                 sp->inbound.render(sp->sentinels).size());
        std::cout << fmt::format("  set-up (xsd, mappings, specimen through validation/mapping/signing/receipts): {:.2f} s; {} message rows before\n",
                                 seconds_since(t_setup), before);

        // Secondary indexes (the store's CREATE INDEX statements, not the UNIQUE constraints of its tables) are
        // built after a bulk fill from their own SQL text: sorting once beats millions of inserts at random places.
        std::vector<std::string> indexes;
        const bool build_after = o.indexes == "after" || (o.indexes == "auto" && before < o.count);
        if (build_after) {
            std::vector<std::string> names;
            auto q = prepare(db.get(), "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY rowid");
            while (sqlite3_step(q.get()) == SQLITE_ROW) {
                names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(q.get(), 0)));
                indexes.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(q.get(), 1)));
            }
            q.reset();
            for (auto& name : names) exec(db.get(), fmt::format("DROP INDEX \"{}\"", name));
        }
        writer w(db.get(), *sp, o.compression == "zstd");
        conveyor belt;
        for (int i = 0; i < 3; ++i) belt.put_empty(std::make_unique<batch>());
        const long long per = o.batch;
        std::atomic<bool> failed{false};
        double gen_busy = 0, write_busy = 0, write_cpu = 0;  // seconds each side worked (the other waited)
        auto t_fill = steady::now();
        std::thread gen([&] {
            generator g(*sp, o, now, first_seq + 1, seq);
            for (long long from = 0; from < o.count && !failed; from += per) {
                auto b = belt.take_empty();
                if (!b) return;
                auto t = steady::now();
                g.make(from, std::min(o.count, from + per), *b);
                gen_busy += seconds_since(t);
                belt.put_full(std::move(b));
            }
            belt.put_full(nullptr);
        });
        long long done = 0, next_report = std::max<long long>(o.count / 10, per);
        std::string failure;
        for (;;) {
            auto b = belt.take_full();
            if (!b) break;
            try {
                auto t = steady::now();
                double c0 = thread_cpu_s();
                w.write(*b);
                write_cpu += thread_cpu_s() - c0;
                write_busy += seconds_since(t);
            } catch (const sqlite_failure& e) {
                failure = e.what();
                failed = true;
                belt.close();
                break;
            }
            // A few customs messages of every batch: the ids the verification reads back.
            for (std::size_t j = 0; j < b->rows.size() && vi.ids.size() < 4000; j += std::max<std::size_t>(2, b->rows.size() / 8)) {
                std::size_t k = j;
                while (k < b->rows.size() && !b->rows[k].outbox) ++k;
                if (k < b->rows.size()) vi.ids.push_back(b->rows[k].id);
            }
            // Values the verification looks up: a document guid, the copNo and preNo of a receipted message.
            for (auto& r : b->rows) {
                if (!vi.doc_guid.empty() && !vi.cop_no.empty()) break;
                if (vi.doc_guid.empty() && r.direction == "in") vi.doc_guid = r.doc_guid;
                if (vi.cop_no.empty() && r.outbox && !r.receipts.empty())
                    for (auto& kr : r.keys) {
                        if (kr.name == "copNo") vi.cop_no = kr.value;
                        if (kr.name == "preNo") vi.pre_no = kr.value;
                    }
            }
            done += b->docs;
            if (done >= next_report && done < o.count) {
                std::cerr << fmt::format("  {:>9} / {} documents  {:6.1f} s\n", done, o.count, seconds_since(t_fill));
                next_report += std::max<long long>(o.count / 10, per);
            }
            belt.put_empty(std::move(b));
        }
        gen.join();
        if (!failure.empty()) throw sqlite_failure(failure);
        fill_s = seconds_since(t_fill);
        auto t_ix = steady::now();
        double ix_cpu = thread_cpu_s();
        if (!indexes.empty()) {
            exec(db.get(), "BEGIN");
            for (auto& sql : indexes) exec(db.get(), sql);
            exec(db.get(), "COMMIT");
        }
        const double ix_s = seconds_since(t_ix);
        ix_cpu = thread_cpu_s() - ix_cpu;
        auto t_ck = steady::now();
        exec(db.get(), "PRAGMA journal_mode=WAL");
        exec(db.get(), "PRAGMA wal_checkpoint(TRUNCATE)");
        counts = w.counts();
        db.reset();
        // The gigabytes written with synchronous=OFF go to disk now, before a benchmark starts. Left dirty, the
        // kernel wrote them back during the measured run, and the gateway's first checkpoint (an fsync of the
        // same file) stalled ~1.3 s at 1 M messages.
        if (int fd = ::open(file.c_str(), O_RDONLY); fd >= 0) {
            ::fsync(fd);
            ::close(fd);
        }
        double ck_s = seconds_since(t_ck);
        const double total_s = fill_s + ix_s + ck_s;
        const auto db_bytes = file_size_or_0(file) + file_size_or_0(fs::path(file.string() + "-wal"));
        std::cout << fmt::format("prefilled {} messages in {:.1f} s ({:.0f} rows/s), db {:.0f} MB\n", o.count, total_s, counts.total() / total_s,
                                 db_bytes / 1e6);
        std::cout << fmt::format("  {} documents → message {} · payload {} · event {} · message_key {} · outbox {} · receipt {} · receipt_record {} · "
                                 "receipt_key {} · notification {} = {} rows\n  fill {:.1f} s (SQLite busy {:.1f} s, {:.1f} s of CPU; rows made in {:.1f} s on another thread) "
                                 "+ {} + final checkpoint {:.1f} s; {:.1f} KB per document\n",
                                 o.count, counts.message, counts.payload, counts.event, counts.key, counts.outbox, counts.receipt, counts.record,
                                 counts.receipt_key, counts.notification, counts.total(), fill_s, write_busy, write_cpu, gen_busy,
                                 indexes.empty() ? std::string("indexes kept up during the fill")
                                                 : fmt::format("{} indexes built after it {:.1f} s ({:.1f} s of CPU)", indexes.size(), ix_s, ix_cpu),
                                 ck_s,
                                 o.count ? db_bytes / 1024.0 / static_cast<double>(o.count + before / (sp->e2e ? 2 : 1)) : 0.0);
        std::cout << std::flush;
    } catch (const sqlite_failure& e) {
        std::cerr << "store_prefill: " << e.what() << "\n";
        return 1;
    }
    if (!o.verify) return 0;
    vi.partner = o.partner;
    vi.day_from = now - 20 * 86'400'000LL;
    return verify(o, *cfg, vi);
}

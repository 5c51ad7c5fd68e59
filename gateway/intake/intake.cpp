// Intake stages: parse → route → validate → store (with the verdict) → answer.
#include "gateway/intake/intake.hpp"

#include <fmt/format.h>
#include <future>
#include <algorithm>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "gateway/core/digest.hpp"
#include "gateway/core/ids.hpp"
#include "gateway/pipeline/customs_status.hpp"
#include "gateway/pipeline/state.hpp"
#include "gateway/xml/parser.hpp"

#include <libxml/tree.h>

namespace portgate::intake {
namespace {

using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

// The document's own guid (root attribute), used for search and later for correlation.
std::string root_guid(const xml::document& d) {
    xmlNode* root = xmlDocGetRootElement(d.doc.get());
    if (!root) return {};
    xmlChar* v = xmlGetNoNsProp(root, reinterpret_cast<const xmlChar*>("guid"));
    if (!v) return {};
    std::string s(reinterpret_cast<const char*>(v));
    xmlFree(v);
    if (s.size() > 64) s.resize(64);
    return s;
}

// The guid attribute of an output document's root (outputs are small; the root comes first).
std::string guid_attr(const std::string& bytes) {
    auto root = bytes.find('<', bytes.rfind("?>", 200) == std::string::npos ? 0 : bytes.find("?>") + 2);
    auto end = bytes.find('>', root);
    if (root == std::string::npos || end == std::string::npos) return {};
    std::string head = bytes.substr(root, end - root);
    auto g = head.find(" guid=\"");
    if (g == std::string::npos) return {};
    auto close = head.find('"', g + 7);
    return close == std::string::npos ? std::string() : head.substr(g + 7, std::min<std::size_t>(close - g - 7, 64));
}

store::new_message make_output(const std::string& partner, const std::string& route, const mapping::mapped& o,
                               const validation::knowledge& k) {
    store::new_message c;
    c.id = new_message_id();
    c.partner = partner;
    c.channel = "mapping";
    c.route = route;
    c.direction = "out";
    c.payload_stage = "mapped";
    c.type = o.type;
    if (auto* t = k.types->find(o.type)) c.root = t->ns.empty() ? t->root : fmt::format("{{{}}}{}", t->ns, t->root);
    c.doc_guid = guid_attr(o.bytes);
    c.state = std::string(to_string(doc_state::mapped));
    c.received_at = store::now_ms();
    c.sha256 = sha256_hex(o.bytes);
    for (auto& rec : o.keys)
        for (auto& kv : rec) c.keys.push_back(kv);
    nlohmann::json d{{"stylesheet", o.stylesheet}, {"type", o.type}};
    if (!o.join_key.empty()) d["join_key"] = o.join_key;
    c.events.push_back({"mapped", c.state, "", d.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
    c.bytes = o.bytes;
    return c;
}

// Gives every guid of the document a fresh value (the root's guid attribute and each head's guid element)
// and sets every appType to 2; removes a signature the stored document may carry. Returns the number of
// appType elements changed and the first head's new guid (the root's when there is no head guid).
std::pair<int, std::string> renew_guids(xmlDoc* doc) {
    int app_types = 0;
    std::string first;
    xmlNode* root = xmlDocGetRootElement(doc);
    if (!root) return {0, {}};
    std::string message_guid;  // the root's (message) guid; the answer names the first document head's guid
    if (xmlHasProp(root, BAD_CAST "guid")) {
        message_guid = new_guid();
        xmlSetProp(root, BAD_CAST "guid", BAD_CAST message_guid.c_str());
    }
    std::vector<xmlNode*> stack{root};
    while (!stack.empty()) {
        xmlNode* n = stack.back();
        stack.pop_back();
        for (xmlNode* c = n->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE) continue;
            std::string_view name(reinterpret_cast<const char*>(c->name));
            if (n == root && name == "Signature") continue;
            if (name == "guid") {
                std::string g = new_guid();
                if (first.empty()) first = g;
                xmlNodeSetContent(c, BAD_CAST g.c_str());
            } else if (name == "appType") {
                xmlNodeSetContent(c, BAD_CAST "2");
                ++app_types;
            } else {
                stack.push_back(c);
            }
        }
    }
    for (xmlNode* c = root->children; c;) {
        xmlNode* next = c->next;
        if (c->type == XML_ELEMENT_NODE && std::string_view(reinterpret_cast<const char*>(c->name)) == "Signature") {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
        c = next;
    }
    return {app_types, first.empty() ? message_guid : first};
}

}  // namespace

struct pipeline::joiner {
    std::mutex mu;
    std::condition_variable cv, idle;
    std::deque<std::function<void()>> q;
    bool stop = false;
    int busy = 0;
    std::thread t;
    joiner() : t([this] { run(); }) {}
    ~joiner() {
        {
            std::lock_guard lk(mu);
            stop = true;
        }
        cv.notify_all();
        t.join();
    }
    void post(std::function<void()> f) {
        {
            std::lock_guard lk(mu);
            q.push_back(std::move(f));
        }
        cv.notify_one();
    }
    void drain() {
        std::unique_lock lk(mu);
        idle.wait(lk, [&] { return q.empty() && busy == 0; });
    }
    void run() {
        for (;;) {
            std::function<void()> f;
            {
                std::unique_lock lk(mu);
                cv.wait(lk, [&] { return stop || !q.empty(); });
                if (q.empty()) return;
                f = std::move(q.front());
                q.pop_front();
                ++busy;
            }
            try {
                f();
            } catch (const std::exception& e) {
                spdlog::error("join: {}", e.what());
            }
            {
                std::lock_guard lk(mu);
                --busy;
            }
            idle.notify_all();
        }
    }
};

std::string problems_json(const std::vector<problem>& problems) {
    nlohmann::json arr = nlohmann::json::array();
    for (auto& p : problems) {
        nlohmann::json j{{"line", p.line}, {"column", p.column}, {"message", p.message}};
        if (!p.path.empty()) j["path"] = p.path;
        if (!p.rule.empty()) j["rule"] = p.rule;
        arr.push_back(std::move(j));
    }
    return arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

pipeline::~pipeline() = default;

pipeline::pipeline(const config::config& cfg, std::shared_ptr<const validation::knowledge> knowledge,
                   std::shared_ptr<const mapping::library> mappings, store::store& st, metrics& m,
                   std::map<std::string, std::shared_ptr<sign::identity>> signers)
    : cfg_(cfg), knowledge_(std::move(knowledge)), mappings_(std::move(mappings)), signers_(std::move(signers)),
      joiner_(std::make_unique<joiner>()), store_(st), metrics_(m) {
    stage_sign_ = &m.histogram_for("portgate_stage_seconds", "stage=\"sign\"");
    for (auto& [id, idn] : signers_) {
        auto* p = idn.get();
        m.gauge(fmt::format("portgate_signer_certificate_days_left{{signer=\"{}\"}}", id), [p] { return p->days_left(); });
        m.gauge(fmt::format("portgate_signer_signatures{{signer=\"{}\"}}", id), [p] { return static_cast<double>(p->stats().signatures); });
        m.gauge(fmt::format("portgate_signer_rate_waits{{signer=\"{}\"}}", id), [p] { return static_cast<double>(p->stats().waits); });
        if (p->expiry_warning())
            spdlog::warn("signer {}: certificate {} expires in {:.0f} day(s)", id, p->certificate_serial(), p->days_left());
    }
    stage_parse_ = &m.histogram_for("portgate_stage_seconds", "stage=\"parse\"");
    stage_validate_ = &m.histogram_for("portgate_stage_seconds", "stage=\"validate\"");
    stage_map_ = &m.histogram_for("portgate_stage_seconds", "stage=\"map\"");
    stored_latency_ = &m.histogram_for("portgate_intake_stored_seconds");
    m.help("portgate_stage_seconds", "Time spent in each pipeline stage");
    m.help("portgate_intake_stored_seconds", "Intake to durable store, per message");
    m.help("portgate_messages_total", "Messages taken in, by partner, channel and outcome");
}

std::vector<problem> pipeline::check_routes(const config::config& cfg, const validation::knowledge& k) {
    std::vector<problem> out;
    for (auto& r : cfg.routes) {
        if (!r.schema.empty() && !k.catalog->find(r.schema)) {
            std::string known;
            for (auto& n : k.catalog->names()) known += (known.empty() ? "" : ", ") + n;
            out.push_back({r.line, 0, "", fmt::format("route '{}': schema '{}' is not in {} (known: {})", r.id, r.schema,
                                                      (k.catalog->dir() / "catalog.toml").string(), known), ""});
        }
        if (r.type != "auto" && !k.types->find(r.type))
            out.push_back({r.line, 0, "", fmt::format("route '{}': type '{}' is not registered in xsd/families/ (see `portgate types`)", r.id, r.type), ""});
        for (auto& m : r.maps) {
            if (!m.output.empty() && !k.types->find(m.output))
                out.push_back({m.line, 0, "", fmt::format("route '{}': map {}: output type '{}' is not registered", r.id, m.stylesheet, m.output), ""});
            if (m.join && !cfg.route_by_id(m.join->with))
                out.push_back({m.line, 0, "", fmt::format("route '{}': map {}: join.with '{}' is not a route id", r.id, m.stylesheet, m.join->with), ""});
            if (m.join)
                for (auto* x : {&m.join->key, &m.join->other_key})
                    if (auto c = xml::xpath_expr::compile(*x); !c)
                        out.push_back({m.line, 0, "", fmt::format("route '{}': map {}: {}", r.id, m.stylesheet, c.err().message), ""});
        }
    }
    return out;
}

void pipeline::process(submission s, std::function<void(outcome)> done) {
    store::new_message m;
    m.id = new_message_id();
    m.partner = s.partner->id;
    m.channel = s.channel;
    m.idempotency_key = s.idempotency_key;
    m.source_name = s.source_name;
    m.received_at = store::now_ms();
    m.sha256 = sha256_hex(s.bytes);
    m.events.push_back({"received", std::string(to_string(doc_state::received)), "",
                        nlohmann::json{{"channel", s.channel}, {"size", s.bytes.size()}, {"sha256", m.sha256}}
                            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});

    errc verdict = errc::ok;
    std::string verdict_message;
    std::vector<problem> problems;
    std::string schema_name;
    nlohmann::json keys_json;
    std::vector<problem> warnings;

    auto t0 = clock::now();
    auto parsed = xml::parse(s.bytes, cfg_.server.xml, s.source_name.empty() ? "document" : s.source_name);
    stage_parse_->observe(seconds_since(t0));
    if (!parsed) {
        verdict = parsed.err().code;
        verdict_message = parsed.err().message;
        problems = parsed.err().problems;
    } else {
        m.root = xml::qualified_root(*parsed);
        m.type = parsed->root_name;
        m.doc_guid = root_guid(*parsed);
        const config::route* r = cfg_.find_route(s.partner->id, m.root);
        if (!r) {
            verdict = errc::no_route;
            verdict_message = fmt::format("no route accepts {} from partner '{}'", m.root, s.partner->id);
        } else {
            validation::options opt;
            opt.type = r->type;
            opt.rules = r->rules;
            opt.schema = r->schema;
            opt.prof = validation::profile::automatic;
            auto t1 = clock::now();
            auto rep = validation::check_parsed(*knowledge_, *parsed, s.bytes, opt, cfg_.server.xml,
                                                s.source_name.empty() ? "document" : s.source_name);
            stage_validate_->observe(seconds_since(t1));
            if (!rep) {
                outcome o{rep.err().code, false, false, "", "", m.type, rep.err().message, rep.err().problems};
                done(std::move(o));
                return;
            }
            schema_name = rep->schema;
            if (rep->type) m.type = rep->type->id;
            keys_json = nlohmann::json::array();
            for (auto& rec : rep->keys) {
                nlohmann::json o = nlohmann::json::object();
                for (auto& [kk, vv] : rec) o[kk] = vv;
                keys_json.push_back(std::move(o));
            }
            warnings = std::move(rep->warnings);
            if (!rep->valid()) {
                verdict = rep->code;
                verdict_message = rep->message;
                problems = std::move(rep->problems);
            }
        }
    }

    // Mapping stage: the route's stylesheets; outputs become documents of their own (children).
    std::vector<std::string> offered, waiting;
    const config::route* rt = (verdict == errc::ok && parsed) ? cfg_.find_route(s.partner->id, m.root) : nullptr;
    if (rt) {
        m.route = rt->id;
        for (auto& other : cfg_.routes)
            for (auto& mp : other.maps)
                if (mp.join && mp.join->with == rt->id)
                    if (auto keys = mapping::join_keys(*knowledge_, parsed->doc.get(), mp.join->other_key))
                        for (auto& key : *keys)
                            if (std::find(offered.begin(), offered.end(), key) == offered.end()) offered.push_back(key);
    }
    if (rt && !rt->maps.empty() && mappings_) {
        auto t2 = clock::now();
        mapping::route_run_options ro;
        std::vector<xml::document> keep;
        for (auto& mp : rt->maps) {
            if (!mp.join) continue;
            auto keys = mapping::join_keys(*knowledge_, parsed->doc.get(), mp.join->key);
            if (!keys) continue;
            for (auto& key : *keys) {
                auto entries = store_.find_join(mp.join->with, key);
                if (!entries) continue;
                for (auto& e : *entries) {
                    auto bytes = store_.payload(e.id, "inbound");
                    if (!bytes || !bytes->has_value()) continue;
                    auto d = xml::parse(**bytes, cfg_.server.xml, e.id);
                    if (!d) continue;
                    ro.joined[mp.join->as].push_back(d->doc.get());
                    keep.push_back(std::move(d.value()));
                }
            }
        }
        ro.checked_when_signed = [this, rt](const std::string& type) { return signs(*rt, type); };
        auto res = mapping::run_route(*knowledge_, *mappings_, *rt, parsed->doc.get(), ro);
        stage_map_->observe(seconds_since(t2));
        if (!res) {
            verdict = res.err().code;
            verdict_message = res.err().message;
            problems = res.err().problems;
        } else {
            for (auto& o : res->outputs) {
                m.children.push_back(make_output(s.partner->id, rt->id, o, *knowledge_));
                auto sg = attach_signature(*rt, m.children.back(), problems, std::move(o.tree));
                if (!sg) {
                    if (is_retryable(sg.err().code)) {
                        done({sg.err().code, false, false, "", "", m.type, sg.err().message, {}});
                        return;
                    }
                    verdict = sg.err().code;
                    verdict_message = sg.err().message;
                    break;
                }
                if (*sg) mark_signed(*rt, m.children.back());
                queue_for_customs(*rt, m.children.back());
            }
            for (auto& w : res->waiting)
                for (auto& key : w.keys) waiting.push_back(key);
        }
    }
    bool native_signed = false;
    if (verdict == errc::ok && rt && rt->maps.empty() && !rt->signer.empty()) {
        if (m.bytes.empty()) m.bytes = std::move(s.bytes);  // the exact bytes received: stored as "inbound", signed as they are
        auto sg = attach_signature(*rt, m, problems);
        if (!sg) {
            if (is_retryable(sg.err().code)) {
                done({sg.err().code, false, false, "", "", m.type, sg.err().message, {}});
                return;
            }
            verdict = sg.err().code;
            verdict_message = sg.err().message;
        } else {
            native_signed = *sg;
        }
    }
    for (auto& key : offered) m.join_keys.emplace_back(key, false);
    for (auto& key : waiting) m.join_keys.emplace_back(key, true);

    if (verdict == errc::ok) {
        m.state = std::string(to_string(doc_state::validated));
        nlohmann::json details{{"schema", schema_name}, {"type", m.type}};
        if (!keys_json.is_null() && !keys_json.empty()) details["keys"] = keys_json;
        if (!warnings.empty()) details["warnings"] = nlohmann::json::parse(problems_json(warnings));
        m.events.push_back({"validated", m.state, "", details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
        for (auto& rec : keys_json)
            for (auto& [kk, vv] : rec.items()) m.keys.emplace_back(kk, vv.get<std::string>());
        if (native_signed) mark_signed(*rt, m);
        if (rt && rt->maps.empty()) queue_for_customs(*rt, m);
        if (rt && !rt->maps.empty()) {
            nlohmann::json outs = nlohmann::json::array();
            for (auto& c : m.children) outs.push_back({{"id", c.id}, {"type", c.type}});
            m.state = std::string(to_string(waiting.empty() ? doc_state::mapped : doc_state::waiting));
            nlohmann::json d{{"outputs", outs}};
            if (!waiting.empty()) d["waiting_for"] = waiting;
            m.events.push_back({waiting.empty() ? "mapped" : "waiting", m.state, "", d.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
        }
    } else {
        m.state = std::string(to_string(doc_state::rejected));
        m.error_code = code_string(verdict);
        m.children.clear();
        m.join_keys.clear();
        m.events.push_back({"rejected", m.state, m.error_code,
                            fmt::format(R"({{"message":{},"errors":{}}})",
                                        nlohmann::json(verdict_message).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                                        problems_json(problems))});
    }
    if (m.bytes.empty()) m.bytes = std::move(s.bytes);

    std::string labels = fmt::format("partner=\"{}\",channel=\"{}\",outcome=\"{}\"", s.partner->id, s.channel,
                                     verdict == errc::ok ? "accepted" : "rejected");
    counter* outcome_counter = &metrics_.counter_for("portgate_messages_total", labels);
    auto started = s.started;
    if (verdict != errc::ok) {
        offered.clear();
        waiting.clear();
    }
    bool to_send = !m.outbox_endpoint.empty();
    for (auto& c : m.children) to_send |= !c.outbox_endpoint.empty();
    store_.submit(std::move(m), [to_send, done = std::move(done), verdict, verdict_message = std::move(verdict_message),
                                 problems = std::move(problems), outcome_counter, started, this, rt, offered = std::move(offered),
                                 waiting = std::move(waiting)](result<store::stored> r) mutable {
        if (!r) {
            done({r.err().code, false, false, "", "", "", r.err().message, {}});
            return;
        }
        stored_latency_->observe(seconds_since(started));
        if (to_send && !r->duplicate) queued();
        if (!r->duplicate && (!offered.empty() || !waiting.empty()) && rt)
            joiner_->post([this, id = r->id, rt, offered = std::move(offered), waiting = std::move(waiting)]() mutable {
                after_commit(id, rt, std::move(offered), std::move(waiting));
            });
        if (!r->duplicate) outcome_counter->inc();
        outcome o;
        o.stored = true;
        o.duplicate = r->duplicate;
        o.id = r->id;
        o.state = r->state;
        o.type = r->type;
        if (r->duplicate) {
            o.code = errc::ok;  // the first message's answer stands; its state says what happened
            o.message = "duplicate: this idempotency key already identifies a stored message";
        } else {
            o.code = verdict;
            o.message = std::move(verdict_message);
            o.problems = std::move(problems);
        }
        done(std::move(o));
    });
}

result<bool> pipeline::attach_signature(const config::route& r, store::new_message& m, std::vector<problem>& problems, xml::doc_ptr tree) {
    std::vector<formats::key_values> keys;
    auto sg = sign_for_route(r, m.type, m.bytes, problems, &keys, std::move(tree));
    if (!sg) return sg.err();
    if (!*sg) return false;
    if (m.keys.empty())  // a mapped output checked only as signed: its keys come from that check
        for (auto& rec : keys)
            for (auto& kv : rec) m.keys.push_back(kv);
    m.more_payloads.emplace_back("signed", std::move(**sg));
    return true;
}

void pipeline::mark_signed(const config::route& r, store::new_message& m) const {
    auto* idn = signers_.at(r.signer).get();
    m.state = std::string(to_string(doc_state::signed_));
    m.events.push_back({"signed", m.state, "", nlohmann::json{{"signer", r.signer}, {"algorithm", sign::algorithm_name(idn->alg())},
                                                              {"key_name", idn->key_name()}}.dump()});
}

void pipeline::queue_for_customs(const config::route& r, store::new_message& m) const {
    if (r.endpoint.empty()) return;
    // Only customs messages travel: a partner format that maps to nothing is not sent.
    const formats::type_info* t = knowledge_->types->find(m.type);
    if (!t || t->family.rfind("partner", 0) == 0) return;
    m.outbox_endpoint = r.endpoint;
    m.state = std::string(to_string(doc_state::queued));
    m.events.push_back({"queued", m.state, "", nlohmann::json{{"endpoint", r.endpoint}, {"cop_msg_id", m.id}}.dump()});
}

result<std::map<std::string, std::shared_ptr<sign::identity>>> pipeline::open_signers(const config::config& cfg) {
    std::map<std::string, std::shared_ptr<sign::identity>> out;
    for (auto& sg : cfg.signers) {
        sign::identity_config ic;
        ic.name = sg.id;
        ic.source = sg.source == "pkcs12" ? sign::key_source::pkcs12 : sg.source == "pkcs11" ? sign::key_source::pkcs11 : sign::key_source::file;
        ic.key_file = sg.key.string();
        ic.cert_file = sg.cert.string();
        ic.pkcs12_file = sg.pkcs12.string();
        ic.pkcs11_uri = sg.pkcs11_uri;
        ic.pkcs11_module = sg.pkcs11_module;
        ic.password_env = sg.password_env;
        ic.password_file = sg.password_file.string();
        ic.algorithm = sg.algorithm;
        ic.sm2_id = sg.sm2_id;
        ic.sm2_encoding = sg.sm2_encoding;
        ic.allow_sha1 = sg.allow_sha1;
        ic.key_name = sg.key_name;
        ic.per_minute = sg.per_minute;
        ic.expiry_warning_days = sg.expiry_warning_days;
        auto idn = sign::open_identity(ic);
        if (!idn) return error(idn.err().code, fmt::format("signer '{}' (config line {}): {}", sg.id, sg.line, idn.err().message));
        out.emplace(sg.id, std::move(idn.value()));
    }
    return out;
}

bool pipeline::signs(const config::route& r, const std::string& type) const {
    if (r.signer.empty() || !signers_.count(r.signer)) return false;
    const formats::type_info* t = knowledge_->types->find(type);
    const formats::family_info* fam = t ? knowledge_->types->family(t->family) : nullptr;
    return fam && fam->signature == "enveloped";
}

result<std::optional<std::string>> pipeline::sign_for_route(const config::route& r, const std::string& type, const std::string& bytes,
                                                            std::vector<problem>& problems, std::vector<formats::key_values>* keys,
                                                            xml::doc_ptr tree) {
    if (r.signer.empty()) return std::optional<std::string>();
    const formats::type_info* t = knowledge_->types->find(type);
    const formats::family_info* fam = t ? knowledge_->types->family(t->family) : nullptr;
    if (!fam || fam->signature != "enveloped") return std::optional<std::string>();  // DecSign, Golden-2: their own formats
    auto it = signers_.find(r.signer);
    if (it == signers_.end()) return error(errc::sign_key_unavailable, fmt::format("signer '{}' is not open", r.signer));
    auto t0 = clock::now();
    sign::placement where = fam->sign_before.empty() ? sign::placement::last_child() : sign::placement::before_child(fam->sign_before);
    // One tree serves both: the signer canonicalises it and adds its ds:Signature to it, and the as-sent
    // rules below read it (the schema check still reads the signed bytes themselves). The mapping's own
    // result tree when the bytes hold it exactly and it keeps within the limits, else the bytes parsed.
    auto parsed = xml::adopt_or_parse(std::move(tree), bytes, cfg_.server.xml, type);
    result<std::string> signed_bytes = parsed ? sign::sign_document_into(*it->second, bytes, *parsed, where)
                                              : result<std::string>(parsed.err());
    stage_sign_->observe(seconds_since(t0));
    if (!signed_bytes) {
        // An output that could not be signed may simply be invalid (its draft check is left to this stage):
        // then the schema's and the rules' errors say more than the signer's.
        if (!is_retryable(signed_bytes.err().code)) {
            validation::options dv;
            dv.type = type;
            dv.prof = validation::profile::automatic;
            if (auto rep = validation::check(*knowledge_, bytes, dv, cfg_.server.xml, type); rep && !rep->valid()) {
                for (auto p : rep->problems) {
                    p.message = fmt::format("{}: {}", type, p.message);
                    problems.push_back(std::move(p));
                }
                return error(errc::mapping_output_invalid, fmt::format("{} is not valid: {}", type, rep->message));
            }
        }
        return signed_bytes.err();
    }
    // What is signed is what will be sent: it must pass the schema as sent and the as-sent rules.
    validation::options vo;
    vo.type = type;
    vo.prof = validation::profile::sent;
    auto rep = validation::check_parsed(*knowledge_, *parsed, *signed_bytes, vo, cfg_.server.xml, type);
    if (!rep) return rep.err();
    if (!rep->valid() && rep->code == errc::rule_violated)
        // Rare: checked again from the signed bytes, so that every line number is the one sent.
        rep = validation::check(*knowledge_, *signed_bytes, vo, cfg_.server.xml, type);
    if (!rep) return rep.err();
    if (!rep->valid()) {
        for (auto p : rep->problems) {
            p.message = fmt::format("{} as signed: {}", type, p.message);
            problems.push_back(std::move(p));
        }
        return error(errc::mapping_output_invalid, fmt::format("{} is not valid as signed: {}", type, rep->message));
    }
    if (keys) *keys = std::move(rep->keys);
    return std::optional<std::string>(std::move(signed_bytes.value()));
}

void pipeline::process_receipt(std::string bytes, std::string channel, std::string source, std::function<void(receipt_answer)> done) {
    store::new_receipt r;
    r.id = new_message_id();
    r.channel = std::move(channel);
    r.source = std::move(source);
    r.sha256 = sha256_hex(bytes);
    r.received_at = store::now_ms();
    std::size_t dropped = 0;
    auto reading = knowledge_->receipts->read(bytes, cfg_.server.xml, r.source.empty() ? "receipt" : r.source);
    if (!reading) {
        // Kept all the same (raw bytes, the reason): an operator can look at what customs sent.
        r.error = fmt::format("{} {}", code_string(reading.err().code), reading.err().message);
    } else {
        r.type = reading->type ? reading->type->id : "";
        r.family = reading->type ? reading->type->family : "";
        dropped = reading->duplicates;
        for (auto& rec : reading->records) {
            store::new_receipt_record nr;
            nr.type = rec.type;
            nr.status = rec.status;
            nr.meaning = rec.meaning;
            nr.time = rec.time;
            nr.info = rec.info;
            nr.customs_code = rec.customs_code;
            nr.keys = rec.keys;
            const auto& learnable = knowledge_->types->answered_key_names(rec.type);
            for (auto& [name, value] : rec.keys)
                if (std::find(learnable.begin(), learnable.end(), name) != learnable.end()) nr.learn.emplace_back(name, value);
            auto pr = progress_of(rec);
            nr.rank = pr.rank;
            nr.state = std::string(to_string(pr.state));
            r.records.push_back(std::move(nr));
        }
    }
    r.bytes = std::move(bytes);  // the raw receipt, exactly as customs sent it, stored with the records
    auto outcome = r.outcome;
    std::size_t n = r.records.size();
    errc verdict = reading ? errc::ok : reading.err().code;
    std::string why = reading ? std::string() : reading.err().message;
    std::string type = r.type;
    store_.submit_receipt(std::move(r), [done = std::move(done), outcome, n, verdict, why, type, dropped](result<store::stored> s) {
        receipt_answer a;
        if (!s) {
            a.code = s.err().code;
            a.message = s.err().message;
            return done(std::move(a));
        }
        a.stored = true;
        a.id = s->id;
        a.type = type;
        a.code = verdict;
        a.message = why;
        a.outcome = *outcome;
        a.outcome.repeated += static_cast<int>(dropped);
        a.records = n;
        done(std::move(a));
    });
}

void pipeline::after_commit(const std::string& id, const config::route* r, std::vector<std::string> offered,
                            std::vector<std::string> waiting) {
    // This document offers keys: documents of other routes waiting on them can now be mapped.
    for (auto& key : offered)
        for (auto& other : cfg_.routes)
            for (auto& mp : other.maps)
                if (mp.join && mp.join->with == r->id)
                    if (auto entries = store_.find_join(other.id, key))
                        for (auto& e : *entries)
                            if (e.waiting) complete_join(other, mp, e.id, key, id);
    // This document waits: the other one may have arrived between our look-up and our commit.
    for (auto& key : waiting)
        for (auto& mp : r->maps)
            if (mp.join)
                if (auto entries = store_.find_join(mp.join->with, key))
                    for (auto& e : *entries)
                        if (!e.waiting) {
                            complete_join(*r, mp, id, key, e.id);
                            break;
                        }
}

std::size_t pipeline::complete_join(const config::route& wr, const config::route_map& mp, const std::string& waiting_id,
                                    const std::string& key, const std::string& other_id) {
    auto mine = store_.payload(waiting_id, "inbound");
    auto theirs = store_.payload(other_id, "inbound");
    auto msg = store_.get(waiting_id);
    if (!mine || !theirs || !msg || !mine->has_value() || !theirs->has_value() || !msg->has_value()) return 0;
    auto d1 = xml::parse(**mine, cfg_.server.xml, waiting_id);
    auto d2 = xml::parse(**theirs, cfg_.server.xml, other_id);
    if (!d1 || !d2) return 0;
    config::route only = wr;
    only.maps = {mp};
    mapping::route_run_options ro;
    ro.joined[mp.join->as].push_back(d2->doc.get());
    ro.checked_when_signed = [this, &wr](const std::string& type) { return signs(wr, type); };
    auto res = mapping::run_route(*knowledge_, *mappings_, only, d1->doc.get(), ro);
    store::message_update u;
    u.id = waiting_id;
    u.join_route = wr.id;
    u.join_key = key;
    if (!res) {
        u.done_state = std::string(to_string(doc_state::rejected));
        u.events.push_back({"join_failed", "", code_string(res.err().code),
                            fmt::format(R"({{"key":{},"with":{},"message":{},"errors":{}}})", nlohmann::json(key).dump(),
                                        nlohmann::json(other_id).dump(),
                                        nlohmann::json(res.err().message).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                                        problems_json(res.err().problems))});
    } else {
        nlohmann::json outs = nlohmann::json::array();
        for (auto& o : res->outputs) {
            if (o.join_key != key) continue;
            u.children.push_back(make_output((*msg)->partner, wr.id, o, *knowledge_));
            std::vector<problem> sign_problems;
            auto sg = attach_signature(wr, u.children.back(), sign_problems, std::move(o.tree));
            if (sg && *sg) {
                mark_signed(wr, u.children.back());
            } else if (!sg) {
                spdlog::error("join {} of {}: signing {} failed: {}", key, waiting_id, o.type, sg.err().message);
                u.children.back().events.push_back({"sign_failed", "", code_string(sg.err().code),
                                                    nlohmann::json{{"message", sg.err().message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
            }
            queue_for_customs(wr, u.children.back());
            outs.push_back({{"id", u.children.back().id}, {"type", o.type}});
        }
        u.done_state = std::string(to_string(doc_state::mapped));
        u.events.push_back({"joined", "", "", nlohmann::json{{"key", key}, {"with", other_id}, {"outputs", outs}}.dump(
                                                  -1, ' ', false, nlohmann::json::error_handler_t::replace)});
    }
    std::promise<result<store::stored>> p;
    auto f = p.get_future();
    store_.update(std::move(u), [&p](result<store::stored> r) { p.set_value(std::move(r)); });
    auto r = f.get();
    if (!r) {
        spdlog::error("join {} of {} with {}: {}", key, waiting_id, other_id, r.err().message);
        return 0;
    }
    if (!r->duplicate) queued();
    return r->duplicate ? 0 : 1;
}

void pipeline::replay_with_new_guid(const std::string& id, std::function<void(replay_answer)> done) {
    auto fail = [&](errc c, std::string text, std::vector<problem> problems = {}) {
        replay_answer a;
        a.code = c;
        a.message = std::move(text);
        a.original = id;
        a.problems = std::move(problems);
        done(std::move(a));
    };
    auto got = store_.get(id);
    if (!got) return fail(got.err().code, got.err().message);
    if (!got->has_value()) return fail(errc::not_found, fmt::format("message {} does not exist", id));
    const store::message_view& mv = **got;
    bool was_queued = false;
    for (auto& e : mv.events) {
        if (e.kind == "queued") was_queued = true;
        if (e.kind == "replayed") return fail(errc::bad_request, fmt::format("message {} was replayed already: {}", id, e.detail));
    }
    if (!was_queued) return fail(errc::bad_request, fmt::format("message {} was never queued for customs: nothing to replay", id));
    if (mv.state != "DEAD" && mv.state != "RETURNED" && mv.state != "REJECTED")
        return fail(errc::bad_request, fmt::format("message {} is {}: only a DEAD, RETURNED or REJECTED message is sent again with a new guid "
                                                   "(POST …/resend without new_guid resends a dead one unchanged)", id, mv.state));
    const config::route* r = cfg_.route_by_id(mv.route);
    if (!r || r->endpoint.empty())
        return fail(errc::bad_request, fmt::format("message {}: its route '{}' is gone or has no endpoint now", id, mv.route));
    std::optional<std::string> bytes;
    for (const char* stage : {"mapped", "inbound"}) {
        auto p = store_.payload(id, stage);
        if (!p) return fail(p.err().code, p.err().message);
        if (p->has_value()) {
            bytes = std::move(**p);
            break;
        }
    }
    if (!bytes) return fail(errc::not_found, fmt::format("message {} has no unsigned payload to replay", id));
    auto parsed = xml::parse(*bytes, cfg_.server.xml, id);
    if (!parsed) return fail(parsed.err().code, parsed.err().message, parsed.err().problems);
    auto [app_types, guid] = renew_guids(parsed->doc.get());
    if (app_types == 0)
        return fail(errc::bad_request, fmt::format("{} has no appType: a replay with a new guid and appType 2 is for the CEB families; "
                                                   "resend it unchanged instead", mv.type));
    xmlChar* out = nullptr;
    int len = 0;
    xmlDocDumpMemoryEnc(parsed->doc.get(), &out, &len, "UTF-8");
    if (!out) return fail(errc::internal, "could not serialise the replayed document");
    std::string text(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
    xmlFree(out);

    validation::options vo;
    vo.type = mv.type;
    vo.prof = validation::profile::automatic;
    auto rep = validation::check(*knowledge_, text, vo, cfg_.server.xml, mv.type);
    if (!rep) return fail(rep.err().code, rep.err().message, rep.err().problems);
    if (!rep->valid()) return fail(rep->code, fmt::format("the replayed {} is not valid: {}", mv.type, rep->message), rep->problems);

    store::new_message c;
    c.id = new_message_id();
    c.partner = mv.partner;
    c.channel = "replay";
    c.route = r->id;
    c.direction = "out";
    c.payload_stage = "mapped";
    c.type = mv.type;
    c.root = mv.root;
    c.doc_guid = guid.size() > 64 ? guid.substr(0, 64) : guid;
    c.received_at = store::now_ms();
    c.sha256 = sha256_hex(text);
    c.state = std::string(to_string(doc_state::mapped));
    for (auto& rec : rep->keys)
        for (auto& kv : rec) c.keys.push_back(kv);
    c.events.push_back({"replay_of", c.state, "", nlohmann::json{{"original", id}, {"original_state", mv.state}, {"guid", guid},
                                                                 {"app_type", "2"}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
    c.bytes = std::move(text);
    std::vector<problem> problems;
    auto sg = attach_signature(*r, c, problems);
    if (!sg) return fail(sg.err().code, sg.err().message, problems);
    if (*sg) {
        mark_signed(*r, c);
    } else if (const auto* t = knowledge_->types->find(mv.type); t) {
        const formats::family_info* fam = knowledge_->types->family(t->family);
        if (fam && fam->signature == "enveloped")
            return fail(errc::bad_request, fmt::format("route '{}' has no signer: a {} with a new guid must be signed again, by portgate", r->id, mv.type));
    }
    queue_for_customs(*r, c);

    store::message_update u;
    u.id = id;
    u.events.push_back({"replayed", "", "", nlohmann::json{{"replay", c.id}, {"guid", guid}, {"app_type", "2"}}.dump()});
    replay_answer a;
    a.original = id;
    a.id = c.id;
    a.guid = guid;
    a.state = c.state;
    u.children.push_back(std::move(c));
    store_.update(std::move(u), [this, a = std::move(a), done = std::move(done)](result<store::stored> r) mutable {
        if (!r) {
            a.code = r.err().code;
            a.message = r.err().message;
        } else {
            queued();
        }
        done(std::move(a));
    });
}

std::size_t pipeline::recheck_waiting() {
    std::size_t done = 0;
    store::query q;
    q.state = std::string(to_string(doc_state::waiting));
    q.limit = 500;
    for (;;) {
        auto pg = store_.list(q);
        if (!pg) return done;
        for (auto& m : pg->items) {
            const config::route* r = cfg_.route_by_id(m.route);
            if (!r) continue;
            auto bytes = store_.payload(m.id, "inbound");
            if (!bytes || !bytes->has_value()) continue;
            auto d = xml::parse(**bytes, cfg_.server.xml, m.id);
            if (!d) continue;
            for (auto& mp : r->maps) {
                if (!mp.join) continue;
                auto keys = mapping::join_keys(*knowledge_, d->doc.get(), mp.join->key);
                if (!keys) continue;
                for (auto& key : *keys)
                    if (auto entries = store_.find_join(mp.join->with, key))
                        for (auto& e : *entries)
                            if (!e.waiting) {
                                done += complete_join(*r, mp, m.id, key, e.id);
                                break;
                            }
            }
        }
        if (!pg->next_cursor) break;
        q.before_seq = pg->next_cursor;
    }
    return done;
}

void pipeline::drain_joins() { joiner_->drain(); }

}  // namespace portgate::intake

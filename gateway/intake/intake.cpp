// Intake stages: parse → route → validate → store (with the verdict) → answer.
#include "gateway/intake/intake.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gateway/core/digest.hpp"
#include "gateway/core/ids.hpp"
#include "gateway/pipeline/state.hpp"
#include "gateway/xml/parser.hpp"

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

}  // namespace

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

pipeline::pipeline(const config::config& cfg, std::shared_ptr<const validation::knowledge> knowledge, store::store& st, metrics& m)
    : cfg_(cfg), knowledge_(std::move(knowledge)), store_(st), metrics_(m) {
    stage_parse_ = &m.histogram_for("portgate_stage_seconds", "stage=\"parse\"");
    stage_validate_ = &m.histogram_for("portgate_stage_seconds", "stage=\"validate\"");
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

    if (verdict == errc::ok) {
        m.state = std::string(to_string(doc_state::validated));
        nlohmann::json details{{"schema", schema_name}, {"type", m.type}};
        if (!keys_json.is_null() && !keys_json.empty()) details["keys"] = keys_json;
        if (!warnings.empty()) details["warnings"] = nlohmann::json::parse(problems_json(warnings));
        m.events.push_back({"validated", m.state, "", details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
    } else {
        m.state = std::string(to_string(doc_state::rejected));
        m.error_code = code_string(verdict);
        m.events.push_back({"rejected", m.state, m.error_code,
                            fmt::format(R"({{"message":{},"errors":{}}})",
                                        nlohmann::json(verdict_message).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                                        problems_json(problems))});
    }
    m.bytes = std::move(s.bytes);

    std::string labels = fmt::format("partner=\"{}\",channel=\"{}\",outcome=\"{}\"", s.partner->id, s.channel,
                                     verdict == errc::ok ? "accepted" : "rejected");
    counter* outcome_counter = &metrics_.counter_for("portgate_messages_total", labels);
    auto started = s.started;
    store_.submit(std::move(m), [done = std::move(done), verdict, verdict_message = std::move(verdict_message),
                                 problems = std::move(problems), outcome_counter, started, this](result<store::stored> r) mutable {
        if (!r) {
            done({r.err().code, false, false, "", "", "", r.err().message, {}});
            return;
        }
        stored_latency_->observe(seconds_since(started));
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

}  // namespace portgate::intake

// Command-line front end. Exit codes: 0 success / all valid, 1 invalid input or failure, 2 usage error.
#include "gateway/cli/cli.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "gateway/app/gateway.hpp"
#include "gateway/config/config.hpp"
#include "gateway/intake/intake.hpp"
#include "gateway/xml/parser.hpp"
#include "gateway/mapping/route_runner.hpp"
#include "gateway/validation/checker.hpp"
#include "gateway/xsd/validator.hpp"

#include <nlohmann/json.hpp>
#include <optional>

namespace portgate::cli {
namespace {

namespace fs = std::filesystem;

void print_problems(const std::string& file, const error& e) {
    if (e.problems.empty()) std::cout << fmt::format("{}: {}\n", file, e.message);
    for (auto& p : e.problems) {
        if (p.column > 0) std::cout << fmt::format("{}:{}:{}: {}\n", file, p.line, p.column, p.message);
        else std::cout << fmt::format("{}:{}: {}\n", file, p.line, p.message);
    }
}

fs::path default_xsd_dir() {
    if (fs::is_directory("xsd") && fs::exists("xsd/catalog.toml")) return "xsd";
    return fs::path(PORTGATE_SOURCE_DIR) / "xsd";
}

int cmd_check_config(const std::string& file) {
    auto cfg = config::load(file);
    if (!cfg) {
        print_problems(file, cfg.err());
        std::cout << fmt::format("{}: {} problem(s)\n", file, cfg.err().problems.size());
        return 1;
    }
    xml::initialise();
    xsd::initialise();
    auto k = validation::knowledge::load(cfg->xsd_dir, cfg->calendar_file);
    if (!k) {
        print_problems(cfg->xsd_dir.string(), k.err());
        std::cout << fmt::format("{}: {} problem(s)\n", cfg->xsd_dir.string(), k.err().problems.size());
        return 1;
    }
    auto problems = intake::pipeline::check_routes(*cfg, **k);
    if (!problems.empty()) {
        print_problems(file, error(errc::config_invalid, "", problems));
        std::cout << fmt::format("{}: {} problem(s)\n", file, problems.size());
        return 1;
    }
    auto& cat = (*k)->catalog;
    std::size_t inboxes = 0;
    for (auto& p : cfg->partners) inboxes += p.inboxes.size();
    std::cout << fmt::format("{}: ok ({} partner(s), {} route(s), {} inbox folder(s), {} schema(s), data in {})\n", file,
                             cfg->partners.size(), cfg->routes.size(), inboxes, cat->names().size(), cfg->server.data_dir.string());
    return 0;
}

std::optional<std::string> read_file(const std::string& f) {
    std::ifstream in(f, std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// `validate --schema NAME|FILE.xsd`: the XSD alone, as before.
int cmd_validate_schema(const std::string& schema_arg, const fs::path& xsd_dir, const std::vector<std::string>& files) {
    auto cat = xsd::catalog::load(xsd_dir);
    if (!cat) {
        print_problems((xsd_dir / "catalog.toml").string(), cat.err());
        return 2;
    }
    std::shared_ptr<const xsd::schema> sc = (*cat)->find(schema_arg);
    if (!sc) {
        if (!fs::exists(schema_arg)) {
            std::string known;
            for (auto& n : (*cat)->names()) known += " " + n;
            std::cerr << fmt::format("portgate validate: '{}' is neither a schema file nor a catalog name (known:{})\n", schema_arg, known);
            return 2;
        }
        auto compiled = (*cat)->compile_file(schema_arg);
        if (!compiled) {
            print_problems(schema_arg, compiled.err());
            return 2;
        }
        sc = std::move(compiled.value());
    }
    xml::limits lim;
    lim.max_bytes = std::size_t(64) << 20;
    int invalid = 0;
    for (auto& f : files) {
        auto bytes = read_file(f);
        if (!bytes) {
            std::cout << fmt::format("{}: cannot read file\n", f);
            ++invalid;
            continue;
        }
        auto doc = xml::parse(*bytes, lim, f);
        if (!doc) {
            print_problems(f, doc.err());
            ++invalid;
            continue;
        }
        auto v = sc->validate(*bytes, f);
        if (!v) {
            print_problems(f, v.err());
            ++invalid;
            continue;
        }
        if (!v->empty()) {
            print_problems(f, error(errc::schema_invalid, "", v.value()));
            ++invalid;
            continue;
        }
        std::cout << fmt::format("{}: valid ({})\n", f, xml::qualified_root(*doc));
    }
    return invalid ? 1 : 0;
}

result<std::shared_ptr<const validation::knowledge>> load_knowledge(const fs::path& xsd_dir, const std::string& calendar) {
    auto k = validation::knowledge::load(xsd_dir, calendar);
    if (!k) {
        print_problems(xsd_dir.string(), k.err());
        std::cout << fmt::format("{}: {} problem(s)\n", xsd_dir.string(), k.err().problems.size());
    }
    return k;
}

// `validate --type auto|ID [--rules]`: detect the type, its schema, and (with --rules) its business rules.
int cmd_validate_typed(const std::string& type, bool rules, const std::string& profile_arg, const std::string& now_arg,
                       const std::string& calendar, const fs::path& xsd_dir, const std::vector<std::string>& files) {
    auto k = load_knowledge(xsd_dir, calendar);
    if (!k) return 2;
    validation::options opt;
    opt.type = type;
    opt.rules = rules;
    opt.prof = profile_arg == "draft" ? validation::profile::draft
               : profile_arg == "sent" ? validation::profile::sent
                                       : validation::profile::automatic;
    if (!now_arg.empty()) {
        opt.now = formats::parse_civil(now_arg);
        if (!opt.now) {
            std::cerr << fmt::format("portgate validate: --now '{}' is not a time (yyyyMMddHHmmss)\n", now_arg);
            return 2;
        }
    }
    xml::limits lim;
    lim.max_bytes = std::size_t(64) << 20;
    int invalid = 0;
    for (auto& f : files) {
        auto bytes = read_file(f);
        if (!bytes) {
            std::cout << fmt::format("{}: cannot read file\n", f);
            ++invalid;
            continue;
        }
        auto r = validation::check(**k, *bytes, opt, lim, f);
        if (!r) {
            std::cout << fmt::format("{}: could not check: {} {}\n", f, code_string(r.err().code), r.err().message);
            print_problems(f, r.err());
            return 2;
        }
        auto describe = [](const validation::report& rep) {
            if (!rep.type) return std::string("unknown type");
            std::string s = fmt::format("{} [{}] schema {} ({})", rep.type->id, rep.type->family, rep.schema.empty() ? "-" : rep.schema, rep.profile);
            if (rep.inner && rep.inner->type) s += fmt::format(", Data: {} schema {}", rep.inner->type->id, rep.inner->schema);
            return s;
        };
        if (r->valid()) {
            std::cout << fmt::format("{}: valid {}{}\n", f, describe(*r), rules ? ", rules passed" : "");
        } else {
            ++invalid;
            std::cout << fmt::format("{}: invalid {} {}: {}\n", f, code_string(r->code), describe(*r), r->message);
            print_problems(f, error(r->code, r->message, r->problems));
        }
        for (auto& w : r->warnings) std::cout << fmt::format("{}:{}: {}\n", f, w.line, w.message);
    }
    return invalid ? 1 : 0;
}

int cmd_validate(const std::string& schema_arg, const std::string& type, bool rules, const std::string& profile,
                 const std::string& now, const std::string& calendar, const std::string& xsd_dir_arg,
                 const std::vector<std::string>& files) {
    xml::initialise();
    xsd::initialise();
    fs::path xsd_dir = xsd_dir_arg.empty() ? default_xsd_dir() : fs::path(xsd_dir_arg);
    if (!schema_arg.empty()) {
        if (rules) {
            std::cerr << "portgate validate: --rules needs --type (auto or a type id), not --schema\n";
            return 2;
        }
        return cmd_validate_schema(schema_arg, xsd_dir, files);
    }
    return cmd_validate_typed(type.empty() ? "auto" : type, rules, profile, now, calendar, xsd_dir, files);
}

// Reads each receipt file leniently and hands the reading to `fn`; returns how many files failed.
int for_each_receipt(const validation::knowledge& k, const std::vector<std::string>& files,
                     const std::function<int(const std::string&, const formats::receipt_reading&)>& fn) {
    int bad = 0;
    for (auto& f : files) {
        auto bytes = read_file(f);
        if (!bytes) {
            std::cerr << fmt::format("{}: cannot read file\n", f);
            ++bad;
            continue;
        }
        auto r = k.receipts->read(*bytes, {}, f);
        if (!r) {
            std::cerr << fmt::format("{}: {} {}\n", f, code_string(r.err().code), r.err().message);
            ++bad;
            continue;
        }
        bad += fn(f, *r);
    }
    return bad;
}

// `receipt FILE…`: the lenient reader's normalized records, one JSON object per line.
int cmd_receipt(const std::string& xsd_dir_arg, const std::vector<std::string>& files) {
    xml::initialise();
    xsd::initialise();
    fs::path xsd_dir = xsd_dir_arg.empty() ? default_xsd_dir() : fs::path(xsd_dir_arg);
    auto k = load_knowledge(xsd_dir, "");
    if (!k) return 2;
    int bad = for_each_receipt(**k, files, [](const std::string& f, const formats::receipt_reading& rd) {
        const formats::receipt_reading* r = &rd;
        for (auto& rec : r->records) {
            nlohmann::json keys = nlohmann::json::object();
            for (auto& [kk, v] : rec.keys) keys[kk] = v;
            nlohmann::json j{{"file", f},           {"family", rec.family}, {"type", rec.type},       {"keys", keys},
                             {"status", rec.status}, {"meaning", rec.meaning}, {"final", rec.final}, {"judgement", rec.judgement},
                             {"time", rec.time},     {"info", rec.info},       {"line", rec.line}};
            if (!rec.customs_code.empty()) j["customs_code"] = rec.customs_code, j["customs_desc"] = rec.customs_desc;
            if (!r->envelope.empty()) j["envelope"] = r->envelope;
            std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        }
        if (r->duplicates) std::cerr << fmt::format("{}: {} repeated return(s) dropped\n", f, r->duplicates);
        return 0;
    });
    return bad ? 1 : 0;
}

fs::path default_config() {
    if (fs::exists("portgate.toml")) return "portgate.toml";
    if (fs::exists("samples/portgate.toml")) return "samples/portgate.toml";
    return fs::path(PORTGATE_SOURCE_DIR) / "samples" / "portgate.toml";
}

// What `map` and `notify` need: the configuration, xsd/ and the compiled mappings. nullopt = reported.
struct mapping_setup {
    fs::path config_file;
    config::config cfg;
    std::shared_ptr<const validation::knowledge> knowledge;
    std::shared_ptr<const mapping::library> library;
};

std::optional<mapping_setup> load_mapping_setup(const std::string& config_arg) {
    xml::initialise();
    xsd::initialise();
    mapping_setup m;
    m.config_file = config_arg.empty() ? default_config() : fs::path(config_arg);
    auto cfg = config::load(m.config_file);
    if (!cfg) {
        print_problems(m.config_file.string(), cfg.err());
        return std::nullopt;
    }
    m.cfg = std::move(cfg.value());
    auto k = load_knowledge(m.cfg.xsd_dir, m.cfg.calendar_file.string());
    if (!k) return std::nullopt;
    m.knowledge = *k;
    auto lib = mapping::library::load(m.cfg.mappings_dir, rules::environment{m.knowledge->codes, m.knowledge->calendar, std::nullopt});
    if (!lib) {
        print_problems(m.cfg.mappings_dir.string(), lib.err());
        return std::nullopt;
    }
    m.library = *lib;
    return m;
}

// --now for a command: "" = the clock; false when the text is not a time (reported).
bool parse_now_option(const char* command, const std::string& text, std::optional<formats::civil_seconds>& into) {
    if (text.empty()) return true;
    into = formats::parse_civil(text);
    if (!into) std::cerr << fmt::format("portgate {}: --now '{}' is not a time (yyyyMMddHHmmss)\n", command, text);
    return into.has_value();
}

// `map --route R FILE`: the route's mappings on FILE; every output checked against its customs type.
int cmd_map(const std::string& config_arg, const std::string& route_id, const std::string& now_arg, const std::string& seed_arg,
            const std::vector<std::string>& with, const std::string& out_dir, const std::string& file) {
    auto setup = load_mapping_setup(config_arg);
    if (!setup) return 2;
    const config::config* cfg = &setup->cfg;
    const fs::path& config_file = setup->config_file;
    const config::route* r = cfg->route_by_id(route_id);
    if (!r) {
        std::string known;
        for (auto& rr : cfg->routes) known += " " + rr.id;
        std::cerr << fmt::format("portgate map: no route '{}' in {} (routes:{})\n", route_id, config_file.string(), known);
        return 2;
    }
    auto k = &setup->knowledge;
    auto lib = &setup->library;
    mapping::route_run_options opt;
    if (!parse_now_option("map", now_arg, opt.now)) return 2;
    if (!seed_arg.empty()) {
        try {
            opt.seed = std::stoull(seed_arg);
        } catch (...) {
            std::cerr << "portgate map: --seed expects a number\n";
            return 2;
        }
    }
    xml::limits lim;
    lim.max_bytes = std::size_t(64) << 20;
    std::vector<xml::document> keep;
    for (auto& w : with) {
        auto eq = w.find('=');
        if (eq == std::string::npos) {
            std::cerr << "portgate map: --with expects NAME=FILE\n";
            return 2;
        }
        auto bytes = read_file(w.substr(eq + 1));
        if (!bytes) {
            std::cerr << fmt::format("portgate map: cannot read {}\n", w.substr(eq + 1));
            return 2;
        }
        auto d = xml::parse(*bytes, lim, w.substr(eq + 1));
        if (!d) {
            print_problems(w.substr(eq + 1), d.err());
            return 1;
        }
        opt.joined[w.substr(0, eq)].push_back(d->doc.get());
        keep.push_back(std::move(d.value()));
    }
    auto bytes = read_file(file);
    if (!bytes) {
        std::cerr << fmt::format("portgate map: cannot read {}\n", file);
        return 2;
    }
    // The input is judged first, as the gateway would: its schema (the route's or its type's) and rules.
    validation::options vo;
    vo.type = r->type;
    vo.schema = r->schema;
    vo.rules = r->rules;
    vo.now = opt.now;
    auto rep = validation::check(**k, *bytes, vo, lim, file);
    if (!rep) {
        std::cout << fmt::format("{}: could not check: {}\n", file, rep.err().message);
        return 2;
    }
    if (!rep->valid()) {
        std::cout << fmt::format("{}: invalid input {}: {}\n", file, code_string(rep->code), rep->message);
        print_problems(file, error(rep->code, rep->message, rep->problems));
        return 1;
    }
    auto doc = xml::parse(*bytes, lim, file);
    if (r->maps.empty()) {
        std::cout << *bytes;
        return 0;
    }
    auto res = mapping::run_route(**k, **lib, *r, doc->doc.get(), opt);
    if (!res) {
        std::cout << fmt::format("{}: {} {}\n", file, code_string(res.err().code), res.err().message);
        for (auto& p : res.err().problems)
            if (p.message != res.err().message) std::cout << fmt::format("{}:{}: {}\n", file, p.line, p.message);
        return 1;
    }
    std::size_t n = 0;
    for (auto& o : res->outputs) {
        ++n;
        if (!out_dir.empty()) {
            fs::create_directories(out_dir);
            fs::path f = fs::path(out_dir) / fmt::format("{}.{}.{}", fs::path(file).stem().string(), n, o.bytes.rfind("<?xml", 0) == 0 ? "xml" : "txt");
            std::ofstream(f, std::ios::binary) << o.bytes;
            std::cerr << fmt::format("{}: {} from {}{}\n", f.string(), o.type.empty() ? "text" : o.type, o.stylesheet,
                                     o.join_key.empty() ? "" : " (join " + o.join_key + ")");
        } else {
            if (res->outputs.size() > 1)
                std::cout << fmt::format("<!-- portgate map: output {} of {}: {} from {}{} -->\n", n, res->outputs.size(),
                                         o.type.empty() ? "text" : o.type, o.stylesheet, o.join_key.empty() ? "" : " (join " + o.join_key + ")");
            std::cout << o.bytes;
            if (!o.bytes.empty() && o.bytes.back() != '\n') std::cout << "\n";
        }
    }
    for (auto& w : res->waiting)
        std::cerr << fmt::format("{}: {} waits for route '{}' documents with key(s) {} (give them with --with {}=FILE)\n", file, w.stylesheet,
                                 w.with, fmt::join(w.keys, ", "), w.as);
    return 0;
}

// `notify --stylesheet S RECEIPT…`: the partner notifications a reverse mapping makes of each record.
int cmd_notify(const std::string& config_arg, const std::string& stylesheet, const std::string& now_arg, const std::string& out_dir,
               const std::vector<std::string>& files) {
    auto setup = load_mapping_setup(config_arg);
    if (!setup) return 2;
    auto k = &setup->knowledge;
    auto lib = &setup->library;
    mapping::run_options ro;
    if (!parse_now_option("notify", now_arg, ro.now)) return 2;
    ro.seed = 1;
    int bad = for_each_receipt(**k, files, [&](const std::string& f, const formats::receipt_reading& reading) {
        int failed = 0;
        const formats::receipt_reading* rr = &reading;
        std::size_t n = 0;
        for (auto& rec : rr->records) {
            ++n;
            std::string input = mapping::receipt_document(rec);
            auto doc = xml::parse(input, {}, "receipt");
            auto outs = (*lib)->apply(stylesheet, doc->doc.get(), ro);
            if (!outs) {
                std::cerr << fmt::format("{}: record {}: {} {}\n", f, n, code_string(outs.err().code), outs.err().message);
                failed = 1;
                continue;
            }
            for (auto& o : *outs) {
                if (!out_dir.empty()) {
                    fs::create_directories(out_dir);
                    std::string ext = o.text ? "json" : "xml";
                    fs::path p = fs::path(out_dir) / (n == 1 ? fmt::format("{}.{}", fs::path(f).stem().string(), ext)
                                                            : fmt::format("{}.{}.{}", fs::path(f).stem().string(), n, ext));
                    std::ofstream(p, std::ios::binary) << o.bytes;
                } else {
                    std::cout << o.bytes;
                    if (!o.bytes.empty() && o.bytes.back() != '\n') std::cout << "\n";
                }
            }
        }
        return failed;
    });
    return bad ? 1 : 0;
}

// `types`: the registered message and receipt types.
int cmd_types(const std::string& xsd_dir_arg) {
    xml::initialise();
    xsd::initialise();
    fs::path xsd_dir = xsd_dir_arg.empty() ? default_xsd_dir() : fs::path(xsd_dir_arg);
    auto k = load_knowledge(xsd_dir, "");
    if (!k) return 2;
    std::cout << fmt::format("{:<10} {:<14} {:<8} {:<22} {:<20} {}\n", "TYPE", "FAMILY", "KIND", "ROOT", "SCHEMA", "LABEL");
    for (auto& t : (*k)->types->types())
        std::cout << fmt::format("{:<10} {:<14} {:<8} {:<22} {:<20} {}\n", t->id, t->family, t->kind, t->root, t->schema, t->label);
    std::cout << fmt::format("{} types, {} business rules, {} code tables\n", (*k)->types->types().size(), (*k)->rules->size(),
                             (*k)->codes->names().size());
    return 0;
}

int cmd_serve(const std::string& file, const std::string& listen, const std::string& data_dir, const std::string& log_level) {
    spdlog::set_level(spdlog::level::from_str(log_level));
    auto cfg = config::load(file);
    if (!cfg) {
        print_problems(file, cfg.err());
        return 1;
    }
    if (!listen.empty()) {
        auto colon = listen.rfind(':');
        if (colon == std::string::npos) {
            std::cerr << "portgate serve: --listen expects HOST:PORT\n";
            return 2;
        }
        cfg->server.listen_host = listen.substr(0, colon);
        try {
            cfg->server.listen_port = static_cast<unsigned short>(std::stoul(listen.substr(colon + 1)));
        } catch (...) {
            std::cerr << "portgate serve: --listen expects HOST:PORT\n";
            return 2;
        }
    }
    if (!data_dir.empty()) {
        fs::path d = fs::absolute(data_dir).lexically_normal();
        // Inboxes configured relative to the data directory follow it.
        for (auto& p : cfg->partners)
            for (auto& in : p.inboxes) {
                auto rel = in.lexically_relative(cfg->server.data_dir);
                if (!rel.empty() && *rel.begin() != "..") in = d / rel;
            }
        cfg->server.data_dir = d;
    }
    auto gw = gateway::create(std::move(cfg.value()));
    if (!gw) {
        print_problems(file, gw.err());
        return 1;
    }
    if (auto s = (*gw)->start(); !s) {
        std::cerr << fmt::format("portgate serve: {}\n", s.err().message);
        return 1;
    }
    std::cout << fmt::format("listening on http://{}", (*gw)->address()) << std::endl;
    (*gw)->run();
    return 0;
}

}  // namespace

int run(int argc, char** argv) {
    auto logger = spdlog::stderr_color_mt("portgate");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

    CLI::App app{"portgate — EDI message gateway for China's Single Window and China E-Port"};
    app.require_subcommand(1);

    std::string config_file, listen, data_dir, log_level = "info";
    auto* serve = app.add_subcommand("serve", "run the gateway");
    serve->add_option("--config", config_file, "configuration file (TOML)")->required();
    serve->add_option("--listen", listen, "HOST:PORT to listen on (port 0 = any free port)");
    serve->add_option("--data-dir", data_dir, "data directory (store, inboxes)");
    serve->add_option("--log-level", log_level, "trace|debug|info|warn|error")->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

    std::string schema, xsd_dir, type, profile = "auto", now, calendar;
    bool with_rules = false;
    std::vector<std::string> files;
    auto* validate = app.add_subcommand("validate", "validate XML files: --type auto detects each file's type and schema; --rules adds the business rules");
    validate->add_option("--schema", schema, "only this XSD: a catalog name (see xsd/catalog.toml) or an .xsd file");
    validate->add_option("--type", type, "auto (default) or a registered type id (see `portgate types`)");
    validate->add_flag("--rules", with_rules, "also run the business rules of the type (xsd/rules/)");
    validate->add_option("--profile", profile, "auto (signed = as sent, else draft), draft or sent")->check(CLI::IsMember({"auto", "draft", "sent"}));
    validate->add_option("--now", now, "evaluate time rules as of this time (yyyyMMddHHmmss)");
    validate->add_option("--calendar", calendar, "customs working calendar (default: xsd/calendar.toml)");
    validate->add_option("--xsd-dir", xsd_dir, "schema directory holding catalog.toml (default: ./xsd or the source tree's)");
    validate->add_option("files", files, "XML files")->required();
    validate->get_option("--schema")->excludes(validate->get_option("--type"));

    std::vector<std::string> receipt_files;
    auto* receipt = app.add_subcommand("receipt", "read customs receipts leniently and print their normalized records (JSON lines)");
    receipt->add_option("--xsd-dir", xsd_dir, "schema directory (default: ./xsd or the source tree's)");
    receipt->add_option("files", receipt_files, "receipt files")->required();

    std::string map_config, map_route, map_now, map_seed, map_out, map_file;
    std::vector<std::string> map_with;
    auto* map_cmd = app.add_subcommand("map", "run a route's mappings on a file and print the customs document(s)");
    map_cmd->add_option("--config", map_config, "configuration (default: ./portgate.toml or samples/portgate.toml)");
    map_cmd->add_option("--route", map_route, "route id")->required();
    map_cmd->add_option("--now", map_now, "fix pg:now (yyyyMMddHHmmss)");
    map_cmd->add_option("--seed", map_seed, "make pg:guid deterministic");
    map_cmd->add_option("--with", map_with, "NAME=FILE: a document for a join (pg:input(NAME))");
    map_cmd->add_option("--out-dir", map_out, "write the outputs as files here instead of printing them");
    map_cmd->add_option("file", map_file, "input file")->required();

    std::string notify_config, notify_sheet, notify_now, notify_out;
    std::vector<std::string> notify_files;
    auto* notify_cmd = app.add_subcommand("notify", "turn receipts into a partner's notifications with a reverse mapping");
    notify_cmd->add_option("--config", notify_config, "configuration (default: ./portgate.toml or samples/portgate.toml)");
    notify_cmd->add_option("--stylesheet", notify_sheet, "reverse mapping in mappings/ (e.g. notify-shop-json.xsl)")->required();
    notify_cmd->add_option("--now", notify_now, "fix pg:now (yyyyMMddHHmmss)");
    notify_cmd->add_option("--out-dir", notify_out, "write <receipt>[.n].json|xml files here");
    notify_cmd->add_option("files", notify_files, "receipt files")->required();

    auto* types_cmd = app.add_subcommand("types", "list the registered message and receipt types");
    types_cmd->add_option("--xsd-dir", xsd_dir, "schema directory (default: ./xsd or the source tree's)");

    std::string check_file;
    auto* check = app.add_subcommand("check-config", "check a configuration file and report every problem");
    check->add_option("--config", check_file, "configuration file")->required();

    std::string key;
    auto* hash = app.add_subcommand("hash-key", "print the hash of an API key, as the config stores it");
    hash->add_option("key", key, "the key")->required();

    // sign / verify (gateway/cli/sign_cli.hpp, declared here so that only run() changes)
    std::function<std::optional<int>()> add_sign_commands(CLI::App&);
    auto run_sign_commands = add_sign_commands(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    if (auto rc = run_sign_commands()) return *rc;
    if (*serve) return cmd_serve(config_file, listen, data_dir, log_level);
    if (*validate) return cmd_validate(schema, type, with_rules, profile, now, calendar, xsd_dir, files);
    if (*receipt) return cmd_receipt(xsd_dir, receipt_files);
    if (*types_cmd) return cmd_types(xsd_dir);
    if (*notify_cmd) return cmd_notify(notify_config, notify_sheet, notify_now, notify_out, notify_files);
    if (*map_cmd) return cmd_map(map_config, map_route, map_now, map_seed, map_with, map_out, map_file);
    if (*check) return cmd_check_config(check_file);
    if (*hash) {
        std::cout << config::hash_api_key(key) << "\n";
        return 0;
    }
    return 2;
}

}  // namespace portgate::cli

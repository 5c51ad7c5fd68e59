// Command-line front end. Exit codes: 0 success / all valid, 1 invalid input or failure, 2 usage error.
#include "gateway/cli/cli.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "gateway/app/gateway.hpp"
#include "gateway/config/config.hpp"
#include "gateway/intake/intake.hpp"
#include "gateway/xml/parser.hpp"
#include "gateway/xsd/validator.hpp"

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
    xsd::initialise();
    auto cat = xsd::catalog::load(cfg->xsd_dir);
    if (!cat) {
        print_problems((cfg->xsd_dir / "catalog.toml").string(), cat.err());
        return 1;
    }
    auto problems = intake::pipeline::check_routes(*cfg, **cat);
    if (!problems.empty()) {
        print_problems(file, error(errc::config_invalid, "", problems));
        std::cout << fmt::format("{}: {} problem(s)\n", file, problems.size());
        return 1;
    }
    std::size_t inboxes = 0;
    for (auto& p : cfg->partners) inboxes += p.inboxes.size();
    std::cout << fmt::format("{}: ok ({} partner(s), {} route(s), {} inbox folder(s), {} schema(s), data in {})\n", file,
                             cfg->partners.size(), cfg->routes.size(), inboxes, (*cat)->names().size(), cfg->server.data_dir.string());
    return 0;
}

int cmd_validate(const std::string& schema_arg, const std::string& xsd_dir_arg, const std::vector<std::string>& files) {
    xml::initialise();
    xsd::initialise();
    fs::path xsd_dir = xsd_dir_arg.empty() ? default_xsd_dir() : fs::path(xsd_dir_arg);
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
        std::ifstream in(f, std::ios::binary);
        if (!in) {
            std::cout << fmt::format("{}: cannot read file\n", f);
            ++invalid;
            continue;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        std::string bytes = ss.str();
        auto doc = xml::parse(bytes, lim, f);
        if (!doc) {
            print_problems(f, doc.err());
            ++invalid;
            continue;
        }
        auto v = sc->validate(bytes, f);
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
        std::cerr << fmt::format("{}: valid ({})\n", f, xml::qualified_root(*doc));
    }
    return invalid ? 1 : 0;
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

    std::string schema, xsd_dir;
    std::vector<std::string> files;
    auto* validate = app.add_subcommand("validate", "validate XML files against a schema");
    validate->add_option("--schema", schema, "a catalog name (see xsd/catalog.toml) or an .xsd file")->required();
    validate->add_option("--xsd-dir", xsd_dir, "schema directory holding catalog.toml (default: ./xsd or the source tree's)");
    validate->add_option("files", files, "XML files")->required();

    std::string check_file;
    auto* check = app.add_subcommand("check-config", "check a configuration file and report every problem");
    check->add_option("--config", check_file, "configuration file")->required();

    std::string key;
    auto* hash = app.add_subcommand("hash-key", "print the hash of an API key, as the config stores it");
    hash->add_option("key", key, "the key")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    if (*serve) return cmd_serve(config_file, listen, data_dir, log_level);
    if (*validate) return cmd_validate(schema, xsd_dir, files);
    if (*check) return cmd_check_config(check_file);
    if (*hash) {
        std::cout << config::hash_api_key(key) << "\n";
        return 0;
    }
    return 2;
}

}  // namespace portgate::cli

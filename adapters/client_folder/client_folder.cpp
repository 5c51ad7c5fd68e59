// The desktop client's folders: atomic OutBox writes, claim-by-rename InBox/FailBox reading.
#include "adapters/client_folder/client_folder.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>


#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "adapters/folder/folder_intake.hpp"
#include "gateway/core/digest.hpp"
#include "gateway/core/files.hpp"

namespace portgate::adapters::client_folder {
namespace {

namespace fs = std::filesystem;

bool starts_with(std::string_view s, std::string_view p) { return s.size() >= p.size() && s.substr(0, p.size()) == p; }

std::optional<std::string> read_all(const fs::path& p, std::size_t limit, std::string& why) {
    std::error_code ec;
    auto size = fs::file_size(p, ec);
    if (ec) {
        why = fmt::format("cannot read {}: {}", p.filename().string(), ec.message());
        return std::nullopt;
    }
    if (size > limit) {
        why = fmt::format("file of {} bytes is over the limit of {} bytes", size, limit);
        return std::string();  // empty + why set: a verdict, not an I/O failure
    }
    std::ifstream in(p, std::ios::binary);
    std::string bytes(size, '\0');
    if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) {
        why = fmt::format("cannot read {}", p.filename().string());
        return std::nullopt;
    }
    return bytes;
}

std::string sha256_of_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return {};
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return sha256_hex(bytes);
}

}  // namespace

const char* answer_kind_name(answer_kind k) {
    switch (k) {
        case answer_kind::success: return "success";
        case answer_kind::failure: return "failure";
        case answer_kind::receipt: return "receipt";
        case answer_kind::send_failed: return "send_failed";
    }
    return "receipt";
}

status prepare_folders(const client_folder_config& cfg) {
    if (cfg.root.empty()) return error(errc::config_invalid, fmt::format("endpoint {}: client-folder needs a root", cfg.id));
    if (cfg.biz.empty() || cfg.biz.find('/') != std::string::npos || cfg.biz == "." || cfg.biz == "..")
        return error(errc::config_invalid, fmt::format("endpoint {}: client-folder needs a biz folder name (Deccus001, Sas, …)", cfg.id));
    if (cfg.dxp)
        if (auto s = dxp::check_config(*cfg.dxp); !s) return s.err();
    for (const fs::path& d : {cfg.outbox(), cfg.inbox(), cfg.sentbox(), cfg.failbox(), cfg.inbox() / ".work",
                              cfg.failbox() / ".work", cfg.archive(), cfg.archive() / "FailBox", cfg.errors()}) {
        std::error_code ec;
        fs::create_directories(d, ec);
        if (ec) return error(errc::io_error, fmt::format("cannot create {}: {}", d.string(), ec.message()));
    }
    return ok();
}

std::string file_name_for(const delivery& d) {
    std::string n = d.file_name.empty() ? fmt::format("{}_{}.xml", d.type, d.cop_msg_id) : d.file_name;
    for (char& c : n)
        if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20) c = '_';
    n.erase(0, n.find_first_not_of('.'));
    if (n.empty()) n = d.message_id.empty() ? "message.xml" : d.message_id + ".xml";
    return n;
}

// ---------------------------------------------------------------------------------------------------------
// endpoint

result<std::unique_ptr<client_folder_endpoint>> client_folder_endpoint::create(client_folder_config cfg) {
    if (auto s = prepare_folders(cfg); !s) return s.err();
    return std::unique_ptr<client_folder_endpoint>(new client_folder_endpoint(std::move(cfg)));
}

delivery_result client_folder_endpoint::send(const delivery& d) {
    delivery_result r;
    r.result = outcome::retry;
    try {
        const std::string name = file_name_for(d);
        const fs::path out = cfg_.outbox();
        const fs::path dest = out / name;
        std::error_code ec;
        fs::create_directories(out, ec);  // the client or an operator may have removed it
        std::string body = cfg_.dxp ? dxp::wrap(d, *cfg_.dxp) : d.bytes;
        if (auto st = write_file_atomically(dest, body, cfg_.fsync); !st) {
            r.code = "io";
            r.detail = st.err().message;
            return r;
        }
        r.result = outcome::accepted;
        r.code = "outbox";
        r.detail = fmt::format("written to {}", dest.string());
        return r;
    } catch (const std::exception& e) {
        r.code = "io";
        r.detail = fmt::format("endpoint {}: {}", cfg_.id, e.what());
        return r;
    } catch (...) {
        r.code = "io";
        r.detail = fmt::format("endpoint {}: unknown failure", cfg_.id);
        return r;
    }
}

std::string client_folder_endpoint::where(const std::string& file_name) const {
    std::error_code ec;
    if (fs::exists(cfg_.outbox() / file_name, ec)) return "outbox";
    if (fs::exists(cfg_.sentbox() / file_name, ec)) return "sent";
    if (fs::exists(cfg_.failbox() / file_name, ec) || fs::exists(cfg_.failbox() / ".work" / file_name, ec) ||
        fs::exists(cfg_.archive() / "FailBox" / file_name, ec))
        return "failed";
    return {};
}

// ---------------------------------------------------------------------------------------------------------
// reader

client_folder_reader::client_folder_reader(client_folder_config cfg, inbox_handler h)
    : cfg_(std::move(cfg)), handler_(std::move(h)) {}

client_folder_reader::~client_folder_reader() { stop(); }

status client_folder_reader::start() {
    if (auto s = prepare_folders(cfg_); !s) return s;
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
    return ok();
}

void client_folder_reader::stop() {
    {
        std::lock_guard lk(wait_mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void client_folder_reader::run() {
    while (!stopping_) {
        poll_once();
        std::unique_lock lk(wait_mu_);
        wake_.wait_for(lk, cfg_.poll_interval, [&] { return stopping_.load(); });
    }
}

client_folder_reader::counters client_folder_reader::stats() const {
    std::lock_guard lk(poll_mu_);
    return stats_;
}

std::size_t client_folder_reader::poll_once() {
    std::lock_guard lk(poll_mu_);
    std::size_t n = poll_source({cfg_.inbox(), cfg_.inbox() / ".work", cfg_.archive(), false});
    if (cfg_.read_failbox) n += poll_source({cfg_.failbox(), cfg_.failbox() / ".work", cfg_.archive() / "FailBox", true});
    return n;
}

std::size_t client_folder_reader::poll_source(const source& s) {
    std::size_t handed = 0;
    std::error_code ec;
    // 1. whatever a crash (or a retryable failure) left claimed
    std::vector<std::string> names;
    for (auto& e : fs::directory_iterator(s.work, ec)) {
        std::string name = e.path().filename().string();
        if (e.is_regular_file(ec) && !folder_intake::ignored_name(name)) names.push_back(std::move(name));
    }
    std::sort(names.begin(), names.end());
    for (auto& n : names) handed += process(s, n, true) ? 1 : 0;

    // 2. settled new files, oldest name first
    names.clear();
    const auto now = fs::file_time_type::clock::now();
    for (auto& e : fs::directory_iterator(s.dir, ec)) {
        std::string name = e.path().filename().string();
        std::error_code fe;
        if (!e.is_regular_file(fe) || folder_intake::ignored_name(name)) continue;
        auto t = fs::last_write_time(e.path(), fe);
        if (fe || now - t < cfg_.settle_time) continue;
        names.push_back(std::move(name));
    }
    std::sort(names.begin(), names.end());
    for (auto& n : names) {
        if (stopping_ && thread_.joinable()) break;
        std::error_code re;
        if (fs::exists(s.work / n, re)) continue;  // the same name is still claimed: it goes first
        fs::rename(s.dir / n, s.work / n, re);
        if (re) continue;  // gone (the client took it back) — nothing to do
        handed += process(s, n, false) ? 1 : 0;
    }
    return handed;
}

bool client_folder_reader::process(const source& s, const std::string& name, bool recovered) {
    const fs::path work = s.work / name;
    std::error_code ec;
    auto to_error = [&](const std::string& why, errc code) {
        fs::path dest = cfg_.errors() / (s.failbox ? "FailBox_" + name : name);
        if (fs::exists(dest, ec)) dest += "." + std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
        fs::rename(work, dest, ec);
        nlohmann::json j{{"file", name}, {"endpoint", cfg_.id}, {"code", code_string(code)}, {"error", why}};
        std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        fs::path err = dest;
        err += ".err.json";
        (void)write_file_atomically(err, text, false);
        spdlog::warn("client-folder {}: {} moved to {}: {}", cfg_.id, name, dest.string(), why);
        ++stats_.errors;
    };

    std::string why;
    auto bytes = read_all(work, cfg_.max_file_bytes, why);
    if (!bytes) {  // I/O: leave it claimed, the next poll tries again
        spdlog::warn("client-folder {}: {}", cfg_.id, why);
        ++stats_.retried;
        return false;
    }
    if (!why.empty()) {
        to_error(why, errc::payload_too_large);
        return false;
    }

    inbox_file f;
    f.name = name;
    f.recovered = recovered;
    f.sha256 = sha256_hex(*bytes);
    f.idempotency_key = fmt::format("client-folder:{}:{}:{}", cfg_.id, name, f.sha256);
    if (s.failbox) {
        f.kind = answer_kind::send_failed;
        f.original_name = name;
    } else if (starts_with(name, "Successed_")) {
        f.kind = answer_kind::success;
        f.original_name = name.substr(10);
    } else if (starts_with(name, "Failed_")) {
        f.kind = answer_kind::failure;
        f.original_name = name.substr(7);
    }

    // Already handed over and archived (the same name and content came again, or a crash hit between
    // the archive rename and … nothing else): drop the claimed copy, the archive keeps the bytes.
    const fs::path plain = s.archive / name;
    const fs::path hashed = s.archive / (name + "." + f.sha256.substr(0, 12));
    if ((fs::exists(plain, ec) && sha256_of_file(plain) == f.sha256) || (fs::exists(hashed, ec) && sha256_of_file(hashed) == f.sha256)) {
        fs::remove(work, ec);
        ++stats_.duplicates;
        spdlog::info("client-folder {}: {} was handed over before (same name and sha256), not again", cfg_.id, name);
        return false;
    }

    f.bytes = std::move(*bytes);
    status st = error(errc::internal, "handler did not run");
    try {
        st = handler_(f);
    } catch (const std::exception& e) {
        st = error(errc::internal, fmt::format("handler failed: {}", e.what()));
    } catch (...) {
        st = error(errc::internal, "handler failed");
    }
    if (!st) {
        if (is_retryable(st.err().code)) {
            spdlog::warn("client-folder {}: {} stays claimed, retried at the next poll: {}", cfg_.id, name, st.err().message);
            ++stats_.retried;
        } else {
            to_error(st.err().message, st.err().code);
        }
        return false;
    }
    const fs::path dest = fs::exists(plain, ec) ? hashed : plain;
    fs::rename(work, dest, ec);
    if (ec) spdlog::error("client-folder {}: cannot archive {}: {} (handed over again later; same key)", cfg_.id, name, ec.message());
    ++stats_.handed;
    return true;
}

}  // namespace portgate::adapters::client_folder

#include "gateway/formats/codes.hpp"

#include "gateway/core/files.hpp"

#include <algorithm>
#include <fstream>

#include <fmt/format.h>

namespace portgate::formats {
namespace fs = std::filesystem;

namespace {
std::string upper(std::string_view s) {
    std::string r(s);
    for (auto& c : r)
        if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
    return r;
}
std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
    return std::string(s);
}
}  // namespace

const code_entry* code_table::find(std::string_view code) const {
    auto it = by_code_.find(std::string(code));
    return it == by_code_.end() ? nullptr : &entries_[it->second];
}

const code_entry* code_table::lookup(std::string_view code_or_alias) const {
    if (auto* e = find(code_or_alias)) return e;
    auto it = by_alias_.find(upper(code_or_alias));
    return it == by_alias_.end() ? nullptr : &entries_[it->second];
}

result<std::shared_ptr<const code_tables>> code_tables::load(const fs::path& dir) {
    auto out = std::make_shared<code_tables>();
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return std::shared_ptr<const code_tables>(out);
    std::vector<problem> problems;
    const auto files = files_in(dir, {".tsv"});
    for (auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) {
            problems.push_back({0, 0, f.string(), fmt::format("{}: cannot read", f.string()), ""});
            continue;
        }
        code_table t;
        t.name_ = f.stem().string();
        std::string line;
        int n = 0;
        while (std::getline(in, line)) {
            ++n;
            if (n == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty() || line[0] == '#') continue;
            std::vector<std::string> cols;
            std::size_t start = 0;
            for (;;) {
                auto tab = line.find('\t', start);
                cols.push_back(trim(std::string_view(line).substr(start, tab == std::string::npos ? std::string::npos : tab - start)));
                if (tab == std::string::npos) break;
                start = tab + 1;
            }
            if (cols[0].empty()) {
                problems.push_back({n, 0, f.string(), fmt::format("{}:{}: empty code", f.string(), n), ""});
                continue;
            }
            code_entry e;
            e.code = cols[0];
            if (cols.size() > 1) e.name_zh = cols[1];
            if (cols.size() > 2) e.name_en = cols[2];
            if (cols.size() > 3) e.alias = cols[3];
            for (std::size_t i = 4; i < cols.size(); ++i) e.extra.push_back(cols[i]);
            if (t.by_code_.count(e.code)) {
                problems.push_back({n, 0, f.string(), fmt::format("{}:{}: duplicate code '{}'", f.string(), n, e.code), ""});
                continue;
            }
            t.by_code_.emplace(e.code, t.entries_.size());
            if (!e.alias.empty()) t.by_alias_.emplace(upper(e.alias), t.entries_.size());
            t.entries_.push_back(std::move(e));
        }
        out->tables_.emplace(t.name_, std::move(t));
    }
    if (!problems.empty())
        return error(errc::config_invalid, fmt::format("{} problem(s) in the code tables of {}", problems.size(), dir.string()),
                     std::move(problems));
    return std::shared_ptr<const code_tables>(out);
}

const code_table* code_tables::table(std::string_view name) const {
    auto it = tables_.find(name);
    return it == tables_.end() ? nullptr : &it->second;
}

std::vector<std::string> code_tables::names() const {
    std::vector<std::string> r;
    for (auto& [k, v] : tables_) r.push_back(k);
    return r;
}

}  // namespace portgate::formats

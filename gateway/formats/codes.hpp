// Customs code tables (xsd/codes/<table>.tsv): currency, country, unit, transport mode, trade mode, customs
// area, and the status tables that give receipt codes their meaning. Loaded once, read-only afterwards,
// shared by the business rules (pg:in-table), the receipt reader and the mappings (pg:code).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/core/error.hpp"

namespace portgate::formats {

struct code_entry {
    std::string code;
    std::string name_zh;
    std::string name_en;
    std::string alias;               // e.g. ISO letter code (USD), unit abbreviation (kg); may be empty
    std::vector<std::string> extra;  // further columns (status tables: final flag, ok/bad judgement)
};

class code_table {
public:
    const std::string& name() const { return name_; }
    const code_entry* find(std::string_view code) const;
    // By alias or code, case-insensitive on the alias (pg:code('currency','USD') → 502).
    const code_entry* lookup(std::string_view code_or_alias) const;
    std::size_t size() const { return entries_.size(); }
    const std::vector<code_entry>& entries() const { return entries_; }

private:
    std::string name_;
    std::vector<code_entry> entries_;
    std::unordered_map<std::string, std::size_t> by_code_;
    std::unordered_map<std::string, std::size_t> by_alias_;  // upper-cased alias
    friend class code_tables;
};

class code_tables {
public:
    // Loads every *.tsv in `dir`. Errors name the file and line (duplicate code, empty code, bad column count).
    // A missing directory yields an empty set (no table known).
    static result<std::shared_ptr<const code_tables>> load(const std::filesystem::path& dir);
    const code_table* table(std::string_view name) const;
    std::vector<std::string> names() const;

private:
    std::map<std::string, code_table, std::less<>> tables_;
};

}  // namespace portgate::formats

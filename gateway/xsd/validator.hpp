// XSD validation on Xerces-C++: each named schema is compiled once into a locked grammar pool and shared
// by all threads; imports are resolved only through the local catalog (xsd/catalog.toml), never the network.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/error.hpp"

namespace portgate::xsd {

// Call once at process start (XMLPlatformUtils::Initialize); safe to call again.
void initialise();

// One compiled schema (an entry .xsd and everything it imports), ready to validate documents.
// Thread-safe: validate() may be called from any number of threads at once.
class schema {
public:
    virtual ~schema() = default;
    // Validates `bytes`. Value: the problems found (empty = valid), each with line, column, message.
    // Error (not a verdict): the document could not be checked at all.
    virtual result<std::vector<problem>> validate(std::string_view bytes,
                                                   std::string_view system_id = "document") const = 0;
    virtual const std::string& name() const = 0;
    virtual const std::filesystem::path& file() const = 0;
};

// The catalog of xsd/: named schemas and the namespace → file table for imports.
class catalog {
public:
    // Loads `<xsd_dir>/catalog.toml` and compiles every named schema in it. Errors name the file and line.
    static result<std::shared_ptr<const catalog>> load(const std::filesystem::path& xsd_dir);

    // Compiles one schema file outside the catalog's names (for `portgate validate --schema FILE.xsd`);
    // its imports still resolve through this catalog's namespace table.
    result<std::shared_ptr<const schema>> compile_file(const std::filesystem::path& xsd_file) const;

    // nullptr when unknown.
    std::shared_ptr<const schema> find(std::string_view name) const;
    std::vector<std::string> names() const;
    const std::filesystem::path& dir() const { return dir_; }

private:
    std::filesystem::path dir_;
    std::map<std::string, std::filesystem::path, std::less<>> namespaces_;
    std::map<std::string, std::shared_ptr<const schema>, std::less<>> schemas_;
    friend struct catalog_access;
};

}  // namespace portgate::xsd

// XSD validation on Xerces-C++: reads xsd/catalog.toml, compiles each named schema into its own locked
// grammar pool with imports resolved only through the catalog, and validates documents against a pool
// with parsers reused across calls. Xerces exceptions stop here and become problems or error values.
#include "gateway/xsd/validator.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <toml++/toml.h>

#include <xercesc/framework/LocalFileInputSource.hpp>
#include <xercesc/framework/MemBufInputSource.hpp>
#include <xercesc/framework/XMLGrammarPoolImpl.hpp>
#include <xercesc/parsers/SAX2XMLReaderImpl.hpp>
#include <xercesc/sax/ErrorHandler.hpp>
#include <xercesc/sax/Locator.hpp>
#include <xercesc/sax/SAXParseException.hpp>
#include <xercesc/sax2/DefaultHandler.hpp>
#include <xercesc/util/OutOfMemoryException.hpp>
#include <xercesc/util/PlatformUtils.hpp>
#include <xercesc/util/SecurityManager.hpp>
#include <xercesc/util/TransService.hpp>
#include <xercesc/util/XMLEntityResolver.hpp>
#include <xercesc/util/XMLException.hpp>
#include <xercesc/util/XMLResourceIdentifier.hpp>
#include <xercesc/util/XMLUni.hpp>
#include <xercesc/util/regx/RangeToken.hpp>
#include <xercesc/util/regx/RegularExpression.hpp>
#include <xercesc/util/regx/Token.hpp>
#include <xercesc/validators/common/Grammar.hpp>
#include <xercesc/validators/datatype/DatatypeValidatorFactory.hpp>
#include <xercesc/validators/datatype/ListDatatypeValidator.hpp>
#include <xercesc/validators/datatype/UnionDatatypeValidator.hpp>
#include <xercesc/validators/schema/ComplexTypeInfo.hpp>
#include <xercesc/validators/schema/SchemaAttDef.hpp>
#include <xercesc/validators/schema/SchemaElementDecl.hpp>
#include <xercesc/validators/schema/SchemaGrammar.hpp>

namespace portgate::xsd {

namespace fs = std::filesystem;
namespace xc = XERCES_CPP_NAMESPACE;

namespace {

// Past this many problems a document is plainly wrong; more detail only costs memory and log space.
constexpr std::size_t max_problems = 100;
// Idle readers kept per schema; more than the worker count is never useful.
constexpr std::size_t max_idle_readers = 64;
// Entity expansion cap for validation parsers (DOCTYPEs are refused anyway; this is the second wall).
constexpr XMLSize_t entity_expansion_limit = 100;

using namespace_map = std::map<std::string, fs::path, std::less<>>;

// ---------------------------------------------------------------------------------------------------
// Strings and paths

// UTF-16 ↔ UTF-8 through one transcoder object, reused by its owner (creating one per message is costly).
class utf8_transcoder {
public:
    utf8_transcoder() {
        xc::XMLTransService::Codes code{};
        trans_.reset(xc::XMLPlatformUtils::fgTransService->makeNewTranscoderFor(
            "UTF-8", code, 16 * 1024, xc::XMLPlatformUtils::fgMemoryManager));
        if (!trans_) throw std::runtime_error("Xerces has no UTF-8 transcoder");
    }

    std::string to_utf8(const XMLCh* s) const {
        if (!s || !*s) return {};
        try {
            xc::TranscodeToStr out(s, trans_.get());
            return {reinterpret_cast<const char*>(out.str()), out.length()};
        } catch (const xc::XMLException&) {
            return "(message not representable in UTF-8)";
        }
    }

    // The caller owns the returned buffer (Xerces' memory manager); see xml_string.
    XMLCh* from_utf8(std::string_view s) const {
        xc::TranscodeFromStr in(reinterpret_cast<const XMLByte*>(s.data()), s.size(), trans_.get());
        return in.adopt();
    }

private:
    std::unique_ptr<xc::XMLTranscoder> trans_;
};

struct xml_string_deleter {
    void operator()(XMLCh* p) const { xc::XMLPlatformUtils::fgMemoryManager->deallocate(p); }
};
using xml_string = std::unique_ptr<XMLCh, xml_string_deleter>;

std::string to_utf8(const XMLCh* s) {
    if (!s || !*s) return {};
    try {
        xc::TranscodeToStr out(s, "UTF-8");
        return {reinterpret_cast<const char*>(out.str()), out.length()};
    } catch (const xc::XMLException&) {
        return "(message not representable in UTF-8)";
    }
}

xml_string from_utf8(std::string_view s) {
    xc::TranscodeFromStr in(reinterpret_cast<const XMLByte*>(s.data()), s.size(), "UTF-8");
    return xml_string(in.adopt());
}

int to_int(XMLFileLoc v) { return v > 0x7fffffff ? 0x7fffffff : static_cast<int>(v); }

// True when `p` lies inside `root`; both already absolute and lexically normal. Lexical, not canonical,
// on purpose: what is refused is a schema *naming* a place outside the tree ("../..", "file:/etc"), while
// symlinks put into xsd/ by the operator are configuration and are followed.
bool is_within(const fs::path& p, const fs::path& root) {
    auto r = root;
    if (r.filename().empty()) r = r.parent_path();
    return std::mismatch(r.begin(), r.end(), p.begin(), p.end()).first == r.end();
}

bool is_within_any(const fs::path& p, const std::vector<fs::path>& roots) {
    return std::any_of(roots.begin(), roots.end(), [&](const fs::path& r) { return is_within(p, r); });
}

fs::path normal_absolute(const fs::path& p) {
    std::error_code ec;
    auto a = fs::absolute(p, ec);
    return (ec ? p : a).lexically_normal();
}

// "http", "file", … or empty for a relative reference.
std::string_view uri_scheme(std::string_view s) {
    static const std::regex scheme_re("^([A-Za-z][A-Za-z0-9+.-]*):");
    std::match_results<std::string_view::const_iterator> m;
    if (std::regex_search(s.begin(), s.end(), m, scheme_re)) return s.substr(0, m.length(1));
    return {};
}

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

// "file:///a/b" or "file:/a/b" → "/a/b"; other file: forms (with a host) are not local and give nullopt.
std::optional<fs::path> file_url_path(std::string_view url) {
    auto rest = url.substr(5);  // after "file:"
    if (rest.starts_with("///")) return fs::path(percent_decode(rest.substr(2)));
    if (rest.starts_with("//localhost/")) return fs::path(percent_decode(rest.substr(11)));
    if (rest.starts_with("/") && !rest.starts_with("//")) return fs::path(percent_decode(rest));
    return std::nullopt;
}

// Xerces' system ids for our own inputs are the plain paths we gave it, but be lenient with file: URLs.
fs::path system_id_path(const std::string& id) {
    if (uri_scheme(id) == "file")
        if (auto p = file_url_path(id)) return *p;
    return fs::path(id);
}

// "ceb/ceb-import.xsd" for files under the xsd directory, the full path otherwise.
std::string display_name(const std::string& system_id, const fs::path& dir) {
    if (system_id.empty()) return "(schema)";
    auto p = normal_absolute(system_id_path(system_id));
    if (is_within(p, dir)) return p.lexically_relative(dir).generic_string();
    return p.string();
}

// "ceb/ceb-import.xsd:12:7: message" — the form editors and CI logs jump to.
std::string at(const std::string& where, int line, int column, std::string_view message) {
    if (line <= 0) return fmt::format("{}: {}", where, message);
    if (column <= 0) return fmt::format("{}:{}: {}", where, line, message);
    return fmt::format("{}:{}:{}: {}", where, line, column, message);
}

// ---------------------------------------------------------------------------------------------------
// Error collection

// Collects every error and fatal error (warnings are not verdicts) as problems, up to max_problems.
class problem_collector final : public xc::ErrorHandler {
public:
    // With `schema_dir` set, messages name the schema file they are about (load time); without, the
    // document is implied (validation time).
    explicit problem_collector(const utf8_transcoder& utf8, std::optional<fs::path> schema_dir = {})
        : utf8_(utf8), schema_dir_(std::move(schema_dir)) {}

    void warning(const xc::SAXParseException&) override {}
    void error(const xc::SAXParseException& e) override {
        if (add(e) && !doc_.empty()) name_element(problems_.back());
    }
    void fatalError(const xc::SAXParseException& e) override { add(e); }
    // Xerces calls this at the start of every (nested) parse; the owner clears explicitly instead.
    void resetErrors() override {}

    bool add(const xc::SAXParseException& e) {
        const int line = to_int(e.getLineNumber()), column = to_int(e.getColumnNumber());
        auto message = utf8_.to_utf8(e.getMessage());
        if (schema_dir_)
            message = at(display_name(utf8_.to_utf8(e.getSystemId()), *schema_dir_), line, column, message);
        return add(problem{line, column, "", std::move(message), ""});
    }
    // False when the problem only went into the count past max_problems.
    bool add(problem p) {
        if (problems_.size() < max_problems) {
            problems_.push_back(std::move(p));
            return true;
        }
        ++dropped_;
        return false;
    }
    // The document being validated, for naming elements in messages; empty at load time.
    void begin_document(std::string_view bytes) {
        clear();
        doc_ = bytes;
        line_ = 1;
        line_start_ = 0;
    }
    void end_document() { doc_ = {}; }

    // Line and column of the first occurrence of `what` in the document (for the DOCTYPE problem).
    std::pair<int, int> position_of(std::string_view what) const {
        const auto at = doc_.find(what);
        if (at == std::string_view::npos) return {0, 0};
        const auto before = doc_.substr(0, at);
        const auto nl = before.rfind('\n');
        return {static_cast<int>(std::count(before.begin(), before.end(), '\n')) + 1,
                static_cast<int>(nl == std::string_view::npos ? at + 1 : at - nl)};
    }

    std::vector<problem> take() {
        auto out = std::move(problems_);
        if (dropped_ > 0) out.push_back(problem{0, 0, "", fmt::format("… {} more errors", dropped_), ""});
        clear();
        return out;
    }
    void clear() {
        problems_.clear();
        dropped_ = 0;
    }

private:
    const utf8_transcoder& utf8_;
    std::optional<fs::path> schema_dir_;
    // Xerces' value messages ("value '8' has length '1' …") do not say which element they are about, and
    // tracking elements through a ContentHandler costs a quarter of the validation time. Instead the name
    // is read back from the document, only when there is an error: Xerces reports validity errors just
    // after the '>' of the tag concerned (the end tag for content and values, the start tag for
    // attributes), so the tag name is the one opened by the nearest '<' before that point.
    void name_element(problem& p) {
        auto name = tag_before(p.line, p.column);
        if (name.empty()) return;
        const auto quoted = fmt::format("'{}'", name);
        if (p.message.find(quoted) == std::string::npos) p.message = fmt::format("element {}: {}", quoted, p.message);
    }

    // The name of the tag ending just before (line, column), or empty when the bytes do not show one
    // there (UTF-16 or legacy encodings, whose columns do not map onto these bytes: no name is better
    // than a wrong one).
    std::string_view tag_before(int line, int column) {
        if (line < 1 || column < 2) return {};
        if (line < line_) {  // errors come in document order; restart if one ever does not
            line_ = 1;
            line_start_ = 0;
        }
        while (line_ < line) {
            const auto nl = doc_.find('\n', line_start_);
            if (nl == std::string_view::npos) return {};
            line_start_ = nl + 1;
            ++line_;
        }
        // Columns count UTF-16 units; step over UTF-8 sequences accordingly.
        std::size_t at = line_start_;
        for (int units = column - 1; units > 0;) {
            if (at >= doc_.size() || doc_[at] == '\n') return {};
            const auto c = static_cast<unsigned char>(doc_[at]);
            const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
            units -= len == 4 ? 2 : 1;
            at += len;
        }
        if (at == 0 || at > doc_.size() || doc_[at - 1] != '>') return {};
        const auto lt = doc_.rfind('<', at - 1);
        if (lt == std::string_view::npos) return {};
        auto b = lt + 1;
        if (b < at && doc_[b] == '/') ++b;
        auto e = b;
        while (e < at && doc_[e] != '>' && doc_[e] != '/' && !std::isspace(static_cast<unsigned char>(doc_[e]))) ++e;
        return doc_.substr(b, e - b);
    }

    std::vector<problem> problems_;
    std::size_t dropped_ = 0;
    std::string_view doc_;
    int line_ = 1;
    std::size_t line_start_ = 0;
};

// ---------------------------------------------------------------------------------------------------
// Entity resolution

// Load time: every xs:import / xs:include / xs:redefine resolves to a file under the allowed roots, either
// by its relative schemaLocation or by its namespace in [namespaces]; anything else is refused and the
// refusal becomes a compile problem (a silently skipped import would only show up later as "type not
// found", far from its cause).
class import_resolver final : public xc::XMLEntityResolver {
public:
    import_resolver(const namespace_map& namespaces, fs::path dir, std::vector<fs::path> roots,
                    const utf8_transcoder& utf8)
        : namespaces_(namespaces), dir_(std::move(dir)), roots_(std::move(roots)), utf8_(utf8) {}

    xc::InputSource* resolveEntity(xc::XMLResourceIdentifier* ri) override {
        const auto type = ri->getResourceIdentifierType();
        const auto location = utf8_.to_utf8(ri->getSystemId());
        const auto base = utf8_.to_utf8(ri->getBaseURI());

        if (type == xc::XMLResourceIdentifier::ExternalEntity) {
            // Published schemas (the W3C xmldsig-core one among them) carry a DOCTYPE naming
            // XMLSchema.dtd. Schema documents are read without DTD validation, so the external subset
            // is replaced by nothing instead of being fetched. Other external entities are refused.
            // Never nullptr here: the parser Xerces uses for imported schema documents does not honour
            // disable-default-entity-resolution and would go to the network.
            if (location.ends_with(".dtd")) return blank_source(location);
            refuse(ri, fmt::format("external entity '{}' is not allowed in a schema", location));
            return blank_source(location);
        }

        // (1) A relative (or file:) schemaLocation that exists inside the allowed roots.
        std::optional<fs::path> local;
        const auto scheme = uri_scheme(location);
        if (!location.empty() && (scheme.empty() || scheme == "file")) {
            std::optional<fs::path> p;
            if (scheme.empty()) {
                auto base_dir = base.empty() ? dir_ : system_id_path(base).parent_path();
                p = normal_absolute(base_dir / percent_decode(location));
            } else if (auto fp = file_url_path(location)) {
                p = fp->lexically_normal();
            }
            if (!p || !is_within_any(*p, roots_)) {
                refuse(ri, fmt::format("schemaLocation '{}' points outside the schema directory {}",
                                       location, dir_.string()));
                return nullptr;
            }
            std::error_code ec;
            if (fs::is_regular_file(*p, ec)) local = *p;
        }
        if (local) return file_source(*local);

        // (2) The namespace through the catalog — imports only: an include's namespace is the
        // including schema's own and must never redirect to the catalog entry for it.
        const auto ns = utf8_.to_utf8(ri->getNameSpace());
        const bool is_import = type == xc::XMLResourceIdentifier::SchemaImport ||
                               type == xc::XMLResourceIdentifier::SchemaGrammar;
        if (is_import && !ns.empty()) {
            if (auto it = namespaces_.find(ns); it != namespaces_.end()) return file_source(it->second);
        }

        // (3) Refuse, saying what would have made it work.
        if (location.empty())
            refuse(ri, fmt::format("import of namespace '{}' has no schemaLocation and the namespace is "
                                   "not in [namespaces] of catalog.toml",
                                   ns));
        else if (!scheme.empty() && scheme != "file" && is_import)
            refuse(ri, fmt::format("schemaLocation '{}' (namespace '{}') is not fetched: add the namespace "
                                   "to [namespaces] in catalog.toml with a local copy",
                                   location, ns));
        else if (!scheme.empty() && scheme != "file")
            refuse(ri, fmt::format("schemaLocation '{}' is not fetched: an include or redefine must name a "
                                   "local file relative to the including schema",
                                   location));
        else
            refuse(ri, fmt::format("schemaLocation '{}' not found (looked for it relative to {}{})", location,
                                   display_name(base, dir_),
                                   is_import && !ns.empty() ? fmt::format(", and namespace '{}' is not in "
                                                                          "[namespaces] of catalog.toml",
                                                                          ns)
                                                            : ""));
        return nullptr;
    }

    std::vector<problem> take_refusals() { return std::move(refusals_); }

private:
    xc::InputSource* file_source(const fs::path& p) const {
        auto path = from_utf8(p.string());
        return new xc::LocalFileInputSource(path.get());
    }
    xc::InputSource* blank_source(const std::string& id) const {
        // One space, not zero bytes: Xerces 3.2 leaks on an empty external subset. (It still leaks ~190
        // bytes per *imported* schema document naming an external DTD, once per compile.)
        static const XMLByte blank[1] = {' '};
        auto sid = from_utf8(id);
        return new xc::MemBufInputSource(blank, 1, sid.get());
    }
    void refuse(const xc::XMLResourceIdentifier* ri, std::string why) {
        int line = 0, column = 0;
        std::string where = display_name(utf8_.to_utf8(ri->getBaseURI()), dir_);
        if (auto* loc = ri->getLocator()) {
            line = to_int(loc->getLineNumber());
            column = to_int(loc->getColumnNumber());
            if (auto id = utf8_.to_utf8(loc->getSystemId()); !id.empty()) where = display_name(id, dir_);
        }
        refusals_.push_back(problem{line, column, "", at(where, line, column, why), ""});
    }

    const namespace_map& namespaces_;
    fs::path dir_;
    std::vector<fs::path> roots_;
    const utf8_transcoder& utf8_;
    std::vector<problem> refusals_;
};

// Validation time: the grammar pool is all there is. Nothing a document names is ever loaded.
class refusing_resolver final : public xc::XMLEntityResolver {
public:
    xc::InputSource* resolveEntity(xc::XMLResourceIdentifier*) override { return nullptr; }
};

// Thrown from the DOCTYPE callback to stop the scan before any DTD content is read; caught in validate().
struct doctype_refused {};

// Xerces 3.2's SAX2 reader has no "disallow-doctype" feature (only DOMLSParser does), so the DOCTYPE is
// refused from the lexical handler, which Xerces calls before it reads the internal or external subset.
// Only a lexical handler: a ContentHandler would make the reader build attribute lists for every element.
class doctype_guard final : public xc::DefaultHandler {
public:
    explicit doctype_guard(problem_collector& problems) : problems_(problems) {}
    void startDTD(const XMLCh*, const XMLCh*, const XMLCh*) override {
        const auto [line, column] = problems_.position_of("<!DOCTYPE");
        problems_.add(problem{line, column, "", "DOCTYPE is not allowed: DTDs and entities are never processed", ""});
        throw doctype_refused{};
    }

private:
    problem_collector& problems_;
};

// ---------------------------------------------------------------------------------------------------
// Compiled schema

// The concrete reader, not the factory's SAX2XMLReader: only it takes an XMLEntityResolver, which is told
// the namespace and kind (import, include) of what is asked for.
xc::SAX2XMLReaderImpl* new_reader(xc::XMLGrammarPool* pool) {
    return new xc::SAX2XMLReaderImpl(xc::XMLPlatformUtils::fgMemoryManager, pool);
}

// One parser bound to a locked pool, with its handlers. Used by one thread at a time.
struct validating_reader {
    explicit validating_reader(xc::XMLGrammarPool* pool) : problems(utf8), guard(problems) {
        security.setEntityExpansionLimit(entity_expansion_limit);
        reader.reset(new_reader(pool));
        auto& r = *reader;
        r.setFeature(xc::XMLUni::fgSAX2CoreNameSpaces, true);
        r.setFeature(xc::XMLUni::fgSAX2CoreNameSpacePrefixes, false);
        r.setFeature(xc::XMLUni::fgXercesSchema, true);
        // "Always", not "auto": a root element the pool does not declare must be an error, not a pass.
        r.setFeature(xc::XMLUni::fgSAX2CoreValidation, true);
        r.setFeature(xc::XMLUni::fgXercesDynamic, false);
        r.setFeature(xc::XMLUni::fgXercesUseCachedGrammarInParse, true);
        r.setFeature(xc::XMLUni::fgXercesCacheGrammarFromParse, false);
        r.setFeature(xc::XMLUni::fgXercesLoadSchema, false);
        r.setFeature(xc::XMLUni::fgXercesLoadExternalDTD, false);
        r.setFeature(xc::XMLUni::fgXercesDisableDefaultEntityResolution, true);
        r.setFeature(xc::XMLUni::fgXercesHandleMultipleImports, true);
        r.setFeature(xc::XMLUni::fgXercesIdentityConstraintChecking, true);
        r.setProperty(xc::XMLUni::fgXercesSecurityManager, &security);
        r.setXMLEntityResolver(&resolver);
        r.setErrorHandler(&problems);
        r.setLexicalHandler(&guard);
    }

    utf8_transcoder utf8;
    problem_collector problems;
    doctype_guard guard;
    refusing_resolver resolver;
    xc::SecurityManager security;
    std::unique_ptr<xc::SAX2XMLReaderImpl> reader;  // last: destroyed first, it points at the members above
};

class compiled_schema final : public schema {
public:
    compiled_schema(std::string name, fs::path file, std::unique_ptr<xc::XMLGrammarPool> pool)
        : name_(std::move(name)), file_(std::move(file)), pool_(std::move(pool)) {}

    result<std::vector<problem>> validate(std::string_view bytes, std::string_view system_id) const override {
        std::unique_ptr<validating_reader> r;
        try {
            r = acquire();
        } catch (const xc::XMLException& e) {
            return error(errc::internal, fmt::format("cannot create a validating parser for schema '{}': {}",
                                                     name_, to_utf8(e.getMessage())));
        } catch (const std::exception& e) {
            return error(errc::internal,
                         fmt::format("cannot create a validating parser for schema '{}': {}", name_, e.what()));
        } catch (...) {
            return error(errc::internal, fmt::format("cannot create a validating parser for schema '{}'", name_));
        }

        r->problems.begin_document(bytes);
        // After anything thrown mid-scan the parser's state is not trusted again: it is dropped.
        bool reusable = true;
        try {
            auto id = xml_string(r->utf8.from_utf8(system_id));
            xc::MemBufInputSource source(reinterpret_cast<const XMLByte*>(bytes.data()), bytes.size(), id.get(),
                                         false, xc::XMLPlatformUtils::fgMemoryManager);
            r->reader->parse(source);
        } catch (const doctype_refused&) {
            reusable = false;
        } catch (const xc::OutOfMemoryException&) {
            return error(errc::internal, fmt::format("out of memory validating against schema '{}'", name_));
        } catch (const xc::SAXParseException& e) {
            r->problems.add(e);
            reusable = false;
        } catch (const xc::XMLException& e) {
            r->problems.add(problem{0, 0, "", r->utf8.to_utf8(e.getMessage()), ""});
            reusable = false;
        } catch (const xc::SAXException& e) {
            return error(errc::internal, fmt::format("validation against schema '{}' failed: {}", name_,
                                                     r->utf8.to_utf8(e.getMessage())));
        } catch (...) {
            return error(errc::internal, fmt::format("validation against schema '{}' failed", name_));
        }
        auto found = r->problems.take();
        r->problems.end_document();
        if (reusable) release(std::move(r));
        return found;
    }

    const std::string& name() const override { return name_; }
    const fs::path& file() const override { return file_; }

private:
    // A small free list rather than thread_local parsers: readers die with their schema (a thread-local
    // cache would outlive a reloaded catalog and point into a freed pool), and the lock is held only to
    // pop or push one pointer.
    std::unique_ptr<validating_reader> acquire() const {
        {
            std::lock_guard lock(mutex_);
            if (!idle_.empty()) {
                auto r = std::move(idle_.back());
                idle_.pop_back();
                return r;
            }
        }
        return std::make_unique<validating_reader>(pool_.get());
    }
    void release(std::unique_ptr<validating_reader> r) const {
        std::lock_guard lock(mutex_);
        if (idle_.size() < max_idle_readers) idle_.push_back(std::move(r));
    }

    std::string name_;
    fs::path file_;
    std::unique_ptr<xc::XMLGrammarPool> pool_;  // before idle_: the readers must be destroyed first
    mutable std::mutex mutex_;
    mutable std::vector<std::unique_ptr<validating_reader>> idle_;
};

std::string first_and_count(const std::vector<problem>& problems) {
    if (problems.empty()) return "";
    auto s = problems.front().message;
    if (problems.size() > 1) s += fmt::format(" (and {} more)", problems.size() - 1);
    return s;
}

// ---------------------------------------------------------------------------------------------------
// Pattern facets, made safe to share between threads

// Xerces compiles a pattern facet once, but each character class in it (a RangeToken, including the
// process-wide ones behind \d, \w, \i, \c) builds its lookup map on first use, unsynchronised. Two workers
// validating a fresh schema at once could both build it: an assertion failure in Xerces
// (RangeToken::doCreateMap) or, without assertions, a pattern that fails on a valid value. Every map is
// therefore built here, on one thread, before the pool is shared. The token tree, the first-character
// class and a validator's pattern are protected members; pointers to members reach them without a cast.
struct regex_parts : xc::RegularExpression {
    static constexpr auto tree = &regex_parts::fTokenTree;
    static constexpr auto first_char = &regex_parts::fFirstChar;
    static xc::RangeToken* word_range() { return fWordRange; }
};
struct validator_parts : xc::DatatypeValidator {
    static constexpr auto regex = &validator_parts::getRegex;
};

class regex_primer {
public:
    void grammars(xc::XMLGrammarPool& pool) {
        validators(xc::DatatypeValidatorFactory::getBuiltInRegistry());
        auto grammars = pool.getGrammarEnumerator();
        while (grammars.hasMoreElements()) {
            auto& grammar = grammars.nextElement();
            if (grammar.getGrammarType() != xc::Grammar::SchemaGrammarType) continue;
            auto& schema = static_cast<xc::SchemaGrammar&>(grammar);
            if (auto* registry = schema.getDatatypeRegistry()) validators(registry->getUserDefinedRegistry());
            if (auto* types = schema.getComplexTypeRegistry()) {
                xc::RefHashTableOfEnumerator<xc::ComplexTypeInfo> e(types, false);
                while (e.hasMoreElements()) complex_type(&e.nextElement());
            }
            if (auto* attributes = schema.getAttributeDeclRegistry()) {
                xc::RefHashTableOfEnumerator<xc::XMLAttDef> e(attributes, false);
                while (e.hasMoreElements()) attribute(e.nextElement());
            }
            auto elements = schema.getElemEnumerator();
            while (elements.hasMoreElements()) {
                auto& element = elements.nextElement();
                validator(element.getDatatypeValidator());
                complex_type(element.getComplexTypeInfo());
            }
        }
        token(regex_parts::word_range());
    }

private:
    void validators(xc::RefHashTableOf<xc::DatatypeValidator>* table) {
        if (!table) return;
        xc::RefHashTableOfEnumerator<xc::DatatypeValidator> e(table, false);
        while (e.hasMoreElements()) validator(&e.nextElement());
    }
    void validator(xc::DatatypeValidator* dv) {
        while (dv && seen_validators_.insert(dv).second) {
            if (auto* regex = (dv->*validator_parts::regex)()) {
                token(regex->*regex_parts::tree);
                token(regex->*regex_parts::first_char);
            }
            if (dv->getType() == xc::DatatypeValidator::List)
                validator(static_cast<xc::ListDatatypeValidator*>(dv)->getItemTypeDTV());
            if (dv->getType() == xc::DatatypeValidator::Union) {
                if (auto* members = static_cast<xc::UnionDatatypeValidator*>(dv)->getMemberTypeValidators())
                    for (XMLSize_t i = 0; i < members->size(); ++i) validator(members->elementAt(i));
            }
            dv = dv->getBaseValidator();
        }
    }
    void complex_type(xc::ComplexTypeInfo* type) {
        if (!type || !seen_types_.insert(type).second) return;
        validator(type->getDatatypeValidator());
        validator(type->getBaseDatatypeValidator());
        if (!type->hasAttDefs()) return;
        auto& list = type->getAttDefList();
        for (XMLSize_t i = 0; i < list.getAttDefCount(); ++i) attribute(list.getAttDef(i));
    }
    void attribute(xc::XMLAttDef& def) {
        if (auto* schema_def = dynamic_cast<xc::SchemaAttDef*>(&def)) validator(schema_def->getDatatypeValidator());
    }
    void token(xc::Token* t) {
        if (!t || !seen_tokens_.insert(t).second) return;
        auto type = t->getTokenType();
        if (type == xc::Token::T_RANGE || type == xc::Token::T_NRANGE) static_cast<xc::RangeToken*>(t)->createMap();
        for (XMLSize_t i = 0; i < t->size(); ++i) token(t->getChild(i));
    }

    std::set<const void*> seen_validators_, seen_types_, seen_tokens_;
};

// Compiles `file` into a fresh pool, then locks it. `roots` are the directories relative
// schemaLocations may reach.
result<std::shared_ptr<const schema>> compile(std::string name, const fs::path& file, const namespace_map& namespaces,
                                              const fs::path& dir, std::vector<fs::path> roots) {
    std::vector<problem> problems;
    std::unique_ptr<xc::XMLGrammarPool> pool;
    try {
        utf8_transcoder utf8;
        pool = std::make_unique<xc::XMLGrammarPoolImpl>(xc::XMLPlatformUtils::fgMemoryManager);
        import_resolver resolver(namespaces, dir, std::move(roots), utf8);
        problem_collector collector(utf8, dir);
        xc::Grammar* grammar = nullptr;
        {
            std::unique_ptr<xc::SAX2XMLReaderImpl> loader(new_reader(pool.get()));
            loader->setFeature(xc::XMLUni::fgSAX2CoreNameSpaces, true);
            loader->setFeature(xc::XMLUni::fgXercesSchema, true);
            loader->setFeature(xc::XMLUni::fgXercesSchemaFullChecking, true);
            loader->setFeature(xc::XMLUni::fgXercesHandleMultipleImports, true);
            loader->setFeature(xc::XMLUni::fgXercesLoadExternalDTD, false);
            loader->setFeature(xc::XMLUni::fgXercesDisableDefaultEntityResolution, true);
            loader->setFeature(xc::XMLUni::fgXercesCacheGrammarFromParse, true);
            loader->setXMLEntityResolver(&resolver);
            loader->setErrorHandler(&collector);
            auto path = from_utf8(file.string());
            xc::LocalFileInputSource source(path.get());
            grammar = loader->loadGrammar(source, xc::Grammar::SchemaGrammarType, true);
        }  // the loader goes before lockPool(): it uses the pool's unsynchronised string pool
        problems = resolver.take_refusals();
        for (auto& p : collector.take()) problems.push_back(std::move(p));
        if (problems.empty() && !grammar)
            problems.push_back(problem{0, 0, "", fmt::format("{}: no grammar was produced", file.string()), ""});
    } catch (const xc::OutOfMemoryException&) {
        return error(errc::internal, fmt::format("out of memory compiling schema '{}'", name));
    } catch (const xc::SAXParseException& e) {
        problems.push_back(problem{to_int(e.getLineNumber()), to_int(e.getColumnNumber()), "",
                                   at(display_name(to_utf8(e.getSystemId()), dir), to_int(e.getLineNumber()),
                                      to_int(e.getColumnNumber()), to_utf8(e.getMessage())),
                                   ""});
    } catch (const xc::XMLException& e) {
        problems.push_back(problem{0, 0, "", fmt::format("{}: {}", file.string(), to_utf8(e.getMessage())), ""});
    } catch (const xc::SAXException& e) {
        problems.push_back(problem{0, 0, "", fmt::format("{}: {}", file.string(), to_utf8(e.getMessage())), ""});
    } catch (const std::exception& e) {
        return error(errc::internal, fmt::format("compiling schema '{}': {}", name, e.what()));
    }
    if (!problems.empty()) {
        auto message = fmt::format("schema '{}' ({}) does not compile: {}", name, display_name(file.string(), dir),
                                   first_and_count(problems));
        return error(errc::config_invalid, std::move(message), std::move(problems));
    }
    try {
        regex_primer().grammars(*pool);
        pool->lockPool();
    } catch (const xc::XMLException& e) {
        return error(errc::internal, fmt::format("locking schema '{}': {}", name, to_utf8(e.getMessage())));
    }
    return std::shared_ptr<const schema>(std::make_shared<compiled_schema>(std::move(name), file, std::move(pool)));
}

// ---------------------------------------------------------------------------------------------------
// catalog.toml

int line_of(const toml::source_region& s) { return static_cast<int>(s.begin.line); }
int column_of(const toml::source_region& s) { return static_cast<int>(s.begin.column); }

struct catalog_reader {
    fs::path dir;
    std::string file_name;  // catalog.toml as the operator knows it, for messages
    std::vector<problem> problems;

    void add(const toml::source_region& where, std::string key_path, std::string what) {
        problems.push_back(problem{line_of(where), column_of(where), std::move(key_path),
                                   fmt::format("{}:{}: {}", file_name, line_of(where), what), ""});
    }

    // A catalog path: relative, inside dir, naming an existing file. Value: the absolute path.
    std::optional<fs::path> schema_file(const toml::node& node, const std::string& key_path) {
        auto rel = node.value<std::string>();
        if (!rel || rel->empty()) {
            add(node.source(), key_path, fmt::format("{} must be a non-empty string (a path under {})", key_path,
                                                     dir.string()));
            return std::nullopt;
        }
        fs::path p(*rel);
        auto full = (dir / p).lexically_normal();
        if (p.is_absolute() || !uri_scheme(*rel).empty() || !is_within(full, dir)) {
            add(node.source(), key_path,
                fmt::format("{}: '{}' must be a path relative to {} and inside it", key_path, *rel, dir.string()));
            return std::nullopt;
        }
        std::error_code ec;
        if (!fs::is_regular_file(full, ec)) {
            add(node.source(), key_path, fmt::format("{}: file '{}' not found ({})", key_path, *rel, full.string()));
            return std::nullopt;
        }
        return full;
    }
};

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Public interface

void initialise() {
    static std::once_flag once;
    // Never paired with Terminate(): worker threads may validate until the process ends.
    std::call_once(once, [] {
        try {
            xc::XMLPlatformUtils::Initialize();
        } catch (const xc::XMLException& e) {
            throw std::runtime_error("Xerces-C++ initialisation failed: " + to_utf8(e.getMessage()));
        }
    });
}

result<std::shared_ptr<const catalog>> catalog::load(const fs::path& xsd_dir) {
    initialise();
    const auto dir = normal_absolute(xsd_dir);
    const auto toml_path = dir / "catalog.toml";
    const auto toml_name = (xsd_dir / "catalog.toml").string();

    std::error_code ec;
    if (!fs::is_regular_file(toml_path, ec))
        return error(errc::config_invalid, fmt::format("{}: catalog not found", toml_name),
                     {problem{0, 0, "", fmt::format("{}: file not found", toml_name), ""}});

    toml::table doc;
    try {
        doc = toml::parse_file(toml_path.string());
    } catch (const toml::parse_error& e) {
        const auto& s = e.source();
        auto message = fmt::format("{}:{}:{}: {}", toml_name, s.begin.line, s.begin.column, e.description());
        return error(errc::config_invalid, message, {problem{line_of(s), column_of(s), "", message, ""}});
    }

    catalog_reader reader{dir, toml_name, {}};
    namespace_map namespaces;
    std::map<std::string, fs::path, std::less<>> files;
    static const std::regex name_re("^[A-Za-z0-9][A-Za-z0-9._-]*$");

    for (auto&& [key, node] : doc) {
        const std::string k(key.str());
        if (k == "namespaces") {
            auto* table = node.as_table();
            if (!table) {
                reader.add(node.source(), k, "[namespaces] must be a table of namespace = \"file\"");
                continue;
            }
            for (auto&& [ns, file] : *table) {
                const std::string n(ns.str());
                const auto key_path = fmt::format("namespaces.\"{}\"", n);
                if (n.empty()) {
                    reader.add(ns.source(), key_path, "empty namespace name");
                    continue;
                }
                if (auto p = reader.schema_file(file, key_path)) namespaces.emplace(n, *p);
            }
        } else if (k == "schemas") {
            auto* table = node.as_table();
            if (!table) {
                reader.add(node.source(), k, "[schemas] must be a table of [schemas.NAME] tables");
                continue;
            }
            for (auto&& [name_key, entry] : *table) {
                const std::string name(name_key.str());
                const auto key_path = fmt::format("schemas.{}", name);
                if (!std::regex_match(name, name_re)) {
                    reader.add(name_key.source(), key_path,
                               fmt::format("schema name '{}' may use only letters, digits, '.', '_' and '-'", name));
                    continue;
                }
                auto* fields = entry.as_table();
                if (!fields) {
                    reader.add(entry.source(), key_path, fmt::format("{} must be a table with file = \"…\"", key_path));
                    continue;
                }
                std::optional<fs::path> file;
                bool has_file = false;
                for (auto&& [field, value] : *fields) {
                    const std::string f(field.str());
                    const auto field_path = fmt::format("{}.{}", key_path, f);
                    if (f == "file") {
                        has_file = true;
                        file = reader.schema_file(value, field_path);
                    } else if (f == "description") {
                        if (!value.is_string())
                            reader.add(value.source(), field_path, fmt::format("{} must be a string", field_path));
                    } else {
                        reader.add(field.source(), field_path,
                                   fmt::format("unknown key '{}' in [{}] (expected file, description)", f, key_path));
                    }
                }
                if (!has_file)
                    reader.add(name_key.source(), key_path, fmt::format("[{}] has no file = \"…\"", key_path));
                if (file) files.emplace(name, *file);
            }
        } else {
            reader.add(key.source(), k, fmt::format("unknown key '{}' (expected [namespaces] and [schemas])", k));
        }
    }
    if (!reader.problems.empty()) {
        // toml++ iterates keys in sorted order; the operator reads the file top to bottom.
        std::stable_sort(reader.problems.begin(), reader.problems.end(),
                         [](const problem& a, const problem& b) { return a.line < b.line; });
        auto message = fmt::format("invalid catalog: {}", first_and_count(reader.problems));
        return error(errc::config_invalid, std::move(message), std::move(reader.problems));
    }

    auto cat = std::make_shared<catalog>();
    cat->dir_ = dir;
    cat->namespaces_ = std::move(namespaces);

    std::vector<problem> problems;
    std::string first_message;
    for (const auto& [name, file] : files) {
        auto compiled = compile(name, file, cat->namespaces_, dir, {dir});
        if (!compiled) {
            if (compiled.err().code != errc::config_invalid) return std::move(compiled.err());
            if (first_message.empty()) first_message = compiled.err().message;
            for (auto& p : compiled.err().problems) problems.push_back(std::move(p));
            continue;
        }
        cat->schemas_.emplace(name, std::move(*compiled));
    }
    if (!problems.empty()) {
        if (problems.size() > 1) first_message += fmt::format(" [{} problems in all]", problems.size());
        return error(errc::config_invalid, std::move(first_message), std::move(problems));
    }
    return std::shared_ptr<const catalog>(std::move(cat));
}

result<std::shared_ptr<const schema>> catalog::compile_file(const fs::path& xsd_file) const {
    initialise();
    const auto file = normal_absolute(xsd_file);
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
        return error(errc::config_invalid, fmt::format("schema file {} not found", xsd_file.string()),
                     {problem{0, 0, "", fmt::format("{}: file not found", xsd_file.string()), ""}});
    // A standalone schema may also reach files next to itself, as well as everything under xsd/.
    return compile(file.filename().string(), file, namespaces_, dir_, {dir_, file.parent_path()});
}

std::shared_ptr<const schema> catalog::find(std::string_view name) const {
    auto it = schemas_.find(name);
    return it == schemas_.end() ? nullptr : it->second;
}

std::vector<std::string> catalog::names() const {
    std::vector<std::string> out;
    out.reserve(schemas_.size());
    for (const auto& [name, s] : schemas_) out.push_back(name);
    return out;
}

}  // namespace portgate::xsd

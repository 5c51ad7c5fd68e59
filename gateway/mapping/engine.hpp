// XSLT mappings (mappings/*.xsl) on libxslt: every stylesheet compiled once at start-up and shared by all
// workers; each run gets its own transform context with file/network access forbidden, portgate's
// extension functions (pg:code, pg:guid, pg:now, pg:time, pg:amount, pg:param, pg:input …) and the route's
// parameters. One input may give many outputs (<pg:outputs><pg:output>…); a failure names the stylesheet,
// the reason (an unknown code, a missing parameter, xsl:message terminate="yes") and never crashes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <libxml/tree.h>

#include "gateway/core/error.hpp"
#include "gateway/formats/calendar.hpp"
#include "gateway/formats/receipt.hpp"
#include "gateway/rules/rules.hpp"
#include "gateway/xml/parser.hpp"

namespace portgate::mapping {

inline constexpr const char* output_namespace = "urn:portgate:mapping";

// Call once at start-up (libxslt/libexslt init, the restricted document loader).
void initialise();

struct output {
    std::string type;   // pg:output/@type when given, else ""
    std::string bytes;  // a whole document (XML declaration, UTF-8) or text (method="text")
    bool text = false;
    // The result tree `bytes` were written from, which they hold exactly (an indented output's indentation is
    // added to the tree first, add_indentation), so a signer can take it (xml::adopt) instead of parsing the
    // bytes again. Null for text output.
    xml::doc_ptr tree;
};

struct run_options {
    const std::map<std::string, std::string>* params = nullptr;  // route parameters (pg:param)
    std::map<std::string, xmlDoc*> inputs;                          // extra documents (pg:input)
    std::map<std::string, std::string> xslt_params;                 // top-level xsl:param string values
    std::optional<formats::civil_seconds> now;                      // fixes pg:now
    std::optional<std::uint64_t> seed;                              // makes pg:guid deterministic
    // Names the type of an output whose pg:output gives none, from the result tree before it is serialised
    // ("" = unknown); unset = outputs without a declared type stay untyped.
    std::function<std::string(xmlDoc*)> type_of;
};

// Adds to the tree, as whitespace text nodes, the indentation libxml2's formatted serialisation would write
// (xmlDocDumpFormatMemory with format 1: a newline and two spaces a level, at most 30 levels, between the
// children of elements that hold no text, CDATA or entity reference, and none inside those that do), so
// that an unformatted serialisation of the tree gives the same bytes as a formatted one of the tree before.
void add_indentation(xmlDoc* doc);

class library {
public:
    // Compiles every *.xsl in `dir`. Problems name the file (and libxslt's line). An absent directory
    // gives an empty library.
    static result<std::shared_ptr<const library>> load(const std::filesystem::path& dir, rules::environment env);
    ~library();

    bool has(std::string_view stylesheet) const;
    std::vector<std::string> names() const;

    // Runs `stylesheet` on `input`. Error mapping_failed (PG-306) with the stylesheet's name and the reason.
    result<std::vector<output>> apply(std::string_view stylesheet, xmlDoc* input, const run_options& opt) const;

private:
    struct compiled;
    std::map<std::string, std::unique_ptr<compiled>, std::less<>> sheets_;
    rules::environment env_;
};

// The message a receipt answers, when correlation found it.
struct receipt_original {
    std::string id, type, partner, partner_ref;
};

inline constexpr const char* receipt_namespace = "urn:portgate:receipt:1";

// A normalized receipt record as the reverse mappings' input:
// <receipt xmlns="urn:portgate:receipt:1" family=… type=… status=… final=… judgement=…>
//   <key name=…>…</key>… <meaning/> <time/> <info/> <customsCode/> <customsDesc/> <original …/>
// </receipt>
std::string receipt_document(const formats::receipt_record& r, const receipt_original* original = nullptr);

}  // namespace portgate::mapping

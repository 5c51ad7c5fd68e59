// Hardened XML parsing on libxml2: the one way portgate turns untrusted bytes into a document.
// No DTD (a DOCTYPE is refused), no entity expansion, no network, and limits on size, depth and
// element count, each failing with its own error code, line and column.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <libxml/tree.h>

#include "gateway/core/error.hpp"

namespace portgate::xml {

struct limits {
    std::size_t max_bytes = 10 * 1024 * 1024;  // whole document
    int max_depth = 256;                        // element nesting
    std::size_t max_elements = 1'000'000;       // elements in the document
};

struct doc_deleter {
    void operator()(xmlDoc* d) const noexcept { xmlFreeDoc(d); }
};
using doc_ptr = std::unique_ptr<xmlDoc, doc_deleter>;

struct document {
    doc_ptr doc;
    std::string root_namespace;  // empty when the root has none
    std::string root_name;       // local name
    std::size_t elements = 0;
    int depth = 0;
};

// Call once at process start (thread-safe libxml2 init, global hardening defaults).
void initialise();

// Parses `bytes`. `name` is used in messages only. Errors: xml_empty, xml_too_large, xml_dtd_forbidden,
// xml_too_deep, xml_too_many_elements, xml_bad_encoding, xml_value_too_long, xml_malformed — each with one
// problem carrying line and column when libxml2 knows them.
result<document> parse(std::string_view bytes, const limits& lim, std::string_view name = "document");

// A tree portgate made itself (an XSLT result) together with the size of its serialisation, which writes it
// exactly (no indentation added): taken as the document those bytes would parse to, without parsing them,
// when it keeps within `lim` and a parse of the bytes is sure to give it back — one root element; elements,
// attributes, text, CDATA, comments and processing instructions only; every character allowed in XML; every
// prefix meaning, where it is written, the namespace the node is in; no text written unescaped
// (disable-output-escaping); processing instruction targets that are names other than "xml"; no CR in
// CDATA, comments or processing instructions, no whitespace leading a processing instruction's data (a parse
// changes those). Otherwise nothing: parse the bytes, which gives
// the precise error if there is one.
std::optional<document> adopt(doc_ptr tree, std::size_t serialised_size, const limits& lim);

// `tree` adopted when it can be (it may be null), else `bytes` (its serialisation) parsed. The nodes of an
// adopted tree carry the lines of wherever they were made, not of `bytes`: reparse `bytes` to report lines.
result<document> adopt_or_parse(doc_ptr tree, std::string_view bytes, const limits& lim, std::string_view name = "document");

// "{ns}local" or "local" — the key routes match on.
std::string qualified_root(const document& d);

}  // namespace portgate::xml

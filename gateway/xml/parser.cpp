// Hardened libxml2 parsing: SAX2 hooks refuse any DOCTYPE and enforce our depth, element-count and
// text-length limits while the tree is built; libxml2's structured errors are mapped onto the xml_*
// error codes. Nothing is printed: every error channel libxml2 may use is captured for the parse.
#include "gateway/xml/parser.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <libxml/SAX2.h>
#include <libxml/chvalid.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

namespace portgate::xml {

namespace {

// libxml2's own cap on a single attribute value, CDATA section, comment or PI (without XML_PARSE_HUGE).
// It does not cap text content built from many character callbacks, so we apply it there ourselves.
constexpr std::size_t value_limit = XML_MAX_TEXT_LENGTH;

struct position {
    int line = 0;
    int column = 0;
};

// The first error libxml2 raised, copied out because libxml2 reuses its error struct.
struct captured_error {
    int domain = 0;
    int code = 0;
    int level = 0;
    position where;
    std::string message;
};

// Per-parse state, reached from the SAX callbacks through ctxt->_private (libxml2 never touches it).
struct parse_state {
    const limits* lim = nullptr;
    int depth = 0;
    int max_depth_seen = 0;
    std::size_t elements = 0;
    std::size_t text_run = 0;  // bytes of character data since the last element boundary

    // A refusal decided by our hooks; takes precedence over whatever libxml2 reports afterwards.
    std::optional<errc> refusal;
    std::string refusal_message;
    position refusal_where;

    // First fatal (or error-level) parser error, and first encoding-conversion error. Conversion errors
    // come without a context and so without a position; the parser error that follows supplies one.
    std::optional<captured_error> first_fatal;
    std::optional<captured_error> first_error;
    std::optional<captured_error> first_conversion;

    // libxml2's SAX2 handlers, called from our wrappers so the tree is still built by libxml2.
    startElementNsSAX2Func start_element = nullptr;
    endElementNsSAX2Func end_element = nullptr;
    charactersSAXFunc characters = nullptr;
    ignorableWhitespaceSAXFunc whitespace = nullptr;
};

std::string trimmed(const char* text) {
    std::string s = text ? text : "";
    // libxml2 messages end with '\n' and some span two lines ("...indicate encoding !\nBytes: ...").
    for (auto& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    const auto first = s.find_first_not_of(' ');
    if (first == std::string::npos) return {};
    const auto last = s.find_last_not_of(' ');
    return s.substr(first, last - first + 1);
}

xmlParserCtxtPtr context_of(void* ctx) { return static_cast<xmlParserCtxtPtr>(ctx); }

parse_state& state_of(xmlParserCtxtPtr ctxt) { return *static_cast<parse_state*>(ctxt->_private); }

position where_now(xmlParserCtxtPtr ctxt) {
    if (ctxt->input == nullptr) return {};
    return {ctxt->input->line, ctxt->input->col};
}

// Records our own verdict and halts libxml2, which then stops calling SAX and raising errors.
void refuse(xmlParserCtxtPtr ctxt, errc code, std::string message) {
    auto& st = state_of(ctxt);
    if (!st.refusal) {
        st.refusal = code;
        st.refusal_message = std::move(message);
        st.refusal_where = where_now(ctxt);
    }
    xmlStopParser(ctxt);
}

constexpr const char* doctype_message = "DOCTYPE is not allowed (DTDs and entities are never processed)";

// A DOCTYPE is refused as soon as its name is read, before an internal subset — and so before any
// entity (XXE, billion laughs) — is declared, let alone expanded.
void on_internal_subset(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) {
    refuse(context_of(ctx), errc::xml_dtd_forbidden, doctype_message);
}

// The remaining DTD hooks are unreachable once the DOCTYPE is refused; they stay as defence in depth.
void on_external_subset(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) {
    refuse(context_of(ctx), errc::xml_dtd_forbidden, doctype_message);
}

void on_entity_decl(void* ctx, const xmlChar*, int, const xmlChar*, const xmlChar*, xmlChar*) {
    refuse(context_of(ctx), errc::xml_dtd_forbidden, doctype_message);
}

void on_unparsed_entity_decl(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*, const xmlChar*) {
    refuse(context_of(ctx), errc::xml_dtd_forbidden, doctype_message);
}

void on_start_element(void* ctx, const xmlChar* localname, const xmlChar* prefix, const xmlChar* uri,
                      int nb_namespaces, const xmlChar** namespaces, int nb_attributes, int nb_defaulted,
                      const xmlChar** attributes) {
    auto* ctxt = context_of(ctx);
    auto& st = state_of(ctxt);
    ++st.elements;
    ++st.depth;
    st.text_run = 0;
    // Checked before libxml2 builds the node, so a hostile document costs at most limit + 1 elements.
    if (st.depth > st.lim->max_depth) {
        const auto at = where_now(ctxt);
        refuse(ctxt, errc::xml_too_deep,
               fmt::format("element nesting deeper than {} at line {}, column {}", st.lim->max_depth, at.line,
                           at.column));
        return;
    }
    if (st.elements > st.lim->max_elements) {
        const auto at = where_now(ctxt);
        refuse(ctxt, errc::xml_too_many_elements,
               fmt::format("more than {} elements at line {}, column {}", st.lim->max_elements, at.line,
                           at.column));
        return;
    }
    if (st.depth > st.max_depth_seen) st.max_depth_seen = st.depth;
    st.start_element(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes, nb_defaulted,
                     attributes);
}

void on_end_element(void* ctx, const xmlChar* localname, const xmlChar* prefix, const xmlChar* uri) {
    auto& st = state_of(context_of(ctx));
    --st.depth;
    st.text_run = 0;
    st.end_element(ctx, localname, prefix, uri);
}

// libxml2 2.9 caps attribute values, CDATA, comments and PIs at XML_MAX_TEXT_LENGTH but lets text
// content grow without bound; one text node is at most the character data between two element
// boundaries (a comment in between makes two nodes, so this count errs on the strict side).
bool text_within_limit(xmlParserCtxtPtr ctxt, int len) {
    auto& st = state_of(ctxt);
    st.text_run += static_cast<std::size_t>(len);
    if (st.text_run <= value_limit) return true;
    const auto at = where_now(ctxt);
    refuse(ctxt, errc::xml_value_too_long,
           fmt::format("text content longer than {} bytes at line {}, column {}", value_limit, at.line,
                       at.column));
    return false;
}

void on_characters(void* ctx, const xmlChar* ch, int len) {
    auto* ctxt = context_of(ctx);
    if (text_within_limit(ctxt, len)) state_of(ctxt).characters(ctx, ch, len);
}

void on_whitespace(void* ctx, const xmlChar* ch, int len) {
    auto* ctxt = context_of(ctx);
    if (text_within_limit(ctxt, len)) state_of(ctxt).whitespace(ctx, ch, len);
}

void capture(parse_state& st, const xmlError* e) {
    if (e == nullptr || e->level < XML_ERR_ERROR) return;  // warnings (e.g. relative namespace URIs)
    captured_error c{e->domain, e->code, e->level, {e->line, e->int2}, trimmed(e->message)};
    if (e->domain == XML_FROM_I18N || (e->domain == XML_FROM_IO && e->code == XML_IO_ENCODER)) {
        if (!st.first_conversion) st.first_conversion = std::move(c);
        return;
    }
    if (e->level == XML_ERR_FATAL) {
        if (!st.first_fatal) st.first_fatal = std::move(c);
    } else if (!st.first_error) {
        st.first_error = std::move(c);
    }
}

// Errors raised with our context: sax->serror receives ctxt->userData, which is the context itself.
void on_context_error(void* user_data, xmlErrorPtr e) {
    auto* ctxt = context_of(user_data);
    if (ctxt != nullptr && ctxt->_private != nullptr) capture(state_of(ctxt), e);
}

// Errors libxml2 raises without a context (iconv conversion failures) go to the thread's handlers.
void on_thread_error(void* data, xmlErrorPtr e) {
    if (data != nullptr) capture(*static_cast<parse_state*>(data), e);
}

void ignore_generic_error(void*, const char*, ...) {}

// libxml2's error handlers are per thread; this takes them over for one parse and gives them back, so
// a hostile document prints nothing and other libxml2 users on the thread keep their own handlers.
class thread_error_channel {
public:
    explicit thread_error_channel(parse_state& st)
        : generic_(xmlGenericError),
          generic_context_(xmlGenericErrorContext),
          structured_(xmlStructuredError),
          structured_context_(xmlStructuredErrorContext) {
        xmlSetGenericErrorFunc(nullptr, &ignore_generic_error);
        xmlSetStructuredErrorFunc(&st, &on_thread_error);
    }
    ~thread_error_channel() {
        xmlSetGenericErrorFunc(generic_context_, generic_);
        xmlSetStructuredErrorFunc(structured_context_, structured_);
    }
    thread_error_channel(const thread_error_channel&) = delete;
    thread_error_channel& operator=(const thread_error_channel&) = delete;

private:
    xmlGenericErrorFunc generic_;
    void* generic_context_;
    xmlStructuredErrorFunc structured_;
    void* structured_context_;
};

struct context_deleter {
    void operator()(xmlParserCtxt* c) const noexcept { xmlFreeParserCtxt(c); }
};
using context_ptr = std::unique_ptr<xmlParserCtxt, context_deleter>;

xmlExternalEntityLoader previous_loader = nullptr;  // written once under std::call_once

// Our contexts never load anything, whatever option or default might ask for it. Other libxml2 users in
// the process (schemas, stylesheets read from files) keep the loader they had.
xmlParserInputPtr refusing_loader(const char* url, const char* id, xmlParserCtxtPtr ctxt) {
    if (ctxt == nullptr || (ctxt->sax != nullptr && ctxt->sax->internalSubset == &on_internal_subset))
        return nullptr;
    return previous_loader ? previous_loader(url, id, ctxt) : nullptr;
}

bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool is_blank(std::string_view bytes) {
    if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
    for (char c : bytes)
        if (!is_xml_space(c)) return false;
    return true;
}

// Offset of the first byte that does not start a valid UTF-8 sequence (overlong forms, surrogates and
// code points above U+10FFFF included), or nullopt when the whole input is valid UTF-8.
std::optional<std::size_t> first_invalid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return i;
        }
        if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return i;
        for (std::size_t k = 2; k < len; ++k)
            if ((p[i + k] & 0xC0) != 0x80) return i;
        i += len;
    }
    return std::nullopt;
}

// Line and column as libxml2 counts them: lines on '\n', columns in characters from 1.
position position_of(std::string_view s, std::size_t offset) {
    position at{1, 1};
    for (std::size_t i = 0; i < offset && i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '\n') {
            ++at.line;
            at.column = 1;
        } else if ((c & 0xC0) != 0x80) {
            ++at.column;
        }
    }
    return at;
}

bool before_or_at(position a, position b) {
    return a.line < b.line || (a.line == b.line && a.column <= b.column);
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

std::string hex_bytes(std::string_view s, std::size_t offset, std::size_t count) {
    std::string out;
    for (std::size_t i = offset; i < s.size() && i < offset + count; ++i) {
        if (!out.empty()) out += ' ';
        out += fmt::format("0x{:02X}", static_cast<unsigned char>(s[i]));
    }
    return out;
}

error make_error(errc code, std::string_view name, std::string what, position at) {
    std::string message = at.line > 0
                              ? fmt::format("{}: {} (line {}, column {})", name, what, at.line, at.column)
                              : fmt::format("{}: {}", name, what);
    problem p;
    p.line = at.line;
    p.column = at.column;
    p.message = std::move(what);
    return error(code, std::move(message), {std::move(p)});
}

// Our hook messages already carry the position, so they are not repeated in the headline.
error make_refusal(const parse_state& st, std::string_view name) {
    problem p;
    p.line = st.refusal_where.line;
    p.column = st.refusal_where.column;
    p.message = st.refusal_message;
    std::string message = *st.refusal == errc::xml_dtd_forbidden
                              ? fmt::format("{}: {} (line {}, column {})", name, st.refusal_message,
                                            p.line, p.column)
                              : fmt::format("{}: {}", name, st.refusal_message);
    return error(*st.refusal, std::move(message), {std::move(p)});
}

std::string declared_encoding(xmlParserCtxtPtr ctxt) {
    if (ctxt->input != nullptr && ctxt->input->encoding != nullptr)
        return reinterpret_cast<const char*>(ctxt->input->encoding);
    if (ctxt->encoding != nullptr) return reinterpret_cast<const char*>(ctxt->encoding);
    return "the declared encoding";
}

// Maps what libxml2 reported onto one of our codes. The codes libxml2 uses are shared between
// "too long" and plain syntax errors, so the message text decides in those few cases.
error classify(const parse_state& st, xmlParserCtxtPtr ctxt, std::string_view bytes, std::string_view name) {
    const captured_error* e = st.first_fatal ? &*st.first_fatal : st.first_error ? &*st.first_error : nullptr;

    if (st.first_conversion) {
        // iconv refused bytes; the parser error that follows (premature end) gives the position.
        return make_error(errc::xml_bad_encoding, name,
                          fmt::format("bytes invalid for {}: {}", declared_encoding(ctxt),
                                      st.first_conversion->message),
                          e ? e->where : position{});
    }
    if (e == nullptr) {
        return make_error(errc::xml_malformed, name, "document is not well-formed", where_now(ctxt));
    }

    const auto& m = e->message;
    if (e->domain == XML_FROM_PARSER) {
        switch (e->code) {
        case XML_ERR_INVALID_CHAR:
            if (contains(m, "UTF-8")) {
                const auto at = m.find("Bytes:");
                std::string detail = at == std::string::npos ? m : m.substr(at + 7);
                return make_error(errc::xml_bad_encoding, name,
                                  fmt::format("invalid UTF-8 byte sequence: {}", detail), e->where);
            }
            break;
        case XML_ERR_INVALID_ENCODING:
        case XML_ERR_UNKNOWN_ENCODING:
        case XML_ERR_UNSUPPORTED_ENCODING:
            return make_error(errc::xml_bad_encoding, name, m, e->where);
        case XML_ERR_INTERNAL_ERROR:
            // libxml2's own nesting cap (256 without XML_PARSE_HUGE) when limits.max_depth is above it.
            if (contains(m, "Excessive depth"))
                return make_error(errc::xml_too_deep, name,
                                  fmt::format("element nesting deeper than {} (the parser's own limit)",
                                              xmlParserMaxDepth),
                                  e->where);
            if (contains(m, "Huge input lookup"))
                return make_error(errc::xml_value_too_long, name, m, e->where);
            break;
        case XML_ERR_ATTRIBUTE_NOT_FINISHED:
            if (contains(m, "too long"))
                return make_error(errc::xml_value_too_long, name,
                                  fmt::format("attribute value longer than {} bytes", value_limit), e->where);
            break;
        case XML_ERR_CDATA_NOT_FINISHED:
        case XML_ERR_COMMENT_NOT_FINISHED:
        case XML_ERR_PI_NOT_FINISHED:
            if (contains(m, "too big"))
                return make_error(errc::xml_value_too_long, name,
                                  fmt::format("{} (limit {} bytes)", m, value_limit), e->where);
            break;
        case XML_ERR_NAME_TOO_LONG:
            return make_error(errc::xml_value_too_long, name, fmt::format("{} (limit {} bytes)", m,
                                                                          XML_MAX_NAME_LENGTH),
                              e->where);
        case XML_ERR_NO_MEMORY:
            if (contains(m, "huge text node"))
                return make_error(errc::xml_value_too_long, name,
                                  fmt::format("text content longer than {} bytes", value_limit), e->where);
            break;
        default:
            break;
        }
    }

    // Without a decoder libxml2 reads UTF-8, yet a bad byte inside a name or tag is reported as a syntax
    // error ("StartTag: invalid element name"). When an invalid sequence sits at or before the reported
    // spot, it is the real cause — typically a GBK document that forgot its encoding declaration.
    const bool reads_utf8 = ctxt->input == nullptr || ctxt->input->buf == nullptr ||
                            ctxt->input->buf->encoder == nullptr;
    if (reads_utf8 && e->where.line > 0) {
        if (const auto bad = first_invalid_utf8(bytes)) {
            const auto at = position_of(bytes, *bad);
            if (before_or_at(at, e->where))
                return make_error(errc::xml_bad_encoding, name,
                                  fmt::format("invalid UTF-8 byte sequence: {}", hex_bytes(bytes, *bad, 4)),
                                  at);
        }
    }

    if (e->domain == XML_FROM_NAMESPACE)
        return make_error(errc::xml_malformed, name, fmt::format("namespace error: {}", m), e->where);
    return make_error(errc::xml_malformed, name, m.empty() ? "document is not well-formed" : m, e->where);
}

}  // namespace

void initialise() {
    static std::once_flag once;
    std::call_once(once, [] {
        xmlInitParser();
        // Defaults for threads created from now on and for this one; every parse context also sets
        // these fields itself, so a library changing a default later cannot switch them back on.
        xmlThrDefSubstituteEntitiesDefaultValue(0);
        xmlThrDefLoadExtDtdDefaultValue(0);
        xmlSubstituteEntitiesDefault(0);
        xmlLoadExtDtdDefaultValue = 0;
        previous_loader = xmlGetExternalEntityLoader();
        xmlSetExternalEntityLoader(&refusing_loader);
    });
}

result<document> parse(std::string_view bytes, const limits& lim, std::string_view name) {
    if (is_blank(bytes))
        return make_error(errc::xml_empty, name, "no XML document: the input is empty or only whitespace", {});
    if (bytes.size() > lim.max_bytes || bytes.size() > static_cast<std::size_t>(INT_MAX))
        return make_error(errc::xml_too_large, name,
                          fmt::format("{} bytes is over the limit of {} bytes", bytes.size(), lim.max_bytes),
                          {});

    initialise();  // idempotent; a caller that forgot still gets the hardened defaults

    parse_state st;
    st.lim = &lim;
    thread_error_channel channel(st);

    context_ptr ctxt(xmlCreateMemoryParserCtxt(bytes.data(), static_cast<int>(bytes.size())));
    if (!ctxt || ctxt->sax == nullptr)
        return make_error(errc::internal, name, "could not create an XML parser context", {});

    // No NOENT, DTDLOAD, DTDATTR, DTDVALID, HUGE or NOBLANKS: entities stay unexpanded, no DTD is read,
    // libxml2's own limits stay on and whitespace is kept, as signed documents need their bytes' meaning.
    // (XML_PARSE_NO_XXE only exists from libxml2 2.13; the DOCTYPE hook covers it.)
    xmlCtxtUseOptions(ctxt.get(), XML_PARSE_NONET);
    ctxt->replaceEntities = 0;
    ctxt->loadsubset = 0;
    ctxt->validate = 0;
    ctxt->pedantic = 0;
    ctxt->keepBlanks = 1;
    ctxt->linenumbers = 1;  // schema validation reports node lines
    ctxt->_private = &st;

    xmlSAXHandler* sax = ctxt->sax;
    sax->ignorableWhitespace = sax->characters;  // keep blanks even if a thread default says otherwise
    st.start_element = sax->startElementNs;
    st.end_element = sax->endElementNs;
    st.characters = sax->characters;
    st.whitespace = sax->ignorableWhitespace;
    if (st.start_element == nullptr || st.end_element == nullptr || st.characters == nullptr)
        return make_error(errc::internal, name, "libxml2 parser context without SAX2 handlers", {});
    sax->startElementNs = &on_start_element;
    sax->endElementNs = &on_end_element;
    sax->characters = &on_characters;
    sax->ignorableWhitespace = &on_whitespace;
    sax->internalSubset = &on_internal_subset;
    sax->externalSubset = &on_external_subset;
    sax->entityDecl = &on_entity_decl;
    sax->unparsedEntityDecl = &on_unparsed_entity_decl;
    sax->serror = &on_context_error;  // used because sax->initialized is XML_SAX2_MAGIC
    sax->error = nullptr;
    sax->warning = nullptr;
    sax->fatalError = nullptr;

    xmlParseDocument(ctxt.get());

    doc_ptr doc(ctxt->myDoc);
    ctxt->myDoc = nullptr;

    if (st.refusal) return make_refusal(st, name);
    if (!ctxt->wellFormed || !ctxt->nsWellFormed || st.first_fatal || st.first_error || st.first_conversion)
        return classify(st, ctxt.get(), bytes, name);

    const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
    if (root == nullptr)
        return make_error(errc::xml_malformed, name, "document has no root element", where_now(ctxt.get()));

    document out;
    if (root->ns != nullptr && root->ns->href != nullptr)
        out.root_namespace = reinterpret_cast<const char*>(root->ns->href);
    out.root_name = reinterpret_cast<const char*>(root->name);
    out.elements = st.elements;
    out.depth = st.max_depth_seen;
    out.doc = std::move(doc);
    return out;
}

namespace {

// Every character one XML 1.0 allows (libxml2 keeps what a stylesheet makes as UTF-8, allowed or not).
bool xml_chars(const xmlChar* s) {
    if (s == nullptr) return true;
    while (*s != 0) {
        if (*s < 0x80) {
            if (*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r') return false;
            ++s;
            continue;
        }
        int len = 4;
        const int c = xmlGetUTF8Char(s, &len);
        if (c < 0 || len <= 0 || !xmlIsCharQ(c)) return false;
        s += len;
    }
    return true;
}

bool has(const xmlChar* s, const char* what) {
    return s != nullptr && std::string_view(reinterpret_cast<const char*>(s)).find(what) != std::string_view::npos;
}

// The namespace `ns` (null: none) is what `prefix` means at `at` in the written document: the serialiser
// writes the prefix only, and a declaration nearer than the node's own would rebind it.
bool bound_as_written(xmlDoc* doc, xmlNode* at, const xmlNs* ns, bool attribute) {
    if (ns == nullptr) {
        if (attribute) return true;  // an unprefixed attribute is in no namespace
        const xmlNs* d = xmlSearchNs(doc, at, nullptr);
        return d == nullptr || d->href == nullptr || d->href[0] == 0;
    }
    if (ns->href == nullptr || (attribute && ns->prefix == nullptr)) return false;
    const xmlNs* found = xmlSearchNs(doc, at, ns->prefix);
    return found != nullptr && found->href != nullptr && xmlStrEqual(found->href, ns->href);
}

}  // namespace

std::optional<document> adopt(doc_ptr tree, std::size_t serialised_size, const limits& lim) {
    // Text longer than the parser's value limit needs more bytes than that; libxml2 refuses nesting deeper
    // than 256 whatever max_depth says (those fall back to a parse, which says so precisely).
    if (!tree || tree->type != XML_DOCUMENT_NODE || serialised_size > lim.max_bytes || serialised_size > value_limit) return std::nullopt;
    const int max_depth = std::min(lim.max_depth, 256);
    xmlDoc* doc = tree.get();
    xmlNode* root = xmlDocGetRootElement(doc);
    if (root == nullptr) return std::nullopt;
    std::size_t elements = 0;
    int depth = 0, deepest = 0;
    // What the serialiser writes as it is and a parse reads back otherwise: a CR in a CDATA section, a
    // comment or a processing instruction (read as LF); whitespace leading a PI's data (dropped); a PI's
    // "?>", a comment's "--" (malformed).
    auto written_back = [](xmlNode* n) {
        switch (n->type) {
        case XML_COMMENT_NODE:
            return !has(n->content, "\r") && !has(n->content, "--") && !(n->content && n->content[0] && n->content[xmlStrlen(n->content) - 1] == '-') &&
                   xml_chars(n->content);
        case XML_PI_NODE:
            // A target a stylesheet computed is written as it is: it must be one a parse reads back.
            if (n->name == nullptr || xmlValidateNCName(n->name, 0) != 0 || xmlStrcasecmp(n->name, reinterpret_cast<const xmlChar*>("xml")) == 0)
                return false;
            return !has(n->content, "\r") && !has(n->content, "?>") &&
                   !(n->content && (n->content[0] == ' ' || n->content[0] == '\t' || n->content[0] == '\n')) && xml_chars(n->content) &&
                   xmlStrlen(n->name) <= XML_MAX_NAME_LENGTH;
        default:
            return false;
        }
    };
    // One element at the top (the root), and only comments and processing instructions around it.
    for (xmlNode* n = doc->children; n != nullptr; n = n->next)
        if (n != root && !written_back(n)) return std::nullopt;
    xmlNode* n = root;
    for (;;) {
        switch (n->type) {
        case XML_ELEMENT_NODE:
            ++elements;
            deepest = std::max(deepest, ++depth);
            if (depth > max_depth || elements > lim.max_elements) return std::nullopt;
            if (xmlStrlen(n->name) > XML_MAX_NAME_LENGTH || !bound_as_written(doc, n, n->ns, false)) return std::nullopt;
            for (xmlAttr* a = n->properties; a != nullptr; a = a->next) {
                if (xmlStrlen(a->name) > XML_MAX_NAME_LENGTH || !bound_as_written(doc, n, a->ns, true)) return std::nullopt;
                for (xmlNode* v = a->children; v != nullptr; v = v->next)
                    if (v->type != XML_TEXT_NODE || !xml_chars(v->content)) return std::nullopt;
            }
            break;
        case XML_TEXT_NODE:
            // disable-output-escaping: its bytes parse to something else
            if (n->name == xmlStringTextNoenc || !xml_chars(n->content)) return std::nullopt;
            break;
        case XML_CDATA_SECTION_NODE:
            if (has(n->content, "\r") || !xml_chars(n->content)) return std::nullopt;
            break;
        case XML_COMMENT_NODE:
        case XML_PI_NODE:
            if (!written_back(n)) return std::nullopt;
            break;
        default:
            return std::nullopt;  // entity references, XInclude markers …: not what a parse of the bytes gives
        }
        if (n->type == XML_ELEMENT_NODE && n->children != nullptr) {
            n = n->children;
            continue;
        }
        // Leave n, and each ancestor whose last child it was.
        for (;;) {
            if (n->type == XML_ELEMENT_NODE) --depth;
            if (n == root) {
                document out;
                if (root->ns != nullptr && root->ns->href != nullptr)
                    out.root_namespace = reinterpret_cast<const char*>(root->ns->href);
                out.root_name = reinterpret_cast<const char*>(root->name);
                out.elements = elements;
                out.depth = deepest;
                out.doc = std::move(tree);
                return out;
            }
            if (n->next != nullptr) {
                n = n->next;
                break;
            }
            n = n->parent;
        }
    }
}

result<document> adopt_or_parse(doc_ptr tree, std::string_view bytes, const limits& lim, std::string_view name) {
    if (tree)
        if (auto adopted = adopt(std::move(tree), bytes.size(), lim)) return std::move(*adopted);
    return parse(bytes, lim, name);
}

std::string qualified_root(const document& d) {
    if (d.root_namespace.empty()) return d.root_name;
    return fmt::format("{{{}}}{}", d.root_namespace, d.root_name);
}

}  // namespace portgate::xml

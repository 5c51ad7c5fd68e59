// Enveloped XML-DSig without re-serialisation. Signing: the document is parsed once (hardened parser),
// its C14N form (= what a verifier sees after the enveloped transform) is digested, and the Signature
// element's text is inserted into the original bytes right before the tag that follows it, so no text
// node changes and the digest of the final document without the signature is the one computed. The
// canonical SignedInfo is built as text with the namespace context the final document gives it.
// Verification: strict shape and allow-lists first, then digest, then signature (xmlsec's order).
#include "gateway/sign/sign.hpp"

#include <algorithm>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <libxml/c14n.h>
#include <libxml/xmlIO.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "gateway/sign/crypto.hpp"

namespace portgate::sign {

namespace {

using namespace detail;

constexpr auto npos = std::string_view::npos;

std::string_view text_of(const xmlChar* s) { return s ? std::string_view(reinterpret_cast<const char*>(s)) : std::string_view(); }

bool is_dsig(const xmlNode* n, std::string_view local) {
    return n != nullptr && n->type == XML_ELEMENT_NODE && n->ns != nullptr && text_of(n->ns->href) == dsig_ns &&
           text_of(n->name) == local;
}

void collect_signatures(xmlNode* n, std::vector<xmlNode*>& out) {
    for (; n != nullptr; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (is_dsig(n, "Signature")) out.push_back(n);
        collect_signatures(n->children, out);
    }
}

bool has_comment(const xmlNode* n) {
    for (; n != nullptr; n = n->next) {
        if (n->type == XML_COMMENT_NODE) return true;
        if (n->type == XML_ELEMENT_NODE && has_comment(n->children)) return true;
    }
    return false;
}

// ---- C14N 1.0 (inclusive, without comments) streamed into a digest or a string -------------------

struct sink {
    EVP_MD_CTX* md = nullptr;
    std::string* text = nullptr;
    bool failed = false;
};

int sink_write(void* ctx, const char* buf, int len) {
    auto* s = static_cast<sink*>(ctx);
    if (s->md != nullptr && EVP_DigestUpdate(s->md, buf, static_cast<size_t>(len)) != 1) s->failed = true;
    if (s->text != nullptr) s->text->append(buf, static_cast<size_t>(len));
    return len;
}

int sink_close(void*) { return 0; }

bool canonicalise(xmlDoc* doc, xmlC14NIsVisibleCallback visible, void* user, sink& s) {
    xmlOutputBufferPtr buf = xmlOutputBufferCreateIO(&sink_write, &sink_close, &s, nullptr);
    if (buf == nullptr) return false;
    const int rc = xmlC14NExecute(doc, visible, user, XML_C14N_1_0, nullptr, 0, buf);
    const int closed = xmlOutputBufferClose(buf);  // flushes into the sink
    return rc >= 0 && closed >= 0 && !s.failed;
}

std::optional<std::string> c14n_digest(xmlDoc* doc, const EVP_MD* md, xmlC14NIsVisibleCallback visible, void* user) {
    md_ctx_ptr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) return std::nullopt;
    sink s{ctx.get(), nullptr};
    if (!canonicalise(doc, visible, user, s)) return std::nullopt;
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), out, &len) != 1) return std::nullopt;
    return std::string(reinterpret_cast<char*>(out), len);
}

// Node visibility for the two node-sets verification needs. Namespace nodes arrive as xmlNs with the
// element they are in scope for as `parent`; attributes and other nodes know their parent.
const xmlNode* owner_of(xmlNodePtr node, xmlNodePtr parent) {
    if (node == nullptr) return parent;
    if (node->type == XML_NAMESPACE_DECL) return parent;
    return node;
}

bool within(const xmlNode* n, const xmlNode* top) {
    for (; n != nullptr; n = n->parent)
        if (n == top) return true;
    return false;
}

int visible_without(void* user, xmlNodePtr node, xmlNodePtr parent) {  // enveloped-signature transform
    return within(owner_of(node, parent), static_cast<const xmlNode*>(user)) ? 0 : 1;
}

int visible_within(void* user, xmlNodePtr node, xmlNodePtr parent) {  // the SignedInfo subtree
    return within(owner_of(node, parent), static_cast<const xmlNode*>(user)) ? 1 : 0;
}

// ---- Where the tags are in the original bytes ----------------------------------------------------

struct layout {
    std::size_t root_end = npos;         // offset of the root's end tag "</…>"
    std::vector<std::size_t> children;   // offsets of the root's element children's start tags
};

// The document is already known to be well-formed (and DTD-free): a tokenizer that knows comments,
// PIs, CDATA and quoted attribute values is enough to find tag offsets exactly.
std::optional<layout> scan(std::string_view b) {
    layout out;
    std::size_t i = 0;
    int depth = 0;
    auto skip_past = [&](std::string_view end) {
        const auto p = b.find(end, i);
        if (p == npos) return false;
        i = p + end.size();
        return true;
    };
    while (true) {
        const auto lt = b.find('<', i);
        if (lt == npos) break;
        i = lt;
        const auto rest = b.substr(i);
        if (rest.starts_with("<!--")) {
            if (!skip_past("-->")) return std::nullopt;
        } else if (rest.starts_with("<![CDATA[")) {
            if (!skip_past("]]>")) return std::nullopt;
        } else if (rest.starts_with("<?")) {
            if (!skip_past("?>")) return std::nullopt;
        } else if (rest.starts_with("<!")) {
            return std::nullopt;  // DOCTYPE: the parser refused it already
        } else if (rest.starts_with("</")) {
            if (depth == 1) out.root_end = i;
            --depth;
            if (!skip_past(">")) return std::nullopt;
        } else {
            if (depth == 1) out.children.push_back(i);
            std::size_t j = i + 1;
            char quote = 0;
            for (; j < b.size(); ++j) {
                const char c = b[j];
                if (quote != 0) {
                    if (c == quote) quote = 0;
                } else if (c == '"' || c == '\'') {
                    quote = c;
                } else if (c == '>') {
                    break;
                }
            }
            if (j >= b.size()) return std::nullopt;
            if (b[j - 1] != '/') ++depth;
            else if (depth == 0) return std::nullopt;  // <root/>: nowhere to put a child without rewriting
            i = j + 1;
        }
    }
    if (out.root_end == npos) return std::nullopt;
    return out;
}

// ---- Text pieces ---------------------------------------------------------------------------------

std::string escape_text(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '\r': out += "&#xD;"; break;
        default: out += c;
        }
    }
    return out;
}

std::string escape_attribute(std::string_view s) {  // C14N attribute value rules
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '"': out += "&quot;"; break;
        case '\t': out += "&#x9;"; break;
        case '\n': out += "&#xA;"; break;
        case '\r': out += "&#xD;"; break;
        default: out += c;
        }
    }
    return out;
}

// The start-tag additions C14N gives SignedInfo as the apex of its node-set: every namespace in scope
// (the root's declarations plus xmlns:ds from Signature; sorted, default first) and the xml:* attributes
// inherited from the root. The Signature element is always a child of the root, so these are all.
std::optional<std::string> signed_info_context(const xmlNode* root) {
    std::map<std::string, std::string> ns;  // prefix ("" = default) → URI; std::map sorts bytewise
    for (const xmlNs* n = root->nsDef; n != nullptr; n = n->next) {
        const std::string prefix(text_of(n->prefix));
        if (prefix == "xml") continue;
        ns[prefix] = std::string(text_of(n->href));
    }
    ns["ds"] = std::string(dsig_ns);
    std::string out;
    for (auto& [prefix, uri] : ns) {
        if (prefix.empty() && uri.empty()) continue;  // xmlns="" is not rendered on an apex
        if (uri.find('"') != std::string::npos) return std::nullopt;
        out += prefix.empty() ? " xmlns=\"" : fmt::format(" xmlns:{}=\"", prefix);
        out += uri;  // libxml2 writes namespace URIs as they are; so must we
        out += '"';
    }
    std::map<std::string, std::string> xml_attrs;
    for (const xmlAttr* a = root->properties; a != nullptr; a = a->next) {
        if (a->ns == nullptr || text_of(a->ns->href) != "http://www.w3.org/XML/1998/namespace") continue;
        xmlChar* v = xmlNodeListGetString(root->doc, a->children, 1);
        xml_attrs[std::string(text_of(a->name))] = std::string(text_of(v));
        xmlFree(v);
    }
    for (auto& [name, value] : xml_attrs) out += fmt::format(" xml:{}=\"{}\"", name, escape_attribute(value));
    return out;
}

// The inside of SignedInfo, written directly in canonical form (explicit end tags, attributes as C14N
// prints them) so that the bytes sent and the bytes signed are the same characters.
std::string signed_info_body(algorithm a, std::string_view digest_b64) {
    return fmt::format(
        "\n    <ds:CanonicalizationMethod Algorithm=\"{}\"></ds:CanonicalizationMethod>"
        "\n    <ds:SignatureMethod Algorithm=\"{}\"></ds:SignatureMethod>"
        "\n    <ds:Reference URI=\"\">"
        "\n      <ds:Transforms>"
        "\n        <ds:Transform Algorithm=\"{}\"></ds:Transform>"
        "\n      </ds:Transforms>"
        "\n      <ds:DigestMethod Algorithm=\"{}\"></ds:DigestMethod>"
        "\n      <ds:DigestValue>{}</ds:DigestValue>"
        "\n    </ds:Reference>"
        "\n  ",
        c14n_uri, signature_method_uri(a), enveloped_uri, digest_method_uri(a), digest_b64);
}

bool matches(const xmlNode* n, std::string_view ns, std::string_view local) {
    return n->type == XML_ELEMENT_NODE && text_of(n->name) == local &&
           text_of(n->ns ? n->ns->href : nullptr) == ns;
}

}  // namespace

result<std::string> sign_document(const identity& id, std::string_view bytes, const placement& where,
                                  const sign_options& options) {
    if (bytes.find('\0') != npos)
        return error(errc::sign_unsupported, "the document is not in an ASCII-compatible encoding (UTF-16?); send UTF-8");
    auto parsed = xml::parse(bytes, options.limits, "document to sign");
    if (!parsed) return parsed.err();
    return sign_document(id, bytes, parsed.value(), where);
}

namespace {

// What signing made: the signed bytes, the ds:Signature element spliced into them, and the root child it
// went before (nullptr: it is the root's last child).
struct signed_output {
    std::string bytes;
    std::string element;
    xmlNode* before = nullptr;
};

result<signed_output> sign_parsed(const identity& id, std::string_view bytes, const xml::document& parsed,
                                  const placement& where);

}  // namespace

result<std::string> sign_document(const identity& id, std::string_view bytes, const xml::document& parsed,
                                  const placement& where) {
    auto out = sign_parsed(id, bytes, parsed, where);
    if (!out) return out.err();
    return std::move(out->bytes);
}

result<std::string> sign_document_into(const identity& id, std::string_view bytes, xml::document& parsed,
                                       const placement& where) {
    auto out = sign_parsed(id, bytes, parsed, where);
    if (!out) return out.err();
    // The element exactly as spliced into the bytes, parsed in the root's context, put at the same place.
    xmlNode* root = xmlDocGetRootElement(parsed.doc.get());
    xmlNode* list = nullptr;
    const auto rc = xmlParseInNodeContext(root, out->element.data(), static_cast<int>(out->element.size()),
                                          XML_PARSE_NONET | XML_PARSE_NOCDATA, &list);
    if (rc != XML_ERR_OK || list == nullptr || list->next != nullptr) {
        if (list) xmlFreeNodeList(list);
        return error(errc::internal, "the ds:Signature just made does not parse back");
    }
    if (out->before) xmlAddPrevSibling(out->before, list);
    else xmlAddChild(root, list);
    return std::move(out->bytes);
}

namespace {

result<signed_output> sign_parsed(const identity& id, std::string_view bytes, const xml::document& parsed,
                                  const placement& where) {
    if (bytes.find('\0') != npos)
        return error(errc::sign_unsupported, "the document is not in an ASCII-compatible encoding (UTF-16?); send UTF-8");
    xmlDoc* doc = parsed.doc.get();
    xmlNode* root = doc ? xmlDocGetRootElement(doc) : nullptr;
    if (root == nullptr) return error(errc::internal, "sign_document: the parsed document has no root");

    std::vector<xmlNode*> existing;
    collect_signatures(root, existing);
    if (!existing.empty())
        return error(errc::sign_unsupported, "the document already carries a ds:Signature; portgate signs unsigned documents only");

    const auto lay = scan(bytes);
    if (!lay) return error(errc::sign_unsupported, "cannot place a signature: the root element is empty (<root/>)");
    std::vector<xmlNode*> children;
    for (xmlNode* c = root->children; c != nullptr; c = c->next)
        if (c->type == XML_ELEMENT_NODE) children.push_back(c);
    if (children.size() != lay->children.size())
        return error(errc::internal, fmt::format("signature placement: {} root children parsed, {} scanned",
                                                 children.size(), lay->children.size()));

    std::size_t offset = lay->root_end;
    xmlNode* before = nullptr;
    if (!where.before.empty()) {
        std::string_view ns = text_of(root->ns ? root->ns->href : nullptr);
        std::string_view local = where.before;
        if (local.starts_with('{')) {
            const auto close = local.find('}');
            if (close == npos) return error(errc::sign_unsupported, fmt::format("placement '{}': expected {{namespace}}local", where.before));
            ns = local.substr(1, close - 1);
            local = local.substr(close + 1);
        }
        for (std::size_t k = 0; k < children.size(); ++k)
            if (matches(children[k], ns, local)) {
                offset = lay->children[k];
                before = children[k];
                break;
            }
    }

    const auto digest = c14n_digest(doc, digest_of(id.alg()), nullptr, nullptr);
    if (!digest) return error(errc::sign_failed, "canonicalisation of the document failed (relative namespace URI?)");
    const auto context = signed_info_context(root);
    if (!context) return error(errc::sign_unsupported, "a namespace URI on the root contains '\"'");

    const std::string body = signed_info_body(id.alg(), base64_encode(*digest));
    const std::string canonical_signed_info = "<ds:SignedInfo" + *context + ">" + body + "</ds:SignedInfo>";
    auto sig = id.sign_bytes(canonical_signed_info);
    if (!sig) return sig.err();

    std::string element = fmt::format(
        "<ds:Signature xmlns:ds=\"{}\">\n  <ds:SignedInfo>{}</ds:SignedInfo>\n  <ds:SignatureValue>{}</ds:SignatureValue>"
        "\n  <ds:KeyInfo>\n    <ds:KeyName>{}</ds:KeyName>\n    <ds:X509Data>\n      <ds:X509Certificate>{}</ds:X509Certificate>"
        "\n    </ds:X509Data>\n  </ds:KeyInfo>\n</ds:Signature>",
        dsig_ns, body, base64_encode(sig.value()), escape_text(id.key_name()), id.certificate_base64());

    signed_output out;
    out.bytes.reserve(bytes.size() + element.size());
    out.bytes.append(bytes.substr(0, offset));
    out.bytes.append(element);
    out.bytes.append(bytes.substr(offset));
    out.element = std::move(element);
    out.before = before;
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------

namespace {

struct invalid {
    std::string code;
    std::string reason;
};

// The element children of `n`, refusing anything else but whitespace between them.
std::optional<std::vector<xmlNode*>> element_children(xmlNode* n) {
    std::vector<xmlNode*> out;
    for (xmlNode* c = n->children; c != nullptr; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            out.push_back(c);
        } else if (c->type == XML_TEXT_NODE) {
            for (const char ch : text_of(c->content))
                if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') return std::nullopt;
        } else {
            return std::nullopt;  // comments, PIs, CDATA inside signature structure
        }
    }
    return out;
}

std::string attribute(const xmlNode* n, const char* name, bool* present = nullptr) {
    xmlChar* v = xmlGetNoNsProp(n, reinterpret_cast<const xmlChar*>(name));
    if (present != nullptr) *present = v != nullptr;
    std::string out(text_of(v));
    xmlFree(v);
    return out;
}

bool only_attributes(const xmlNode* n, std::initializer_list<std::string_view> allowed) {
    for (const xmlAttr* a = n->properties; a != nullptr; a = a->next) {
        if (a->ns != nullptr) return false;
        if (std::find(allowed.begin(), allowed.end(), text_of(a->name)) == allowed.end()) return false;
    }
    return true;
}

std::string content(const xmlNode* n) {
    xmlChar* v = xmlNodeGetContent(n);
    std::string out(text_of(v));
    xmlFree(v);
    return out;
}

std::optional<algorithm> algorithm_for_uri(std::string_view uri) {
    for (auto a : {algorithm::sm2_sm3, algorithm::rsa_sha1, algorithm::rsa_sha256, algorithm::ecdsa_sha256})
        if (signature_method_uri(a) == uri) return a;
    return std::nullopt;
}

struct checked_shape {
    xmlNode* signature = nullptr;
    xmlNode* signed_info = nullptr;
    algorithm alg{};
    const EVP_MD* digest = nullptr;
    std::string digest_value;
    std::string signature_value;
    std::string key_name;
    std::vector<std::string> certificates;  // DER
};

// Shape and allow-lists: everything decided before any cryptography.
std::optional<invalid> check_shape(xmlDoc* doc, const verify_policy& policy, checked_shape& out) {
    xmlNode* root = xmlDocGetRootElement(doc);
    std::vector<xmlNode*> sigs;
    collect_signatures(root, sigs);
    if (sigs.empty()) return invalid{"not_signed", "the document has no ds:Signature"};
    if (sigs.size() > 1)
        return invalid{"multiple_signatures", fmt::format("the document has {} ds:Signature elements; exactly one is allowed", sigs.size())};
    out.signature = sigs[0];
    if (out.signature->parent != root)
        return invalid{"signature_misplaced", "ds:Signature is not a child of the root element (moved or wrapped signature)"};
    if (!policy.allow_comments && has_comment(root->children))
        return invalid{"comment_in_document", "the signed document contains a comment (C14N drops comments, so they can hide "
                                              "changes from readers; refused by policy)"};

    const auto bad = [](std::string what) { return invalid{"bad_structure", std::move(what)}; };
    auto sig_children = element_children(out.signature);
    if (!sig_children) return bad("ds:Signature holds something other than elements");
    auto& sc = *sig_children;
    if (sc.size() < 2 || sc.size() > 3 || !is_dsig(sc[0], "SignedInfo") || !is_dsig(sc[1], "SignatureValue") ||
        (sc.size() == 3 && !is_dsig(sc[2], "KeyInfo")))
        return bad("ds:Signature must hold SignedInfo, SignatureValue and optionally KeyInfo, in that order (no ds:Object)");
    out.signed_info = sc[0];

    auto si = element_children(out.signed_info);
    if (!si || si->size() < 3) return bad("ds:SignedInfo must hold CanonicalizationMethod, SignatureMethod and one Reference");
    if (si->size() > 3) {
        std::size_t refs = 0;
        for (auto* c : *si) refs += is_dsig(c, "Reference") ? 1 : 0;
        if (refs > 1) return invalid{"multiple_references", fmt::format("ds:SignedInfo has {} references; exactly one (URI=\"\") is allowed", refs)};
        return bad("ds:SignedInfo holds unexpected elements");
    }
    xmlNode* cm = (*si)[0];
    xmlNode* sm = (*si)[1];
    xmlNode* ref = (*si)[2];
    if (!is_dsig(cm, "CanonicalizationMethod") || !is_dsig(sm, "SignatureMethod") || !is_dsig(ref, "Reference"))
        return bad("ds:SignedInfo must hold CanonicalizationMethod, SignatureMethod and Reference, in that order");
    if (attribute(cm, "Algorithm") != c14n_uri || cm->children != nullptr)
        return invalid{"algorithm_not_allowed", fmt::format("CanonicalizationMethod '{}' is not allowed (only C14N 1.0 without comments)",
                                                            attribute(cm, "Algorithm"))};
    const std::string sm_uri = attribute(sm, "Algorithm");
    const auto alg = algorithm_for_uri(sm_uri);
    if (!alg || std::find(policy.allowed.begin(), policy.allowed.end(), *alg) == policy.allowed.end())
        return invalid{"algorithm_not_allowed", fmt::format("SignatureMethod '{}' is not allowed", sm_uri)};
    if (uses_sha1(*alg) && !policy.allow_sha1)
        return invalid{"algorithm_not_allowed", fmt::format("SignatureMethod '{}' uses SHA-1, which this policy does not allow", sm_uri)};
    if (sm->children != nullptr) return bad("SignatureMethod must be empty (no HMACOutputLength or parameters)");
    out.alg = *alg;

    bool has_uri = false;
    const std::string uri = attribute(ref, "URI", &has_uri);
    if (!has_uri || !uri.empty() || !only_attributes(ref, {"URI", "Id", "Type"}))
        return invalid{"reference_not_whole_document",
                       fmt::format("the Reference must be URI=\"\" (the whole document), not '{}'", has_uri ? uri : "(no URI)")};
    auto rc = element_children(ref);
    if (!rc || rc->size() != 3 || !is_dsig((*rc)[0], "Transforms") || !is_dsig((*rc)[1], "DigestMethod") ||
        !is_dsig((*rc)[2], "DigestValue"))
        return bad("ds:Reference must hold Transforms, DigestMethod and DigestValue");
    auto transforms = element_children((*rc)[0]);
    bool transforms_ok = transforms && !transforms->empty() && transforms->size() <= 2;
    if (transforms_ok) {
        for (std::size_t k = 0; k < transforms->size(); ++k) {
            xmlNode* t = (*transforms)[k];
            const std::string want(k == 0 ? enveloped_uri : c14n_uri);
            if (!is_dsig(t, "Transform") || attribute(t, "Algorithm") != want || t->children != nullptr) transforms_ok = false;
        }
    }
    if (!transforms_ok)
        return invalid{"transforms_not_allowed", "the Reference's transforms must be exactly enveloped-signature (optionally followed by C14N 1.0)"};
    const std::string dm_uri = attribute((*rc)[1], "Algorithm");
    out.digest = digest_for_uri(dm_uri);
    if (out.digest == nullptr || (dm_uri == sha1_uri && !policy.allow_sha1))
        return invalid{"algorithm_not_allowed", fmt::format("DigestMethod '{}' is not allowed", dm_uri)};
    auto dv = base64_decode(content((*rc)[2]));
    if (!dv) return bad("DigestValue is not base64");
    out.digest_value = std::move(*dv);
    auto sv = base64_decode(content(sc[1]));
    if (!sv) return bad("SignatureValue is not base64");
    out.signature_value = std::move(*sv);

    if (sc.size() == 3) {
        for (xmlNode* k = sc[2]->children; k != nullptr; k = k->next) {
            if (is_dsig(k, "KeyName")) out.key_name = content(k);
            if (!is_dsig(k, "X509Data")) continue;
            for (xmlNode* c = k->children; c != nullptr; c = c->next) {
                if (!is_dsig(c, "X509Certificate")) continue;
                auto der = base64_decode(content(c));
                if (!der) return bad("X509Certificate is not base64");
                out.certificates.push_back(std::move(*der));
            }
        }
    }
    return std::nullopt;
}

// Trusted CA files are loaded once per path and shared (an X509_STORE is safe for concurrent checks).
X509_STORE* trusted_store(const std::string& path) {
    static std::mutex mutex;
    static std::map<std::string, std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)>> stores;
    std::lock_guard lock(mutex);
    if (auto it = stores.find(path); it != stores.end()) return it->second.get();
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), &X509_STORE_free);
    if (!store || X509_STORE_load_file(store.get(), path.c_str()) != 1) {
        ERR_clear_error();
        return nullptr;
    }
    return stores.emplace(path, std::move(store)).first->second.get();
}

verdict reject(invalid why, std::optional<algorithm> alg = std::nullopt) {
    verdict v;
    v.code = std::move(why.code);
    v.reason = std::move(why.reason);
    v.alg = alg;
    return v;
}

}  // namespace

result<verdict> verify_document(std::string_view bytes, const verify_policy& policy) {
    auto parsed = xml::parse(bytes, policy.limits, "signed document");
    if (!parsed) {
        if (parsed.err().code == errc::internal) return parsed.err();
        return reject({"xml_rejected", parsed.err().message});
    }
    xmlDoc* doc = parsed->doc.get();

    checked_shape shape;
    if (auto why = check_shape(doc, policy, shape)) return reject(std::move(*why), shape.alg);

    // Which certificate speaks for the signer.
    std::shared_ptr<X509> expected;
    if (!policy.certificate.empty()) {
        expected = cached_certificate(policy.certificate);
        if (!expected) return error(errc::signature_unverifiable, "the expected certificate cannot be read");
    }
    std::vector<std::shared_ptr<X509>> candidates;
    if (expected) {
        const std::string want = certificate_der(expected.get());
        if (!shape.certificates.empty() &&
            std::find(shape.certificates.begin(), shape.certificates.end(), want) == shape.certificates.end())
            return reject({"certificate_mismatch", "the certificate in KeyInfo is not the expected signer's certificate"}, shape.alg);
        candidates.push_back(std::move(expected));
    } else {
        if (shape.certificates.empty())
            return error(errc::signature_unverifiable, "no X509Certificate in KeyInfo and no expected certificate given (--cert)");
        for (auto& der : shape.certificates) {
            auto c = cached_certificate(der);
            if (!c) return reject({"bad_structure", "an X509Certificate in KeyInfo is not a certificate"}, shape.alg);
            candidates.push_back(std::move(c));
        }
    }

    // Digest of the document without the signature: URI="" without comments, enveloped transform, C14N.
    auto digest = c14n_digest(doc, shape.digest, &visible_without, shape.signature);
    if (!digest) return error(errc::internal, "canonicalisation of the signed document failed");
    if (*digest != shape.digest_value)
        return reject({"digest_mismatch", "DigestValue does not match: the document was changed after signing"}, shape.alg);

    std::string signed_info;
    sink s{nullptr, &signed_info};
    if (!canonicalise(doc, &visible_within, shape.signed_info, s))
        return error(errc::internal, "canonicalisation of SignedInfo failed");

    std::string sig = shape.signature_value;
    if (shape.alg == algorithm::ecdsa_sha256 ||
        (shape.alg == algorithm::sm2_sm3 &&
         (policy.sm2_enc ? *policy.sm2_enc == sm2_encoding::raw : sig.size() == 64))) {
        if (sig.size() == 64) {
            auto der = raw_to_der(sig);
            if (!der) return reject({"signature_mismatch", "SignatureValue is not a valid r‖s pair"}, shape.alg);
            sig = std::move(*der);
        } else if (shape.alg == algorithm::sm2_sm3) {
            return reject({"signature_mismatch", fmt::format("SignatureValue has {} bytes; raw SM2 is 64", sig.size())}, shape.alg);
        }
    }

    const X509* signer = nullptr;
    bool key_type_ok = false;
    for (auto& c : candidates) {
        EVP_PKEY* pub = X509_get0_pubkey(c.get());
        if (!suits(shape.alg, kind_of(pub))) continue;
        key_type_ok = true;
        const int rc = verify_bytes(shape.alg, pub, signed_info, sig, policy.sm2_id);
        if (rc < 0) return error(errc::internal, fmt::format("signature check could not run: {}", openssl_errors()));
        if (rc == 1) {
            signer = c.get();
            break;
        }
    }
    if (!key_type_ok)
        return reject({"key_type_mismatch", fmt::format("the certificate's key does not suit {}", algorithm_name(shape.alg))}, shape.alg);
    if (signer == nullptr)
        return reject({"signature_mismatch", "SignatureValue does not verify over SignedInfo with the signer's certificate"}, shape.alg);

    if (!policy.trusted_ca_file.empty()) {
        X509_STORE* store = trusted_store(policy.trusted_ca_file);
        if (store == nullptr) return error(errc::signature_unverifiable, fmt::format("cannot load the trusted CA file {}", policy.trusted_ca_file));
        X509_STORE_CTX* ctx = X509_STORE_CTX_new();
        int ok = -1;
        std::string why;
        if (ctx != nullptr && X509_STORE_CTX_init(ctx, store, const_cast<X509*>(signer), nullptr) == 1) {
            ok = X509_verify_cert(ctx);
            if (ok != 1) why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
        }
        X509_STORE_CTX_free(ctx);
        if (ok < 0) return error(errc::internal, "certificate chain check could not run");
        if (ok != 1) return reject({"certificate_untrusted", fmt::format("the signer certificate is not trusted: {}", why)}, shape.alg);
    }

    verdict v;
    v.valid = true;
    v.alg = shape.alg;
    v.key_name = shape.key_name;
    v.signer_subject = certificate_subject(signer);
    v.signer_serial = certificate_serial_hex(signer);
    return v;
}

}  // namespace portgate::sign

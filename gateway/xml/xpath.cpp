#include "gateway/xml/xpath.hpp"

#include <cstdarg>
#include <cstdio>

#include <fmt/format.h>
#include <libxml/xmlerror.h>
#include <libxml/xpathInternals.h>

namespace portgate::xml {
namespace {

std::string message_of(xmlErrorPtr err);

struct error_sink {
    std::string message;
};

void sink_error(void* data, xmlErrorPtr err) {
    auto* s = static_cast<error_sink*>(data);
    if (s && err && s->message.empty()) s->message = message_of(err);
}

// libxml2 2.9 raises XPath errors with a code but no message; its generic channel carries the detail
// ("function abs not found"). Both are captured here, never printed.
thread_local std::string generic_text;

void capture_generic(void*, const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (generic_text.size() < 1024) generic_text += buf;
}

void silent_generic(void*, const char*, ...) {}

std::string describe_xpath_error(int code) {
    switch (code) {
    case XML_XPATH_NUMBER_ERROR: return "number encoding";
    case XML_XPATH_UNFINISHED_LITERAL_ERROR: return "unfinished literal";
    case XML_XPATH_START_LITERAL_ERROR: return "start of literal";
    case XML_XPATH_VARIABLE_REF_ERROR: return "expected $ for variable reference";
    case XML_XPATH_UNDEF_VARIABLE_ERROR: return "undefined variable";
    case XML_XPATH_INVALID_PREDICATE_ERROR: return "invalid predicate";
    case XML_XPATH_EXPR_ERROR: return "invalid expression";
    case XML_XPATH_UNCLOSED_ERROR: return "missing closing curly brace";
    case XML_XPATH_UNKNOWN_FUNC_ERROR: return "unregistered function";
    case XML_XPATH_INVALID_OPERAND: return "invalid operand";
    case XML_XPATH_INVALID_TYPE: return "invalid type";
    case XML_XPATH_INVALID_ARITY: return "invalid number of arguments";
    case XML_XPATH_INVALID_CTXT_SIZE: return "invalid context size";
    case XML_XPATH_INVALID_CTXT_POSITION: return "invalid context position";
    case XML_XPATH_MEMORY_ERROR: return "memory allocation failed";
    case XML_XPATH_UNDEF_PREFIX_ERROR: return "undefined namespace prefix";
    case XML_XPATH_ENCODING_ERROR: return "encoding error";
    case XML_XPATH_INVALID_CHAR_ERROR: return "invalid character";
    default: return "XPath error " + std::to_string(code);
    }
}

std::string message_of(xmlErrorPtr err) {
    std::string m;
    if (err && err->message) m = err->message;
    else if (err) m = describe_xpath_error(err->code);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
}

}  // namespace

result<xpath_expr> xpath_expr::compile(std::string_view text) {
    error_sink sink;
    xmlXPathContext* ctx = xmlXPathNewContext(nullptr);
    if (!ctx) return error(errc::internal, "out of memory");
    ctx->error = &sink_error;
    ctx->userData = &sink;
    auto prev_generic = xmlGenericError;
    auto prev_generic_ctx = xmlGenericErrorContext;
    xmlSetGenericErrorFunc(nullptr, &silent_generic);
    std::string s(text);
    xmlXPathCompExpr* comp = xmlXPathCtxtCompile(ctx, reinterpret_cast<const xmlChar*>(s.c_str()));
    xmlSetGenericErrorFunc(prev_generic_ctx, prev_generic);
    xmlXPathFreeContext(ctx);
    if (!comp)
        return error(errc::config_invalid,
                     fmt::format("XPath '{}' does not compile: {}", s, sink.message.empty() ? "syntax error" : sink.message));
    xpath_expr e;
    e.text_ = std::move(s);
    e.comp_ = std::shared_ptr<xmlXPathCompExpr>(comp, deleter{});
    return e;
}

namespace {

// libxml2 contexts no evaluation is using, per thread, with what each has registered. Few kinds exist (a
// family's namespaces, with or without the rules' functions): the pool stays small, and is bounded anyway.
struct idle_context {
    xmlXPathContext* ctx;
    namespace_list namespaces;
    function_registrar functions;
};
struct context_pool {
    std::vector<idle_context> idle;
    ~context_pool() {
        for (auto& c : idle) xmlXPathFreeContext(c.ctx);
    }
};
thread_local context_pool pool;
constexpr std::size_t pool_max = 8;

void register_namespaces(xmlXPathContext* ctx, const namespace_list& namespaces) {
    for (auto& [prefix, uri] : namespaces)
        xmlXPathRegisterNs(ctx, reinterpret_cast<const xmlChar*>(prefix.c_str()), reinterpret_cast<const xmlChar*>(uri.c_str()));
}

}  // namespace

// While a context is alive, libxml2's generic error channel (per thread) writes into generic_text, which each
// evaluation empties first; the previous channel is restored when the context goes. Set once per context,
// not per evaluation: the rules evaluate hundreds of expressions per document.
xpath_context::xpath_context(xmlDoc* doc, const namespace_list& namespaces, void* user, function_registrar functions)
    : functions_(functions), user_(user), prev_generic_(xmlGenericError), prev_generic_ctx_(xmlGenericErrorContext) {
    xmlSetGenericErrorFunc(nullptr, &capture_generic);
    for (auto it = pool.idle.rbegin(); it != pool.idle.rend(); ++it)
        if (it->functions == functions && it->namespaces == namespaces) {
            ctx_ = it->ctx;
            namespaces_ = std::move(it->namespaces);
            pool.idle.erase(std::next(it).base());
            break;
        }
    if (!ctx_) {
        ctx_ = xmlXPathNewContext(doc);
        if (!ctx_) return;
        namespaces_ = namespaces;
        register_namespaces(ctx_, namespaces);
        if (functions) functions(ctx_);
    }
    // What a fresh context starts with (xmlXPathNewContext), for the parts an evaluation may leave behind.
    ctx_->doc = doc;
    ctx_->node = nullptr;
    ctx_->contextSize = -1;
    ctx_->proximityPosition = -1;
    ctx_->opCount = 0;
    ctx_->depth = 0;
    ctx_->error = &xpath_context::on_error;
    ctx_->userData = this;
}

xpath_context::~xpath_context() {
    if (ctx_) {
        if (pooled_) {
            ctx_->doc = nullptr;
            ctx_->node = nullptr;
            ctx_->userData = nullptr;
            ctx_->error = nullptr;
            xmlResetError(&ctx_->lastError);
            pool.idle.push_back({ctx_, std::move(namespaces_), functions_});
            if (pool.idle.size() > pool_max) {
                xmlXPathFreeContext(pool.idle.front().ctx);
                pool.idle.erase(pool.idle.begin());
            }
        } else {
            xmlXPathFreeContext(ctx_);
        }
    }
    xmlSetGenericErrorFunc(prev_generic_ctx_, prev_generic_);
}

void xpath_context::add_namespaces(const namespace_list& namespaces) {
    if (!ctx_) return;
    pooled_ = false;
    register_namespaces(ctx_, namespaces);
}

void xpath_context::on_error(void* self, xmlErrorPtr err) {
    auto* c = static_cast<xpath_context*>(self);
    if (c && err && c->error_.empty()) c->error_ = message_of(err);
}

void* xpath_context::user_of(xmlXPathParserContext* pctxt) {
    if (!pctxt || !pctxt->context || !pctxt->context->userData) return nullptr;
    return static_cast<xpath_context*>(pctxt->context->userData)->user_;
}

result<xmlXPathObject*> xpath_context::eval(const xpath_expr& e, xmlNode* node) {
    if (!ctx_) return error(errc::internal, "out of memory");
    error_.clear();
    ctx_->node = node;
    generic_text.clear();
    xmlXPathObject* obj = xmlXPathCompiledEval(e.get(), ctx_);
    if (!obj || !error_.empty()) {
        if (obj) xmlXPathFreeObject(obj);
        return failure(e);
    }
    return obj;
}

error xpath_context::failure(const xpath_expr& e) const {
    std::string detail = generic_text;
    if (auto colon = detail.find(": "); colon != std::string::npos && detail.rfind("xmlXPath", 0) == 0) detail = detail.substr(colon + 2);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
    std::string what = error_.empty() ? std::string("evaluation error") : error_;
    if (!detail.empty()) what += " (" + detail + ")";
    return error(errc::internal, fmt::format("XPath '{}' failed: {}", e.text(), what));
}

result<bool> xpath_context::boolean(const xpath_expr& e, xmlNode* node) {
    // Evaluated straight to a boolean: no result object, and a node-set test stops at its first node.
    if (!ctx_) return error(errc::internal, "out of memory");
    error_.clear();
    ctx_->node = node;
    generic_text.clear();
    const int b = xmlXPathCompiledEvalToBoolean(e.get(), ctx_);
    if (b < 0 || !error_.empty()) return failure(e);
    return b != 0;
}

result<std::string> xpath_context::string(const xpath_expr& e, xmlNode* node) {
    auto o = eval(e, node);
    if (!o) return o.err();
    xmlChar* s = xmlXPathCastToString(*o);
    std::string r = s ? reinterpret_cast<const char*>(s) : "";
    if (s) xmlFree(s);
    xmlXPathFreeObject(*o);
    return r;
}

result<std::vector<xmlNode*>> xpath_context::nodes(const xpath_expr& e, xmlNode* node) {
    auto o = eval(e, node);
    if (!o) return o.err();
    std::vector<xmlNode*> r;
    if ((*o)->type != XPATH_NODESET) {
        xmlXPathFreeObject(*o);
        return error(errc::internal, fmt::format("XPath '{}' does not select nodes", e.text()));
    }
    if ((*o)->nodesetval)
        for (int i = 0; i < (*o)->nodesetval->nodeNr; ++i) r.push_back((*o)->nodesetval->nodeTab[i]);
    xmlXPathFreeObject(*o);
    return r;
}

std::string node_path(const xmlNode* node) {
    // Local names with a position where siblings share the name: readable whatever the prefixes
    // ("/CEB311Message/Order[2]/OrderList[3]/gnum"); libxml2's own path writes "*" for default namespaces.
    std::vector<std::string> steps;
    for (const xmlNode* n = node; n && n->type != XML_DOCUMENT_NODE; n = n->parent) {
        if (n->type == XML_ATTRIBUTE_NODE) {
            steps.push_back(std::string("@") + reinterpret_cast<const char*>(n->name));
            continue;
        }
        if (n->type != XML_ELEMENT_NODE) continue;
        std::string step = reinterpret_cast<const char*>(n->name);
        int before = 0, total = 0;
        if (n->parent && n->parent->type == XML_ELEMENT_NODE) {
            for (const xmlNode* s = n->parent->children; s; s = s->next) {
                if (s->type != XML_ELEMENT_NODE || !xmlStrEqual(s->name, n->name)) continue;
                ++total;
                if (s == n) before = total;
            }
        }
        if (total > 1) step += "[" + std::to_string(before) + "]";
        steps.push_back(std::move(step));
    }
    std::string out;
    for (auto it = steps.rbegin(); it != steps.rend(); ++it) out += "/" + *it;
    return out.empty() ? "/" : out;
}

int node_line(const xmlNode* node) {
    if (!node) return 0;
    long l = xmlGetLineNo(node);
    return l > 0 ? static_cast<int>(l) : 0;
}

}  // namespace portgate::xml

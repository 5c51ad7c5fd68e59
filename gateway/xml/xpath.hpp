// XPath 1.0 on libxml2 for portgate's declarative data (type detection, business keys, business rules):
// expressions are compiled once at load time and evaluated from any thread, each evaluation with its own
// context. Errors are captured (never printed) and returned as text.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <libxml/xpath.h>

#include "gateway/core/error.hpp"

namespace portgate::xml {

class xpath_expr {
public:
    xpath_expr() = default;
    // Compiles `text`; the error message says where the syntax is wrong.
    static result<xpath_expr> compile(std::string_view text);
    const std::string& text() const { return text_; }
    xmlXPathCompExpr* get() const { return comp_.get(); }
    explicit operator bool() const { return comp_ != nullptr; }

private:
    struct deleter {
        void operator()(xmlXPathCompExpr* c) const noexcept { xmlXPathFreeCompExpr(c); }
    };
    std::string text_;
    std::shared_ptr<xmlXPathCompExpr> comp_;
};

using namespace_list = std::vector<std::pair<std::string, std::string>>;  // prefix → URI

// Registers extension functions on a fresh libxml2 context (e.g. the rules' pg: functions).
using function_registrar = void (*)(xmlXPathContext*);

// One evaluation context over one document (not thread-safe; make one per document and thread).
// libxml2's context (its function table, the namespaces, its object cache) is taken from a small per-thread
// pool of contexts with the same namespaces and registrar, and given back when this object goes: making one
// registers ~40 functions in a fresh hash table, and a message is checked with several.
class xpath_context {
public:
    xpath_context(xmlDoc* doc, const namespace_list& namespaces, void* user = nullptr, function_registrar functions = nullptr);
    ~xpath_context();
    xpath_context(const xpath_context&) = delete;
    xpath_context& operator=(const xpath_context&) = delete;

    // Direct use of libxml2's context: it is not given back to the pool afterwards.
    xmlXPathContext* raw() {
        pooled_ = false;
        return ctx_;
    }
    void add_namespaces(const namespace_list& namespaces);  // idem

    // Each returns an error (errc::internal, with libxml2's message) when evaluation fails, e.g. an
    // unbound prefix or an unknown function.
    result<bool> boolean(const xpath_expr& e, xmlNode* node);
    result<std::string> string(const xpath_expr& e, xmlNode* node);
    result<std::vector<xmlNode*>> nodes(const xpath_expr& e, xmlNode* node);

    // The user pointer given at construction (extension functions reach their environment through it).
    static void* user_of(xmlXPathParserContext* pctxt);
    // Last error text raised during evaluation (empty when none).
    const std::string& last_error() const { return error_; }

private:
    result<xmlXPathObject*> eval(const xpath_expr& e, xmlNode* node);
    error failure(const xpath_expr& e) const;  // the error of the evaluation that just failed
    static void on_error(void* self, xmlErrorPtr err);
    xmlXPathContext* ctx_ = nullptr;
    namespace_list namespaces_;           // what ctx_ has registered (the pool's key with functions_)
    function_registrar functions_ = nullptr;
    bool pooled_ = true;                  // false once changed from outside: freed, not given back
    void* user_ = nullptr;
    xmlGenericErrorFunc prev_generic_;  // libxml2's generic error channel before this context took it
    void* prev_generic_ctx_;
    std::string error_;
};

// libxml2's path of a node ("/ceb:CEB311Message/ceb:Order[2]/ceb:OrderHead/ceb:orderNo") and its line.
std::string node_path(const xmlNode* node);
int node_line(const xmlNode* node);

}  // namespace portgate::xml

// The part of XPath 1.0 the business rules use, compiled at load time and evaluated on the libxml2 tree
// without libxml2's XPath machine (its parser context, value stack and node-set objects, allocated anew for
// every evaluation, cost more than the rules' own work).
//
// Covered: location paths (absolute or relative, '//', '.', '..', '@name', name tests 'p:name', 'p:*', '*',
// the axes child, self, parent, attribute, descendant, descendant-or-self, preceding-sibling and
// following-sibling, predicates that are a position number or a condition), unions, literals, numbers,
// or/and, = != < <= > >=, + - * div mod, unary minus, and the functions number, string, boolean, not, true,
// false, count, sum, string-length, normalize-space, contains, starts-with, pg:in-table, pg:decimals and
// pg:resident-id. Comparisons and conversions follow XPath 1.0 (existential comparisons of node-sets,
// string-to-number as libxml2 reads it). Anything else — other functions, position(), last(), variables,
// a number turned into a string — is refused at compile time, and the rule keeps libxml2's XPath.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <libxml/tree.h>

#include "gateway/xml/xpath.hpp"

namespace portgate::rules {

struct environment;

// Whether an element's namespace is a given URI, remembered per xmlNs for the span of one evaluation (a
// document's elements share a handful of xmlNs; comparing their long, common-prefixed URIs byte by byte was
// a quarter of the rules' time). Never kept across documents: a freed xmlNs's address may come back.
class namespace_memo {
public:
    bool is(const xmlNs* ns, const std::string& uri);

private:
    struct seen {
        const xmlNs* ns = nullptr;
        const std::string* uri = nullptr;
    };
    seen seen_[4];
    unsigned next_ = 0;
};

class fast_expr {
public:
    enum class type { nodes, number, string, boolean };

    // Empty when `text` goes beyond the covered part (or does not parse: libxml2 reports that).
    static std::optional<fast_expr> compile(std::string_view text, const xml::namespace_list& namespaces);

    fast_expr();
    ~fast_expr();
    fast_expr(const fast_expr&);
    fast_expr(fast_expr&&) noexcept;
    fast_expr& operator=(const fast_expr&);
    fast_expr& operator=(fast_expr&&) noexcept;

    type result_type() const { return type_; }
    // The expression's value converted to a boolean, `context` the context node.
    bool boolean(xmlNode* context, const environment& env) const;
    // The selected nodes in document order; only for expressions of type nodes.
    std::vector<xmlNode*> nodes(xmlNode* context, const environment& env) const;

    struct node;  // the compiled tree (expr.cpp)
    struct step;

private:
    std::vector<node> nodes_;   // nodes_[root_] is the expression
    std::vector<step> steps_;
    std::vector<std::string> strings_;
    int root_ = -1;
    type type_ = type::boolean;
    friend struct compiler;
    friend struct evaluator;
};

}  // namespace portgate::rules

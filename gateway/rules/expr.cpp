#include "gateway/rules/expr.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <boost/container/small_vector.hpp>
#include <libxml/xmlstring.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "gateway/rules/rules.hpp"

namespace portgate::rules {

using type = fast_expr::type;

enum class op {
    number, string, path, union_, or_, and_, eq, ne, lt, le, gt, ge, add, sub, mul, div, mod, neg,
    f_number, f_string, f_boolean, f_not, f_true, f_false, f_count, f_sum, f_string_length, f_normalize_space,
    f_contains, f_starts_with, f_in_table, f_decimals, f_resident_id
};

struct fast_expr::node {
    op what = op::number;
    type t = type::number;
    double num = 0;      // number
    int str = -1;        // string: index in strings_
    bool absolute = false;  // path
    int first_step = 0, step_count = 0;
    int args[3] = {-1, -1, -1};  // operands, arguments (-1: none; a function without argument reads the context node)
    int nargs = 0;
};

struct fast_expr::step {
    enum class axis { child, self, parent, attribute, descendant, descendant_or_self, preceding_sibling, following_sibling } ax = axis::child;
    enum class test { name, any_name, ns_any, any_node } what = test::name;
    int ns = -1;     // index in strings_; -1: no namespace
    int local = -1;  // index in strings_
    std::vector<int> predicates;  // expressions; a number literal is a position
    bool reverse() const { return ax == axis::parent || ax == axis::preceding_sibling; }
};

bool namespace_memo::is(const xmlNs* ns, const std::string& uri) {
    if (!ns || !ns->href || !ns->href[0]) return uri.empty();
    for (const seen& s : seen_)
        if (s.ns == ns && s.uri == &uri) return true;
    if (std::strcmp(uri.c_str(), reinterpret_cast<const char*>(ns->href)) != 0) return false;
    seen_[next_++ % 4] = {ns, &uri};
    return true;
}

fast_expr::fast_expr() = default;
fast_expr::~fast_expr() = default;
fast_expr::fast_expr(const fast_expr&) = default;
fast_expr::fast_expr(fast_expr&&) noexcept = default;
fast_expr& fast_expr::operator=(const fast_expr&) = default;
fast_expr& fast_expr::operator=(fast_expr&&) noexcept = default;

// ---- compiling ------------------------------------------------------------------------------------------

namespace {

enum class tk { end, lparen, rparen, lbracket, rbracket, dot, dotdot, at, comma, colons, slash, dslash, bar, plus, minus,
                eq, ne, lt, le, gt, ge, star, mul, literal, number, name, and_, or_, mod, div, function, axis, node_type };

struct token {
    tk kind = tk::end;
    std::string text;  // literal's value, name (QName, or "p:*"), function or axis name
};

bool name_start(unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80; }
bool name_char(unsigned char c) { return name_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; }
bool space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// XPath 1.0's lexical rules (section 3.7), including its two disambiguations: after a token that can end an
// operand, '*' multiplies and a name is an operator; a name followed by '(' is a function or node type, by
// '::' an axis.
std::optional<std::vector<token>> tokenize(std::string_view s) {
    std::vector<token> out;
    std::size_t i = 0;
    auto operand_ended = [&] {
        if (out.empty()) return false;
        switch (out.back().kind) {
        case tk::at: case tk::colons: case tk::lparen: case tk::lbracket: case tk::comma: case tk::and_: case tk::or_:
        case tk::mod: case tk::div: case tk::mul: case tk::slash: case tk::dslash: case tk::bar: case tk::plus:
        case tk::minus: case tk::eq: case tk::ne: case tk::lt: case tk::le: case tk::gt: case tk::ge:
            return false;
        default: return true;
        }
    };
    auto next_non_space = [&](std::size_t j) {
        while (j < s.size() && space(s[j])) ++j;
        return j;
    };
    while (true) {
        while (i < s.size() && space(s[i])) ++i;
        if (i >= s.size()) break;
        const char c = s[i];
        const char d = i + 1 < s.size() ? s[i + 1] : '\0';
        auto simple = [&](tk k, std::size_t len) {
            out.push_back({k, {}});
            i += len;
        };
        if (c == '(') simple(tk::lparen, 1);
        else if (c == ')') simple(tk::rparen, 1);
        else if (c == '[') simple(tk::lbracket, 1);
        else if (c == ']') simple(tk::rbracket, 1);
        else if (c == '@') simple(tk::at, 1);
        else if (c == ',') simple(tk::comma, 1);
        else if (c == ':' && d == ':') simple(tk::colons, 2);
        else if (c == '/' && d == '/') simple(tk::dslash, 2);
        else if (c == '/') simple(tk::slash, 1);
        else if (c == '|') simple(tk::bar, 1);
        else if (c == '+') simple(tk::plus, 1);
        else if (c == '-') simple(tk::minus, 1);
        else if (c == '=') simple(tk::eq, 1);
        else if (c == '!' && d == '=') simple(tk::ne, 2);
        else if (c == '<' && d == '=') simple(tk::le, 2);
        else if (c == '<') simple(tk::lt, 1);
        else if (c == '>' && d == '=') simple(tk::ge, 2);
        else if (c == '>') simple(tk::gt, 1);
        else if (c == '*') simple(operand_ended() ? tk::mul : tk::star, 1);
        else if (c == '.' && d == '.') simple(tk::dotdot, 2);
        else if ((c >= '0' && c <= '9') || (c == '.' && d >= '0' && d <= '9')) {
            std::size_t j = i;
            while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
            if (j < s.size() && s[j] == '.') {
                ++j;
                while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
            }
            out.push_back({tk::number, std::string(s.substr(i, j - i))});
            i = j;
        } else if (c == '.') simple(tk::dot, 1);
        else if (c == '\'' || c == '"') {
            const auto end = s.find(c, i + 1);
            if (end == std::string_view::npos) return std::nullopt;
            out.push_back({tk::literal, std::string(s.substr(i + 1, end - i - 1))});
            i = end + 1;
        } else if (name_start(static_cast<unsigned char>(c))) {
            std::size_t j = i;
            while (j < s.size() && name_char(static_cast<unsigned char>(s[j]))) ++j;
            std::string name(s.substr(i, j - i));
            if (j + 1 < s.size() && s[j] == ':' && s[j + 1] != ':') {  // a QName or p:*
                if (s[j + 1] == '*') {
                    name += ":*";
                    j += 2;
                } else if (name_start(static_cast<unsigned char>(s[j + 1]))) {
                    std::size_t k = j + 1;
                    while (k < s.size() && name_char(static_cast<unsigned char>(s[k]))) ++k;
                    name += std::string(s.substr(j, k - j));
                    j = k;
                } else {
                    return std::nullopt;
                }
            }
            i = j;
            if (operand_ended()) {
                if (name == "and") out.push_back({tk::and_, {}});
                else if (name == "or") out.push_back({tk::or_, {}});
                else if (name == "mod") out.push_back({tk::mod, {}});
                else if (name == "div") out.push_back({tk::div, {}});
                else return std::nullopt;
                continue;
            }
            const std::size_t n = next_non_space(i);
            if (n < s.size() && s[n] == '(') {
                const bool node_type = name == "node" || name == "text" || name == "comment" || name == "processing-instruction";
                out.push_back({node_type ? tk::node_type : tk::function, std::move(name)});
            } else if (n + 1 < s.size() && s[n] == ':' && s[n + 1] == ':') {
                out.push_back({tk::axis, std::move(name)});
            } else {
                out.push_back({tk::name, std::move(name)});
            }
        } else {
            return std::nullopt;  // '$' variables and anything else
        }
    }
    out.push_back({tk::end, {}});
    return out;
}

}  // namespace

struct compiler {
    fast_expr& e;
    const xml::namespace_list& namespaces;
    std::vector<token> toks;
    std::size_t at = 0;
    bool ok = true;

    const token& peek() const { return toks[at]; }
    bool accept(tk k) {
        if (toks[at].kind != k) return false;
        ++at;
        return true;
    }
    int fail() {
        ok = false;
        return -1;
    }
    int add(fast_expr::node n) {
        e.nodes_.push_back(n);
        return static_cast<int>(e.nodes_.size()) - 1;
    }
    int intern(const std::string& s) {
        for (std::size_t k = 0; k < e.strings_.size(); ++k)
            if (e.strings_[k] == s) return static_cast<int>(k);
        e.strings_.push_back(s);
        return static_cast<int>(e.strings_.size()) - 1;
    }
    type type_of(int n) const { return e.nodes_[n].t; }
    int binary(op o, type t, int a, int b) {
        if (a < 0 || b < 0) return fail();
        fast_expr::node n;
        n.what = o;
        n.t = t;
        n.args[0] = a;
        n.args[1] = b;
        n.nargs = 2;
        return add(n);
    }

    int expr() { return or_expr(); }
    int or_expr() {
        int a = and_expr();
        while (ok && accept(tk::or_)) a = binary(op::or_, type::boolean, a, and_expr());
        return a;
    }
    int and_expr() {
        int a = equality();
        while (ok && accept(tk::and_)) a = binary(op::and_, type::boolean, a, equality());
        return a;
    }
    int equality() {
        int a = relational();
        while (ok) {
            if (accept(tk::eq)) a = binary(op::eq, type::boolean, a, relational());
            else if (accept(tk::ne)) a = binary(op::ne, type::boolean, a, relational());
            else break;
        }
        return a;
    }
    int relational() {
        int a = additive();
        while (ok) {
            if (accept(tk::lt)) a = binary(op::lt, type::boolean, a, additive());
            else if (accept(tk::le)) a = binary(op::le, type::boolean, a, additive());
            else if (accept(tk::gt)) a = binary(op::gt, type::boolean, a, additive());
            else if (accept(tk::ge)) a = binary(op::ge, type::boolean, a, additive());
            else break;
        }
        return a;
    }
    int additive() {
        int a = multiplicative();
        while (ok) {
            if (accept(tk::plus)) a = binary(op::add, type::number, a, multiplicative());
            else if (accept(tk::minus)) a = binary(op::sub, type::number, a, multiplicative());
            else break;
        }
        return a;
    }
    int multiplicative() {
        int a = unary();
        while (ok) {
            if (accept(tk::mul)) a = binary(op::mul, type::number, a, unary());
            else if (accept(tk::div)) a = binary(op::div, type::number, a, unary());
            else if (accept(tk::mod)) a = binary(op::mod, type::number, a, unary());
            else break;
        }
        return a;
    }
    int unary() {
        if (accept(tk::minus)) {
            int a = unary();
            if (a < 0) return fail();
            fast_expr::node n;
            n.what = op::neg;
            n.t = type::number;
            n.args[0] = a;
            n.nargs = 1;
            return add(n);
        }
        int a = path_expr();
        while (ok && accept(tk::bar)) {
            int b = path_expr();
            if (b < 0 || type_of(a) != type::nodes || type_of(b) != type::nodes) return fail();
            a = binary(op::union_, type::nodes, a, b);
        }
        return a;
    }
    int path_expr() {
        switch (peek().kind) {
        case tk::slash: case tk::dslash: case tk::dot: case tk::dotdot: case tk::at: case tk::name: case tk::star:
        case tk::axis: case tk::node_type:
            return location_path();
        default: break;
        }
        int p = primary();
        // A filter expression ((…)[1], (…)/x) is not covered.
        if (ok && (peek().kind == tk::lbracket || peek().kind == tk::slash || peek().kind == tk::dslash)) return fail();
        return p;
    }
    int primary() {
        const token t = peek();
        if (accept(tk::literal)) {
            fast_expr::node n;
            n.what = op::string;
            n.t = type::string;
            n.str = intern(t.text);
            return add(n);
        }
        if (accept(tk::number)) {
            fast_expr::node n;
            n.what = op::number;
            n.t = type::number;
            // Read as libxml2 reads numbers, so that a literal is the same double in both.
            n.num = xmlXPathStringEvalNumber(reinterpret_cast<const xmlChar*>(t.text.c_str()));
            return add(n);
        }
        if (accept(tk::lparen)) {
            int a = expr();
            if (!accept(tk::rparen)) return fail();
            return a;
        }
        if (accept(tk::function)) return function(t.text);
        return fail();
    }

    int function(const std::string& name) {
        if (!accept(tk::lparen)) return fail();
        std::vector<int> args;
        if (!accept(tk::rparen)) {
            do {
                int a = expr();
                if (a < 0) return fail();
                args.push_back(a);
            } while (accept(tk::comma));
            if (!accept(tk::rparen)) return fail();
        }
        struct sig {
            const char* name;
            op what;
            type result;
            int min, max;
        };
        static const sig sigs[] = {
            {"number", op::f_number, type::number, 0, 1},          {"string", op::f_string, type::string, 0, 1},
            {"boolean", op::f_boolean, type::boolean, 1, 1},       {"not", op::f_not, type::boolean, 1, 1},
            {"true", op::f_true, type::boolean, 0, 0},             {"false", op::f_false, type::boolean, 0, 0},
            {"count", op::f_count, type::number, 1, 1},            {"sum", op::f_sum, type::number, 1, 1},
            {"string-length", op::f_string_length, type::number, 0, 1},
            {"normalize-space", op::f_normalize_space, type::string, 0, 1},
            {"contains", op::f_contains, type::boolean, 2, 2},     {"starts-with", op::f_starts_with, type::boolean, 2, 2},
            {"pg:in-table", op::f_in_table, type::boolean, 2, 2},  {"pg:decimals", op::f_decimals, type::number, 1, 1},
            {"pg:resident-id", op::f_resident_id, type::boolean, 1, 1},
        };
        const sig* f = nullptr;
        for (auto& s : sigs)
            if (name == s.name) f = &s;
        if (!f || static_cast<int>(args.size()) < f->min || static_cast<int>(args.size()) > f->max) return fail();
        // number() of a context node without content (an empty processing instruction) is 0 in libxml2, not
        // NaN as number(.) is: the argument-less form is left to it.
        if (f->what == op::f_number && args.empty()) return fail();
        // Arguments read as strings must not be numbers (XPath's number-to-string formatting is not covered);
        // count and sum take node-sets.
        const bool takes_nodes = f->what == op::f_count || f->what == op::f_sum;
        const bool takes_strings = f->what == op::f_string || f->what == op::f_string_length || f->what == op::f_normalize_space ||
                                   f->what == op::f_contains || f->what == op::f_starts_with || f->what == op::f_in_table ||
                                   f->what == op::f_decimals || f->what == op::f_resident_id;
        for (int a : args) {
            if (takes_nodes && type_of(a) != type::nodes) return fail();
            if (takes_strings && type_of(a) == type::number) return fail();
        }
        fast_expr::node n;
        n.what = f->what;
        n.t = f->result;
        n.nargs = static_cast<int>(args.size());
        for (std::size_t k = 0; k < args.size(); ++k) n.args[k] = args[k];
        return add(n);
    }

    // The namespace of a prefix as the rules' XPath context binds it (the last binding wins); empty when unbound.
    std::optional<std::string> ns_of(std::string_view prefix) const {
        // As the rules' XPath context has them: xml is always the XML namespace, and pg is bound to the
        // functions' namespace after the family's and the rule file's prefixes.
        if (prefix == "xml") return std::string("http://www.w3.org/XML/1998/namespace");
        if (prefix == "pg") return std::string(functions_namespace);
        auto bound = std::find_if(namespaces.rbegin(), namespaces.rend(), [&](auto& p) { return p.first == prefix; });
        if (bound == namespaces.rend() || bound->second.empty()) return std::nullopt;
        return bound->second;
    }

    bool node_test(fast_expr::step& st) {
        const token t = peek();
        if (accept(tk::star)) {
            st.what = fast_expr::step::test::any_name;
            return true;
        }
        if (accept(tk::node_type)) {
            if (t.text != "node" || !accept(tk::lparen) || !accept(tk::rparen)) return false;  // text() etc.: not covered
            st.what = fast_expr::step::test::any_node;
            return true;
        }
        if (!accept(tk::name)) return false;
        const auto colon = t.text.find(':');
        std::string local = colon == std::string::npos ? t.text : t.text.substr(colon + 1);
        if (colon != std::string::npos) {
            auto ns = ns_of(std::string_view(t.text).substr(0, colon));
            if (!ns) return false;  // an unbound prefix: libxml2 reports it
            st.ns = intern(*ns);
        }
        if (local == "*") {
            st.what = fast_expr::step::test::ns_any;
            return st.ns >= 0;
        }
        st.what = fast_expr::step::test::name;
        st.local = intern(local);
        return true;
    }

    bool step_into(std::vector<fast_expr::step>& steps) {
        fast_expr::step st;
        if (accept(tk::dot)) {
            st.ax = fast_expr::step::axis::self;
            st.what = fast_expr::step::test::any_node;
            steps.push_back(std::move(st));
            return true;
        }
        if (accept(tk::dotdot)) {
            st.ax = fast_expr::step::axis::parent;
            st.what = fast_expr::step::test::any_node;
            steps.push_back(std::move(st));
            return true;
        }
        if (accept(tk::at)) {
            st.ax = fast_expr::step::axis::attribute;
        } else if (peek().kind == tk::axis) {
            const std::string a = peek().text;
            ++at;
            if (!accept(tk::colons)) return false;
            using ax = fast_expr::step::axis;
            if (a == "child") st.ax = ax::child;
            else if (a == "self") st.ax = ax::self;
            else if (a == "parent") st.ax = ax::parent;
            else if (a == "attribute") st.ax = ax::attribute;
            else if (a == "descendant") st.ax = ax::descendant;
            else if (a == "descendant-or-self") st.ax = ax::descendant_or_self;
            else if (a == "preceding-sibling") st.ax = ax::preceding_sibling;
            else if (a == "following-sibling") st.ax = ax::following_sibling;
            else return false;  // ancestor, preceding, following, namespace: not covered
        }
        if (!node_test(st)) return false;
        while (accept(tk::lbracket)) {
            int p = expr();
            if (p < 0 || !accept(tk::rbracket)) return false;
            // A number is a position: only a literal one is covered (position(), last() are not).
            if (type_of(p) == type::number && e.nodes_[p].what != op::number) return false;
            st.predicates.push_back(p);
        }
        steps.push_back(std::move(st));
        return true;
    }

    // '//x[p]' is descendant-or-self::node()/child::x[p], the same nodes as descendant::x[p] when no
    // predicate counts positions (position 1 of the first is the first child, of the second the first
    // descendant): evaluated as that, a walk that collects only the x, not every node of the subtree first.
    void fuse_descendants(std::vector<fast_expr::step>& steps) const {
        if (steps.size() < 2) return;
        fast_expr::step& last = steps.back();
        const fast_expr::step& before = steps[steps.size() - 2];
        if (last.ax != fast_expr::step::axis::child || before.ax != fast_expr::step::axis::descendant_or_self ||
            before.what != fast_expr::step::test::any_node || !before.predicates.empty())
            return;
        for (int p : last.predicates)
            if (e.nodes_[p].what == op::number) return;
        fast_expr::step fused = std::move(last);
        fused.ax = fast_expr::step::axis::descendant;
        steps.pop_back();
        steps.back() = std::move(fused);
    }

    int location_path() {
        std::vector<fast_expr::step> steps;
        bool absolute = false;
        auto descendant_or_self = [] {
            fast_expr::step s;
            s.ax = fast_expr::step::axis::descendant_or_self;
            s.what = fast_expr::step::test::any_node;
            return s;
        };
        if (accept(tk::slash)) {
            absolute = true;
            switch (peek().kind) {  // '/' alone is the document
            case tk::dot: case tk::dotdot: case tk::at: case tk::name: case tk::star: case tk::axis: case tk::node_type:
                if (!step_into(steps)) return fail();
                break;
            default: break;
            }
        } else if (accept(tk::dslash)) {
            absolute = true;
            steps.push_back(descendant_or_self());
            if (!step_into(steps)) return fail();
            fuse_descendants(steps);
        } else if (!step_into(steps)) {
            return fail();
        }
        while (ok) {
            if (accept(tk::slash)) {
                if (!step_into(steps)) return fail();
            } else if (accept(tk::dslash)) {
                steps.push_back(descendant_or_self());
                if (!step_into(steps)) return fail();
                fuse_descendants(steps);
            } else {
                break;
            }
        }
        // libxml2 rewrites '//.' (descendant-or-self::node() then self::) its own way, not as XPath 1.0 has it;
        // such a path is left to it, so that both always agree.
        for (std::size_t k = 1; k < steps.size(); ++k)
            if (steps[k - 1].ax == fast_expr::step::axis::descendant_or_self && steps[k].ax == fast_expr::step::axis::self) return fail();
        fast_expr::node n;
        n.what = op::path;
        n.t = type::nodes;
        n.absolute = absolute;
        n.first_step = static_cast<int>(e.steps_.size());
        n.step_count = static_cast<int>(steps.size());
        for (auto& s : steps) e.steps_.push_back(std::move(s));
        return add(n);
    }
};

std::optional<fast_expr> fast_expr::compile(std::string_view text, const xml::namespace_list& namespaces) {
    auto toks = tokenize(text);
    if (!toks) return std::nullopt;
    fast_expr e;
    compiler c{e, namespaces, std::move(*toks)};
    const int root = c.expr();
    if (!c.ok || root < 0 || c.peek().kind != tk::end) return std::nullopt;
    e.root_ = root;
    e.type_ = e.nodes_[root].t;
    return e;
}

// ---- evaluating -----------------------------------------------------------------------------------------

namespace {

using node_list = boost::container::small_vector<xmlNode*, 4>;

// A string value: borrowed from the tree or a literal (NUL-terminated, alive as long as the document and
// the expression), or owned.
struct text_value {
    const char* borrowed = nullptr;
    std::size_t size = 0;
    std::string owned;
    std::string_view view() const { return borrowed ? std::string_view(borrowed, size) : std::string_view(owned); }
    const char* c_str() const { return borrowed ? borrowed : owned.c_str(); }
};

struct value {
    type t = type::boolean;
    bool b = false;
    double n = 0;
    text_value s;
    node_list nodes;
};

// XPath's string-value: the text of a text node, the concatenated text of an element (without copying when
// it is a single text node, the common case).
text_value string_of(xmlNode* n) {
    text_value v;
    const xmlNode* only = nullptr;
    switch (n->type) {
    case XML_TEXT_NODE: case XML_CDATA_SECTION_NODE: case XML_COMMENT_NODE: case XML_PI_NODE:
        v.borrowed = n->content ? reinterpret_cast<const char*>(n->content) : "";
        v.size = std::strlen(v.borrowed);
        return v;
    case XML_ELEMENT_NODE: case XML_ATTRIBUTE_NODE:
        if (!n->children) {
            v.borrowed = "";
            return v;
        }
        only = n->children;
        if (only->type == XML_TEXT_NODE && !only->next) {
            v.borrowed = only->content ? reinterpret_cast<const char*>(only->content) : "";
            v.size = std::strlen(v.borrowed);
            return v;
        }
        break;
    default: break;
    }
    xmlChar* c = xmlNodeGetContent(n);
    v.owned = c ? reinterpret_cast<const char*>(c) : "";
    if (c) xmlFree(c);
    return v;
}

double number_of_text(const char* s) { return xmlXPathStringEvalNumber(reinterpret_cast<const xmlChar*>(s)); }

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool before_in_document(xmlNode* a, xmlNode* b) { return xmlXPathCmpNodes(a, b) == 1; }

// Names are short and mostly differ in their first bytes: compared here rather than through a call to strcmp
// for every child of every step.
inline bool same_name(const char* a, const xmlChar* b) {
    const auto* x = reinterpret_cast<const unsigned char*>(a);
    while (*x && *x == *b) {
        ++x;
        ++b;
    }
    return *x == *b;
}

}  // namespace

struct evaluator {
    const fast_expr& e;
    const environment& env;
    mutable namespace_memo namespaces{};

    text_value to_string(value&& v) const {
        switch (v.t) {
        case type::string: return std::move(v.s);
        case type::nodes:
            if (v.nodes.empty()) {
                text_value t;
                t.borrowed = "";
                return t;
            }
            return string_of(v.nodes.front());
        case type::boolean: {
            text_value t;
            t.borrowed = v.b ? "true" : "false";
            t.size = v.b ? 4 : 5;
            return t;
        }
        case type::number: break;  // refused at compile time
        }
        return {};
    }
    double to_number(const value& v) const {
        switch (v.t) {
        case type::number: return v.n;
        case type::boolean: return v.b ? 1.0 : 0.0;
        case type::string: return number_of_text(v.s.c_str());
        case type::nodes: return v.nodes.empty() ? std::nan("") : number_of_text(string_of(v.nodes.front()).c_str());
        }
        return std::nan("");
    }
    static bool to_boolean(const value& v) {
        switch (v.t) {
        case type::boolean: return v.b;
        case type::number: return v.n != 0 && !std::isnan(v.n);
        case type::string: return !v.s.view().empty();
        case type::nodes: return !v.nodes.empty();
        }
        return false;
    }

    value eval(int i, xmlNode* ctx) const {
        const fast_expr::node& n = e.nodes_[i];
        value v;
        v.t = n.t;
        auto arg = [&](int k) { return eval(n.args[k], ctx); };
        auto context_or_arg = [&]() {
            if (n.nargs > 0) return arg(0);
            value c;
            c.t = type::nodes;
            c.nodes.push_back(ctx);
            return c;
        };
        switch (n.what) {
        case op::number: v.n = n.num; return v;
        case op::string:
            v.s.borrowed = e.strings_[n.str].c_str();
            v.s.size = e.strings_[n.str].size();
            return v;
        case op::path: path(n, ctx, v.nodes); return v;
        case op::union_: {
            value a = arg(0), b = arg(1);
            v.nodes = std::move(a.nodes);
            v.nodes.insert(v.nodes.end(), b.nodes.begin(), b.nodes.end());
            in_document_order(v.nodes);
            return v;
        }
        case op::or_: v.b = to_boolean(arg(0)) || to_boolean(arg(1)); return v;
        case op::and_: v.b = to_boolean(arg(0)) && to_boolean(arg(1)); return v;
        case op::eq: case op::ne: case op::lt: case op::le: case op::gt: case op::ge:
            v.b = compare(n.what, arg(0), arg(1));
            return v;
        case op::add: v.n = to_number(arg(0)) + to_number(arg(1)); return v;
        case op::sub: v.n = to_number(arg(0)) - to_number(arg(1)); return v;
        case op::mul: v.n = to_number(arg(0)) * to_number(arg(1)); return v;
        case op::div: v.n = to_number(arg(0)) / to_number(arg(1)); return v;
        case op::mod: v.n = std::fmod(to_number(arg(0)), to_number(arg(1))); return v;
        case op::neg: v.n = -to_number(arg(0)); return v;
        case op::f_number: v.n = to_number(context_or_arg()); return v;
        case op::f_string: v.s = to_string(context_or_arg()); return v;
        case op::f_boolean: v.b = to_boolean(arg(0)); return v;
        case op::f_not: v.b = !to_boolean(arg(0)); return v;
        case op::f_true: v.b = true; return v;
        case op::f_false: v.b = false; return v;
        case op::f_count: v.n = static_cast<double>(arg(0).nodes.size()); return v;
        case op::f_sum: {
            value a = arg(0);
            double total = 0;
            for (xmlNode* x : a.nodes) total += number_of_text(string_of(x).c_str());
            v.n = total;
            return v;
        }
        case op::f_string_length: {
            text_value s = to_string(context_or_arg());
            v.n = static_cast<double>(xmlUTF8Strlen(reinterpret_cast<const xmlChar*>(s.c_str())));
            return v;
        }
        case op::f_normalize_space: {
            text_value s = to_string(context_or_arg());
            std::string out;
            bool gap = false;
            for (char c : s.view()) {
                if (is_blank(c)) {
                    gap = !out.empty();
                    continue;
                }
                if (gap) out += ' ';
                gap = false;
                out += c;
            }
            v.s.owned = std::move(out);
            return v;
        }
        case op::f_contains: case op::f_starts_with: {
            text_value a = to_string(arg(0)), b = to_string(arg(1));
            v.b = n.what == op::f_contains ? a.view().find(b.view()) != std::string_view::npos : a.view().starts_with(b.view());
            return v;
        }
        case op::f_in_table: {
            text_value table = to_string(arg(0)), x = to_string(arg(1));
            v.b = detail::in_table(&env, table.view(), detail::trim_view(x.view()));
            return v;
        }
        case op::f_decimals: v.n = static_cast<double>(detail::decimal_places(detail::trim_view(to_string(arg(0)).view()))); return v;
        case op::f_resident_id: v.b = detail::resident_id(to_string(arg(0)).view()); return v;
        }
        return v;
    }

    // XPath 1.0, section 3.4: a node-set compared with anything is compared node by node (true when some
    // node satisfies it); otherwise = and != compare as booleans, else numbers, else strings, and the order
    // operators always compare numbers.
    bool compare(op o, value&& a, value&& b) const {
        const bool equality = o == op::eq || o == op::ne;
        auto numbers = [o](double x, double y) {
            switch (o) {
            case op::eq: return x == y;
            case op::ne: return x != y;
            case op::lt: return x < y;
            case op::le: return x <= y;
            case op::gt: return x > y;
            default: return x >= y;
            }
        };
        auto strings = [o](std::string_view x, std::string_view y) { return o == op::eq ? x == y : x != y; };
        if (a.t == type::nodes && b.t == type::nodes) {
            for (xmlNode* x : a.nodes) {
                const text_value sx = string_of(x);
                const double nx = equality ? 0 : number_of_text(sx.c_str());
                for (xmlNode* y : b.nodes) {
                    const text_value sy = string_of(y);
                    if (equality ? strings(sx.view(), sy.view()) : numbers(nx, number_of_text(sy.c_str()))) return true;
                }
            }
            return false;
        }
        if (a.t == type::nodes || b.t == type::nodes) {
            const bool nodes_first = a.t == type::nodes;
            value& set = nodes_first ? a : b;
            value& other = nodes_first ? b : a;
            if (other.t == type::boolean) {
                const bool x = !set.nodes.empty();
                const bool l = nodes_first ? x : other.b, r = nodes_first ? other.b : x;
                return equality ? (o == op::eq ? l == r : l != r) : numbers(l ? 1.0 : 0.0, r ? 1.0 : 0.0);
            }
            if (equality && other.t == type::string) {
                const std::string_view y = other.s.view();
                for (xmlNode* x : set.nodes)
                    if (strings(string_of(x).view(), y)) return true;
                return false;
            }
            const double y = to_number(other);
            for (xmlNode* x : set.nodes) {
                const double nx = number_of_text(string_of(x).c_str());
                if (nodes_first ? numbers(nx, y) : numbers(y, nx)) return true;
            }
            return false;
        }
        if (equality) {
            if (a.t == type::boolean || b.t == type::boolean) {
                const bool x = to_boolean(a), y = to_boolean(b);
                return o == op::eq ? x == y : x != y;
            }
            if (a.t == type::number || b.t == type::number) return numbers(to_number(a), to_number(b));
            return strings(a.s.view(), b.s.view());
        }
        return numbers(to_number(a), to_number(b));
    }

    static void in_document_order(node_list& nodes) {
        if (nodes.size() < 2) return;
        std::sort(nodes.begin(), nodes.end(), before_in_document);
        nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
    }

    bool matches(const fast_expr::step& st, xmlNode* n) const {
        using test = fast_expr::step::test;
        const bool attribute_axis = st.ax == fast_expr::step::axis::attribute;
        if (st.what == test::any_node) {
            switch (n->type) {
            case XML_ELEMENT_NODE: case XML_TEXT_NODE: case XML_CDATA_SECTION_NODE: case XML_COMMENT_NODE: case XML_PI_NODE:
            case XML_DOCUMENT_NODE:
                return true;
            case XML_ATTRIBUTE_NODE: return true;  // reached on the attribute axis, or as the context itself (self, descendant-or-self)
            default: return false;
            }
        }
        // A name test selects the axis's principal node type: attributes on the attribute axis, else elements.
        if (n->type != (attribute_axis ? XML_ATTRIBUTE_NODE : XML_ELEMENT_NODE)) return false;
        if (st.what == test::any_name) return true;
        // The local name first: short, and it tells most elements apart at its first byte.
        if (st.what == test::name && !same_name(e.strings_[st.local].c_str(), n->name)) return false;
        static const std::string no_namespace;
        return namespaces.is(n->ns, st.ns >= 0 ? e.strings_[st.ns] : no_namespace);
    }

    // The nodes of one step from one context node, in the axis's order (nearest first on reverse axes).
    void axis(const fast_expr::step& st, xmlNode* c, node_list& out) const {
        using ax = fast_expr::step::axis;
        const bool attribute = c->type == XML_ATTRIBUTE_NODE;
        const bool has_children = c->type == XML_ELEMENT_NODE || c->type == XML_DOCUMENT_NODE;
        auto take = [&](xmlNode* n) {
            if (matches(st, n)) out.push_back(n);
        };
        auto descend = [&](auto& self, xmlNode* from) -> void {
            for (xmlNode* k = from->children; k; k = k->next) {
                take(k);
                if (k->type == XML_ELEMENT_NODE) self(self, k);
            }
        };
        switch (st.ax) {
        case ax::child:
            if (has_children)
                for (xmlNode* k = c->children; k; k = k->next) take(k);
            break;
        case ax::self: take(c); break;
        case ax::parent:
            if (c->parent) take(c->parent);
            break;
        case ax::attribute:
            if (c->type == XML_ELEMENT_NODE)
                for (xmlAttr* a = c->properties; a; a = a->next) take(reinterpret_cast<xmlNode*>(a));
            break;
        case ax::descendant_or_self:
            take(c);
            [[fallthrough]];
        case ax::descendant:
            if (has_children) descend(descend, c);
            break;
        case ax::preceding_sibling:
            if (!attribute && c->type != XML_DOCUMENT_NODE)
                for (xmlNode* k = c->prev; k; k = k->prev) take(k);
            break;
        case ax::following_sibling:
            if (!attribute && c->type != XML_DOCUMENT_NODE)
                for (xmlNode* k = c->next; k; k = k->next) take(k);
            break;
        }
    }

    void path(const fast_expr::node& n, xmlNode* ctx, node_list& out) const {
        if (n.step_count == 1 && !n.absolute) {  // one step from the context node: '.', 'p:x', '@a' (most rules)
            const fast_expr::step& st = e.steps_[n.first_step];
            if (st.predicates.empty()) {
                axis(st, ctx, out);
                if (st.reverse()) std::reverse(out.begin(), out.end());
                return;
            }
        }
        node_list current;
        current.push_back(n.absolute ? reinterpret_cast<xmlNode*>(ctx->doc) : ctx);
        for (int k = 0; k < n.step_count; ++k) {
            const fast_expr::step& st = e.steps_[n.first_step + k];
            node_list next;
            for (xmlNode* c : current) {
                node_list found;
                axis(st, c, found);
                for (int p : st.predicates) {
                    const fast_expr::node& pred = e.nodes_[p];
                    node_list kept;
                    for (std::size_t pos = 0; pos < found.size(); ++pos) {
                        const bool keep = pred.what == op::number ? static_cast<double>(pos + 1) == pred.num
                                                                  : to_boolean(eval(p, found[pos]));
                        if (keep) kept.push_back(found[pos]);
                    }
                    found = std::move(kept);
                }
                if (st.reverse()) std::reverse(found.begin(), found.end());
                next.insert(next.end(), found.begin(), found.end());
            }
            if (current.size() > 1) in_document_order(next);
            current = std::move(next);
        }
        out = std::move(current);
    }
};

bool fast_expr::boolean(xmlNode* context, const environment& env) const {
    evaluator ev{*this, env};
    return evaluator::to_boolean(ev.eval(root_, context));
}

std::vector<xmlNode*> fast_expr::nodes(xmlNode* context, const environment& env) const {
    evaluator ev{*this, env};
    value v = ev.eval(root_, context);
    return std::vector<xmlNode*>(v.nodes.begin(), v.nodes.end());
}

}  // namespace portgate::rules

// The message type registry (xsd/families/<family>.toml): every message and receipt type portgate knows,
// how to recognise it from its root (namespace + local name, and an XPath `when` where several types share
// a root), the schemas that judge it, its business keys and, for receipts, how the lenient reader finds
// each returned record.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <libxml/tree.h>

#include "gateway/core/error.hpp"
#include "gateway/xml/xpath.hpp"

namespace portgate::formats {

struct returns_spec {
    std::string record;             // local name of each returned record element
    std::vector<std::string> keys;  // local names or a/b paths of local names, relative to the record
    std::string status, time, info;
    std::string status_table;       // xsd/codes/<name>.tsv
    // Statuses that end this message's road although the status table does not call them final in general
    // (120 入库 closes an order, a payment or a waybill; an inventory list goes on to review and release).
    std::vector<std::string> final_statuses;
};

struct type_info {
    std::string id;            // CEB311, CEB622, DXP, INV101 …
    std::string family;        // ceb-import, dxp, …
    std::string kind;          // message | receipt
    std::string root;          // local name
    std::string ns;            // "" = no namespace
    xml::xpath_expr when;      // empty = none
    std::string schema, draft_schema, label;
    std::vector<std::string> receipts;
    xml::xpath_expr key_record;                                   // messages
    std::vector<std::pair<std::string, xml::xpath_expr>> key_fields;
    returns_spec returns;                                         // receipts
    std::string file;
    int line = 0;
    bool is_receipt() const { return kind == "receipt"; }
};

struct family_info {
    std::string name, description, file;
    std::string signature = "none";  // enveloped: portgate signs these messages (XML-DSig in the root)
    std::string sign_before;         // child the signature goes before ("" = last child of the root)
    xml::namespace_list namespaces;
    std::vector<const type_info*> types;
};

using key_values = std::vector<std::pair<std::string, std::string>>;

class registry {
public:
    // Loads every *.toml in `dir` (xsd/families). Problems name the file and line.
    static result<std::shared_ptr<const registry>> load(const std::filesystem::path& dir);

    const type_info* find(std::string_view id) const;  // case-insensitive on the id
    const family_info* family(std::string_view name) const;
    const std::vector<std::unique_ptr<type_info>>& types() const { return types_; }
    std::vector<const family_info*> families() const;

    // Strict detection: root namespace and local name must match, then `when` decides among several.
    // Error unknown_type names the root and the closest known types.
    result<const type_info*> detect(xmlDoc* doc) const;
    // Lenient detection for receipts: local name only (any or no namespace); among several candidates the
    // ones whose `when` holds, else those whose returned-record element occurs in the document.
    const type_info* detect_lenient(xmlDoc* doc) const;

    // The business-key names of the message types a receipt type answers (CEB622 → copNo, preNo, invtNo):
    // the keys a correlated message may learn from its receipts.
    const std::vector<std::string>& answered_key_names(std::string_view receipt_type) const;

    // Business keys of each record of a message (empty when the type declares none).
    result<std::vector<key_values>> keys(const type_info& t, xmlDoc* doc) const;

private:
    std::vector<std::unique_ptr<type_info>> types_;
    std::map<std::string, family_info, std::less<>> families_;
    std::multimap<std::string, const type_info*, std::less<>> by_root_;  // local name → types
    std::map<std::string, std::vector<std::string>, std::less<>> answered_keys_;  // receipt type → key names
};

}  // namespace portgate::formats

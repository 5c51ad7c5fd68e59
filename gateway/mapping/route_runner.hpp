// Runs a route's mappings on one input: each [[route.map]] stylesheet, joins with documents of another route
// (one run per join key value), and checks every output against its customs type (schema, draft profile,
// business rules). Shared by `portgate map` and the intake pipeline.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <libxml/tree.h>

#include "gateway/config/config.hpp"
#include "gateway/core/error.hpp"
#include "gateway/mapping/engine.hpp"
#include "gateway/validation/checker.hpp"

namespace portgate::mapping {

struct mapped {
    std::string stylesheet;
    std::string type;       // the output's registered type
    std::string join_key;   // the key value a join ran for ("" otherwise)
    std::string bytes;
    std::vector<formats::key_values> keys;
    xml::doc_ptr tree;  // the result tree `bytes` hold exactly, kept for outputs checked later as signed
};

// A join whose other document has not arrived: the input waits (the pipeline keeps it, visible as such).
struct pending_join {
    std::string stylesheet, with, as;
    std::vector<std::string> keys;  // this input's key values still waiting
};

struct route_result {
    std::vector<mapped> outputs;
    std::vector<pending_join> waiting;
};

struct route_run_options {
    std::optional<formats::civil_seconds> now;
    std::optional<std::uint64_t> seed;
    // Documents of the routes this one joins, by join name (`as`): each may hold several documents.
    std::map<std::string, std::vector<xmlDoc*>> joined;
    bool check_outputs = true;
    // Output types checked later anyway, as signed (the pipeline signs them and checks the signed bytes against
    // the as-sent profile, which covers the draft one): their draft check is skipped here and their keys are
    // left empty for that later check to fill. Only applies to outputs whose type the route map declares.
    std::function<bool(const std::string& type)> checked_when_signed;
};

// Join key values selected by `xpath` in `doc` (prefixes: the family namespaces of the document's type).
result<std::vector<std::string>> join_keys(const validation::knowledge& k, xmlDoc* doc, const std::string& xpath);

// Errors: mapping_failed (PG-306) naming the stylesheet and the reason; mapping_output_invalid (PG-307)
// naming the stylesheet, the output and its errors.
result<route_result> run_route(const validation::knowledge& k, const library& lib, const config::route& r, xmlDoc* input,
                               const route_run_options& opt);

}  // namespace portgate::mapping

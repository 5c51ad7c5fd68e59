#include "gateway/pipeline/customs_status.hpp"

#include <cstdlib>

namespace portgate {

customs_progress progress_of(const formats::receipt_record& r) {
    const std::string& s = r.status;
    // CBEC returnStatus (numeric): the path 1 → 2 → 3 → 120 → 300 → 399 → 500… → 800 → 899, with 100 / 700 /
    // negatives as final returns.
    bool numeric = !s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || (s[0] == '-' && s.size() > 1));
    if (r.family.rfind("ceb", 0) == 0 && numeric) {
        long v = std::strtol(s.c_str(), nullptr, 10);
        if (v < 0) return {1000, doc_state::returned};
        switch (v) {
        case 1: return {10, doc_state::accepted};
        case 2: return {20, doc_state::accepted};
        case 3: return {30, doc_state::accepted};
        case 4: return {1000, doc_state::returned};
        case 100: return {1000, doc_state::returned};
        case 120: return r.final ? customs_progress{999, doc_state::closed} : customs_progress{120, doc_state::accepted};  // per type: xsd/families
        case 300: return {300, doc_state::accepted};
        case 399: return {399, doc_state::accepted};
        case 500: return {500, doc_state::accepted};
        case 501: case 502: case 503: case 599: return {599, doc_state::accepted};
        case 505: return {605, doc_state::accepted};
        case 600: return {650, doc_state::accepted};
        case 700: return {1000, doc_state::returned};
        case 800: return {800, doc_state::released};
        case 899: return {999, doc_state::closed};
        default: return {0, doc_state::accepted};
        }
    }
    // Other families: the status table says whether the status is final and good or bad.
    bool released = r.meaning.find("放行") != std::string::npos || r.meaning.find("released") != std::string::npos;
    if (r.final) return {r.judgement == "bad" ? 1000 : 999, r.judgement == "bad" ? doc_state::returned : doc_state::closed};
    if (released) return {800, doc_state::released};
    if (r.judgement == "bad") return {1000, doc_state::returned};
    if (r.judgement == "ok") return {100, doc_state::accepted};
    return {0, doc_state::accepted};
}

}  // namespace portgate

// What a customs status means for the life of a document: its rank (statuses only move forward: a lower
// rank arriving late is logged, never applied) and the state it puts the document in. FORMATS.md §3.
#pragma once

#include <string>

#include "gateway/formats/receipt.hpp"
#include "gateway/pipeline/state.hpp"

namespace portgate {

struct customs_progress {
    int rank = 0;                          // 0 = no progress (transport answers, unknown codes)
    doc_state state = doc_state::accepted; // the state this status puts the document in
};

customs_progress progress_of(const formats::receipt_record& r);

}  // namespace portgate

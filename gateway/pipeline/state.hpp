// The life of a document in portgate, as a state machine. The store performs every transition (one
// function: store::apply, through an operation carrying the new state); this header is the map.
//
//   RECEIVED ─▶ VALIDATED ─▶ MAPPED ─▶ SIGNED ─▶ QUEUED ─▶ SENT ─▶ ACCEPTED ─▶ … ─▶ RELEASED ─▶ CLOSED
//      │            │          │                   │        │         └─▶ RETURNED / INSPECTION / …
//      └─ REJECTED ─┴──────────┘ (verdict)         └─ RETRY_WAIT ─▶ DEAD (replay → QUEUED)
//
// Guarantees (invariants the store keeps):
//  1. RECEIVED: the exact bytes received are durable (payload stage "inbound") before any answer.
//  2. VALIDATED: the inbound document is well-formed, within limits, routed, and valid against the
//     route's schema; the schema's name is in the event.
//  3. REJECTED: a verdict; the event carries the code and every problem found. Never retried.
//  4. Every change of state appends exactly one event; events are never updated or deleted.
//  5. MAPPED: every mapping of the route ran and each output — a customs message stored as its own
//     document with this one as parent (payload stage "mapped") — passed its customs schema and rules.
//     WAITING: the same for the mappings that could run; a join mapping waits for the document of the
//     other route with the same key (join_key table); it runs when that arrives, in either order, once.
//  6. Customs statuses (later stages) only move forward: the highest seen is kept, all are logged.
#pragma once

#include <optional>
#include <string_view>

namespace portgate {

enum class doc_state {
    received,
    validated,
    rejected,
    mapped,
    signed_,
    held,
    queued,
    sent,
    retry_wait,
    dead,
    accepted,
    returned,
    released,
    closed,
    waiting,  // mapped as far as it can be: a join waits for the other document (e.g. the shipment)
};

constexpr std::string_view to_string(doc_state s) {
    switch (s) {
    case doc_state::received: return "RECEIVED";
    case doc_state::validated: return "VALIDATED";
    case doc_state::rejected: return "REJECTED";
    case doc_state::mapped: return "MAPPED";
    case doc_state::signed_: return "SIGNED";
    case doc_state::held: return "HELD";
    case doc_state::queued: return "QUEUED";
    case doc_state::sent: return "SENT";
    case doc_state::retry_wait: return "RETRY_WAIT";
    case doc_state::dead: return "DEAD";
    case doc_state::accepted: return "ACCEPTED";
    case doc_state::returned: return "RETURNED";
    case doc_state::released: return "RELEASED";
    case doc_state::closed: return "CLOSED";
    case doc_state::waiting: return "WAITING";
    }
    return "?";
}

std::optional<doc_state> parse_state(std::string_view s);

}  // namespace portgate

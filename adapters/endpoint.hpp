// The one small interface every customs endpoint adapter implements (issue 6): the outbox hands a
// `delivery` (the exact signed bytes plus their ids) to `send`, which answers accepted, rejected (final:
// customs or the transport said no) or retry (could not decide: network, TLS, timeout, 5xx …).
// Adapters: adapters/https (HTTPS POST, mTLS), adapters/client_folder (the e-port desktop client's
// OutBox/InBox folders); adapters/dxp wraps the bytes in a DxpMsg when an endpoint asks for it.
// See docs/adapters.md.
#pragma once

#include <string>

namespace portgate::adapters {

struct delivery {
    std::string message_id;   // portgate's id of the customs message
    std::string type;         // registered type id, e.g. CEB621
    std::string cop_msg_id;   // the DXP CopMsgId / idempotency key at customs: stays the same on every retry
    std::string bytes;        // the exact signed bytes to send (never re-serialise them)
    std::string file_name;    // suggested file name, e.g. CEB621_<cop_msg_id>.xml
};

enum class outcome { accepted, rejected, retry };  // rejected = customs/transport said no (final); retry = try again later

struct delivery_result {
    outcome result = outcome::retry;
    std::string code;      // transport/customs code when known (DXP ResponseCode, HTTP status …)
    std::string detail;    // human-readable
    std::string response;  // raw answer bytes (DxpRep …), stored by the caller as a receipt when not empty
};

class endpoint {
public:
    virtual ~endpoint() = default;
    virtual const std::string& id() const = 0;
    // Blocking, thread-safe; never throws; bounded by the endpoint's timeouts.
    virtual delivery_result send(const delivery& d) = 0;
};

// "accepted" | "rejected" | "retry" (logs, JSON).
inline const char* outcome_name(outcome o) {
    switch (o) {
        case outcome::accepted: return "accepted";
        case outcome::rejected: return "rejected";
        case outcome::retry: return "retry";
    }
    return "retry";
}

}  // namespace portgate::adapters

// Parsing of document state names (API filters).
#include "gateway/pipeline/state.hpp"

namespace portgate {

std::optional<doc_state> parse_state(std::string_view s) {
    for (int i = 0; i <= static_cast<int>(doc_state::waiting); ++i) {
        auto st = static_cast<doc_state>(i);
        if (to_string(st) == s) return st;
    }
    return std::nullopt;
}

}  // namespace portgate

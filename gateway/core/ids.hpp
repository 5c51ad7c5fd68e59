// Message ids: ULIDs (26 characters, Crockford base32, time-ordered, 80 random bits), so ids sort by
// arrival and never collide across restarts or nodes.
#pragma once

#include <cstdint>
#include <string>

namespace portgate {

std::string new_message_id();
std::string make_ulid(std::uint64_t unix_ms, std::uint64_t rand_hi16, std::uint64_t rand_lo64);

}  // namespace portgate

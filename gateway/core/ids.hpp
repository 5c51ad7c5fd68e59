// Message ids: ULIDs (26 characters, Crockford base32, time-ordered, 80 random bits), so ids sort by
// arrival and never collide across restarts or nodes.
#pragma once

#include <cstdint>
#include <string>

namespace portgate {

std::string new_message_id();
std::string make_ulid(std::uint64_t unix_ms, std::uint64_t rand_hi16, std::uint64_t rand_lo64);

// Customs guids: 36 characters, upper-case hex in 8-4-4-4-12 groups, version-4 shape. guid_from formats 128
// given bits (a seeded generator makes them repeatable: mappings, the simulator); new_guid draws them.
std::string guid_from(std::uint64_t hi, std::uint64_t lo);
std::string new_guid();

}  // namespace portgate

// DXP terminal envelope (数据交换平台): `wrap` puts the exact signed bytes of a customs message into a
// DxpMsg (xsd/dxp/dxp.xsd, FORMATS.md §5) and `parse_reply` reads the exchange's DxpRep answer leniently
// (by local name, with or without the namespace, any encoding libxml2 knows). docs/adapters.md.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/endpoint.hpp"
#include "gateway/core/error.hpp"

namespace portgate::adapters::dxp {

inline constexpr std::string_view dxp_namespace = "http://www.chinaport.gov.cn/dxp";
inline constexpr std::string_view receiver_cbec_import = "DXPEDCCEB0000002";  // CBEC import (跨境进口)
inline constexpr std::string_view receiver_cbec_export = "DXPEDCCEB0000003";  // CBEC export (跨境出口)

struct dxp_config {
    std::string sender_id;                                              // our dxpId (≤16), e.g. DXPENT0000023871
    std::vector<std::string> receiver_ids{std::string(receiver_cbec_import)};  // 1..5 node ids
    std::string msg_type;        // "" = the local name of the business document's root (CEB621Message …)
    bool file_name = true;       // AddInfo/FileName = delivery.file_name when that is not empty
    bool is_text = false;        // AddInfo/IsText true
    int utc_offset_minutes = 480;  // CreatTime is written as local time without offset; China = UTC+8
    std::optional<std::chrono::system_clock::time_point> now;  // fixes CreatTime (tests)
};

// Local name of the first element of `bytes` (skips the XML declaration, comments, processing instructions;
// no DOCTYPE is expected in what portgate sends). Empty when there is no element.
std::string root_local_name(std::string_view bytes);

// The DxpMsg for `d` (UTF-8, no envelope signature). MsgType = cfg.msg_type or the root's local name
// (falls back to d.type when the bytes have no readable root). CopMsgId = d.cop_msg_id.
std::string wrap(const delivery& d, const dxp_config& cfg);

// Checks what wrap needs (ids present and within the schema's lengths, 1..5 receivers); config errors.
status check_config(const dxp_config& cfg);

// One Response of a DxpRep.
struct response {
    std::string code;                  // ResponseCode, trimmed ("0000" …)
    std::string info;                  // ResponseInfo
    std::vector<std::string> results;  // Results/Result lines
    std::string notice_time;
    std::string ori_cop_msg_id;        // OriHead/CopMsgId
    std::string ori_msg_type;          // OriHead/MsgType
};

struct reply {
    std::string receiver_id;               // RecevierId [sic] (also read as ReceiverId)
    std::vector<response> responses;       // at least one
    // The response about `cop_msg_id` (the first one when none names it).
    const response& about(std::string_view cop_msg_id) const;
};

// Reads a DxpRep leniently. Errors: the xml_* codes of the hardened parser, or xml_malformed when the
// root is not DxpRep or it has no Response with a ResponseCode.
result<reply> parse_reply(std::string_view bytes);

// How a ResponseCode is judged (docs/adapters.md, "Retry classification"):
//   0000 → accepted; 0001–0999 (format) and 1000–1999 (security) → rejected (final for this envelope);
//   2000–2999 (routing) and 3000–3999 (system) → retry; anything else (not 4 digits, ≥4000) → retry.
outcome classify(std::string_view response_code);

}  // namespace portgate::adapters::dxp

// The lenient receipt reader: whatever customs sends back — with or without namespace, UTF-8 or GB2312
// (declared or not), unknown or empty elements, the same return repeated, wrapped in a DxpMsg — becomes
// normalized records: family, type, business keys, status and its meaning, time, info text and the
// customs code inside "[Code:…;Desc:…]". Strict validation is for what portgate sends, not for this.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/error.hpp"
#include "gateway/formats/codes.hpp"
#include "gateway/formats/registry.hpp"
#include "gateway/xml/parser.hpp"

namespace portgate::formats {

struct receipt_record {
    std::string family, type;
    key_values keys;              // in the order of the type's returns.keys; absent/empty keys left out
    std::string status;           // as sent (e.g. "800", "-621005", "P")
    std::string meaning;          // from the status table ("" when unknown)
    bool final = false;           // no further status follows (status table)
    std::string judgement;        // ok | bad | "" (status table)
    std::string time, info;
    std::string customs_code, customs_desc;  // from [Code:…;Desc:…] in info, when present
    int line = 0;
};

struct receipt_reading {
    const type_info* type = nullptr;
    std::string envelope;  // "DxpMsg" when the receipt came base64-wrapped in a DXP envelope
    std::vector<receipt_record> records;
    std::size_t duplicates = 0;  // repeated returns dropped (same keys, status and time)
};

// "[Code:2600;Desc:放行]" → {"2600", "放行"}; empty when absent.
std::pair<std::string, std::string> customs_code_in(std::string_view info);

// Re-encodes GB18030/GB2312 bytes to UTF-8 (nullopt when they are not valid GB18030).
std::optional<std::string> gb18030_to_utf8(std::string_view bytes);

class receipt_reader {
public:
    receipt_reader(std::shared_ptr<const registry> types, std::shared_ptr<const code_tables> codes);

    // Errors: the bytes are not XML at all (xml_* codes) or no receipt type matches (unknown_type).
    result<receipt_reading> read(std::string_view bytes, const xml::limits& lim = {}, std::string_view name = "receipt") const;
    result<receipt_reading> read(const xml::document& doc) const;

private:
    result<receipt_reading> read_doc(xmlDoc* doc, const xml::limits& lim, int depth) const;
    std::shared_ptr<const registry> types_;
    std::shared_ptr<const code_tables> codes_;
};

}  // namespace portgate::formats

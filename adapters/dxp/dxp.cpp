// DxpMsg writing and lenient DxpRep reading.
#include "adapters/dxp/dxp.hpp"

#include <ctime>

#include <fmt/format.h>
#include <libxml/tree.h>

#include "gateway/core/base64.hpp"
#include "gateway/xml/parser.hpp"

namespace portgate::adapters::dxp {
namespace {

void escape_into(std::string& out, std::string_view s) {
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
}

std::string creat_time(const dxp_config& cfg) {
    auto now = cfg.now ? *cfg.now : std::chrono::system_clock::now();
    std::time_t t = std::chrono::system_clock::to_time_t(now) + static_cast<std::time_t>(cfg.utc_offset_minutes) * 60;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return buf;
}

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == ':' || static_cast<unsigned char>(c) >= 0x80;
}

std::string_view local(const xmlNode* n) { return n && n->name ? reinterpret_cast<const char*>(n->name) : ""; }

std::string text_of(const xmlNode* n) {
    std::string out;
    if (xmlChar* c = xmlNodeGetContent(n)) {
        out = reinterpret_cast<const char*>(c);
        xmlFree(c);
    }
    auto b = out.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return {};
    auto e = out.find_last_not_of(" \t\r\n");
    return out.substr(b, e - b + 1);
}

const xmlNode* child(const xmlNode* n, std::string_view name) {
    for (const xmlNode* c = n ? n->children : nullptr; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && local(c) == name) return c;
    return nullptr;
}

std::string child_text(const xmlNode* n, std::string_view name) {
    const xmlNode* c = child(n, name);
    return c ? text_of(c) : std::string();
}

}  // namespace

std::string root_local_name(std::string_view b) {
    std::size_t i = 0;
    if (b.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
    while (i < b.size()) {
        if (b[i] != '<') {
            ++i;
            continue;
        }
        if (b.substr(i, 4) == "<!--") {
            auto e = b.find("-->", i + 4);
            if (e == std::string_view::npos) return {};
            i = e + 3;
        } else if (b.substr(i, 2) == "<?" || b.substr(i, 2) == "<!") {
            auto e = b.find('>', i + 2);
            if (e == std::string_view::npos) return {};
            i = e + 1;
        } else {
            std::size_t s = i + 1, e = s;
            while (e < b.size() && name_char(b[e])) ++e;
            std::string_view qn = b.substr(s, e - s);
            auto colon = qn.rfind(':');
            return std::string(colon == std::string_view::npos ? qn : qn.substr(colon + 1));
        }
    }
    return {};
}

status check_config(const dxp_config& cfg) {
    auto node_ok = [](const std::string& s) {
        return !s.empty() && s.size() <= 16 && s.find_first_of(" \t\r\n") == std::string::npos;
    };
    if (!node_ok(cfg.sender_id))
        return error(errc::config_invalid, fmt::format("dxp.sender_id \"{}\" must be a DXP node id of 1 to 16 characters without spaces", cfg.sender_id));
    if (cfg.receiver_ids.empty() || cfg.receiver_ids.size() > 5)
        return error(errc::config_invalid, fmt::format("dxp needs 1 to 5 receiver ids, not {}", cfg.receiver_ids.size()));
    for (auto& r : cfg.receiver_ids)
        if (!node_ok(r)) return error(errc::config_invalid, fmt::format("dxp receiver id \"{}\" must be 1 to 16 characters without spaces", r));
    if (cfg.msg_type.size() > 50) return error(errc::config_invalid, "dxp.msg_type is longer than 50 characters");
    return ok();
}

std::string wrap(const delivery& d, const dxp_config& cfg) {
    std::string msg_type = cfg.msg_type;
    if (msg_type.empty()) msg_type = root_local_name(d.bytes);
    if (msg_type.empty()) msg_type = d.type;
    std::string data = base64_encode(d.bytes);

    std::string out;
    out.reserve(data.size() + 1024);
    out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += "<dxp:DxpMsg xmlns:dxp=\"";
    out += dxp_namespace;
    out += "\" ver=\"1.0\">\n  <dxp:TransInfo>\n    <dxp:CopMsgId>";
    escape_into(out, d.cop_msg_id);
    out += "</dxp:CopMsgId>\n    <dxp:SenderId>";
    escape_into(out, cfg.sender_id);
    out += "</dxp:SenderId>\n    <dxp:ReceiverIds>\n";
    for (auto& r : cfg.receiver_ids) {
        out += "      <dxp:ReceiverId>";
        escape_into(out, r);
        out += "</dxp:ReceiverId>\n";
    }
    out += "    </dxp:ReceiverIds>\n    <dxp:CreatTime>";
    out += creat_time(cfg);
    out += "</dxp:CreatTime>\n    <dxp:MsgType>";
    escape_into(out, msg_type);
    out += "</dxp:MsgType>\n  </dxp:TransInfo>\n  <dxp:Data>";
    out += data;
    out += "</dxp:Data>\n";
    const bool with_name = cfg.file_name && !d.file_name.empty();
    if (with_name || cfg.is_text) {
        out += "  <dxp:AddInfo>\n";
        if (with_name) {
            out += "    <dxp:FileName>";
            escape_into(out, d.file_name);
            out += "</dxp:FileName>\n";
        }
        if (cfg.is_text) out += "    <dxp:IsText>true</dxp:IsText>\n";
        out += "  </dxp:AddInfo>\n";
    }
    out += "</dxp:DxpMsg>\n";
    return out;
}

const response& reply::about(std::string_view cop_msg_id) const {
    for (auto& r : responses)
        if (!cop_msg_id.empty() && r.ori_cop_msg_id == cop_msg_id) return r;
    return responses.front();
}

result<reply> parse_reply(std::string_view bytes) {
    xml::limits lim;
    lim.max_bytes = 4 * 1024 * 1024;
    auto doc = xml::parse(bytes, lim, "DxpRep");
    if (!doc) return doc.err();
    const xmlNode* root = xmlDocGetRootElement(doc->doc.get());
    if (local(root) != "DxpRep")
        return error(errc::xml_malformed, fmt::format("the answer is a {}, not a DxpRep", std::string(local(root))));
    reply r;
    r.receiver_id = child_text(root, "RecevierId");
    if (r.receiver_id.empty()) r.receiver_id = child_text(root, "ReceiverId");
    for (const xmlNode* c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || local(c) != "Response") continue;
        response x;
        x.code = child_text(c, "ResponseCode");
        if (x.code.empty()) continue;
        x.info = child_text(c, "ResponseInfo");
        if (const xmlNode* rs = child(c, "Results"))
            for (const xmlNode* l = rs->children; l; l = l->next)
                if (l->type == XML_ELEMENT_NODE && local(l) == "Result") x.results.push_back(text_of(l));
        x.notice_time = child_text(c, "NoticeTime");
        if (const xmlNode* oh = child(c, "OriHead")) {
            x.ori_cop_msg_id = child_text(oh, "CopMsgId");
            x.ori_msg_type = child_text(oh, "MsgType");
        }
        r.responses.push_back(std::move(x));
    }
    if (r.responses.empty()) return error(errc::xml_malformed, "the DxpRep has no Response with a ResponseCode");
    return r;
}

outcome classify(std::string_view code) {
    if (code.size() != 4) return outcome::retry;
    int v = 0;
    for (char c : code) {
        if (c < '0' || c > '9') return outcome::retry;
        v = v * 10 + (c - '0');
    }
    if (v == 0) return outcome::accepted;
    if (v < 2000) return outcome::rejected;
    return outcome::retry;
}

}  // namespace portgate::adapters::dxp

// portgate's configuration: one TOML file holding the server, the store, the partners and the routes.
// Loading never stops at the first problem: every problem is reported with its line (check-config).
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/core/error.hpp"
#include "gateway/xml/parser.hpp"

namespace portgate::config {

struct server_config {
    std::string listen_host = "127.0.0.1";
    unsigned short listen_port = 8080;
    std::filesystem::path data_dir = "var";
    std::size_t max_body_bytes = 10 * 1024 * 1024;
    std::size_t max_header_bytes = 16 * 1024;
    unsigned io_threads = 1;
    unsigned workers = 0;               // 0 = one per core
    std::size_t queue_capacity = 4096;  // jobs waiting for a worker; beyond it: 503 + Retry-After
    std::chrono::milliseconds request_timeout{30'000};
    std::chrono::milliseconds shutdown_grace{10'000};
    std::string admin_token_hash;       // sha256:<hex>; empty = no operator API
    xml::limits xml;
};

struct store_config {
    std::string synchronous = "full";   // full | normal (normal trades the last commits for speed)
    std::size_t group_commit_max = 512; // operations per transaction at most
    std::chrono::microseconds group_commit_wait{0};  // extra wait to gather a batch (0 = take what is there)
    // While the writer is busy (its last batch held 4 operations or more, or 2 or more arrived while it
    // committed), it waits up to group_commit_busy_wait for more operations to join the batch, as long as they
    // keep coming (one at least every group_commit_busy_gap): every commit costs an fsync and rewrites the pages
    // it touched, so under load fewer, larger commits are cheaper (~15-25 % less gateway CPU a message end to end,
    // docs/benchmarks.md). One operation at a time is never delayed; a lull ends the wait after one gap, so a
    // submitter that waits for each answer (a receipt callback) loses at most a gap per operation.
    std::chrono::microseconds group_commit_busy_wait{2000};
    std::chrono::microseconds group_commit_busy_gap{250};
    // While the intake's backlog (requests waiting for a worker) holds group_commit_saturated_backlog jobs or
    // more, the writer gathers for up to group_commit_saturated_wait (0 = never): the cores are saturated, the
    // backlog's operations are on their way, and a commit's fixed cost (its fsync, the index pages every
    // commit rewrites) is shared by more messages.
    std::chrono::microseconds group_commit_saturated_wait{3000};
    std::size_t group_commit_saturated_backlog = 2;
    // Payload compression: none | zstd. zstd stores XML about 3× smaller but costs the intake workers more
    // than it saves the writer (~13 % fewer messages/s end to end, docs/benchmarks.md). Either reads both.
    std::string compression = "none";
    // WAL pages after which a commit copies the log back into the database (SQLite's wal_autocheckpoint).
    std::int64_t checkpoint_pages = 1000;
};

struct partner {
    std::string id;
    std::string name;
    std::vector<std::string> customs_codes;     // 10-digit customs registration codes / USCC
    std::vector<std::string> api_key_hashes;    // "sha256:<hex>" of each accepted key
    std::vector<std::filesystem::path> inboxes; // resolved (absolute or relative to data_dir)
    // [partner.notify]: how receipts reach the partner. Each receipt record of one of its messages becomes
    // a notification mapped by `stylesheet` (a reverse mapping in mappings/; none = the normalized receipt
    // XML) and delivered through every channel listed.
    struct notify_config {
        std::string stylesheet;
        std::vector<std::string> channels;          // mailbox | webhook | folder
        std::string webhook_url;                    // http://host:port/path
        std::string webhook_secret_env;             // HMAC-SHA256 key, from the environment (never in the file)
        std::filesystem::path folder;               // drop folder (atomic: temp file then rename)
        int max_attempts = 8;                       // webhook: then dead letter
    } notify;
    int line = 0;
};

// One stylesheet a route runs on its input; each output must be of type `output` (its schema, draft
// profile, and its business rules).
struct route_map {
    std::string stylesheet;  // file name in mappings/
    std::string output;      // registered type id of every output ("" = detect)
    bool optional = false;   // an empty result is not an error
    struct join_spec {
        std::string with;       // id of the route whose documents this one joins
        std::string key;        // XPath selecting the join key value(s) in this input
        std::string other_key;  // XPath selecting the key value(s) in the other input
        std::string as = "other";  // name the stylesheet reaches the other document by: pg:input(as)
    };
    std::optional<join_spec> join;
    int line = 0;
};

// A signing identity (a key and its certificate; a card or USB key through PKCS#11). Passwords and PINs
// never stand here: only the name of the environment variable or file holding them.
struct signer {
    std::string id;
    std::string source = "file";  // file | pkcs12 | pkcs11
    std::filesystem::path key, cert, pkcs12;
    std::string pkcs11_uri, pkcs11_module;
    std::string password_env;
    std::filesystem::path password_file;
    std::string algorithm = "sm2-sm3";
    std::string sm2_id = "1234567812345678";
    std::string sm2_encoding = "raw";
    bool allow_sha1 = false;
    std::string key_name;
    double per_minute = 0;  // 0 = unlimited; a card manages about 250
    int expiry_warning_days = 30;
    int line = 0;
};

struct route {
    std::string id;
    std::string partner;  // partner id
    std::string root;     // "{namespace}LocalName" of the input document
    std::string schema;   // catalog name (xsd/catalog.toml) that checks the input; "" = the type's own
    std::string type = "auto";  // registered type id (xsd/families/), or auto = detect from the root
    bool rules = true;    // run the type's business rules (xsd/rules/) after the schema
    std::map<std::string, std::string> params;  // pg:param values for the mappings (company codes …)
    std::vector<route_map> maps;                // empty = the input itself is the customs message
    std::string signer;                         // [[signer]] id that signs the customs messages ("" = none)
    std::string endpoint;                       // [[endpoint]] id the customs messages are sent to ("" = kept)
    int line = 0;
};

// Where customs messages go (adapters/): the exchange's HTTPS front or the desktop client's folders.
struct endpoint {
    std::string id;
    std::string kind = "https";  // https | client-folder
    std::string url, ca_file, client_cert, client_key, key_password_env, key_password_file;
    std::filesystem::path root;  // client-folder
    std::string biz = "CEB";
    std::string dxp_sender_id;                 // set: messages travel in a DxpMsg
    std::vector<std::string> dxp_receivers;    // default: DXPEDCCEB0000002 (CBEC import)
    int max_attempts = 8;                      // then dead letter
    int read_timeout_ms = 30000;
    int concurrency = 4;                       // deliveries in flight at once (HTTPS: pooled connections)
    int line = 0;
};

// Customs endpoints delivering receipts: POST /v1/receipts with one of these keys, and/or the desktop
// client's InBox folder(s) read by the gateway.
struct receipts_config {
    std::vector<std::string> api_key_hashes;
    std::vector<std::filesystem::path> inboxes;
};

struct config {
    std::filesystem::path file;       // the config file itself
    std::filesystem::path xsd_dir;    // resolved
    std::filesystem::path mappings_dir;
    std::filesystem::path calendar_file;  // customs working calendar; "" = <xsd>/calendar.toml
    server_config server;
    store_config store;
    std::vector<partner> partners;
    std::vector<route> routes;
    std::vector<signer> signers;
    receipts_config receipts;
    std::vector<endpoint> endpoints;

    const partner* find_partner(std::string_view id) const;
    const route* find_route(std::string_view partner_id, std::string_view qualified_root) const;
    const route* route_by_id(std::string_view id) const;
};

// Loads and checks `file`. On error: errc::config_invalid with one problem per finding (line, message).
// Relative paths in [paths] resolve against the config file's directory, inboxes against data_dir.
result<config> load(const std::filesystem::path& file);

// "sha256:<hex>" of a key, as stored in the config.
std::string hash_api_key(std::string_view key);

}  // namespace portgate::config

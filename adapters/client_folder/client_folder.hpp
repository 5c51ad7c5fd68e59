// The e-port desktop client's folders (FORMATS.md §5): `<root>/<Biz>/{OutBox,InBox,SentBox,FailBox}`.
//   client_folder_endpoint  sends by writing `OutBox/.<name>.tmp`, fsync, rename to `OutBox/<name>` (atomic:
//                           the client never sees half a file) and answers accepted — the client takes it
//                           from there; what happens next comes back through InBox.
//   client_folder_reader    scans `InBox` (and `FailBox`) for answers and receipts — `Successed_<name>` /
//                           `Failed_<name>` import responses and any other receipt file — claims each by
//                           rename into `.work/`, hands the bytes to a callback and moves the file to an
//                           archive folder. A file left in `.work/` by a crash is handed over again at the
//                           next start with the same idempotency key (name + sha256), so the callback can
//                           drop the repeat; a file whose name and content are already archived is not
//                           handed over at all. docs/adapters.md.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "adapters/dxp/dxp.hpp"
#include "adapters/endpoint.hpp"
#include "gateway/core/error.hpp"

namespace portgate::adapters::client_folder {

struct client_folder_config {
    std::string id;
    std::filesystem::path root;      // the client's root folder
    std::string biz;                 // Deccus001 (declarations), Sas (Golden-2), … as the client is set up
    std::optional<dxp::dxp_config> dxp;  // set: the file is the DxpMsg around the bytes
    bool fsync = true;               // fsync the file and OutBox before answering accepted
    // reader
    std::filesystem::path archive_dir;  // "" = <root>/<biz>/InBox/.archive (FailBox files: …/.archive/FailBox)
    std::filesystem::path error_dir;    // "" = <root>/<biz>/InBox/.error
    bool read_failbox = true;           // also hand over files the client put in FailBox
    std::chrono::milliseconds settle_time{2000};   // a file must be this old before it is claimed
    std::chrono::milliseconds poll_interval{1000};
    std::size_t max_file_bytes = 10 * 1024 * 1024;

    std::filesystem::path biz_dir() const { return root / biz; }
    std::filesystem::path outbox() const { return biz_dir() / "OutBox"; }
    std::filesystem::path inbox() const { return biz_dir() / "InBox"; }
    std::filesystem::path sentbox() const { return biz_dir() / "SentBox"; }
    std::filesystem::path failbox() const { return biz_dir() / "FailBox"; }
    std::filesystem::path archive() const { return archive_dir.empty() ? inbox() / ".archive" : archive_dir; }
    std::filesystem::path errors() const { return error_dir.empty() ? inbox() / ".error" : error_dir; }
};

// Checks the configuration and creates the four client folders plus .work/, archive and error folders.
status prepare_folders(const client_folder_config& cfg);

// The file name a delivery is written under: d.file_name (or <type>_<cop_msg_id>.xml), with path
// separators and control characters replaced by '_' and leading dots removed.
std::string file_name_for(const delivery& d);

class client_folder_endpoint final : public endpoint {
public:
    static result<std::unique_ptr<client_folder_endpoint>> create(client_folder_config cfg);

    const std::string& id() const override { return cfg_.id; }
    delivery_result send(const delivery& d) override;

    // Where the client has put a file we wrote: "outbox" (not taken yet), "sent" (SentBox), "failed"
    // (FailBox) or "" (gone / unknown).
    std::string where(const std::string& file_name) const;

private:
    explicit client_folder_endpoint(client_folder_config cfg) : cfg_(std::move(cfg)) {}
    client_folder_config cfg_;
};

enum class answer_kind {
    success,      // InBox/Successed_<name>: the client's import response, positive
    failure,      // InBox/Failed_<name>: the client's import response, negative
    receipt,      // any other InBox file: a receipt or answer (CEB…Return, DxpRep, CEB900 …)
    send_failed,  // FailBox/<name>: the client could not send a file we wrote
};
const char* answer_kind_name(answer_kind k);

struct inbox_file {
    std::string name;             // the file's name as the client wrote it
    answer_kind kind = answer_kind::receipt;
    std::string original_name;    // for Successed_/Failed_/FailBox: the name we wrote to OutBox; else empty
    std::string bytes;
    std::string sha256;           // hex
    std::string idempotency_key;  // "client-folder:<endpoint id>:<name>:<sha256>" — the same on every hand-over
    bool recovered = false;       // found in .work/ (claimed before a crash or a retryable failure)
};

// ok → the file is archived. A retryable error (is_retryable(code)) → it stays claimed in .work/ and is
// handed over again at the next poll. Any other error → it moves to the error folder with <name>.err.json.
using inbox_handler = std::function<status(const inbox_file&)>;

class client_folder_reader {
public:
    client_folder_reader(client_folder_config cfg, inbox_handler h);
    ~client_folder_reader();

    // Creates the folders and starts the polling thread (the first poll recovers .work/ at once).
    status start();
    void stop();

    // One pass (also usable without start()): first everything left in .work/, then every settled file.
    // Returns how many files were handed over successfully.
    std::size_t poll_once();

    struct counters {
        std::size_t handed = 0, duplicates = 0, retried = 0, errors = 0;
    };
    counters stats() const;

private:
    struct source {
        std::filesystem::path dir, work, archive;
        bool failbox = false;
    };
    std::size_t poll_source(const source& s);
    bool process(const source& s, const std::string& name, bool recovered);
    void run();

    client_folder_config cfg_;
    inbox_handler handler_;
    mutable std::mutex poll_mu_;
    counters stats_;
    std::mutex wait_mu_;
    std::condition_variable wake_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace portgate::adapters::client_folder

// The sign and verify subcommands over gateway/sign. Passwords and PINs only through --password-env or
// --password-file, never as an argument (it would show in the process list and shell history).
#include "gateway/cli/sign_cli.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "gateway/sign/sign.hpp"
#include "gateway/xml/parser.hpp"

namespace portgate::cli {

namespace {

class sign_commands {
public:
    explicit sign_commands(CLI::App& app);
    std::optional<int> dispatch();

private:
    int run_sign();
    int run_verify();

    CLI::App* sign_ = nullptr;
    CLI::App* verify_ = nullptr;
    std::string key_, cert_, alg_ = "sm2-sm3", sm2_id_, sm2_encoding_ = "raw", before_, pkcs11_uri_, pkcs11_module_,
        pkcs12_, password_env_, password_file_, key_name_, file_;
    bool allow_sha1_ = false;
    std::string verify_cert_, verify_ca_, verify_sm2_id_, verify_sm2_encoding_ = "auto", verify_file_;
    bool verify_allow_sha1_ = false, verify_allow_comments_ = false;
};

std::optional<std::string> slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

sign_commands::sign_commands(CLI::App& app) {
    sign_ = app.add_subcommand("sign", "sign a document (enveloped XML-DSig); the signed bytes go to standard output");
    sign_->add_option("--key", key_, "PEM private key file");
    sign_->add_option("--cert", cert_, "PEM certificate of the key (for a token too)");
    sign_->add_option("--pkcs12", pkcs12_, "PKCS#12 file with key and certificate (instead of --key/--cert)");
    sign_->add_option("--pkcs11-uri", pkcs11_uri_, "PKCS#11 URI of the private key on a token (with --cert)");
    sign_->add_option("--pkcs11-module", pkcs11_module_, "PKCS#11 module (.so); default $PKCS11_MODULE or the engine's");
    sign_->add_option("--alg", alg_, "sm2-sm3|rsa-sha1|rsa-sha256|ecdsa-sha256")
        ->check(CLI::IsMember({"sm2-sm3", "rsa-sha1", "rsa-sha256", "ecdsa-sha256"}));
    sign_->add_option("--sm2-id", sm2_id_, "SM2 signer ID (default 1234567812345678)");
    sign_->add_option("--sm2-encoding", sm2_encoding_, "SM2 SignatureValue: raw (r||s, 64 bytes) or der")
        ->check(CLI::IsMember({"raw", "der"}));
    sign_->add_option("--before", before_, "place ds:Signature before this child of the root (e.g. ExtendMessage); default last");
    sign_->add_option("--password-env", password_env_, "environment variable holding the key password or PIN");
    sign_->add_option("--password-file", password_file_, "file whose first line is the key password or PIN");
    sign_->add_option("--key-name", key_name_, "KeyName text (default: the certificate serial)");
    sign_->add_flag("--allow-sha1", allow_sha1_, "permit rsa-sha1 (legacy endpoints only)");
    sign_->add_option("file", file_, "document to sign")->required();

    verify_ = app.add_subcommand("verify", "verify a signed document: exit 0 valid, 1 invalid (reason), 2 error");
    verify_->add_option("--cert", verify_cert_, "expected signer certificate (PEM or DER); KeyInfo's must match it");
    verify_->add_option("--ca", verify_ca_, "PEM file of trusted CA certificates the signer must chain to");
    verify_->add_flag("--allow-sha1", verify_allow_sha1_, "accept rsa-sha1 and the sha1 digest");
    verify_->add_flag("--allow-comments", verify_allow_comments_, "accept comments inside the signed root");
    verify_->add_option("--sm2-id", verify_sm2_id_, "SM2 signer ID (default 1234567812345678)");
    verify_->add_option("--sm2-encoding", verify_sm2_encoding_, "auto|raw|der")->check(CLI::IsMember({"auto", "raw", "der"}));
    verify_->add_option("file", verify_file_, "signed document")->required();
}

std::optional<int> sign_commands::dispatch() {
    if (*sign_) return run_sign();
    if (*verify_) return run_verify();
    return std::nullopt;
}

int sign_commands::run_sign() {
    xml::initialise();
    sign::identity_config cfg;
    cfg.name = "cli";
    if (!pkcs11_uri_.empty()) {
        cfg.source = sign::key_source::pkcs11;
        cfg.pkcs11_uri = pkcs11_uri_;
        cfg.pkcs11_module = pkcs11_module_;
    } else if (!pkcs12_.empty()) {
        cfg.source = sign::key_source::pkcs12;
        cfg.pkcs12_file = pkcs12_;
    } else {
        if (key_.empty() || cert_.empty()) {
            std::cerr << "portgate sign: give --key and --cert, or --pkcs12, or --pkcs11-uri and --cert\n";
            return 2;
        }
        cfg.key_file = key_;
    }
    cfg.cert_file = cert_;
    cfg.algorithm = alg_;
    if (!sm2_id_.empty()) cfg.sm2_id = sm2_id_;
    cfg.sm2_encoding = sm2_encoding_;
    cfg.password_env = password_env_;
    cfg.password_file = password_file_;
    cfg.allow_sha1 = allow_sha1_;
    cfg.key_name = key_name_;

    auto id = sign::open_identity(cfg);
    if (!id) {
        std::cerr << fmt::format("portgate sign: {} ({})\n", id.err().message, code_string(id.err().code));
        return 2;
    }
    if ((*id)->expiry_warning())
        std::cerr << fmt::format("portgate sign: warning: the certificate expires in {:.0f} day(s)\n", (*id)->days_left());
    auto bytes = slurp(file_);
    if (!bytes) {
        std::cerr << fmt::format("portgate sign: cannot read {}\n", file_);
        return 2;
    }
    xml::limits lim;
    lim.max_bytes = std::size_t(64) << 20;
    auto out = sign::sign_document(**id, *bytes, sign::placement{before_}, sign::sign_options{lim});
    if (!out) {
        std::cerr << fmt::format("portgate sign: {}: {} ({})\n", file_, out.err().message, code_string(out.err().code));
        // The document cannot be signed as it is (not XML, already signed …) versus the signing failed.
        return out.err().code == errc::sign_failed || out.err().code == errc::internal ? 2 : 1;
    }
    std::cout << out.value();
    std::cout.flush();
    return std::cout ? 0 : 2;
}

int sign_commands::run_verify() {
    xml::initialise();
    sign::verify_policy policy;
    policy.allow_sha1 = verify_allow_sha1_;
    policy.allow_comments = verify_allow_comments_;
    policy.trusted_ca_file = verify_ca_;
    policy.limits.max_bytes = std::size_t(64) << 20;
    if (!verify_sm2_id_.empty()) policy.sm2_id = verify_sm2_id_;
    if (verify_sm2_encoding_ == "raw") policy.sm2_enc = sign::sm2_encoding::raw;
    if (verify_sm2_encoding_ == "der") policy.sm2_enc = sign::sm2_encoding::der;
    if (!verify_cert_.empty()) {
        auto c = slurp(verify_cert_);
        if (!c) {
            std::cerr << fmt::format("portgate verify: cannot read {}\n", verify_cert_);
            return 2;
        }
        policy.certificate = std::move(*c);
    }
    auto bytes = slurp(verify_file_);
    if (!bytes) {
        std::cerr << fmt::format("portgate verify: cannot read {}\n", verify_file_);
        return 2;
    }
    auto v = sign::verify_document(*bytes, policy);
    if (!v) {
        std::cerr << fmt::format("{}: could not check: {} ({})\n", verify_file_, v.err().message, code_string(v.err().code));
        return 2;
    }
    if (!v->valid) {
        std::cout << fmt::format("{}: invalid: {} [{}]\n", verify_file_, v->reason, v->code);
        return 1;
    }
    std::cout << fmt::format("{}: valid ({}, signer {}, serial {}{})\n", verify_file_, sign::algorithm_name(*v->alg),
                             v->signer_subject, v->signer_serial, v->key_name.empty() ? "" : ", KeyName " + v->key_name);
    return 0;
}

}  // namespace

std::function<std::optional<int>()> add_sign_commands(CLI::App& app) {
    auto commands = std::make_shared<sign_commands>(app);
    return [commands] { return commands->dispatch(); };
}

}  // namespace portgate::cli

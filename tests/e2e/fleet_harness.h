#pragma once
// End-to-end fixtures for the fleet: the real driftwatch-aggregator serving on 127.0.0.1 (a
// port the kernel picks, kept across restarts), its admin commands, enrolling real agents, and
// a raw reporter that speaks the wire protocol with an enrolled agent's identity, so tests can
// send what a broken or hostile agent would.

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include "agent/transport/https_client.h"
#include "agent/uplink/identity.h"
#include "common/wire/codec.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace driftwatch::testing {

inline std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class Aggregator {
 public:
  // Data, config and output live under work/`name`.
  explicit Aggregator(const TempDir& work, const std::string& name = "agg")
      : work_(work), name_(name), dataDir_(work.at(name + "/data")) {
    work.mkdir(name);
    work.write(name + "/aggregator.yaml", "data_dir: " + dataDir_ + "\n");
  }

  // Starts `serve` and waits until it listens; the first start picks a free port, later ones
  // listen on the same port again (agents know it from their enrollment).
  void start() {
    const std::string listen = "127.0.0.1:" + std::to_string(port_);
    child_.emplace(std::vector<std::string>{aggregatorBinary(), "serve", "--config", configPath(),
                                            "--listen", listen},
                   work_.at(name_ + "/serve.out"), work_.at(name_ + "/serve.err"));
    const bool listening = waitFor([&] {
      return readText(work_.at(name_ + "/serve.out")).find("listening on") != std::string::npos ||
             !child_->running();
    });
    INFO("serve stderr:\n" << stderrText());
    REQUIRE(listening);
    REQUIRE(child_->running());
    const std::string out = readText(work_.at(name_ + "/serve.out"));
    const auto fp = out.find("CA fingerprint: ");
    REQUIRE(fp != std::string::npos);
    fingerprint_ = out.substr(fp + 16, out.find('\n', fp) - fp - 16);
    const auto at = out.rfind("listening on https://127.0.0.1:");
    REQUIRE(at != std::string::npos);
    port_ = std::stoi(out.substr(at + 31));
  }

  // SIGKILL: no chance to flush or close anything.
  void kill() {
    child_->signal(SIGKILL);
    REQUIRE(child_->wait(std::chrono::seconds(30)).has_value());
    child_.reset();
  }

  // SIGTERM, and the exit code.
  std::optional<int> stop() {
    child_->signal(SIGTERM);
    auto code = child_->wait(std::chrono::seconds(30));
    child_.reset();
    return code;
  }

  bool running() { return child_ && child_->running(); }

  ProcessResult admin(std::vector<std::string> args) const {
    args.insert(args.begin(), aggregatorBinary());
    args.insert(args.end(), {"--config", configPath()});
    auto r = runProcess(args);
    if (r.timedOut || r.signal != 0) FAIL("driftwatch-aggregator " << args[1] << ": " << r.err);
    return r;
  }

  nlohmann::json adminJson(std::vector<std::string> args) const {
    args.insert(args.end(), {"--format", "json"});
    const auto r = admin(args);
    INFO("stderr: " << r.err);
    REQUIRE(r.exitCode == 0);
    return nlohmann::json::parse(r.out);
  }

  std::string createToken(const std::string& labels = "role=web,dc=fra",
                          std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"token", "create", "--labels", labels};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = admin(args);
    INFO("stderr: " << r.err);
    REQUIRE(r.exitCode == 0);
    std::string token = r.out;
    while (!token.empty() && token.back() == '\n')
      token.pop_back();
    REQUIRE(token.rfind("dwt_", 0) == 0);
    return token;
  }

  nlohmann::json hosts() const { return adminJson({"hosts", "list"}); }

  nlohmann::json host(const std::string& id) const {
    for (const auto& h : hosts()) {
      if (h["id"] == id) return h;
    }
    return nullptr;
  }

  nlohmann::json history(const std::string& id, size_t limit = 1'000'000) const {
    return adminJson({"hosts", "history", id, "--limit", std::to_string(limit)});
  }

  std::vector<nlohmann::json> audit(const std::string& event = {}) const {
    std::vector<nlohmann::json> out;
    for (const auto& a : adminJson({"audit", "--limit", "100000"})) {
      if (event.empty() || a["event"] == event) out.push_back(a);
    }
    return out;
  }

  // The JSON lines of the audit log file.
  std::vector<nlohmann::json> auditFile() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(dataDir_ + "/audit.log");
    std::string line;
    while (std::getline(in, line))
      out.push_back(nlohmann::json::parse(line));
    return out;
  }

  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& dataDir() const { return dataDir_; }
  std::string configPath() const { return work_.at(name_ + "/aggregator.yaml"); }
  std::string stderrText() const { return readText(work_.at(name_ + "/serve.err")); }

 private:
  const TempDir& work_;
  std::string name_;
  std::string dataDir_;
  int port_ = 0;
  std::string fingerprint_;
  std::optional<Child> child_;
};

// `driftwatch-agent enroll` with a state directory of its own; `extra` may name another
// --ca-fingerprint.
inline ProcessResult enrollAgent(const Aggregator& agg, const std::string& stateDir,
                                 const std::string& token, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {agentBinary(), "enroll", "--server",    agg.url(),
                                   "--token",     token,    "--state-dir", stateDir};
  if (std::find(extra.begin(), extra.end(), "--ca-fingerprint") == extra.end())
    extra.insert(extra.end(), {"--ca-fingerprint", agg.fingerprint()});
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = runProcess(args);
  if (r.timedOut || r.signal != 0) FAIL("driftwatch-agent enroll: " << r.err);
  return r;
}

inline nlohmann::json agentStatus(const std::string& stateDir) {
  const auto r = runProcess({agentBinary(), "status", "--state-dir", stateDir, "--format", "json"});
  if (r.exitCode != 0 && r.exitCode != 2) return nullptr;
  return nlohmann::json::parse(r.out);
}

// Whether the enrolled agent in `stateDir` reported and was acknowledged, with nothing left to
// send: a change made after this arrives as a delta, after the snapshot.
inline bool agentInSync(const std::string& stateDir) {
  const auto s = agentStatus(stateDir);
  return !s.is_null() && s["uplink"]["in_sync"] == true && s["uplink"]["acked_seq"] != 0;
}

// Speaks the report protocol with an enrolled agent's identity (mutual TLS with its
// certificate), sending whatever bytes a test hands it.
class RawReporter {
 public:
  explicit RawReporter(const std::string& stateDir) {
    auto id = agent::loadIdentity(stateDir);
    REQUIRE(id.ok());
    REQUIRE(id->has_value());
    identity_ = std::move(**id);
  }

  const agent::AgentIdentity& identity() const { return identity_; }

  // POSTs to /v1/report; `withCert` false connects with the trusted CA but no client
  // certificate.
  agent::HttpReply post(std::string_view body, bool withCert = true) const {
    auto reply = tryPost(body, withCert);
    INFO("transport error: " << (reply.ok() ? "" : reply.error().describe()));
    REQUIRE(reply.ok());
    return *reply;
  }

  // The same, where the server may also end the connection instead of answering.
  Result<agent::HttpReply> tryPost(std::string_view body, bool withCert = true) const {
    agent::HttpsClientOptions o;
    o.host = identity_.server.host;
    o.port = identity_.server.port;
    o.caPem = identity_.caPem;
    if (withCert) {
      o.clientCertPem = identity_.certPem;
      o.clientKeyPem = identity_.keyPem;
    }
    agent::HttpsClient client(o);
    return client.post("/v1/report", body, "application/x-protobuf");
  }

  static wire::ReportResponse decode(const agent::HttpReply& reply) {
    auto r = wire::decodeReportResponse(reply.body);
    INFO("reply body: " << reply.body);
    REQUIRE(r.ok());
    return *r;
  }

 private:
  agent::AgentIdentity identity_;
};

}  // namespace driftwatch::testing

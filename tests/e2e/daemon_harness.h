#pragma once
// Runs the real `driftwatch-agent run` against a temporary tree for end-to-end tests, and reads
// what it recorded: `status --format json` (the state database) and the events file. Tests wait
// for conditions with a deadline; they never sleep for a fixed time to let the daemon act.

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <signal.h>

#include "tests/e2e/agent_harness.h"

namespace driftwatch::testing {

class AgentDaemon {
 public:
  // `work` holds p.yaml (and b.txt when the policy needs a baseline); without p.yaml the agent
  // runs on the fleet's rules alone. `root` is the observed tree. `extraConfig` lines are
  // appended to the generated agent.yaml.
  AgentDaemon(const TempDir& work, std::string root, std::string extraConfig = {})
      : work_(work), root_(std::move(root)) {
    std::string config;
    if (std::ifstream(work.at("p.yaml")).good()) config += "policy: " + work.at("p.yaml") + "\n";
    config += "root: " + root_ + "\nstate_dir: " + work.at("state") +
              "\nevents_file: " + work.at("events.jsonl") +
              "\nsettle: 50ms\nmax_settle: 1s\npoll_interval: 1s\nio_budget: 0\ncpu_share: 1\n";
    if (std::ifstream(work.at("b.txt")).good()) config += "baseline: " + work.at("b.txt") + "\n";
    config += extraConfig;
    work.write("agent.yaml", config);
  }

  // Starts the daemon (optionally behind a wrapper such as unshare) and waits for its first
  // full scan to finish.
  void start(std::vector<std::string> wrapper = {}) {
    std::vector<std::string> argv = std::move(wrapper);
    argv.insert(argv.end(), {agentBinary(), "run", "--config", work_.at("agent.yaml")});
    child_.emplace(argv, work_.at("daemon.out"), work_.at("daemon.err"));
    // This run's start-up scan: the status names this pid only once the previous run's scans
    // are gone from it.
    const bool ready = waitFor([&] {
      const auto s = status();
      if (s.is_null() || s["pid"] != std::to_string(child_->pid())) return !child_->running();
      for (const auto& scan : s["scans"]) {
        if (scan["kind"] == "startup") return true;
      }
      return false;
    });
    INFO("daemon stderr:\n" << stderrText());
    REQUIRE(child_->running());
    REQUIRE(ready);
  }

  nlohmann::json status() const {
    const auto r =
        runProcess({agentBinary(), "status", "--state-dir", work_.at("state"), "--format", "json"});
    if (r.exitCode != 0 && r.exitCode != 2) return nullptr;
    try {
      return nlohmann::json::parse(r.out);
    } catch (...) {
      return nullptr;
    }
  }

  bool hasScan(const std::string& kind) const {
    const auto s = status();
    if (s.is_null()) return false;
    for (const auto& scan : s["scans"]) {
      if (scan["kind"] == kind) return true;
    }
    return false;
  }

  // The current drift item for `resource` (from the state database), or null.
  nlohmann::json drift(const std::string& resource) const {
    const auto s = status();
    if (s.is_null()) return nullptr;
    for (const auto& item : s["drift"]["items"]) {
      if (item["resource"] == resource) return item;
    }
    return nullptr;
  }

  bool waitDrift(const std::string& resource, const std::string& change) const {
    return waitFor([&] {
      const auto d = drift(resource);
      return !d.is_null() && d["change"] == change;
    });
  }

  bool waitNoDrift(const std::string& resource) const {
    return waitFor([&] { return drift(resource).is_null(); });
  }

  // Event lines ({"event": ...}) written so far, optionally only those of one kind. Lines are
  // written right after the transaction that records their change: wait until none is queued.
  std::vector<nlohmann::json> events(const std::string& kind = {}) const {
    waitFor([&] {
      const auto s = status();
      return !s.is_null() && s["events_queued"] == 0;
    });
    std::vector<nlohmann::json> out;
    std::ifstream in(work_.at("events.jsonl"));
    std::string line;
    while (std::getline(in, line)) {
      try {
        auto j = nlohmann::json::parse(line);
        if (j.contains("event") && (kind.empty() || j["event"] == kind))
          out.push_back(std::move(j));
      } catch (...) {
      }
    }
    return out;
  }

  size_t countEvents(const std::string& kind, const std::string& resource) const {
    size_t n = 0;
    for (const auto& e : events(kind))
      n += e.value("resource", std::string()) == resource ? 1 : 0;
    return n;
  }

  std::string stderrText() const {
    std::ifstream in(work_.at("daemon.err"));
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  void signal(int signum) { child_->signal(signum); }
  std::optional<int> wait(std::chrono::milliseconds timeout) { return child_->wait(timeout); }
  bool running() { return child_ && child_->running(); }

 private:
  const TempDir& work_;
  std::string root_;
  std::optional<Child> child_;
};

}  // namespace driftwatch::testing

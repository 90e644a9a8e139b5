#pragma once
// Shared helpers for the end-to-end tests: run the real driftwatch-agent binary against a
// fixture tree and look at what it printed.

#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace driftwatch::testing {

// The checks of one test process keep their digest cache here, never in the machine's
// /var/cache or the user's ~/.cache.
inline const TempDir& checkCacheDir() {
  static const TempDir dir;
  return dir;
}

inline ProcessResult agent(std::vector<std::string> args, ProcessOptions options = {}) {
  args.insert(args.begin(), agentBinary());
  options.unsetEnv.push_back("NO_COLOR");
  options.env.push_back("DRIFTWATCH_CHECK_CACHE=" + checkCacheDir().at("check.db"));
  auto result = runProcess(args, options);
  if (result.timedOut) FAIL("driftwatch-agent timed out; stderr: " << result.err);
  if (result.signal != 0)
    FAIL("driftwatch-agent died with signal " << result.signal << "; stderr: " << result.err);
  return result;
}

// Runs `check --format json` and parses its output.
inline nlohmann::json checkJson(const TempDir& work, const std::string& root, int expectedExit,
                                const std::string& baseline = "b.txt") {
  std::vector<std::string> args = {"check",    "--policy", work.at("p.yaml"), "--root", root,
                                   "--format", "json"};
  if (!baseline.empty()) {
    args.push_back("--baseline");
    args.push_back(work.at(baseline));
  }
  const auto r = agent(args);
  INFO("stderr: " << r.err);
  INFO("stdout: " << r.out);
  CHECK(r.exitCode == expectedExit);
  return nlohmann::json::parse(r.out);
}

// The drift item for `resource`, or null.
inline nlohmann::json item(const nlohmann::json& report, const std::string& resource) {
  for (const auto& d : report["drift"]) {
    if (d["resource"] == resource) return d;
  }
  return nullptr;
}

// The attribute names of a drift item, in order.
inline std::vector<std::string> attrNames(const nlohmann::json& driftItem) {
  std::vector<std::string> names;
  for (const auto& a : driftItem["attributes"])
    names.push_back(a["name"]);
  return names;
}

inline void recordBaseline(const TempDir& work, const std::string& root) {
  const auto r =
      agent({"baseline", "--policy", work.at("p.yaml"), "--out", work.at("b.txt"), "--root", root});
  INFO("stderr: " << r.err);
  REQUIRE(r.exitCode == 0);
}

}  // namespace driftwatch::testing

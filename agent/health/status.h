#pragma once
// `driftwatch-agent status`: the daemon's current view, read from its state database (which it
// keeps up to date), so it works whether the daemon runs or not: drift, coverage (what is
// watched, what is polled, the gaps with their time windows), the last scans and the outbox.

#include <string>

#include "common/base/result.h"

namespace driftwatch::agent {

struct StatusReport {
  std::string text;  // for people
  std::string json;  // one object, docs/agent-daemon.md
  size_t driftCount = 0;
};

Result<StatusReport> readStatus(const std::string& stateDir, bool color);

}  // namespace driftwatch::agent

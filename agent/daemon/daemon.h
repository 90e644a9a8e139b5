#pragma once
// The host agent's daemon (`driftwatch-agent run`): watches what the policy asks for with
// inotify, polls what has no inotify (sysctl, packages, services, accounts), rescans on a
// schedule as a safety net, keeps the last observed state, the drift and an outbox in SQLite,
// and writes a JSON line for every drift opened, changed or resolved.
//
// Threads: one loop thread owns the state database, the pending set and every timer; a small
// work pool stats, hashes and walks trees and hands results back to the loop. After start() the
// caller runs the loop; SIGTERM/SIGINT stop it cleanly, SIGHUP reloads policy and baseline.
//
// What it promises (docs/agent-daemon.md): a change is in the outbox before it counts as
// observed; a restart or crash is followed by a rescan that reports what changed meanwhile, and
// nothing is reported twice as new drift; whenever it cannot see (queue overflow, watch limit,
// downtime) it records a coverage gap with its time window.

#include <memory>
#include <string>

#include "agent/daemon/agent_config.h"
#include "agent/loop/event_loop.h"
#include "common/base/result.h"

namespace driftwatch::agent {

class Daemon {
 public:
  Daemon(EventLoop& loop, AgentConfig config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Loads the policy, opens the state, starts watching and the first scan. An invalid policy,
  // baseline or state directory is an error here (exit 1), not later.
  Status start();

  // What main() returns once the loop has stopped.
  int exitCode() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs the daemon until it stops; the process exit code.
int runDaemon(const AgentConfig& config);

}  // namespace driftwatch::agent

#pragma once
// Delivers the outbox to the aggregator, on a thread of its own so that a slow or absent
// aggregator never holds up observing the host. It waits for changes (wake()), gathers them for
// a moment (batch_delay), sends the next batch from the BatchQueue, and applies the answer. While
// the aggregator cannot be reached it retries with exponential back-off and jitter, and keeps
// the outbox within its quota. With nothing to send it reports once per heartbeat interval, so
// the aggregator can tell a quiet host from a dead one.
//
// It picks up an enrollment made while the daemon runs (enrollment.json appears or changes).
// Its log lines go through `log`, which is called on the uploader's thread.
//
// It also asks the aggregator for the host's fleet rules (POST /v1/rules): once enrollment is
// loaded, then after a report (a batch or a heartbeat) at most every 5 seconds. A bundle is
// verified (rule_bundle_check.h) before it is handed on; what came of each request goes to
// `onRules`, on the uploader's thread, for the daemon to apply.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/uplink/rule_bundle_check.h"

namespace driftwatch::net {
class HttpsClient;
}  // namespace driftwatch::net

namespace driftwatch::agent {

using net::HttpsClient;

// What one request for fleet rules gave.
struct RulesFetch {
  enum class Kind { kBundle, kUnchanged, kRefused };
  Kind kind = Kind::kUnchanged;
  std::optional<VerifiedBundle> bundle;  // kBundle: verified, for this host, not older
  std::string reason;                    // kRefused: why, for the log and status
  int64_t atMs = 0;                      // unix ms
};

struct UploaderOptions {
  std::string stateDir;
  std::string agentVersion;
  uint64_t outboxQuotaBytes = 256ull << 20;
  std::chrono::milliseconds batchDelay{1000};
  std::chrono::milliseconds heartbeatInterval{std::chrono::minutes(5)};
  std::chrono::milliseconds retryMax{std::chrono::minutes(5)};
  // Set to whether the state directory holds an enrollment, each time that changes (the
  // daemon's outbox gate: see StateDb::setOutboxGate). May be null.
  std::atomic<bool>* enrolled = nullptr;
  // Fleet rules: each request's outcome, and the revision the daemon has in force for a host id
  // (0 when its rules are another host's: an enrollment made while it runs). Called on the
  // uploader's thread. Both may be empty: no rules are asked for.
  std::function<void(RulesFetch)> onRules;
  // The revision the daemon holds: applied, and observed by a full scan under it.
  std::function<uint64_t(const std::string& hostId)> rulesRevision;
  // True while a bundle is applied but its scan has not finished: asking again would only fetch
  // the same bundle. May be empty.
  std::function<bool(const std::string& hostId)> rulesPending;
};

class Uploader {
 public:
  using LogFn = std::function<void(std::string level, std::string message)>;

  Uploader(UploaderOptions options, LogFn log);
  ~Uploader();  // stops
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  void start();
  // New outbox entries are committed (any thread).
  void wake();
  // Ends a request under way and joins the thread.
  void stop();

 private:
  class Session;
  void run();
  // Waits until woken, stopped or `timeout`; true when woken.
  bool waitForWork(std::chrono::milliseconds timeout);
  // Sleeps unless stopped; wake-ups do not cut it short.
  void pause(std::chrono::milliseconds duration);
  // One request for fleet rules with the session's client and identity.
  // Asks for the host's rules, saying it holds `have`, and hands the answer to the daemon.
  void fetchRules(HttpsClient& client, const std::string& hostId, const std::string& rulesKey,
                  uint64_t have);

  UploaderOptions options_;
  LogFn log_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool stopping_ = false;
  HttpsClient* client_ = nullptr;  // the session's, for stop() to abort; under mutex_
  std::thread thread_;
};

}  // namespace driftwatch::agent

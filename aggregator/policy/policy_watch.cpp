#include "aggregator/policy/policy_watch.h"

#include <ctime>
#include <filesystem>

#include "aggregator/alert/alert_queue.h"
#include "aggregator/audit/audit_log.h"
#include "aggregator/policy/policy_apply.h"
#include "aggregator/policy/policy_source.h"
#include "aggregator/store/fleet_store.h"
#include "common/crypto/sha256.h"

namespace driftwatch::aggregator {
namespace {

// What the directory holds, as one digest: file names, texts and baselines.
std::string contentDigest(const std::vector<PolicySource>& sources) {
  Sha256 h;
  for (const auto& s : sources) {
    h.update(s.path + "\n" + policyDigest(s.text, s.baseline) + "\n");
  }
  return toHex(h.finish());
}

// A multi-line error on one line, for logs.
std::string oneLine(std::string text) {
  for (size_t at = text.find("\n  "); at != std::string::npos; at = text.find("\n  ", at))
    text.replace(at, 3, "; ");
  return text;
}

}  // namespace

PolicyWatcher::PolicyWatcher(PolicyWatchOptions options,
                             std::function<void(const std::string&)> log)
    : options_(std::move(options)), log_(std::move(log)), thread_([this] { run(); }) {}

PolicyWatcher::~PolicyWatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void PolicyWatcher::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    poll();
    lock.lock();
    wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
  }
}

void PolicyWatcher::poll() {
  auto sources = readPolicySources({options_.directory});
  if (!sources.ok()) {
    const std::string error = sources.error().describe();
    if (error != lastError_) log_("policy_dir: cannot read the policies: " + error);
    lastError_ = error;
    return;
  }
  lastError_.clear();
  const std::string content = contentDigest(*sources);
  if (content == lastContent_) return;
  // Applied only once two looks in a row see the same content: a `git pull` caught half way
  // would otherwise apply (or remove) policies that the next look puts back.
  if (content != settling_) {
    settling_ = content;
    return;
  }

  auto store = FleetStore::open(options_.dataDir);
  if (!store.ok()) {
    log_("policy_dir: " + store.error().describe());
    return;  // tried again at the next look
  }
  auto audit = AuditLog::open(*store, options_.auditLog);
  if (!audit.ok()) {
    log_("policy_dir: " + audit.error().describe());
    return;
  }
  const std::string commit = sources->empty() ? "" : sources->front().gitCommit;
  ApplyRequest request;
  request.policies = std::move(*sources);
  request.appliedBy = "policy_dir";
  request.message =
      "from " + options_.directory + (commit.empty() ? "" : " at git commit " + commit);
  request.now = static_cast<int64_t>(std::time(nullptr));
  // A policy file deleted from the directory removes the policy it had applied (and only
  // those: policies applied with `policy apply` from elsewhere are not the directory's).
  request.prune = true;
  std::error_code ec;
  request.pruneDirectory =
      std::filesystem::absolute(options_.directory, ec).lexically_normal().string();
  AlertQueue alerts(*store, options_.alertSettle);
  request.driftListener = &alerts;
  auto outcome = applyPolicies(*store, *audit, request);
  lastContent_ = content;  // refused content is not retried until it changes
  if (!outcome.ok()) {
    const std::string why = oneLine(outcome.error().describe());
    audit->record("policy_refused", "", "policy_dir", why);
    log_("policy_dir: " + why);
    return;
  }
  for (const auto& o : *outcome) {
    if (o.changed)
      log_("policy_dir: " + o.name + " version " + std::to_string(o.version) +
           (o.removed ? " removed (its file is gone)" : " applied"));
  }
}

}  // namespace driftwatch::aggregator

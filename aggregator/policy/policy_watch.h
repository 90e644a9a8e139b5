#pragma once
// GitOps for fleet policies: a thread that looks at a directory (a checkout of the fleet's
// policies) every poll interval and, when any policy file or baseline in it changed and stayed
// so for one more look, applies the directory as `policy apply DIR` would: all of it or, on any
// problem, none of it (the stored versions stay, the refusal is audited once per content). A
// policy it applied whose file is gone is removed. It keeps its own connection to the fleet
// store, as an admin command would.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace driftwatch::aggregator {

struct PolicyWatchOptions {
  std::string directory;
  std::string dataDir;
  std::string auditLog;  // the audit log file, as the server writes it
  std::chrono::milliseconds interval{std::chrono::seconds(10)};
  std::chrono::milliseconds alertSettle{std::chrono::seconds(30)};  // alerts.settle
};

class PolicyWatcher {
 public:
  // `log` gets a line for each apply, refusal or unreadable directory.
  PolicyWatcher(PolicyWatchOptions options, std::function<void(const std::string&)> log);
  ~PolicyWatcher();  // stops the thread
  PolicyWatcher(const PolicyWatcher&) = delete;
  PolicyWatcher& operator=(const PolicyWatcher&) = delete;

 private:
  void run();
  // One look at the directory: applies it when its content differs from the last look.
  void poll();

  PolicyWatchOptions options_;
  std::function<void(const std::string&)> log_;
  std::string lastContent_;  // digest of what was last applied or refused
  std::string settling_;     // digest of what the last look saw, applied when seen again
  std::string lastError_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace driftwatch::aggregator

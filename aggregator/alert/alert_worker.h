#pragma once
// The delivery worker of `serve`: a thread with its own connection to fleet.db that runs the
// dispatcher (alert_dispatcher.h) whenever it is woken (the store thread committed alerts), when
// the dispatcher's next deadline comes (settle times, group windows, retries) and at least
// every second, for what other processes commit (policy apply, alerts ack and retry). A
// restart resumes from fleet.db: nothing is kept only in memory.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "aggregator/alert/alert_config.h"
#include "aggregator/alert/alert_dispatcher.h"
#include "aggregator/alert/alert_sender.h"
#include "aggregator/store/fleet_store.h"

namespace driftwatch::aggregator {

class AlertWorker {
 public:
  // Opens its connection first, so a fleet store it cannot open, or a receiver's CA file it
  // cannot read, is an error here.
  static Result<std::unique_ptr<AlertWorker>> start(const std::string& dataDir, AlertsConfig config,
                                                    std::function<void(const std::string&)> log);
  ~AlertWorker();  // stops the thread after the send under way, if any
  AlertWorker(const AlertWorker&) = delete;
  AlertWorker& operator=(const AlertWorker&) = delete;

  // From any thread.
  void wake();

 private:
  AlertWorker(FleetStore store, AlertsConfig config, std::function<void(const std::string&)> log);
  void run();

  FleetStore store_;
  AlertsConfig config_;
  std::function<void(const std::string&)> log_;
  ReceiverSender sender_;
  AlertDispatcher dispatcher_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false;     // guarded by mutex_
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace driftwatch::aggregator

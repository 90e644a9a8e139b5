#pragma once
// The dispatcher: one round of alert delivery at a given time, on its own connection to
// fleet.db (the delivery worker's thread; tests call step() with their own clock).
//
// 0. Waivers that expired reopen their drift; hosts gone silent raise host_silent alerts.
// 1. Pending alerts whose settle time ended fire, unless a maintenance window holds their host:
//    then they wait for the window's end (and fire then if their drift is still open). Those below
//    alerts.min_severity are recorded as firing and never notified. The others of one host are
//    grouped: once the first of them has waited alerts.group_wait, one firing notification lists
//    every one then due.
// 2. Resolved alerts that were notified are announced the same way (one resolved notification
//    per host and window).
// 3. Each notification gets one delivery per receiver, with a stable idempotency key, in the
//    same transaction as the alert changes.
// 4. Due deliveries are sent (outside any transaction: a receiver can be slow) and each result
//    is committed at once: delivered; retried after alerts.retry_base * 2^(attempts-1), at most
//    alerts.retry_max; dead after alerts.max_attempts failures or a permanent refusal. A
//    receiver's max_per_minute postpones deliveries, never drops them. A crash between a send
//    and its commit sends it again with the same key.

#include <cstdint>
#include <functional>
#include <string>

#include "aggregator/alert/alert_config.h"
#include "aggregator/alert/alert_sender.h"
#include "aggregator/alert/alert_store.h"
#include "aggregator/store/fleet_store.h"

namespace driftwatch::aggregator {

// The delay before retry number `attempts` + 1 (attempts >= 1).
int64_t retryDelayMs(const AlertsConfig& config, int64_t attempts);

class AlertDispatcher {
 public:
  // `log`: a line per failed or dead delivery (receiver names only, no addresses).
  AlertDispatcher(const FleetStore& store, const AlertsConfig& config, AlertSender& sender,
                  std::function<void(const std::string&)> log = {})
      : store_(store),
        alerts_(store.database()),
        config_(config),
        sender_(sender),
        log_(std::move(log)) {}

  // One round at `now` (ms); returns when the next round is due (ms, may be in the past when
  // work is left).
  Result<int64_t> step(int64_t now);

 private:
  // Before step 1, in its own transaction when there is anything to do: waivers that expired
  // open their drift again (alerting at once), hosts that stopped reporting for
  // alerts.host_silent_after raise a host_silent alert (resolved when they report again).
  Status housekeeping(int64_t now, int64_t& next);
  Status checkSilence(int64_t now);
  // Steps 1 to 3, in one transaction.
  Status queueNotifications(int64_t now, int64_t& next);
  Status notify(std::string_view event, const std::string& host,
                const std::vector<AlertRecord>& alerts, int64_t now);
  // Step 4.
  Status deliver(int64_t now, int64_t& next);
  Status attempt(const DeliveryRecord& d, int64_t now);

  const FleetStore& store_;
  AlertStore alerts_;
  const AlertsConfig& config_;
  AlertSender& sender_;
  std::function<void(const std::string&)> log_;
  int64_t nextSilenceCheck_ = 0;
};

}  // namespace driftwatch::aggregator

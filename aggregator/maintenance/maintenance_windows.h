#pragma once
// Maintenance windows: declared periods (hosts by label, start, end, reason) during which drift
// is recorded as usual but its alerts are held; what is still open when a window closes alerts
// then. Kept in fleet.db (table maintenance_windows); this module is their data access and the
// one question the alert queue asks: is this host in a window now, and until when?

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

struct MaintenanceWindow {
  int64_t id = 0;
  Labels selector;       // the hosts that carry all of these labels; empty: every host
  int64_t startsAt = 0;  // ms, aggregator clock
  int64_t endsAt = 0;    // ms; moved to the time it was ended early
  std::string reason;
  std::string createdBy;
  int64_t createdAt = 0;  // ms
};

class MaintenanceWindows {
 public:
  explicit MaintenanceWindows(const FleetStore& store) : store_(store) {}

  // Declares a window; the error names what is wrong (no reason, an end before its start, an
  // end in the past). Returns it with its id.
  Result<MaintenanceWindow> add(MaintenanceWindow window, int64_t now) const;
  // Ends a window now (or removes one that has not started). False when there is no such
  // window or it is over already.
  Result<bool> end(int64_t id, int64_t now) const;
  // Windows that have not ended at `now` (current and upcoming), or every one when `all`.
  Result<std::vector<MaintenanceWindow>> list(int64_t now, bool all) const;

  // The end of the latest window that holds a host with these labels at `now`; nullopt when
  // none does. Only windows already running count: a caller that holds until the returned end
  // asks again then, and a window that started meanwhile holds on from there (so overlapping
  // windows hold until the last of them ends).
  Result<std::optional<int64_t>> heldUntil(const Labels& hostLabels, int64_t now) const;

 private:
  const FleetStore& store_;
};

}  // namespace driftwatch::aggregator

#pragma once
// What people decide about drift items: accept one (the host's actual values become what is
// desired for it, with a reason) or waive one (a recorded exception with a reason and an
// expiry; once expired the item is open again and alerts). Both are changes to the drift
// items in the fleet store, made inside the caller's transaction; the drift engine keeps the
// decision while the host still shows what was decided on (drift_engine.h).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

struct DriftDecision {
  std::string host;              // host id
  std::string resource;          // "file:/etc/motd"
  std::string reason;            // required
  std::string by;                // who decided
  int64_t at = 0;                // ms
  std::optional<int64_t> until;  // waive: when the waiver expires, ms
};

// "/etc/motd" is the file; anything else must already be KIND:NAME ("sysctl:net.ipv4.ip_forward").
Result<std::string> resourceArgument(const std::string& text);

// Accepts an open or waived item; returns it as stored. The error says why not (no such item,
// resolved already, no reason).
Result<DriftRecord> acceptDrift(const FleetStore& store, const DriftDecision& decision);
// Waives an open or accepted item until decision.until, which must lie after decision.at.
Result<DriftRecord> waiveDrift(const FleetStore& store, const DriftDecision& decision);
// Opens every waived item whose waiver expired at `now`; returns them as stored now.
Result<std::vector<DriftRecord>> reopenExpiredWaivers(const FleetStore& store, int64_t now);

}  // namespace driftwatch::aggregator

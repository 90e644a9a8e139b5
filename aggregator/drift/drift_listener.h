#pragma once
// What the drift engine tells about the drift items it reconciles, for the modules that act on
// drift (the alert queue). Called on the engine's thread, inside the transaction (or savepoint)
// that changes the item, so a listener's writes commit or roll back with the drift itself: a
// listener must not open transactions of its own, and its failure fails the reconcile.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

class DriftListener {
 public:
  virtual ~DriftListener() = default;
  // A new item, or one back after it resolved. `settle`: the rule's own settle time, if any.
  virtual Status opened(const DriftRecord& item, std::optional<std::chrono::milliseconds> settle,
                        int64_t now) = 0;
  // An open item whose details (attributes, severity, policy) were judged again. `observed`:
  // judged from a later report of the host (a second observation of the same drift), not from
  // a policy change.
  virtual Status stillOpen(const DriftRecord& item, bool observed, int64_t now) = 0;
  virtual Status resolved(const std::string& host, const std::string& resource, int64_t now) = 0;
};

}  // namespace driftwatch::aggregator

#include "aggregator/server/report_gate.h"

namespace driftwatch::aggregator {

Result<ReportGate> ReportGate::open(const std::string& dataDir) {
  auto store = FleetStore::open(dataDir);
  if (!store.ok()) return store.error();
  return ReportGate(std::move(store).value());
}

bool ReportGate::mayReport(std::string_view hostId, std::string_view publicKey) {
  std::lock_guard lock(mutex_);
  auto host = store_.host(hostId);
  return host.ok() && host->has_value() && !(*host)->revokedAt && (*host)->publicKey == publicKey;
}

}  // namespace driftwatch::aggregator

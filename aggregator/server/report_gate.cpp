#include "aggregator/server/report_gate.h"

#include <chrono>

#include "aggregator/api/api_tokens.h"

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

bool ReportGate::mayUpload(std::string_view authorization) {
  if (authorization.empty()) return false;
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::lock_guard lock(mutex_);
  auto token = ApiTokens(store_).find(authorization, now);
  return token.ok() && token->has_value() && (*token)->scope == kScopeWrite;
}

}  // namespace driftwatch::aggregator

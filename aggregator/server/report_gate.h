#pragma once
// Who may send a large report body: an enrolled, unrevoked host presenting its own key; and who
// may send a large policy upload to the admin API: a write token. Asked
// by the network threads after a request's header, before its body is read, so that a revoked
// host (whose certificate still chains to the fleet CA) cannot make the server read 16 MiB;
// the report processor checks the same again, authoritatively, on the store thread. Its own
// read connection to the fleet store, shared under a lock (a lookup by key is microseconds).

#include <mutex>
#include <string>
#include <string_view>

#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

class ReportGate {
 public:
  static Result<ReportGate> open(const std::string& dataDir);
  ReportGate(ReportGate&& other) noexcept : store_(std::move(other.store_)) {}

  // False for an unknown or revoked host, a key other than the enrolled one, or when the
  // store cannot say (the request then gets the small limit, and the processor's answer).
  bool mayReport(std::string_view hostId, std::string_view publicKey);
  // True for "Bearer T" with a known, unexpired API token of the write scope: who may send a
  // policy upload's large body. Reads only (the request itself authenticates it again).
  bool mayUpload(std::string_view authorization);

 private:
  explicit ReportGate(FleetStore store) : store_(std::move(store)) {}
  std::mutex mutex_;
  FleetStore store_;
};

}  // namespace driftwatch::aggregator

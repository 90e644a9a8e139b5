#pragma once
// The admin commands' --server mode: a FleetReader that asks a running aggregator's admin API
// (GET /api/v1/...) over HTTPS with a bearer API token, so the commands print the same text
// and JSON as on the aggregator's host. Used by one thread.

#include <memory>
#include <string>

#include "aggregator/api/fleet_reader.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

struct RemoteOptions {
  std::string server;         // "https://fleet.example.net:8443"
  std::string token;          // the API token itself
  std::string caPem;          // trust this CA (--ca FILE's contents)
  std::string caFingerprint;  // or the CA with this fingerprint ("sha256:...")
                              // neither: the system's trust store
};

// Checks the URL (https only, a host and an optional port, no path) without connecting.
Result<std::unique_ptr<FleetReader>> openRemoteReader(const RemoteOptions& options);

}  // namespace driftwatch::aggregator

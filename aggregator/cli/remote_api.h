#pragma once
// The admin commands' --server mode: a FleetReader that asks a running aggregator's admin API
// (GET /api/v1/...) and a FleetActions that posts to it (POST /api/v1/...), over HTTPS with a
// bearer API token, so the commands print the same text and JSON as on the aggregator's host.
// HTTP errors come back as the error codes the local mechanisms use (404 kNotFound, 409
// kConflict, 400 kInvalidInput, 401 and 403 kPermission). Used by one thread.

#include <memory>
#include <string>

#include "aggregator/api/fleet_actions.h"
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

// Each checks the URL (https only, a host and an optional port, no path) and that there is a
// token, without connecting.
Result<std::unique_ptr<FleetReader>> openRemoteReader(const RemoteOptions& options);
Result<std::unique_ptr<FleetActions>> openRemoteActions(const RemoteOptions& options);

}  // namespace driftwatch::aggregator

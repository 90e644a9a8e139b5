#pragma once
// The aggregator's TLS identity: the fleet CA (which signs agents' client certificates) and the
// server certificate. On first start the aggregator creates both in its data directory (keys
// 0600); when the configured names change it issues a new server certificate from the same CA,
// so enrolled agents keep trusting it. Certificates named in the config are used instead.

#include <string>

#include "aggregator/config/aggregator_config.h"
#include "common/base/result.h"
#include "common/crypto/pki.h"

namespace driftwatch::aggregator {

struct ServerIdentity {
  crypto::KeyAndCert ca;
  crypto::KeyAndCert server;
  std::string caFingerprint;  // "sha256:HEX", what agents pin
  bool created = false;       // the CA was made just now
};

// Loads the identity, creating what is missing when `create` (serve), not when only reading
// (admin commands).
Result<ServerIdentity> loadServerIdentity(const AggregatorConfig& config, bool create);

// The names in the server certificate: the configured ones, the host name, localhost and the
// loopback addresses.
std::vector<std::string> serverNames(const AggregatorConfig& config);

}  // namespace driftwatch::aggregator

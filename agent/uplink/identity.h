#pragma once
// The agent's enrollment with an aggregator, kept in its state directory: the Ed25519 key
// (identity.key, 0600), the client certificate the aggregator issued for it (identity.crt), the
// aggregator's CA that was pinned by fingerprint (aggregator-ca.crt), and what the enrollment
// said (enrollment.json: server, host id, labels, and the aggregator's rules key that signs the
// fleet rules it sends). enrollment.json is written last: an agent
// is enrolled once it exists, never halfway. Safe from any thread (files only).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace driftwatch::agent {

// "https://HOST[:PORT]" with the port 8443 when none is given. IPv6 hosts go in brackets.
struct ServerUrl {
  std::string host;  // without brackets
  std::string port;
  std::string str() const;
};
Result<ServerUrl> parseServerUrl(std::string_view url);

struct AgentIdentity {
  ServerUrl server;
  std::string hostId;
  std::string caFingerprint;  // sha256:HEX, as pinned at enrollment
  std::map<std::string, std::string> labels;
  int64_t enrolledAt = 0;  // unix seconds
  std::string keyPem;
  std::string certPem;
  std::string caPem;
  // The aggregator's Ed25519 key for rule bundles, 32 bytes, learnt over the pinned channel at
  // enrollment. Empty for an enrollment made before aggregators sent one: such an agent keeps to
  // its local policy until it is enrolled again.
  std::string rulesPublicKey;
};

inline constexpr std::string_view kEnrollmentFile = "enrollment.json";

// nullopt when the agent is not enrolled; an error when the files are there but broken.
Result<std::optional<AgentIdentity>> loadIdentity(const std::string& stateDir);
Status saveIdentity(const std::string& stateDir, const AgentIdentity& identity);

}  // namespace driftwatch::agent

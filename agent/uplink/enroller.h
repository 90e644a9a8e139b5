#pragma once
// `driftwatch-agent enroll`: makes the agent's Ed25519 key, proves it holds it, spends the
// admin's token at the aggregator (whose CA is pinned by fingerprint: no trust on first use),
// checks what comes back (the CA is the pinned one; the certificate is for this key and host id
// and signed by that CA), and keeps the result in the state directory. The next report starts
// a new chain with a full snapshot.

#include <string>

#include "agent/uplink/identity.h"
#include "common/base/result.h"

namespace driftwatch::agent {

struct EnrollOptions {
  std::string server;  // https://HOST[:PORT]
  std::string token;
  std::string caFingerprint;  // sha256:HEX
  std::string stateDir;
  std::string hostname;  // reported to the aggregator
  std::string agentVersion;
  bool force = false;  // replace an existing enrollment
};

Result<AgentIdentity> enroll(const EnrollOptions& options);

// "sha256:" and 64 hex digits, any case, colons allowed between bytes; normalized to lowercase
// without colons.
Result<std::string> normalizeFingerprint(std::string_view text);

}  // namespace driftwatch::agent

#pragma once
// The aggregator's rules key: the Ed25519 key that signs every rule bundle it hands to agents
// (aggregator/rules). Kept in the data directory (rules.key, 0600) and created on the first
// `serve`, like the CA. Its public half reaches an agent only inside the enrollment answer, over
// the channel the agent pinned by CA fingerprint, so an attacker on the network can neither
// swap it nor sign bundles of their own. Safe from any thread (files only).

#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/crypto/signing.h"

namespace driftwatch::aggregator {

inline constexpr std::string_view kRulesKeyFile = "rules.key";

// Loads DATA_DIR/rules.key, creating it first when it is missing and `create` is set.
Result<crypto::Ed25519Key> loadRulesKey(const std::string& dataDir, bool create);

}  // namespace driftwatch::aggregator

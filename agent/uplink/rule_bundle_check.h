#pragma once
// The agent's side of fleet rules: checks a rule bundle before a byte of it is used, and keeps the
// last verified one in the state directory (fleet-rules.bundle, the signed bytes as they came,
// written atomically) so that a restart without the aggregator uses the last verified rules.
//
// In order, cheapest and least trusting first: the agent holds the aggregator's rules key (from
// its enrollment); the Ed25519 signature over the exact bundle bytes verifies with it; only then
// are the bytes parsed, and the bundle must be for this host and must not go back in revision
// (an older bundle replayed by someone on the path, or an aggregator restored from an old copy).
// Pure functions and files; safe from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "common/wire/codec.h"

namespace driftwatch::agent {

inline constexpr std::string_view kFleetRulesFile = "fleet-rules.bundle";

// A bundle as signed, and what it says once checked.
struct VerifiedBundle {
  std::string bytes;  // the serialized RuleBundle, as signed
  std::string signature;
  wire::RuleBundle bundle;
};

// `heldRevision`: the revision in force (0: none); a bundle below it is refused.
Result<VerifiedBundle> verifyRuleBundle(std::string bytes, std::string signature,
                                        std::string_view rulesPublicKey, std::string_view hostId,
                                        uint64_t heldRevision);

// Writes the bundle to STATE_DIR/fleet-rules.bundle atomically (a crash leaves the old one).
Status saveFleetRules(const std::string& stateDir, const VerifiedBundle& bundle);
// The stored bundle, verified again with the key and host id; nullopt when there is none.
Result<std::optional<VerifiedBundle>> loadFleetRules(const std::string& stateDir,
                                                     std::string_view rulesPublicKey,
                                                     std::string_view hostId);
Status removeFleetRules(const std::string& stateDir);

}  // namespace driftwatch::agent

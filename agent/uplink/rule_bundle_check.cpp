#include "agent/uplink/rule_bundle_check.h"

#include <cerrno>

#include <unistd.h>

#include "common/base/escape.h"
#include "common/base/file_io.h"
#include "common/crypto/signing.h"

namespace driftwatch::agent {
namespace {

std::string pathIn(const std::string& stateDir) {
  return stateDir + "/" + std::string(kFleetRulesFile);
}

Error refused(std::string why) {
  return makeError(ErrorCode::kInvalidInput, std::move(why), "rule bundle");
}

}  // namespace

Result<VerifiedBundle> verifyRuleBundle(std::string bytes, std::string signature,
                                        std::string_view rulesPublicKey, std::string_view hostId,
                                        uint64_t heldRevision) {
  if (rulesPublicKey.size() != 32) {
    return refused(
        "this enrollment has no rules key (it predates fleet rules): enroll the agent again "
        "with --force to receive fleet rules");
  }
  if (!crypto::verifyEd25519(rulesPublicKey, bytes, signature))
    return refused("the signature does not verify with the aggregator's rules key");
  auto bundle = wire::decodeRuleBundle(bytes);
  if (!bundle.ok()) return refused("malformed: " + bundle.error().describe());
  if (bundle->hostId != hostId) {
    return refused("the bundle is for host " + displaySafe(bundle->hostId) + ", not " +
                   std::string(hostId));
  }
  if (bundle->revision < heldRevision) {
    return refused("revision " + std::to_string(bundle->revision) + " is older than revision " +
                   std::to_string(heldRevision) +
                   " in force (a replay, or an aggregator "
                   "restored from an older copy)");
  }
  return VerifiedBundle{std::move(bytes), std::move(signature), std::move(bundle).value()};
}

Status saveFleetRules(const std::string& stateDir, const VerifiedBundle& b) {
  wire::RulesResponse stored;
  stored.status = wire::RulesStatus::kBundle;
  stored.bundle = b.bytes;
  stored.signature = b.signature;
  stored.revision = b.bundle.revision;
  return writeFileAtomically(pathIn(stateDir), wire::encode(stored), 0600);
}

Result<std::optional<VerifiedBundle>> loadFleetRules(const std::string& stateDir,
                                                     std::string_view rulesPublicKey,
                                                     std::string_view hostId) {
  const std::string path = pathIn(stateDir);
  auto bytes = readRegularFile(path, wire::kMaxRulesReplyBytes, "fleet rules file");
  if (!bytes.ok()) {
    if (bytes.error().code == ErrorCode::kNotFound) return std::optional<VerifiedBundle>();
    return bytes.error();
  }
  auto stored = wire::decodeRulesResponse(*bytes);
  if (!stored.ok() || stored->status != wire::RulesStatus::kBundle)
    return makeError(ErrorCode::kInvalidInput, "not a stored rule bundle", path);
  // Verified again: the file sits on disk, and the key or host may have changed since.
  auto verified = verifyRuleBundle(std::move(stored->bundle), std::move(stored->signature),
                                   rulesPublicKey, hostId, 0);
  if (!verified.ok()) return makeError(verified.error().code, verified.error().message, path);
  return std::optional<VerifiedBundle>(std::move(verified).value());
}

Status removeFleetRules(const std::string& stateDir) {
  const std::string path = pathIn(stateDir);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return osError(errno, "cannot remove the fleet rules", path);
  return {};
}

}  // namespace driftwatch::agent

#include "aggregator/pki/rules_key.h"

#include <unistd.h>

#include "common/base/file_io.h"

namespace driftwatch::aggregator {

Result<crypto::Ed25519Key> loadRulesKey(const std::string& dataDir, bool create) {
  const std::string path = dataDir + "/" + std::string(kRulesKeyFile);
  if (::access(path.c_str(), F_OK) != 0) {
    if (!create) {
      return makeError(ErrorCode::kNotFound,
                       "no rules key yet: start `driftwatch-aggregator serve` once to create it",
                       path);
    }
    auto key = crypto::Ed25519Key::generate();
    if (!key.ok()) return key.error();
    if (auto s = writeFileAtomically(path, key->privatePem(), 0600); !s.ok()) return s.error();
  }
  auto pem = readRegularFile(path, 1 << 16, "rules key");
  if (!pem.ok()) return pem.error();
  return crypto::Ed25519Key::fromPem(*pem, path);
}

}  // namespace driftwatch::aggregator

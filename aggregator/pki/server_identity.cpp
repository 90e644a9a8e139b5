#include "aggregator/pki/server_identity.h"

#include <algorithm>

#include <unistd.h>

#include "common/base/file_io.h"

namespace driftwatch::aggregator {
namespace {

constexpr size_t kMaxPem = 1 << 20;
constexpr int kCaDays = 3650;
constexpr int kServerDays = 825;

Result<crypto::KeyAndCert> readPair(const std::string& keyPath, const std::string& certPath) {
  auto key = readRegularFile(keyPath, kMaxPem, "key file");
  if (!key.ok()) return key.error();
  auto cert = readRegularFile(certPath, kMaxPem, "certificate file");
  if (!cert.ok()) return cert.error();
  return crypto::KeyAndCert{std::move(key).value(), std::move(cert).value()};
}

Status writePair(const crypto::KeyAndCert& pair, const std::string& keyPath,
                 const std::string& certPath) {
  if (auto s = writeFileAtomically(keyPath, pair.keyPem, 0600); !s.ok()) return s;
  return writeFileAtomically(certPath, pair.certPem, 0644);
}

bool exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

}  // namespace

std::vector<std::string> serverNames(const AggregatorConfig& config) {
  std::vector<std::string> names = config.serverNames;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') names.emplace_back(host);
  for (const char* n : {"localhost", "127.0.0.1", "::1"})
    names.emplace_back(n);
  std::vector<std::string> unique;
  for (auto& n : names) {
    if (std::find(unique.begin(), unique.end(), n) == unique.end()) unique.push_back(n);
  }
  return unique;
}

Result<ServerIdentity> loadServerIdentity(const AggregatorConfig& config, bool create) {
  ServerIdentity id;
  if (!config.caCert.empty()) {
    auto ca = readPair(config.caKey, config.caCert);
    if (!ca.ok()) return ca.error();
    auto server = readPair(config.serverKey, config.serverCert);
    if (!server.ok()) return server.error();
    id.ca = std::move(ca).value();
    id.server = std::move(server).value();
  } else {
    const std::string dir = config.dataDir;
    const std::string caKey = dir + "/ca.key", caCert = dir + "/ca.crt";
    const std::string serverKey = dir + "/server.key", serverCert = dir + "/server.crt";
    if (!exists(caCert)) {
      if (!create) {
        return makeError(ErrorCode::kNotFound,
                         "no CA yet: start `driftwatch-aggregator serve` once to create it",
                         caCert);
      }
      auto ca = crypto::createCa("driftwatch fleet CA", kCaDays);
      if (!ca.ok()) return ca.error();
      if (auto s = writePair(*ca, caKey, caCert); !s.ok()) return s.error();
      id.created = true;
    }
    auto ca = readPair(caKey, caCert);
    if (!ca.ok()) return ca.error();
    id.ca = std::move(ca).value();
    if (create) {
      const auto names = serverNames(config);
      bool reissue = !exists(serverCert) || id.created;
      if (!reissue) {
        auto current = readPair(serverKey, serverCert);
        if (!current.ok()) return current.error();
        for (const auto& n : names) {
          // A certificate that misses a name, is expiring or is from another CA is replaced.
          if (!crypto::verifyServerCert(current->certPem, id.ca.certPem, n).ok()) reissue = true;
        }
        auto info = crypto::inspectCert(current->certPem);
        const int64_t now = static_cast<int64_t>(::time(nullptr));
        if (!info.ok() || info->notAfter - now < 30 * 86400) reissue = true;
      }
      if (reissue) {
        auto server = crypto::issueServerCert(id.ca, names, kServerDays);
        if (!server.ok()) return server.error();
        if (auto s = writePair(*server, serverKey, serverCert); !s.ok()) return s.error();
      }
      auto server = readPair(serverKey, serverCert);
      if (!server.ok()) return server.error();
      id.server = std::move(server).value();
    }
  }
  auto fp = crypto::certFingerprint(id.ca.certPem);
  if (!fp.ok()) return makeError(fp.error().code, fp.error().message, "the CA certificate");
  id.caFingerprint = *fp;
  return id;
}

}  // namespace driftwatch::aggregator

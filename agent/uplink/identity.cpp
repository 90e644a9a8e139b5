#include "agent/uplink/identity.h"

#include <cerrno>
#include <optional>

#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "common/base/file_io.h"
#include "common/base/strings.h"

namespace driftwatch::agent {
namespace {

using json = nlohmann::json;

constexpr std::string_view kKeyFile = "identity.key";
constexpr std::string_view kCertFile = "identity.crt";
constexpr std::string_view kCaFile = "aggregator-ca.crt";
constexpr size_t kMaxFile = 1 << 20;

std::string in(const std::string& dir, std::string_view name) {
  return dir + "/" + std::string(name);
}

std::string hexOf(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::optional<std::string> bytesOfHex(std::string_view hex) {
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

}  // namespace

std::string ServerUrl::str() const {
  const bool v6 = host.find(':') != std::string::npos;
  return "https://" + (v6 ? "[" + host + "]" : host) + ":" + port;
}

Result<ServerUrl> parseServerUrl(std::string_view url) {
  const auto bad = [&](std::string_view why) {
    return makeError(ErrorCode::kInvalidInput,
                     std::string(why) + " (expected https://HOST[:PORT], like https://fleet:8443)",
                     "--server " + std::string(url));
  };
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return bad(url.find("://") != std::string_view::npos
                   ? "agents report over HTTPS only"
                   : "the server must be a URL starting with https://");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return bad("the URL must not have a path");
  ServerUrl out;
  std::string_view portText;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in the host");
    out.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("unexpected text after the host");
      portText = rest.substr(1);
    }
  } else {
    const size_t colon = rest.rfind(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) portText = rest.substr(colon + 1);
  }
  if (out.host.empty()) return bad("the host is missing");
  unsigned long long port = 8443;
  if (!portText.empty() && (!parseUnsigned(portText, port) || port == 0 || port > 65535))
    return bad("the port must be a number from 1 to 65535");
  out.port = std::to_string(port);
  return out;
}

Result<std::optional<AgentIdentity>> loadIdentity(const std::string& stateDir) {
  const std::string enrollmentPath = in(stateDir, kEnrollmentFile);
  auto text = readRegularFile(enrollmentPath, kMaxFile, "enrollment file");
  if (!text.ok()) {
    if (text.error().code == ErrorCode::kNotFound) return std::optional<AgentIdentity>();
    return text.error();
  }
  AgentIdentity id;
  try {
    const json j = json::parse(*text);
    auto server = parseServerUrl(j.at("server").get<std::string>());
    if (!server.ok())
      return makeError(ErrorCode::kInvalidInput, server.error().message, enrollmentPath);
    id.server = *server;
    id.hostId = j.at("host_id").get<std::string>();
    id.caFingerprint = j.at("ca_fingerprint").get<std::string>();
    id.enrolledAt = j.at("enrolled_at").get<int64_t>();
    for (const auto& [k, v] : j.at("labels").items())
      id.labels[k] = v.get<std::string>();
    if (j.contains("rules_public_key")) {
      auto key = bytesOfHex(j.at("rules_public_key").get<std::string>());
      if (!key || key->size() != 32) {
        return makeError(ErrorCode::kInvalidInput,
                         "rules_public_key is not 32 bytes in hex (enroll again with --force)",
                         enrollmentPath);
      }
      id.rulesPublicKey = std::move(*key);
    }
  } catch (const json::exception& e) {
    return makeError(
        ErrorCode::kInvalidInput,
        std::string("broken enrollment record (enroll again with --force): ") + e.what(),
        enrollmentPath);
  }
  for (auto [name, field] : {std::pair{kKeyFile, &id.keyPem}, std::pair{kCertFile, &id.certPem},
                             std::pair{kCaFile, &id.caPem}}) {
    auto content = readRegularFile(in(stateDir, name), kMaxFile, "enrollment file");
    if (!content.ok()) return content.error();
    *field = std::move(content).value();
  }
  return std::optional<AgentIdentity>(std::move(id));
}

Status saveIdentity(const std::string& stateDir, const AgentIdentity& id) {
  if (::mkdir(stateDir.c_str(), 0700) != 0 && errno != EEXIST)
    return osError(errno, "cannot create the state directory", stateDir);
  // The old enrollment goes first: a crash in between leaves the agent not enrolled, never
  // enrolled with a key that does not match its certificate.
  if (::unlink(in(stateDir, kEnrollmentFile).c_str()) != 0 && errno != ENOENT)
    return osError(errno, "cannot replace the enrollment", in(stateDir, kEnrollmentFile));
  if (auto s = writeFileAtomically(in(stateDir, kKeyFile), id.keyPem, 0600); !s.ok()) return s;
  if (auto s = writeFileAtomically(in(stateDir, kCertFile), id.certPem, 0644); !s.ok()) return s;
  if (auto s = writeFileAtomically(in(stateDir, kCaFile), id.caPem, 0644); !s.ok()) return s;
  json j = {{"server", id.server.str()},
            {"host_id", id.hostId},
            {"ca_fingerprint", id.caFingerprint},
            {"labels", id.labels},
            {"enrolled_at", id.enrolledAt}};
  if (!id.rulesPublicKey.empty()) j["rules_public_key"] = hexOf(id.rulesPublicKey);
  return writeFileAtomically(in(stateDir, kEnrollmentFile), j.dump(2) + "\n", 0644);
}

}  // namespace driftwatch::agent

#include "agent/uplink/enroller.h"

#include <chrono>

#include "agent/transport/https_client.h"
#include "agent/uplink/batch_queue.h"
#include "agent/uplink/rule_bundle_check.h"
#include "common/base/escape.h"
#include "common/base/strings.h"
#include "common/crypto/pki.h"
#include "common/crypto/signing.h"
#include "common/wire/codec.h"

namespace driftwatch::agent {

Result<std::string> normalizeFingerprint(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  const auto bad = makeError(ErrorCode::kInvalidInput,
                             "expected sha256: and 64 hex digits, as `driftwatch-aggregator serve` "
                             "or `driftwatch-aggregator ca fingerprint` prints it",
                             "--ca-fingerprint " + escapeBytes(text));
  if (text.size() < kPrefix.size() || text.substr(0, kPrefix.size()) != kPrefix) return bad;
  std::string hex;
  for (const char c : text.substr(kPrefix.size())) {
    if (c == ':') continue;
    if (c >= '0' && c <= '9') {
      hex += c;
    } else if (c >= 'a' && c <= 'f') {
      hex += c;
    } else if (c >= 'A' && c <= 'F') {
      hex += static_cast<char>(c - 'A' + 'a');
    } else {
      return bad;
    }
  }
  if (hex.size() != 64) return bad;
  return std::string(kPrefix) + hex;
}

Result<AgentIdentity> enroll(const EnrollOptions& o) {
  auto server = parseServerUrl(o.server);
  if (!server.ok()) return server.error();
  auto pin = normalizeFingerprint(o.caFingerprint);
  if (!pin.ok()) return pin.error();
  if (o.token.empty())
    return makeError(ErrorCode::kInvalidInput, "the enrollment token is empty", "--token");
  auto existing = loadIdentity(o.stateDir);
  if (existing.ok() && *existing && !o.force) {
    return makeError(ErrorCode::kConflict,
                     "this agent is enrolled already, as " + (*existing)->hostId + " with " +
                         (*existing)->server.str() +
                         "; pass --force to enroll again (the old identity is discarded)",
                     o.stateDir);
  }

  auto key = crypto::Ed25519Key::generate();
  if (!key.ok()) return key.error();
  wire::EnrollStatement statement;
  statement.token = o.token;
  statement.publicKey = key->publicKey();
  statement.hostname = o.hostname;
  statement.agentVersion = o.agentVersion;
  statement.requestedAt = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  wire::EnrollRequest request;
  request.statement = wire::encode(statement);
  request.signature = key->sign(request.statement);

  HttpsClientOptions client;
  client.host = server->host;
  client.port = server->port;
  client.pinnedCaFingerprint = *pin;
  client.userAgent = "driftwatch-agent/" + o.agentVersion;
  HttpsClient https(client);
  auto reply = https.post("/v1/enroll", wire::encode(request), "application/x-protobuf");
  if (!reply.ok()) return reply.error();
  if (reply->status != 200) {
    const std::string why = displaySafe(trim(std::string_view(reply->body).substr(0, 500)));
    return makeError(ErrorCode::kPermission,
                     "the aggregator refused the enrollment (HTTP " +
                         std::to_string(reply->status) + "): " + why,
                     server->str());
  }
  auto response = wire::decodeEnrollResponse(reply->body);
  if (!response.ok())
    return makeError(ErrorCode::kInvalidInput, response.error().describe(), server->str());

  // What comes back is checked, not trusted: the CA must be the pinned one, and the certificate
  // must be that CA's, for this key and the host id given.
  auto caFingerprint = crypto::certFingerprint(response->caCertPem);
  if (!caFingerprint.ok() || *caFingerprint != *pin) {
    return makeError(ErrorCode::kInvalidInput, "the aggregator sent a CA other than the pinned one",
                     server->str());
  }
  auto cert = crypto::inspectCert(response->clientCertPem);
  if (!cert.ok() || cert->publicKeyRaw != key->publicKey() ||
      cert->commonName != response->hostId ||
      !crypto::signedBy(response->clientCertPem, response->caCertPem)) {
    return makeError(ErrorCode::kInvalidInput,
                     "the certificate from the aggregator is not for this agent's key and host id",
                     server->str());
  }

  AgentIdentity id;
  id.server = *server;
  id.hostId = response->hostId;
  id.caFingerprint = *pin;
  id.labels = response->labels;
  id.enrolledAt = statement.requestedAt;
  id.keyPem = key->privatePem();
  id.certPem = response->clientCertPem;
  id.caPem = response->caCertPem;
  // Learnt here, over the channel pinned by fingerprint and nowhere else: whoever holds this key
  // decides what the agent watches.
  id.rulesPublicKey = response->rulesPublicKey;
  // A new identity is a new chain: its first report is a full snapshot.
  auto queue = BatchQueue::open(o.stateDir);
  if (!queue.ok()) return queue.error();
  if (auto s = queue->restartChain(); !s.ok()) return s.error();
  // Rules from a previous enrollment are another aggregator's (or another host's): its
  // revisions say nothing about the new one's.
  if (auto s = removeFleetRules(o.stateDir); !s.ok()) return s.error();
  if (auto s = saveIdentity(o.stateDir, id); !s.ok()) return s.error();
  return id;
}

}  // namespace driftwatch::agent

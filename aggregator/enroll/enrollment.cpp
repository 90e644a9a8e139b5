#include "aggregator/enroll/enrollment.h"

#include <chrono>

#include <openssl/rand.h>

#include "aggregator/enroll/tokens.h"
#include "common/base/escape.h"
#include "common/base/time.h"
#include "common/crypto/signing.h"
#include "common/wire/codec.h"

namespace driftwatch::aggregator {
namespace {

HttpResponse refuse(int status, std::string message) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(message) + "\n"};
}

std::string utc(int64_t seconds) {
  return formatUtc(std::chrono::system_clock::time_point(std::chrono::seconds(seconds)));
}

}  // namespace

std::string makeHostId(std::string_view hostname) {
  std::string base;
  for (const char c : hostname) {
    if (c == '.') break;  // the short name
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const bool ok = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9');
    if (ok) {
      base += lower;
    } else if (!base.empty() && base.back() != '-') {
      base += '-';
    }
    if (base.size() >= 40) break;
  }
  while (!base.empty() && base.back() == '-')
    base.pop_back();
  if (base.empty()) base = "host";
  unsigned char random[3];
  RAND_bytes(random, sizeof random);
  static constexpr char kHex[] = "0123456789abcdef";
  base += '-';
  for (const unsigned char b : random) {
    base += kHex[b >> 4];
    base += kHex[b & 0xf];
  }
  return base;
}

HttpResponse EnrollmentService::handle(const HttpRequest& request) {
  const std::string& peer = request.peer.address;
  auto req = wire::decodeEnrollRequest(request.body);
  if (!req.ok()) {
    audit_.recordUnauthenticated("enroll_refused", peer, "malformed: " + req.error().describe());
    return refuse(400, "malformed enrollment request: " + req.error().describe());
  }
  auto statement = wire::decodeEnrollStatement(req->statement);
  if (!statement.ok()) {
    audit_.recordUnauthenticated("enroll_refused", peer,
                                 "malformed: " + statement.error().describe());
    return refuse(400, "malformed enrollment request: " + statement.error().describe());
  }
  if (!crypto::verifyEd25519(statement->publicKey, req->statement, req->signature)) {
    audit_.recordUnauthenticated("enroll_refused", peer, "the key's signature does not verify");
    return refuse(400, "the enrollment request is not signed by the key it presents");
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::string hash = tokenHash(statement->token);
  auto token = store_.token(hash);
  if (!token.ok()) return refuse(503, "the fleet store is unavailable; retry later");
  if (!*token) {
    audit_.recordUnauthenticated("enroll_refused", peer, "unknown token");
    return refuse(403,
                  "unknown enrollment token: check it, or create one with `driftwatch-aggregator "
                  "token create`");
  }
  const TokenRecord& t = **token;
  if (now >= t.expiresAt) {
    audit_.recordUnauthenticated("enroll_refused", peer,
                                 "token " + t.id + " expired at " + utc(t.expiresAt));
    return refuse(403, "the enrollment token expired at " + utc(t.expiresAt) +
                           ": create a new one with `driftwatch-aggregator token create`");
  }
  if (t.uses >= t.maxUses) {
    audit_.recordUnauthenticated("enroll_refused", peer,
                                 "token " + t.id + " is used up (" + std::to_string(t.uses) +
                                     " of " + std::to_string(t.maxUses) + " uses)");
    return refuse(403, "the enrollment token is used up (" + std::to_string(t.maxUses) +
                           (t.maxUses == 1 ? " use" : " uses") +
                           "): create a new one with `driftwatch-aggregator token create`");
  }
  auto known = store_.hostWithKeyExists(statement->publicKey);
  if (!known.ok()) return refuse(503, "the fleet store is unavailable; retry later");
  if (*known) {
    audit_.recordUnauthenticated("enroll_refused", peer, "the key is enrolled already");
    return refuse(409, "this agent key is enrolled already");
  }

  HostRecord host;
  host.id = makeHostId(statement->hostname);
  // Cut the raw bytes, then escape: a cut through a multi-byte character becomes an escape,
  // never invalid UTF-8 in the store.
  host.name = displaySafe(std::string_view(statement->hostname).substr(0, 253));
  host.labels = t.labels;
  host.publicKey = statement->publicKey;
  host.enrolledAt = now;
  host.agentVersion = displaySafe(std::string_view(statement->agentVersion).substr(0, 64));
  auto cert = crypto::issueClientCert(ca_, host.publicKey, host.id, certDays_);
  if (!cert.ok()) return refuse(500, "cannot issue a certificate: " + cert.error().describe());
  auto fingerprint = crypto::certFingerprint(*cert);
  if (!fingerprint.ok()) return refuse(500, "cannot issue a certificate");
  host.certFingerprint = *fingerprint;

  auto tx = store_.begin();
  if (!tx.ok()) return refuse(503, "the fleet store is unavailable; retry later");
  if (auto s = store_.countTokenUse(hash); !s.ok()) return refuse(503, "the fleet store failed");
  if (auto s = store_.addHost(host); !s.ok()) return refuse(503, "the fleet store failed");
  if (auto s = tx->commit(); !s.ok()) return refuse(503, "the fleet store failed");
  audit_.record(
      "host_enrolled", host.id, peer,
      "hostname " + host.name + ", token " + t.id + ", labels " + labelsToJson(host.labels));

  wire::EnrollResponse response;
  response.hostId = host.id;
  response.clientCertPem = *cert;
  response.caCertPem = ca_.certPem;
  response.labels = host.labels;
  response.rulesPublicKey = rulesPublicKey_;
  return HttpResponse{200, kProtobufType, wire::encode(response)};
}

}  // namespace driftwatch::aggregator

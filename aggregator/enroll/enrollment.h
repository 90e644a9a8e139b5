#pragma once
// Enrollment (POST /v1/enroll, server-authenticated TLS only): a new agent proves it holds the
// Ed25519 key it presents (the request is signed with it) and spends a token; it gets a host id,
// the token's labels and a client certificate for that key, signed by the fleet CA. Refusals
// (unknown, expired or used-up token, a key already enrolled, a malformed request) say why, to
// the agent and in the audit trail, and never reveal whether another token exists. The answer
// also carries the public half of the rules key (pki/rules_key.h): the pinned channel is the
// one way an agent learns which key signs its rule bundles. Runs on the store thread.

#include "aggregator/audit/audit_log.h"
#include "aggregator/http/messages.h"
#include "aggregator/store/fleet_store.h"
#include "common/crypto/pki.h"

namespace driftwatch::aggregator {

class EnrollmentService {
 public:
  // `rulesPublicKey`: the 32-byte public key of the rules key.
  EnrollmentService(FleetStore& store, AuditLog& audit, crypto::KeyAndCert ca, int certDays,
                    std::string rulesPublicKey)
      : store_(store),
        audit_(audit),
        ca_(std::move(ca)),
        certDays_(certDays),
        rulesPublicKey_(std::move(rulesPublicKey)) {}

  HttpResponse handle(const HttpRequest& request);

 private:
  FleetStore& store_;
  AuditLog& audit_;
  crypto::KeyAndCert ca_;
  int certDays_;
  std::string rulesPublicKey_;
};

// A host id from the hostname the agent reported: "web-01-3fa2c1" (lowercase letters, digits
// and dashes, with a random suffix so that two hosts of one name stay apart).
std::string makeHostId(std::string_view hostname);

}  // namespace driftwatch::aggregator

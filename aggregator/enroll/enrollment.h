#pragma once
// Enrollment (POST /v1/enroll, server-authenticated TLS only): a new agent proves it holds the
// Ed25519 key it presents (the request is signed with it) and spends a token; it gets a host id,
// the token's labels and a client certificate for that key, signed by the fleet CA. Refusals
// (unknown, expired or used-up token, a key already enrolled, a malformed request) say why, to
// the agent and in the audit trail, and never reveal whether another token exists. Runs on the
// store thread.

#include "aggregator/audit/audit_log.h"
#include "aggregator/http/messages.h"
#include "aggregator/store/fleet_store.h"
#include "common/crypto/pki.h"

namespace driftwatch::aggregator {

class EnrollmentService {
 public:
  EnrollmentService(FleetStore& store, AuditLog& audit, crypto::KeyAndCert ca, int certDays)
      : store_(store), audit_(audit), ca_(std::move(ca)), certDays_(certDays) {}

  HttpResponse handle(const HttpRequest& request);

 private:
  FleetStore& store_;
  AuditLog& audit_;
  crypto::KeyAndCert ca_;
  int certDays_;
};

// A host id from the hostname the agent reported: "web-01-3fa2c1" (lowercase letters, digits
// and dashes, with a random suffix so that two hosts of one name stay apart).
std::string makeHostId(std::string_view hostname);

}  // namespace driftwatch::aggregator

#pragma once
// Fleet rules for agents (POST /v1/rules, mutual TLS): checks the caller like the report
// processor does (an enrolled, unrevoked host presenting its enrolled key, asking for its own
// host id), then answers UNCHANGED when the revision the agent holds is current, or the host's
// rule bundle (rule_bundle.h) signed with the rules key. Refusals are text, audited. Runs on the
// store thread.

#include "aggregator/audit/audit_log.h"
#include "aggregator/drift/drift_engine.h"
#include "aggregator/http/messages.h"
#include "aggregator/store/fleet_store.h"
#include "common/crypto/signing.h"

namespace driftwatch::aggregator {

class RulesService {
 public:
  RulesService(FleetStore& store, AuditLog& audit, crypto::Ed25519Key key)
      : store_(store), audit_(audit), key_(std::move(key)) {}

  HttpResponse handle(const HttpRequest& request);

 private:
  FleetStore& store_;
  AuditLog& audit_;
  crypto::Ed25519Key key_;
  DesiredState desired_;  // parsed policies, re-read only when a new version is stored
};

}  // namespace driftwatch::aggregator

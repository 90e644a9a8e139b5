#pragma once
// Fleet rules for agents (POST /v1/rules, mutual TLS): checks the caller like the report
// processor does (an enrolled, unrevoked host presenting its enrolled key, asking for its own
// host id), then answers UNCHANGED when the revision the agent holds is current, or the host's
// rule bundle (rule_bundle.h) signed with the rules key. Refusals are text, audited. Runs on the
// store thread.
//
// The revision an agent says it holds is recorded on its host; when it reaches the newest, the
// host is judged in full (DriftEngine::onRulesCaughtUp), in one transaction, so that what the
// agent did not observe before is judged now that it does.

#include <functional>

#include "aggregator/audit/audit_log.h"
#include "aggregator/drift/drift_engine.h"
#include "aggregator/http/messages.h"
#include "aggregator/store/fleet_store.h"
#include "common/crypto/signing.h"

namespace driftwatch::aggregator {

class RulesService {
 public:
  // `drift`: told of the drift a catch-up opens and resolves (the alert queue); `committed`:
  // called after such a judgement committed.
  RulesService(FleetStore& store, AuditLog& audit, crypto::Ed25519Key key,
               DriftListener* drift = nullptr, std::function<void()> committed = {})
      : store_(store),
        audit_(audit),
        key_(std::move(key)),
        drift_(store, drift),
        committed_(std::move(committed)) {}

  HttpResponse handle(const HttpRequest& request);

 private:
  // Records what the agent holds; judges the host when that is the newest revision.
  Status recordHeld(const HostRecord& host, uint64_t held, uint64_t newest);

  FleetStore& store_;
  AuditLog& audit_;
  crypto::Ed25519Key key_;
  DriftEngine drift_;  // its parsed policies are re-read only when a new version is stored
  std::function<void()> committed_;
};

}  // namespace driftwatch::aggregator

#pragma once
// Checks and applies one report (POST /v1/report) against the fleet store. In order, cheapest
// and least trusting first: the mutual-TLS identity must be an enrolled, unrevoked host whose
// registered key is in its certificate; the signature over the exact batch bytes must verify
// with that key before the batch is parsed at all; the batch must be for that host; and its
// sequence number and previous digest must continue the host's chain.
//
// - The next link: applied in one transaction (resources, history, coverage, the batch bytes
//   and signature, the chain head), then ACCEPTED. The state digest after it must equal the
//   agent's, or nothing is applied and the agent is asked for a resync.
// - A batch already stored (same digest): ACCEPTED again without applying it; audited.
// - A gap, a fork or a broken previous digest: RESYNC from the stored chain head; audited.
// - Anything else (no or unknown certificate, revoked host, bad signature, another host's
//   batch, a malformed message): REFUSED, nothing stored, audited.
//
// Reports that arrive together are handled as a group (handleMany): one transaction, one disk
// flush, with each report in its own savepoint so that one report's refusal or resync undoes
// only its own changes. Nothing is acknowledged before the group's commit returned; if the
// commit fails, every report of the group is answered 503 and sent again.
//
// Each accepted batch is judged for drift inside its own savepoint (see drift_engine.h): the
// resources a delta batch touched, or everything the host's policies cover after a snapshot.
// A failure to judge is a store failure: the report is answered 503 and sent again.
//
// Runs on the store thread.

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "aggregator/audit/audit_log.h"
#include "aggregator/drift/drift_engine.h"
#include "aggregator/http/messages.h"
#include "aggregator/store/fleet_store.h"

namespace driftwatch::aggregator {

class ReportProcessor {
 public:
  // `drift`: told of the drift items reports open, keep open and resolve (the alert queue);
  // `committed`: called after each group's transaction committed.
  ReportProcessor(FleetStore& store, AuditLog& audit, DriftListener* drift = nullptr,
                  std::function<void()> committed = {})
      : store_(store), audit_(audit), drift_(store, drift), committed_(std::move(committed)) {}

  HttpResponse handle(const HttpRequest& request);
  // The answers to `requests`, in order, committed together.
  std::vector<HttpResponse> handleMany(std::span<const HttpRequest* const> requests);

 private:
  // One report inside the group's transaction.
  HttpResponse process(const HttpRequest& request);

  FleetStore& store_;
  AuditLog& audit_;
  DriftEngine drift_;
  std::function<void()> committed_;
};

}  // namespace driftwatch::aggregator

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
// Runs on the store thread.

#include <cstdint>

#include "aggregator/audit/audit_log.h"
#include "aggregator/http/messages.h"
#include "aggregator/store/fleet_store.h"

namespace driftwatch::aggregator {

class ReportProcessor {
 public:
  ReportProcessor(FleetStore& store, AuditLog& audit) : store_(store), audit_(audit) {}

  HttpResponse handle(const HttpRequest& request);

 private:
  FleetStore& store_;
  AuditLog& audit_;
};

}  // namespace driftwatch::aggregator

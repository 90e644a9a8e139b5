#pragma once
// The aggregator's endpoints: routes requests from the HTTPS server to the enrollment service
// and the report processor, sizes what each endpoint may receive, and audits refused
// connections. Runs on the store thread, but for bodyLimit (network threads).
//
//   POST /v1/enroll   server-authenticated TLS; an EnrollRequest of at most 64 KiB
//   POST /v1/report   mutual TLS; a SignedBatch of at most 16 MiB
//   POST /v1/rules    mutual TLS; a RulesRequest of at most 64 KiB
//   GET  /healthz     "ok" while the fleet store answers
//   GET  /api/v1/..., /metrics   the admin API (aggregator/api/admin_api.h), when given one

#include "aggregator/api/admin_api.h"
#include "aggregator/audit/audit_log.h"
#include "aggregator/enroll/enrollment.h"
#include "aggregator/http/https_server.h"
#include "aggregator/report/report_processor.h"
#include "aggregator/rules/rules_service.h"
#include "aggregator/server/report_gate.h"

namespace driftwatch::aggregator {

class FleetApi : public RequestHandler {
 public:
  // `gate`: who may send a large report (without one, any client certificate of the fleet CA)
  // or a policy upload (without one, nobody).
  // `admin`: the admin API; without one, its paths are not found.
  FleetApi(FleetStore& store, AuditLog& audit, EnrollmentService& enrollment,
           ReportProcessor& reports, RulesService& rules, ReportGate* gate = nullptr,
           AdminApi* admin = nullptr)
      : store_(store),
        audit_(audit),
        enrollment_(enrollment),
        reports_(reports),
        rules_(rules),
        gate_(gate),
        admin_(admin) {}

  size_t bodyLimit(const RequestHead& head, const PeerIdentity& peer) const override;
  HttpResponse handle(const HttpRequest& request) override;
  // Reports that queued up together share one transaction and one disk flush.
  std::vector<HttpResponse> handleBatch(std::span<const HttpRequest* const> requests) override;
  void connectionRefused(const std::string& peer, const std::string& reason) override;

 private:
  FleetStore& store_;
  AuditLog& audit_;
  EnrollmentService& enrollment_;
  ReportProcessor& reports_;
  RulesService& rules_;
  ReportGate* gate_;
  AdminApi* admin_;
};

}  // namespace driftwatch::aggregator

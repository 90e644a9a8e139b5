#include "aggregator/cli/commands.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "aggregator/alert/alert_queue.h"
#include "aggregator/alert/alert_worker.h"
#include "aggregator/audit/audit_log.h"
#include "aggregator/cli/admin_support.h"
#include "aggregator/config/aggregator_config.h"
#include "aggregator/enroll/enrollment.h"
#include "aggregator/enroll/tokens.h"
#include "aggregator/http/https_server.h"
#include "aggregator/pki/rules_key.h"
#include "aggregator/pki/server_identity.h"
#include "aggregator/policy/policy_watch.h"
#include "aggregator/report/report_processor.h"
#include "aggregator/server/fleet_api.h"
#include "aggregator/store/fleet_store.h"
#include "common/base/escape.h"
#include "common/base/time.h"
#include "common/base/units.h"
#include "common/crypto/sha256.h"

namespace driftwatch::aggregator {
namespace {

using json = nlohmann::ordered_json;

// "+1.2s" (the host's clock is ahead), "-0.3s", "-" before its first report.
std::string skewText(const Json& ms) {
  if (!ms.is_number_integer()) return "-";
  const int64_t v = ms.get<int64_t>();
  const int64_t tenths = (v >= 0 ? v + 50 : v - 50) / 100;
  const int64_t mag = tenths < 0 ? -tenths : tenths;
  return std::string(v < 0 ? "-" : "+") + std::to_string(mag / 10) + "." +
         std::to_string(mag % 10) + "s";
}

}  // namespace

int runServe(const ServeArgs& args) {
  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  if (!args.listen.empty()) config->listen = args.listen;
  auto listen = parseListenAddress(config->listen, "--listen " + config->listen);
  if (!listen.ok()) return fail(listen.error());
  auto store = FleetStore::open(config->dataDir);
  if (!store.ok()) return fail(store.error());
  auto identity = loadServerIdentity(*config, true);
  if (!identity.ok()) return fail(identity.error());
  auto audit = AuditLog::open(*store, config->auditLog);
  if (!audit.ok()) return fail(audit.error());
  audit->setEcho(true);
  auto rulesKey = loadRulesKey(config->dataDir, true);
  if (!rulesKey.ok()) return fail(rulesKey.error());
  EnrollmentService enrollment(*store, *audit, identity->ca, config->clientCertDays,
                               rulesKey->publicKey());
  // Alerts: queued by the store thread with the drift that causes them, sent by the worker
  // once that commit is done.
  auto alertWorker = AlertWorker::start(
      config->dataDir, config->alerts,
      [](const std::string& line) { std::cerr << "driftwatch-aggregator: " << line << std::endl; });
  if (!alertWorker.ok()) return fail(alertWorker.error());
  AlertQueue alertQueue(*store, config->alerts.settle);
  ReportProcessor reports(*store, *audit, &alertQueue, [&] {
    if (alertQueue.takeChanged()) (*alertWorker)->wake();
  });
  RulesService rules(*store, *audit, std::move(rulesKey).value(), &alertQueue, [&] {
    if (alertQueue.takeChanged()) (*alertWorker)->wake();
  });
  auto gate = ReportGate::open(config->dataDir);
  if (!gate.ok()) return fail(gate.error());
  const Metrics metrics = fleetMetrics(*store, config->alerts.hostSilentAfter.count());
  AdminApi admin(*store, *audit, metrics,
                 {.flagRules = flagRulesOf(*config),
                  .alertSettle = config->alerts.settle,
                  .alertsChanged = [&] { (*alertWorker)->wake(); }});
  FleetApi api(*store, *audit, enrollment, reports, rules, &*gate, &admin);

  HttpsServerOptions options;
  options.listen = *listen;
  options.tlsMinVersion = config->tlsMinVersion;
  options.certChainPem = identity->server.certPem + identity->ca.certPem;
  options.keyPem = identity->server.keyPem;
  options.clientCaPem = identity->ca.certPem;
  options.threads = config->threads;
  options.maxConnections = config->maxConnections;
  options.maxConnectionsPerAddress = config->maxConnectionsPerAddress;
  options.requestTimeout = config->requestTimeout;
  auto server = HttpsServer::create(options, api);
  if (!server.ok()) return fail(server.error());

  const bool v6 = listen->address.find(':') != std::string::npos;
  const std::string shown = (v6 ? "[" + listen->address + "]" : listen->address) + ":" +
                            std::to_string((*server)->port());
  if (identity->created) std::cout << "created the fleet CA in " << config->dataDir << "\n";
  std::cout << "CA fingerprint: " << identity->caFingerprint << "\n"
            << "listening on https://" << shown << " (TLS " << config->tlsMinVersion
            << (config->tlsMinVersion == "1.3" ? " only" : " and up") << ", data in "
            << config->dataDir << ")" << std::endl;
  std::cout << "alerts: " << config->alerts.receivers.size() << " receiver(s)";
  for (const auto& r : config->alerts.receivers)
    std::cout << " " << r.name << " (" << receiverTypeName(r.type) << ")";
  std::cout << ", settle " << config->alerts.settle.count() << " ms" << std::endl;
  std::optional<PolicyWatcher> policyWatch;
  if (!config->policyDir.empty()) {
    std::cout << "applying the policies in " << config->policyDir << " when they change (every "
              << config->policyPollInterval.count() << " ms)" << std::endl;
    policyWatch.emplace(PolicyWatchOptions{config->policyDir, config->dataDir, config->auditLog,
                                           config->policyPollInterval, config->alerts.settle},
                        [](const std::string& line) {
                          std::cerr << "driftwatch-aggregator: " << line << std::endl;
                        });
  }
  (*server)->run();
  policyWatch.reset();
  alertWorker->reset();
  std::cout << "stopped" << std::endl;
  return kExitOk;
}

int runTokenCreate(const TokenCreateArgs& args) {
  if (auto s = checkFormat(args.common); !s.ok()) return fail(s.error());
  auto labels = parseLabels(args.labels);
  if (!labels.ok()) return fail(labels.error());
  const auto ttl = parseDuration(args.ttl);
  if (!ttl || ttl->count() < 1000)
    return fail("--ttl " + args.ttl + ": not a duration of at least 1s (like 1h, 24h, 7d)");
  if (args.uses < 1) return fail("--uses must be at least 1");
  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  auto token = createToken(*store, *labels, std::chrono::duration_cast<std::chrono::seconds>(*ttl),
                           args.uses, nowSeconds());
  if (!token.ok()) return fail(token.error());
  auto audit = AuditLog::open(*store, config->auditLog);
  if (audit.ok()) {
    audit->record("token_created", "", "admin",
                  "token " + token->record.id + ", labels " + labelsToJson(*labels) + ", expires " +
                      utc(token->record.expiresAt) + ", uses " + std::to_string(args.uses));
  }
  if (args.common.format == "json") {
    std::cout << json{{"token", token->token},
                      {"id", token->record.id},
                      {"labels", *labels},
                      {"expires_at", utc(token->record.expiresAt)},
                      {"max_uses", args.uses}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << token->token << "\n";
  }
  return kExitOk;
}

int runTokenList(const CommonArgs& args) {
  if (auto s = checkFormat(args); !s.ok()) return fail(s.error());
  auto config = loadConfig(args);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  auto tokens = store->tokens();
  if (!tokens.ok()) return fail(tokens.error());
  const int64_t now = nowSeconds();
  const auto stateOf = [&](const TokenRecord& t) {
    return t.uses >= t.maxUses ? "used up" : now >= t.expiresAt ? "expired" : "usable";
  };
  if (args.format == "json") {
    json out = json::array();
    for (const auto& t : *tokens) {
      out.push_back({{"id", t.id},
                     {"labels", t.labels},
                     {"created_at", utc(t.createdAt)},
                     {"expires_at", utc(t.expiresAt)},
                     {"uses", t.uses},
                     {"max_uses", t.maxUses},
                     {"state", stateOf(t)}});
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"ID", "LABELS", "EXPIRES", "USES", "STATE"}};
  for (const auto& t : *tokens) {
    rows.push_back({t.id, model::labelsText(t.labels), utc(t.expiresAt),
                    std::to_string(t.uses) + "/" + std::to_string(t.maxUses), stateOf(t)});
  }
  printTable(rows);
  return kExitOk;
}

int runHostsList(const CommonArgs& args) {
  auto opened = openReader(args);
  if (!opened.ok()) return fail(opened.error());
  auto hosts = opened->reader->hosts();
  if (!hosts.ok()) return fail(hosts.error());
  if (args.format == "json") {
    printJson(*hosts);
    return kExitOk;
  }
  if (hosts->empty()) {
    std::cout << "no hosts enrolled yet: create a token with `driftwatch-aggregator token create` "
                 "and run `driftwatch-agent enroll` on the host\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"HOST", "NAME", "LABELS", "LAST REPORT", "CLOCK", "SEQ", "RESOURCES", "STATE DIGEST"}};
  for (const auto& h : *hosts) {
    const std::string digest = textOf(h, "state_digest");
    const std::string lastReport = textOf(h, "last_report");
    const std::string revoked = textOf(h, "revoked_at");
    rows.push_back(
        {textOf(h, "id"), textOf(h, "name"), model::labelsText(labelsOf(h, "labels")),
         !revoked.empty() ? "revoked " + revoked : (lastReport.empty() ? "never" : lastReport),
         skewText(h.value("clock_skew_ms", Json())), h.value("seq", Json(0)).dump(),
         h.value("resources", Json(0)).dump(), digest.empty() ? "-" : digest.substr(0, 16)});
  }
  printTable(rows);
  return kExitOk;
}

int runHostsRevoke(const HostArgs& args) {
  auto opened = openActions(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto revoked = opened->actions->revokeHost(args.host, whoAmI());
  if (!revoked.ok()) return fail(revoked.error());
  if (!revoked->value("changed", false)) {
    std::cout << "host " << args.host << " was revoked already\n";
    return kExitOk;
  }
  std::cout << "revoked host " << args.host
            << ": its reports are refused from now on; enroll it again to let it back\n";
  return kExitOk;
}

int runHostsHistory(const HostArgs& args) {
  if (args.limit < 1) return fail("--limit must be at least 1");
  auto opened = openReader(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto rows = opened->reader->history(HistoryQuery{args.host, args.resource, args.limit});
  if (!rows.ok()) return fail(rows.error());
  if (args.common.format == "json") {
    printJson(*rows);
    return kExitOk;
  }
  for (const auto& r : *rows) {
    // The state's fields are tab-separated; spaces keep the line readable in a terminal.
    std::string state = textOf(r, "state");
    std::replace(state.begin(), state.end(), '\t', ' ');
    std::cout << textOf(r, "observed_at") << "  #" << r.value("seq", Json(0)).dump() << "  "
              << textOf(r, "resource") << "  " << state << "\n";
  }
  return kExitOk;
}

int runCaFingerprint(const CommonArgs& args) {
  auto config = loadConfig(args);
  if (!config.ok()) return fail(config.error());
  auto identity = loadServerIdentity(*config, false);
  if (!identity.ok()) return fail(identity.error());
  std::cout << identity->caFingerprint << "\n";
  return kExitOk;
}

int runAuditList(const HostArgs& args) {
  if (args.limit < 1) return fail("--limit must be at least 1");
  auto opened = openReader(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto records = opened->reader->audit(args.limit);
  if (!records.ok()) return fail(records.error());
  if (args.common.format == "json") {
    printJson(*records);
    return kExitOk;
  }
  for (const auto& r : *records) {
    const std::string host = textOf(r, "host");
    std::cout << textOf(r, "time") << "  " << textOf(r, "event") << "  "
              << (host.empty() ? "-" : host) << "  " << textOf(r, "peer") << "  "
              << textOf(r, "detail") << "\n";
  }
  return kExitOk;
}

int runHostsGaps(const HostArgs& args) {
  auto opened = openReader(args.common);
  if (!opened.ok()) return fail(opened.error());
  auto gaps = opened->reader->gaps(args.host);
  if (!gaps.ok()) return fail(gaps.error());
  if (args.common.format == "json") {
    printJson(*gaps);
    return kExitOk;
  }
  if (gaps->empty()) {
    std::cout << "no coverage gaps reported by " << displaySafe(args.host) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"GAP", "KIND", "SCOPE", "STARTED", "ENDED", "DETAIL"}};
  for (const auto& g : *gaps) {
    const std::string ended = textOf(g, "ended_at");
    rows.push_back({textOf(g, "gap"), textOf(g, "kind"), textOf(g, "scope"),
                    textOf(g, "started_at"), ended.empty() ? "open" : ended, textOf(g, "detail")});
  }
  printTable(rows);
  return kExitOk;
}

}  // namespace driftwatch::aggregator

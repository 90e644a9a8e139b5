#include "aggregator/cli/commands.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
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
std::string skewText(const std::optional<int64_t>& ms) {
  if (!ms) return "-";
  const int64_t tenths = (*ms >= 0 ? *ms + 50 : *ms - 50) / 100;
  const int64_t mag = tenths < 0 ? -tenths : tenths;
  return std::string(*ms < 0 ? "-" : "+") + std::to_string(mag / 10) + "." +
         std::to_string(mag % 10) + "s";
}

json hostJson(const HostRecord& h) {
  return json{{"id", h.id},
              {"name", h.name},
              {"labels", h.labels},
              {"enrolled_at", utc(h.enrolledAt)},
              {"last_report", h.lastSeen > 0 ? json(utcMs(h.lastSeen)) : json(nullptr)},
              {"last_address", h.lastAddress},
              {"agent_version", h.agentVersion},
              {"seq", h.lastSeq},
              {"resources", h.resourceCount},
              {"state_digest", hexOf(h.stateDigest)},
              {"snapshot_in_progress", h.snapshotNext.has_value()},
              {"revoked_at", h.revokedAt ? json(utc(*h.revokedAt)) : json(nullptr)},
              {"clock_skew_ms", h.clockSkewMs ? json(*h.clockSkewMs) : json(nullptr)},
              {"cert_fingerprint", h.certFingerprint}};
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
  RulesService rules(*store, *audit, std::move(rulesKey).value());
  auto gate = ReportGate::open(config->dataDir);
  if (!gate.ok()) return fail(gate.error());
  FleetApi api(*store, *audit, enrollment, reports, rules, &*gate);

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
  if (auto s = checkFormat(args); !s.ok()) return fail(s.error());
  auto config = loadConfig(args);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  auto hosts = store->hosts();
  if (!hosts.ok()) return fail(hosts.error());
  if (args.format == "json") {
    json out = json::array();
    for (const auto& h : *hosts)
      out.push_back(hostJson(h));
    std::cout << out.dump(2) << "\n";
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
    const std::string digest = hexOf(h.stateDigest);
    rows.push_back({h.id, h.name, model::labelsText(h.labels),
                    h.revokedAt ? "revoked " + utc(*h.revokedAt) : utcMs(h.lastSeen),
                    skewText(h.clockSkewMs), std::to_string(h.lastSeq),
                    std::to_string(h.resourceCount), digest.empty() ? "-" : digest.substr(0, 16)});
  }
  printTable(rows);
  return kExitOk;
}

int runHostsRevoke(const HostArgs& args) {
  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  if (auto host = findHost(*store, args.host); !host.ok()) return fail(host.error());
  auto revoked = store->revokeHost(args.host, nowSeconds());
  if (!revoked.ok()) return fail(revoked.error());
  if (!*revoked) {
    std::cout << "host " << args.host << " was revoked already\n";
    return kExitOk;
  }
  auto audit = AuditLog::open(*store, config->auditLog);
  if (audit.ok()) audit->record("host_revoked", args.host, "admin", "revoked by the admin");
  std::cout << "revoked host " << args.host
            << ": its reports are refused from now on; enroll it again to let it back\n";
  return kExitOk;
}

int runHostsHistory(const HostArgs& args) {
  if (auto s = checkFormat(args.common); !s.ok()) return fail(s.error());
  if (args.limit < 1) return fail("--limit must be at least 1");
  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  if (auto host = findHost(*store, args.host); !host.ok()) return fail(host.error());
  auto rows = store->history(args.host, args.resource, static_cast<size_t>(args.limit));
  if (!rows.ok()) return fail(rows.error());
  if (args.common.format == "json") {
    json out = json::array();
    for (const auto& r : *rows) {
      out.push_back({{"resource", r.resource},
                     {"state", r.state},
                     {"observed_at", utcMs(r.observedAt)},
                     {"seq", r.seq},
                     {"recorded_at", utcMs(r.recordedAt)}});
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  for (const auto& r : *rows) {
    // The state's fields are tab-separated; spaces keep the line readable in a terminal.
    std::string state = r.state;
    std::replace(state.begin(), state.end(), '\t', ' ');
    std::cout << utcMs(r.observedAt) << "  #" << r.seq << "  " << r.resource << "  " << state
              << "\n";
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
  if (auto s = checkFormat(args.common); !s.ok()) return fail(s.error());
  if (args.limit < 1) return fail("--limit must be at least 1");
  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  auto records = store->audit(static_cast<size_t>(args.limit));
  if (!records.ok()) return fail(records.error());
  if (args.common.format == "json") {
    json out = json::array();
    for (const auto& r : *records) {
      out.push_back({{"time", utcMs(r.at)},
                     {"event", r.event},
                     {"host", r.host},
                     {"peer", r.peer},
                     {"detail", r.detail}});
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  for (const auto& r : *records) {
    std::cout << utcMs(r.at) << "  " << r.event << "  " << (r.host.empty() ? "-" : r.host) << "  "
              << r.peer << "  " << r.detail << "\n";
  }
  return kExitOk;
}

int runHostsGaps(const HostArgs& args) {
  if (auto s = checkFormat(args.common); !s.ok()) return fail(s.error());
  auto config = loadConfig(args.common);
  if (!config.ok()) return fail(config.error());
  auto store = openExisting(*config);
  if (!store.ok()) return fail(store.error());
  if (auto host = findHost(*store, args.host); !host.ok()) return fail(host.error());
  auto events = store->coverage(args.host);
  if (!events.ok()) return fail(events.error());
  // One entry per gap: its opening event, and its closing one when it came. The payloads are
  // the agent's JSON: read defensively, shown escaped.
  struct Gap {
    std::string id, kind, scope, detail, startedAt, endedAt;
  };
  std::vector<Gap> gaps;
  std::map<std::string, size_t> byId;
  const auto field = [](const json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? displaySafe(it->get<std::string>()) : std::string();
  };
  for (const auto& e : *events) {
    json payload = json::parse(e.payload, nullptr, false);
    if (payload.is_discarded() || !payload.is_object()) continue;
    auto [it, fresh] = byId.emplace(e.gap, gaps.size());
    if (fresh) gaps.push_back({displaySafe(e.gap), "", "", "", "", ""});
    Gap& g = gaps[it->second];
    if (payload.contains("kind")) {
      g.kind = field(payload, "kind");
      g.scope = field(payload, "scope");
      g.detail = field(payload, "detail");
      g.startedAt = field(payload, "started_at");
    }
    if (payload.contains("ended_at")) g.endedAt = field(payload, "ended_at");
  }
  if (args.common.format == "json") {
    json out = json::array();
    for (const auto& g : gaps) {
      out.push_back({{"gap", g.id},
                     {"kind", g.kind},
                     {"scope", g.scope},
                     {"detail", g.detail},
                     {"started_at", g.startedAt},
                     {"ended_at", g.endedAt.empty() ? json(nullptr) : json(g.endedAt)}});
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  if (gaps.empty()) {
    std::cout << "no coverage gaps reported by " << displaySafe(args.host) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"GAP", "KIND", "SCOPE", "STARTED", "ENDED", "DETAIL"}};
  for (const auto& g : gaps) {
    rows.push_back(
        {g.id, g.kind, g.scope, g.startedAt, g.endedAt.empty() ? "open" : g.endedAt, g.detail});
  }
  printTable(rows);
  return kExitOk;
}

}  // namespace driftwatch::aggregator

// driftwatch-aggregator: the fleet's central server and its admin commands. Parses arguments
// with CLI11 and hands them to the functions in commands.cpp.

#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <sys/stat.h>

#include "aggregator/cli/commands.h"
#include "common/cli/parse_args.h"
#include "common/wire/codec.h"

namespace {

#ifndef DRIFTWATCH_VERSION
#define DRIFTWATCH_VERSION "unknown"
#endif

void addCommon(CLI::App& cmd, driftwatch::aggregator::CommonArgs& common, bool format) {
  cmd.add_option("--config,-c", common.config,
                 "Config file (default /etc/driftwatch/aggregator.yaml, which may be absent)");
  cmd.add_option("--data-dir", common.dataDir,
                 "Data directory (default /var/lib/driftwatch/aggregator)");
  if (format)
    cmd.add_option("--format", common.format, "Output: text or json")->capture_default_str();
}

// Reads, and the actions on alerts and drift, can go to a remote aggregator's admin API instead
// of the local store.
void addRemote(CLI::App& cmd, driftwatch::aggregator::CommonArgs& common) {
  cmd.add_option("--server", common.server,
                 "Ask this aggregator's admin API (https://HOST:PORT; default: DRIFTWATCH_SERVER, "
                 "else the local store)");
  cmd.add_option("--token-file", common.tokenFile,
                 "File holding the API token (see api-token create)");
  cmd.add_option("--token", common.token,
                 "The API token (default: DRIFTWATCH_TOKEN; prefer --token-file: a command "
                 "line is visible to every local user)");
  cmd.add_option("--ca", common.ca, "Trust only this CA certificate (PEM) for --server");
  cmd.add_option("--ca-fingerprint", common.caFingerprint,
                 "Trust only the CA with this fingerprint (sha256:..., from `ca fingerprint`)");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace driftwatch::aggregator;
  // A client that goes away mid-reply must not kill the server.
  std::signal(SIGPIPE, SIG_IGN);
  driftwatch::wire::silenceParserLogs();
  // Everything the aggregator writes (fleet store, keys, audit log) is for its owner only,
  // whatever the umask of the shell an admin command runs from.
  ::umask(077);

  CLI::App app{"driftwatch-aggregator: the fleet's desired and actual state, in one place"};
  app.fallthrough(false);
  app.set_version_flag("--version", std::string("driftwatch-aggregator ") + DRIFTWATCH_VERSION);
  app.require_subcommand(1);

  ServeArgs serve;
  auto* serveCmd = app.add_subcommand(
      "serve", "Run the aggregator: enroll agents and receive their reports over mutual TLS");
  addCommon(*serveCmd, serve.common, false);
  serveCmd->add_option("--listen", serve.listen,
                       "Address and port to listen on (default 0.0.0.0:8443; port 0: any free)");

  auto* tokenCmd = app.add_subcommand("token", "Enrollment tokens");
  tokenCmd->require_subcommand(1);
  TokenCreateArgs tokenCreate;
  auto* tokenCreateCmd = tokenCmd->add_subcommand(
      "create", "Create an enrollment token and print it (alone, on stdout)");
  addCommon(*tokenCreateCmd, tokenCreate.common, true);
  tokenCreateCmd->add_option("--labels", tokenCreate.labels,
                             "Labels the enrolled host gets: KEY=VALUE,...");
  tokenCreateCmd->add_option("--ttl", tokenCreate.ttl, "How long the token is valid (like 1h, 7d)")
      ->capture_default_str();
  tokenCreateCmd->add_option("--uses", tokenCreate.uses, "How many hosts may enroll with it")
      ->capture_default_str();
  CommonArgs tokenList;
  auto* tokenListCmd =
      tokenCmd->add_subcommand("list", "List enrollment tokens (never the secret)");
  addCommon(*tokenListCmd, tokenList, true);

  auto* hostsCmd = app.add_subcommand("hosts", "Enrolled hosts");
  hostsCmd->require_subcommand(1);
  CommonArgs hostsList;
  auto* hostsListCmd = hostsCmd->add_subcommand(
      "list", "List enrolled hosts: labels, last report, stored state digest");
  addCommon(*hostsListCmd, hostsList, true);
  addRemote(*hostsListCmd, hostsList);
  HostArgs revoke;
  auto* revokeCmd =
      hostsCmd->add_subcommand("revoke", "Revoke a host: its agent is refused from now on");
  addCommon(*revokeCmd, revoke.common, false);
  addRemote(*revokeCmd, revoke.common);
  revokeCmd->add_option("host", revoke.host, "Host id (see hosts list)")->required();
  HostArgs history;
  auto* historyCmd =
      hostsCmd->add_subcommand("history", "Show the changes a host reported, oldest first");
  addCommon(*historyCmd, history.common, true);
  addRemote(*historyCmd, history.common);
  historyCmd->add_option("host", history.host, "Host id (see hosts list)")->required();
  historyCmd->add_option("--resource", history.resource, "Only this resource (file:/etc/motd)");
  historyCmd->add_option("--limit", history.limit, "The newest N changes")->capture_default_str();

  HostArgs gaps;
  auto* gapsCmd = hostsCmd->add_subcommand(
      "gaps", "Show the coverage gaps a host reported: when and where it could not watch");
  addCommon(*gapsCmd, gaps.common, true);
  addRemote(*gapsCmd, gaps.common);
  gapsCmd->add_option("host", gaps.host, "Host id (see hosts list)")->required();

  auto* caCmd = app.add_subcommand("ca", "The fleet CA");
  caCmd->require_subcommand(1);
  CommonArgs caArgs;
  auto* fingerprintCmd = caCmd->add_subcommand(
      "fingerprint", "Print the CA fingerprint that agents pin when they enroll");
  addCommon(*fingerprintCmd, caArgs, false);

  HostArgs audit;
  auto* auditCmd = app.add_subcommand("audit", "Show the audit trail, oldest first");
  addCommon(*auditCmd, audit.common, true);
  addRemote(*auditCmd, audit.common);
  auditCmd->add_option("--limit", audit.limit, "The newest N records")->capture_default_str();

  auto* policyCmd = app.add_subcommand("policy", "The fleet's desired state: policies by label");
  policyCmd->require_subcommand(1);
  PolicyArgs policyApply;
  auto* policyApplyCmd = policyCmd->add_subcommand(
      "apply", "Store new versions of policies (files, or directories of *.yaml)");
  addCommon(*policyApplyCmd, policyApply.common, true);
  addRemote(*policyApplyCmd, policyApply.common);
  policyApplyCmd->add_option("path", policyApply.paths, "Policy files or directories")->required();
  policyApplyCmd->add_option("--message,-m", policyApply.message, "Why, for the history");
  PolicyArgs policyRemove;
  auto* policyRemoveCmd = policyCmd->add_subcommand(
      "remove", "Remove policies: their drift resolves; their history stays");
  addCommon(*policyRemoveCmd, policyRemove.common, true);
  addRemote(*policyRemoveCmd, policyRemove.common);
  policyRemoveCmd->add_option("name", policyRemove.names, "Policy names")->required();
  policyRemoveCmd->add_option("--message,-m", policyRemove.message, "Why, for the history");
  CommonArgs policyList;
  auto* policyListCmd =
      policyCmd->add_subcommand("list", "List the fleet policies, newest versions");
  addCommon(*policyListCmd, policyList, true);
  addRemote(*policyListCmd, policyList);
  PolicyArgs policyShow;
  auto* policyShowCmd = policyCmd->add_subcommand("show", "Print a policy as it was applied");
  addCommon(*policyShowCmd, policyShow.common, true);
  addRemote(*policyShowCmd, policyShow.common);
  policyShowCmd->add_option("name", policyShow.name, "Policy name")->required();
  policyShowCmd->add_option("--version", policyShow.version, "That version (default: newest)");
  PolicyArgs policyHistory;
  auto* policyHistoryCmd =
      policyCmd->add_subcommand("history", "Every version of a policy: who, when, why, commit");
  addCommon(*policyHistoryCmd, policyHistory.common, true);
  addRemote(*policyHistoryCmd, policyHistory.common);
  policyHistoryCmd->add_option("name", policyHistory.name, "Policy name")->required();
  PolicyArgs policyLint;
  auto* policyLintCmd = policyCmd->add_subcommand(
      "lint", "Warn about policies that defeat themselves (ignore patterns hiding most of a tree)");
  addCommon(*policyLintCmd, policyLint.common, true);
  policyLintCmd->add_option("path", policyLint.paths, "Policy files or directories")->required();
  policyLintCmd->add_option("--root", policyLint.root,
                            "Measure what the ignore patterns hide on the tree under DIR ('/')");
  PolicyArgs policyDiff;
  auto* policyDiffCmd =
      policyCmd->add_subcommand("diff", "What changed between two versions of a policy");
  addCommon(*policyDiffCmd, policyDiff.common, true);
  addRemote(*policyDiffCmd, policyDiff.common);
  policyDiffCmd->add_option("name", policyDiff.name, "Policy name")->required();
  policyDiffCmd->add_option("--from", policyDiff.from, "Older version (default: before --to)");
  policyDiffCmd->add_option("--to", policyDiff.to, "Newer version (default: newest)");

  auto* driftCmd = app.add_subcommand("drift", "Where hosts differ from their policies");
  driftCmd->require_subcommand(1);
  DriftArgs driftList;
  auto* driftListCmd = driftCmd->add_subcommand(
      "list", "List drift items: resource, attributes, direction, status, first seen");
  addCommon(*driftListCmd, driftList.common, true);
  addRemote(*driftListCmd, driftList.common);
  driftListCmd->add_option("--host", driftList.host, "Only this host (see hosts list)");
  driftListCmd
      ->add_option("--status", driftList.status,
                   "open, accepted, waived, resolved, active (all but resolved) or all")
      ->capture_default_str();
  driftListCmd->add_option("--severity", driftList.severity, "Only low, medium, high or critical");
  driftListCmd->add_option("--direction", driftList.direction,
                           "Only managed (the host changed) or definition (the policy changed)");
  driftListCmd->add_flag("--creep", driftList.creep,
                         "Only drift open longer than creep_after (default 7d)");
  driftListCmd->add_flag("--recurring", driftList.recurring,
                         "Only drift that came back after it resolved (recurring_after times)");
  driftListCmd->add_option("--label", driftList.label, "Only hosts with this label: KEY=VALUE");
  driftListCmd->add_option("--min-age", driftList.minAge,
                           "Only items open (or that were open) at least this long (like 7d)");

  DecisionArgs accept;
  auto* acceptCmd = app.add_subcommand(
      "accept", "Accept a host's drift: its actual values become what is desired for it");
  addCommon(*acceptCmd, accept.common, true);
  addRemote(*acceptCmd, accept.common);
  acceptCmd->add_option("host", accept.host, "Host id (see hosts list)")->required();
  acceptCmd->add_option("resource", accept.resource, "The drifted resource: /etc/motd, sysctl:...")
      ->required();
  acceptCmd->add_option("--reason", accept.reason, "Why, for the record")->required();
  acceptCmd->add_option("--by", accept.by, "Who decides (default: the login user)");
  DecisionArgs waive;
  auto* waiveCmd = app.add_subcommand(
      "waive", "Waive a host's drift until a date: no alerts until then, then it is open again");
  addCommon(*waiveCmd, waive.common, true);
  addRemote(*waiveCmd, waive.common);
  waiveCmd->add_option("host", waive.host, "Host id (see hosts list)")->required();
  waiveCmd->add_option("resource", waive.resource, "The drifted resource: /etc/motd, sysctl:...")
      ->required();
  waiveCmd->add_option("--reason", waive.reason, "Why, for the record")->required();
  waiveCmd->add_option("--until", waive.until,
                       "Expiry, UTC: 2026-12-31 (its first second) or 2026-12-31T18:00:00Z");
  waiveCmd->add_option("--for", waive.forDuration, "Expiry as a duration from now: 12h, 30d");
  waiveCmd->add_option("--by", waive.by, "Who decides (default: the login user)");

  auto* maintenanceCmd =
      app.add_subcommand("maintenance", "Maintenance windows: drift is recorded, alerts held");
  maintenanceCmd->require_subcommand(1);
  MaintenanceArgs maintenanceAdd;
  auto* maintenanceAddCmd = maintenanceCmd->add_subcommand(
      "add", "Declare a window for the hosts with these labels; open drift alerts when it ends");
  addCommon(*maintenanceAddCmd, maintenanceAdd.common, true);
  addRemote(*maintenanceAddCmd, maintenanceAdd.common);
  maintenanceAddCmd->add_option("--selector", maintenanceAdd.selector,
                                "The hosts: KEY=VALUE,... (default: every host)");
  maintenanceAddCmd->add_option("--start", maintenanceAdd.start,
                                "UTC date or time, like 2026-12-01T22:00:00Z (default: now)");
  maintenanceAddCmd->add_option("--end", maintenanceAdd.end, "UTC date or time");
  maintenanceAddCmd->add_option("--for", maintenanceAdd.forDuration,
                                "Or a duration from the start: 30m, 2h");
  maintenanceAddCmd->add_option("--reason", maintenanceAdd.reason, "Why, for the record")
      ->required();
  maintenanceAddCmd->add_option("--by", maintenanceAdd.by, "Who (default: the login user)");
  MaintenanceArgs maintenanceList;
  auto* maintenanceListCmd =
      maintenanceCmd->add_subcommand("list", "List current and upcoming maintenance windows");
  addCommon(*maintenanceListCmd, maintenanceList.common, true);
  addRemote(*maintenanceListCmd, maintenanceList.common);
  maintenanceListCmd->add_flag("--all", maintenanceList.all, "Past windows too");
  MaintenanceArgs maintenanceEnd;
  auto* maintenanceEndCmd = maintenanceCmd->add_subcommand(
      "end", "End a window now (an upcoming one is dropped); held alerts are sent");
  addCommon(*maintenanceEndCmd, maintenanceEnd.common, false);
  addRemote(*maintenanceEndCmd, maintenanceEnd.common);
  maintenanceEndCmd->add_option("id", maintenanceEnd.id, "Window id (see maintenance list)")
      ->required();
  maintenanceEndCmd->add_option("--by", maintenanceEnd.by, "Who (default: the login user)");

  auto* alertsCmd = app.add_subcommand("alerts", "Alerts raised from drift, and their delivery");
  alertsCmd->require_subcommand(1);
  AlertArgs alertsList;
  auto* alertsListCmd = alertsCmd->add_subcommand(
      "list", "List alerts: status, severity, host, resource, when they fired and were acked");
  addCommon(*alertsListCmd, alertsList.common, true);
  addRemote(*alertsListCmd, alertsList.common);
  alertsListCmd->add_option("--status", alertsList.status,
                            "pending, firing, acknowledged, resolved, unresolved (the default: "
                            "all but resolved) or all");
  alertsListCmd->add_option("--host", alertsList.host, "Only this host (see hosts list)");
  alertsListCmd->add_option("--limit", alertsList.limit, "The newest N alerts")
      ->capture_default_str();
  AlertArgs alertsAck;
  auto* alertsAckCmd =
      alertsCmd->add_subcommand("ack", "Acknowledge a firing alert: someone is on it");
  addCommon(*alertsAckCmd, alertsAck.common, true);
  addRemote(*alertsAckCmd, alertsAck.common);
  alertsAckCmd->add_option("id", alertsAck.id, "Alert id (see alerts list)")->required();
  alertsAckCmd->add_option("--by", alertsAck.by, "Who (default: the login user)");
  AlertArgs alertsDeliveries;
  auto* alertsDeliveriesCmd = alertsCmd->add_subcommand(
      "deliveries", "List notification deliveries to receivers: dead letters by default");
  addCommon(*alertsDeliveriesCmd, alertsDeliveries.common, true);
  addRemote(*alertsDeliveriesCmd, alertsDeliveries.common);
  alertsDeliveries.status = "dead";
  alertsDeliveriesCmd
      ->add_option("--status", alertsDeliveries.status, "dead, pending, delivered or all")
      ->capture_default_str();
  AlertArgs alertsRetry;
  auto* alertsRetryCmd =
      alertsCmd->add_subcommand("retry", "Send a dead delivery again (after fixing its receiver)");
  addCommon(*alertsRetryCmd, alertsRetry.common, true);
  addRemote(*alertsRetryCmd, alertsRetry.common);
  alertsRetryCmd->add_option("id", alertsRetry.id, "Delivery id (see alerts deliveries)")
      ->required();
  auto* apiTokenCmd =
      app.add_subcommand("api-token", "Bearer tokens for the admin API and /metrics");
  apiTokenCmd->require_subcommand(1);
  ApiTokenArgs apiTokenCreate;
  auto* apiTokenCreateCmd = apiTokenCmd->add_subcommand(
      "create", "Create an API token and print it (alone, on stdout, this once)");
  addCommon(*apiTokenCreateCmd, apiTokenCreate.common, true);
  apiTokenCreateCmd->add_option("--name", apiTokenCreate.name, "Who or what uses it")->required();
  apiTokenCreateCmd
      ->add_option("--scope", apiTokenCreate.scope,
                   "read (the fleet view, /metrics) or write (also alerts ack|retry, accept, "
                   "waive)")
      ->capture_default_str();
  apiTokenCreateCmd->add_option("--ttl", apiTokenCreate.ttl,
                                "How long it is valid (like 12h, 90d; default: until revoked)");
  CommonArgs apiTokenList;
  auto* apiTokenListCmd = apiTokenCmd->add_subcommand("list", "List API tokens (never the secret)");
  addCommon(*apiTokenListCmd, apiTokenList, true);
  ApiTokenArgs apiTokenRevoke;
  auto* apiTokenRevokeCmd =
      apiTokenCmd->add_subcommand("revoke", "Revoke an API token: refused from now on");
  addCommon(*apiTokenRevokeCmd, apiTokenRevoke.common, false);
  apiTokenRevokeCmd->add_option("name", apiTokenRevoke.name, "Token name (see api-token list)")
      ->required();

  if (auto code = driftwatch::cli::parseArgs(app, argc, argv, "driftwatch-aggregator", kExitError))
    return *code;

  try {
    if (*serveCmd) return runServe(serve);
    if (*tokenCreateCmd) return runTokenCreate(tokenCreate);
    if (*tokenListCmd) return runTokenList(tokenList);
    if (*hostsListCmd) return runHostsList(hostsList);
    if (*revokeCmd) return runHostsRevoke(revoke);
    if (*historyCmd) return runHostsHistory(history);
    if (*gapsCmd) return runHostsGaps(gaps);
    if (*fingerprintCmd) return runCaFingerprint(caArgs);
    if (*auditCmd) return runAuditList(audit);
    if (*policyApplyCmd) return runPolicyApply(policyApply);
    if (*policyRemoveCmd) return runPolicyRemove(policyRemove);
    if (*policyListCmd) return runPolicyList(policyList);
    if (*policyShowCmd) return runPolicyShow(policyShow);
    if (*policyHistoryCmd) return runPolicyHistory(policyHistory);
    if (*policyDiffCmd) return runPolicyDiff(policyDiff);
    if (*policyLintCmd) return runPolicyLint(policyLint);
    if (*driftListCmd) return runDriftList(driftList);
    if (*acceptCmd) return runAccept(accept);
    if (*waiveCmd) return runWaive(waive);
    if (*maintenanceAddCmd) return runMaintenanceAdd(maintenanceAdd);
    if (*maintenanceListCmd) return runMaintenanceList(maintenanceList);
    if (*maintenanceEndCmd) return runMaintenanceEnd(maintenanceEnd);
    if (*alertsListCmd) return runAlertsList(alertsList);
    if (*alertsAckCmd) return runAlertsAck(alertsAck);
    if (*alertsDeliveriesCmd) return runAlertsDeliveries(alertsDeliveries);
    if (*alertsRetryCmd) return runAlertsRetry(alertsRetry);
    if (*apiTokenCreateCmd) return runApiTokenCreate(apiTokenCreate);
    if (*apiTokenListCmd) return runApiTokenList(apiTokenList);
    if (*apiTokenRevokeCmd) return runApiTokenRevoke(apiTokenRevoke);
  } catch (const std::exception& e) {
    std::cerr << "driftwatch-aggregator: internal error: " << e.what() << "\n";
    return kExitError;
  }
  return kExitError;
}

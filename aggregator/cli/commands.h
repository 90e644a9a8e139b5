#pragma once
// The aggregator's subcommands as functions from parsed arguments to an exit code. Admin
// commands work on the data directory directly (beside a running server: the store is WAL
// SQLite), or, for reads and the actions on alerts and drift, on a remote aggregator's admin
// API (--server); they print
// their result on stdout, and errors on stderr. Exit codes: 0 ok, 1 error.

#include <string>
#include <vector>

namespace driftwatch::aggregator {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitWarnings = 2;

struct CommonArgs {
  std::string config;   // empty: the default path, which may be absent
  std::string dataDir;  // overrides the config file
  std::string format = "text";
  // Reads, alerts ack|retry, accept and waive: this aggregator's admin API instead of the
  // local store.
  std::string server;  // empty: DRIFTWATCH_SERVER, else local
  std::string token;   // empty: DRIFTWATCH_TOKEN
  std::string tokenFile;
  std::string ca;             // trust this CA certificate (PEM file)
  std::string caFingerprint;  // or the CA with this fingerprint
};

struct ServeArgs {
  CommonArgs common;
  std::string listen;  // overrides the config file
};

struct TokenCreateArgs {
  CommonArgs common;
  std::string labels;
  std::string ttl = "24h";
  long long uses = 1;
};

struct HostArgs {
  CommonArgs common;
  std::string host;
  std::string resource;  // history: one resource only
  long long limit = 100;
};

struct PolicyArgs {
  CommonArgs common;
  std::vector<std::string> paths;  // apply: files and directories
  std::string message;             // apply: why
  std::string name;                // show, history, diff
  std::vector<std::string> names;  // remove
  long long version = 0;           // show: 0 for the newest
  long long from = 0;              // diff: 0 for the one before `to`
  long long to = 0;                // diff: 0 for the newest
  std::string root;                // lint: measure ignore patterns on this tree
};

struct ApiTokenArgs {
  CommonArgs common;
  std::string name;
  std::string scope = "read";  // create: read or write
  std::string ttl;             // empty: never expires
};

struct DriftArgs {
  CommonArgs common;
  std::string host;    // empty: every host
  std::string label;   // KEY=VALUE; empty: any host
  std::string minAge;  // a duration; empty: any age
  std::string status = "open";
  std::string severity;    // empty: any
  std::string direction;   // empty: both
  bool creep = false;      // only items flagged as configuration creep
  bool recurring = false;  // only items flagged as recurring
};

// accept and waive
struct DecisionArgs {
  CommonArgs common;
  std::string host;
  std::string resource;  // "/etc/motd" or KIND:NAME
  std::string reason;
  std::string by;           // empty: the login user
  std::string until;        // waive: a date (2026-12-31) or time (2026-12-31T18:00:00Z)
  std::string forDuration;  // waive: or a duration from now (like 30d)
};

// maintenance add|list|end
struct MaintenanceArgs {
  CommonArgs common;
  std::string selector;     // add: KEY=VALUE,...; empty: every host
  std::string start;        // add: UTC date or time; empty: now
  std::string end;          // add: UTC date or time
  std::string forDuration;  // add: or a duration from the start
  std::string reason;
  std::string by;    // empty: the login user
  bool all = false;  // list: past windows too
  long long id = 0;  // end
};

struct AlertArgs {
  CommonArgs common;
  // list: pending, firing, acknowledged, resolved, unresolved (the default) or all;
  // deliveries: dead (the default), pending, delivered or all
  std::string status;
  std::string host;        // list: only this host
  long long limit = 1000;  // list: the newest N
  long long id = 0;        // ack, retry
  std::string by;          // ack: who (default: the login user)
};

int runServe(const ServeArgs& args);
int runTokenCreate(const TokenCreateArgs& args);
int runTokenList(const CommonArgs& args);
int runHostsList(const CommonArgs& args);
int runHostsRevoke(const HostArgs& args);
int runHostsHistory(const HostArgs& args);
int runHostsGaps(const HostArgs& args);
int runCaFingerprint(const CommonArgs& args);
int runAuditList(const HostArgs& args);
int runPolicyApply(const PolicyArgs& args);
int runPolicyRemove(const PolicyArgs& args);
int runPolicyList(const CommonArgs& args);
int runPolicyShow(const PolicyArgs& args);
int runPolicyHistory(const PolicyArgs& args);
int runPolicyDiff(const PolicyArgs& args);
// Exit codes: 0 no warning, 2 warnings, 1 error.
int runPolicyLint(const PolicyArgs& args);
int runDriftList(const DriftArgs& args);
int runAccept(const DecisionArgs& args);
int runWaive(const DecisionArgs& args);
int runMaintenanceAdd(const MaintenanceArgs& args);
int runMaintenanceList(const MaintenanceArgs& args);
int runMaintenanceEnd(const MaintenanceArgs& args);
int runAlertsList(const AlertArgs& args);
int runAlertsAck(const AlertArgs& args);
int runAlertsDeliveries(const AlertArgs& args);
int runAlertsRetry(const AlertArgs& args);
int runApiTokenCreate(const ApiTokenArgs& args);
int runApiTokenList(const CommonArgs& args);
int runApiTokenRevoke(const ApiTokenArgs& args);

}  // namespace driftwatch::aggregator

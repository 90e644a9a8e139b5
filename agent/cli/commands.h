#pragma once
// The agent's subcommands as functions from parsed arguments to an exit code, printing to
// stdout and stderr. Exit codes follow `terraform plan -detailed-exitcode`: 0 no drift, 2 drift
// found, 1 error. main() wires CLI11 to these.

#include <string>
#include <vector>

namespace driftwatch::agent {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitDrift = 2;

struct ScanArgs {
  std::string policy;
  std::string root = "/";
  unsigned threads = 0;
  std::string cache;     // the digest cache; empty: the default path
  bool noCache = false;  // read every file; neither use nor update the cache
};

struct CheckArgs {
  ScanArgs scan;
  std::string baseline;  // empty: none
  std::string format = "text";
};

struct BaselineArgs {
  ScanArgs scan;
  std::string out;
};

struct AcceptArgs {
  ScanArgs scan;
  std::string baseline;
  std::vector<std::string> resources;
  bool all = false;
  std::string reason;
};

struct RunArgs {
  std::string config;  // empty: the default path, which may be absent
  std::string policy;  // flags override the config file when given
  std::string baseline;
  std::string root;
  std::string stateDir;
  std::string eventsFile;
};

struct StatusArgs {
  std::string config;
  std::string stateDir;
  std::string format = "text";
};

struct EnrollArgs {
  std::string server;
  std::string token;
  std::string tokenFile;
  std::string caFingerprint;
  std::string config;
  std::string stateDir;
  bool force = false;
};

int runCheckCommand(const CheckArgs& args);
int runDaemonCommand(const RunArgs& args);
int runStatusCommand(const StatusArgs& args);
int runBaselineCommand(const BaselineArgs& args);
int runAcceptCommand(const AcceptArgs& args);
int runEnrollCommand(const EnrollArgs& args);

}  // namespace driftwatch::agent

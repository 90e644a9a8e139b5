// driftwatch-agent: the host agent's command line. Parses arguments with CLI11 and hands them
// to the subcommand functions in commands.cpp.

#include <iostream>

#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include "agent/cli/commands.h"
#include "common/cli/parse_args.h"
#include "common/wire/codec.h"

namespace {

#ifndef DRIFTWATCH_VERSION
#define DRIFTWATCH_VERSION "unknown"
#endif

// The scanner keeps a few directories open per thread; lift the soft limit to the hard one so
// deep trees never run out of descriptors.
void raiseFileLimit() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

void addScanOptions(CLI::App& cmd, driftwatch::agent::ScanArgs& scan) {
  cmd.add_option("--policy,-p", scan.policy, "Policy file (YAML) with the desired state")
      ->required();
  cmd.add_option("--root", scan.root,
                 "Observe a host mounted at DIR (a chroot, an image, a fixture) instead of /")
      ->check(CLI::ExistingDirectory)
      ->capture_default_str();
  cmd.add_option("--threads", scan.threads, "Scanner threads (default: one per core)")
      ->check(CLI::Range(0u, 64u));
  auto* cache = cmd.add_option("--cache", scan.cache,
                               "Digest cache: files with unchanged stat data are not read again "
                               "(default: /var/cache/driftwatch/check.db as root, else "
                               "~/.cache/driftwatch/check.db)");
  cmd.add_flag("--no-cache", scan.noCache, "Read every file; do not use or update the digest cache")
      ->excludes(cache);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace driftwatch::agent;
  raiseFileLimit();
  driftwatch::wire::silenceParserLogs();

  CLI::App app{"driftwatch-agent: find configuration drift on this host"};
  // Options after the subcommand belong to it; CLI11 would otherwise accept them anywhere.
  app.fallthrough(false);
  app.set_version_flag("--version", std::string("driftwatch-agent ") + DRIFTWATCH_VERSION);
  app.require_subcommand(1);

  CheckArgs check;
  auto* checkCmd = app.add_subcommand(
      "check",
      "Compare the host with a policy and print the drift (exit 0: none, 2: drift, 1: error)");
  addScanOptions(*checkCmd, check.scan);
  checkCmd->add_option("--baseline,-b", check.baseline,
                       "Baseline file for rules without explicit values");
  checkCmd->add_option("--format", check.format, "Output: text or json")->capture_default_str();

  BaselineArgs baseline;
  auto* baselineCmd =
      app.add_subcommand("baseline", "Record the approved actual state into a baseline file");
  addScanOptions(*baselineCmd, baseline.scan);
  baselineCmd->add_option("--out,-o", baseline.out, "Baseline file to write")->required();

  AcceptArgs accept;
  auto* acceptCmd = app.add_subcommand(
      "accept", "Take the observed values of drifted resources into the baseline, with a reason");
  addScanOptions(*acceptCmd, accept.scan);
  acceptCmd->add_option("--baseline,-b", accept.baseline, "Baseline file to update")
      ->required()
      ->check(CLI::ExistingFile);
  acceptCmd->add_option("resources", accept.resources,
                        "Resources as the check prints them (file:/etc/motd ...)");
  acceptCmd->add_flag("--all", accept.all, "Accept every resource that drifts from the baseline");
  acceptCmd
      ->add_option("--reason,-r", accept.reason,
                   "Why the change is approved (kept in the baseline)")
      ->required();

  RunArgs run;
  auto* runCmd = app.add_subcommand(
      "run",
      "Run the agent daemon: watch the host in real time and keep drift, coverage and an outbox");
  runCmd->add_option("--config,-c", run.config,
                     "Config file (default /etc/driftwatch/agent.yaml, which may be absent)");
  runCmd->add_option("--policy,-p", run.policy, "Policy file (overrides the config file)");
  runCmd->add_option("--baseline,-b", run.baseline, "Baseline file (overrides the config file)");
  runCmd->add_option("--root", run.root,
                     "Observe a host mounted at DIR (overrides the config file)");
  runCmd->add_option("--state-dir", run.stateDir,
                     "State directory (default /var/lib/driftwatch/agent)");
  runCmd->add_option("--events-file", run.eventsFile,
                     "Also append drift and coverage events (JSON lines) here");

  StatusArgs status;
  auto* statusCmd = app.add_subcommand(
      "status",
      "Show the daemon's view: drift, coverage and gaps, last scans (exit 0: no drift, 2: drift)");
  statusCmd->add_option("--config,-c", status.config, "Config file naming the state directory");
  statusCmd->add_option("--state-dir", status.stateDir,
                        "State directory (default from the config file)");
  statusCmd->add_option("--format", status.format, "Output: text or json")->capture_default_str();

  EnrollArgs enrollArgs;
  auto* enrollCmd = app.add_subcommand(
      "enroll",
      "Enroll with an aggregator: pin its CA, create this agent's key, get a certificate");
  enrollCmd->add_option("--server", enrollArgs.server, "The aggregator: https://HOST[:PORT]")
      ->required();
  // On the command line a token is visible to every local user (ps) while enroll runs: the
  // environment or a file keep it private.
  enrollCmd
      ->add_option("--token", enrollArgs.token,
                   "Enrollment token from the aggregator's admin (or set DRIFTWATCH_ENROLL_TOKEN)")
      ->envname("DRIFTWATCH_ENROLL_TOKEN");
  enrollCmd->add_option("--token-file", enrollArgs.tokenFile,
                        "Read the enrollment token from this file ('-': standard input)");
  enrollCmd
      ->add_option("--ca-fingerprint", enrollArgs.caFingerprint,
                   "The aggregator's CA fingerprint (sha256:HEX), as it printed at start")
      ->required();
  enrollCmd->add_option("--config,-c", enrollArgs.config, "Config file naming the state directory");
  enrollCmd->add_option("--state-dir", enrollArgs.stateDir,
                        "State directory (default from the config file)");
  enrollCmd->add_flag("--force", enrollArgs.force, "Enroll again, replacing this agent's identity");

  // CLI11 only says "a subcommand is required" for a mistyped command; name it instead.
  if (argc > 1 && argv[1][0] != '-') {
    std::string known;
    bool found = false;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      found = found || sub->check_name(argv[1]);
      known += (known.empty() ? "" : ", ") + sub->get_name();
    }
    if (!found) {
      std::cerr << "driftwatch-agent: error: unknown command '" << argv[1]
                << "' (commands: " << known << "; see --help)\n";
      return kExitError;
    }
  }

  if (auto code = driftwatch::cli::parseArgs(app, argc, argv, "driftwatch-agent", kExitError))
    return *code;

  try {
    if (*runCmd) return runDaemonCommand(run);
    if (*statusCmd) return runStatusCommand(status);
    if (*enrollCmd) return runEnrollCommand(enrollArgs);
    if (*checkCmd) return runCheckCommand(check);
    if (*baselineCmd) return runBaselineCommand(baseline);
    if (*acceptCmd) return runAcceptCommand(accept);
  } catch (const std::exception& e) {
    // Errors are values inside driftwatch; this only catches allocation failure and the like.
    std::cerr << "driftwatch-agent: internal error: " << e.what() << "\n";
    return kExitError;
  }
  return kExitError;
}

#pragma once
// Runs a real binary for end-to-end tests: arguments, environment, working directory, a
// deadline (the child is killed past it, so a hang fails the test instead of the run), and
// what it printed, its exit code and its peak memory.

#include <chrono>
#include <string>
#include <vector>

namespace driftwatch::testing {

struct ProcessOptions {
  std::vector<std::string> env;  // "NAME=value" entries added to (or replacing in) the environment
  std::vector<std::string> unsetEnv;
  std::string cwd;
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
  bool stdoutIsTerminal = false;  // give the child a pseudo-terminal as stdout
  std::string input;              // written to the child's stdin
};

struct ProcessResult {
  int exitCode = -1;  // -1 when killed by a signal
  int signal = 0;
  bool timedOut = false;
  std::string out;
  std::string err;
  long maxRssKb = 0;
};

ProcessResult runProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// The driftwatch-agent binary under test (set by the build).
std::string agentBinary();

}  // namespace driftwatch::testing

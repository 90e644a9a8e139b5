#pragma once
// Runs a real binary for end-to-end tests: arguments, environment, working directory, a
// deadline (the child is killed past it, so a hang fails the test instead of the run), and
// what it printed, its exit code and its peak memory.

#include <chrono>
#include <optional>
#include <string>
#include <thread>
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
  double cpuSeconds = 0;  // user + system time of the process and the children it waited for
};

ProcessResult runProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// A process left running (a daemon under test): stdout and stderr go to files the test can
// read. The destructor kills it if it is still running.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& stdoutPath,
        const std::string& stderrPath, const ProcessOptions& options = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  int pid() const { return pid_; }
  void signal(int signum) const;
  // Waits for the exit; the exit code, -1 after a signal, nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  int pid_ = -1;
  std::optional<int> status_;
};

// Polls `condition` until it holds or `timeout` passes; true when it held. Polls often at first
// and less often later, so that a slow condition (a sanitizer build) is not slowed further by
// the polling itself.
template <typename Condition>
bool waitFor(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(10);
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::milliseconds>(pause * 3 / 2, std::chrono::milliseconds(250));
  }
}

// The driftwatch-agent binary under test (set by the build).
std::string agentBinary();
// The driftwatch-aggregator binary under test.
std::string aggregatorBinary();

}  // namespace driftwatch::testing

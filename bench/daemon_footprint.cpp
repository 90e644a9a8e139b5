// Benchmark: the agent daemon's footprint, each figure next to a reference measured in the same
// run on the same machine (these machines are noisy; absolute numbers alone mislead).
//
//  - resident memory with N watched files, against the same daemon watching an empty tree:
//    bytes per watched file;
//  - CPU used while idle, against the wall-clock time it sat idle;
//  - event to drift record: time from a write to the drift_opened line, beyond the settle
//    window, against the time a bare inotify watcher in this process needs to see the same
//    write (the kernel's own latency).
//
// Usage: bench_daemon_footprint --agent PATH [--files N] [--idle-seconds S] [--edits K]
//                               [--runs R] [--seed X] [--json FILE]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::bench;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kSettleMs = 50;

struct Options {
  std::string agent;
  std::vector<size_t> sizes = {10000};  // --files 10000,100000
  int idleSeconds = 60;
  int edits = 1000;
  int runs = 3;
  unsigned seed = 42;
  std::string json;
};

// A running daemon on `root`, its state and events in `work`.
class Daemon {
 public:
  Daemon(const Options& o, const testing::TempDir& work, const std::string& root) {
    work.write("p.yaml", "name: bench\nfiles:\n  - {path: /tree, recursive: true}\n");
    const auto rec = testing::runProcess({o.agent, "baseline", "--policy", work.at("p.yaml"),
                                          "--root", root, "--out", work.at("b.txt"), "--no-cache"});
    if (rec.exitCode != 0) throw std::runtime_error("baseline failed: " + rec.err);
    work.write("agent.yaml", "policy: " + work.at("p.yaml") + "\nbaseline: " + work.at("b.txt") +
                                 "\nroot: " + root + "\nstate_dir: " + work.at("state") +
                                 "\nevents_file: " + work.at("events.jsonl") +
                                 "\nsettle: " + std::to_string(kSettleMs) +
                                 "ms\nio_budget: 0\ncpu_share: 1\npoll_interval: 1h\n");
    child_.emplace(std::vector<std::string>{o.agent, "run", "--config", work.at("agent.yaml")},
                   work.at("out"), work.at("err"));
    const bool ready = testing::waitFor(
        [&] {
          if (!child_->running()) return true;
          const auto r = testing::runProcess(
              {o.agent, "status", "--state-dir", work.at("state"), "--format", "json"});
          try {
            // Ready once the start-up scan is on record and no full scan is under way.
            const auto status = nlohmann::json::parse(r.out);
            if (!status["scan_running"].is_null()) return false;
            for (const auto& scan : status["scans"]) {
              if (scan["kind"] == "startup") return true;
            }
          } catch (const nlohmann::json::exception&) {
          }
          return false;
        },
        std::chrono::minutes(10));
    if (!ready || !child_->running()) throw std::runtime_error("the daemon did not start");
  }
  ~Daemon() {
    child_->signal(SIGTERM);
    child_->wait(std::chrono::seconds(10));
  }
  int pid() const { return child_->pid(); }

 private:
  std::optional<testing::Child> child_;
};

double settledRssBytes(int pid) {
  // Let the start-up scan's last writes and frees settle before reading.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  return static_cast<double>(residentKib(pid)) * 1024.0;
}

// Follows the events file as the daemon appends to it, woken by inotify, so that a record is
// noticed within microseconds of being written.
class EventsTail {
 public:
  explicit EventsTail(const std::string& path)
      : path_(path), fd_(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) {
    ::inotify_add_watch(fd_, path.c_str(), IN_MODIFY);
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    offset_ = static_cast<std::streamoff>(in.tellg());
  }
  ~EventsTail() { ::close(fd_); }

  bool waitFor(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      readNew();
      if (const size_t at = pending_.find(needle); at != std::string::npos) {
        pending_.erase(0, at + needle.size());
        return true;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
      char drain[4096];
      while (::read(fd_, drain, sizeof drain) > 0) {
      }
    }
  }

 private:
  void readNew() {
    std::ifstream in(path_, std::ios::binary);
    in.seekg(offset_);
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    offset_ += static_cast<std::streamoff>(chunk.size());
    pending_ += chunk;
  }
  std::string path_;
  int fd_;
  std::streamoff offset_ = 0;
  std::string pending_;
};

// Time from a write to a bare inotify watcher seeing it, in milliseconds.
double inotifyLatencyMs(const std::string& dir, const std::string& file) {
  const int fd = ::inotify_init1(IN_CLOEXEC);
  ::inotify_add_watch(fd, dir.c_str(), IN_CLOSE_WRITE);
  const auto start = Clock::now();
  {
    std::ofstream out(file, std::ios::app);
    out << "x";
  }
  char buffer[4096];
  (void)!::read(fd, buffer, sizeof buffer);
  const auto seen = Clock::now();
  ::close(fd);
  return std::chrono::duration<double, std::milli>(seen - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--agent")
      o.agent = next();
    else if (a == "--files") {
      o.sizes.clear();
      std::stringstream list(next());
      for (std::string item; std::getline(list, item, ',');)
        o.sizes.push_back(std::stoul(item));
    } else if (a == "--idle-seconds")
      o.idleSeconds = std::stoi(next());
    else if (a == "--edits")
      o.edits = std::stoi(next());
    else if (a == "--runs")
      o.runs = std::stoi(next());
    else if (a == "--seed")
      o.seed = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--json")
      o.json = next();
    else {
      std::cerr << "unknown option " << a << "\n";
      return 1;
    }
  }
  if (o.agent.empty()) {
    std::cerr << "--agent PATH is required\n";
    return 1;
  }
  Results results;
  std::sort(o.sizes.begin(), o.sizes.end());

  // Memory: the same daemon on an empty tree and on N files, for each N.
  std::vector<double> empty;
  std::vector<std::vector<double>> totals(o.sizes.size());
  for (int run = 0; run < o.runs; ++run) {
    {
      testing::TempDir emptyWork;
      testing::TempDir emptyRoot;
      emptyRoot.mkdir("tree");
      Daemon d(o, emptyWork, emptyRoot.path());
      empty.push_back(settledRssBytes(d.pid()));
    }
    for (size_t i = 0; i < o.sizes.size(); ++i) {
      testing::TempDir work;
      testing::TempDir root;
      generateTree(root.at("tree"), o.sizes[i], o.seed);
      Daemon d(o, work, root.path());
      totals[i].push_back(settledRssBytes(d.pid()));
    }
  }
  const double rss0 = median(empty);
  for (size_t i = 0; i < o.sizes.size(); ++i) {
    const std::string label = std::to_string(o.sizes[i] / 1000) + "k";
    results.add("daemon_rss_" + label, median(totals[i]) / (1 << 20), "MiB",
                spread(totals[i]) / (1 << 20), "daemon_rss_empty_tree", rss0 / (1 << 20));
    results.add("daemon_bytes_per_watched_file_" + label,
                (median(totals[i]) - rss0) / static_cast<double>(o.sizes[i]), "B");
  }
  if (o.sizes.size() > 1) {
    // What one more watched file costs, free of the fixed costs (SQLite's bounded page cache
    // fills up with the first few thousand files).
    const double slope = (median(totals.back()) - median(totals.front())) /
                         static_cast<double>(o.sizes.back() - o.sizes.front());
    results.add("daemon_bytes_per_added_watched_file", slope, "B");
  }
  const size_t files = o.sizes.back();
  const std::string label = std::to_string(files / 1000) + "k";

  // Idle CPU and event latency, on one daemon watching N files.
  testing::TempDir work;
  testing::TempDir root;
  generateTree(root.at("tree"), files, o.seed);
  Daemon d(o, work, root.path());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const double cpu0 = cpuSeconds(d.pid());
  const auto wall0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(o.idleSeconds));
  const double idleCpu = cpuSeconds(d.pid()) - cpu0;
  const double idleWall = std::chrono::duration<double>(Clock::now() - wall0).count();
  results.add("daemon_idle_cpu_seconds_" + label, idleCpu, "s", 0, "idle_wall_seconds", idleWall);

  std::vector<double> beyondSettle;
  std::vector<double> kernel;
  const auto edited = listFiles(root.at("tree"), static_cast<size_t>(o.edits));
  EventsTail tail(work.at("events.jsonl"));
  for (const auto& file : edited) {
    kernel.push_back(inotifyLatencyMs(file.substr(0, file.rfind('/')), file));
    const std::string resource = "file:" + file.substr(root.path().size());
    const auto start = Clock::now();
    {
      std::ofstream out(file, std::ios::app);
      out << "drift";
    }
    if (!tail.waitFor("\"resource\":\"" + resource + "\"", std::chrono::seconds(30))) {
      std::cerr << "no drift record for " << resource << "\n";
      return 1;
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    beyondSettle.push_back(std::max(0.0, ms - kSettleMs));
  }
  results.add("event_to_drift_p50_beyond_settle_ms", percentile(beyondSettle, 50), "ms", 0,
              "inotify_p50_ms", percentile(kernel, 50));
  results.add("event_to_drift_p99_beyond_settle_ms", percentile(beyondSettle, 99), "ms", 0,
              "inotify_p99_ms", percentile(kernel, 99));
  return results.write(o.json) ? 0 : 1;
}

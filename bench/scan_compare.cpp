// Benchmark: driftwatch's file scans against the physical limits and against AIDE, measured
// side by side in one run on the same generated tree (warm page cache).
//
//  1. Baseline scan (`driftwatch-agent baseline`: stat + SHA-256 of every file) against
//     SHA-256 of the same bytes in memory on two threads (the hash limit), `openssl dgst
//     -sha256` over the same files in two processes (hash + read limit), a stat-only `find`
//     walk, and `aide --init` with the same attributes and two workers.
//  2. No-change check (`driftwatch-agent check`, digest cache warm) against the stat-only walk
//     and `aide --check`; the deep check (`--no-cache`, every file read) against the baseline
//     scan.
//  3. Check after a known set of changes (content edits with mtime restored, chmod, chown,
//     deletes, adds, symlink retargets): time against `aide --check`, and whether both report
//     exactly the changed set.
//
// Usage: bench_scan_compare --agent PATH [--aide PATH] [--trees FILES:MB,...] [--runs R]
//                           [--changes K] [--seed X] [--json FILE]
//        bench_scan_compare --generate DIR [--trees FILES:MB] [--seed X]   (the tree only)

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "common/crypto/sha256.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::bench;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

struct TreeSize {
  size_t files = 0;
  uint64_t megabytes = 0;
};

struct Options {
  std::string agent;
  std::string aide;  // empty: AIDE figures are skipped
  std::vector<TreeSize> trees = {{10000, 200}};
  int runs = 3;
  int changes = 20;  // of each kind
  unsigned seed = 42;
  std::string json;
  std::string generateOnly;  // --generate DIR: write the first tree there and stop (to profile)
};

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Timed {
  double seconds = 0;
  double cpuSeconds = 0;  // less disturbed than wall time by other load on a shared machine
  double rssMib = 0;
  testing::ProcessResult result;
};

Timed timed(const std::vector<std::string>& argv, const testing::ProcessOptions& options = {}) {
  testing::ProcessOptions o = options;
  o.timeout = std::chrono::minutes(10);
  const auto start = Clock::now();
  Timed t;
  t.result = testing::runProcess(argv, o);
  t.seconds = secondsSince(start);
  t.rssMib = static_cast<double>(t.result.maxRssKb) / 1024.0;
  t.cpuSeconds = t.result.cpuSeconds;
  if (t.result.timedOut || t.result.signal != 0)
    throw std::runtime_error(argv[0] + " did not finish: " + t.result.err);
  return t;
}

// Medians and spreads of repeated measurements, by name.
class Samples {
 public:
  void add(const std::string& name, double value) { values_[name].push_back(value); }
  double median(const std::string& name) const { return bench::median(values_.at(name)); }
  double spread(const std::string& name) const { return bench::spread(values_.at(name)); }
  bool has(const std::string& name) const { return values_.count(name) != 0; }

 private:
  std::map<std::string, std::vector<double>> values_;
};

// Regular files and symlinks below `dir` (no symlink is followed), in a stable order.
struct Listing {
  std::vector<std::string> files;
  std::vector<std::string> links;
  std::vector<uint64_t> sizes;
};

Listing listTree(const std::string& dir) {
  Listing l;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_symlink()) {
      l.links.push_back(e.path().string());
    } else if (e.is_regular_file()) {
      l.files.push_back(e.path().string());
    }
  }
  std::sort(l.files.begin(), l.files.end());
  std::sort(l.links.begin(), l.links.end());
  for (const auto& f : l.files)
    l.sizes.push_back(fs::file_size(f));
  return l;
}

// The hash limit: SHA-256 over the same number of bytes, file by file, from memory on two
// threads (no reading, no system calls).
double hashInMemory(const std::vector<uint64_t>& sizes) {
  const std::string block(11 * 1024 * 1024, 'x');
  std::atomic<size_t> next{0};
  const auto work = [&] {
    Sha256 sha;
    for (size_t i = next++; i < sizes.size(); i = next++) {
      sha.reset();
      uint64_t left = sizes[i];
      while (left > 0) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(left, block.size()));
        sha.update(block.data(), n);
        left -= n;
      }
      (void)sha.finish();
    }
  };
  const auto start = Clock::now();
  std::thread other(work);
  work();
  other.join();
  return secondsSince(start);
}

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// AIDE with the attributes driftwatch records and compares, plus the times and inode data the
// issue's comparison asks for: sha256, permissions, inode, links, owner, group, size, mtime,
// ctime, link target and file type; two workers; a JSON report.
void writeAideConfig(const std::string& path, const std::string& work, const std::string& tree) {
  std::ofstream out(path);
  out << "database_in=file:" << work << "/aide.db\n"
      << "database_out=file:" << work << "/aide.db.new\n"
      << "gzip_dbout=no\n"
      << "num_workers=2\n"
      << "report_format=json\n"
      << "report_url=stdout\n"
      << "DW = sha256+p+i+n+u+g+s+m+c+l+ftype\n"
      << tree << " DW\n";
}

// The files (not directories) AIDE reported as added, removed or changed. AIDE also reports the
// directories whose entries changed (their mtime and ctime); driftwatch does not compare
// directory times, so directories are left out of the comparison.
std::set<std::string> aideChangedFiles(const std::string& report) {
  std::set<std::string> out;
  const auto j = nlohmann::json::parse(report);
  for (const char* section : {"added", "removed", "changed"}) {
    if (!j.contains(section)) continue;
    for (const auto& [path, flags] : j[section].items()) {
      const std::string f = flags.get<std::string>();
      if (!f.empty() && f[0] == 'd') continue;
      out.insert(path);
    }
  }
  return out;
}

std::set<std::string> driftwatchChangedFiles(const std::string& report) {
  std::set<std::string> out;
  const auto parsed = nlohmann::json::parse(report);
  for (const auto& d : parsed["drift"]) {
    const std::string id = d["resource"];
    if (id.rfind("file:", 0) == 0) out.insert(id.substr(5));
  }
  return out;
}

// Applies `k` changes of each kind to the tree; returns the paths changed.
std::set<std::string> applyChanges(const Listing& tree, int k, unsigned seed, bool root,
                                   std::vector<std::string>& notes) {
  std::mt19937_64 rng(seed + 1);
  std::vector<std::string> files = tree.files;
  std::shuffle(files.begin(), files.end(), rng);
  std::vector<std::string> links = tree.links;
  std::shuffle(links.begin(), links.end(), rng);
  std::set<std::string> changed;
  size_t at = 0;
  const auto take = [&] { return files.at(at++); };
  for (int i = 0; i < k; ++i) {
    // Content edit, same size, mtime put back: only the digest (and ctime) tell.
    const std::string path = take();
    struct stat st {};
    ::stat(path.c_str(), &st);
    const int fd = ::open(path.c_str(), O_RDWR);
    char c = 0;
    if (fd < 0 || ::pread(fd, &c, 1, 0) != 1) throw std::runtime_error("cannot edit " + path);
    c = c == 'Z' ? 'Y' : 'Z';
    if (::pwrite(fd, &c, 1, 0) != 1) throw std::runtime_error("cannot edit " + path);
    ::close(fd);
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    ::utimensat(AT_FDCWD, path.c_str(), times, 0);
    changed.insert(path);
  }
  for (int i = 0; i < k; ++i) {
    const std::string path = take();
    ::chmod(path.c_str(), 0600);
    changed.insert(path);
  }
  if (root) {
    for (int i = 0; i < k; ++i) {
      const std::string path = take();
      if (::lchown(path.c_str(), 1, 1) != 0) throw std::runtime_error("cannot chown " + path);
      changed.insert(path);
    }
  } else {
    notes.push_back("not root: ownership changes left out of the known set");
  }
  for (int i = 0; i < k; ++i) {
    const std::string path = take();
    ::unlink(path.c_str());
    changed.insert(path);
  }
  for (int i = 0; i < k; ++i) {
    const std::string path = take() + ".added";
    std::ofstream(path) << "added " << i << "\n";
    changed.insert(path);
  }
  for (int i = 0; i < k && i < static_cast<int>(links.size()); ++i) {
    const std::string& path = links[static_cast<size_t>(i)];
    ::unlink(path.c_str());
    if (::symlink("retargeted.conf", path.c_str()) != 0)
      throw std::runtime_error("cannot retarget " + path);
    changed.insert(path);
  }
  return changed;
}

std::string label(const TreeSize& t) {
  std::ostringstream s;
  s << t.files << " files, " << t.megabytes << " MB";
  return s.str();
}

void runTree(const Options& o, const TreeSize& size, Results& results) {
  testing::TempDir work;
  const std::string tree = work.at("tree");
  std::cerr << "generating " << label(size) << " (seed " << o.seed << ")...\n";
  const uint64_t bytes = generateTree(tree, size.files, o.seed, size.megabytes * 1000 * 1000);
  const Listing listing = listTree(tree);
  std::cerr << "  " << listing.files.size() << " files, " << listing.links.size() << " symlinks, "
            << bytes / 1000000 << " MB\n";
  {
    std::ofstream list(work.at("files.list"), std::ios::binary);
    for (const auto& f : listing.files)
      list << f << '\0';
  }
  work.write("p.yaml", "name: bench\nfiles:\n  - path: " + tree +
                           "\n    recursive: true\n    attributes: [type, mode, owner, group, "
                           "size, sha256, target]\n");
  const std::string aideConf = work.at("aide.conf");
  const bool withAide = !o.aide.empty();
  if (withAide) writeAideConfig(aideConf, work.path(), tree);
  // Every check keeps its digest cache here (not in /var/cache).
  testing::ProcessOptions env;
  env.env.push_back("DRIFTWATCH_CHECK_CACHE=" + work.at("cache/check.db"));

  // Warm the page cache (the figures are for a warm cache), and let the tree age past the
  // digest cache's racy window.
  (void)timed(
      {"/bin/sh", "-c", "xargs -0 cat < " + shellQuote(work.at("files.list")) + " > /dev/null"});
  std::this_thread::sleep_for(std::chrono::seconds(3));

  const std::string name = label(size);
  const std::string statWalk = "find " + shellQuote(tree) + " -printf '%s\\n' > /dev/null";
  const std::string openssl = "xargs -0 -P2 -n 2000 openssl dgst -sha256 < " +
                              shellQuote(work.at("files.list")) + " > /dev/null";
  Samples s;
  std::cerr << "  figure 1: baseline scan (" << o.runs << " runs)\n";
  for (int r = 0; r < o.runs; ++r) {
    s.add("walk", timed({"/bin/sh", "-c", statWalk}).seconds);
    s.add("memory", hashInMemory(listing.sizes));
    const auto ssl = timed({"/bin/sh", "-c", openssl});
    s.add("openssl", ssl.seconds);
    s.add("openssl_cpu", ssl.cpuSeconds);
    const auto base = timed({o.agent, "baseline", "--policy", work.at("p.yaml"), "--out",
                             work.at("b.txt"), "--threads", "2"},
                            env);
    if (base.result.exitCode != 0) throw std::runtime_error("baseline failed: " + base.result.err);
    s.add("baseline", base.seconds);
    s.add("baseline_cpu", base.cpuSeconds);
    s.add("baseline_rss", base.rssMib);
    if (withAide) {
      ::unlink(work.at("aide.db.new").c_str());
      const auto init = timed({o.aide, "--config", aideConf, "--init"});
      if (init.result.exitCode != 0) throw std::runtime_error("aide --init: " + init.result.err);
      s.add("aide_init", init.seconds);
      s.add("aide_init_cpu", init.cpuSeconds);
      s.add("aide_init_rss", init.rssMib);
    }
  }
  if (withAide)
    fs::copy_file(work.at("aide.db.new"), work.at("aide.db"), fs::copy_options::overwrite_existing);

  std::cerr << "  figure 2: no-change check\n";
  // Two threads, like AIDE's two workers and the two openssl processes.
  const std::vector<std::string> check = {
      o.agent,          "check",    "--policy", work.at("p.yaml"), "--baseline",
      work.at("b.txt"), "--format", "json",     "--threads",       "2"};
  for (int r = 0; r < o.runs; ++r) {
    const auto quick = timed(check, env);
    if (quick.result.exitCode != 0)
      throw std::runtime_error("check found drift: " + quick.result.err);
    s.add("check", quick.seconds);
    s.add("check_cpu", quick.cpuSeconds);
    s.add("check_rss", quick.rssMib);
    std::vector<std::string> deepArgs = check;
    deepArgs.push_back("--no-cache");
    const auto deep = timed(deepArgs, env);
    s.add("deep", deep.seconds);
    s.add("deep_rss", deep.rssMib);
    const auto walk = timed({"/bin/sh", "-c", statWalk});
    s.add("walk2", walk.seconds);
    s.add("walk2_cpu", walk.cpuSeconds);
    if (withAide) {
      const auto aideCheck = timed({o.aide, "--config", aideConf, "--check"});
      if (aideCheck.result.exitCode != 0)
        throw std::runtime_error("aide --check found changes in an unchanged tree");
      s.add("aide_check", aideCheck.seconds);
      s.add("aide_check_cpu", aideCheck.cpuSeconds);
      s.add("aide_check_rss", aideCheck.rssMib);
    }
  }

  std::cerr << "  figure 3: check after known changes\n";
  std::vector<std::string> notes;
  const std::set<std::string> expected =
      applyChanges(listing, o.changes, o.seed, ::geteuid() == 0, notes);
  std::set<std::string> dwFound, aideFound;
  for (int r = 0; r < o.runs; ++r) {
    const auto after = timed(check, env);
    if (after.result.exitCode != 2) throw std::runtime_error("check missed the changes");
    s.add("after", after.seconds);
    dwFound = driftwatchChangedFiles(after.result.out);
    if (withAide) {
      const auto aideAfter = timed({o.aide, "--config", aideConf, "--check"});
      if (aideAfter.result.exitCode == 0 || aideAfter.result.exitCode >= 14)
        throw std::runtime_error("aide --check after changes: exit " +
                                 std::to_string(aideAfter.result.exitCode));
      s.add("aide_after", aideAfter.seconds);
      aideFound = aideChangedFiles(aideAfter.result.out);
    }
  }

  const auto row = [&](const std::string& what, const std::string& key, const std::string& unit,
                       const std::string& refName, const std::string& refKey) {
    if (!s.has(key) || (!refKey.empty() && !s.has(refKey))) return;
    results.add(what + ", " + name, s.median(key), unit, s.spread(key),
                refKey.empty() ? "" : refName, refKey.empty() ? 0 : s.median(refKey));
  };
  row("baseline scan", "baseline", "s", "openssl dgst -sha256, 2 processes", "openssl");
  row("baseline scan", "baseline", "s", "aide --init, 2 workers", "aide_init");
  row("baseline scan", "baseline", "s", "SHA-256 in memory, 2 threads", "memory");
  row("baseline scan", "baseline", "s", "stat-only walk (find)", "walk");
  row("baseline scan CPU time", "baseline_cpu", "s", "openssl dgst -sha256, 2 processes",
      "openssl_cpu");
  row("baseline scan CPU time", "baseline_cpu", "s", "aide --init, 2 workers", "aide_init_cpu");
  row("baseline scan peak memory", "baseline_rss", "MiB", "aide --init", "aide_init_rss");
  row("no-change check", "check", "s", "stat-only walk (find)", "walk2");
  row("no-change check", "check", "s", "aide --check", "aide_check");
  row("no-change check CPU time", "check_cpu", "s", "stat-only walk (find)", "walk2_cpu");
  row("no-change check CPU time", "check_cpu", "s", "aide --check", "aide_check_cpu");
  row("no-change check peak memory", "check_rss", "MiB", "aide --check", "aide_check_rss");
  row("deep check (--no-cache)", "deep", "s", "baseline scan", "baseline");
  row("deep check peak memory", "deep_rss", "MiB", "", "");
  row("check after known changes", "after", "s", "aide --check", "aide_after");

  // Figure 3's sets: what each tool reported against what was changed.
  const auto sameAs = [&](const std::set<std::string>& found) {
    size_t missed = 0, extra = 0;
    for (const auto& p : expected)
      missed += found.count(p) == 0;
    for (const auto& p : found)
      extra += expected.count(p) == 0;
    return std::pair{missed, extra};
  };
  const auto [dwMissed, dwExtra] = sameAs(dwFound);
  results.add("changes reported by driftwatch, " + name, static_cast<double>(dwFound.size()),
              "entries", 0, "changes made", static_cast<double>(expected.size()));
  results.add("changes driftwatch missed / reported wrongly, " + name,
              static_cast<double>(dwMissed + dwExtra), "entries");
  if (withAide) {
    const auto [aMissed, aExtra] = sameAs(aideFound);
    results.add("changes reported by aide (files), " + name, static_cast<double>(aideFound.size()),
                "entries", 0, "changes made", static_cast<double>(expected.size()));
    results.add("changes aide missed / reported wrongly, " + name,
                static_cast<double>(aMissed + aExtra), "entries");
    results.add("driftwatch and aide report the same set, " + name,
                dwFound == aideFound ? 1.0 : 0.0, "yes=1");
  }
  for (const auto& n : notes)
    std::cerr << "  note: " << n << "\n";
}

std::vector<TreeSize> parseTrees(const std::string& text) {
  std::vector<TreeSize> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const size_t colon = item.find(':');
    if (colon == std::string::npos) throw std::runtime_error("--trees takes FILES:MB,...");
    out.push_back({std::stoul(item.substr(0, colon)), std::stoull(item.substr(colon + 1))});
  }
  return out;
}

Options parseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--agent")
      o.agent = next();
    else if (a == "--aide")
      o.aide = next();
    else if (a == "--trees")
      o.trees = parseTrees(next());
    else if (a == "--runs")
      o.runs = std::stoi(next());
    else if (a == "--changes")
      o.changes = std::stoi(next());
    else if (a == "--seed")
      o.seed = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--json")
      o.json = next();
    else if (a == "--generate")
      o.generateOnly = next();
    else
      throw std::runtime_error("unknown argument " + a);
  }
  if (o.agent.empty() && o.generateOnly.empty())
    throw std::runtime_error("--agent PATH is required");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parseArgs(argc, argv);
    if (!o.generateOnly.empty()) {
      const auto& t = o.trees.front();
      const uint64_t bytes = generateTree(o.generateOnly, t.files, o.seed, t.megabytes * 1000000);
      std::cerr << "wrote " << bytes / 1000000 << " MB into " << o.generateOnly << "\n";
      return 0;
    }
    if (o.aide.empty()) std::cerr << "aide not given (--aide): its figures are skipped\n";
    Results results;
    for (const auto& t : o.trees)
      runTree(o, t, results);
    return results.write(o.json) ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "bench_scan_compare: " << e.what() << "\n";
    return 1;
  }
}

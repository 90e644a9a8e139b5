#include "agent/daemon/daemon.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <vector>

#include <fcntl.h>
#include <malloc.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/check/check_runner.h"
#include "agent/collectors/account_collector.h"
#include "agent/collectors/dpkg_collector.h"
#include "agent/collectors/file_scanner.h"
#include "agent/collectors/root_fs.h"
#include "agent/collectors/sysctl_collector.h"
#include "agent/collectors/systemd_collector.h"
#include "agent/daemon/event_log.h"
#include "agent/loop/work_pool.h"
#include "agent/report/drift_json.h"
#include "agent/store/state_db.h"
#include "agent/watcher/pending_set.h"
#include "agent/watcher/watch_table.h"
#include "common/base/escape.h"
#include "common/base/strings.h"
#include "common/base/time.h"
#include "common/base/unique_fd.h"
#include "common/baseline/baseline.h"
#include "common/compare/compare.h"
#include "common/compare/identity.h"
#include "common/model/state_codec.h"
#include "common/policy/file_rule_index.h"
#include "common/policy/policy.h"

namespace driftwatch::agent {

using model::FileObservation;
using model::Presence;
using model::ResourceId;
using model::ResourceKind;
using policy::FileRule;
using json = nlohmann::ordered_json;

namespace {

constexpr size_t kChunk = 256;       // observations handed to the loop at a time
constexpr size_t kMaxInFlight = 32;  // single-path observations running at once
constexpr auto kAliveEvery = std::chrono::seconds(10);
constexpr std::string_view kAbsent = "absent";
constexpr std::string_view kUnobserved = "unobserved";

// The policy and the rule index built on it: replaced as a whole on reload, shared read-only
// with work in flight. The baseline itself is kept in the state database (see StateDb).
struct PolicySnapshot {
  policy::Policy policy;
  bool hasBaseline = false;
  std::unique_ptr<policy::FileRuleIndex> index;

  const FileRule* ownerOf(std::string_view path, bool isDir) const {
    return index->ownerOf(path, isDir);
  }
  // True when `path` lies on the way to a rule's path (a directory whose changes can create,
  // move or delete a rule's root).
  bool leadsToRule(std::string_view path) const {
    for (const FileRule& r : policy.files) {
      if (path == "/" ||
          (r.path.size() > path.size() && std::string_view(r.path).starts_with(path) &&
           r.path[path.size()] == '/')) {
        return true;
      }
    }
    return false;
  }
};

struct LoadedPolicy {
  std::shared_ptr<const PolicySnapshot> snapshot;
  std::optional<baseline::Baseline> baseline;  // to be stored, then dropped from memory
};

Result<LoadedPolicy> loadPolicyAndBaseline(const AgentConfig& config) {
  auto snap = std::make_shared<PolicySnapshot>();
  auto p = policy::loadPolicy(config.policy);
  if (!p.ok()) return p.error();
  snap->policy = std::move(p).value();
  LoadedPolicy loaded;
  if (!config.baseline.empty()) {
    auto b = baseline::loadBaseline(config.baseline);
    if (!b.ok()) return b.error();
    loaded.baseline = std::move(b).value();
  }
  if (auto s = validateBaselineFor(snap->policy, loaded.baseline ? &*loaded.baseline : nullptr,
                                   config.baseline);
      !s.ok()) {
    return s.error();
  }
  snap->hasBaseline = loaded.baseline.has_value();
  snap->index = std::make_unique<policy::FileRuleIndex>(snap->policy.files);
  loaded.snapshot = std::move(snap);
  return loaded;
}

std::string fileId(std::string_view path) {
  return ResourceId{ResourceKind::kFile, std::string(path)}.str();
}

// Stat data of a regular file as stored for quick rescans ("" for anything else).
std::string encodeStamp(const model::StatStamp& st, uint64_t size) {
  return std::to_string(st.dev) + ":" + std::to_string(st.ino) + ":" + std::to_string(size) + ":" +
         std::to_string(st.mtime.sec) + "." + std::to_string(st.mtime.nsec) + ":" +
         std::to_string(st.ctime.sec) + "." + std::to_string(st.ctime.nsec);
}

std::string stampOf(const FileObservation& obs) {
  if (obs.presence != Presence::kPresent || obs.attrs.type != model::FileType::kFile) return {};
  return encodeStamp(obs.stamp, obs.attrs.size);
}

std::optional<Sha256Digest> storedDigest(std::string_view state) {
  const size_t at = state.find("\tsha256=");
  if (at == std::string_view::npos) return std::nullopt;
  return sha256FromHex(state.substr(at + 8, 64));
}

// The stored state of a file observation; nullopt for "absent" (absent resources have no row).
std::optional<std::string> stateText(const FileObservation& obs) {
  if (obs.presence == Presence::kAbsent) return std::nullopt;
  return model::encodeState(obs);
}

// A read-only connection shared by the work pool: digests of unchanged files, and the stored
// ids a subtree scan compares its walk with.
class SharedReader final : public HashCache {
 public:
  explicit SharedReader(StateDb db) : db_(std::move(db)) {}

  std::optional<Sha256Digest> lookup(const std::string& path, const model::StatStamp& stamp,
                                     uint64_t size) override {
    std::lock_guard lock(mutex_);
    auto row = db_.resource(fileId(path));
    if (!row.ok() || !*row || (*row)->stamp != encodeStamp(stamp, size)) return std::nullopt;
    return storedDigest((*row)->state);
  }

  std::optional<StoredResource> resource(const std::string& id) {
    std::lock_guard lock(mutex_);
    auto row = db_.resource(id);
    if (!row.ok()) return std::nullopt;
    return *row;
  }

  void forEachBaselineBelow(std::string_view root,
                            const std::function<void(const baseline::BaselineEntry&)>& fn) {
    std::lock_guard lock(mutex_);
    (void)db_.forEachBaselineBelow(root, fn);
  }

  // Streams the stored ids under `prefix` (no list of 100,000 ids in memory at once).
  void forEachIdUnder(std::string_view prefix, const std::function<void(const std::string&)>& fn) {
    std::lock_guard lock(mutex_);
    (void)db_.forEachResourceId(prefix, fn);
  }

 private:
  std::mutex mutex_;
  StateDb db_;  // guarded by mutex_
};

// A 64-bit digest of a path, so that a scan remembers 100,000 seen paths in under a megabyte.
uint64_t pathKey(std::string_view path) {
  return std::hash<std::string_view>{}(path);
}

struct Candidate {
  FileObservation obs;
  const FileRule* rule = nullptr;
  bool forceDrift = false;  // compute drift even if the state did not change
};

// The state of one setting resource as polled.
struct SettingResult {
  std::string id;
  std::string state;  // encoded; "absent" for a missing user or group
  std::optional<model::DriftItem> drift;
};

std::string lockPath(const AgentConfig& c) {
  return c.stateDir + "/agent.lock";
}

std::string isoTime(int64_t unix) {
  return formatUtc(std::chrono::system_clock::time_point(std::chrono::seconds(unix)));
}

// True when `path` is `dir` or lies below it.
bool isAtOrBelow(std::string_view dir, std::string_view path) {
  if (dir == "/") return !path.empty() && path.front() == '/';
  return path.starts_with(dir) && (path.size() == dir.size() || path[dir.size()] == '/');
}

}  // namespace

// ---- the daemon --------------------------------------------------------------------------

class Daemon::Impl {
 public:
  Impl(EventLoop& loop, AgentConfig config) : loop_(loop), config_(std::move(config)) {}

  ~Impl() {
    cancel_ = true;
    if (pool_) pool_->stop();
  }

  Status start();
  int exitCode() const { return exitCode_; }

 private:
  struct FullScan {
    std::string kind;
    int64_t startedAt = 0;
    size_t jobsLeft = 0;
    int64_t entries = 0;
    int64_t changes = 0;
    std::vector<int64_t> gapsToClose;
  };

  // -- start-up and shutdown --
  Status lockStateDir();
  void announcePid();
  void onSignalTerm();
  void reload();
  void shutdown();

  // -- events --
  void onWatchEvents(std::vector<WatchEvent>& events);
  void onOverflow();
  void schedulePending();
  void processPending();

  // -- observation --
  void observeEntry(const std::string& path);
  void scanSubtree(const std::string& path, const FileRule& rule, FullScan* full);
  void startFullScan(const std::string& kind, bool deep, std::optional<int64_t> gap);
  void finishScanJob(FullScan* full);
  void applyCandidates(std::vector<Candidate>& candidates, FullScan* full);
  bool applyObservation(const FileRule* rule, const FileObservation& obs, bool forceDrift,
                        int64_t now);
  void forgetResource(const std::string& id, const std::string& why, int64_t now);
  void updateDrift(const std::string& id, const std::optional<model::DriftItem>& item, int64_t now);
  void pollSettings();
  void applySettings(std::vector<SettingResult>& results,
                     std::shared_ptr<const compare::IdentityTable> ids);
  void pollRefusedDirectories();
  void recomputeStoredDrift();
  std::optional<baseline::BaselineEntry> baselineFor(const FileRule& rule, std::string_view path);
  Status storeBaseline(const baseline::Baseline* baseline);

  // -- bookkeeping --
  void flushEvents();
  void queueEvent(json line);
  void recordGap(std::string_view kind, std::string_view scope, std::string_view detail,
                 int64_t startedAt, std::optional<int64_t>* keepId);
  void closeGap(std::optional<int64_t>& id);
  void checkWatchLimit();
  void writeAlive();
  json hostJson() const { return host_.empty() ? json(nullptr) : json(escapeBytes(host_)); }
  void fatal(const Error& error);

  EventLoop& loop_;
  AgentConfig config_;
  int exitCode_ = 0;
  std::atomic<bool> cancel_{false};
  UniqueFd lockFd_;
  std::optional<EventLog> log_;
  std::optional<StateDb> db_;
  std::shared_ptr<SharedReader> reader_;
  std::optional<RootFs> root_;
  std::string host_;
  std::shared_ptr<const PolicySnapshot> snap_;
  std::shared_ptr<const compare::IdentityTable> identities_ =
      std::make_shared<compare::IdentityTable>();
  std::unique_ptr<InotifyWatcher> watcher_;
  std::unique_ptr<WatchTable> watches_;
  PendingSet pending_;
  std::unordered_set<std::string> inFlight_;
  std::unique_ptr<IoBudget> io_;
  std::unique_ptr<CpuBudget> cpu_;
  std::unique_ptr<FullScan> fullScan_;
  bool fullScanRequested_ = false;
  std::optional<int64_t> overflowGap_;
  std::optional<int64_t> refusedGap_;
  bool stopping_ = false;

  std::unique_ptr<Timer> settleTimer_;
  std::unique_ptr<Timer> pollTimer_;
  std::unique_ptr<Timer> rescanTimer_;
  std::unique_ptr<Timer> deepTimer_;
  std::unique_ptr<Timer> aliveTimer_;
  std::vector<std::unique_ptr<SignalWatch>> signals_;
  // Last: destroyed first, so no work outlives what it uses.
  std::unique_ptr<WorkPool> pool_;
};

Status Daemon::Impl::lockStateDir() {
  if (::mkdir(config_.stateDir.c_str(), 0700) != 0 && errno != EEXIST) {
    return osError(errno, "cannot create the state directory", config_.stateDir);
  }
  lockFd_.reset(::open(lockPath(config_).c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lockFd_.valid()) return osError(errno, "cannot open the lock file", lockPath(config_));
  if (::flock(lockFd_.get(), LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    (void)!::pread(lockFd_.get(), pid, sizeof pid - 1, 0);
    return makeError(ErrorCode::kConflict,
                     "another driftwatch-agent (pid " + std::string(trim(std::string_view(pid))) +
                         ") uses this state directory",
                     config_.stateDir);
  }
  (void)!::ftruncate(lockFd_.get(), 0);  // the pid is written once the state is set up
  return {};
}

void Daemon::Impl::announcePid() {
  // Status reads this pid: writing it only now means that a status showing this pid also
  // shows this run's scans, never the previous run's.
  const std::string pid = std::to_string(::getpid()) + "\n";
  (void)!::pwrite(lockFd_.get(), pid.data(), pid.size(), 0);
}

Status Daemon::Impl::start() {
  auto loaded = loadPolicyAndBaseline(config_);
  if (!loaded.ok()) return loaded.error();
  snap_ = loaded->snapshot;
  auto root = RootFs::open(config_.root);
  if (!root.ok()) return root.error();
  root_.emplace(std::move(root).value());
  host_ = observedHostName(*root_).value_or("");
  if (auto s = lockStateDir(); !s.ok()) return s;
  auto log = EventLog::open(config_.eventsFile);
  if (!log.ok()) return log.error();
  log_.emplace(std::move(log).value());
  auto db = StateDb::openForWriting(config_.stateDir);
  if (!db.ok()) return db.error();
  db_.emplace(std::move(db).value());
  auto readerDb = StateDb::openForReading(config_.stateDir);
  if (!readerDb.ok()) return readerDb.error();
  reader_ = std::make_shared<SharedReader>(std::move(readerDb).value());
  if (auto s = storeBaseline(loaded->baseline ? &*loaded->baseline : nullptr); !s.ok()) return s;
  loaded->baseline.reset();
  ::malloc_trim(0);

  loop_.setErrorHook([this](const std::string& what) {
    log_->log("error", "internal error, stopping: " + what);
    exitCode_ = 1;
  });
  // Lines queued by a previous run that died before writing them.
  flushEvents();

  auto watcher = InotifyWatcher::create(
      loop_, [this](std::vector<WatchEvent>& events) { onWatchEvents(events); });
  if (!watcher.ok()) return watcher.error();
  watcher_ = std::move(watcher).value();
  watches_ = std::make_unique<WatchTable>(*watcher_);
  io_ = std::make_unique<IoBudget>(config_.ioBudgetBytesPerSecond,
                                   std::max<uint64_t>(config_.ioBudgetBytesPerSecond / 4, 1 << 20),
                                   &cancel_);
  cpu_ = std::make_unique<CpuBudget>(config_.cpuShare, &cancel_);
  pool_ = std::make_unique<WorkPool>(loop_, config_.threads);
  pool_->setAfterDrain([this] { flushEvents(); });

  settleTimer_ = std::make_unique<Timer>(loop_);
  pollTimer_ = std::make_unique<Timer>(loop_);
  rescanTimer_ = std::make_unique<Timer>(loop_);
  deepTimer_ = std::make_unique<Timer>(loop_);
  aliveTimer_ = std::make_unique<Timer>(loop_);
  signals_.push_back(std::make_unique<SignalWatch>(loop_, SIGTERM, [this] { onSignalTerm(); }));
  signals_.push_back(std::make_unique<SignalWatch>(loop_, SIGINT, [this] { onSignalTerm(); }));
  signals_.push_back(std::make_unique<SignalWatch>(loop_, SIGHUP, [this] { reload(); }));

  // A previous run means a window in which nothing was watched: from its last sign of life
  // until the start-up rescan has compared the disk with the stored state.
  const int64_t now = unixNow();
  std::optional<int64_t> restartGap;
  auto lastAlive = db_->meta("last_alive");
  if (lastAlive.ok() && *lastAlive) {
    auto clean = db_->meta("clean_shutdown");
    const bool wasClean = clean.ok() && *clean && **clean == "1";
    const int64_t since = std::stoll(**lastAlive);
    recordGap("restart", "*",
              wasClean ? "the agent was stopped" : "the agent stopped without a clean shutdown",
              since, &restartGap);
  }
  (void)db_->setMeta("clean_shutdown", "0");
  // The start-up scan on record belongs to the previous run; this run's replaces it when done.
  (void)db_->removeScan("startup");
  (void)db_->setMeta("started_at", std::to_string(now));
  (void)db_->setMeta("pid", std::to_string(::getpid()));
  (void)db_->setMeta("policy", snap_->policy.name);
  (void)db_->setMeta("policy_file", config_.policy);
  (void)db_->setMeta("root", config_.root);
  (void)db_->setMeta("host", host_);
  writeAlive();
  log_->log("info", "driftwatch-agent started: policy " + snap_->policy.name + ", " +
                        std::to_string(snap_->policy.files.size()) + " file rules, state in " +
                        config_.stateDir);

  // The policy may have changed while the agent was down: judge the stored state again first.
  recomputeStoredDrift();
  flushEvents();
  startFullScan("startup", false, restartGap);
  announcePid();
  pollSettings();

  pollTimer_->start(config_.pollInterval, config_.pollInterval, [this] {
    pollSettings();
    pollRefusedDirectories();
  });
  rescanTimer_->start(config_.rescanInterval, config_.rescanInterval,
                      [this] { startFullScan("quick", false, {}); });
  deepTimer_->start(config_.deepRescanInterval, config_.deepRescanInterval,
                    [this] { startFullScan("deep", true, {}); });
  aliveTimer_->start(kAliveEvery, kAliveEvery, [this] { writeAlive(); });
  return {};
}

void Daemon::Impl::fatal(const Error& error) {
  log_->log("error", error.describe());
  exitCode_ = 1;
  shutdown();
}

// ---- signals -----------------------------------------------------------------------------

void Daemon::Impl::onSignalTerm() {
  log_->log("info", "stopping");
  shutdown();
}

void Daemon::Impl::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  cancel_ = true;
  for (auto* t : {settleTimer_.get(), pollTimer_.get(), rescanTimer_.get(), deepTimer_.get(),
                  aliveTimer_.get()}) {
    if (t != nullptr) t->stop();
  }
  // Running work sees the cancel flag and ends within a read; queued work is dropped. What
  // it did not finish is found again by the next start's rescan.
  if (pool_) pool_->stop();
  flushEvents();
  if (db_) {
    (void)db_->setMeta("last_alive", std::to_string(unixNow()));
    (void)db_->setMeta("clean_shutdown", "1");
  }
  // Handles are closed when the daemon is destroyed, after the loop returns: this may run
  // inside one of their callbacks.
  loop_.stop();
}

void Daemon::Impl::reload() {
  auto loaded = loadPolicyAndBaseline(config_);
  if (!loaded.ok()) {
    // A broken policy never replaces a good one.
    log_->log("error", "reload refused, keeping the current policy: " + loaded.error().describe());
    return;
  }
  if (auto s = storeBaseline(loaded->baseline ? &*loaded->baseline : nullptr); !s.ok())
    return fatal(s.error());
  loaded->baseline.reset();
  snap_ = loaded->snapshot;
  (void)db_->setMeta("policy", snap_->policy.name);
  log_->log("info", "policy reloaded: " + snap_->policy.name);
  recomputeStoredDrift();
  const auto current = snap_;
  watches_->unwatchUnless([current](const std::string& dir) {
    return current->ownerOf(dir, true) != nullptr || current->index->ruleAt(dir) != nullptr ||
           current->leadsToRule(dir);
  });
  flushEvents();
  pollSettings();
  startFullScan("reload", false, {});
}

// ---- events from the kernel --------------------------------------------------------------

void Daemon::Impl::onWatchEvents(std::vector<WatchEvent>& events) {
  const uint64_t now = loop_.nowMs();
  const auto& snap = *snap_;
  for (const WatchEvent& e : events) {
    if ((e.mask & IN_Q_OVERFLOW) != 0) {
      onOverflow();
      continue;
    }
    const auto dir = watches_->pathOf(e.wd);
    if (!dir) continue;  // a watch removed a moment ago
    if ((e.mask & IN_IGNORED) != 0) {
      // The directory was deleted, moved away or unmounted: look again at what it held.
      watches_->forget(e.wd);
      pending_.add(*dir, PendingSet::Scope::kSubtree, now);
      continue;
    }
    if (e.name.empty()) {
      // About the watched directory itself. A directory watched only because it leads to a
      // rule's path matters only when it goes away.
      const bool gone = (e.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0;
      if (gone) {
        pending_.add(*dir, PendingSet::Scope::kSubtree, now);
      } else if (snap.ownerOf(*dir, true) != nullptr) {
        pending_.add(*dir, PendingSet::Scope::kEntry, now);
      }
      continue;
    }
    const std::string path = *dir == "/" ? "/" + e.name : *dir + "/" + e.name;
    const bool isDir = (e.mask & IN_ISDIR) != 0;
    if (snap.ownerOf(path, isDir) == nullptr && !snap.leadsToRule(path)) continue;  // not ours
    const bool treeChange =
        isDir && (e.mask & (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)) != 0;
    pending_.add(path,
                 treeChange || snap.leadsToRule(path) ? PendingSet::Scope::kSubtree
                                                      : PendingSet::Scope::kEntry,
                 now);
  }
  checkWatchLimit();
  schedulePending();
}

void Daemon::Impl::onOverflow() {
  // Events were lost: nothing can be trusted until everything watched was looked at again.
  if (!overflowGap_) {
    log_->log("warning", "the kernel's inotify queue overflowed: rescanning everything watched");
    recordGap("overflow", "*", "inotify queue overflow (events lost); rescanning", unixNow(),
              &overflowGap_);
  }
  startFullScan("overflow", false, overflowGap_);
}

void Daemon::Impl::schedulePending() {
  if (stopping_) return;
  const uint64_t settle = static_cast<uint64_t>(config_.settle.count());
  const uint64_t maxDelay = static_cast<uint64_t>(config_.maxSettle.count());
  const auto next = pending_.nextReadyAt(settle, maxDelay);
  if (!next) return;
  const uint64_t now = loop_.nowMs();
  const auto delay = std::chrono::milliseconds(*next > now ? *next - now : 0);
  settleTimer_->start(delay, std::chrono::milliseconds(0), [this] { processPending(); });
}

void Daemon::Impl::processPending() {
  const uint64_t now = loop_.nowMs();
  auto ready = pending_.takeReady(now, static_cast<uint64_t>(config_.settle.count()),
                                  static_cast<uint64_t>(config_.maxSettle.count()));
  bool deferred = false;
  const auto& snap = *snap_;
  for (auto& item : ready) {
    if (inFlight_.contains(item.path) || pool_->inFlight() >= kMaxInFlight) {
      // Busy: look again shortly (the path's newest state is what will be read).
      pending_.add(item.path, item.scope, now);
      deferred = true;
      continue;
    }
    if (item.scope == PendingSet::Scope::kEntry) {
      observeEntry(item.path);
      continue;
    }
    if (const FileRule* owner = snap.ownerOf(item.path, true);
        owner != nullptr && owner->recursive) {
      scanSubtree(item.path, *owner, nullptr);
    } else {
      if (owner != nullptr) observeEntry(item.path);
      // A directory on the way to rules' paths changed: set those rules up again.
      for (const FileRule& rule : snap.policy.files) {
        if (!isAtOrBelow(item.path, rule.path) || inFlight_.contains(rule.path)) continue;
        scanSubtree(rule.path, rule, nullptr);
      }
      if (owner == nullptr) watches_->unwatchUnder(item.path);
    }
  }
  if (deferred && !settleTimer_->active()) {
    settleTimer_->start(config_.settle, std::chrono::milliseconds(0), [this] { processPending(); });
  } else {
    schedulePending();
  }
}

// ---- observing ---------------------------------------------------------------------------

void Daemon::Impl::observeEntry(const std::string& path) {
  inFlight_.insert(path);
  auto snap = snap_;
  auto result = std::make_shared<std::optional<Candidate>>();
  pool_->submit(
      [this, path, snap, result] {
        ScanOptions options;
        options.threads = 1;
        options.cache = reader_.get();
        options.io = io_.get();
        options.cpu = cpu_.get();
        options.cancel = &cancel_;
        options.maxHashBytes = config_.maxHashBytes;
        const FileRule* rule = snap->ownerOf(path, false);
        if (rule == nullptr) rule = snap->ownerOf(path, true);
        if (rule == nullptr) {
          *result = Candidate{FileObservation{}, nullptr, false};
          (*result)->obs.path = path;
          return;
        }
        FileScanner scanner(*root_, *snap->index, options);
        FileObservation obs = scanner.observe(path, *rule);
        const bool isDir =
            obs.presence == Presence::kPresent && obs.attrs.type == model::FileType::kDir;
        // With the real type known, the owner may differ (directory-only ignore patterns).
        const FileRule* owner = snap->ownerOf(path, isDir);
        const bool isRoot = owner != nullptr && path == owner->path;
        *result = Candidate{std::move(obs), owner, isRoot};
      },
      [this, path, snap, result] {
        inFlight_.erase(path);
        if (stopping_ || !result->has_value() || snap != snap_) return;
        auto& c = **result;
        const int64_t now = unixNow();
        auto tx = db_->begin();
        if (!tx.ok()) return fatal(tx.error());
        if (c.rule == nullptr) {
          forgetResource(fileId(path), "no longer covered by the policy", now);
        } else {
          applyObservation(c.rule, c.obs, c.forceDrift || c.obs.path == c.rule->path, now);
        }
        if (auto s = tx->commit(); !s.ok()) return fatal(s.error());
      });
}

// Observes everything below `path` for `rule` (watching each directory before listing it) and
// hands the differences with the stored state to the loop, in chunks.
void Daemon::Impl::scanSubtree(const std::string& path, const FileRule& rule, FullScan* full) {
  inFlight_.insert(path);
  auto snap = snap_;
  const bool deep = full != nullptr && full->kind == "deep";
  const bool ruleLevel = path == rule.path;
  auto counted = std::make_shared<int64_t>(0);
  pool_->submit(
      [this, path, snap, rulePtr = &rule, deep, ruleLevel, full, counted] {
        const FileRule& scanRule = *rulePtr;
        class Sink final : public FileObservationSink {
         public:
          Sink(Impl& self, const PolicySnapshot& snapshot, FullScan* fullScan)
              : self_(self), snap_(snapshot), full_(fullScan) {}
          void onFile(const FileRule& owner, FileObservation&& obs) override {
            std::lock_guard lock(mutex_);
            ++entries_;
            seen_.insert(pathKey(obs.path));
            auto stored = self_.reader_->resource(fileId(obs.path));
            const auto state = stateText(obs);
            const bool same =
                stored ? (state && stored->state == *state && stored->stamp == stampOf(obs))
                       : !state;
            const bool root = obs.path == owner.path;
            if (same && !root) return;
            chunk_.push_back(Candidate{std::move(obs), &owner, root});
            if (chunk_.size() >= kChunk) flush();
          }
          void onListingError(const FileRule&, std::string_view dir,
                              const std::string& error) override {
            std::lock_guard lock(mutex_);
            notes_.push_back(escapeBytes(dir) + ": cannot list its entries: " + error);
          }
          void onNotDescended(const FileRule&, std::string_view dir,
                              const std::string& reason) override {
            std::lock_guard lock(mutex_);
            notes_.push_back(escapeBytes(dir) + ": " + reason);
          }
          void onEnterDirectory(const FileRule&, std::string_view dir, int dirFd) override {
            std::string error;
            self_.watches_->watch(std::string(dir), dirFd, &error);
          }
          // Hands the pending candidates to the loop (blocks while the loop is far behind).
          void flush() {
            if (chunk_.empty()) return;
            auto batch = std::make_shared<std::vector<Candidate>>(std::move(chunk_));
            chunk_.clear();
            Impl* self = &self_;
            FullScan* full = full_;
            self_.pool_->post([self, batch, full] { self->applyCandidates(*batch, full); });
          }
          bool seen(std::string_view p) const { return seen_.contains(pathKey(p)); }
          int64_t entries() const { return entries_; }
          std::vector<std::string> takeNotes() { return std::move(notes_); }
          void add(Candidate c) {
            chunk_.push_back(std::move(c));
            if (chunk_.size() >= kChunk) flush();
          }

         private:
          Impl& self_;
          const PolicySnapshot& snap_;
          FullScan* full_;
          std::mutex mutex_;
          std::unordered_set<uint64_t> seen_;
          std::vector<Candidate> chunk_;
          std::vector<std::string> notes_;
          int64_t entries_ = 0;
        };

        ScanOptions options;
        options.threads = 1;
        options.cache = deep ? nullptr : reader_.get();
        options.io = io_.get();
        options.cpu = cpu_.get();
        options.cancel = &cancel_;
        options.maxHashBytes = config_.maxHashBytes;
        if (ruleLevel) {
          // Watch the nearest existing directory above the rule's path: that is where the path
          // itself appears, disappears or is replaced by a rename (how editors save files).
          std::string dir(dirName(scanRule.path));
          while (true) {
            if (auto fd = root_->openDir(dir); fd.ok()) {
              watches_->watch(dir, fd->get(), nullptr);
              break;
            }
            if (dir == "/") break;
            dir = std::string(dirName(dir));
          }
        }
        FileScanner scanner(*root_, *snap->index, options);
        Sink sink(*this, *snap, full);
        scanner.scanFrom(path, scanRule, sink);
        if (cancel_) return;

        // Stored resources below `path` that the walk did not meet may be gone: the loop
        // checks each one again before recording it as removed.
        const std::string prefix = fileId(path);
        reader_->forEachIdUnder(prefix, [&](const std::string& id) {
          auto parsed = ResourceId::parse(id);
          if (!parsed.ok()) return;
          const std::string& p = parsed->name;
          if (!isAtOrBelow(path, p) || sink.seen(p)) return;
          FileObservation gone;
          gone.path = p;
          gone.presence = Presence::kAbsent;
          sink.add(Candidate{std::move(gone), snap->ownerOf(p, false), false});
        });
        // Baseline entries never seen on disk: their drift ("removed") must exist even when
        // nothing was ever stored for them.
        if (ruleLevel && snap->hasBaseline && scanRule.usesBaseline()) {
          reader_->forEachBaselineBelow(scanRule.path, [&](const baseline::BaselineEntry& entry) {
            const bool isDir = model::has(entry.attrs.mask, model::Attr::kType) &&
                               entry.attrs.type == model::FileType::kDir;
            if (sink.seen(entry.path) || snap->ownerOf(entry.path, isDir) != &scanRule) return;
            FileObservation gone;
            gone.path = entry.path;
            gone.presence = Presence::kAbsent;
            sink.add(Candidate{std::move(gone), &scanRule, true});
          });
        }
        sink.flush();
        *counted = sink.entries();
        for (auto& note : sink.takeNotes()) {
          Impl* self = this;
          pool_->post([self, note] { self->log_->log("warning", note); });
        }
      },
      [this, path, full, counted] {
        inFlight_.erase(path);
        if (full != nullptr) full->entries += *counted;
        checkWatchLimit();
        finishScanJob(full);
      });
}

void Daemon::Impl::startFullScan(const std::string& kind, bool deep, std::optional<int64_t> gap) {
  if (stopping_) return;
  if (fullScan_) {
    // One full scan at a time; another one follows this one (an overflow during a scan may
    // have hidden changes from it).
    fullScanRequested_ = true;
    if (gap) fullScan_->gapsToClose.push_back(*gap);
    return;
  }
  fullScan_ = std::make_unique<FullScan>();
  fullScan_->kind = deep ? "deep" : kind;
  fullScan_->startedAt = unixNow();
  (void)db_->setMeta("scan_running", fullScan_->kind + " " + std::to_string(fullScan_->startedAt));
  if (gap) fullScan_->gapsToClose.push_back(*gap);
  FullScan* full = fullScan_.get();
  const auto snap = snap_;
  for (const FileRule& rule : snap->policy.files) {
    ++full->jobsLeft;
    scanSubtree(rule.path, rule, full);  // a single-path rule's walk is just that path
  }
  if (full->jobsLeft == 0) finishScanJob(full);
}

void Daemon::Impl::finishScanJob(FullScan* full) {
  if (full == nullptr || full != fullScan_.get()) return;
  if (full->jobsLeft > 0) --full->jobsLeft;
  if (full->jobsLeft > 0) return;
  const int64_t now = unixNow();
  (void)db_->putScan({full->kind, full->startedAt, now, full->entries, full->changes});
  (void)db_->setMeta("scan_running", "");
  for (int64_t id : full->gapsToClose) {
    std::optional<int64_t> gap = id;
    closeGap(gap);
    if (overflowGap_ == id) overflowGap_.reset();
  }
  flushEvents();
  fullScan_.reset();
  writeAlive();
  // A full scan's transient memory (walk state, batches) is freed by now; hand it back to the
  // system instead of keeping the peak resident.
  ::malloc_trim(0);
  if (fullScanRequested_) {
    fullScanRequested_ = false;
    startFullScan("rescan", false, {});
  }
}

void Daemon::Impl::applyCandidates(std::vector<Candidate>& candidates, FullScan* full) {
  if (stopping_) return;
  const int64_t now = unixNow();
  auto tx = db_->begin();
  if (!tx.ok()) return fatal(tx.error());
  for (Candidate& c : candidates) {
    if (c.rule == nullptr) {
      forgetResource(fileId(c.obs.path), "no longer covered by the policy", now);
      continue;
    }
    // The walk's view may be stale by now (an event may have been applied since): it is only
    // taken when a fresh stat still agrees with it; otherwise the path is observed anew.
    const FileObservation fresh = statPath(*root_, c.obs.path);
    const bool agrees =
        fresh.presence == c.obs.presence &&
        (fresh.presence != Presence::kPresent ||
         (fresh.stamp == c.obs.stamp && fresh.attrs.type == c.obs.attrs.type &&
          fresh.attrs.mode == c.obs.attrs.mode && fresh.attrs.uid == c.obs.attrs.uid &&
          fresh.attrs.gid == c.obs.attrs.gid && fresh.attrs.target == c.obs.attrs.target));
    if (!agrees) {
      pending_.add(c.obs.path, PendingSet::Scope::kEntry, loop_.nowMs());
      continue;
    }
    if (applyObservation(c.rule, c.obs, c.forceDrift, now) && full != nullptr) ++full->changes;
  }
  if (auto s = tx->commit(); !s.ok()) return fatal(s.error());
  schedulePending();
}

// Records one observation (inside the caller's transaction): state, outbox, drift. Returns
// whether the state changed.
bool Daemon::Impl::applyObservation(const FileRule* rule, const FileObservation& obs,
                                    bool forceDrift, int64_t now) {
  const std::string id = fileId(obs.path);
  auto stored = db_->resource(id);
  if (!stored.ok()) {
    fatal(stored.error());
    return false;
  }
  const auto state = stateText(obs);
  const std::string stamp = stampOf(obs);
  const bool changed = *stored ? (!state || (*stored)->state != *state) : state.has_value();
  if (changed) {
    // The outbox entry goes in with the change: once the agent counts a change as observed,
    // it is on its way.
    Status s = state ? db_->putResource(id, *state, stamp, now) : db_->removeResource(id);
    if (s.ok()) s = db_->appendOutbox("state", id, state ? *state : std::string(kAbsent), now);
    if (!s.ok()) {
      fatal(s.error());
      return false;
    }
  } else if (state && (*stored)->stamp != stamp) {
    (void)db_->putResource(id, *state, stamp, now);  // touched, same content: new stat data only
  }
  if (changed || forceDrift) {
    const auto base = baselineFor(*rule, obs.path);
    updateDrift(id, compare::compareFile(*rule, base ? &*base : nullptr, obs, *identities_), now);
  }
  return changed;
}

void Daemon::Impl::forgetResource(const std::string& id, const std::string& why, int64_t now) {
  auto stored = db_->resource(id);
  if (stored.ok() && *stored) {
    (void)db_->removeResource(id);
    (void)db_->appendOutbox("state", id, kUnobserved, now);
  }
  auto drift = db_->drift(id);
  if (drift.ok() && *drift) {
    (void)db_->removeDrift(id);
    json line = {{"time", eventTime()},
                 {"event", "drift_resolved"},
                 {"host", hostJson()},
                 {"resource", id},
                 {"reason", why}};
    queueEvent(std::move(line));
  }
}

void Daemon::Impl::updateDrift(const std::string& id, const std::optional<model::DriftItem>& item,
                               int64_t now) {
  auto existing = db_->drift(id);
  if (!existing.ok()) return fatal(existing.error());
  if (!item) {
    if (!*existing) return;
    (void)db_->removeDrift(id);
    json line = {
        {"time", eventTime()}, {"event", "drift_resolved"}, {"host", hostJson()}, {"resource", id}};
    line["since"] = isoTime((*existing)->firstSeen);
    queueEvent(std::move(line));
    return;
  }
  const json itemJson = driftItemJson(*item);
  const std::string text = itemJson.dump();
  if (*existing && (*existing)->item == text) return;
  StoredDrift d{id, text, static_cast<int>(item->severity),
                *existing ? (*existing)->firstSeen : now, now};
  if (auto s = db_->putDrift(d); !s.ok()) return fatal(s.error());
  json line = {{"time", eventTime()},
               {"event", *existing ? "drift_changed" : "drift_opened"},
               {"host", hostJson()}};
  for (auto it = itemJson.begin(); it != itemJson.end(); ++it)
    line[it.key()] = it.value();
  queueEvent(std::move(line));
}

// ---- settings: sysctl, packages, services, accounts --------------------------------------

void Daemon::Impl::pollSettings() {
  if (stopping_) return;
  auto snap = snap_;
  auto results = std::make_shared<std::vector<SettingResult>>();
  auto ids = std::make_shared<std::shared_ptr<const compare::IdentityTable>>();
  pool_->submit(
      [this, snap, results, ids] {
        const auto& p = snap->policy;
        const AccountDatabase accounts = loadAccounts(*root_);
        auto table = std::make_shared<compare::IdentityTable>();
        for (const auto& u : accounts.users)
          table->addUser(u.name, u.uid);
        for (const auto& g : accounts.groups)
          table->addGroup(g.name, g.gid);
        *ids = table;
        for (const auto& rule : p.sysctl) {
          const auto obs = observeSysctl(*root_, rule.key);
          results->push_back({ResourceId{ResourceKind::kSysctl, rule.key}.str(),
                              model::encodeState(obs), compare::compareSysctl(rule, obs)});
        }
        if (!p.packages.empty()) {
          auto db = loadDpkgDatabase(*root_);
          for (const auto& rule : p.packages) {
            model::PackageObservation obs;
            if (db.ok()) {
              obs = observePackage(*db, rule.name);
            } else {
              obs.name = rule.name;
              obs.error = db.error().describe();
            }
            results->push_back({ResourceId{ResourceKind::kPackage, rule.name}.str(),
                                model::encodeState(obs), compare::comparePackage(rule, obs)});
          }
        }
        if (!p.services.empty()) {
          const auto units = SystemdUnitTable::load(*root_);
          for (const auto& rule : p.services) {
            const auto obs = units.observe(rule.unit);
            results->push_back({ResourceId{ResourceKind::kService, rule.unit}.str(),
                                model::encodeState(obs), compare::compareService(rule, obs)});
          }
        }
        for (const auto& rule : p.users) {
          const auto obs = observeUser(accounts, rule.name);
          results->push_back({ResourceId{ResourceKind::kUser, rule.name}.str(),
                              model::encodeState(obs), compare::compareUser(rule, obs)});
        }
        for (const auto& rule : p.groups) {
          const auto obs = observeGroup(accounts, rule.name);
          results->push_back({ResourceId{ResourceKind::kGroup, rule.name}.str(),
                              model::encodeState(obs), compare::compareGroup(rule, obs)});
        }
      },
      [this, results, ids, snap] {
        if (stopping_ || snap != snap_) return;
        applySettings(*results, *ids);
      });
}

void Daemon::Impl::applySettings(std::vector<SettingResult>& results,
                                 std::shared_ptr<const compare::IdentityTable> ids) {
  if (ids) identities_ = std::move(ids);
  const int64_t started = unixNow();
  auto tx = db_->begin();
  if (!tx.ok()) return fatal(tx.error());
  int64_t changes = 0;
  for (const SettingResult& r : results) {
    auto stored = db_->resource(r.id);
    if (!stored.ok()) return fatal(stored.error());
    const bool absent = r.state == kAbsent;
    const bool changed = *stored ? (absent || (*stored)->state != r.state) : !absent;
    if (changed) {
      Status s = absent ? db_->removeResource(r.id) : db_->putResource(r.id, r.state, "", started);
      if (s.ok()) s = db_->appendOutbox("state", r.id, r.state, started);
      if (!s.ok()) return fatal(s.error());
      ++changes;
    }
    updateDrift(r.id, r.drift, started);
  }
  (void)db_->putScan(
      {"settings", started, unixNow(), static_cast<int64_t>(results.size()), changes});
  if (auto s = tx->commit(); !s.ok()) return fatal(s.error());
  flushEvents();
}

// ---- coverage ----------------------------------------------------------------------------

void Daemon::Impl::pollRefusedDirectories() {
  // Directories the kernel would not watch are polled: rescanned here, which also retries the
  // watch (one may have been freed).
  if (stopping_) return;
  const auto& snap = *snap_;
  for (const std::string& dir : watches_->polledRoots()) {
    const FileRule* owner = snap.ownerOf(dir, true);
    if (owner != nullptr && owner->recursive && !inFlight_.contains(dir))
      scanSubtree(dir, *owner, nullptr);
  }
  if (watches_->polledCount() == 0 && refusedGap_) {
    log_->log("info", "every watched directory has an inotify watch again");
    closeGap(refusedGap_);
  }
}

void Daemon::Impl::checkWatchLimit() {
  if (watches_->takeNewRefusals() == 0) return;
  if (refusedGap_) return;
  // Said once, loudly: coverage is degraded until watches are available again.
  log_->log(
      "warning",
      "the kernel refused more inotify watches (fs.inotify.max_user_watches): the directories left "
      "over are polled every " +
          std::to_string(config_.pollInterval.count() / 1000) +
          "s instead of watched; raise the limit to watch them in real time");
  recordGap("watch_refused", "*", "inotify watch limit reached; some directories are polled",
            unixNow(), &refusedGap_);
  flushEvents();
}

void Daemon::Impl::recordGap(std::string_view kind, std::string_view scope, std::string_view detail,
                             int64_t startedAt, std::optional<int64_t>* keepId) {
  auto id = db_->openGap(kind, scope, detail, startedAt);
  if (!id.ok()) return fatal(id.error());
  if (keepId != nullptr) *keepId = *id;
  const std::string payload =
      json{{"kind", kind}, {"scope", scope}, {"detail", detail}, {"started_at", startedAt}}.dump();
  (void)db_->appendOutbox("gap", std::to_string(*id), payload, unixNow());
  queueEvent({{"time", eventTime()},
              {"event", "coverage_gap_opened"},
              {"host", hostJson()},
              {"gap", *id},
              {"kind", kind},
              {"scope", scope},
              {"detail", detail},
              {"started_at", isoTime(startedAt)}});
}

void Daemon::Impl::closeGap(std::optional<int64_t>& id) {
  if (!id) return;
  const int64_t now = unixNow();
  (void)db_->closeGap(*id, now);
  (void)db_->appendOutbox("gap", std::to_string(*id), json{{"ended_at", now}}.dump(), now);
  queueEvent({{"time", eventTime()},
              {"event", "coverage_gap_closed"},
              {"host", hostJson()},
              {"gap", *id},
              {"ended_at", isoTime(now)}});
  id.reset();
}

void Daemon::Impl::writeAlive() {
  if (!db_) return;
  const auto& snap = *snap_;
  size_t recursive = 0;
  for (const auto& r : snap.policy.files)
    recursive += r.recursive ? 1 : 0;
  const json coverage = {
      {"file_rules", snap.policy.files.size()},
      {"recursive_rules", recursive},
      {"setting_rules", snap.policy.sysctl.size() + snap.policy.packages.size() +
                            snap.policy.services.size() + snap.policy.users.size() +
                            snap.policy.groups.size()},
      {"watched_directories", watches_ ? watches_->watchedCount() : 0},
      {"polled_directories", watches_ ? watches_->polledCount() : 0},
      {"polled", watches_ ? watches_->polledRoots() : std::vector<std::string>{}},
      {"settings_polled_every_s", config_.pollInterval.count() / 1000},
      {"pending_changes", pending_.size()}};
  (void)db_->setMeta("coverage", coverage.dump());
  (void)db_->setMeta("last_alive", std::to_string(unixNow()));
}

// ---- drift of what is stored, after a policy change ---------------------------------------

void Daemon::Impl::recomputeStoredDrift() {
  const auto& snap = *snap_;
  const int64_t now = unixNow();
  auto tx = db_->begin();
  if (!tx.ok()) return fatal(tx.error());
  // Judged row by row while the rows stream past (drift writes go to another table), so that
  // 100,000 stored files cost no list in memory; only what leaves the policy is collected.
  std::vector<std::string> dropped;
  (void)db_->forEachResource([&](const std::string& id, const StoredResource& stored) {
    auto rid = ResourceId::parse(id);
    if (!rid.ok()) return dropped.push_back(id);
    if (rid->kind != ResourceKind::kFile) return;  // settings are judged on their next poll
    auto obs = model::decodeFileState(rid->name, stored.state);
    if (!obs.ok()) return dropped.push_back(id);
    const bool isDir =
        obs->presence == Presence::kPresent && obs->attrs.type == model::FileType::kDir;
    const FileRule* rule = snap.ownerOf(rid->name, isDir);
    if (rule == nullptr) return dropped.push_back(id);
    const auto base = baselineFor(*rule, rid->name);
    updateDrift(id, compare::compareFile(*rule, base ? &*base : nullptr, *obs, *identities_), now);
  });
  for (const auto& id : dropped)
    forgetResource(id, "no longer covered by the policy", now);
  // Drift rows of settings the policy no longer has.
  auto all = db_->allDrift();
  if (all.ok()) {
    for (const auto& d : *all) {
      auto rid = ResourceId::parse(d.resource);
      if (!rid.ok() || rid->kind == ResourceKind::kFile) continue;
      const auto& p = snap.policy;
      const bool kept = (rid->kind == ResourceKind::kSysctl &&
                         std::any_of(p.sysctl.begin(), p.sysctl.end(),
                                     [&](const auto& r) { return r.key == rid->name; })) ||
                        (rid->kind == ResourceKind::kPackage &&
                         std::any_of(p.packages.begin(), p.packages.end(),
                                     [&](const auto& r) { return r.name == rid->name; })) ||
                        (rid->kind == ResourceKind::kService &&
                         std::any_of(p.services.begin(), p.services.end(),
                                     [&](const auto& r) { return r.unit == rid->name; })) ||
                        (rid->kind == ResourceKind::kUser &&
                         std::any_of(p.users.begin(), p.users.end(),
                                     [&](const auto& r) { return r.name == rid->name; })) ||
                        (rid->kind == ResourceKind::kGroup &&
                         std::any_of(p.groups.begin(), p.groups.end(),
                                     [&](const auto& r) { return r.name == rid->name; }));
      if (!kept) forgetResource(d.resource, "no longer covered by the policy", now);
    }
  }
  if (auto s = tx->commit(); !s.ok()) return fatal(s.error());
}

std::optional<baseline::BaselineEntry> Daemon::Impl::baselineFor(const FileRule& rule,
                                                                 std::string_view path) {
  if (!snap_->hasBaseline || !rule.usesBaseline()) return std::nullopt;
  auto entry = db_->baselineEntry(path);
  if (!entry.ok()) {
    fatal(entry.error());
    return std::nullopt;
  }
  return std::move(entry).value();
}

// Puts the baseline in force into the state database, unless the same one is there already.
Status Daemon::Impl::storeBaseline(const baseline::Baseline* b) {
  const std::string digest =
      b != nullptr ? toHex(Sha256::of(baseline::serializeBaseline(*b))) : "none";
  auto stored = db_->meta("baseline_digest");
  if (stored.ok() && *stored && **stored == digest) return {};
  auto tx = db_->begin();
  if (!tx.ok()) return tx.error();
  if (auto s = db_->replaceBaseline(b != nullptr ? *b : baseline::Baseline{}); !s.ok()) return s;
  if (auto s = db_->setMeta("baseline_digest", digest); !s.ok()) return s;
  return tx->commit();
}

// ---- event lines -------------------------------------------------------------------------

void Daemon::Impl::queueEvent(json line) {
  (void)db_->queueEvent(line.dump());
}

void Daemon::Impl::flushEvents() {
  if (!db_ || !log_) return;
  auto queued = db_->queuedEvents();
  if (!queued.ok() || queued->empty()) return;
  int64_t last = 0;
  for (const auto& [seq, line] : *queued) {
    if (auto s = log_->write(line); !s.ok()) {
      log_->log("error", s.error().describe());
      break;
    }
    last = seq;
  }
  if (last > 0) (void)db_->dropEventsUpTo(last);
}

// ---- public ------------------------------------------------------------------------------

Daemon::Daemon(EventLoop& loop, AgentConfig config)
    : impl_(std::make_unique<Impl>(loop, std::move(config))) {}
Daemon::~Daemon() = default;
Status Daemon::start() {
  return impl_->start();
}
int Daemon::exitCode() const {
  return impl_->exitCode();
}

int runDaemon(const AgentConfig& config) {
  // A closed pipe on stderr must not kill the agent.
  ::signal(SIGPIPE, SIG_IGN);
  // Few malloc arenas: memory freed by the loop thread after a worker allocated it goes back
  // to a shared arena instead of staying stranded in one arena per thread.
  ::mallopt(M_ARENA_MAX, 2);
  EventLoop loop;
  Daemon daemon(loop, config);
  if (auto s = daemon.start(); !s.ok()) {
    std::fprintf(stderr, "driftwatch-agent: error: %s\n",
                 displaySafe(s.error().describe()).c_str());
    return 1;
  }
  loop.run();
  return daemon.exitCode();
}

}  // namespace driftwatch::agent

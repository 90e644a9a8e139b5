#include "agent/daemon/daemon.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include <fcntl.h>
#include <malloc.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/check/check_runner.h"
#include "agent/collectors/account_collector.h"
#include "agent/collectors/dpkg_collector.h"
#include "agent/collectors/sysctl_collector.h"
#include "agent/collectors/systemd_collector.h"
#include "agent/daemon/event_log.h"
#include "agent/daemon/policy_snapshot.h"
#include "agent/daemon/recorder.h"
#include "agent/daemon/scan_job.h"
#include "agent/daemon/state_reader.h"
#include "agent/loop/work_pool.h"
#include "agent/store/state_db.h"
#include "agent/uplink/identity.h"
#include "agent/uplink/rule_bundle_check.h"
#include "agent/uplink/uploader.h"
#include "agent/watcher/pending_set.h"
#include "agent/watcher/watch_table.h"
#include "common/base/escape.h"
#include "common/base/paths.h"
#include "common/base/strings.h"
#include "common/base/unique_fd.h"
#include "common/compare/compare.h"
#include "common/compare/identity.h"
#include "common/model/state_codec.h"

#ifndef DRIFTWATCH_VERSION
#define DRIFTWATCH_VERSION "unknown"
#endif

namespace driftwatch::agent {

using model::Presence;
using model::ResourceId;
using model::ResourceKind;
using policy::FileRule;
using json = nlohmann::ordered_json;
using Lane = WorkPool::Lane;

namespace {

constexpr size_t kMaxUrgentInFlight = 32;  // single-path observations running at once
constexpr auto kAliveEvery = std::chrono::seconds(10);

std::string lockPath(const AgentConfig& c) {
  return c.stateDir + "/agent.lock";
}

std::shared_ptr<const compare::IdentityTable> loadIdentities(const RootFs& root) {
  const AccountDatabase accounts = loadAccounts(root);
  auto table = std::make_shared<compare::IdentityTable>();
  for (const auto& u : accounts.users)
    table->addUser(u.name, u.uid);
  for (const auto& g : accounts.groups)
    table->addGroup(g.name, g.gid);
  return table;
}

// Reads every setting the policy names (worker thread).
std::vector<SettingResult> pollSettingRules(const policy::Policy& p, const RootFs& root) {
  std::vector<SettingResult> results;
  const AccountDatabase accounts = loadAccounts(root);
  for (const auto& rule : p.sysctl) {
    const auto obs = observeSysctl(root, rule.key);
    results.push_back({ResourceId{ResourceKind::kSysctl, rule.key}.str(), model::encodeState(obs),
                       compare::compareSysctl(rule, obs)});
  }
  if (!p.packages.empty()) {
    auto db = loadDpkgDatabase(root);
    for (const auto& rule : p.packages) {
      model::PackageObservation obs;
      if (db.ok()) {
        obs = observePackage(*db, rule.name);
      } else {
        obs.name = rule.name;
        obs.error = db.error().describe();
      }
      results.push_back({ResourceId{ResourceKind::kPackage, rule.name}.str(),
                         model::encodeState(obs), compare::comparePackage(rule, obs)});
    }
  }
  if (!p.services.empty()) {
    const auto units = SystemdUnitTable::load(root);
    for (const auto& rule : p.services) {
      const auto obs = units.observe(rule.unit);
      results.push_back({ResourceId{ResourceKind::kService, rule.unit}.str(),
                         model::encodeState(obs), compare::compareService(rule, obs)});
    }
  }
  for (const auto& rule : p.users) {
    const auto obs = observeUser(accounts, rule.name);
    results.push_back({ResourceId{ResourceKind::kUser, rule.name}.str(), model::encodeState(obs),
                       compare::compareUser(rule, obs)});
  }
  for (const auto& rule : p.groups) {
    const auto obs = observeGroup(accounts, rule.name);
    results.push_back({ResourceId{ResourceKind::kGroup, rule.name}.str(), model::encodeState(obs),
                       compare::compareGroup(rule, obs)});
  }
  return results;
}

}  // namespace

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
  // A full scan: every file rule, as one background job each.
  struct FullScan {
    uint64_t seq = 0;  // 1, 2, ... in the order scans start
    std::string kind;
    bool deep = false;
    int64_t startedAt = 0;
    size_t jobsLeft = 0;
    int64_t entries = 0;
    int64_t changes = 0;
    std::set<int64_t> gapsToClose;
  };
  // What the next full scan must do, asked for while one runs.
  struct NextScan {
    bool requested = false;
    bool deep = false;
    std::set<int64_t> gaps;
  };

  // start-up, signals, shutdown
  Status lockStateDir();
  void announcePid();
  void reload();
  // Puts a loaded policy in force without a restart: what SIGHUP does.
  void enforce(LoadedPolicy loaded, const std::string& scanKind);
  void onRules(RulesFetch fetch);
  // Writes what status shows about the fleet rules (meta "fleet_rules").
  void noteFleetRules();
  // Publishes the revision in force to the uploader.
  void noteHeld();
  void shutdown();
  void fail(const Error& error);

  // kernel events and the pending set
  void onWatchEvents(std::vector<WatchEvent>& events);
  void onOverflow();
  void schedulePending();
  void processPending();
  void handle(const PendingSet::Item& item);

  // observing
  bool busy(const std::string& path) const { return inFlight_.contains(path); }
  void markBusy(const std::string& path) { ++inFlight_[path]; }
  void markDone(const std::string& path);
  void observeEntry(const std::string& path);
  void applyEventBatch();
  void startSubtreeScan(const std::string& path, const FileRule& rule, FullScan* full);
  void startFullScan(const std::string& kind, bool deep, std::optional<int64_t> gap);
  void finishScanJob(FullScan* full, bool cancelled);
  void apply(std::vector<Candidate>& candidates,
             const std::shared_ptr<const PolicySnapshot>& snapshot, FullScan* full);
  void pollSettings();
  void pollRefusedDirectories();
  void rejudge();

  // coverage and bookkeeping
  void openGap(std::string_view kind, std::string_view detail, int64_t startedAt,
               std::optional<int64_t>* keep);
  void closeGaps(const std::set<int64_t>& ids);
  void checkWatchLimit();
  void writeAlive();
  void flushEvents();
  void startUploader();
  void writeUplinkLines();
  ScanContext context(bool forScans) {
    return ScanContext{*root_,
                       *reader_,
                       *watches_,
                       forScans ? io_.get() : nullptr,
                       forScans ? cpu_.get() : nullptr,
                       &cancel_,
                       config_.maxHashBytes};
  }

  EventLoop& loop_;
  AgentConfig config_;
  int exitCode_ = 0;
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};
  // Whether the state directory holds an enrollment: the outbox keeps changes only then. Set at
  // start, then by the uploader; declared before everything that reads it.
  std::atomic<bool> enrolled_{false};
  UniqueFd lockFd_;
  std::optional<EventLog> log_;
  std::optional<StateDb> db_;
  std::optional<StateRecorder> recorder_;
  std::unique_ptr<StateReader> reader_;
  std::optional<RootFs> root_;
  std::shared_ptr<const PolicySnapshot> snap_;
  std::shared_ptr<const compare::IdentityTable> identities_;
  std::unique_ptr<InotifyWatcher> watcher_;
  std::unique_ptr<WatchTable> watches_;
  PendingSet pending_;
  std::unordered_map<std::string, int> inFlight_;  // paths being observed or scanned
  std::vector<Candidate> eventBatch_;              // observations completed, not yet recorded
  std::vector<std::string> eventBatchPaths_;
  std::shared_ptr<const PolicySnapshot> eventBatchSnapshot_;
  std::unique_ptr<IoBudget> io_;
  std::unique_ptr<CpuBudget> cpu_;
  std::unique_ptr<FullScan> fullScan_;
  NextScan nextScan_;
  std::optional<int64_t> overflowGap_;
  std::optional<int64_t> refusedGap_;

  std::unique_ptr<Timer> settleTimer_;
  std::unique_ptr<Timer> pollTimer_;
  std::unique_ptr<Timer> rescanTimer_;
  std::unique_ptr<Timer> deepTimer_;
  std::unique_ptr<Timer> aliveTimer_;
  std::unique_ptr<Timer> stopTimer_;
  std::vector<std::unique_ptr<SignalWatch>> signals_;
  // Reporting to the aggregator: its own thread; its log lines come back through uplinkLog_.
  std::unique_ptr<Async> uplinkLog_;
  std::mutex uplinkLinesMutex_;
  std::vector<std::pair<std::string, std::string>> uplinkLines_;
  std::vector<RulesFetch> rulesFetches_;  // under uplinkLinesMutex_
  // Fleet rules in force (loop thread), and their revision for the uploader's requests.
  std::optional<VerifiedBundle> fleet_;
  // The revision in force and its host, for the uploader's thread.
  std::mutex heldMutex_;
  std::string heldHost_;       // under heldMutex_
  uint64_t heldRevision_ = 0;  // under heldMutex_
  bool holdPending_ = false;   // under heldMutex_: a bundle waits for its scan
  // A new bundle counts as held (what the uploader tells the aggregator) once a full scan that
  // started after it was applied has finished: only then are its paths observed.
  uint64_t scansStarted_ = 0;
  std::optional<uint64_t> holdAfterScan_;
  int64_t fetchedAtMs_ = 0;
  std::optional<std::pair<int64_t, std::string>> lastRefusal_;
  std::optional<int64_t> rulesGap_;
  std::optional<std::pair<std::string, uint64_t>> unusable_;  // a bundle that did not fit
  std::unique_ptr<Uploader> uploader_;
  // Last: destroyed first, so no work outlives what it uses.
  std::unique_ptr<WorkPool> pool_;
};

// ---- start-up ----------------------------------------------------------------------------

Status Daemon::Impl::lockStateDir() {
  if (::mkdir(config_.stateDir.c_str(), 0700) != 0 && errno != EEXIST) {
    return osError(errno, "cannot create the state directory", config_.stateDir);
  }
  lockFd_.reset(::open(lockPath(config_).c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lockFd_.valid()) return osError(errno, "cannot open the lock file", lockPath(config_));
  // An open-file-description lock: status can test it (F_OFD_GETLK) without taking it, so a
  // status run never makes a starting agent fail.
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (::fcntl(lockFd_.get(), F_OFD_SETLK, &lock) != 0) {
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
  // Status reads this pid: writing it only now means that a status showing this pid also shows
  // this run's scans, never the previous run's.
  const std::string pid = std::to_string(::getpid()) + "\n";
  (void)!::pwrite(lockFd_.get(), pid.data(), pid.size(), 0);
}

Status Daemon::Impl::start() {
  // The last verified fleet rules, checked again: the agent starts with them even while the
  // aggregator cannot be reached.
  std::vector<std::string> startNotes;
  auto identity = loadIdentity(config_.stateDir);
  if (identity.ok() && *identity && !(*identity)->rulesPublicKey.empty()) {
    auto stored =
        loadFleetRules(config_.stateDir, (*identity)->rulesPublicKey, (*identity)->hostId);
    if (!stored.ok()) {
      startNotes.push_back("the stored fleet rules are refused, starting without them: " +
                           stored.error().describe());
    } else if (*stored) {
      fleet_ = std::move(*stored);
    }
  }
  if (config_.policy.empty() && !(identity.ok() && *identity)) {
    return makeError(ErrorCode::kInvalidInput,
                     "no policy: pass --policy FILE or set `policy:` in the config file, or enroll "
                     "the agent so that it receives the fleet's rules",
                     "--policy");
  }
  auto loaded = loadPolicyAndBaseline(config_, fleet_ ? &fleet_->bundle : nullptr);
  if (!loaded.ok() && fleet_) {
    // Rules that no longer fit (a local policy edited to conflict with them) must not keep the
    // agent from watching what its local policy asks for.
    startNotes.push_back("the stored fleet rules cannot be used, starting without them: " +
                         loaded.error().describe());
    fleet_.reset();
    loaded = loadPolicyAndBaseline(config_, nullptr);
  }
  if (!loaded.ok()) return loaded.error();
  snap_ = loaded->snapshot;
  noteHeld();
  auto root = RootFs::open(config_.root);
  if (!root.ok()) return root.error();
  root_.emplace(std::move(root).value());
  if (auto s = lockStateDir(); !s.ok()) return s;
  auto log = EventLog::open(config_.eventsFile);
  if (!log.ok()) return log.error();
  log_.emplace(std::move(log).value());
  auto db = StateDb::openForWriting(config_.stateDir);
  if (!db.ok()) return db.error();
  db_.emplace(std::move(db).value());
  enrolled_.store(::access((config_.stateDir + "/" + std::string(kEnrollmentFile)).c_str(), F_OK) ==
                  0);
  db_->setOutboxGate(&enrolled_);
  auto readerDb = StateDb::openForReading(config_.stateDir);
  if (!readerDb.ok()) return readerDb.error();
  reader_ = std::make_unique<StateReader>(std::move(readerDb).value());
  recorder_.emplace(*db_, observedHostName(*root_).value_or(""));
  if (auto s = recorder_->storeBaseline(loaded->baseline ? &*loaded->baseline : nullptr); !s.ok())
    return s;
  loaded->baseline.reset();
  ::malloc_trim(0);
  // Names of owners are judged with the host's own accounts, so they come first.
  identities_ = loadIdentities(*root_);

  loop_.setErrorHook([this](const std::string& what) {
    log_->log("error", "internal error, stopping: " + what);
    exitCode_ = 1;
  });
  // Lines queued by a previous run that died before writing them.
  flushEvents();
  for (const auto& note : startNotes)
    log_->log("error", note);

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
  pool_->setAfterDrain([this] {
    applyEventBatch();
    flushEvents();
  });

  settleTimer_ = std::make_unique<Timer>(loop_);
  pollTimer_ = std::make_unique<Timer>(loop_);
  rescanTimer_ = std::make_unique<Timer>(loop_);
  deepTimer_ = std::make_unique<Timer>(loop_);
  aliveTimer_ = std::make_unique<Timer>(loop_);
  stopTimer_ = std::make_unique<Timer>(loop_);
  signals_.push_back(std::make_unique<SignalWatch>(loop_, SIGTERM, [this] {
    log_->log("info", "stopping");
    shutdown();
  }));
  signals_.push_back(std::make_unique<SignalWatch>(loop_, SIGINT, [this] {
    log_->log("info", "stopping");
    shutdown();
  }));
  signals_.push_back(std::make_unique<SignalWatch>(loop_, SIGHUP, [this] { reload(); }));

  // A previous run means a window in which nothing was watched: from its last sign of life until
  // the start-up rescan has compared the disk with the stored state. Gaps it left open (it died
  // mid-scan) close with that rescan too.
  std::set<int64_t> gaps;
  auto open = db_->gaps(true, 1000);
  if (open.ok()) {
    for (const auto& g : *open)
      gaps.insert(g.id);
  }
  auto lastAlive = db_->meta("last_alive");
  if (lastAlive.ok() && *lastAlive) {
    auto clean = db_->meta("clean_shutdown");
    const bool wasClean = clean.ok() && *clean && **clean == "1";
    unsigned long long since = 0;
    if (!parseUnsigned(**lastAlive, since)) since = static_cast<unsigned long long>(unixNow());
    std::optional<int64_t> restartGap;
    openGap("restart",
            wasClean ? "the agent was stopped" : "the agent stopped without a clean shutdown",
            static_cast<int64_t>(since), &restartGap);
    if (restartGap) gaps.insert(*restartGap);
  }
  (void)db_->setMeta("clean_shutdown", "0");
  // The start-up scan on record belongs to the previous run; this run's replaces it when done.
  (void)db_->removeScan("startup");
  (void)db_->setMeta("started_at", std::to_string(unixNow()));
  (void)db_->setMeta("policy", snap_->policy.name);
  (void)db_->setMeta("policy_file", config_.policy);
  noteFleetRules();
  (void)db_->setMeta("root", config_.root);
  (void)db_->setMeta("host", recorder_->host());
  writeAlive();
  log_->log("info", "driftwatch-agent started: policy " + snap_->policy.name + ", " +
                        std::to_string(snap_->policy.files.size()) + " file rules, state in " +
                        config_.stateDir);

  // The policy may have changed while the agent was down: judge the stored state again first.
  rejudge();
  startUploader();
  startFullScan("startup", false, std::nullopt);
  if (fullScan_) fullScan_->gapsToClose.insert(gaps.begin(), gaps.end());
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

// ---- stopping, failing, reloading --------------------------------------------------------

void Daemon::Impl::fail(const Error& error) {
  // Called with a transaction possibly open: only note the failure here; the caller returns
  // (its transaction rolls back) and the shutdown runs from the loop right after.
  if (stopping_) return;
  log_->log("error", error.describe());
  exitCode_ = 1;
  stopping_ = true;
  cancel_ = true;
  stopTimer_->start(std::chrono::milliseconds(0), std::chrono::milliseconds(0), [this] {
    stopping_ = false;
    shutdown();
  });
}

void Daemon::Impl::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  cancel_ = true;
  for (auto* t : {settleTimer_.get(), pollTimer_.get(), rescanTimer_.get(), deepTimer_.get(),
                  aliveTimer_.get()}) {
    if (t != nullptr) t->stop();
  }
  // Running work sees the cancel flag and ends within a read; queued work is dropped. What it
  // did not finish is found again by the next start's rescan.
  if (pool_) pool_->stop();
  if (uploader_) uploader_->stop();
  writeUplinkLines();
  flushEvents();
  if (db_) {
    (void)db_->setMeta("last_alive", std::to_string(unixNow()));
    if (exitCode_ == 0) (void)db_->setMeta("clean_shutdown", "1");
    (void)db_->setMeta("scan_running", "");
  }
  // Handles are closed when the daemon is destroyed, after the loop returns: this may run inside
  // one of their callbacks.
  loop_.stop();
}

void Daemon::Impl::reload() {
  unusable_.reset();  // the local policy may now fit a bundle it did not
  auto loaded = loadPolicyAndBaseline(config_, fleet_ ? &fleet_->bundle : nullptr);
  if (!loaded.ok()) {
    // A broken policy never replaces a good one.
    log_->log("error", "reload refused, keeping the current policy: " + loaded.error().describe());
    return;
  }
  enforce(std::move(loaded).value(), "reload");
  log_->log("info", "policy reloaded: " + snap_->policy.name);
}

void Daemon::Impl::enforce(LoadedPolicy loaded, const std::string& scanKind) {
  // A bundle waiting for its scan waits for this policy's scan instead: the one running now
  // records nothing more (its batches belong to the replaced policy).
  if (holdAfterScan_) holdAfterScan_ = scansStarted_ + 1;
  if (auto s = recorder_->storeBaseline(loaded.baseline ? &*loaded.baseline : nullptr); !s.ok())
    return fail(s.error());
  loaded.baseline.reset();
  snap_ = loaded.snapshot;
  identities_ = loadIdentities(*root_);
  (void)db_->setMeta("policy", snap_->policy.name);
  rejudge();
  const auto current = snap_;
  watches_->unwatchUnless([current](const std::string& dir) {
    return current->ownerOf(dir, true) != nullptr || current->leadsToRule(dir);
  });
  flushEvents();
  pollSettings();
  startFullScan(scanKind, false, {});
}

// ---- fleet rules -------------------------------------------------------------------------

void Daemon::Impl::onRules(RulesFetch fetch) {
  if (stopping_) return;
  if (fetch.kind == RulesFetch::Kind::kUnchanged) {
    fetchedAtMs_ = fetch.atMs;
    return noteFleetRules();
  }
  if (fetch.kind == RulesFetch::Kind::kBundle) {
    VerifiedBundle& bundle = *fetch.bundle;
    // Rules of another host id are a previous enrollment's: their revision does not count.
    const bool sameHost = fleet_ && fleet_->bundle.hostId == bundle.bundle.hostId;
    const uint64_t held = sameHost ? fleet_->bundle.revision : 0;
    if (sameHost && bundle.bundle.revision == held) {
      // Asked again before the last bundle was applied: the same rules.
      fetchedAtMs_ = fetch.atMs;
      return noteFleetRules();
    }
    if (bundle.bundle.revision < held) {
      fetch.reason = "revision " + std::to_string(bundle.bundle.revision) +
                     " is older than revision " + std::to_string(held) + " in force";
    } else if (unusable_ && unusable_->first == bundle.bundle.hostId &&
               unusable_->second == bundle.bundle.revision && lastRefusal_) {
      // The same bundle again, and nothing local changed since it did not fit: not parsed again
      // (its baselines may be large) until a reload or a new revision.
      fetch.reason = lastRefusal_->second;
    } else if (auto loaded = loadPolicyAndBaseline(config_, &bundle.bundle); !loaded.ok()) {
      fetch.reason = "its policies cannot be enforced here: " + loaded.error().describe();
      unusable_ = std::pair(bundle.bundle.hostId, bundle.bundle.revision);
    } else if (auto saved = saveFleetRules(config_.stateDir, bundle); !saved.ok()) {
      fetch.reason = "cannot keep it: " + saved.error().describe();
    } else {
      // Written first: a restart right after this uses these rules, never older ones.
      fleet_ = std::move(bundle);
      holdAfterScan_ = scansStarted_ + 1;  // the scan enforce() starts (or queues) below
      {
        std::lock_guard lock(heldMutex_);
        holdPending_ = true;
      }
      fetchedAtMs_ = fetch.atMs;
      std::string names;
      for (const auto& p : fleet_->bundle.policies)
        names += (names.empty() ? "" : ", ") + p.name + " v" + std::to_string(p.version);
      log_->log("info",
                "fleet rules revision " + std::to_string(fleet_->bundle.revision) +
                    " applied: " + (names.empty() ? "no fleet policy selects this host" : names));
      lastRefusal_.reset();
      if (rulesGap_) {
        const std::set<int64_t> gap = {*rulesGap_};
        rulesGap_.reset();
        closeGaps(gap);
      }
      noteFleetRules();
      return enforce(std::move(loaded).value(), "rules");
    }
  }
  // Refused: the rules in force stay. Said once per reason, and kept open as a coverage gap
  // (the aggregator judges this host by rules it may not be observing).
  const bool repeated = lastRefusal_ && lastRefusal_->second == fetch.reason;
  lastRefusal_ = std::pair(fetch.atMs, fetch.reason);
  noteFleetRules();
  if (repeated) return;
  log_->log("error", "fleet rules refused, keeping the current rules: " + fetch.reason);
  if (!rulesGap_) openGap("rules", "fleet rules refused: " + fetch.reason, unixNow(), &rulesGap_);
}

void Daemon::Impl::noteHeld() {
  std::lock_guard lock(heldMutex_);
  holdPending_ = false;
  heldHost_ = fleet_ ? fleet_->bundle.hostId : std::string();
  heldRevision_ = fleet_ ? fleet_->bundle.revision : 0;
}

void Daemon::Impl::noteFleetRules() {
  json j = {{"revision", fleet_ ? fleet_->bundle.revision : 0},
            {"issued_at", fleet_ ? json(fleet_->bundle.issuedAt) : json(nullptr)},
            {"fetched_at", fetchedAtMs_ != 0 ? json(fetchedAtMs_) : json(nullptr)},
            {"policies", json::array()},
            {"refused", nullptr}};
  if (fleet_) {
    for (const auto& p : fleet_->bundle.policies)
      j["policies"].push_back({{"name", p.name}, {"version", p.version}});
  }
  if (lastRefusal_)
    j["refused"] = {{"at", lastRefusal_->first}, {"reason", displaySafe(lastRefusal_->second)}};
  (void)db_->setMeta("fleet_rules", j.dump());
}

void Daemon::Impl::rejudge() {
  auto tx = db_->begin();
  if (!tx.ok()) return fail(tx.error());
  if (auto s = recorder_->rejudgeStored(*snap_, *identities_); !s.ok()) return fail(s.error());
  if (auto s = tx->commit(); !s.ok()) return fail(s.error());
  flushEvents();
}

// ---- events from the kernel --------------------------------------------------------------

void Daemon::Impl::onWatchEvents(std::vector<WatchEvent>& events) {
  if (stopping_) return;
  const uint64_t now = loop_.nowMs();
  const PolicySnapshot& snap = *snap_;
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
      // About the watched directory itself. One watched only because it leads to a rule's path
      // matters only when it goes away.
      if ((e.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
        pending_.add(*dir, PendingSet::Scope::kSubtree, now);
      } else if (snap.ownerOf(*dir, true) != nullptr) {
        pending_.add(*dir, PendingSet::Scope::kEntry, now);
      }
      continue;
    }
    const std::string path = *dir == "/" ? "/" + e.name : *dir + "/" + e.name;
    const bool isDir = (e.mask & IN_ISDIR) != 0;
    const bool leads = snap.leadsToRule(path);
    if (!leads && snap.ownerOf(path, isDir) == nullptr) continue;  // not ours
    const bool treeChange =
        isDir && (e.mask & (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)) != 0;
    pending_.add(
        path, treeChange || leads ? PendingSet::Scope::kSubtree : PendingSet::Scope::kEntry, now);
  }
  checkWatchLimit();
  schedulePending();
}

void Daemon::Impl::onOverflow() {
  // Events were lost: nothing can be trusted until everything watched was looked at again, by a
  // scan that starts after the loss.
  if (overflowGap_) return;  // the rescan it asked for is on its way
  log_->log("warning", "the kernel's inotify queue overflowed: rescanning everything watched");
  openGap("overflow", "inotify queue overflow (events lost); rescanning", unixNow(), &overflowGap_);
  startFullScan("overflow", false, overflowGap_);
}

void Daemon::Impl::schedulePending() {
  if (stopping_) return;
  const auto next = pending_.nextReadyAt(static_cast<uint64_t>(config_.settle.count()),
                                         static_cast<uint64_t>(config_.maxSettle.count()));
  if (!next) return;
  const uint64_t now = loop_.nowMs();
  settleTimer_->start(std::chrono::milliseconds(*next > now ? *next - now : 0),
                      std::chrono::milliseconds(0), [this] { processPending(); });
}

void Daemon::Impl::processPending() {
  if (stopping_) return;
  const size_t running = pool_->inFlight(Lane::kUrgent);
  const size_t room = running >= kMaxUrgentInFlight ? 0 : kMaxUrgentInFlight - running;
  // Paths still being observed stay in the set (with their age) until that observation is done;
  // so do items beyond the room for work: they are taken when work completes.
  const auto ready =
      pending_.takeReady(loop_.nowMs(), static_cast<uint64_t>(config_.settle.count()),
                         static_cast<uint64_t>(config_.maxSettle.count()), room,
                         [this](const std::string& path) { return !busy(path); });
  for (const auto& item : ready)
    handle(item);
  if (pool_->inFlight(Lane::kUrgent) < kMaxUrgentInFlight) schedulePending();
}

void Daemon::Impl::handle(const PendingSet::Item& item) {
  const PolicySnapshot& snap = *snap_;
  if (item.scope == PendingSet::Scope::kEntry) return observeEntry(item.path);
  const FileRule* owner = snap.ownerOf(item.path, true);
  if (owner != nullptr && owner->recursive) return startSubtreeScan(item.path, *owner, nullptr);
  if (owner != nullptr) observeEntry(item.path);
  // A directory on the way to rules' paths changed (created, moved, deleted): set those rules up
  // again; one already being scanned is taken again once that scan is done.
  for (const FileRule& rule : snap.policy.files) {
    if (!isAtOrBelow(item.path, rule.path) || rule.path == item.path) continue;
    if (busy(rule.path)) {
      pending_.add(rule.path, PendingSet::Scope::kSubtree, loop_.nowMs());
      continue;
    }
    startSubtreeScan(rule.path, rule, nullptr);
  }
}

// ---- observing ---------------------------------------------------------------------------

void Daemon::Impl::markDone(const std::string& path) {
  const auto it = inFlight_.find(path);
  if (it != inFlight_.end() && --it->second <= 0) inFlight_.erase(it);
  // Items waiting while this path (or the pool) was busy can go now; one look at the set per
  // round of completions, not one per path.
  if (!pending_.empty() && !stopping_ && !settleTimer_->active()) {
    settleTimer_->start(std::chrono::milliseconds(0), std::chrono::milliseconds(0),
                        [this] { processPending(); });
  }
}

void Daemon::Impl::observeEntry(const std::string& path) {
  markBusy(path);
  auto snap = snap_;
  auto result = std::make_shared<Candidate>();
  pool_->submit([this, path, snap, result] { *result = observePath(snap, path, context(false)); },
                [this, path, snap, result] {
                  if (stopping_) return;
                  // Recorded with the other observations completed in the same round, in one
                  // transaction (a burst of thousands of changes is thousands of rows, not of
                  // commits).
                  if (snap != eventBatchSnapshot_) applyEventBatch();
                  eventBatchSnapshot_ = snap;
                  eventBatch_.push_back(std::move(*result));
                  eventBatchPaths_.push_back(path);
                },
                Lane::kUrgent);
}

void Daemon::Impl::applyEventBatch() {
  if (eventBatch_.empty()) return;
  std::vector<Candidate> batch = std::move(eventBatch_);
  std::vector<std::string> paths = std::move(eventBatchPaths_);
  eventBatch_.clear();
  eventBatchPaths_.clear();
  if (!stopping_) apply(batch, eventBatchSnapshot_, nullptr);
  for (const auto& path : paths)
    markDone(path);
}

void Daemon::Impl::startSubtreeScan(const std::string& path, const FileRule& rule, FullScan* full) {
  markBusy(path);
  auto snap = snap_;
  auto outcome = std::make_shared<ScanOutcome>();
  ScanRequest request{snap, &rule, path, full != nullptr && full->deep, full != nullptr};
  pool_->submit(
      [this, request, outcome, full] {
        // Batches reach the loop while the walk goes on; the loop records them in order.
        *outcome =
            scanSubtree(request, context(request.throttled), [&](std::vector<Candidate>&& batch) {
              auto shared = std::make_shared<std::vector<Candidate>>(std::move(batch));
              pool_->post(
                  [this, shared, snap = request.snapshot, full] { apply(*shared, snap, full); });
            });
      },
      [this, path, outcome, full] {
        if (stopping_) return;
        for (const auto& note : outcome->notes)
          log_->log("warning", note);
        // The path is gone: watches still pointing into it (a tree moved away) are dropped.
        if (!outcome->rootPresent && !outcome->cancelled) watches_->unwatchUnder(path);
        if (full != nullptr) full->entries += outcome->entries;
        checkWatchLimit();
        finishScanJob(full, outcome->cancelled);
        markDone(path);
      },
      full != nullptr ? Lane::kBackground : Lane::kUrgent);
}

void Daemon::Impl::startFullScan(const std::string& kind, bool deep, std::optional<int64_t> gap) {
  if (stopping_) return;
  if (fullScan_) {
    // One full scan at a time. What is asked meanwhile is done by the next one, which starts
    // after this one: an overflow during a scan may have hidden changes the scan already passed.
    nextScan_.requested = true;
    nextScan_.deep = nextScan_.deep || deep;
    if (gap) nextScan_.gaps.insert(*gap);
    return;
  }
  fullScan_ = std::make_unique<FullScan>();
  fullScan_->seq = ++scansStarted_;
  fullScan_->kind = deep ? "deep" : kind;
  fullScan_->deep = deep;
  fullScan_->startedAt = unixNow();
  if (gap) fullScan_->gapsToClose.insert(*gap);
  (void)db_->setMeta("scan_running", fullScan_->kind + " " + std::to_string(fullScan_->startedAt));
  log_->log("info", "full scan started: " + fullScan_->kind);
  FullScan* full = fullScan_.get();
  full->jobsLeft = snap_->policy.files.size() + 1;  // +1: released below, once all are queued
  for (const FileRule& rule : snap_->policy.files)
    startSubtreeScan(rule.path, rule, full);
  finishScanJob(full, false);
}

void Daemon::Impl::finishScanJob(FullScan* full, bool cancelled) {
  if (full == nullptr || full != fullScan_.get() || cancelled || stopping_) return;
  if (--full->jobsLeft > 0) return;
  const int64_t now = unixNow();
  (void)db_->putScan({full->kind, full->startedAt, now, full->entries, full->changes});
  (void)db_->setMeta("scan_running", "");
  log_->log("info", "full scan finished: " + full->kind + ", " + std::to_string(full->entries) +
                        " entries, " + std::to_string(full->changes) + " changes in " +
                        std::to_string(now - full->startedAt) + "s");
  closeGaps(full->gapsToClose);
  if (overflowGap_ && full->gapsToClose.contains(*overflowGap_)) overflowGap_.reset();
  if (holdAfterScan_ && full->seq >= *holdAfterScan_) {
    holdAfterScan_.reset();
    noteHeld();
    // The uploader tells the aggregator as soon as what this scan found has been sent.
    if (uploader_) uploader_->wake();
  }
  fullScan_.reset();
  writeAlive();
  // A full scan's transient memory (walk state, batches) is freed by now; hand it back to the
  // system instead of keeping the peak resident.
  ::malloc_trim(0);
  if (nextScan_.requested) {
    NextScan next = std::move(nextScan_);
    nextScan_ = {};
    startFullScan(next.deep ? "deep" : "rescan", next.deep, std::nullopt);
    if (fullScan_) fullScan_->gapsToClose.insert(next.gaps.begin(), next.gaps.end());
  }
}

// Records a batch of observations in one transaction, skipping any that is older than what is
// already recorded for its path (a walk that an event overtook), and batches from a policy that
// has been replaced since (their paths are looked at again under the new one).
void Daemon::Impl::apply(std::vector<Candidate>& candidates,
                         const std::shared_ptr<const PolicySnapshot>& snapshot, FullScan* full) {
  if (stopping_) return;
  if (snapshot != snap_) {
    for (const Candidate& c : candidates)
      pending_.add(c.obs.path, PendingSet::Scope::kEntry, loop_.nowMs());
    schedulePending();
    return;
  }
  auto tx = db_->begin();
  if (!tx.ok()) return fail(tx.error());
  int64_t changes = 0;
  for (const Candidate& c : candidates) {
    const std::string id = fileId(c.obs.path);
    if (c.rule == nullptr) {
      if (auto s = recorder_->forget(id, "no longer covered by the policy"); !s.ok())
        return fail(s.error());
      continue;
    }
    auto stored = db_->resource(id);
    if (!stored.ok()) return fail(stored.error());
    if (*stored && (*stored)->observedAt > c.observedAtMs) continue;  // a newer look is recorded
    auto changed =
        recorder_->recordFile(*snap_, *c.rule, c.obs, c.observedAtMs, c.forceDrift, *identities_);
    if (!changed.ok()) return fail(changed.error());
    changes += *changed ? 1 : 0;
  }
  if (auto s = tx->commit(); !s.ok()) return fail(s.error());
  if (full != nullptr && full == fullScan_.get()) full->changes += changes;
}

// ---- settings: sysctl, packages, services, accounts --------------------------------------

void Daemon::Impl::pollSettings() {
  if (stopping_) return;
  auto snap = snap_;
  auto results = std::make_shared<std::vector<SettingResult>>();
  auto ids = std::make_shared<std::shared_ptr<const compare::IdentityTable>>();
  pool_->submit(
      [this, snap, results, ids] {
        *ids = loadIdentities(*root_);
        *results = pollSettingRules(snap->policy, *root_);
      },
      [this, snap, results, ids] {
        if (stopping_ || snap != snap_) return;
        const int64_t started = unixNow();
        auto tx = db_->begin();
        if (!tx.ok()) return fail(tx.error());
        int64_t changes = 0;
        for (const SettingResult& r : *results) {
          auto changed = recorder_->recordSetting(r, unixNowMs());
          if (!changed.ok()) return fail(changed.error());
          changes += *changed ? 1 : 0;
        }
        if (auto s = db_->putScan(
                {"settings", started, unixNow(), static_cast<int64_t>(results->size()), changes});
            !s.ok()) {
          return fail(s.error());
        }
        if (auto s = tx->commit(); !s.ok()) return fail(s.error());
        // Owner and group names resolve through the host's accounts: when they changed, every
        // stored file is judged again.
        if (*ids && !(**ids == *identities_)) {
          identities_ = *ids;
          rejudge();
        }
      },
      Lane::kUrgent);
}

void Daemon::Impl::pollRefusedDirectories() {
  // Directories the kernel would not watch are polled: rescanned here, which also retries the
  // watch (one may have been freed).
  if (stopping_) return;
  const PolicySnapshot& snap = *snap_;
  for (const std::string& dir : watches_->polledRoots()) {
    if (statPath(*root_, dir).presence == Presence::kAbsent) {
      watches_->unwatchUnder(dir);  // gone: nothing left to poll there
      continue;
    }
    const FileRule* owner = snap.ownerOf(dir, true);
    if (owner != nullptr && owner->recursive) {
      if (!busy(dir)) startSubtreeScan(dir, *owner, nullptr);
      continue;
    }
    // A directory above rules' paths: their scans watch it again.
    for (const FileRule& rule : snap.policy.files) {
      if (isAtOrBelow(dir, rule.path) && !busy(rule.path))
        startSubtreeScan(rule.path, rule, nullptr);
    }
  }
  checkWatchLimit();
  if (watches_->polledCount() == 0 && refusedGap_) {
    log_->log("info", "every watched directory has an inotify watch again");
    closeGaps({*refusedGap_});
    refusedGap_.reset();
  }
}

// ---- coverage ----------------------------------------------------------------------------

void Daemon::Impl::checkWatchLimit() {
  if (watches_->takeNewRefusals() == 0 || refusedGap_) return;
  // Said once, loudly: coverage is degraded until watches are available again.
  log_->log("warning",
            "the kernel refused more inotify watches (fs.inotify.max_user_watches): the "
            "directories left over are "
            "polled every " +
                std::to_string(config_.pollInterval.count() / 1000) +
                "s instead of watched; raise the limit to watch them in real time");
  openGap("watch_refused", "inotify watch limit reached; some directories are polled", unixNow(),
          &refusedGap_);
}

void Daemon::Impl::openGap(std::string_view kind, std::string_view detail, int64_t startedAt,
                           std::optional<int64_t>* keep) {
  auto tx = db_->begin();
  if (!tx.ok()) return fail(tx.error());
  auto id = recorder_->openGap(kind, "*", detail, startedAt);
  if (!id.ok()) return fail(id.error());
  if (auto s = tx->commit(); !s.ok()) return fail(s.error());
  if (keep != nullptr) *keep = *id;
  flushEvents();
}

void Daemon::Impl::closeGaps(const std::set<int64_t>& ids) {
  if (ids.empty()) return;
  auto tx = db_->begin();
  if (!tx.ok()) return fail(tx.error());
  for (const int64_t id : ids) {
    if (auto closed = recorder_->closeGap(id); !closed.ok()) return fail(closed.error());
  }
  if (auto s = tx->commit(); !s.ok()) return fail(s.error());
  flushEvents();
}

void Daemon::Impl::writeAlive() {
  if (!db_ || !watches_) return;
  const PolicySnapshot& snap = *snap_;
  size_t recursive = 0;
  for (const auto& r : snap.policy.files)
    recursive += r.recursive ? 1 : 0;
  const json coverage = {
      {"file_rules", snap.policy.files.size()},
      {"recursive_rules", recursive},
      {"setting_rules", snap.policy.sysctl.size() + snap.policy.packages.size() +
                            snap.policy.services.size() + snap.policy.users.size() +
                            snap.policy.groups.size()},
      {"watched_directories", watches_->watchedCount()},
      {"polled_directories", watches_->polledCount()},
      {"polled", watches_->polledRoots()},
      {"settings_polled_every_s", config_.pollInterval.count() / 1000},
      {"pending_changes", pending_.size()}};
  (void)db_->setMeta("coverage", coverage.dump());
  (void)db_->setMeta("last_alive", std::to_string(unixNow()));
}

void Daemon::Impl::flushEvents() {
  if (!recorder_ || !log_) return;
  if (auto s = recorder_->flushEvents(*log_); !s.ok()) log_->log("error", s.error().describe());
  // Whatever was just committed may be in the outbox.
  if (uploader_) uploader_->wake();
}

// ---- reporting ---------------------------------------------------------------------------

void Daemon::Impl::startUploader() {
  uplinkLog_ = std::make_unique<Async>(loop_, [this] {
    writeUplinkLines();
    std::vector<RulesFetch> fetches;
    {
      std::lock_guard lock(uplinkLinesMutex_);
      fetches.swap(rulesFetches_);
    }
    for (auto& f : fetches)
      onRules(std::move(f));
  });
  UploaderOptions options;
  options.stateDir = config_.stateDir;
  options.agentVersion = DRIFTWATCH_VERSION;
  options.outboxQuotaBytes = config_.outboxQuotaBytes;
  options.batchDelay = config_.batchDelay;
  options.heartbeatInterval = config_.heartbeatInterval;
  options.retryMax = config_.retryMax;
  options.enrolled = &enrolled_;
  options.rulesRevision = [this](const std::string& hostId) -> uint64_t {
    std::lock_guard lock(heldMutex_);
    return hostId == heldHost_ ? heldRevision_ : 0;
  };
  options.rulesPending = [this](const std::string&) {
    std::lock_guard lock(heldMutex_);
    return holdPending_;
  };
  options.onRules = [this](RulesFetch fetch) {
    {
      std::lock_guard lock(uplinkLinesMutex_);
      rulesFetches_.push_back(std::move(fetch));
    }
    uplinkLog_->send();
  };
  uploader_ = std::make_unique<Uploader>(options, [this](std::string level, std::string message) {
    {
      std::lock_guard lock(uplinkLinesMutex_);
      uplinkLines_.emplace_back(std::move(level), std::move(message));
    }
    uplinkLog_->send();
  });
  uploader_->start();
}

void Daemon::Impl::writeUplinkLines() {
  std::vector<std::pair<std::string, std::string>> lines;
  {
    std::lock_guard lock(uplinkLinesMutex_);
    lines.swap(uplinkLines_);
  }
  for (const auto& [level, message] : lines)
    log_->log(level, message);
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
  // Few malloc arenas: memory freed by the loop thread after a worker allocated it goes back to
  // a shared arena instead of staying stranded in one arena per thread.
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

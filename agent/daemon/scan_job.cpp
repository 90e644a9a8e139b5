#include "agent/daemon/scan_job.h"

#include <algorithm>
#include <unordered_set>

#include "agent/store/state_db.h"
#include "common/base/escape.h"
#include "common/base/paths.h"
#include "common/model/state_codec.h"

namespace driftwatch::agent {

using model::FileObservation;
using model::Presence;
using policy::FileRule;

namespace {

constexpr size_t kBatch = 256;

// A 64-bit digest of a path: a scan remembers the paths it met in a few bytes each.
uint64_t pathKey(std::string_view path) {
  return std::hash<std::string_view>{}(path);
}

std::string storedStamp(const FileObservation& obs) {
  if (obs.presence != Presence::kPresent || obs.attrs.type != model::FileType::kFile) return {};
  return encodeStamp(obs.stamp, obs.attrs.size);
}

class DiffSink final : public FileObservationSink {
 public:
  DiffSink(const ScanContext& context, const std::function<void(std::vector<Candidate>&&)>& deliver)
      : context_(context), deliver_(deliver) {}

  void onFile(const FileRule& owner, FileObservation&& obs) override {
    ++entries_;
    seen_.insert(pathKey(obs.path));
    const bool root = obs.path == owner.path;
    const auto stored = context_.reader.resource(fileId(obs.path));
    const bool present = obs.presence != Presence::kAbsent;
    // Same state and stat data: nothing to record (a rule's own path is judged regardless: its
    // drift may exist without any stored state, a missing file with explicit values).
    const bool same = stored ? (present && stored->state == model::encodeState(obs) &&
                                stored->stamp == storedStamp(obs))
                             : !present;
    if (same && !root) return;
    add(Candidate{std::move(obs), &owner, unixNowMs(), root});
  }
  void onListingError(const FileRule&, std::string_view dir, const std::string& error) override {
    notes_.push_back(escapeBytes(dir) + ": cannot list its entries: " + error);
  }
  void onNotDescended(const FileRule&, std::string_view dir, const std::string& reason) override {
    notes_.push_back(escapeBytes(dir) + ": " + reason);
  }
  void onEnterDirectory(const FileRule&, std::string_view dir, int dirFd) override {
    context_.watches.watch(std::string(dir), dirFd, nullptr);  // refusals are counted there
  }

  void add(Candidate c) {
    batch_.push_back(std::move(c));
    if (batch_.size() >= kBatch) flush();
  }
  void flush() {
    if (batch_.empty()) return;
    deliver_(std::move(batch_));
    batch_.clear();
  }
  bool seen(std::string_view path) const { return seen_.contains(pathKey(path)); }
  int64_t entries() const { return entries_; }
  std::vector<std::string> takeNotes() { return std::move(notes_); }

 private:
  const ScanContext& context_;
  const std::function<void(std::vector<Candidate>&&)>& deliver_;
  std::unordered_set<uint64_t> seen_;
  std::vector<Candidate> batch_;
  std::vector<std::string> notes_;
  int64_t entries_ = 0;
};

ScanOptions optionsFor(const ScanContext& context, bool deep, bool throttled) {
  ScanOptions options;
  options.threads = 1;  // the pool's threads are the parallelism; one walk each
  options.cache = deep ? nullptr : &context.reader;
  options.io = throttled ? context.io : nullptr;
  options.cpu = throttled ? context.cpu : nullptr;
  options.cancel = context.cancel;
  options.maxHashBytes = context.maxHashBytes;
  return options;
}

// An lstat now, for a path the walk did not meet: gone, or just not met (created since).
bool stillThere(const RootFs& root, const std::string& path) {
  return statPath(root, path).presence != Presence::kAbsent;
}

}  // namespace

ScanOutcome scanSubtree(const ScanRequest& request, const ScanContext& context,
                        const std::function<void(std::vector<Candidate>&&)>& deliver) {
  const PolicySnapshot& snap = *request.snapshot;
  const FileRule& rule = *request.rule;
  ScanOutcome outcome;
  if (request.path == rule.path) {
    // Watch the nearest existing directory above the rule's path: that is where the path itself
    // appears, disappears or is replaced by a rename (how editors save files).
    std::string dir(dirName(rule.path));
    while (true) {
      if (auto fd = context.root.openDir(dir); fd.ok()) {
        context.watches.watch(dir, fd->get(), nullptr);
        break;
      }
      if (dir == "/") break;
      dir = std::string(dirName(dir));
    }
  }
  DiffSink sink(context, deliver);
  FileScanner scanner(context.root, *snap.index,
                      optionsFor(context, request.deep, request.throttled));
  scanner.scanFrom(request.path, rule, sink);
  if (context.cancel != nullptr && context.cancel->load()) {
    outcome.cancelled = true;
    return outcome;
  }
  outcome.rootPresent = sink.seen(request.path) &&
                        statPath(context.root, request.path).presence == Presence::kPresent;

  // Stored entries of this rule below the path that the walk did not meet. Collected first:
  // the reader's connection must not wait on the loop while it is held.
  std::vector<std::string> unseen;
  context.reader.forEachIdUnder(fileId(request.path), [&](const std::string& id) {
    auto parsed = model::ResourceId::parse(id);
    if (!parsed.ok() || !isAtOrBelow(request.path, parsed->name) || sink.seen(parsed->name)) return;
    unseen.push_back(std::move(parsed->name));
  });
  if (request.path == rule.path && snap.hasBaseline && rule.usesBaseline()) {
    // Baseline entries never seen on disk: their drift ("removed") must exist even when nothing
    // was ever stored for them.
    context.reader.forEachBaselineBelow(rule.path, [&](const baseline::BaselineEntry& entry) {
      if (!sink.seen(entry.path)) unseen.push_back(entry.path);
    });
  }
  std::sort(unseen.begin(), unseen.end());
  unseen.erase(std::unique(unseen.begin(), unseen.end()), unseen.end());
  for (const std::string& path : unseen) {
    // Owned by this rule (not by a nested one, not ignored), and really gone.
    const FileRule* owner = snap.ownerOf(path, false);
    if (owner == nullptr) owner = snap.ownerOf(path, true);
    if (owner != &rule) continue;
    const int64_t at = unixNowMs();
    if (stillThere(context.root, path)) continue;
    FileObservation gone;
    gone.path = path;
    gone.presence = Presence::kAbsent;
    sink.add(Candidate{std::move(gone), &rule, at, true});
  }
  sink.flush();
  outcome.entries = sink.entries();
  outcome.notes = sink.takeNotes();
  return outcome;
}

Candidate observePath(const std::shared_ptr<const PolicySnapshot>& snapshot,
                      const std::string& path, const ScanContext& context) {
  const int64_t at = unixNowMs();
  const FileRule* rule = snapshot->ownerOf(path, false);
  if (rule == nullptr) rule = snapshot->ownerOf(path, true);
  Candidate c;
  c.obs.path = path;
  c.observedAtMs = at;
  if (rule == nullptr) return c;
  // Events are not throttled: a single change must be recorded promptly.
  FileScanner scanner(context.root, *snapshot->index, optionsFor(context, false, false));
  c.obs = scanner.observe(path, *rule);
  const bool isDir =
      c.obs.presence == Presence::kPresent && c.obs.attrs.type == model::FileType::kDir;
  // With the real type known, the owner may differ (directory-only ignore patterns).
  c.rule = snapshot->ownerOf(path, isDir);
  c.forceDrift = c.rule != nullptr && path == c.rule->path;
  return c;
}

}  // namespace driftwatch::agent

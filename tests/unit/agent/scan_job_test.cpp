#include "agent/daemon/scan_job.h"

#include <set>

#include <doctest/doctest.h>

#include "common/model/state_codec.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;

namespace {

class CountingWatcher final : public Watcher {
 public:
  Result<int> addWatch(int) override { return ++next; }
  void removeWatch(int) override {}
  int next = 0;
};

std::shared_ptr<const PolicySnapshot> snapshotOf(const testing::TempDir& dir,
                                                 const std::string& yaml) {
  dir.write("p.yaml", yaml);
  dir.write("b.txt", "@format\t1\n@policy\tp\nfile:/t/never\ttype=file\n");
  AgentConfig config;
  config.policy = dir.at("p.yaml");
  config.baseline = dir.at("b.txt");
  auto loaded = loadPolicyAndBaseline(config, nullptr);
  REQUIRE(loaded.ok());
  return loaded->snapshot;
}

}  // namespace

TEST_CASE("a subtree scan proposes what differs from the stored state, and what is gone") {
  testing::TempDir work;
  testing::TempDir host;
  host.write("t/same", "s");
  host.write("t/new", "n");
  const auto snap = snapshotOf(work, "name: p\nfiles:\n  - {path: /t, recursive: true}\n");
  auto root = RootFs::open(host.path());
  REQUIRE(root.ok());

  // What the agent stored before: "same" as it is now, and a file that is gone since.
  auto writer = StateDb::openForWriting(work.at("state"));
  REQUIRE(writer.ok());
  {
    const policy::FileRule& rule = snap->policy.files[0];
    FileScanner scanner(*root, *snap->index, {});
    const auto same = scanner.observe("/t/same", rule);
    REQUIRE(writer
                ->putResource(fileId("/t/same"), model::encodeState(same),
                              encodeStamp(same.stamp, same.attrs.size), 1)
                .ok());
    REQUIRE(writer->putResource(fileId("/t/gone"), "present\ttype=file", "", 1).ok());
    baseline::Baseline b;
    b.policy = "p";
    baseline::BaselineEntry e;
    e.path = "/t/never";
    b.entries.push_back(e);
    REQUIRE(writer->replaceBaseline(b).ok());
  }
  auto readerDb = StateDb::openForReading(work.at("state"));
  REQUIRE(readerDb.ok());
  StateReader reader(std::move(readerDb).value());
  CountingWatcher kernel;
  WatchTable watches(kernel);
  std::atomic<bool> cancel{false};
  const ScanContext context{*root, reader, watches, nullptr, nullptr, &cancel, 1u << 30};

  std::vector<Candidate> proposed;
  const auto outcome = scanSubtree({snap, &snap->policy.files[0], "/t", false, false}, context,
                                   [&](std::vector<Candidate>&& batch) {
                                     for (auto& c : batch)
                                       proposed.push_back(std::move(c));
                                   });
  CHECK(outcome.rootPresent);
  CHECK(outcome.entries == 3);
  std::set<std::string> paths;
  for (const auto& c : proposed) {
    paths.insert(c.obs.path + (c.obs.presence == model::Presence::kAbsent ? " (gone)" : ""));
    CHECK(c.rule == &snap->policy.files[0]);
  }
  // The rule's own path always (its drift may exist without a stored state), the new file, the
  // stored file that is gone, and the baseline entry never seen; not the unchanged file.
  CHECK(paths == std::set<std::string>{"/t", "/t/new", "/t/gone (gone)", "/t/never (gone)"});
  // The directory and the one above the rule's path were watched before being listed.
  CHECK(watches.watchedCount() == 2);
}

TEST_CASE("a single path is observed with the owner its real type gives") {
  testing::TempDir work;
  testing::TempDir host;
  host.mkdir("t/cache");
  const auto snap =
      snapshotOf(work, "name: p\nfiles:\n  - {path: /t, recursive: true, ignore: [\"cache/\"]}\n");
  auto root = RootFs::open(host.path());
  REQUIRE(root.ok());
  auto writer = StateDb::openForWriting(work.at("state"));
  REQUIRE(writer.ok());
  auto readerDb = StateDb::openForReading(work.at("state"));
  REQUIRE(readerDb.ok());
  StateReader reader(std::move(readerDb).value());
  CountingWatcher kernel;
  WatchTable watches(kernel);
  const ScanContext context{*root, reader, watches, nullptr, nullptr, nullptr, 1u << 30};
  // "cache/" ignores directories only: as a directory, nobody owns it.
  const auto c = observePath(snap, "/t/cache", context);
  CHECK(c.obs.attrs.type == model::FileType::kDir);
  CHECK(c.rule == nullptr);
  CHECK(c.observedAtMs > 0);
}

#include "agent/daemon/recorder.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "agent/daemon/state_reader.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;
using model::Attr;
using model::bit;

namespace {

struct Fixture {
  testing::TempDir dir;
  std::optional<StateDb> db;
  std::optional<StateRecorder> recorder;
  std::shared_ptr<const PolicySnapshot> snap;
  compare::IdentityTable ids;

  explicit Fixture(const std::string& policy) {
    dir.write("p.yaml", policy);
    AgentConfig config;
    config.policy = dir.at("p.yaml");
    auto loaded = loadPolicyAndBaseline(config, nullptr);
    REQUIRE(loaded.ok());
    snap = loaded->snapshot;
    auto opened = StateDb::openForWriting(dir.at("state"));
    REQUIRE(opened.ok());
    db.emplace(std::move(opened).value());
    recorder.emplace(*db, "web-01");
  }

  // Records inside one transaction, as the daemon does.
  bool record(const model::FileObservation& obs, int64_t atMs) {
    auto tx = db->begin();
    REQUIRE(tx.ok());
    auto changed = recorder->recordFile(*snap, snap->policy.files[0], obs, atMs, false, ids);
    REQUIRE(changed.ok());
    REQUIRE(tx->commit().ok());
    return *changed;
  }

  std::vector<nlohmann::json> events() {
    std::vector<nlohmann::json> out;
    auto queued = db->queuedEvents();
    if (!queued.ok()) FAIL(queued.error().describe());
    const auto lines = std::move(queued).value();
    for (const auto& entry : lines)
      out.push_back(nlohmann::json::parse(entry.second));
    return out;
  }
};

model::FileObservation file(const std::string& path, uint32_t mode, int64_t mtime) {
  model::FileObservation o;
  o.path = path;
  o.presence = model::Presence::kPresent;
  o.attrs.type = model::FileType::kFile;
  o.attrs.mode = mode;
  o.attrs.size = 3;
  o.attrs.mask = bit(Attr::kType) | bit(Attr::kMode) | bit(Attr::kOwner) | bit(Attr::kGroup) |
                 bit(Attr::kSize);
  o.stamp.ino = 7;
  o.stamp.mtime = {mtime, 0};
  o.stamp.ctime = {mtime, 0};
  return o;
}

}  // namespace

TEST_CASE("a change is stored with its outbox entry, its drift and its event line") {
  Fixture f("name: p\nfiles:\n  - {path: /etc/motd, mode: \"0644\"}\n");
  CHECK(f.record(file("/etc/motd", 0644, 1000), 1'000'000));
  CHECK(*f.db->outboxDepth() == 1);
  CHECK(f.events().empty());  // matches the policy: no drift

  CHECK(f.record(file("/etc/motd", 0600, 1001), 1'001'000));
  CHECK(*f.db->outboxDepth() == 2);
  auto events = f.events();
  REQUIRE(events.size() == 1);
  CHECK(events[0]["event"] == "drift_opened");
  CHECK(events[0]["host"] == "web-01");
  CHECK(events[0]["attributes"][0]["actual"] == "0600");

  // The same state again: nothing new anywhere.
  CHECK_FALSE(f.record(file("/etc/motd", 0600, 1001), 1'002'000));
  CHECK(*f.db->outboxDepth() == 2);
  CHECK(f.events().size() == 1);

  CHECK(f.record(file("/etc/motd", 0644, 1003), 1'003'000));
  events = f.events();
  REQUIRE(events.size() == 2);
  CHECK(events[1]["event"] == "drift_resolved");
  CHECK_FALSE(f.db->drift("file:/etc/motd")->has_value());
}

TEST_CASE("stat data is kept for reuse only when the file was not modified just before") {
  Fixture f("name: p\nfiles:\n  - {path: /etc/motd, mode: \"0644\"}\n");
  f.record(file("/etc/motd", 0644, 1000), 1000 * 1000 + 500);  // modified 0.5 s before: racy
  CHECK((*f.db->resource("file:/etc/motd"))->stamp.empty());
  f.record(file("/etc/motd", 0644, 1000), 1000 * 1000 + 5000);  // looked at again later
  CHECK_FALSE((*f.db->resource("file:/etc/motd"))->stamp.empty());
}

TEST_CASE("drift that only moved in the policy file is updated silently") {
  Fixture f("name: p\nfiles:\n  - {path: /etc/motd, mode: \"0644\"}\n");
  f.record(file("/etc/motd", 0600, 1000), 9'000'000);
  REQUIRE(f.events().size() == 1);
  // The same rule, two lines further down.
  f.dir.write("p.yaml",
              "name: p\n# a comment\n# another\nfiles:\n  - {path: /etc/motd, mode: \"0644\"}\n");
  AgentConfig config;
  config.policy = f.dir.at("p.yaml");
  f.snap = loadPolicyAndBaseline(config, nullptr)->snapshot;
  auto tx = f.db->begin();
  REQUIRE(f.recorder->rejudgeStored(*f.snap, f.ids).ok());
  REQUIRE(tx->commit().ok());
  CHECK(f.events().size() == 1);
  const auto stored = nlohmann::json::parse((*f.db->drift("file:/etc/motd"))->item);
  CHECK(stored["rule"]["line"] == 5);
}

TEST_CASE("resources the policy no longer covers leave, and their drift is resolved") {
  Fixture f("name: p\nfiles:\n  - {path: /etc/motd, mode: \"0644\"}\n");
  f.record(file("/etc/motd", 0600, 1000), 9'000'000);
  f.dir.write("p.yaml", "name: p\nfiles:\n  - {path: /etc/other, mode: \"0644\"}\n");
  AgentConfig config;
  config.policy = f.dir.at("p.yaml");
  f.snap = loadPolicyAndBaseline(config, nullptr)->snapshot;
  auto tx = f.db->begin();
  REQUIRE(f.recorder->rejudgeStored(*f.snap, f.ids).ok());
  REQUIRE(tx->commit().ok());
  CHECK_FALSE(f.db->resource("file:/etc/motd")->has_value());
  const auto events = f.events();
  CHECK(events.back()["event"] == "drift_resolved");
  CHECK(events.back()["reason"] == "no longer covered by the policy");
}

TEST_CASE("gaps open and close once, each with an outbox entry and an event") {
  Fixture f("name: p\nfiles:\n  - {path: /etc/motd, mode: \"0644\"}\n");
  auto tx = f.db->begin();
  auto id = f.recorder->openGap("overflow", "*", "events lost", 100);
  REQUIRE(id.ok());
  CHECK(*f.recorder->closeGap(*id));
  CHECK_FALSE(*f.recorder->closeGap(*id));
  REQUIRE(tx->commit().ok());
  CHECK(*f.db->outboxDepth() == 2);
  const auto events = f.events();
  REQUIRE(events.size() == 2);
  CHECK(events[0]["event"] == "coverage_gap_opened");
  CHECK(events[1]["event"] == "coverage_gap_closed");
}

TEST_CASE("the stored baseline is replaced only when it changed") {
  Fixture f("name: p\nfiles:\n  - {path: /etc/motd, mode: \"0644\"}\n");
  baseline::Baseline b;
  b.policy = "p";
  baseline::BaselineEntry e;
  e.path = "/etc/app/x";
  e.attrs.type = model::FileType::kFile;
  e.attrs.mask = bit(Attr::kType);
  b.entries.push_back(e);
  REQUIRE(f.recorder->storeBaseline(&b).ok());
  CHECK(f.db->baselineEntry("/etc/app/x")->has_value());
  const auto digest = **f.db->meta("baseline_digest");
  REQUIRE(f.recorder->storeBaseline(&b).ok());
  CHECK(**f.db->meta("baseline_digest") == digest);
  REQUIRE(f.recorder->storeBaseline(nullptr).ok());
  CHECK_FALSE(f.db->baselineEntry("/etc/app/x")->has_value());
}

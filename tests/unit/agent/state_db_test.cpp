#include "agent/store/state_db.h"

#include <atomic>

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;

TEST_CASE("resources, outbox, drift, gaps and events persist across reopening") {
  testing::TempDir dir;
  {
    auto db = StateDb::openForWriting(dir.at("state"));
    REQUIRE(db.ok());
    auto tx = db->begin();
    REQUIRE(tx.ok());
    REQUIRE(db->putResource("file:/etc/a", "present\ttype=file", "1:2:3", 100).ok());
    REQUIRE(db->putResource("file:/etc/a/b", "present\ttype=file", "", 100).ok());
    REQUIRE(db->putResource("file:/etc/ab", "present\ttype=file", "", 100).ok());
    REQUIRE(db->appendStateChange("file:/etc/a", "present\ttype=file", std::nullopt, 100).ok());
    REQUIRE(db->putDrift({"file:/etc/a", "{}", 3, 100, 100}).ok());
    REQUIRE(db->queueEvent("{\"event\":\"drift_opened\"}").ok());
    auto gap = db->openGap("restart", "*", "stopped", 50);
    REQUIRE(gap.ok());
    REQUIRE(*db->closeGap(*gap, 90));
    CHECK_FALSE(*db->closeGap(*gap, 95));  // closed already: nothing changes
    REQUIRE(db->setMeta("policy", "web").ok());
    REQUIRE(tx->commit().ok());
    // A second writer update keeps first_seen.
    REQUIRE(db->putDrift({"file:/etc/a", "{\"x\":1}", 3, 999, 200}).ok());
  }
  auto db = StateDb::openForReading(dir.at("state"));
  REQUIRE(db.ok());
  auto a = db->resource("file:/etc/a");
  REQUIRE(a.ok());
  REQUIRE(a->has_value());
  CHECK((*a)->stamp == "1:2:3");
  std::vector<std::string> under;
  REQUIRE(db->forEachResourceId("file:/etc/a/", [&](const std::string& id) {
              under.push_back(id);
            }).ok());
  CHECK(under == std::vector<std::string>{"file:/etc/a/b"});
  auto drift = db->drift("file:/etc/a");
  REQUIRE(drift.ok());
  CHECK((*drift)->firstSeen == 100);
  CHECK((*drift)->lastChanged == 200);
  CHECK((*drift)->item == "{\"x\":1}");
  CHECK(*db->outboxDepth() == 1);
  auto gaps = db->gaps(false, 10);
  REQUIRE(gaps.ok());
  REQUIRE(gaps->size() == 1);
  CHECK((*gaps)[0].endedAt == 90);
  CHECK(db->gaps(true, 10)->empty());
  CHECK(db->queuedEvents()->size() == 1);
  CHECK(**db->meta("policy") == "web");
  CHECK_FALSE(db->meta("nothing")->has_value());
}

TEST_CASE("a closed outbox gate keeps no changes and no gaps, an open one keeps both") {
  testing::TempDir dir;
  auto db = StateDb::openForWriting(dir.at("state"));
  REQUIRE(db.ok());
  std::atomic<bool> enrolled{false};
  db->setOutboxGate(&enrolled);
  REQUIRE(db->appendStateChange("file:/etc/a", "present\ttype=file", std::nullopt, 100).ok());
  REQUIRE(db->appendCoverage("1", "{}", 100).ok());
  CHECK(*db->outboxDepth() == 0);
  enrolled = true;
  REQUIRE(db->appendStateChange("file:/etc/a", "present\ttype=dir", std::nullopt, 200).ok());
  REQUIRE(db->appendCoverage("1", "{}", 200).ok());
  CHECK(*db->outboxDepth() == 2);
}

TEST_CASE("an uncommitted change is not visible after a crash-like close") {
  testing::TempDir dir;
  {
    auto db = StateDb::openForWriting(dir.at("state"));
    REQUIRE(db.ok());
    auto tx = db->begin();
    REQUIRE(tx.ok());
    REQUIRE(db->putResource("file:/x", "present", "", 1).ok());
    // No commit: the transaction is rolled back when it goes away.
  }
  auto db = StateDb::openForReading(dir.at("state"));
  REQUIRE(db.ok());
  CHECK_FALSE(db->resource("file:/x")->has_value());
}

TEST_CASE("a state directory that is a file is refused") {
  testing::TempDir dir;
  dir.write("state", "not a directory");
  auto db = StateDb::openForWriting(dir.at("state"));
  REQUIRE_FALSE(db.ok());
  CHECK(db.error().describe().find("not a directory") != std::string::npos);
}

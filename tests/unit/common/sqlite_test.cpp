#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "common/sqlite/database.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::sqlite;

namespace {
constexpr std::string_view kV1[] = {"CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER);"};
constexpr std::string_view kV2[] = {"CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER);",
                                    "ALTER TABLE t ADD COLUMN w TEXT;"};
}  // namespace

TEST_CASE("migrations upgrade in place and a newer schema is refused") {
  testing::TempDir dir;
  const std::string path = dir.at("db.sqlite");
  {
    auto db = Database::open(path);
    REQUIRE(db.ok());
    REQUIRE(db->migrate(kV1).ok());
    REQUIRE(db->exec("INSERT INTO t (k, v) VALUES ('a', 1)").ok());
  }
  {
    auto db = Database::open(path);
    REQUIRE(db.ok());
    REQUIRE(db->migrate(kV2).ok());
    auto stmt = db->prepare("SELECT v, w FROM t WHERE k = ?");
    REQUIRE(stmt.ok());
    stmt->bind(1, std::string_view("a"));
    REQUIRE(stmt->step());
    CHECK(stmt->columnInt(0) == 1);
    CHECK(stmt->isNull(1));
  }
  auto old = Database::open(path);
  REQUIRE(old.ok());
  const auto refused = old->migrate(kV1);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("newer driftwatch") != std::string::npos);
}

TEST_CASE("a transaction not committed is rolled back") {
  testing::TempDir dir;
  auto db = Database::open(dir.at("db.sqlite"));
  REQUIRE(db.ok());
  REQUIRE(db->migrate(kV1).ok());
  {
    auto tx = Transaction::begin(*db);
    REQUIRE(tx.ok());
    REQUIRE(db->exec("INSERT INTO t (k, v) VALUES ('x', 1)").ok());
  }
  {
    auto tx = Transaction::begin(*db);
    REQUIRE(tx.ok());
    REQUIRE(db->exec("INSERT INTO t (k, v) VALUES ('y', 2)").ok());
    REQUIRE(tx->commit().ok());
  }
  auto count = db->prepare("SELECT count(*) FROM t");
  REQUIRE(count.ok());
  REQUIRE(count->step());
  CHECK(count->columnInt(0) == 1);
}

TEST_CASE("a savepoint not released is undone alone, the transaction around it commits") {
  testing::TempDir dir;
  auto db = Database::open(dir.at("db.sqlite"));
  REQUIRE(db.ok());
  REQUIRE(db->migrate(kV1).ok());
  {
    auto tx = Transaction::begin(*db);
    REQUIRE(tx.ok());
    {
      auto kept = Savepoint::begin(*db);
      REQUIRE(kept.ok());
      REQUIRE(db->exec("INSERT INTO t (k, v) VALUES ('kept', 1)").ok());
      REQUIRE(kept->release().ok());
    }
    {
      auto undone = Savepoint::begin(*db);
      REQUIRE(undone.ok());
      REQUIRE(db->exec("INSERT INTO t (k, v) VALUES ('undone', 2)").ok());
    }
    {
      // A unit whose statement failed is undone too, and the transaction stays usable.
      auto failed = Savepoint::begin(*db);
      REQUIRE(failed.ok());
      REQUIRE(db->exec("INSERT INTO t (k, v) VALUES ('also undone', 3)").ok());
      CHECK_FALSE(db->exec("INSERT INTO t (k, v) VALUES ('kept', 4)").ok());
    }
    REQUIRE(db->exec("INSERT INTO t (k, v) VALUES ('after', 5)").ok());
    REQUIRE(tx->commit().ok());
  }
  auto rows = db->prepare("SELECT k FROM t ORDER BY k");
  REQUIRE(rows.ok());
  std::vector<std::string> keys;
  while (rows->step())
    keys.push_back(rows->columnText(0));
  CHECK(keys == std::vector<std::string>{"after", "kept"});
}

TEST_CASE("errors name the database and SQLite's reason") {
  testing::TempDir dir;
  auto db = Database::open(dir.at("db.sqlite"));
  REQUIRE(db.ok());
  auto bad = db->prepare("SELECT nope FROM nowhere");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().describe().find(dir.at("db.sqlite")) != std::string::npos);
  CHECK(bad.error().message.find("no such table") != std::string::npos);
  dir.write("junk.sqlite", std::string(4096, 'j'));
  auto junk = Database::open(dir.at("junk.sqlite"));
  CHECK_FALSE(junk.ok());
  auto missing = Database::open(dir.at("missing/db.sqlite"));
  CHECK_FALSE(missing.ok());
}

#include "aggregator/maintenance/maintenance_windows.h"

#include <doctest/doctest.h>

#include "tests/unit/aggregator/store_fixture.h"

using namespace driftwatch;
using namespace driftwatch::aggregator;

namespace {

MaintenanceWindow window(Labels selector, int64_t start, int64_t end) {
  MaintenanceWindow w;
  w.selector = std::move(selector);
  w.startsAt = start;
  w.endsAt = end;
  w.reason = "kernel upgrade";
  w.createdBy = "alice";
  w.createdAt = 1000;
  return w;
}

const Labels kWeb = {{"role", "web"}, {"dc", "fra"}};
const Labels kDb = {{"role", "db"}, {"dc", "fra"}};

}  // namespace

TEST_CASE("a window holds the hosts its selector selects, from its start to its end") {
  testing::StoreFixture fixture;
  const MaintenanceWindows windows(*fixture.store);
  auto added = windows.add(window({{"role", "web"}}, 10'000, 20'000), 1000);
  REQUIRE(added.ok());
  CHECK(added->id > 0);

  CHECK_FALSE(windows.heldUntil(kWeb, 9'999).value().has_value());
  CHECK(windows.heldUntil(kWeb, 10'000).value() == 20'000);
  CHECK(windows.heldUntil(kWeb, 19'999).value() == 20'000);
  CHECK_FALSE(windows.heldUntil(kWeb, 20'000).value().has_value());
  CHECK_FALSE(windows.heldUntil(kDb, 15'000).value().has_value());

  // Overlapping windows hold until the last of them ends; an empty selector is every host.
  REQUIRE(windows.add(window({}, 15'000, 30'000), 1000).ok());
  CHECK(windows.heldUntil(kWeb, 16'000).value() == 30'000);
  CHECK(windows.heldUntil(kDb, 16'000).value() == 30'000);
}

TEST_CASE("ending a window: a current one ends now, an upcoming one is dropped") {
  testing::StoreFixture fixture;
  const MaintenanceWindows windows(*fixture.store);
  const int64_t current = windows.add(window({}, 1'000, 50'000), 1000).value().id;
  const int64_t upcoming = windows.add(window({}, 60'000, 70'000), 1000).value().id;
  CHECK(windows.list(10'000, false).value().size() == 2);

  CHECK(windows.end(current, 10'000).value());
  CHECK_FALSE(windows.heldUntil(kWeb, 10'000).value().has_value());
  CHECK(windows.end(upcoming, 10'000).value());
  CHECK(windows.list(10'000, false).value().empty());
  // Past windows stay on record; the dropped upcoming one is gone.
  const auto all = windows.list(10'000, true).value();
  REQUIRE(all.size() == 1);
  CHECK(all[0].endsAt == 10'000);
  CHECK_FALSE(windows.end(current, 11'000).value());
  CHECK_FALSE(windows.end(999, 11'000).value());
}

TEST_CASE("a window needs a reason and an end after its start and after now") {
  testing::StoreFixture fixture;
  const MaintenanceWindows windows(*fixture.store);
  auto noReason = window({}, 1'000, 2'000);
  noReason.reason.clear();
  CHECK(windows.add(noReason, 0).error().describe().find("--reason") != std::string::npos);
  CHECK(windows.add(window({}, 2'000, 2'000), 0).error().describe().find("after its start") !=
        std::string::npos);
  CHECK(windows.add(window({}, 1'000, 2'000), 5'000).error().describe().find("in the past") !=
        std::string::npos);
}

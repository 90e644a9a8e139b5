#include "agent/watcher/pending_set.h"

#include <doctest/doctest.h>

using driftwatch::agent::PendingSet;

TEST_CASE("a burst on one path is one item once it has been quiet for the settle window") {
  PendingSet p;
  for (uint64_t t = 0; t < 100; t += 10)
    p.add("/a", PendingSet::Scope::kEntry, t);
  CHECK(p.takeReady(100, 50, 5000).empty());  // last event at 90: quiet only from 140
  CHECK(p.nextReadyAt(50, 5000) == 140u);
  const auto ready = p.takeReady(140, 50, 5000);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].path == "/a");
  CHECK(p.empty());
}

TEST_CASE("a path that never stops changing is still observed after the longest delay") {
  PendingSet p;
  for (uint64_t t = 0; t <= 1000; t += 10)
    p.add("/busy", PendingSet::Scope::kEntry, t);
  CHECK(p.takeReady(999, 50, 1000).empty());
  CHECK(p.takeReady(1000, 50, 1000).size() == 1);
}

TEST_CASE("a subtree change wins over an entry change, and parents come first") {
  PendingSet p;
  p.add("/d/x", PendingSet::Scope::kEntry, 0);
  p.add("/d", PendingSet::Scope::kEntry, 0);
  p.add("/d", PendingSet::Scope::kSubtree, 5);
  p.add("/d", PendingSet::Scope::kEntry, 6);
  const auto ready = p.takeReady(100, 10, 1000);
  REQUIRE(ready.size() == 2);
  CHECK(ready[0].path == "/d");
  CHECK(ready[0].scope == PendingSet::Scope::kSubtree);
  CHECK(ready[1].path == "/d/x");
}

TEST_CASE("taking ready items respects a limit and leaves busy paths waiting") {
  PendingSet p;
  for (int i = 0; i < 10; ++i)
    p.add("/f" + std::to_string(i), PendingSet::Scope::kEntry, 0);
  const auto some =
      p.takeReady(100, 10, 1000, 3, [](const std::string& path) { return path != "/f0"; });
  CHECK(some.size() == 3);
  CHECK(p.size() == 7);
  const auto rest =
      p.takeReady(100, 10, 1000, 100, [](const std::string& path) { return path != "/f0"; });
  CHECK(rest.size() == 6);
  REQUIRE(p.size() == 1);  // the busy one waits, with its age kept
  CHECK(p.takeReady(100, 10, 1000).size() == 1);
}

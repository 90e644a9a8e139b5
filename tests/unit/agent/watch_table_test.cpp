#include "agent/watcher/watch_table.h"

#include <set>

#include <doctest/doctest.h>

using namespace driftwatch;
using namespace driftwatch::agent;

namespace {

// A kernel with room for `limit` watches; descriptors are handed out like inotify's.
class FakeWatcher final : public Watcher {
 public:
  explicit FakeWatcher(size_t limit) : limit_(limit) {}
  Result<int> addWatch(int dirFd) override {
    if (active_.size() >= limit_ && !active_.contains(dirFd)) {
      return makeError(ErrorCode::kLimit, "cannot watch the directory: No space left on device");
    }
    active_.insert(dirFd);
    return dirFd;  // the fake uses the descriptor number as the watch descriptor
  }
  void removeWatch(int wd) override { active_.erase(wd); }
  std::set<int> active_;

 private:
  size_t limit_;
};

}  // namespace

TEST_CASE("refused watches are recorded as polled, and cleared once watched") {
  FakeWatcher kernel(2);
  WatchTable table(kernel);
  std::string error;
  CHECK(table.watch("/srv", 10, &error) == WatchTable::Outcome::kWatched);
  CHECK(table.watch("/srv/a", 11, &error) == WatchTable::Outcome::kWatched);
  CHECK(table.watch("/srv/b", 12, &error) == WatchTable::Outcome::kRefused);
  CHECK(error.find("No space") != std::string::npos);
  CHECK(table.watch("/srv/b/c", 13, &error) == WatchTable::Outcome::kRefused);
  CHECK(table.takeNewRefusals() == 2);
  CHECK(table.takeNewRefusals() == 0);
  CHECK(table.polledRoots() == std::vector<std::string>{"/srv/b"});
  CHECK(table.polledCount() == 2);
  CHECK(table.pathOf(11) == "/srv/a");

  table.unwatchUnder("/srv/a");  // the directory went away: its watch is freed
  CHECK_FALSE(table.pathOf(11).has_value());
  CHECK(table.watch("/srv/b", 12, &error) == WatchTable::Outcome::kWatched);
  CHECK(table.polledRoots() == std::vector<std::string>{"/srv/b/c"});
  CHECK(table.watchedCount() == 2);
}

TEST_CASE("a renamed directory keeps its descriptor and gets its new path") {
  FakeWatcher kernel(10);
  WatchTable table(kernel);
  CHECK(table.watch("/srv/old", 7, nullptr) == WatchTable::Outcome::kWatched);
  CHECK(table.watch("/srv/new", 7, nullptr) == WatchTable::Outcome::kWatched);
  CHECK(table.pathOf(7) == "/srv/new");
  CHECK(table.watchedCount() == 1);
  table.unwatchUnless([](const std::string& p) { return p != "/srv/new"; });
  CHECK(table.watchedCount() == 0);
  CHECK(kernel.active_.empty());
}

#include "agent/loop/event_loop.h"

#include <thread>

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/inotify.h>

#include "agent/loop/work_pool.h"
#include "agent/watcher/watcher.h"
#include "common/base/unique_fd.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;
using namespace std::chrono_literals;

TEST_CASE("work runs on the pool and its completion on the loop thread") {
  EventLoop loop;
  const auto loopThread = std::this_thread::get_id();
  std::thread::id workThread;
  std::thread::id doneThread;
  std::vector<int> posted;
  {
    WorkPool pool(loop, 2);
    pool.submit(
        [&] {
          workThread = std::this_thread::get_id();
          pool.post([&] { posted.push_back(1); });
        },
        [&] {
          doneThread = std::this_thread::get_id();
          loop.stop();
        });
    Timer safety(loop);
    safety.start(10s, 0ms, [&] { loop.stop(); });
    loop.run();
    CHECK(pool.inFlight(WorkPool::Lane::kUrgent) == 0);
  }
  CHECK(workThread != loopThread);
  CHECK(doneThread == loopThread);
  CHECK(posted == std::vector<int>{1});
}

TEST_CASE(
    "an exception in a callback stops the loop and is reported, never unwinding through libuv") {
  EventLoop loop;
  std::string reported;
  loop.setErrorHook([&](const std::string& what) { reported = what; });
  Timer t(loop);
  t.start(0ms, 0ms, [] { throw std::runtime_error("boom"); });
  loop.run();
  CHECK(reported == "boom");
}

TEST_CASE("the inotify watcher reports events with names, read through the loop") {
  testing::TempDir dir;
  dir.mkdir("watched");
  EventLoop loop;
  std::vector<WatchEvent> seen;
  auto watcher = InotifyWatcher::create(loop, [&](std::vector<WatchEvent>& events) {
    seen.insert(seen.end(), events.begin(), events.end());
    for (const auto& e : events) {
      if (e.name == "new.conf" && (e.mask & IN_CLOSE_WRITE) != 0) loop.stop();
    }
  });
  REQUIRE(watcher.ok());
  UniqueFd fd(::open(dir.at("watched").c_str(), O_RDONLY | O_DIRECTORY));
  auto wd = (*watcher)->addWatch(fd.get());
  REQUIRE(wd.ok());
  dir.write("watched/new.conf", "x");
  Timer safety(loop);
  safety.start(10s, 0ms, [&] { loop.stop(); });
  loop.run();
  bool created = false;
  for (const auto& e : seen)
    created = created || (e.wd == *wd && e.name == "new.conf" && (e.mask & IN_CREATE));
  CHECK(created);
}

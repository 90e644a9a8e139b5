// End-to-end: the real daemon (`driftwatch-agent run`) on temporary trees. Each case makes a
// change on disk and asserts the exact drift records and events that follow.

#include <chrono>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/e2e/daemon_harness.h"

using namespace driftwatch::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPolicy = R"(name: daemon
files:
  - path: /srv/app
    recursive: true
    ignore: ["*.swp"]
  - path: /etc/motd
    content: "hello\n"
    severity: high
)";

struct Host {
  TempDir work;
  TempDir root;
  Host() {
    work.write("p.yaml", kPolicy);
    root.write("srv/app/a.conf", "a=1\n");
    root.write("srv/app/b.conf", "b=1\n");
    root.write("srv/app/sub/c.conf", "c=1\n");
    root.write("etc/motd", "hello\n");
    recordBaseline(work, root.path());
  }
};

// Writes `content` the way editors and package managers do: a temporary file renamed over.
void replaceByRename(const TempDir& root, const std::string& relative, const std::string& content) {
  root.write(relative + ".tmp~", content);
  REQUIRE(::rename(root.at(relative + ".tmp~").c_str(), root.at(relative).c_str()) == 0);
}

}  // namespace

TEST_CASE("daemon: an edit opens drift once, and reverting it resolves it") {
  Host h;
  AgentDaemon d(h.work, h.root.path());
  d.start();
  CHECK(d.status()["drift"]["count"] == 0);

  // Written in ten chunks: one change after the settle window, not ten.
  const int fd = ::open(h.root.at("srv/app/a.conf").c_str(), O_WRONLY | O_TRUNC);
  REQUIRE(fd >= 0);
  for (int i = 0; i < 10; ++i)
    REQUIRE(::write(fd, "0123456789", 10) == 10);
  ::close(fd);
  REQUIRE(d.waitDrift("file:/srv/app/a.conf", "modified"));
  const auto item = d.drift("file:/srv/app/a.conf");
  CHECK(item["attributes"][0]["name"] == "size");
  CHECK(item["attributes"][1]["name"] == "sha256");
  CHECK(d.countEvents("drift_opened", "file:/srv/app/a.conf") == 1);
  CHECK(d.countEvents("drift_changed", "file:/srv/app/a.conf") == 0);

  h.root.write("srv/app/a.conf", "a=1\n");
  REQUIRE(d.waitNoDrift("file:/srv/app/a.conf"));
  REQUIRE(waitFor([&] { return d.countEvents("drift_resolved", "file:/srv/app/a.conf") == 1; }));
  d.signal(SIGTERM);
  CHECK(d.wait(5s) == 0);
}

TEST_CASE("daemon: chmod, rename-over, delete and ignored files") {
  Host h;
  AgentDaemon d(h.work, h.root.path());
  d.start();
  REQUIRE(::chmod(h.root.at("srv/app/b.conf").c_str(), 0600) == 0);
  REQUIRE(d.waitDrift("file:/srv/app/b.conf", "modified"));
  CHECK(d.drift("file:/srv/app/b.conf")["attributes"][0]["actual"] == "0600");

  replaceByRename(h.root, "etc/motd", "goodbye\n");
  REQUIRE(d.waitDrift("file:/etc/motd", "modified"));
  const auto motd = d.drift("file:/etc/motd");
  CHECK(motd["severity"] == "high");
  CHECK(motd["attributes"][0]["actual"] == "goodbye\\x0a");
  CHECK(d.countEvents("drift_opened", "file:/etc/motd") == 1);

  h.root.remove("srv/app/sub");
  REQUIRE(d.waitDrift("file:/srv/app/sub/c.conf", "removed"));
  REQUIRE(d.waitDrift("file:/srv/app/sub", "removed"));

  h.root.write("srv/app/.a.conf.swp", "editor noise");
  h.root.write("srv/app/zz-marker", "x");  // a later change: once seen, the .swp was handled
  REQUIRE(d.waitDrift("file:/srv/app/zz-marker", "added"));
  CHECK(d.drift("file:/srv/app/.a.conf.swp").is_null());
  CHECK(d.status()["drift"]["count"] == 5);
}

TEST_CASE("daemon: a new nested directory with files is seen, created before its watch or after") {
  Host h;
  AgentDaemon d(h.work, h.root.path());
  d.start();
  // Created in one go: the inner directories and files exist before the agent can watch them.
  h.root.write("srv/app/new/deep/deeper/file1", "1");
  h.root.write("srv/app/new/deep/file2", "2");
  for (const char* r :
       {"file:/srv/app/new", "file:/srv/app/new/deep", "file:/srv/app/new/deep/deeper",
        "file:/srv/app/new/deep/deeper/file1", "file:/srv/app/new/deep/file2"}) {
    INFO(r);
    CHECK(d.waitDrift(r, "added"));
  }
  // And the new directories are watched now.
  h.root.write("srv/app/new/deep/deeper/file3", "3");
  CHECK(d.waitDrift("file:/srv/app/new/deep/deeper/file3", "added"));
  // A directory tree moved in from outside the watched tree.
  h.root.write("outside/tree/x", "x");
  REQUIRE(::rename(h.root.at("outside/tree").c_str(), h.root.at("srv/app/moved").c_str()) == 0);
  CHECK(d.waitDrift("file:/srv/app/moved/x", "added"));
  h.root.write("srv/app/moved/y", "y");
  CHECK(d.waitDrift("file:/srv/app/moved/y", "added"));
}

TEST_CASE("daemon: a burst of thousands of changes ends in exactly one record each") {
  Host h;
  AgentDaemon d(h.work, h.root.path());
  d.start();
  constexpr int kFiles = 3000;
  h.root.mkdir("srv/app/burst");
  for (int i = 0; i < kFiles; ++i)
    h.root.write("srv/app/burst/f" + std::to_string(i), std::to_string(i));
  REQUIRE(waitFor([&] { return d.status()["drift"]["count"] == kFiles + 1; }, 60s));
  // Event lines follow their transaction: wait for them, then count exactly.
  CHECK(waitFor([&] { return d.events("drift_opened").size() >= kFiles + 1; }));
  h.root.remove("srv/app/burst");
  REQUIRE(waitFor([&] { return d.status()["drift"]["count"] == 0; }, 60s));
  CHECK(waitFor([&] { return d.events("drift_resolved").size() >= kFiles + 1; }));
  CHECK(d.events("drift_resolved").size() == kFiles + 1);
  CHECK(d.events("drift_opened").size() == kFiles + 1);  // nothing opened twice
}

TEST_CASE(
    "daemon: an inotify queue overflow is a recorded gap, followed by a rescan that misses "
    "nothing") {
  Host h;
  AgentDaemon d(h.work, h.root.path());
  d.start();
  // Freeze the agent so that it reads nothing while more events than the kernel queues
  // (max_queued_events, 16384 by default) happen.
  h.root.mkdir("srv/app/flood");
  REQUIRE(d.waitDrift("file:/srv/app/flood", "added"));  // watched from here on
  d.signal(SIGSTOP);
  for (int i = 0; i < 9000; ++i)
    h.root.write("srv/app/flood/f" + std::to_string(i), "");
  h.root.write("srv/app/a.conf", "changed while blind\n");
  d.signal(SIGCONT);
  REQUIRE(waitFor(
      [&] {
        const auto s = d.status();
        if (s.is_null()) return false;
        for (const auto& g : s["coverage"]["recent_gaps"]) {
          if (g["kind"] == "overflow" && !g["ended_at"].is_null()) return true;
        }
        return false;
      },
      60s));
  REQUIRE(d.waitDrift("file:/srv/app/a.conf", "modified"));
  REQUIRE(waitFor([&] { return d.status()["drift"]["count"] == 9000 + 2; }, 60s));
  CHECK(d.events("coverage_gap_opened").size() >= 1);
  CHECK(waitFor([&] { return d.events("drift_opened").size() >= 9000 + 2; }));
  CHECK(d.events("drift_opened").size() == 9000 + 2);
}

TEST_CASE("daemon: kill -9, changes while down, restart: reported once, with the blind window") {
  Host h;
  {
    AgentDaemon d(h.work, h.root.path());
    d.start();
    h.root.write("srv/app/b.conf", "b=2\n");
    REQUIRE(d.waitDrift("file:/srv/app/b.conf", "modified"));
    d.signal(SIGKILL);
    d.wait(5s);
  }
  // While the agent is down.
  h.root.write("srv/app/a.conf", "a=2\n");
  h.root.remove("srv/app/sub");
  h.root.write("srv/app/new.conf", "new\n");
  h.root.write("srv/app/b.conf", "b=1\n");  // the earlier drift is fixed meanwhile

  AgentDaemon d(h.work, h.root.path());
  d.start();
  CHECK(!d.drift("file:/srv/app/a.conf").is_null());
  CHECK(d.drift("file:/srv/app/sub/c.conf")["change"] == "removed");
  CHECK(d.drift("file:/srv/app/new.conf")["change"] == "added");
  CHECK(d.drift("file:/srv/app/b.conf").is_null());
  CHECK(d.countEvents("drift_opened", "file:/srv/app/b.conf") == 1);
  CHECK(d.countEvents("drift_resolved", "file:/srv/app/b.conf") == 1);
  CHECK(d.countEvents("drift_opened", "file:/srv/app/a.conf") == 1);
  const auto status = d.status();
  bool restartGap = false;
  for (const auto& g : status["coverage"]["recent_gaps"]) {
    if (g["kind"] == "restart") {
      restartGap = !g["ended_at"].is_null();
      CHECK(g["detail"].get<std::string>().find("without a clean shutdown") != std::string::npos);
    }
  }
  CHECK(restartGap);
  // A clean restart reports nothing new.
  const size_t opened = d.events("drift_opened").size();
  d.signal(SIGTERM);
  REQUIRE(d.wait(5s) == 0);
  AgentDaemon again(h.work, h.root.path());
  again.start();
  CHECK(again.events("drift_opened").size() == opened);
  CHECK(again.status()["drift"]["count"] == 4);
}

TEST_CASE("daemon: SIGHUP reloads the policy without losing state, and refuses a broken one") {
  Host h;
  AgentDaemon d(h.work, h.root.path());
  d.start();
  h.root.write("srv/app/a.conf", "a=2\n");
  REQUIRE(d.waitDrift("file:/srv/app/a.conf", "modified"));

  // A broken policy is refused; the running one stays.
  h.work.write("p.yaml", std::string(kPolicy) + "  - {path: /etc/hosts, mod: \"0644\"}\n");
  d.signal(SIGHUP);
  REQUIRE(waitFor([&] { return d.stderrText().find("reload refused") != std::string::npos; }));
  CHECK(d.stderrText().find("unknown key 'mod'") != std::string::npos);
  CHECK(!d.drift("file:/srv/app/a.conf").is_null());

  // A new rule takes effect; an ignore added for a drifted file resolves its drift.
  h.root.write("etc/hosts", "127.0.0.1 localhost\n", 0644);
  h.work.write("p.yaml", R"(name: daemon
files:
  - path: /srv/app
    recursive: true
    ignore: ["*.swp", "a.conf"]
  - path: /etc/motd
    content: "hello\n"
    severity: high
  - {path: /etc/hosts, mode: "0600"}
)");
  d.signal(SIGHUP);
  REQUIRE(d.waitDrift("file:/etc/hosts", "modified"));
  REQUIRE(d.waitNoDrift("file:/srv/app/a.conf"));
  CHECK(d.running());
  // Still watching after the reload.
  REQUIRE(::chmod(h.root.at("srv/app/b.conf").c_str(), 0640) == 0);
  CHECK(d.waitDrift("file:/srv/app/b.conf", "modified"));
}

TEST_CASE("daemon: SIGTERM stops it within a second, cleanly") {
  Host h;
  AgentDaemon d(h.work, h.root.path());
  d.start();
  const auto before = std::chrono::steady_clock::now();
  d.signal(SIGTERM);
  REQUIRE(d.wait(5s) == 0);
  CHECK(std::chrono::steady_clock::now() - before < 1s);
  const auto status = d.status();
  CHECK(status["running"] == false);
}

TEST_CASE("daemon: when the kernel refuses watches it says so, polls the rest and misses nothing") {
  if (runProcess({"/usr/bin/unshare", "-Ur", "true"}).exitCode != 0) {
    MESSAGE("user namespaces are not available here: the watch-limit case cannot run");
    return;
  }
  Host h;
  for (int i = 0; i < 8; ++i)
    h.root.write("srv/app/d" + std::to_string(i) + "/f", "x");
  recordBaseline(h.work, h.root.path());
  AgentDaemon d(h.work, h.root.path());
  // A user namespace with room for only four watches.
  d.start({"/usr/bin/unshare", "-Ur", "/bin/sh", "-c",
           "echo 4 > /proc/sys/user/max_inotify_watches && exec \"$@\"", "sh"});
  const auto coverage = d.status()["coverage"];
  CHECK(coverage["polled_directories"].get<int>() > 0);
  bool open = false;
  for (const auto& g : coverage["open_gaps"])
    open = open || g["kind"] == "watch_refused";
  CHECK(open);
  CHECK(d.stderrText().find("max_user_watches") != std::string::npos);
  // A change in a polled directory is still found (by the poll, within its interval).
  h.root.write("srv/app/d7/f", "changed");
  CHECK(d.waitDrift("file:/srv/app/d7/f", "modified"));
}

TEST_CASE("daemon: files over the hashing limit are reported, never silently skipped") {
  Host h;
  h.root.write("srv/app/big.bin", std::string(4096, 'x'));
  recordBaseline(h.work, h.root.path());
  AgentDaemon d(h.work, h.root.path(), "max_hash_size: 1KiB\n");
  d.start();
  const auto item = d.drift("file:/srv/app/big.bin");
  REQUIRE_FALSE(item.is_null());
  CHECK(item["error"].get<std::string>().find("hashing limit") != std::string::npos);
}

TEST_CASE("daemon: bad configuration and a second daemon on the same state are refused") {
  Host h;
  h.work.write("bad.yaml", "policy: " + h.work.at("p.yaml") + "\nsetle: 10ms\n");
  const auto bad = runProcess({agentBinary(), "run", "--config", h.work.at("bad.yaml")});
  CHECK(bad.exitCode == 1);
  CHECK(bad.err.find(h.work.at("bad.yaml") +
                     ":2:1: unknown key 'setle' (did you mean 'settle'?)") != std::string::npos);
  const auto noPolicy =
      runProcess({agentBinary(), "run", "--config", h.work.at("agent-missing.yaml")});
  CHECK(noPolicy.exitCode == 1);

  AgentDaemon d(h.work, h.root.path());
  d.start();
  const auto second = runProcess({agentBinary(), "run", "--config", h.work.at("agent.yaml")});
  CHECK(second.exitCode == 1);
  CHECK(second.err.find("another driftwatch-agent") != std::string::npos);
}

TEST_CASE("status: text and JSON views of drift, coverage and scans") {
  Host h;
  AgentDaemon d(h.work, h.root.path());
  d.start();
  h.root.write("etc/motd", "changed\n");
  REQUIRE(d.waitDrift("file:/etc/motd", "modified"));
  const auto j = d.status();
  CHECK(j["running"] == true);
  CHECK(j["policy"] == "daemon");
  CHECK(j["coverage"]["watched_directories"].get<int>() >= 3);
  CHECK(j["drift"]["by_severity"]["high"] == 1);
  const auto text = runProcess({agentBinary(), "status", "--state-dir", h.work.at("state")});
  CHECK(text.exitCode == 2);
  CHECK(text.out.find("daemon: running") != std::string::npos);
  CHECK(text.out.find("file:/etc/motd") != std::string::npos);
  const auto missing = runProcess({agentBinary(), "status", "--state-dir", h.work.at("nowhere")});
  CHECK(missing.exitCode == 1);
  CHECK(missing.err.find("no agent state here") != std::string::npos);
}

TEST_CASE("daemon: a watched tree deleted and recreated is watched again") {
  Host h;
  AgentDaemon d(h.work, h.root.path());
  d.start();
  h.root.remove("srv/app");
  REQUIRE(d.waitDrift("file:/srv/app", "removed"));
  REQUIRE(d.waitDrift("file:/srv/app/a.conf", "removed"));
  h.root.write("srv/app/a.conf", "a=1\n");
  REQUIRE(d.waitNoDrift("file:/srv/app/a.conf"));
  // The recreated directory is watched: a later change inside it is seen.
  h.root.write("srv/app/later.conf", "x");
  CHECK(d.waitDrift("file:/srv/app/later.conf", "added"));
  // And the parent of a single-file rule: /etc recreated, motd written back wrong.
  h.root.remove("etc");
  REQUIRE(d.waitDrift("file:/etc/motd", "removed"));
  h.root.write("etc/motd", "wrong\n");
  CHECK(d.waitDrift("file:/etc/motd", "modified"));
}

#include "agent/collectors/file_scanner.h"

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/base/unique_fd.h"
#include "tests/support/open_watch.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::agent;
using model::Attr;
using model::FileObservation;
using model::FileType;
using model::Presence;

namespace {

class CollectingSink final : public FileObservationSink {
 public:
  void onFile(const policy::FileRule& rule, FileObservation&& obs) override {
    std::lock_guard lock(mutex);
    threads.insert(std::this_thread::get_id());
    owners[obs.path] = &rule;
    files[obs.path] = std::move(obs);
  }
  void onListingError(const policy::FileRule&, std::string_view path,
                      const std::string& error) override {
    std::lock_guard lock(mutex);
    listingErrors[std::string(path)] = error;
  }
  void onNotDescended(const policy::FileRule&, std::string_view path,
                      const std::string& reason) override {
    std::lock_guard lock(mutex);
    notDescended[std::string(path)] = reason;
  }
  std::mutex mutex;
  std::map<std::string, FileObservation> files;
  std::map<std::string, const policy::FileRule*> owners;
  std::map<std::string, std::string> listingErrors;
  std::map<std::string, std::string> notDescended;
  std::set<std::thread::id> threads;
};

policy::Policy policyOf(const std::string& yaml) {
  auto p = policy::parsePolicy(yaml, "p.yaml");
  if (!p.ok()) FAIL(p.error().describe());
  return std::move(p).value();
}

struct Scan {
  policy::Policy policy;
  CollectingSink sink;
};

void scan(const testing::TempDir& dir, Scan& s, ScanOptions options = {}) {
  auto root = RootFs::open(dir.path());
  REQUIRE(root.ok());
  const policy::FileRuleIndex index(s.policy.files);
  FileScanner scanner(*root, index, options);
  std::vector<const policy::FileRule*> rules;
  for (const auto& r : s.policy.files)
    rules.push_back(&r);
  scanner.scan(rules, s.sink);
}

}  // namespace

TEST_CASE("a recursive scan observes every entry with its attributes") {
  testing::TempDir dir;
  dir.write("etc/nginx/nginx.conf", "worker_processes 1;\n", 0640);
  dir.write("etc/nginx/sites/default", "server {}\n");
  dir.symlink("etc/nginx/sites-enabled", "sites");
  Scan s{policyOf("name: a\nfiles:\n  - {path: /etc/nginx, recursive: true}\n"), {}};
  scan(dir, s);
  REQUIRE(s.sink.files.size() == 5);
  const auto& conf = s.sink.files.at("/etc/nginx/nginx.conf");
  CHECK(conf.presence == Presence::kPresent);
  CHECK(conf.attrs.type == FileType::kFile);
  CHECK(conf.attrs.mode == 0640);
  CHECK(conf.attrs.size == 20);
  CHECK(conf.attrs.uid == ::geteuid());
  REQUIRE(model::has(conf.attrs.mask, Attr::kSha256));
  CHECK(conf.attrs.sha256 == Sha256::of("worker_processes 1;\n"));
  const auto& link = s.sink.files.at("/etc/nginx/sites-enabled");
  CHECK(link.attrs.type == FileType::kSymlink);
  CHECK(link.attrs.target == "sites");
  CHECK(s.sink.files.at("/etc/nginx/sites").attrs.type == FileType::kDir);
  CHECK(s.sink.files.at("/etc/nginx").attrs.type == FileType::kDir);
}

TEST_CASE("ignore globs prune entries and whole directories") {
  testing::TempDir dir;
  dir.write("t/keep.conf", "");
  dir.write("t/.keep.conf.swp", "");
  dir.write("t/cache/a/b", "");
  dir.write("t/sub/x.swp", "");
  Scan s{
      policyOf(
          "name: a\nfiles:\n  - {path: /t, recursive: true, ignore: [\"*.swp\", \"cache/**\"]}\n"),
      {}};
  scan(dir, s);
  CHECK(s.sink.files.contains("/t/keep.conf"));
  CHECK_FALSE(s.sink.files.contains("/t/.keep.conf.swp"));
  CHECK_FALSE(s.sink.files.contains("/t/sub/x.swp"));
  CHECK(s.sink.files.contains("/t/cache"));  // "cache/**" keeps the directory itself
  CHECK_FALSE(s.sink.files.contains("/t/cache/a"));
  CHECK_FALSE(s.sink.files.contains("/t/cache/a/b"));
}

TEST_CASE("nested rules: each entry is observed once, by its most specific rule") {
  testing::TempDir dir;
  dir.write("etc/hosts", "");
  dir.write("etc/ssh/sshd_config", "");
  dir.write("etc/ssh/moduli", "");
  dir.write("etc/nginx/nginx.conf", "");
  Scan s{policyOf(R"(name: a
files:
  - {path: /etc, recursive: true}
  - {path: /etc/nginx, recursive: true, attributes: [mode]}
  - {path: /etc/ssh/sshd_config, mode: "0600"}
)"),
         {}};
  scan(dir, s);
  const auto& rules = s.policy.files;
  CHECK(s.sink.owners.at("/etc/hosts") == &rules[0]);
  CHECK(s.sink.owners.at("/etc/ssh") == &rules[0]);
  CHECK(s.sink.owners.at("/etc/ssh/moduli") == &rules[0]);
  CHECK(s.sink.owners.at("/etc/ssh/sshd_config") == &rules[2]);
  CHECK(s.sink.owners.at("/etc/nginx") == &rules[1]);
  CHECK(s.sink.owners.at("/etc/nginx/nginx.conf") == &rules[1]);
  // The nginx rule does not ask for sha256: nothing was hashed there.
  CHECK_FALSE(model::has(s.sink.files.at("/etc/nginx/nginx.conf").attrs.mask, Attr::kSha256));
}

TEST_CASE("symlinks are never followed, FIFOs, sockets and devices are never opened") {
  testing::TempDir outside;
  outside.write("secret", "do not read me");
  testing::TempDir dir;
  dir.write("t/regular", "read me");
  dir.symlink("t/to-secret", outside.at("secret"));
  dir.symlink("t/to-dir", outside.path());
  REQUIRE(::mkfifo(dir.at("t/fifo").c_str(), 0644) == 0);
  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sockPath = dir.at("t/sock");
  REQUIRE(sockPath.size() < sizeof addr.sun_path);
  std::copy(sockPath.begin(), sockPath.end(), addr.sun_path);
  REQUIRE(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const bool haveDevice = testing::runningAsRoot() &&
                          ::mknod(dir.at("t/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;

  testing::OpenWatch watch;
  watch.watch(outside.at("secret"));
  watch.watch(dir.at("t/fifo"));
  watch.watch(dir.at("t/regular"));
  if (haveDevice) watch.watch(dir.at("t/null"));

  Scan s{policyOf("name: a\nfiles:\n  - {path: /t, recursive: true}\n"), {}};
  scan(dir, s);
  ::close(sock);

  CHECK(s.sink.files.at("/t/to-secret").attrs.type == FileType::kSymlink);
  CHECK(s.sink.files.at("/t/to-secret").attrs.target == outside.at("secret"));
  CHECK_FALSE(model::has(s.sink.files.at("/t/to-secret").attrs.mask, Attr::kSha256));
  CHECK_FALSE(s.sink.files.contains("/t/to-dir/secret"));  // not descended
  CHECK(s.sink.files.at("/t/fifo").attrs.type == FileType::kFifo);
  CHECK(s.sink.files.at("/t/sock").attrs.type == FileType::kSocket);
  if (haveDevice) CHECK(s.sink.files.at("/t/null").attrs.type == FileType::kDevice);

  const auto opened = watch.opened();
  CHECK(opened.contains(dir.at("t/regular")));  // the watch works
  CHECK_FALSE(opened.contains(outside.at("secret")));
  CHECK_FALSE(opened.contains(dir.at("t/fifo")));
  CHECK_FALSE(opened.contains(dir.at("t/null")));
}

TEST_CASE("a rule path through a symlinked directory is reported, not followed") {
  testing::TempDir dir;
  dir.write("real/ssh/sshd_config", "x");
  dir.symlink("etc", "real");
  Scan s{policyOf("name: a\nfiles:\n  - {path: /etc/ssh/sshd_config, mode: \"0600\"}\n"), {}};
  scan(dir, s);
  const auto& obs = s.sink.files.at("/etc/ssh/sshd_config");
  CHECK(obs.presence == Presence::kUnknown);
  CHECK(obs.error.find("/etc is a symlink (to real)") != std::string::npos);
}

TEST_CASE("missing paths are absent, files over the hash limit are reported, not skipped") {
  testing::TempDir dir;
  dir.write("big", std::string(4096, 'x'));
  Scan s{policyOf("name: a\nfiles:\n  - {path: /missing/file}\n  - {path: /big}\n"), {}};
  ScanOptions options;
  options.maxHashBytes = 1024;
  scan(dir, s, options);
  CHECK(s.sink.files.at("/missing/file").presence == Presence::kAbsent);
  const auto& big = s.sink.files.at("/big");
  CHECK(big.presence == Presence::kPresent);
  CHECK(model::has(big.failed, Attr::kSha256));
  CHECK(big.error.find("hashing limit") != std::string::npos);
}

TEST_CASE("content rules capture small files for display") {
  testing::TempDir dir;
  dir.write("etc/motd", "hello\n");
  Scan s{policyOf("name: a\nfiles:\n  - {path: /etc/motd, content: \"bye\\n\"}\n"), {}};
  scan(dir, s);
  CHECK(s.sink.files.at("/etc/motd").content == "hello\n");
}

TEST_CASE("a large tree is shared between threads") {
  testing::TempDir dir;
  const std::string block(16384, 'z');
  for (int d = 0; d < 40; ++d) {
    for (int f = 0; f < 40; ++f)
      dir.write("t/d" + std::to_string(d) + "/f" + std::to_string(f), block);
  }
  Scan s{policyOf("name: a\nfiles:\n  - {path: /t, recursive: true}\n"), {}};
  ScanOptions options;
  options.threads = 2;
  scan(dir, s, options);
  CHECK(s.sink.files.size() == 1 + 40 + 1600);
  CHECK(s.sink.threads.size() == 2);
}

TEST_CASE("an unreadable directory is a listing error, not an empty directory") {
  if (testing::runningAsRoot()) {
    // Root reads any directory; the end-to-end tests cover this case as an unprivileged user.
    return;
  }
  testing::TempDir dir;
  dir.write("t/locked/a", "");
  ::chmod(dir.at("t/locked").c_str(), 0);
  Scan s{policyOf("name: a\nfiles:\n  - {path: /t, recursive: true}\n"), {}};
  scan(dir, s);
  CHECK(s.sink.listingErrors.contains("/t/locked"));
}

TEST_CASE("files changing and vanishing during a scan never crash it") {
  testing::TempDir dir;
  for (int i = 0; i < 200; ++i)
    dir.write("t/f" + std::to_string(i), "x");
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    int round = 0;
    while (!stop.load()) {
      const std::string name = "t/f" + std::to_string(round % 200);
      dir.remove(name);
      if (round % 3 == 0)
        dir.mkdir(name);
      else if (round % 3 == 1)
        dir.symlink(name, "/etc/passwd");
      else
        dir.write(name, std::string(static_cast<size_t>(round % 5000), 'y'));
      ++round;
    }
  });
  for (int i = 0; i < 20; ++i) {
    Scan s{policyOf("name: a\nfiles:\n  - {path: /t, recursive: true}\n"), {}};
    scan(dir, s);
    for (const auto& [path, obs] : s.sink.files) {
      // Whatever was seen is internally consistent: a hash only on a regular file.
      if (model::has(obs.attrs.mask, Attr::kSha256)) CHECK(obs.attrs.type == FileType::kFile);
    }
  }
  stop = true;
  churn.join();
}

TEST_CASE("pseudo file systems are observed but never walked") {
  // A rule on /proc itself, on the live host.
  Scan s{policyOf("name: a\nfiles:\n  - {path: /proc, recursive: true}\n"), {}};
  auto root = RootFs::open("/");
  REQUIRE(root.ok());
  const policy::FileRuleIndex index(s.policy.files);
  FileScanner scanner(*root, index, {});
  scanner.scan({&s.policy.files[0]}, s.sink);
  CHECK(s.sink.files.size() == 1);
  REQUIRE(s.sink.notDescended.contains("/proc"));
  CHECK(s.sink.notDescended.at("/proc").find("a proc file system") != std::string::npos);

  // A proc mount met while walking a tree (mounting needs root).
  if (!testing::runningAsRoot()) return;
  testing::TempDir dir;
  dir.write("t/file", "x");
  dir.mkdir("t/p");
  if (::mount("proc", dir.at("t/p").c_str(), "proc", 0, nullptr) != 0)
    return;  // no mount rights here
  Scan tree{policyOf("name: a\nfiles:\n  - {path: /t, recursive: true}\n"), {}};
  scan(dir, tree);
  ::umount2(dir.at("t/p").c_str(), MNT_DETACH);
  CHECK(tree.sink.files.contains("/t/p"));
  CHECK(tree.sink.files.size() == 3);
  CHECK(tree.sink.notDescended.contains("/t/p"));
}

TEST_CASE("times past 2262 are kept exactly") {
  testing::TempDir dir;
  dir.write("t/future", "x");
  const struct timespec times[2] = {{0, UTIME_OMIT}, {13569465600, 5}};  // 2400-01-01
  REQUIRE(::utimensat(AT_FDCWD, dir.at("t/future").c_str(), times, 0) == 0);
  Scan s{policyOf("name: a\nfiles:\n  - {path: /t, recursive: true}\n"), {}};
  scan(dir, s);
  const auto& obs = s.sink.files.at("/t/future");
  CHECK(obs.stamp.mtime.sec == 13569465600);
  CHECK(obs.stamp.mtime.nsec == 5);
  CHECK(model::has(obs.attrs.mask, Attr::kSha256));
}

#include "aggregator/policy/policy_source.h"

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base/file_io.h"
#include "common/base/strings.h"

extern char** environ;

namespace driftwatch::aggregator {
namespace {

constexpr size_t kMaxPolicyBytes = 16u << 20;
constexpr size_t kMaxBaselineBytes = 256u << 20;

// Runs a program and returns what it printed on stdout; nullopt when it could not run or
// failed. Its stderr goes to /dev/null: git's complaints outside a checkout are expected.
std::optional<std::string> capture(std::vector<std::string> argv) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return std::nullopt;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  std::string text;
  if (rc == 0) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0 && text.size() < (1u << 20)) text.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(out[0]);
  if (rc != 0) return std::nullopt;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return text;
}

bool isPolicyFileName(const std::string& name) {
  // Not hidden files (".web.yaml.swp" is not even a match, ".web.yaml" is an editor's).
  return name.front() != '.' && (name.ends_with(".yaml") || name.ends_with(".yml"));
}

std::string baselinePathFor(const std::string& path) {
  const size_t dot = path.rfind('.');
  return path.substr(0, dot) + ".baseline";
}

Result<PolicySource> readOne(const std::string& given) {
  PolicySource src;
  // Stored as an absolute path: "web.yaml" says nothing a week later.
  std::error_code ec;
  const std::string path = std::filesystem::absolute(given, ec).lexically_normal().string();
  src.path = ec ? given : path;
  auto text = readRegularFile(src.path, kMaxPolicyBytes, "policy");
  if (!text.ok()) return text.error();
  src.text = std::move(*text);
  src.baselinePath = baselinePathFor(src.path);
  struct stat st {};
  if (::lstat(src.baselinePath.c_str(), &st) == 0) {
    auto baseline = readRegularFile(src.baselinePath, kMaxBaselineBytes, "baseline");
    if (!baseline.ok()) return baseline.error();
    src.baseline = std::move(*baseline);
  }
  src.gitCommit = gitCommitOf(src.path, src.baseline ? src.baselinePath : std::string());
  return src;
}

}  // namespace

std::string gitCommitOf(const std::string& file, const std::string& baselineFile) {
  const std::filesystem::path p(file);
  const std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  auto head = capture({"git", "-C", dir, "rev-parse", "--verify", "-q", "HEAD"});
  if (!head) return "";
  std::string commit(trim(*head));
  std::vector<std::string> status = {
      "git", "-C", dir, "status", "--porcelain", "--", p.filename().string()};
  if (!baselineFile.empty())
    status.push_back(std::filesystem::path(baselineFile).filename().string());
  auto changes = capture(status);
  if (!changes || !trim(*changes).empty()) commit += "+dirty";
  return commit;
}

Result<std::vector<PolicySource>> readPolicySources(const std::vector<std::string>& paths) {
  std::vector<PolicySource> out;
  for (const auto& path : paths) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return osError(errno, "cannot read the policy", path);
    if (S_ISDIR(st.st_mode)) {
      std::vector<std::string> files;
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
        const std::string name = entry.path().filename().string();
        if (isPolicyFileName(name) && entry.is_regular_file(ec) && !entry.is_symlink(ec))
          files.push_back(entry.path().string());
      }
      if (ec) return osError(ec.value(), "cannot list the policy directory", path);
      if (files.empty()) {
        return makeError(ErrorCode::kInvalidInput, "no *.yaml or *.yml policy files in it", path);
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        auto src = readOne(f);
        if (!src.ok()) return src.error();
        out.push_back(std::move(*src));
      }
    } else {
      auto src = readOne(path);
      if (!src.ok()) return src.error();
      out.push_back(std::move(*src));
    }
  }
  return out;
}

}  // namespace driftwatch::aggregator

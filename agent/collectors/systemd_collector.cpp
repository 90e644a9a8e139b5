#include "agent/collectors/systemd_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/unique_fd.h"

namespace driftwatch::agent {
namespace {

constexpr std::string_view kEtcUnits = "/etc/systemd/system";

bool isDependencyDir(std::string_view name) {
  return name.ends_with(".wants") || name.ends_with(".requires") || name.ends_with(".upholds");
}

std::string readLinkAt(int dirFd, const std::string& name) {
  char buffer[4096];
  const ssize_t n = ::readlinkat(dirFd, name.c_str(), buffer, sizeof buffer);
  return n < 0 ? std::string() : std::string(buffer, static_cast<size_t>(n));
}

}  // namespace

SystemdUnitTable SystemdUnitTable::load(const RootFs& root) {
  SystemdUnitTable table;
  auto etcDir = root.openDir(kEtcUnits);
  if (!etcDir.ok()) {
    if (etcDir.error().code != ErrorCode::kNotFound) table.error_ = etcDir.error().describe();
    return table;
  }
  auto entries = root.listDirAt(etcDir->get(), kEtcUnits);
  if (!entries.ok()) {
    table.error_ = entries.error().describe();
    return table;
  }
  for (const auto& e : *entries) {
    struct stat st {};
    if (::fstatat(etcDir->get(), e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode) && isDependencyDir(e.name)) {
      const std::string path = std::string(kEtcUnits) + "/" + e.name;
      UniqueFd linksDir(
          ::openat(etcDir->get(), e.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      auto linked = linksDir.valid()
                        ? root.listDirAt(linksDir.get(), path)
                        : Result<std::vector<RootFs::DirEntry>>(
                              osError(errno, "cannot open the directory", root.hostPath(path)));
      if (!linked.ok()) {
        // Any unit could be linked from there: enablement is unknown for all of them.
        table.error_ = linked.error().describe();
        continue;
      }
      for (auto& l : *linked)
        table.wanted_.insert(std::move(l.name));
    } else if (S_ISLNK(st.st_mode)) {
      const std::string target = readLinkAt(etcDir->get(), e.name);
      if (target == "/dev/null") {
        table.masked_.insert(e.name);
      } else if (!target.empty() && baseName(target) != e.name) {
        table.aliases_.emplace(e.name, std::string(baseName(target)));
      }
    }
  }
  return table;
}

model::ServiceObservation SystemdUnitTable::observe(std::string_view unit) const {
  model::ServiceObservation obs;
  obs.unit = std::string(unit);
  obs.error = error_;
  const std::string name(unit);
  obs.masked = masked_.contains(name);
  obs.enabled = !obs.masked && wanted_.contains(name);
  if (!obs.enabled && !obs.masked) {
    // An alias (sshd.service -> ssh.service) is enabled when the unit it names is.
    if (const auto it = aliases_.find(name); it != aliases_.end())
      obs.enabled = wanted_.contains(it->second);
  }
  return obs;
}

}  // namespace driftwatch::agent

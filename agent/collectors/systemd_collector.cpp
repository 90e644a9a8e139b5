#include "agent/collectors/systemd_collector.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace driftwatch::agent {
namespace {

constexpr std::string_view kEtcUnits = "/etc/systemd/system";
constexpr std::string_view kVendorUnitDirs[] = {"/usr/lib/systemd/system", "/lib/systemd/system"};

bool isDependencyDir(std::string_view name) {
  return name.ends_with(".wants") || name.ends_with(".requires") || name.ends_with(".upholds");
}

std::string readLinkAt(int dirFd, const std::string& name) {
  char buffer[4096];
  const ssize_t n = ::readlinkat(dirFd, name.c_str(), buffer, sizeof buffer);
  return n < 0 ? std::string() : std::string(buffer, static_cast<size_t>(n));
}

// "getty@tty1.service" -> "getty@.service"; other names unchanged.
std::string templateOf(std::string_view unit) {
  const size_t at = unit.find('@');
  const size_t dot = unit.rfind('.');
  if (at == std::string_view::npos || dot == std::string_view::npos || dot < at)
    return std::string(unit);
  return std::string(unit.substr(0, at + 1)) + std::string(unit.substr(dot));
}

}  // namespace

SystemdUnitTable SystemdUnitTable::load(const RootFs& root) {
  SystemdUnitTable table;
  for (const auto dir : kVendorUnitDirs) {
    // On merged-/usr systems /lib is a symlink: that listing fails and the other one counts.
    auto entries = root.listDir(dir);
    if (!entries.ok()) continue;
    for (auto& e : *entries)
      table.installed_.insert(std::move(e.name));
  }
  auto etcDir = root.openDir(kEtcUnits);
  if (!etcDir.ok()) {
    if (etcDir.error().code != ErrorCode::kNotFound) table.error_ = etcDir.error().describe();
    return table;
  }
  auto entries = root.listDir(kEtcUnits);
  if (!entries.ok()) {
    table.error_ = entries.error().describe();
    return table;
  }
  for (const auto& e : *entries) {
    struct stat st {};
    if (::fstatat(etcDir->get(), e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode) && isDependencyDir(e.name)) {
      auto linked = root.listDir(std::string(kEtcUnits) + "/" + e.name);
      if (!linked.ok()) {
        table.error_ = linked.error().describe();
        continue;
      }
      for (auto& l : *linked)
        table.wanted_.insert(std::move(l.name));
    } else if (S_ISLNK(st.st_mode)) {
      const std::string target = readLinkAt(etcDir->get(), e.name);
      if (target == "/dev/null") {
        table.masked_.insert(e.name);
      } else if (!target.empty()) {
        const std::string named(baseName(target));
        if (named != e.name) table.aliases_.emplace(e.name, named);
        table.installed_.insert(e.name);
      }
    } else if (S_ISREG(st.st_mode)) {
      table.installed_.insert(e.name);
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
  obs.installed = installed_.contains(name) || installed_.contains(templateOf(unit));
  obs.enabled = !obs.masked && wanted_.contains(name);
  if (!obs.enabled && !obs.masked) {
    // An alias (sshd.service -> ssh.service) is enabled when the unit it names is.
    if (const auto it = aliases_.find(name); it != aliases_.end())
      obs.enabled = wanted_.contains(it->second);
  }
  return obs;
}

}  // namespace driftwatch::agent

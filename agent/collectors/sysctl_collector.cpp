#include "agent/collectors/sysctl_collector.h"

#include <algorithm>

namespace driftwatch::agent {

std::string sysctlPath(std::string_view key) {
  std::string path = "/proc/sys/";
  path += key;
  if (key.find('/') == std::string_view::npos) {
    std::replace(path.begin() + 10, path.end(), '.', '/');
  }
  return path;
}

model::SysctlObservation observeSysctl(const RootFs& root, std::string_view key) {
  model::SysctlObservation obs;
  obs.key = std::string(key);
  auto text = root.readFile(sysctlPath(key), 1 << 20);
  if (!text.ok()) {
    const bool missing = text.error().code == ErrorCode::kNotFound;
    obs.presence = missing ? model::Presence::kAbsent : model::Presence::kUnknown;
    obs.error = missing ? "no such sysctl key (" + text.error().where + " does not exist)"
                        : text.error().describe();
    return obs;
  }
  obs.presence = model::Presence::kPresent;
  obs.value = std::move(text).value();
  while (!obs.value.empty() && (obs.value.back() == '\n' || obs.value.back() == ' '))
    obs.value.pop_back();
  return obs;
}

}  // namespace driftwatch::agent

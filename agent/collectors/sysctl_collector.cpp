#include "agent/collectors/sysctl_collector.h"

#include <algorithm>

namespace driftwatch::agent {

std::string sysctlPath(std::string_view key) {
  // procps' rule: when the first separator is a dot, dots separate levels and a slash stands
  // for a dot inside a name ("net.ipv4.conf.eth0/1.rp_filter", as `sysctl -a` prints it);
  // when it is a slash, the key is already a path ("net/ipv4/conf/eth0.1/rp_filter").
  const size_t first = key.find_first_of("./");
  std::string relative(key);
  if (first != std::string_view::npos && key[first] == '.') {
    for (char& c : relative) {
      if (c == '.') {
        c = '/';
      } else if (c == '/') {
        c = '.';
      }
    }
  }
  return "/proc/sys/" + relative;
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

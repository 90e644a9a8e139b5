#pragma once
// Service enablement as systemd records it on disk: the unit symlinks under
// ROOT/etc/systemd/system (X.wants/, X.requires/, X.upholds/ entries; aliases; masks to
// /dev/null). Nothing is asked of a running systemd, so the same answer comes from a live host
// and from a mounted image.
// SystemdUnitTable is immutable after load(); safe to share between threads.

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "agent/collectors/root_fs.h"
#include "common/model/observation.h"

namespace driftwatch::agent {

class SystemdUnitTable {
 public:
  static SystemdUnitTable load(const RootFs& root);

  model::ServiceObservation observe(std::string_view unit) const;

 private:
  std::unordered_set<std::string> wanted_;  // linked from a .wants/.requires/.upholds dir
  std::unordered_set<std::string> masked_;  // /etc/systemd/system/UNIT -> /dev/null
  std::unordered_map<std::string, std::string> aliases_;  // alias -> unit it names
  std::string error_;                                     // /etc/systemd/system could not be read
};

}  // namespace driftwatch::agent

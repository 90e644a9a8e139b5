#include "common/compare/identity.h"

namespace driftwatch::compare {

IdentityTable::IdentityTable(const std::vector<model::UserObservation>& users,
                             const std::vector<model::GroupObservation>& groups) {
  // The first entry for a name or id wins, as with getpwnam/getpwuid.
  for (const auto& u : users) {
    if (u.presence != model::Presence::kPresent) continue;
    uids_.emplace(u.name, u.uid);
    userNames_.emplace(u.uid, u.name);
  }
  for (const auto& g : groups) {
    if (g.presence != model::Presence::kPresent) continue;
    gids_.emplace(g.name, g.gid);
    groupNames_.emplace(g.gid, g.name);
  }
}

std::optional<uint32_t> IdentityTable::uidOf(std::string_view name) const {
  const auto it = uids_.find(std::string(name));
  if (it == uids_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint32_t> IdentityTable::gidOf(std::string_view name) const {
  const auto it = gids_.find(std::string(name));
  if (it == gids_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> IdentityTable::userName(uint32_t uid) const {
  const auto it = userNames_.find(uid);
  if (it == userNames_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> IdentityTable::groupName(uint32_t gid) const {
  const auto it = groupNames_.find(gid);
  if (it == groupNames_.end()) return std::nullopt;
  return it->second;
}

}  // namespace driftwatch::compare

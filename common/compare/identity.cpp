#include "common/compare/identity.h"

namespace driftwatch::compare {

void IdentityTable::addUser(const std::string& name, uint32_t uid) {
  uids_.emplace(name, uid);
  userNames_.emplace(uid, name);
}

void IdentityTable::addGroup(const std::string& name, uint32_t gid) {
  gids_.emplace(name, gid);
  groupNames_.emplace(gid, name);
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

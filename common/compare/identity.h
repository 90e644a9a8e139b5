#pragma once
// User and group names as the observed host knows them (its own /etc/passwd and /etc/group,
// which under --root are the image's, not the machine's running the check). The compare
// engine uses them to compare `owner: www-data` with a numeric uid, and to show names.
// IdentityTable is immutable after construction; safe to share between threads.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace driftwatch::compare {

class IdentityResolver {
 public:
  virtual ~IdentityResolver() = default;
  virtual std::optional<uint32_t> uidOf(std::string_view name) const = 0;
  virtual std::optional<uint32_t> gidOf(std::string_view name) const = 0;
  virtual std::optional<std::string> userName(uint32_t uid) const = 0;
  virtual std::optional<std::string> groupName(uint32_t gid) const = 0;
};

class IdentityTable final : public IdentityResolver {
 public:
  // The first entry for a name or an id wins, as with getpwnam/getpwuid.
  void addUser(const std::string& name, uint32_t uid);
  void addGroup(const std::string& name, uint32_t gid);

  std::optional<uint32_t> uidOf(std::string_view name) const override;
  std::optional<uint32_t> gidOf(std::string_view name) const override;
  std::optional<std::string> userName(uint32_t uid) const override;
  std::optional<std::string> groupName(uint32_t gid) const override;

  bool operator==(const IdentityTable& other) const {
    return uids_ == other.uids_ && gids_ == other.gids_ && userNames_ == other.userNames_ &&
           groupNames_ == other.groupNames_;
  }

 private:
  std::unordered_map<std::string, uint32_t> uids_;
  std::unordered_map<std::string, uint32_t> gids_;
  std::unordered_map<uint32_t, std::string> userNames_;
  std::unordered_map<uint32_t, std::string> groupNames_;
};

}  // namespace driftwatch::compare

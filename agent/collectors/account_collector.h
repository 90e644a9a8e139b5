#pragma once
// Local users and groups from ROOT/etc/passwd and ROOT/etc/group (the files themselves, not
// NSS: under --root the image's accounts count, not the machine's). AccountDatabase is
// immutable after loading; safe to share between threads.

#include <string>
#include <string_view>
#include <vector>

#include "agent/collectors/root_fs.h"
#include "common/model/observation.h"

namespace driftwatch::agent {

// A group as /etc/group lists it; the member list stays one string until a rule asks for it
// (a hostile file of commas must not become millions of strings).
struct GroupRecord {
  std::string name;
  uint32_t gid = 0;
  std::string members;  // comma-separated, as in the file
};

struct AccountDatabase {
  std::vector<model::UserObservation> users;
  std::vector<GroupRecord> groups;
  std::string usersError;             // set when /etc/passwd could not be read
  std::string groupsError;            // set when /etc/group could not be read
  std::vector<std::string> warnings;  // malformed lines skipped, with FILE:LINE
};

// Malformed lines are skipped with a warning, never fatal.
std::vector<model::UserObservation> parsePasswd(std::string_view text, std::string_view fileName,
                                                std::vector<std::string>& warnings);
std::vector<GroupRecord> parseGroup(std::string_view text, std::string_view fileName,
                                    std::vector<std::string>& warnings);

AccountDatabase loadAccounts(const RootFs& root);

// The first entry with that name wins, as for getpwnam(3).
model::UserObservation observeUser(const AccountDatabase& db, std::string_view name);
model::GroupObservation observeGroup(const AccountDatabase& db, std::string_view name);

}  // namespace driftwatch::agent

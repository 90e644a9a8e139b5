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

struct AccountDatabase {
  std::vector<model::UserObservation> users;
  std::vector<model::GroupObservation> groups;
  std::string usersError;             // set when /etc/passwd could not be read
  std::string groupsError;            // set when /etc/group could not be read
  std::vector<std::string> warnings;  // malformed lines skipped, with FILE:LINE
};

// Malformed lines are skipped with a warning, never fatal.
std::vector<model::UserObservation> parsePasswd(std::string_view text, std::string_view fileName,
                                                std::vector<std::string>& warnings);
std::vector<model::GroupObservation> parseGroup(std::string_view text, std::string_view fileName,
                                                std::vector<std::string>& warnings);

AccountDatabase loadAccounts(const RootFs& root);

// The first entry with that name wins, as for getpwnam(3).
model::UserObservation observeUser(const AccountDatabase& db, std::string_view name);
model::GroupObservation observeGroup(const AccountDatabase& db, std::string_view name);

}  // namespace driftwatch::agent

#pragma once
// Installed packages as dpkg records them in ROOT/var/lib/dpkg/status (the file dpkg itself
// reads; no dpkg binary is run, so it works on a mounted image). Parsed once per check.
// DpkgDatabase is immutable after parsing; safe to share between threads.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/collectors/root_fs.h"
#include "common/base/result.h"
#include "common/model/observation.h"

namespace driftwatch::agent {

inline constexpr std::string_view kDpkgStatusPath = "/var/lib/dpkg/status";

struct DpkgDatabase {
  std::unordered_map<std::string, std::vector<model::PackageInstance>> byName;
  std::vector<std::string> warnings;  // stanzas that could not be understood, with their line
};

// Parses the deb822 status file. Damaged stanzas are skipped with a warning naming the line;
// the parse never fails on content (dpkg writes this file, but a damaged image must not stop
// the whole check).
DpkgDatabase parseDpkgStatus(std::string_view text, std::string_view fileName);

// Loads ROOT/var/lib/dpkg/status; the error says what could not be read.
Result<DpkgDatabase> loadDpkgDatabase(const RootFs& root);

// "openssh-server" matches every architecture; "libc6:i386" only that one (and "all").
model::PackageObservation observePackage(const DpkgDatabase& db, std::string_view name);

}  // namespace driftwatch::agent

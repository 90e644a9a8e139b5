#include "agent/collectors/account_collector.h"

#include "common/base/strings.h"

namespace driftwatch::agent {
namespace {

// Real account files are kilobytes; directory-synced ones a few megabytes.
constexpr size_t kMaxAccountFileBytes = 16u << 20;

bool parseId(std::string_view text, uint32_t& out) {
  unsigned long long v = 0;
  if (!parseUnsigned(text, v) || v >= 0xffffffffULL) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

// Calls fn(fields, lineNo) for each line that is not empty, a comment or an NIS "+"/"-" entry.
template <typename Fn>
void forEachRecord(std::string_view text, Fn fn) {
  forEachLine(text, [&](std::string_view line, int lineNo) {
    if (line.empty() || line.front() == '#' || line.front() == '+' || line.front() == '-') return;
    fn(split(line, ':'), lineNo);
  });
}

std::string where(std::string_view fileName, int lineNo) {
  return std::string(fileName) + ":" + std::to_string(lineNo);
}

}  // namespace

std::vector<model::UserObservation> parsePasswd(std::string_view text, std::string_view fileName,
                                                std::vector<std::string>& warnings) {
  std::vector<model::UserObservation> users;
  WarningList bounded(warnings);
  forEachRecord(text, [&](const std::vector<std::string_view>& f, int lineNo) {
    model::UserObservation u;
    if (f.size() != 7 || f[0].empty() || !parseId(f[2], u.uid) || !parseId(f[3], u.gid)) {
      bounded.add(where(fileName, lineNo) + ": malformed passwd entry skipped");
      return;
    }
    u.name = std::string(f[0]);
    u.presence = model::Presence::kPresent;
    u.comment = std::string(f[4]);
    u.home = std::string(f[5]);
    u.shell = std::string(f[6]);
    users.push_back(std::move(u));
  });
  bounded.close();
  return users;
}

std::vector<GroupRecord> parseGroup(std::string_view text, std::string_view fileName,
                                    std::vector<std::string>& warnings) {
  std::vector<GroupRecord> groups;
  WarningList bounded(warnings);
  forEachRecord(text, [&](const std::vector<std::string_view>& f, int lineNo) {
    GroupRecord g;
    if (f.size() != 4 || f[0].empty() || !parseId(f[2], g.gid)) {
      bounded.add(where(fileName, lineNo) + ": malformed group entry skipped");
      return;
    }
    g.name = std::string(f[0]);
    g.members = std::string(f[3]);
    groups.push_back(std::move(g));
  });
  bounded.close();
  return groups;
}

AccountDatabase loadAccounts(const RootFs& root) {
  AccountDatabase db;
  if (auto text = root.readFile("/etc/passwd", kMaxAccountFileBytes); text.ok()) {
    db.users = parsePasswd(*text, root.hostPath("/etc/passwd"), db.warnings);
  } else {
    db.usersError = text.error().describe();
  }
  if (auto text = root.readFile("/etc/group", kMaxAccountFileBytes); text.ok()) {
    db.groups = parseGroup(*text, root.hostPath("/etc/group"), db.warnings);
  } else {
    db.groupsError = text.error().describe();
  }
  return db;
}

model::UserObservation observeUser(const AccountDatabase& db, std::string_view name) {
  for (const auto& u : db.users) {
    if (u.name == name) return u;
  }
  model::UserObservation missing;
  missing.name = std::string(name);
  if (!db.usersError.empty()) {
    missing.presence = model::Presence::kUnknown;
    missing.error = db.usersError;
  }
  return missing;
}

model::GroupObservation observeGroup(const AccountDatabase& db, std::string_view name) {
  for (const auto& g : db.groups) {
    if (g.name != name) continue;
    model::GroupObservation found;
    found.name = g.name;
    found.gid = g.gid;
    found.presence = model::Presence::kPresent;
    for (const auto member : split(g.members, ',')) {
      if (!trim(member).empty()) found.members.emplace_back(trim(member));
    }
    return found;
  }
  model::GroupObservation missing;
  missing.name = std::string(name);
  if (!db.groupsError.empty()) {
    missing.presence = model::Presence::kUnknown;
    missing.error = db.groupsError;
  }
  return missing;
}

}  // namespace driftwatch::agent

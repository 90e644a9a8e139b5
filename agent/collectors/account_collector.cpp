#include "agent/collectors/account_collector.h"

#include "common/base/escape.h"
#include "common/base/strings.h"

namespace driftwatch::agent {
namespace {

constexpr size_t kMaxAccountFileBytes = 64u << 20;

bool parseId(std::string_view text, uint32_t& out) {
  unsigned long long v = 0;
  if (!parseUnsigned(text, v) || v >= 0xffffffffULL) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

// Calls fn(fields, lineNo) for each line that is not empty, a comment or an NIS "+"/"-" entry.
template <typename Fn>
void forEachRecord(std::string_view text, Fn fn) {
  int lineNo = 0;
  for (std::string_view line : split(text, '\n')) {
    ++lineNo;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#' || line.front() == '+' || line.front() == '-') continue;
    fn(split(line, ':'), lineNo);
  }
}

std::string where(std::string_view fileName, int lineNo) {
  return std::string(fileName) + ":" + std::to_string(lineNo);
}

}  // namespace

std::vector<model::UserObservation> parsePasswd(std::string_view text, std::string_view fileName,
                                                std::vector<std::string>& warnings) {
  std::vector<model::UserObservation> users;
  forEachRecord(text, [&](const std::vector<std::string_view>& f, int lineNo) {
    model::UserObservation u;
    if (f.size() != 7 || f[0].empty() || !parseId(f[2], u.uid) || !parseId(f[3], u.gid)) {
      warnings.push_back(where(fileName, lineNo) + ": malformed passwd entry skipped");
      return;
    }
    u.name = std::string(f[0]);
    u.presence = model::Presence::kPresent;
    u.comment = std::string(f[4]);
    u.home = std::string(f[5]);
    u.shell = std::string(f[6]);
    users.push_back(std::move(u));
  });
  return users;
}

std::vector<model::GroupObservation> parseGroup(std::string_view text, std::string_view fileName,
                                                std::vector<std::string>& warnings) {
  std::vector<model::GroupObservation> groups;
  forEachRecord(text, [&](const std::vector<std::string_view>& f, int lineNo) {
    model::GroupObservation g;
    if (f.size() != 4 || f[0].empty() || !parseId(f[2], g.gid)) {
      warnings.push_back(where(fileName, lineNo) + ": malformed group entry skipped");
      return;
    }
    g.name = std::string(f[0]);
    g.presence = model::Presence::kPresent;
    if (!f[3].empty()) {
      for (const auto member : split(f[3], ',')) {
        if (!trim(member).empty()) g.members.emplace_back(trim(member));
      }
    }
    groups.push_back(std::move(g));
  });
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
    if (g.name == name) return g;
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

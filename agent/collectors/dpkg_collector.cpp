#include "agent/collectors/dpkg_collector.h"

#include <strings.h>

#include "common/base/escape.h"
#include "common/base/strings.h"

namespace driftwatch::agent {
namespace {

bool fieldIs(std::string_view field, std::string_view name) {
  return field.size() == name.size() && ::strncasecmp(field.data(), name.data(), name.size()) == 0;
}

struct Stanza {
  int line = 0;
  std::string package;
  std::string arch;
  std::string version;
  std::string status;
};

void finish(Stanza& s, DpkgDatabase& db, WarningList& warnings, std::string_view fileName) {
  if (s.line == 0) return;
  if (s.package.empty()) {
    warnings.add(std::string(fileName) + ":" + std::to_string(s.line) +
                 ": entry without a Package field skipped");
  } else {
    const auto words = split(trim(s.status), ' ');
    std::string state = words.size() == 3 ? std::string(words[2]) : std::string();
    if (state.empty()) {
      warnings.add(std::string(fileName) + ":" + std::to_string(s.line) + ": package " +
                   escapeBytes(s.package) + " has no valid Status field; counted as not installed");
      state = "not-installed";
    }
    db.byName[s.package].push_back({s.arch, s.version, std::move(state)});
  }
  s = Stanza{};
}

}  // namespace

DpkgDatabase parseDpkgStatus(std::string_view text, std::string_view fileName) {
  DpkgDatabase db;
  Stanza current;
  WarningList warnings(db.warnings);
  forEachLine(text, [&](std::string_view line, int lineNo) {
    if (trim(line).empty()) {
      finish(current, db, warnings, fileName);
      return;
    }
    if (line.front() == ' ' || line.front() == '\t') return;  // continuation of a long field
    if (current.line == 0) current.line = lineNo;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      warnings.add(std::string(fileName) + ":" + std::to_string(lineNo) +
                   ": line without a field name ignored");
      return;
    }
    const std::string_view field = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (fieldIs(field, "Package")) {
      current.package = std::string(value);
    } else if (fieldIs(field, "Architecture")) {
      current.arch = std::string(value);
    } else if (fieldIs(field, "Version")) {
      current.version = std::string(value);
    } else if (fieldIs(field, "Status")) {
      current.status = std::string(value);
    }
  });
  finish(current, db, warnings, fileName);
  warnings.close();
  return db;
}

Result<DpkgDatabase> loadDpkgDatabase(const RootFs& root) {
  auto text = root.readFile(kDpkgStatusPath, size_t{512} << 20);
  if (!text.ok()) {
    Error e = text.error();
    e.message = "cannot read the package database: " + e.message;
    return e;
  }
  return parseDpkgStatus(*text, root.hostPath(kDpkgStatusPath));
}

model::PackageObservation observePackage(const DpkgDatabase& db, std::string_view name) {
  model::PackageObservation obs;
  obs.name = std::string(name);
  const size_t colon = name.find(':');
  const std::string package(name.substr(0, colon));
  const std::string_view arch = colon == std::string_view::npos ? "" : name.substr(colon + 1);
  const auto it = db.byName.find(package);
  if (it == db.byName.end()) return obs;
  for (const auto& inst : it->second) {
    if (arch.empty() || inst.arch == arch || inst.arch == "all") obs.instances.push_back(inst);
  }
  return obs;
}

}  // namespace driftwatch::agent

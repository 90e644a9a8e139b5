#include "agent/health/status.h"

#include <array>

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "agent/store/state_db.h"
#include "agent/uplink/identity.h"
#include "common/base/escape.h"
#include "common/base/time.h"
#include "common/base/unique_fd.h"
#include "common/model/resource.h"

namespace driftwatch::agent {
namespace {

using json = nlohmann::ordered_json;

std::string timeText(int64_t unix) {
  return formatUtc(std::chrono::system_clock::time_point(std::chrono::seconds(unix)));
}

// Whether a daemon holds the state directory's lock (tested, never taken), and its pid.
std::optional<std::string> runningPid(const std::string& stateDir) {
  UniqueFd fd(::open((stateDir + "/agent.lock").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return std::nullopt;
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (::fcntl(fd.get(), F_OFD_GETLK, &lock) != 0 || lock.l_type == F_UNLCK) return std::nullopt;
  char pid[32] = {};
  (void)!::pread(fd.get(), pid, sizeof pid - 1, 0);
  std::string text(pid);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  return text;
}

json gapJson(const Gap& g) {
  json j = {{"id", g.id},
            {"kind", g.kind},
            {"scope", g.scope},
            {"detail", g.detail},
            {"started_at", timeText(g.startedAt)}};
  j["ended_at"] = g.endedAt ? json(timeText(*g.endedAt)) : json(nullptr);
  return j;
}

}  // namespace

Result<StatusReport> readStatus(const std::string& stateDir, bool color) {
  auto db = StateDb::openForReading(stateDir);
  if (!db.ok()) {
    Error e = db.error();
    if (e.code == ErrorCode::kNotFound) {
      e.message =
          "no agent state here (has `driftwatch-agent run` been started with this --state-dir?)";
      e.where = stateDir;
    }
    return e;
  }
  const auto metaText = [&](const char* key) -> std::string {
    auto v = db->meta(key);
    return v.ok() && *v ? **v : std::string();
  };
  const auto metaTime = [&](const char* key) -> json {
    const std::string v = metaText(key);
    if (v.empty()) return nullptr;
    try {
      return timeText(std::stoll(v));
    } catch (...) {
      return nullptr;
    }
  };
  auto drift = db->allDrift();
  if (!drift.ok()) return drift.error();
  auto open = db->gaps(true, 100);
  if (!open.ok()) return open.error();
  auto recent = db->gaps(false, 20);
  if (!recent.ok()) return recent.error();
  auto scans = db->scans();
  if (!scans.ok()) return scans.error();
  auto outbox = db->outboxDepth();
  if (!outbox.ok()) return outbox.error();
  const auto pid = runningPid(stateDir);

  json out;
  out["state_dir"] = escapeBytes(stateDir);
  out["running"] = pid.has_value();
  out["pid"] = pid ? json(*pid) : json(nullptr);
  out["policy"] = metaText("policy");
  out["policy_file"] = escapeBytes(metaText("policy_file"));
  out["host"] = metaText("host").empty() ? json(nullptr) : json(escapeBytes(metaText("host")));
  out["root"] = escapeBytes(metaText("root"));
  out["started_at"] = metaTime("started_at");
  out["last_alive"] = metaTime("last_alive");
  json coverage = json::object();
  try {
    const std::string c = metaText("coverage");
    if (!c.empty()) coverage = json::parse(c);
  } catch (const json::exception&) {
  }
  json openGaps = json::array();
  for (const auto& g : *open)
    openGaps.push_back(gapJson(g));
  json recentGaps = json::array();
  for (const auto& g : *recent)
    recentGaps.push_back(gapJson(g));
  coverage["open_gaps"] = openGaps;
  coverage["recent_gaps"] = recentGaps;
  out["coverage"] = coverage;
  json scanList = json::array();
  for (const auto& s : *scans) {
    scanList.push_back({{"kind", s.kind},
                        {"started_at", timeText(s.startedAt)},
                        {"finished_at", timeText(s.finishedAt)},
                        {"seconds", s.finishedAt - s.startedAt},
                        {"entries", s.entries},
                        {"changes", s.changes}});
  }
  out["scans"] = scanList;
  // "quick 1795805400": a full scan under way, and since when.
  const std::string running = metaText("scan_running");
  if (const size_t space = running.find(' '); space != std::string::npos && pid) {
    json scan = {{"kind", running.substr(0, space)}, {"started_at", nullptr}};
    try {
      scan["started_at"] = timeText(std::stoll(running.substr(space + 1)));
    } catch (...) {
    }
    out["scan_running"] = scan;
  } else {
    out["scan_running"] = nullptr;
  }
  out["outbox"] = {{"pending", *outbox}};
  auto stateDigest = db->stateDigestHex();
  if (!stateDigest.ok()) return stateDigest.error();
  auto identity = loadIdentity(stateDir);
  json uplink = {{"enrolled", identity.ok() && *identity}, {"state_digest", *stateDigest}};
  if (!identity.ok()) uplink["error"] = identity.error().describe();
  if (identity.ok() && *identity) {
    const AgentIdentity& id = **identity;
    const std::string ackedSeq = metaText("uplink.acked_seq");
    const std::string ackedState = metaText("uplink.acked_state");
    uplink["server"] = id.server.str();
    uplink["host_id"] = id.hostId;
    uplink["labels"] = id.labels;
    uplink["enrolled_at"] = timeText(id.enrolledAt);
    uplink["acked_seq"] = ackedSeq.empty() ? 0 : std::stoll(ackedSeq);
    uplink["acked_state_digest"] = ackedState.empty() ? json(nullptr) : json(ackedState);
    // In sync: everything observed has been acknowledged, and both sides add up the same.
    uplink["in_sync"] = *outbox == 0 && ackedState == *stateDigest;
    uplink["last_contact"] = metaTime("uplink.last_contact");
    const std::string lastError = metaText("uplink.last_error");
    uplink["last_error"] = lastError.empty() ? json(nullptr) : json(displaySafe(lastError));
    uplink["last_error_at"] = lastError.empty() ? json(nullptr) : metaTime("uplink.last_error_at");
  }
  out["uplink"] = uplink;
  // Fleet rules in force, as the daemon last noted them (times in ms on disk).
  json fleet = nullptr;
  try {
    const std::string noted = metaText("fleet_rules");
    if (!noted.empty()) {
      const json j = json::parse(noted);
      const auto msTime = [](const json& v) -> json {
        return v.is_number() ? json(timeText(v.get<int64_t>() / 1000)) : json(nullptr);
      };
      fleet = {{"revision", j.value("revision", 0)},
               {"issued_at", msTime(j["issued_at"])},
               {"fetched_at", msTime(j["fetched_at"])},
               {"policies", j.value("policies", json::array())},
               {"refused", nullptr}};
      if (j["refused"].is_object()) {
        fleet["refused"] = {{"at", msTime(j["refused"]["at"])},
                            {"reason", j["refused"].value("reason", std::string())}};
      }
    }
  } catch (const json::exception&) {
    fleet = nullptr;
  }
  out["fleet_rules"] = fleet;
  auto queuedEvents = db->queuedEventCount();
  if (!queuedEvents.ok()) return queuedEvents.error();
  out["events_queued"] = *queuedEvents;  // event lines recorded but not yet written out
  std::array<int64_t, model::kSeverityCount> counts{};
  json items = json::array();
  for (const auto& d : *drift) {
    json item = json::object();
    try {
      item = json::parse(d.item);
    } catch (const json::exception&) {
      item = {{"resource", d.resource}};
    }
    item["first_seen"] = timeText(d.firstSeen);
    item["last_changed"] = timeText(d.lastChanged);
    items.push_back(std::move(item));
    if (d.severity >= 0 && d.severity < model::kSeverityCount)
      ++counts[static_cast<size_t>(d.severity)];
  }
  json bySeverity = json::object();
  for (int s = 0; s < model::kSeverityCount; ++s) {
    bySeverity[std::string(model::severityName(static_cast<model::Severity>(s)))] =
        counts[static_cast<size_t>(s)];
  }
  out["drift"] = {{"count", drift->size()}, {"by_severity", bySeverity}, {"items", items}};

  // Text for people.
  const auto paint = [&](std::string_view code, const std::string& s) {
    return color ? std::string(code) + s + "\033[0m" : s;
  };
  std::string text;
  text += paint("\033[1m", "driftwatch-agent") + "  policy " + metaText("policy") + "  host " +
          (metaText("host").empty() ? "unknown" : metaText("host")) + "  state " +
          escapeBytes(stateDir) + "\n";
  text += pid ? "daemon: running (pid " + *pid + ")" : std::string("daemon: not running");
  if (!out["last_alive"].is_null()) text += ", last alive " + out["last_alive"].get<std::string>();
  text += "\n";
  const auto num = [&](const char* key) -> std::string {
    return coverage.contains(key) ? coverage[key].dump() : std::string("?");
  };
  text += "coverage: " + num("file_rules") + " file rules, " + num("watched_directories") +
          " directories watched in real time, " + num("polled_directories") +
          " polled, settings polled every " + num("settings_polled_every_s") + "s\n";
  if (open->empty()) {
    text += "gaps: none open\n";
  } else {
    for (const auto& g : *open) {
      text += paint("\033[33m", "gap open: ") + g.kind + " since " + timeText(g.startedAt) + " (" +
              g.detail + ")\n";
    }
  }
  for (const auto& g : *recent) {
    if (g.endedAt)
      text += "gap: " + g.kind + " " + timeText(g.startedAt) + " .. " + timeText(*g.endedAt) +
              " (" + g.detail + ")\n";
  }
  if (!out["scan_running"].is_null()) {
    text += "scan running: " + out["scan_running"]["kind"].get<std::string>() + " since " +
            out["scan_running"]["started_at"].dump() + "\n";
  }
  for (const auto& s : *scans) {
    text += "last " + s.kind + " scan: " + timeText(s.finishedAt) + ", " +
            std::to_string(s.entries) + " entries, " + std::to_string(s.changes) + " changes\n";
  }
  text += "outbox: " + std::to_string(*outbox) + (*outbox == 1 ? " change" : " changes") +
          " waiting to be sent\n";
  if (uplink["enrolled"].get<bool>()) {
    text += "reporting: to " + uplink["server"].get<std::string>() + " as " +
            uplink["host_id"].get<std::string>() + ", acknowledged up to #" +
            uplink["acked_seq"].dump() +
            (uplink["in_sync"].get<bool>() ? paint("\033[32m", " (in sync)") : "") + "\n";
    if (!uplink["last_error"].is_null())
      text +=
          paint("\033[33m", "reporting problem: ") + uplink["last_error"].get<std::string>() + "\n";
  } else {
    text += "reporting: not enrolled (see `driftwatch-agent enroll`)\n";
  }
  if (!fleet.is_null() && (fleet["revision"] != 0 || !fleet["refused"].is_null())) {
    std::string names;
    for (const auto& p : fleet["policies"])
      names +=
          (names.empty() ? "" : ", ") + p.value("name", std::string()) + " v" + p["version"].dump();
    text += "fleet rules: revision " + fleet["revision"].dump() + " (" +
            (names.empty() ? std::string("no fleet policy selects this host") : names) + ")";
    if (!fleet["fetched_at"].is_null())
      text += ", last fetched " + fleet["fetched_at"].get<std::string>();
    text += "\n";
    if (!fleet["refused"].is_null()) {
      text += paint("\033[33m", "fleet rules refused: ") +
              fleet["refused"]["reason"].get<std::string>() + " (" +
              fleet["refused"]["at"].get<std::string>() + ")\n";
    }
  }
  text += "state digest: " + *stateDigest + "\n";
  if (drift->empty()) {
    text += paint("\033[32m", "No drift.") + "\n";
  } else {
    text += "\n" + paint("\033[1m", "Drift (" + std::to_string(drift->size()) + "):") + "\n";
    for (const auto& item : items) {
      text += "  " + item.value("severity", std::string("?")) + "  " +
              item.value("change", std::string("?")) + "  " +
              item.value("resource", std::string("?"));
      for (const auto& a : item.value("attributes", json::array())) {
        const auto show = [](const json& v) {
          return v.is_null() ? std::string("-") : v.get<std::string>();
        };
        text += "  " + a.value("name", std::string()) + ": " + show(a["desired"]) + " -> " +
                show(a["actual"]);
      }
      text += "  (since " + item.value("first_seen", std::string()) + ")\n";
      // Which policy (and, for a fleet rule, which version) the rule came from.
      if (item.contains("rule") && item["rule"].is_object())
        text += "    rule: " + item["rule"].value("file", std::string()) + ":" +
                item["rule"]["line"].dump() + " (" + item["rule"].value("field", std::string()) +
                ")\n";
      if (item.contains("error")) text += "    error: " + item["error"].get<std::string>() + "\n";
    }
  }
  return StatusReport{text, out.dump(2) + "\n", drift->size()};
}

}  // namespace driftwatch::agent

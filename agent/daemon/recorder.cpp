#include "agent/daemon/recorder.h"

#include <nlohmann/json.hpp>

#include "agent/daemon/state_reader.h"
#include "agent/report/drift_json.h"
#include "common/base/escape.h"
#include "common/base/time.h"
#include "common/compare/compare.h"
#include "common/crypto/sha256.h"
#include "common/model/state_codec.h"

namespace driftwatch::agent {

using json = nlohmann::ordered_json;
using model::FileObservation;
using model::Presence;

namespace {

constexpr std::string_view kAbsent = "absent";
constexpr std::string_view kUnobserved = "unobserved";

std::optional<std::string_view> previousState(const std::optional<StoredResource>& stored) {
  if (!stored) return std::nullopt;
  return std::string_view(stored->state);
}

// A file modified this close to its observation may change again within the same tick of the
// kernel's file clock, keeping size, mtime and ctime: its digest is not trusted for reuse.
constexpr int64_t kRacyMs = 2000;

std::string isoTime(int64_t unix) {
  return formatUtc(std::chrono::system_clock::time_point(std::chrono::seconds(unix)));
}

json hostJson(const std::string& host) {
  return host.empty() ? json(nullptr) : json(escapeBytes(host));
}

// The drift item's JSON without the rule's position, for telling real changes apart.
std::string withoutPosition(const json& item) {
  json copy = item;
  if (copy.contains("rule")) {
    copy["rule"].erase("line");
    copy["rule"].erase("column");
  }
  return copy.dump();
}

}  // namespace

Status StateRecorder::queue(const std::string& line) {
  queued_ = true;
  return db_.queueEvent(line);
}

Result<std::optional<baseline::BaselineEntry>> StateRecorder::baselineFor(
    const PolicySnapshot& snap, const policy::FileRule& rule, std::string_view path) const {
  if (!snap.hasBaseline || !rule.usesBaseline()) return std::optional<baseline::BaselineEntry>();
  return db_.baselineEntry(path);
}

Result<bool> StateRecorder::recordFile(const PolicySnapshot& snap, const policy::FileRule& rule,
                                       const FileObservation& obs, int64_t observedAtMs,
                                       bool forceDrift, const compare::IdentityResolver& ids) {
  const std::string id = fileId(obs.path);
  auto stored = db_.resource(id);
  if (!stored.ok()) return stored.error();
  const std::optional<std::string> state =
      obs.presence == Presence::kAbsent ? std::nullopt
                                        : std::optional<std::string>(model::encodeState(obs));
  std::string stamp;
  if (obs.presence == Presence::kPresent && obs.attrs.type == model::FileType::kFile) {
    const int64_t changedMs = std::max(obs.stamp.mtime.sec, obs.stamp.ctime.sec) * 1000;
    if (observedAtMs - changedMs >= kRacyMs) stamp = encodeStamp(obs.stamp, obs.attrs.size);
  }
  const bool changed = *stored ? (!state || (*stored)->state != *state) : state.has_value();
  if (changed) {
    // The outbox entry goes in with the change: once the agent counts a change as observed, it
    // is on its way.
    Status s = state ? db_.putResource(id, *state, stamp, observedAtMs) : db_.removeResource(id);
    if (s.ok())
      s = db_.appendStateChange(id, state ? *state : std::string(kAbsent), previousState(*stored),
                                unixNowMs());
    if (!s.ok()) return s.error();
  } else if (state && (*stored)->stamp != stamp) {
    // Same state, touched: new stat data only, no outbox.
    if (auto s = db_.putResource(id, *state, stamp, observedAtMs); !s.ok()) return s.error();
  }
  if (changed || forceDrift) {
    auto base = baselineFor(snap, rule, obs.path);
    if (!base.ok()) return base.error();
    if (auto s = judge(id, compare::compareFile(rule, *base ? &**base : nullptr, obs, ids));
        !s.ok())
      return s.error();
  }
  return changed;
}

Status StateRecorder::forget(const std::string& id, std::string_view why) {
  auto stored = db_.resource(id);
  if (!stored.ok()) return stored.error();
  if (*stored) {
    if (auto s = db_.removeResource(id); !s.ok()) return s;
    if (auto s = db_.appendStateChange(id, kUnobserved, previousState(*stored), unixNowMs());
        !s.ok())
      return s;
  }
  auto drift = db_.drift(id);
  if (!drift.ok()) return drift.error();
  if (!*drift) return {};
  if (auto s = db_.removeDrift(id); !s.ok()) return s;
  return queue(json{{"time", eventTime()},
                    {"event", "drift_resolved"},
                    {"host", hostJson(host_)},
                    {"resource", id},
                    {"since", isoTime((*drift)->firstSeen)},
                    {"reason", std::string(why)}}
                   .dump());
}

Result<bool> StateRecorder::recordSetting(const SettingResult& r, int64_t observedAtMs) {
  auto stored = db_.resource(r.id);
  if (!stored.ok()) return stored.error();
  const bool absent = r.state == kAbsent;
  const bool changed = *stored ? (absent || (*stored)->state != r.state) : !absent;
  if (changed) {
    Status s = absent ? db_.removeResource(r.id) : db_.putResource(r.id, r.state, "", observedAtMs);
    if (s.ok()) s = db_.appendStateChange(r.id, r.state, previousState(*stored), unixNowMs());
    if (!s.ok()) return s.error();
  }
  if (auto s = judge(r.id, r.drift); !s.ok()) return s.error();
  return changed;
}

Status StateRecorder::judge(const std::string& id, const std::optional<model::DriftItem>& item) {
  auto existing = db_.drift(id);
  if (!existing.ok()) return existing.error();
  const int64_t now = unixNow();
  if (!item) {
    if (!*existing) return {};
    if (auto s = db_.removeDrift(id); !s.ok()) return s;
    return queue(json{{"time", eventTime()},
                      {"event", "drift_resolved"},
                      {"host", hostJson(host_)},
                      {"resource", id},
                      {"since", isoTime((*existing)->firstSeen)}}
                     .dump());
  }
  const json itemJson = driftItemJson(*item);
  const std::string text = itemJson.dump();
  bool announce = true;
  if (*existing) {
    if ((*existing)->item == text) return {};
    try {
      announce = withoutPosition(json::parse((*existing)->item)) != withoutPosition(itemJson);
    } catch (const json::exception&) {
    }
  }
  const StoredDrift d{id, text, static_cast<int>(item->severity),
                      *existing ? (*existing)->firstSeen : now,
                      announce ? now : (*existing)->lastChanged};
  if (auto s = db_.putDrift(d); !s.ok()) return s;
  if (!announce) return {};
  json line = {{"time", eventTime()},
               {"event", *existing ? "drift_changed" : "drift_opened"},
               {"host", hostJson(host_)}};
  for (auto it = itemJson.begin(); it != itemJson.end(); ++it)
    line[it.key()] = it.value();
  return queue(line.dump());
}

Status StateRecorder::rejudgeStored(const PolicySnapshot& snap,
                                    const compare::IdentityResolver& ids) {
  // Judged row by row while the rows stream past (drift writes go to another table), so that
  // 100,000 stored files cost no list in memory; only what leaves the policy is collected.
  std::vector<std::string> dropped;
  Status failure;
  auto iterated = db_.forEachResource([&](const std::string& id, const StoredResource& stored) {
    if (!failure.ok()) return;
    auto rid = model::ResourceId::parse(id);
    if (!rid.ok()) return dropped.push_back(id);
    if (rid->kind != model::ResourceKind::kFile) {
      // Settings are judged on their next poll; one the policy dropped leaves now.
      if (!snap.coversSetting(*rid)) dropped.push_back(id);
      return;
    }
    auto obs = model::decodeFileState(rid->name, stored.state);
    if (!obs.ok()) return dropped.push_back(id);
    const bool isDir =
        obs->presence == Presence::kPresent && obs->attrs.type == model::FileType::kDir;
    const policy::FileRule* rule = snap.ownerOf(rid->name, isDir);
    if (rule == nullptr) return dropped.push_back(id);
    auto base = baselineFor(snap, *rule, rid->name);
    if (!base.ok()) {
      failure = base.error();
      return;
    }
    failure = judge(id, compare::compareFile(*rule, *base ? &**base : nullptr, *obs, ids));
  });
  if (!iterated.ok()) return iterated;
  if (!failure.ok()) return failure;
  for (const auto& id : dropped) {
    if (auto s = forget(id, "no longer covered by the policy"); !s.ok()) return s;
  }
  // Drift of settings without a stored state (a package that should be present) whose rule left.
  auto all = db_.allDrift();
  if (!all.ok()) return all.error();
  for (const auto& d : *all) {
    auto rid = model::ResourceId::parse(d.resource);
    if (!rid.ok() || rid->kind == model::ResourceKind::kFile || snap.coversSetting(*rid)) continue;
    if (auto s = forget(d.resource, "no longer covered by the policy"); !s.ok()) return s;
  }
  return {};
}

Result<int64_t> StateRecorder::openGap(std::string_view kind, std::string_view scope,
                                       std::string_view detail, int64_t startedAt) {
  auto id = db_.openGap(kind, scope, detail, startedAt);
  if (!id.ok()) return id.error();
  const std::string payload =
      json{{"kind", kind}, {"scope", scope}, {"detail", detail}, {"started_at", isoTime(startedAt)}}
          .dump();
  if (auto s = db_.appendCoverage(std::to_string(*id), payload, unixNowMs()); !s.ok())
    return s.error();
  if (auto s = queue(json{{"time", eventTime()},
                          {"event", "coverage_gap_opened"},
                          {"host", hostJson(host_)},
                          {"gap", *id},
                          {"kind", kind},
                          {"scope", scope},
                          {"detail", detail},
                          {"started_at", isoTime(startedAt)}}
                         .dump());
      !s.ok()) {
    return s.error();
  }
  return id;
}

Result<bool> StateRecorder::closeGap(int64_t id) {
  const int64_t now = unixNow();
  auto wasOpen = db_.closeGap(id, now);
  if (!wasOpen.ok()) return wasOpen.error();
  if (!*wasOpen) return false;  // closed already
  if (auto s = db_.appendCoverage(std::to_string(id), json{{"ended_at", isoTime(now)}}.dump(),
                                  now * 1000);
      !s.ok()) {
    return s.error();
  }
  if (auto s = queue(json{
          {"time", eventTime()},
          {"event", "coverage_gap_closed"},
          {"host", hostJson(host_)},
          {"gap", id},
          {"ended_at",
           isoTime(now)}}.dump());
      !s.ok()) {
    return s.error();
  }
  return true;
}

Status StateRecorder::storeBaseline(const baseline::Baseline* b) {
  const std::string digest =
      b != nullptr ? toHex(Sha256::of(baseline::serializeBaseline(*b))) : "none";
  auto stored = db_.meta("baseline_digest");
  if (stored.ok() && *stored && **stored == digest) return {};
  auto tx = db_.begin();
  if (!tx.ok()) return tx.error();
  if (auto s = db_.replaceBaseline(b != nullptr ? *b : baseline::Baseline{}); !s.ok()) return s;
  if (auto s = db_.setMeta("baseline_digest", digest); !s.ok()) return s;
  return tx->commit();
}

Status StateRecorder::flushEvents(EventLog& log) {
  if (!queued_) return {};
  auto lines = db_.queuedEvents();
  if (!lines.ok()) return lines.error();
  queued_ = false;
  if (lines->empty()) return {};
  int64_t last = 0;
  for (const auto& [seq, line] : *lines) {
    if (auto s = log.write(line); !s.ok()) {
      // stderr (the journal) has the line; an events file that fails (disk full) is reported
      // once a minute rather than on every line, and the line is not written twice to stderr.
      if (unixNow() - lastWriteErrorAt_ >= 60) {
        lastWriteErrorAt_ = unixNow();
        log.log("error", s.error().describe());
      }
    }
    last = seq;
  }
  return db_.dropEventsUpTo(last);
}

}  // namespace driftwatch::agent

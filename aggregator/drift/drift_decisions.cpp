#include "aggregator/drift/drift_decisions.h"

#include "aggregator/drift/drift_engine.h"
#include "common/base/strings.h"
#include "common/model/resource.h"

namespace driftwatch::aggregator {
namespace {

Result<DriftRecord> decidable(const FleetStore& store, const DriftDecision& d,
                              std::string_view verb) {
  const std::string where = d.resource + " on " + d.host;
  if (trim(d.reason).empty())
    return makeError(ErrorCode::kInvalidInput, "give the reason with --reason", where);
  auto item = store.drift(d.host, d.resource);
  if (!item.ok()) return item.error();
  if (!*item)
    return makeError(ErrorCode::kNotFound,
                     "there is no drift item to " + std::string(verb) + " (see drift list --host " +
                         d.host + " --status all)",
                     where);
  if (!isActive((*item)->status))
    return makeError(ErrorCode::kConflict,
                     "the drift resolved already: there is nothing to " + std::string(verb), where);
  return std::move(**item);
}

}  // namespace

Result<std::string> resourceArgument(const std::string& text) {
  if (!text.empty() && text.front() == '/')
    return model::ResourceId{model::ResourceKind::kFile, text}.str();
  auto id = model::ResourceId::parse(text);
  if (!id.ok())
    return makeError(ErrorCode::kInvalidInput,
                     "not a resource: give a path (/etc/motd) or KIND:NAME as drift list shows it",
                     text);
  return id->str();
}

Result<DriftRecord> acceptDrift(const FleetStore& store, const DriftDecision& d) {
  auto item = decidable(store, d, "accept");
  if (!item.ok()) return item.error();
  DriftRecord r = std::move(item).value();
  r.status = std::string(kDriftAccepted);
  r.reason = d.reason;
  r.decidedBy = d.by;
  r.decidedAt = d.at;
  r.waivedUntil.reset();
  r.accepted = r.attributes;
  if (auto s = store.putDrift(r); !s.ok()) return s.error();
  return r;
}

Result<DriftRecord> waiveDrift(const FleetStore& store, const DriftDecision& d) {
  if (!d.until || *d.until <= d.at)
    return makeError(ErrorCode::kInvalidInput, "a waiver needs an expiry in the future",
                     d.resource + " on " + d.host);
  auto item = decidable(store, d, "waive");
  if (!item.ok()) return item.error();
  DriftRecord r = std::move(item).value();
  r.status = std::string(kDriftWaived);
  r.reason = d.reason;
  r.decidedBy = d.by;
  r.decidedAt = d.at;
  r.waivedUntil = d.until;
  r.accepted.clear();
  if (auto s = store.putDrift(r); !s.ok()) return s.error();
  return r;
}

Result<std::vector<DriftRecord>> reopenExpiredWaivers(const FleetStore& store, int64_t now) {
  DriftFilter filter;
  filter.status = std::string(kDriftWaived);
  auto waived = store.driftItems(filter);
  if (!waived.ok()) return waived.error();
  std::vector<DriftRecord> out;
  for (auto& r : *waived) {
    if (r.waivedUntil && *r.waivedUntil > now) continue;
    // The drift is as old as it was: only the exception ended.
    r.status = std::string(kDriftOpen);
    r.reason.clear();
    r.decidedBy.clear();
    r.decidedAt.reset();
    r.waivedUntil.reset();
    if (auto s = store.putDrift(r); !s.ok()) return s.error();
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace driftwatch::aggregator

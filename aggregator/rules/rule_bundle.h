#pragma once
// A host's rule bundle: every fleet policy version that selects the host (the newest usable
// version of each policy whose selector its labels match, chosen by the drift engine's own
// DesiredState so that the agent observes exactly what the aggregator judges), with its text and
// baseline, the host id, the time it was issued and the fleet's rules revision.
//
// The revision is the number of policy versions the fleet store holds. Versions are only ever
// added, so it only grows, and every apply that can change a host's bundle raises it; an apply
// that concerns other hosts raises it too, and those hosts fetch a bundle with the same policies
// (harmless: the agent applies the same rules again). Labels are fixed at enrollment.
//
// Reads through the caller's store; runs on the store thread.

#include <cstdint>

#include "aggregator/drift/drift_engine.h"
#include "aggregator/store/fleet_store.h"
#include "common/base/result.h"
#include "common/wire/codec.h"

namespace driftwatch::aggregator {

// The fleet's current rules revision (0 before the first policy is applied).
Result<uint64_t> rulesRevision(const FleetStore& store);

// The bundle for `host` at `revision`; `desired` is refreshed from the store first.
Result<wire::RuleBundle> buildRuleBundle(const FleetStore& store, DesiredState& desired,
                                         const HostRecord& host, uint64_t revision,
                                         int64_t issuedAtMs);

}  // namespace driftwatch::aggregator

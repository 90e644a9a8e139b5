#pragma once
// The compare engine: one desired resource against one observation, giving a drift item or
// nothing. One function per kind, each pure and typed, so that the offline check, the daemon
// (one changed file at a time) and the aggregator all judge drift the same way.
//
// Rules of judgement (docs/policy.md explains them to users):
//  - only attributes the policy declares (explicitly or through the baseline) are compared;
//  - when the type of a file changed, attributes that only one of the types has (size,
//    sha256, target) are not reported on top of the type;
//  - an attribute that could not be observed is drift (with the error), never "no drift":
//    what cannot be verified is not assumed to match.
// Pure functions; safe from any thread.

#include <optional>

#include "common/baseline/baseline.h"
#include "common/compare/identity.h"
#include "common/model/drift.h"
#include "common/model/observation.h"
#include "common/policy/policy.h"

namespace driftwatch::compare {

// `rule` owns `actual.path`; `base` is the baseline entry for that path (nullptr if none).
// For an entry below a recursive rule, its presence in the baseline decides whether it should
// exist; a rule's own path should exist whenever the rule sets values explicitly.
std::optional<model::DriftItem> compareFile(const policy::FileRule& rule,
                                            const baseline::BaselineEntry* base,
                                            const model::FileObservation& actual,
                                            const IdentityResolver& ids);

std::optional<model::DriftItem> compareSysctl(const policy::SysctlRule& rule,
                                              const model::SysctlObservation& actual);

std::optional<model::DriftItem> comparePackage(const policy::PackageRule& rule,
                                               const model::PackageObservation& actual);

std::optional<model::DriftItem> compareService(const policy::ServiceRule& rule,
                                               const model::ServiceObservation& actual);

std::optional<model::DriftItem> compareUser(const policy::UserRule& rule,
                                            const model::UserObservation& actual);

std::optional<model::DriftItem> compareGroup(const policy::GroupRule& rule,
                                             const model::GroupObservation& actual);

// Sysctl values compare equal when they differ only in runs of white space ("32768 60999"
// equals the kernel's "32768\t60999").
std::string foldWhitespace(std::string_view value);

// True for the dpkg states in which a package counts as installed.
bool isInstalledState(std::string_view state);
// True for the dpkg states in which a package is on the system at all (not "config-files").
bool isPresentState(std::string_view state);

}  // namespace driftwatch::compare

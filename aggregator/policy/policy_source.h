#pragma once
// Reading fleet policies from disk for `policy apply`: a file is one policy; a directory is
// every *.yaml and *.yml directly in it, in name order (a git checkout of policies). NAME.yaml
// takes NAME.baseline next to it as its baseline. The git commit is recorded when the file is
// inside a git checkout, so each stored version says where it came from.

#include <string>
#include <vector>

#include "aggregator/policy/policy_apply.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

Result<std::vector<PolicySource>> readPolicySources(const std::vector<std::string>& paths);

// The HEAD commit of the git checkout holding `file`, with "+dirty" when the file (or its
// baseline) differs from it; "" outside a checkout or without git.
std::string gitCommitOf(const std::string& file, const std::string& baselineFile);

}  // namespace driftwatch::aggregator

#pragma once
// The example configurations shipped in packaging/config, for tests that check them against
// the parsers and their defaults.

#include <string>

namespace driftwatch::testing {

// packaging/config/`name` with every commented-out setting ("# key: value", "#   key: value",
// "#   - item") switched on; prose comments stay comments.
std::string uncommentedExample(const std::string& name);

}  // namespace driftwatch::testing

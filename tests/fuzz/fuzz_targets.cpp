// libFuzzer entry points for every parser of outside input. One source, one target per
// DRIFTWATCH_FUZZ_TARGET value; built with clang -fsanitize=fuzzer for fuzzing, and with the
// replay driver otherwise so that the seed corpus runs as an ordinary test.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "agent/collectors/account_collector.h"
#include "agent/collectors/dpkg_collector.h"
#include "common/base/escape.h"
#include "common/baseline/baseline.h"
#include "common/policy/glob.h"
#include "common/policy/policy.h"

namespace {

std::string_view view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// An invariant failed: report it and crash so that the fuzzer keeps the input.
[[noreturn, maybe_unused]] void broken(const char* what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace driftwatch;
  const std::string_view input = view(data, size);
#if DRIFTWATCH_FUZZ_TARGET == 1
  // Policies: never crash; a parsed policy's rules are well-formed.
  auto p = policy::parsePolicy(input, "fuzz.yaml");
  if (p.ok()) {
    for (const auto& rule : p->files) {
      if (rule.path.empty() || rule.path.front() != '/') broken("relative rule path");
    }
  }
#elif DRIFTWATCH_FUZZ_TARGET == 2
  // Baselines: anything that parses serialises and parses back to the same text.
  auto b = baseline::parseBaseline(input, "fuzz.txt");
  if (b.ok()) {
    const std::string once = baseline::serializeBaseline(*b);
    auto again = baseline::parseBaseline(once, "fuzz.txt");
    if (!again.ok() || baseline::serializeBaseline(*again) != once) broken("baseline round trip");
  }
#elif DRIFTWATCH_FUZZ_TARGET == 3
  auto db = agent::parseDpkgStatus(input, "status");
  (void)agent::observePackage(db, "libc6");
#elif DRIFTWATCH_FUZZ_TARGET == 4
  std::vector<std::string> warnings;
  (void)agent::parsePasswd(input, "passwd", warnings);
  (void)agent::parseGroup(input, "group", warnings);
#elif DRIFTWATCH_FUZZ_TARGET == 5
  // The escape must invert exactly, and its output must stay on one line.
  const std::string escaped = escapeBytes(input);
  if (escaped.find('\n') != std::string::npos || escaped.find('\t') != std::string::npos)
    broken("raw control");
  auto back = unescapeBytes(escaped);
  if (!back.ok() || *back != input) broken("escape round trip");
  (void)unescapeBytes(input);
#elif DRIFTWATCH_FUZZ_TARGET == 6
  // First line: a pattern; the rest: a path to match.
  const size_t nl = input.find('\n');
  if (nl == std::string_view::npos) return 0;
  auto g = policy::Glob::compile(input.substr(0, nl));
  if (g.ok()) (void)g->matches(input.substr(nl + 1), size % 2 == 0);
#else
#error "DRIFTWATCH_FUZZ_TARGET must name a target"
#endif
  return 0;
}

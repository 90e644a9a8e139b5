#include "tests/support/config_example.h"

#include <fstream>
#include <regex>
#include <stdexcept>

#ifndef DRIFTWATCH_SOURCE_DIR
#error "DRIFTWATCH_SOURCE_DIR must name the source tree"
#endif

namespace driftwatch::testing {

std::string uncommentedExample(const std::string& name) {
  const std::string path = std::string(DRIFTWATCH_SOURCE_DIR) + "/packaging/config/" + name;
  std::ifstream in(path);
  if (!in.good()) throw std::runtime_error("cannot read " + path);
  // Settings may be nested ("#   settle: 30s" below "# alerts:").
  static const std::regex setting(R"(^# ( *- .*| *[a-z_]+:.*)$)");
  std::string text, line;
  while (std::getline(in, line)) {
    std::smatch m;
    text += (std::regex_match(line, m, setting) ? m[1].str() : line) + "\n";
  }
  return text;
}

}  // namespace driftwatch::testing

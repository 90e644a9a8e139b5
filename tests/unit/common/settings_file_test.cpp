#include "common/config/settings_file.h"

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::config;

namespace {

constexpr std::string_view kKeys[] = {"listen", "threads", "server_names", "settle"};

// Every setting of `text`, or the error that stopped the walk.
Result<std::vector<Setting>> read(std::string_view text) {
  std::vector<Setting> out;
  auto s = forEachSetting(text, "cfg.yaml", kKeys, [&](const Setting& setting) -> Status {
    out.push_back(setting);
    return {};
  });
  if (!s.ok()) return s.error();
  return out;
}

std::string errorOf(std::string_view text) {
  auto r = read(text);
  if (r.ok()) FAIL("expected an error for " << text);
  return r.error().describe();
}

}  // namespace

TEST_CASE("scalars and lists come in file order with their location") {
  auto r = read("threads: 4\nserver_names:\n  - agg.example.org\n  - 10.0.0.5\nlisten: ':8443'\n");
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  const Setting& threads = (*r)[0];
  CHECK(threads.key == "threads");
  CHECK(threads.value == "4");
  CHECK_FALSE(threads.isList);
  CHECK(threads.where == "cfg.yaml:1:10: threads");
  const Setting& names = (*r)[1];
  CHECK(names.key == "server_names");
  CHECK(names.isList);
  CHECK(names.value.empty());
  CHECK(names.items == std::vector<std::string>{"agg.example.org", "10.0.0.5"});
  CHECK((*r)[2].value == ":8443");
  CHECK((*r)[2].where == "cfg.yaml:5:9: listen");

  auto flow = read("server_names: [a, b]\n");
  REQUIRE(flow.ok());
  CHECK((*flow)[0].items == std::vector<std::string>{"a", "b"});
}

TEST_CASE("an empty file or one of comments only is no settings") {
  for (const char* text : {"", "\n", "# nothing here\n", "---\n"}) {
    const std::string shown = text;
    CAPTURE(shown);
    auto r = read(text);
    REQUIRE(r.ok());
    CHECK(r->empty());
  }
}

TEST_CASE("an unknown key is an error at its line, with a hint for a typo") {
  CHECK(errorOf("threads: 2\nlisen: ':1'\n") ==
        "cfg.yaml:2:1: unknown key 'lisen' (did you mean 'listen'?)");
  CHECK(errorOf("  color: blue\n") == "cfg.yaml:1:3: unknown key 'color'");
  // Nothing after the error is read.
  std::vector<std::string> seen;
  auto s = forEachSetting("threads: 1\nbogus: 2\nlisten: x\n", "cfg.yaml", kKeys,
                          [&](const Setting& setting) -> Status {
                            seen.push_back(setting.key);
                            return {};
                          });
  CHECK_FALSE(s.ok());
  CHECK(seen == std::vector<std::string>{"threads"});
}

TEST_CASE("repeated keys and values of the wrong shape are errors naming file:line") {
  CHECK(errorOf("threads: 1\nsettle: 1s\nthreads: 2\n") ==
        "cfg.yaml:3:1: threads: repeated key (first on line 1)");
  CHECK(errorOf("listen:\n  host: a\n")
            .find("cfg.yaml:2:3: listen: needs a single value or a "
                  "list") != std::string::npos);
  CHECK(errorOf("server_names:\n  - [a, b]\n").find("cfg.yaml:2:3: server_names: list items") !=
        std::string::npos);
  CHECK(errorOf("- threads\n- listen\n") == "cfg.yaml: the config must be a mapping of keys");
  const std::string yaml = errorOf("threads: [1, 2\n");
  CHECK(yaml.rfind("cfg.yaml:", 0) == 0);
  CHECK(yaml.find("invalid YAML") != std::string::npos);
}

TEST_CASE("the callback's error stops the walk, and bad() names the value and its place") {
  int calls = 0;
  auto s = forEachSetting("settle: fast\nthreads: 2\n", "agent.yaml", kKeys,
                          [&](const Setting& setting) -> Status {
                            ++calls;
                            return setting.bad("a duration");
                          });
  REQUIRE_FALSE(s.ok());
  CHECK(calls == 1);
  CHECK(s.error().code == ErrorCode::kInvalidInput);
  CHECK(s.error().describe() == "agent.yaml:1:9: settle: 'fast' is not a duration");

  s = forEachSetting("server_names: [a]\n", "agent.yaml", kKeys,
                     [&](const Setting& setting) -> Status { return setting.bad("a number"); });
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message == "a list is not a number");

  // A value with control characters is shown escaped, never raw.
  s = forEachSetting("settle: \"a\\x1bb\"\n", "agent.yaml", kKeys,
                     [&](const Setting& setting) -> Status { return setting.bad("a duration"); });
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message == "'a\\x1bb' is not a duration");
}

TEST_CASE("a settings file may be missing only when it is not required") {
  testing::TempDir dir;
  auto missing = readSettingsFile(dir.at("none.yaml"), false);
  REQUIRE(missing.ok());
  CHECK(missing->empty());

  auto required = readSettingsFile(dir.at("none.yaml"), true);
  REQUIRE_FALSE(required.ok());
  CHECK(required.error().code == ErrorCode::kNotFound);
  CHECK(required.error().describe().find(dir.at("none.yaml")) != std::string::npos);

  dir.write("agg.yaml", "threads: 3\n");
  auto text = readSettingsFile(dir.at("agg.yaml"), true);
  REQUIRE(text.ok());
  CHECK(*text == "threads: 3\n");

  dir.mkdir("adir");
  auto notFile = readSettingsFile(dir.at("adir"), false);
  REQUIRE_FALSE(notFile.ok());
  CHECK(notFile.error().describe().find("not a regular file") != std::string::npos);

  dir.write("big.yaml", std::string((1 << 20) + 1, '#'));
  auto big = readSettingsFile(dir.at("big.yaml"), true);
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().describe().find("larger than 1 MiB") != std::string::npos);
}

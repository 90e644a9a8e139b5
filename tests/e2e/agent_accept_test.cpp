// End-to-end: recording baselines and accepting changes into them through the real binary.

#include "tests/e2e/agent_harness.h"

using namespace driftwatch::testing;

namespace {

constexpr const char* kPolicy =
    "name: accept\nfiles:\n  - {path: /srv, recursive: true}\n  - {path: /etc/motd, mode: "
    "\"0644\"}\n";

}  // namespace

TEST_CASE("accept takes the named resources, records who, when and why, and the check is clean") {
  TempDir work;
  TempDir host;
  work.write("p.yaml", kPolicy);
  host.write("srv/a.conf", "1");
  host.write("srv/b.conf", "1");
  host.write("etc/motd", "hi", 0644);
  recordBaseline(work, host.path());
  host.write("srv/a.conf", "2");
  host.write(std::string("srv/odd\nname"), "x");
  const auto report = checkJson(work, host.path(), 2);
  REQUIRE(report["drift"].size() == 2);

  // Copy the resource ids straight from the JSON output, escapes and all.
  std::vector<std::string> args = {"accept",     "--policy",       work.at("p.yaml"),
                                   "--baseline", work.at("b.txt"), "--root",
                                   host.path(),  "--reason",       "rolled out change 42"};
  for (const auto& d : report["drift"])
    args.push_back(d["resource"]);
  const auto accepted = agent(args);
  INFO(accepted.err);
  CHECK(accepted.exitCode == 0);
  CHECK(accepted.out.find("accepted  file:/srv/a.conf") != std::string::npos);
  CHECK(accepted.out.find("accepted  file:/srv/odd\\x0aname") != std::string::npos);
  const std::string b = work.read("b.txt");
  CHECK(b.find("@accept\t") != std::string::npos);
  CHECK(b.find("\trolled out change 42\tfile:/srv/a.conf\tfile:/srv/odd\\x0aname\n") !=
        std::string::npos);
  CHECK(checkJson(work, host.path(), 0)["drift"].empty());
}

TEST_CASE("accept --all, and refusals that say what to do") {
  TempDir work;
  TempDir host;
  work.write("p.yaml", kPolicy);
  host.write("srv/a.conf", "1");
  host.write("etc/motd", "hi", 0600);
  recordBaseline(work, host.path());
  host.remove("srv/a.conf");
  host.write("srv/new.conf", "n");
  const auto base = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"accept",         "--policy", work.at("p.yaml"), "--baseline",
                                     work.at("b.txt"), "--root",   host.path()};
    args.insert(args.end(), extra.begin(), extra.end());
    return agent(args);
  };
  const auto noReason = base({"file:/srv/new.conf"});
  CHECK(noReason.exitCode == 1);
  CHECK(noReason.err.find("--reason") != std::string::npos);
  const auto explicitRule = base({"--reason", "x", "file:/etc/motd"});
  CHECK(explicitRule.exitCode == 1);
  CHECK(explicitRule.err.find("edit the policy instead") != std::string::npos);
  const auto sysctl = base({"--reason", "x", "sysctl:kernel.x"});
  CHECK(sysctl.exitCode == 1);
  CHECK(sysctl.err.find("set in the policy") != std::string::npos);
  const auto badId = base({"--reason", "x", "/srv/new.conf"});
  CHECK(badId.exitCode == 1);
  CHECK(badId.err.find("KIND:NAME") != std::string::npos);
  const std::string before = work.read("b.txt");
  // Naming a resource that already matches changes nothing, and records nothing.
  const auto unchanged = base({"--reason", "x", "file:/srv"});
  CHECK(unchanged.exitCode == 0);
  CHECK(unchanged.out.find("unchanged file:/srv") != std::string::npos);
  CHECK(unchanged.out.find("the baseline is unchanged") != std::string::npos);
  CHECK(work.read("b.txt") == before);  // refusals and no-ops leave the baseline untouched

  const auto all = base({"--reason", "new layout", "--all"});
  INFO(all.err);
  CHECK(all.exitCode == 0);
  CHECK(all.out.find("accepted  file:/srv/a.conf") != std::string::npos);
  CHECK(all.out.find("accepted  file:/srv/new.conf") != std::string::npos);
  // The explicit mode rule still drifts: accept cannot change the policy.
  const auto after = checkJson(work, host.path(), 2);
  REQUIRE(after["drift"].size() == 1);
  CHECK(after["drift"][0]["resource"] == "file:/etc/motd");
}

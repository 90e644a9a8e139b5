// Enrollment end to end: the real aggregator on 127.0.0.1 and the real agent binary.

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "tests/e2e/fleet_harness.h"

using namespace driftwatch::testing;
using nlohmann::json;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

size_t count(const std::vector<json>& records, const std::string& detailPart) {
  size_t n = 0;
  for (const auto& r : records)
    n += contains(r["detail"].get<std::string>(), detailPart) ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("fleet: an agent enrolls with a pinned CA and a token, and is listed with its labels") {
  TempDir work;
  Aggregator agg(work);
  agg.start();
  CHECK(agg.fingerprint().rfind("sha256:", 0) == 0);
  CHECK(agg.fingerprint().size() == 7 + 64);
  // The fingerprint printed at start is the one the admin command shows.
  const auto ca = agg.admin({"ca", "fingerprint"});
  CHECK(contains(ca.out, agg.fingerprint()));

  const std::string token = agg.createToken("role=web,dc=fra");
  const auto r = enrollAgent(agg, work.at("state"), token);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exitCode == 0);

  const auto status = agentStatus(work.at("state"));
  REQUIRE(!status.is_null());
  const auto& uplink = status["uplink"];
  CHECK(uplink["enrolled"] == true);
  CHECK(uplink["server"] == agg.url());
  CHECK(uplink["labels"] == json{{"dc", "fra"}, {"role", "web"}});
  CHECK(uplink["acked_seq"] == 0);
  const std::string hostId = uplink["host_id"];
  CHECK(contains(r.out, hostId));

  const auto host = agg.host(hostId);
  REQUIRE(!host.is_null());
  CHECK(host["labels"] == json{{"dc", "fra"}, {"role", "web"}});
  CHECK(host["last_report"].is_null());
  CHECK(host["revoked_at"].is_null());
  CHECK(agg.audit("host_enrolled").size() == 1);

  // The key never leaves the state directory, and only its owner can read it.
  struct stat st {};
  REQUIRE(::stat(work.at("state/identity.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // Enrolling again over an existing enrollment needs --force.
  const std::string second = agg.createToken();
  const auto again = enrollAgent(agg, work.at("state"), second);
  CHECK(again.exitCode != 0);
  CHECK(contains(again.err, "--force"));
  const auto forced = enrollAgent(agg, work.at("state"), second, {"--force"});
  INFO("forced stderr: " << forced.err);
  CHECK(forced.exitCode == 0);
  CHECK(agg.hosts().size() == 2);
  CHECK(agentStatus(work.at("state"))["uplink"]["host_id"] != hostId);
}

TEST_CASE("fleet: used-up, unknown and expired tokens and a wrong fingerprint are refused") {
  TempDir work;
  Aggregator agg(work);
  agg.start();
  const std::string once = agg.createToken("role=db", {"--uses", "1"});
  REQUIRE(enrollAgent(agg, work.at("a"), once).exitCode == 0);

  SUBCASE("a used-up token") {
    const auto r = enrollAgent(agg, work.at("b"), once);
    CHECK(r.exitCode != 0);
    CHECK(contains(r.err, "used up"));
    CHECK(contains(r.err, "token create"));  // says what to do
    CHECK(count(agg.audit("enroll_refused"), "used up") == 1);
  }
  SUBCASE("an unknown token") {
    const auto r = enrollAgent(agg, work.at("b"), "dwt_" + std::string(43, 'A'));
    CHECK(r.exitCode != 0);
    CHECK(contains(r.err, "unknown enrollment token"));
    CHECK(count(agg.audit("enroll_refused"), "unknown token") == 1);
  }
  SUBCASE("an expired token") {
    const std::string shortLived = agg.createToken("role=db", {"--ttl", "1s"});
    REQUIRE(waitFor([&] {
      for (const auto& t : agg.adminJson({"token", "list"})) {
        if (t["state"] == "expired") return true;
      }
      return false;
    }));
    const auto r = enrollAgent(agg, work.at("b"), shortLived);
    CHECK(r.exitCode != 0);
    CHECK(contains(r.err, "expired"));
    CHECK(count(agg.audit("enroll_refused"), "expired") == 1);
  }
  SUBCASE("a CA fingerprint that does not match: the token is never sent") {
    const std::string token = agg.createToken();
    const auto r = enrollAgent(agg, work.at("b"), token,
                               {"--ca-fingerprint", "sha256:" + std::string(64, '0')});
    CHECK(r.exitCode != 0);
    CHECK(contains(r.err, "does not match the pinned fingerprint"));
    int uses = 0;
    for (const auto& t : agg.adminJson({"token", "list"}))
      uses += t["uses"].get<int>();
    CHECK(uses == 1);  // the first agent's enrollment only
  }
  SUBCASE("a malformed fingerprint or a plain http URL") {
    const std::string token = agg.createToken();
    const auto bad = enrollAgent(agg, work.at("b"), token, {"--ca-fingerprint", "abc"});
    CHECK(bad.exitCode != 0);
    CHECK(contains(bad.err, "sha256:"));
    const auto http = runProcess(
        {agentBinary(), "enroll", "--server", "http://127.0.0.1:" + std::to_string(agg.port()),
         "--token", token, "--state-dir", work.at("b"), "--ca-fingerprint", agg.fingerprint()});
    CHECK(http.exitCode != 0);
    CHECK(contains(http.err, "https://"));
  }
  // Whatever was refused enrolled nothing and left the agent unenrolled.
  CHECK(agg.hosts().size() == 1);
  const auto status = agentStatus(work.at("b"));
  CHECK((status.is_null() || status["uplink"]["enrolled"] == false));
}

TEST_CASE("fleet: the token can come from a file or the environment, never only the command line") {
  TempDir work;
  Aggregator agg(work);
  agg.start();
  const auto enroll = [&](const std::string& state, std::vector<std::string> extra,
                          ProcessOptions options = {}) {
    std::vector<std::string> args = {agentBinary(),      "enroll",         "--server",
                                     agg.url(),          "--state-dir",    work.at(state),
                                     "--ca-fingerprint", agg.fingerprint()};
    args.insert(args.end(), extra.begin(), extra.end());
    return runProcess(args, options);
  };
  work.write("token", agg.createToken() + "\n");
  const auto fromFile = enroll("a", {"--token-file", work.at("token")});
  INFO(fromFile.err);
  CHECK(fromFile.exitCode == 0);

  ProcessOptions env;
  env.env = {"DRIFTWATCH_ENROLL_TOKEN=" + agg.createToken()};
  const auto fromEnv = enroll("b", {}, env);
  INFO(fromEnv.err);
  CHECK(fromEnv.exitCode == 0);

  ProcessOptions stdinToken;
  stdinToken.input = agg.createToken() + "\n";
  const auto fromStdin = enroll("c", {"--token-file", "-"}, stdinToken);
  INFO(fromStdin.err);
  CHECK(fromStdin.exitCode == 0);

  const auto none = enroll("d", {});
  CHECK(none.exitCode != 0);
  CHECK(contains(none.err, "no enrollment token"));
  CHECK(agg.hosts().size() == 3);
}

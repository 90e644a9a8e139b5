// The admin API end to end: the real aggregator serving a real agent's drift, an API token
// made with the CLI, the API over real TLS on 127.0.0.1, the CLI's --server mode compared with
// its local output, and a /metrics scrape.

#include <map>
#include <sstream>

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "common/net/https_client.h"
#include "tests/e2e/daemon_harness.h"
#include "tests/e2e/fleet_harness.h"

using namespace driftwatch;
using namespace driftwatch::testing;
using nlohmann::json;

namespace {

net::HttpsClientOptions pinnedTo(const Aggregator& agg) {
  net::HttpsClientOptions o;
  o.host = "127.0.0.1";
  o.port = std::to_string(agg.port());
  o.pinnedCaFingerprint = agg.fingerprint();
  o.userAgent = "e2e";
  return o;
}

net::HttpReply apiGet(const Aggregator& agg, const std::string& target, const std::string& token) {
  net::HttpsClient client(pinnedTo(agg));
  net::HttpHeaders headers;
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  auto reply = client.request("GET", target, "", "", headers);
  INFO("transport: " << (reply.ok() ? "" : reply.error().describe()));
  REQUIRE(reply.ok());
  return *reply;
}

// `driftwatch-aggregator ARGS --server ...`: the CLI against the API, not the data directory.
ProcessResult remote(const Aggregator& agg, std::vector<std::string> args,
                     std::vector<std::string> trust, const ProcessOptions& options = {}) {
  args.insert(args.begin(), aggregatorBinary());
  args.insert(args.end(), trust.begin(), trust.end());
  auto r = runProcess(args, options);
  if (r.timedOut || r.signal != 0) FAIL("driftwatch-aggregator " << args[1] << ": " << r.err);
  (void)agg;
  return r;
}

// Sample lines of a Prometheus exposition by series ("name{labels}").
std::map<std::string, double> samplesOf(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

}  // namespace

TEST_CASE("fleet: the admin API and the CLI's --server mode over real TLS") {
  TempDir work;
  work.write("root/etc/motd", "welcome\n");
  REQUIRE(::chmod(work.at("root/etc/motd").c_str(), 0644) == 0);
  work.write("p.yaml", "name: local\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n");
  Aggregator agg(work);
  // Alerts fire soon after their drift opens.
  work.write("agg/aggregator.yaml", "data_dir: " + agg.dataDir() + "\nalerts:\n  settle: 100ms\n");
  agg.start();
  INFO("aggregator stderr:\n" << agg.stderrText());
  REQUIRE(enrollAgent(agg, work.at("state"), agg.createToken("role=web")).exitCode == 0);
  work.write("fleet/web.yaml",
             "name: web\nselector: {role: web}\nfiles:\n  - path: /etc/motd\n    mode: \"0644\"\n");
  REQUIRE(agg.admin({"policy", "apply", work.at("fleet")}).exitCode == 0);
  AgentDaemon daemon(work, work.at("root"), "batch_delay: 50ms\nretry_max: 1s\n");
  daemon.start();
  // In sync first, so that the change arrives as a delta (managed drift) after the snapshot.
  REQUIRE(waitFor([&] { return agentInSync(work.at("state")); }));
  REQUIRE(::chmod(work.at("root/etc/motd").c_str(), 0600) == 0);
  REQUIRE(waitFor([&] { return agg.adminJson({"drift", "list"}).size() == 1; }));

  // An API token, made with the CLI and kept in a private file.
  const auto created = agg.admin({"api-token", "create", "--name", "e2e"});
  REQUIRE(created.exitCode == 0);
  std::string token = created.out;
  while (!token.empty() && token.back() == '\n')
    token.pop_back();
  REQUIRE(token.rfind("dwa_", 0) == 0);
  work.write("token", token + "\n", 0600);

  SUBCASE("without a token: 401 and an audit record; with it: the CLI's JSON") {
    const auto refused = apiGet(agg, "/api/v1/hosts", "");
    CHECK(refused.status == 401);
    CHECK(json::parse(refused.body).contains("error"));
    CHECK(apiGet(agg, "/api/v1/hosts", "dwa_wrong").status == 401);
    CHECK(apiGet(agg, "/metrics", "").status == 401);
    const auto failures = agg.audit("api_auth_failed");
    CHECK(failures.size() == 3);
    for (const auto& a : failures)
      CHECK(a["detail"].get<std::string>().find("dwa_") == std::string::npos);

    const auto hosts = apiGet(agg, "/api/v1/hosts", token);
    REQUIRE(hosts.status == 200);
    CHECK(hosts.contentType == "application/json");
    CHECK(json::parse(hosts.body) == agg.adminJson({"hosts", "list"}));
    const auto drift = apiGet(agg, "/api/v1/drift?label=role%3Dweb&severity=high", token);
    REQUIRE(drift.status == 200);
    const auto bad = apiGet(agg, "/api/v1/drift?colour=red", token);
    CHECK(bad.status == 400);
    CHECK(json::parse(bad.body)["error"].get<std::string>().find("colour") != std::string::npos);
    CHECK(apiGet(agg, "/api/v1/hosts/nope", token).status == 404);

    // The token's use is recorded; the secret is not listed.
    const auto tokens = agg.adminJson({"api-token", "list"});
    REQUIRE(tokens.size() == 1);
    CHECK(tokens[0]["name"] == "e2e");
    CHECK(!tokens[0]["last_used_at"].is_null());
    CHECK(tokens.dump().find(token) == std::string::npos);
  }

  SUBCASE("drift list --server prints what drift list prints locally") {
    const std::vector<std::string> pinned = {"--server",         agg.url(),
                                             "--token-file",     work.at("token"),
                                             "--ca-fingerprint", agg.fingerprint()};
    for (const auto* format : {"json", "text"}) {
      const auto local = agg.admin({"drift", "list", "--format", format});
      const auto far = remote(agg, {"drift", "list", "--format", format}, pinned);
      INFO("remote stderr: " << far.err);
      REQUIRE(far.exitCode == 0);
      CHECK(far.out == local.out);
    }
    CHECK(json::parse(remote(agg, {"drift", "list", "--format", "json"}, pinned).out).size() == 1);
    // The same through the environment, trusting the CA file instead of a pin.
    ProcessOptions env;
    env.env = {"DRIFTWATCH_SERVER=" + agg.url(), "DRIFTWATCH_TOKEN=" + token};
    const auto viaEnv = remote(agg, {"hosts", "list", "--format", "json"},
                               {"--ca", agg.dataDir() + "/ca.crt"}, env);
    INFO("remote stderr: " << viaEnv.err);
    REQUIRE(viaEnv.exitCode == 0);
    CHECK(json::parse(viaEnv.out) == agg.adminJson({"hosts", "list"}));
    const std::vector<std::vector<std::string>> policyCommands = {
        {"policy", "list"}, {"policy", "show", "web"}, {"policy", "history", "web"}};
    for (const auto& cmd : policyCommands) {
      const auto far = remote(agg, cmd, pinned);
      REQUIRE(far.exitCode == 0);
      CHECK(far.out == agg.admin(cmd).out);
    }
    // Errors read the same as locally, and a wrong pin stops before the token is sent.
    const auto missing = remote(agg, {"hosts", "gaps", "nope"}, pinned);
    CHECK(missing.exitCode == 1);
    CHECK(missing.err == agg.admin({"hosts", "gaps", "nope"}).err);
    const auto wrongPin = remote(agg, {"hosts", "list"},
                                 {"--server", agg.url(), "--token-file", work.at("token"),
                                  "--ca-fingerprint", "sha256:" + std::string(64, '0')});
    CHECK(wrongPin.exitCode == 1);
    CHECK(wrongPin.err.find("pinned fingerprint") != std::string::npos);

    // A revoked token is refused, and the CLI says what to check.
    REQUIRE(agg.admin({"api-token", "revoke", "e2e"}).exitCode == 0);
    const auto revoked = remote(agg, {"drift", "list"}, pinned);
    CHECK(revoked.exitCode == 1);
    CHECK(revoked.err.find("--token-file") != std::string::npos);
  }

  SUBCASE("alerts, ack, accept and waive through --server; acting needs a write token") {
    const std::vector<std::string> reader = {"--server",         agg.url(),
                                             "--token-file",     work.at("token"),
                                             "--ca-fingerprint", agg.fingerprint()};
    REQUIRE(waitFor([&] {
      const auto a = agg.adminJson({"alerts", "list"});
      return a.size() == 1 && a[0]["status"] == "firing";
    }));
    for (const auto* format : {"json", "text"}) {
      const auto far = remote(agg, {"alerts", "list", "--format", format}, reader);
      INFO("remote stderr: " << far.err);
      REQUIRE(far.exitCode == 0);
      CHECK(far.out == agg.admin({"alerts", "list", "--format", format}).out);
    }
    const json alert = agg.adminJson({"alerts", "list"})[0];
    const std::string id = std::to_string(alert["id"].get<int64_t>());
    const std::string host = alert["host"];

    // The read token may not act; nothing changed.
    const auto refused = remote(agg, {"alerts", "ack", id}, reader);
    CHECK(refused.exitCode == 1);
    CHECK(refused.err.find("--scope write") != std::string::npos);
    CHECK(agg.audit("api_write_refused").size() == 1);

    const auto writeToken = agg.admin({"api-token", "create", "--name", "ops", "--scope", "write"});
    REQUIRE(writeToken.exitCode == 0);
    work.write("write-token", writeToken.out, 0600);
    const std::vector<std::string> writer = {"--server",         agg.url(),
                                             "--token-file",     work.at("write-token"),
                                             "--ca-fingerprint", agg.fingerprint()};
    const auto acked = remote(agg, {"alerts", "ack", id, "--by", "erin"}, writer);
    INFO("remote stderr: " << acked.err);
    REQUIRE(acked.exitCode == 0);
    CHECK(acked.out == "alert " + id + " acknowledged by erin\n");
    CHECK(agg.adminJson({"alerts", "list"})[0]["acked_by"] == "erin");
    const auto twice = remote(agg, {"alerts", "ack", id}, writer);
    CHECK(twice.exitCode == 1);
    CHECK(twice.err.find("acknowledged already, by erin") != std::string::npos);

    // Accept: the item is accepted on the aggregator, its alert resolves, the audit trail
    // names the token.
    const auto accepted =
        remote(agg, {"accept", host, "/etc/motd", "--reason", "0600 is right", "--format", "json"},
               writer);
    INFO("remote stderr: " << accepted.err);
    REQUIRE(accepted.exitCode == 0);
    CHECK(json::parse(accepted.out)["status"] == "accepted");
    CHECK(agg.adminJson({"drift", "list", "--status", "accepted"}).size() == 1);
    CHECK(agg.adminJson({"alerts", "list", "--status", "all"})[0]["status"] == "resolved");
    const auto decisions = agg.audit("drift_accepted");
    REQUIRE(decisions.size() == 1);
    CHECK(decisions[0]["peer"].get<std::string>().find("API token ops") != std::string::npos);

    const auto waived = remote(
        agg, {"waive", host, "/etc/motd", "--reason", "until the rollout", "--for", "1d"}, writer);
    INFO("remote stderr: " << waived.err);
    REQUIRE(waived.exitCode == 0);
    CHECK(waived.out.starts_with("waived: file:/etc/motd on " + host + " until "));
    CHECK(agg.adminJson({"drift", "list", "--status", "waived"}).size() == 1);

    // Refusals read the same as locally.
    const std::vector<std::string> none = {"accept", host, "/etc/none", "--reason", "x"};
    const auto far = remote(agg, none, writer);
    CHECK(far.exitCode == 1);
    CHECK(far.err == agg.admin(none).err);
    const std::vector<std::string> blank = {"accept", host, "/etc/motd", "--reason", " "};
    const auto blankFar = remote(agg, blank, writer);
    CHECK(blankFar.exitCode == 1);
    CHECK(blankFar.err == agg.admin(blank).err);
    CHECK(blankFar.err.find("--reason") != std::string::npos);
    const auto badExpiry = remote(agg, {"waive", host, "/etc/motd", "--reason", "x"}, writer);
    CHECK(badExpiry.exitCode == 1);
    CHECK(badExpiry.err.find("--until DATE") != std::string::npos);

    // Policies from this machine's files, applied and removed through the API.
    work.write("remote-policies/issue.yaml",
               "name: issue\nselector: {role: web}\nfiles:\n  - path: /etc/issue\n"
               "    mode: \"0644\"\n");
    const auto applied =
        remote(agg, {"policy", "apply", work.at("remote-policies"), "-m", "from a laptop"}, writer);
    INFO("remote stderr: " << applied.err);
    REQUIRE(applied.exitCode == 0);
    CHECK(applied.out == "issue: version 1 applied\n");
    const json shown = agg.adminJson({"policy", "show", "issue"});
    CHECK(shown["message"] == "from a laptop");
    CHECK(shown["source"] == work.at("remote-policies/issue.yaml"));
    CHECK(remote(agg, {"policy", "apply", work.at("remote-policies")}, writer).out ==
          "issue: unchanged (version 1)\n");
    const auto refusedApply = remote(agg, {"policy", "apply", work.at("remote-policies")}, reader);
    CHECK(refusedApply.exitCode == 1);
    CHECK(refusedApply.err.find("--scope write") != std::string::npos);
    // A refused apply reads the same in both modes, one problem per line.
    work.write("broken-policies/a.yaml", "name: a\nfiles:\n  - path: relative\n");
    work.write("broken-policies/b.yaml", "name: b\nfiles:\n  - path: also-relative\n");
    const std::vector<std::string> broken = {"policy", "apply", work.at("broken-policies")};
    const auto brokenFar = remote(agg, broken, writer);
    CHECK(brokenFar.exitCode == 1);
    CHECK(brokenFar.err == agg.admin(broken).err);
    CHECK(brokenFar.err.find('\n') < brokenFar.err.size() - 1);
    // A policy larger than an ordinary admin request goes through with the write token only.
    std::string big =
        "name: big\nselector: {role: web}\nfiles:\n  - path: /etc/hostname\n    mode: \"0644\"\n";
    while (big.size() < 64 * 1024)
      big += "# " + std::string(76, 'x') + "\n";
    work.write("big-policies/big.yaml", big);
    // With the read token the body is refused before it is read (a 413, or the connection
    // closed mid-send), and nothing is stored.
    CHECK(remote(agg, {"policy", "apply", work.at("big-policies")}, reader).exitCode == 1);
    CHECK(agg.admin({"policy", "history", "big"}).exitCode == 1);
    const auto bigApplied = remote(agg, {"policy", "apply", work.at("big-policies")}, writer);
    INFO("remote stderr: " << bigApplied.err);
    CHECK(bigApplied.out == "big: version 1 applied\n");
    REQUIRE(remote(agg, {"policy", "remove", "big"}, writer).exitCode == 0);

    const auto removed = remote(agg, {"policy", "remove", "issue", "-m", "not needed"}, writer);
    INFO("remote stderr: " << removed.err);
    REQUIRE(removed.exitCode == 0);
    CHECK(removed.out == "issue: removed (version 2)\n");
    CHECK(agg.adminJson({"policy", "list"}).size() == 1);

    // A maintenance window from afar, listed the same in both modes, then ended.
    const auto window = remote(agg,
                               {"maintenance", "add", "--selector", "role=web", "--for", "2h",
                                "--reason", "kernel upgrade", "--format", "json"},
                               writer);
    INFO("remote stderr: " << window.err);
    REQUIRE(window.exitCode == 0);
    const std::string windowId = json::parse(window.out)["id"].dump();
    for (const auto* format : {"json", "text"}) {
      CHECK(remote(agg, {"maintenance", "list", "--format", format}, reader).out ==
            agg.admin({"maintenance", "list", "--format", format}).out);
    }
    const std::vector<std::string> badWindow = {"maintenance", "add", "--reason", "x"};
    CHECK(remote(agg, badWindow, writer).err == agg.admin(badWindow).err);
    CHECK(remote(agg, {"maintenance", "end", windowId}, writer).out ==
          "maintenance window " + windowId + " ended\n");
    CHECK(agg.adminJson({"maintenance", "list"}).empty());

    // Last: revoking the host from afar refuses its reports from then on.
    const auto revoked = remote(agg, {"hosts", "revoke", host}, writer);
    INFO("remote stderr: " << revoked.err);
    REQUIRE(revoked.exitCode == 0);
    CHECK(revoked.out.starts_with("revoked host " + host + ": "));
    CHECK(!agg.adminJson({"hosts", "list"})[0]["revoked_at"].is_null());
    CHECK(remote(agg, {"hosts", "revoke", host}, writer).out ==
          "host " + host + " was revoked already\n");
    CHECK(agg.audit("host_revoked").size() == 1);
  }

  SUBCASE("/metrics over TLS: hosts, open drift and ingest") {
    const auto scraped = apiGet(agg, "/metrics", token);
    REQUIRE(scraped.status == 200);
    CHECK(scraped.contentType.find("version=0.0.4") != std::string::npos);
    CHECK(scraped.body.find("# TYPE driftwatch_hosts gauge") != std::string::npos);
    const auto samples = samplesOf(scraped.body);
    CHECK(samples.at(R"(driftwatch_hosts{status="reporting"})") == 1);
    double open = 0;
    for (const auto& [series, value] : samples)
      open += series.starts_with("driftwatch_drift_open{") ? value : 0;
    CHECK(open == 1);
    CHECK(samples.size() >= 8);
    CHECK(samples.at("driftwatch_reports_ingested_total") >= 1);
    CHECK(samples.at("driftwatch_deltas_ingested_total") >= 1);
  }
}

#include "aggregator/api/admin_api.h"

#include <algorithm>

#include <doctest/doctest.h>
#include <openssl/evp.h>

#include "aggregator/api/fleet_reader.h"
#include "aggregator/api/query_string.h"
#include "common/crypto/sha256.h"
#include "tests/unit/aggregator/api_fixture.h"

using namespace driftwatch;
using namespace driftwatch::aggregator;
using namespace driftwatch::testing;

namespace {

Json body(const HttpResponse& r) {
  INFO("body: " << r.body);
  const Json j = Json::parse(r.body, nullptr, false);
  REQUIRE(!j.is_discarded());
  return j;
}

std::string header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

std::string errorOf(const HttpResponse& r) {
  const Json j = body(r);
  REQUIRE(j.contains("error"));
  return j["error"].get<std::string>();
}

std::vector<std::string> ids(const Json& items, const char* key) {
  std::vector<std::string> out;
  for (const auto& i : items)
    out.push_back(i[key].get<std::string>());
  return out;
}

size_t auditCount(const FleetStore& store, const std::string& event) {
  auto rows = store.audit(1000);
  REQUIRE(rows.ok());
  size_t n = 0;
  for (const auto& r : *rows)
    n += r.event == event ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("admin API: a request without a token is refused with a Bearer challenge") {
  ApiFleet f;
  const auto r = f.get("/api/v1/hosts", "");
  CHECK(r.status == 401);
  CHECK(header(r, "WWW-Authenticate") == R"(Bearer realm="driftwatch")");
  CHECK(errorOf(r).find("api-token create") != std::string::npos);
  CHECK(auditCount(*f.store, "api_auth_failed") == 1);
}

TEST_CASE("admin API: a wrong token is refused and audited without the token") {
  ApiFleet f;
  const std::string wrong = "dwa_" + std::string(64, '7');
  const auto r = f.get("/api/v1/drift", "Bearer " + wrong);
  CHECK(r.status == 401);
  CHECK(header(r, "WWW-Authenticate").find("invalid_token") != std::string::npos);
  auto rows = f.store->audit(10);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK(rows->front().event == "api_auth_failed");
  CHECK(rows->front().peer == "127.0.0.1:5555");
  CHECK(rows->front().detail.find("unknown token") != std::string::npos);
  CHECK(rows->front().detail.find(wrong) == std::string::npos);
  const std::string logFile = f.dir.read("audit.log");
  CHECK(logFile.find(wrong) == std::string::npos);
  // Not a Bearer credential at all.
  CHECK(f.get("/api/v1/hosts", "Basic YWxpY2U6c2VjcmV0").status == 401);
  // /metrics is protected the same way.
  CHECK(f.get("/metrics", "").status == 401);
}

TEST_CASE("admin API: a valid token reads, its use is recorded, the scheme is case-insensitive") {
  ApiFleet f;
  CHECK(f.get("/api/v1/hosts").status == 200);
  CHECK(f.get("/api/v1/hosts", "bearer " + f.token).status == 200);
  auto tokens = ApiTokens(*f.store).list();
  REQUIRE(tokens.ok());
  REQUIRE(tokens->size() == 1);
  CHECK(tokens->front().name == "alice");
  REQUIRE(tokens->front().lastUsedAt.has_value());
  CHECK(*tokens->front().lastUsedAt == kNowMs / 1000);
}

TEST_CASE("admin API: revoked and expired tokens are refused") {
  ApiFleet f;
  ApiTokens tokens(*f.store);
  auto shortLived = tokens.create("scraper", std::chrono::seconds(60), kNowMs / 1000 - 120);
  REQUIRE(shortLived.ok());
  const auto expired = f.get("/metrics", "Bearer " + shortLived->token);
  CHECK(expired.status == 401);
  auto rows = f.store->audit(10);
  REQUIRE(rows.ok());
  CHECK(rows->back().detail.find("expired token scraper") != std::string::npos);

  auto revoked = tokens.revoke("alice");
  REQUIRE(revoked.ok());
  CHECK(*revoked);
  CHECK(f.get("/api/v1/hosts").status == 401);
  auto again = tokens.revoke("alice");
  REQUIRE(again.ok());
  CHECK_FALSE(*again);
}

TEST_CASE("API tokens: names are checked, and a name is used once") {
  ApiFleet f;
  ApiTokens tokens(*f.store);
  CHECK_FALSE(tokens.create("", std::nullopt, 1).ok());
  CHECK_FALSE(tokens.create("a b", std::nullopt, 1).ok());
  const auto twice = tokens.create("alice", std::nullopt, 1);
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().message.find("revoke it first") != std::string::npos);
  // Only the hash is stored.
  auto stmt = f.store->database().prepare("SELECT hash FROM api_tokens WHERE name = 'alice'");
  REQUIRE(stmt.ok());
  REQUIRE(stmt->step());
  CHECK(stmt->columnText(0) != f.token);
  CHECK(stmt->columnText(0).size() == 64);
}

TEST_CASE("admin API: hosts, one host, and a host that does not exist") {
  ApiFleet f;
  const auto all = f.get("/api/v1/hosts");
  REQUIRE(all.status == 200);
  CHECK(all.contentType == "application/json");
  CHECK(header(all, "Cache-Control") == "no-store");
  LocalFleetReader reader(*f.store, DriftFlagRules{}, [] { return kNowMs; });
  auto expected = reader.hosts();
  REQUIRE(expected.ok());
  CHECK(body(all) == *expected);
  CHECK(ids(body(all), "id") == std::vector<std::string>{"db1", "old", "web1", "web2"});

  const auto one = f.get("/api/v1/hosts/web1");
  REQUIRE(one.status == 200);
  CHECK(body(one)["labels"]["role"] == "web");
  CHECK(body(one)["last_address"] == "192.0.2.1:4000");

  const auto missing = f.get("/api/v1/hosts/nope");
  CHECK(missing.status == 404);
  CHECK(errorOf(missing).find("no host nope") != std::string::npos);
  // A percent-encoded id is decoded.
  CHECK(f.get("/api/v1/hosts/we%62%31").status == 200);
  CHECK(f.get("/api/v1/hosts/web1/gaps").status == 200);
  CHECK(body(f.get("/api/v1/hosts/web1/gaps")) == Json::array());
}

TEST_CASE("admin API: history takes resource and limit, and nothing else") {
  ApiFleet f;
  REQUIRE(f.store->appendHistory("web1", "file:/etc/motd", "present\tmode=0644", 1, 1, 2).ok());
  REQUIRE(f.store->appendHistory("web1", "file:/etc/hosts", "present\tmode=0644", 3, 2, 4).ok());
  REQUIRE(f.store->appendHistory("web1", "file:/etc/motd", "present\tmode=0600", 5, 3, 6).ok());
  const auto motd = f.get("/api/v1/hosts/web1/history?resource=file%3A%2Fetc%2Fmotd&limit=10");
  REQUIRE(motd.status == 200);
  CHECK(body(motd).size() == 2);
  CHECK(body(f.get("/api/v1/hosts/web1/history?limit=1")).size() == 1);

  const auto zero = f.get("/api/v1/hosts/web1/history?limit=0");
  CHECK(zero.status == 400);
  CHECK(errorOf(zero).find("limit=0") != std::string::npos);
  const auto word = f.get("/api/v1/hosts/web1/history?limit=ten");
  CHECK(word.status == 400);
  const auto unknown = f.get("/api/v1/hosts/web1/history?resurce=x");
  CHECK(unknown.status == 400);
  CHECK(errorOf(unknown).find("resurce") != std::string::npos);
  CHECK(errorOf(unknown).find("unknown query parameter") != std::string::npos);
  CHECK(f.get("/api/v1/hosts/web1/history?limit=1&limit=2").status == 400);
  CHECK(f.get("/api/v1/hosts/web1/history?resource=%zz").status == 400);
  CHECK(f.get("/api/v1/hosts/web1/history?resource=a%0Ab").status == 400);
  CHECK(f.get("/api/v1/hosts/nope/history").status == 404);
}

TEST_CASE("admin API: drift with its filters") {
  ApiFleet f;
  const auto open = f.get("/api/v1/drift");
  REQUIRE(open.status == 200);
  CHECK(ids(body(open), "host") == std::vector<std::string>{"web1", "web2"});
  // Open for eight days: configuration creep; for an hour: not yet.
  CHECK(body(open)[0]["creep"] == true);
  CHECK(body(open)[1]["creep"] == false);

  CHECK(ids(body(f.get("/api/v1/drift?status=all")), "host") ==
        std::vector<std::string>{"db1", "web1", "web2"});
  CHECK(ids(body(f.get("/api/v1/drift?status=resolved")), "host") ==
        std::vector<std::string>{"db1"});
  CHECK(ids(body(f.get("/api/v1/drift?severity=critical")), "host") ==
        std::vector<std::string>{"web2"});
  CHECK(ids(body(f.get("/api/v1/drift?direction=managed")), "host") ==
        std::vector<std::string>{"web1"});
  CHECK(ids(body(f.get("/api/v1/drift?host=web2")), "host") == std::vector<std::string>{"web2"});
  CHECK(ids(body(f.get("/api/v1/drift?status=all&label=role%3Ddb")), "host") ==
        std::vector<std::string>{"db1"});
  CHECK(ids(body(f.get("/api/v1/drift?min_age=7d")), "host") == std::vector<std::string>{"web1"});
  // The resolved item was open a minute.
  CHECK(body(f.get("/api/v1/drift?status=resolved&min_age=2m")).empty());
  CHECK(body(f.get("/api/v1/drift?status=resolved&min_age=1m")).size() == 1);

  const auto badSeverity = f.get("/api/v1/drift?severity=bogus");
  CHECK(badSeverity.status == 400);
  CHECK(errorOf(badSeverity).find("severity=bogus") != std::string::npos);
  const auto badStatus = f.get("/api/v1/drift?status=closed");
  CHECK(badStatus.status == 400);
  CHECK(errorOf(badStatus).find("status=closed") != std::string::npos);
  CHECK(f.get("/api/v1/drift?label=role").status == 400);
  CHECK(errorOf(f.get("/api/v1/drift?min_age=soon")).find("min_age") != std::string::npos);
  CHECK(errorOf(f.get("/api/v1/drift?hots=web1")).find("hots") != std::string::npos);
}

TEST_CASE("admin API: policies, one version, history and diff") {
  ApiFleet f;
  const auto list = f.get("/api/v1/policies");
  REQUIRE(list.status == 200);
  REQUIRE(body(list).size() == 1);
  CHECK(body(list)[0]["version"] == 2);
  CHECK(body(list)[0]["selector"]["role"] == "web");

  const auto newest = f.get("/api/v1/policies/web");
  REQUIRE(newest.status == 200);
  CHECK(body(newest)["version"] == 2);
  CHECK(body(newest)["text"].get<std::string>().find("mode") != std::string::npos);
  CHECK(body(f.get("/api/v1/policies/web?version=1"))["version"] == 1);
  const auto noVersion = f.get("/api/v1/policies/web?version=9");
  CHECK(noVersion.status == 404);
  CHECK(errorOf(noVersion).find("no version 9 (1 to 2)") != std::string::npos);
  CHECK(f.get("/api/v1/policies/web?version=-1").status == 400);
  CHECK(f.get("/api/v1/policies/nope").status == 404);

  CHECK(body(f.get("/api/v1/policies/web/history")).size() == 2);
  const auto diff = f.get("/api/v1/policies/web/diff");
  REQUIRE(diff.status == 200);
  CHECK(body(diff)["from"] == 1);
  CHECK(body(diff)["to"] == 2);
  CHECK(body(diff)["diff"].get<std::string>().find("+     mode: \"0644\"") != std::string::npos);
  CHECK(f.get("/api/v1/policies/web/diff?from=1&to=2").status == 200);
  CHECK(f.get("/api/v1/policies/web/diff?from=3").status == 404);
  CHECK(f.get("/api/v1/policies/web/diff?form=1").status == 400);
}

TEST_CASE("admin API: audit, routing errors and methods") {
  ApiFleet f;
  f.audit->record("host_revoked", "old", "admin", "revoked by the admin");
  const auto audit = f.get("/api/v1/audit?limit=5");
  REQUIRE(audit.status == 200);
  CHECK(body(audit).back()["event"] == "host_revoked");

  CHECK(f.get("/api/v1/nothing").status == 404);
  CHECK(f.get("/api/v2/hosts").status == 404);
  CHECK(f.get("/api/v1/hosts/web1/nothing").status == 404);
  CHECK(f.get("/api/v1//hosts").status == 404);
  CHECK(f.get("/api/v1/hosts?x=1").status == 400);

  HttpRequest post;
  post.method = "POST";
  post.target = "/api/v1/hosts";
  post.authorization = "Bearer " + f.token;
  const auto r = f.api->handle(post);
  CHECK(r.status == 405);
  CHECK(header(r, "Allow") == "GET");
}

TEST_CASE("admin API: the paths it serves") {
  CHECK(AdminApi::serves("/api/v1/hosts?x"));
  CHECK(AdminApi::serves("/metrics"));
  CHECK(AdminApi::serves("/"));
  CHECK_FALSE(AdminApi::serves("/v1/report"));
  CHECK_FALSE(AdminApi::serves("/apiary"));
  CHECK_FALSE(AdminApi::serves("/healthz"));
}

TEST_CASE("query strings: decoding is strict") {
  auto plus = percentDecode("a+b%2Bc", true);
  REQUIRE(plus.ok());
  CHECK(*plus == "a b+c");
  auto path = percentDecode("a+b", false);
  REQUIRE(path.ok());
  CHECK(*path == "a+b");
  CHECK_FALSE(percentDecode("%4", true).ok());
  CHECK_FALSE(percentDecode("%", true).ok());
  CHECK_FALSE(percentDecode("%g0", true).ok());
  CHECK_FALSE(percentDecode("%00", true).ok());
  CHECK_FALSE(percentDecode("%7f", true).ok());
  CHECK(percentEncode("file:/etc/a b") == "file%3A%2Fetc%2Fa%20b");
  auto back = percentDecode(percentEncode("role=web/ü"), false);
  REQUIRE(back.ok());
  CHECK(*back == "role=web/ü");

  auto target = parseTarget("/api/v1/hosts/a%2Fb?limit=3");
  REQUIRE(target.ok());
  CHECK(target->segments == std::vector<std::string>{"api", "v1", "hosts", "a/b"});
  CHECK(target->query == "limit=3");
  CHECK_FALSE(parseTarget("/api/").ok());
  CHECK_FALSE(parseTarget("api").ok());

  CHECK_FALSE(QueryParameters::parse("a=1&", {"a"}).ok());
  CHECK_FALSE(QueryParameters::parse("&a=1", {"a"}).ok());
  auto empty = QueryParameters::parse("a=", {"a"});
  REQUIRE(empty.ok());
  CHECK(empty->get("a") == std::optional<std::string>(""));
  auto n = QueryParameters::parse("n=12", {"n"});
  REQUIRE(n.ok());
  CHECK(*n->number("n", 0, 1, 100) == 12);
  CHECK_FALSE(n->number("n", 0, 1, 10).ok());
  CHECK(*n->number("m", 7, 1, 10) == 7);
  auto big = QueryParameters::parse("n=99999999999999999999999", {"n"});
  REQUIRE(big.ok());
  CHECK_FALSE(big->number("n", 0, 1, 100).ok());
}

namespace {

std::string cspSourceOf(const std::string& inlineText) {
  const auto digest = Sha256::of(inlineText);
  unsigned char out[64];
  const int n = EVP_EncodeBlock(out, digest.data(), static_cast<int>(digest.size()));
  return "'sha256-" + std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n)) + "'";
}

std::string between(const std::string& text, const std::string& open, const std::string& close) {
  const size_t a = text.find(open);
  REQUIRE(a != std::string::npos);
  const size_t b = text.find(close, a + open.size());
  REQUIRE(b != std::string::npos);
  return text.substr(a + open.size(), b - a - open.size());
}

}  // namespace

TEST_CASE("web view: the page, its security headers, and the endpoints it calls") {
  ApiFleet f;
  HttpRequest page;
  page.method = "GET";
  page.target = "/";
  const auto r = f.api->handle(page);  // no token: the page holds no fleet data
  REQUIRE(r.status == 200);
  CHECK(r.contentType == "text/html; charset=utf-8");
  CHECK(r.body.starts_with("<!DOCTYPE html>"));
  const std::string csp = header(r, "Content-Security-Policy");
  CHECK(csp.starts_with("default-src 'none'; "));
  CHECK(csp.find("connect-src 'self'") != std::string::npos);
  CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  // The CSP allows exactly the page's own script and style.
  CHECK(csp.find("script-src " + cspSourceOf(between(r.body, "<script>", "</script>"))) !=
        std::string::npos);
  CHECK(csp.find("style-src " + cspSourceOf(between(r.body, "<style>", "</style>"))) !=
        std::string::npos);
  CHECK(header(r, "X-Content-Type-Options") == "nosniff");
  CHECK(header(r, "Referrer-Policy") == "no-referrer");
  // Self-contained: nothing loaded from elsewhere, and no API data written as markup.
  CHECK(r.body.find("http://") == std::string::npos);
  CHECK(r.body.find("https://") == std::string::npos);
  CHECK(r.body.find(" src=") == std::string::npos);
  CHECK(r.body.find("innerHTML") == std::string::npos);
  CHECK(r.body.find("sessionStorage") != std::string::npos);

  // Revalidation by ETag.
  page.ifNoneMatch = header(r, "ETag");
  REQUIRE(!page.ifNoneMatch.empty());
  const auto again = f.api->handle(page);
  CHECK(again.status == 304);
  CHECK(again.body.empty());

  // Every API path the script names answers (with a token) on this fleet.
  std::vector<std::string> paths;
  for (size_t at = r.body.find("'/api/v1/"); at != std::string::npos;
       at = r.body.find("'/api/v1/", at + 1)) {
    std::string path = r.body.substr(at + 1, r.body.find('\'', at + 1) - at - 1);
    if (const size_t id = path.find("{id}"); id != std::string::npos) path.replace(id, 4, "web1");
    paths.push_back(path);
  }
  CHECK(paths.size() >= 7);
  for (const auto& p : paths) {
    INFO("path: " << p);
    if (p.ends_with("/ack") || p.ends_with("/accept") || p.ends_with("/waive")) {
      // An action: it exists, and this fixture's token may only read.
      HttpRequest post;
      post.method = "POST";
      post.target = p;
      post.authorization = "Bearer " + f.token;
      CHECK(f.api->handle(post).status == 403);
    } else {
      CHECK(f.get(p).status == 200);
    }
  }
  for (const char* expected :
       {"/api/v1/hosts/web1/gaps", "/api/v1/alerts", "/api/v1/alerts/web1/ack",
        "/api/v1/drift/accept", "/api/v1/drift/waive"}) {
    INFO("path: " << expected);
    CHECK(std::find(paths.begin(), paths.end(), expected) != paths.end());
  }

  page.method = "POST";
  CHECK(f.api->handle(page).status == 405);
}

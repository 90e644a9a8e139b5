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

#if DRIFTWATCH_FUZZ_TARGET == 9
#include "aggregator/api/query_string.h"
#endif

#if DRIFTWATCH_FUZZ_TARGET == 10
#include "aggregator/api/request_body.h"
#endif

#if DRIFTWATCH_FUZZ_TARGET == 7
#include <filesystem>
#include <memory>
#include <optional>

#include <stdlib.h>

#include "aggregator/audit/audit_log.h"
#include "aggregator/report/report_processor.h"
#include "aggregator/store/fleet_store.h"
#include "common/crypto/signing.h"
#include "common/wire/codec.h"
#endif

#if DRIFTWATCH_FUZZ_TARGET == 8
#include <optional>

#include "agent/uplink/rule_bundle_check.h"
#include "common/crypto/signing.h"
#include "common/policy/policy_union.h"
#include "common/wire/codec.h"
#endif

namespace {

std::string_view view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// An invariant failed: report it and crash so that the fuzzer keeps the input.
[[noreturn, maybe_unused]] void broken(const char* what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

#if DRIFTWATCH_FUZZ_TARGET == 7
// A real fleet store (SQLite in a temporary directory) with one enrolled host whose key the
// fuzzer can sign with, and the report processor over it.
struct ReportFixture {
  static constexpr const char* kHost = "fuzz-host-000001";
  std::string dir;
  std::optional<driftwatch::aggregator::FleetStore> store;
  std::optional<driftwatch::aggregator::AuditLog> audit;
  std::optional<driftwatch::crypto::Ed25519Key> key;
  std::optional<driftwatch::aggregator::ReportProcessor> processor;

  ReportFixture() {
    using namespace driftwatch;
    char tmpl[] = "/tmp/driftwatch-fuzz-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) broken("mkdtemp");
    dir = tmpl;
    auto s = aggregator::FleetStore::open(dir);
    auto k = crypto::Ed25519Key::generate();
    if (!s.ok() || !k.ok()) broken("fixture");
    store.emplace(std::move(*s));
    key.emplace(std::move(*k));
    aggregator::HostRecord host;
    host.id = kHost;
    host.name = "fuzz";
    host.publicKey = key->publicKey();
    host.enrolledAt = 1;
    if (!store->addHost(host).ok()) broken("add host");
    auto a = aggregator::AuditLog::open(*store, "");
    if (!a.ok()) broken("audit");
    audit.emplace(std::move(*a));
    processor.emplace(*store, *audit);
  }
  ~ReportFixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};
#endif

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
#elif DRIFTWATCH_FUZZ_TARGET == 7
  // Reports as the aggregator receives them from an enrolled host's TLS connection. The first
  // byte picks how far in the input gets: 0, the request body as is (envelope, signature);
  // 1, batch bytes signed with the host's key (decoding, chain, snapshot staging, the store).
  // Every answer must be a well-formed ReportResponse with a matching HTTP status.
  static ReportFixture fixture;
  if (input.empty()) return 0;
  aggregator::HttpRequest request;
  request.method = "POST";
  request.target = "/v1/report";
  request.peer = {"127.0.0.1:1", true, ReportFixture::kHost, fixture.key->publicKey()};
  const std::string_view rest = input.substr(1);
  if (input[0] % 2 == 0) {
    request.body = std::string(rest);
  } else {
    request.body = wire::encode(wire::SignedBatch{std::string(rest), fixture.key->sign(rest)});
  }
  const aggregator::HttpResponse response = fixture.processor->handle(request);
  auto decoded = wire::decodeReportResponse(response.body);
  if (!decoded.ok()) broken("the answer is not a ReportResponse");
  const bool refused = decoded->status == wire::ReportStatus::kRefused;
  if (refused == (response.status == 200)) broken("HTTP status and report status disagree");
  // A batch that decodes survives a round trip through the codec unchanged.
  auto batch = wire::decodeBatch(rest);
  if (batch.ok()) {
    auto again = wire::decodeBatch(wire::encode(*batch));
    if (!again.ok() || again->seq != batch->seq || again->deltas.size() != batch->deltas.size())
      broken("batch round trip");
  }
#elif DRIFTWATCH_FUZZ_TARGET == 8
  // Rule bundles as an agent receives them. The first byte picks how far in the input gets: 0, a
  // RulesResponse as the aggregator would send it (envelope, then a signature that must fail);
  // 1, bundle bytes signed with the rules key the agent holds (decoding, host and revision
  // checks, then the policies parsed and united as the daemon would).
  static const std::optional<crypto::Ed25519Key> key = [] {
    auto k = crypto::Ed25519Key::generate();
    if (!k.ok()) broken("key");
    return std::optional<crypto::Ed25519Key>(std::move(k).value());
  }();
  if (input.empty()) return 0;
  const std::string rest(input.substr(1));
  if (input[0] % 2 == 0) {
    auto answer = wire::decodeRulesResponse(rest);
    if (answer.ok() &&
        agent::verifyRuleBundle(answer->bundle, answer->signature, key->publicKey(), "fuzz-host", 0)
            .ok())
      broken("a bundle not signed with the rules key was accepted");
    return 0;
  }
  auto verified = agent::verifyRuleBundle(rest, key->sign(rest), key->publicKey(), "fuzz-host", 2);
  if (!verified.ok()) return 0;
  if (verified->bundle.hostId != "fuzz-host" || verified->bundle.revision < 2)
    broken("a bundle for another host or an older revision was accepted");
  auto again = wire::decodeRuleBundle(wire::encode(verified->bundle));
  if (!again.ok() || again->policies.size() != verified->bundle.policies.size())
    broken("bundle round trip");
  std::vector<policy::PolicySource> sources;
  for (const auto& p : verified->bundle.policies) {
    auto parsed = policy::parsePolicy(p.text, "fleet:" + p.name);
    if (!parsed.ok()) return 0;
    policy::PolicySource source{std::move(parsed).value(), std::nullopt};
    if (p.baseline) {
      auto b = baseline::parseBaseline(*p.baseline, "fleet:" + p.name + " (baseline)");
      if (!b.ok()) return 0;
      source.baseline = std::move(b).value();
    }
    sources.push_back(std::move(source));
  }
  (void)policy::unitePolicies(std::move(sources), "fleet");
#elif DRIFTWATCH_FUZZ_TARGET == 9
  // Admin API request targets: what parses holds no control byte, and what a client encodes
  // decodes back to itself.
  auto target = aggregator::parseTarget(input);
  if (target.ok()) {
    for (const auto& segment : target->segments) {
      for (const char c : segment) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) broken("control byte in a segment");
      }
    }
    auto params = aggregator::QueryParameters::parse(target->query, {"host", "limit", "label"});
    if (params.ok()) (void)params->number("limit", 100, 1, 1'000'000);
  }
  auto back = aggregator::percentDecode(aggregator::percentEncode(input), false);
  bool control = false;
  for (const char c : input)
    control = control || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  if (back.ok() == control || (back.ok() && *back != input)) broken("percent-encoding round trip");
#elif DRIFTWATCH_FUZZ_TARGET == 10
  // Admin API action bodies: what parses holds only the allowed fields, each within its limit,
  // and the same bytes parse the same way again.
  constexpr std::string_view kFields[] = {"host", "resource", "reason", "by", "until", "for"};
  auto body = aggregator::RequestBody::parse("application/json", input,
                                             {"host", "resource", "reason", "by", "until", "for"});
  if (body.ok()) {
    size_t present = 0;
    for (const auto field : kFields) {
      const auto value = body->get(field);
      if (!value) continue;
      ++present;
      if (value->size() > aggregator::kMaxFieldBytes) broken("a field over its limit");
    }
    if (present == 0 && !input.empty() && input.find(':') != std::string_view::npos)
      broken("fields parsed but none kept");
  }
  auto again = aggregator::RequestBody::parse("application/json", input,
                                              {"host", "resource", "reason", "by", "until", "for"});
  if (again.ok() != body.ok()) broken("parsing is not deterministic");
  auto upload = aggregator::parsePolicyUpload("application/json", input, "fuzz");
  if (upload.ok()) {
    if (upload->policies.empty() || upload->policies.size() > aggregator::kMaxUploadedPolicies)
      broken("an upload outside its bounds");
    for (const auto& p : upload->policies) {
      if (p.path.empty()) broken("a policy without a path");
    }
    if (upload->by.empty()) broken("an upload by nobody");
  }
  auto removal = aggregator::parsePolicyRemoval("application/json", input, "fuzz");
  if (removal.ok() && removal->names.empty()) broken("a removal of nothing");
#else
#error "DRIFTWATCH_FUZZ_TARGET must name a target"
#endif
  return 0;
}

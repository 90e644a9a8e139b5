#include "common/wire/codec.h"

#include "common/base/escape.h"
#include "common/model/resource.h"
#include "driftwatch/v1/agent.pb.h"

namespace driftwatch::wire {
namespace {

Error malformed(std::string_view what, std::string_view field = {}) {
  return makeError(ErrorCode::kInvalidInput, std::string(what),
                   field.empty() ? "" : std::string(field));
}

template <typename Message>
Result<Message> parse(std::string_view bytes, std::string_view name) {
  if (bytes.size() > kMaxBodyBytes)
    return malformed("larger than " + std::to_string(kMaxBodyBytes) + " bytes", name);
  Message m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return malformed("not a valid " + std::string(name) + " message", name);
  }
  return m;
}

template <typename Message>
std::string serialize(const Message& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

bool validDigest(const std::string& d, bool allowEmpty) {
  return d.size() == 32 || (allowEmpty && d.empty());
}

// A resource state is tab-separated fields ("present\ttype=file\tmode=0644"), each escaped
// text (escape.h): nothing else may reach the store or a terminal.
bool isStateText(std::string_view state) {
  if (state.empty()) return false;
  size_t start = 0;
  while (true) {
    const size_t tab = state.find('\t', start);
    const auto field = state.substr(start, tab == std::string_view::npos ? tab : tab - start);
    if (field.empty() || !isDisplaySafe(field)) return false;
    if (tab == std::string_view::npos) return true;
    start = tab + 1;
  }
}

}  // namespace

void silenceParserLogs() {
  google::protobuf::SetLogHandler(nullptr);
}

std::string encode(const EnrollStatement& m) {
  v1::EnrollStatement p;
  p.set_token(m.token);
  p.set_public_key(m.publicKey);
  p.set_hostname(m.hostname);
  p.set_agent_version(m.agentVersion);
  p.set_requested_at(m.requestedAt);
  return serialize(p);
}

std::string encode(const EnrollRequest& m) {
  v1::EnrollRequest p;
  p.set_statement(m.statement);
  p.set_signature(m.signature);
  return serialize(p);
}

std::string encode(const EnrollResponse& m) {
  v1::EnrollResponse p;
  p.set_host_id(m.hostId);
  p.set_client_certificate_pem(m.clientCertPem);
  p.set_ca_certificate_pem(m.caCertPem);
  for (const auto& [k, v] : m.labels)
    (*p.mutable_labels())[k] = v;
  p.set_rules_public_key(m.rulesPublicKey);
  return serialize(p);
}

std::string encode(const Batch& m) {
  v1::Batch p;
  p.set_host_id(m.hostId);
  p.set_seq(m.seq);
  p.set_prev_digest(m.prevDigest);
  p.set_state_digest(m.stateDigest);
  if (m.snapshot) {
    p.mutable_snapshot()->set_index(m.snapshot->index);
    p.mutable_snapshot()->set_last(m.snapshot->last);
  }
  p.set_agent_version(m.agentVersion);
  p.set_sent_at(m.sentAt);
  for (const auto& d : m.deltas) {
    auto* out = p.add_deltas();
    out->set_resource(d.resource);
    out->set_state(d.state);
    out->set_observed_at(d.observedAt);
  }
  for (const auto& c : m.coverage) {
    auto* out = p.add_coverage();
    out->set_gap(c.gap);
    out->set_payload(c.payload);
    out->set_at(c.at);
  }
  return serialize(p);
}

std::string encode(const SignedBatch& m) {
  v1::SignedBatch p;
  p.set_batch(m.batch);
  p.set_signature(m.signature);
  return serialize(p);
}

std::string encode(const ReportResponse& m) {
  v1::ReportResponse p;
  p.set_status(m.status == ReportStatus::kAccepted ? v1::ReportResponse::ACCEPTED
               : m.status == ReportStatus::kResync ? v1::ReportResponse::RESYNC
                                                   : v1::ReportResponse::REFUSED);
  p.set_acked_seq(m.ackedSeq);
  p.set_acked_digest(m.ackedDigest);
  p.set_reason(m.reason);
  p.set_server_time(m.serverTime);
  return serialize(p);
}

std::string encode(const RulesRequest& m) {
  v1::RulesRequest p;
  p.set_host_id(m.hostId);
  p.set_have_revision(m.haveRevision);
  return serialize(p);
}

std::string encode(const RuleBundle& m) {
  v1::RuleBundle p;
  p.set_host_id(m.hostId);
  p.set_revision(m.revision);
  p.set_issued_at(m.issuedAt);
  for (const auto& policy : m.policies) {
    auto* out = p.add_policies();
    out->set_name(policy.name);
    out->set_version(policy.version);
    out->set_text(policy.text);
    out->set_has_baseline(policy.baseline.has_value());
    if (policy.baseline) out->set_baseline(*policy.baseline);
  }
  return serialize(p);
}

std::string encode(const RulesResponse& m) {
  v1::RulesResponse p;
  p.set_status(m.status == RulesStatus::kBundle ? v1::RulesResponse::BUNDLE
                                                : v1::RulesResponse::UNCHANGED);
  p.set_bundle(m.bundle);
  p.set_signature(m.signature);
  p.set_revision(m.revision);
  return serialize(p);
}

Result<EnrollStatement> decodeEnrollStatement(std::string_view bytes) {
  auto p = parse<v1::EnrollStatement>(bytes, "EnrollStatement");
  if (!p.ok()) return p.error();
  if (p->public_key().size() != 32) return malformed("must be a 32-byte Ed25519 key", "public_key");
  if (p->token().empty() || p->token().size() > 256)
    return malformed("missing or too long", "token");
  if (p->hostname().size() > 256) return malformed("too long", "hostname");
  if (p->agent_version().size() > 64) return malformed("too long", "agent_version");
  return EnrollStatement{p->token(), p->public_key(), p->hostname(), p->agent_version(),
                         p->requested_at()};
}

Result<EnrollRequest> decodeEnrollRequest(std::string_view bytes) {
  if (bytes.size() > kMaxEnrollBytes)
    return malformed("an enrollment request is larger than 64 KiB");
  auto p = parse<v1::EnrollRequest>(bytes, "EnrollRequest");
  if (!p.ok()) return p.error();
  if (p->signature().size() != 64)
    return malformed("must be a 64-byte Ed25519 signature", "signature");
  return EnrollRequest{p->statement(), p->signature()};
}

Result<EnrollResponse> decodeEnrollResponse(std::string_view bytes) {
  auto p = parse<v1::EnrollResponse>(bytes, "EnrollResponse");
  if (!p.ok()) return p.error();
  if (p->host_id().empty()) return malformed("missing", "host_id");
  EnrollResponse r{p->host_id(),
                   p->client_certificate_pem(),
                   p->ca_certificate_pem(),
                   {},
                   p->rules_public_key()};
  for (const auto& [k, v] : p->labels())
    r.labels[k] = v;
  if (!r.rulesPublicKey.empty() && r.rulesPublicKey.size() != 32)
    return malformed("must be a 32-byte Ed25519 key", "rules_public_key");
  return r;
}

Result<SignedBatch> decodeSignedBatch(std::string_view bytes) {
  auto p = parse<v1::SignedBatch>(bytes, "SignedBatch");
  if (!p.ok()) return p.error();
  if (p->batch().empty()) return malformed("empty", "batch");
  if (p->signature().size() != 64)
    return malformed("must be a 64-byte Ed25519 signature", "signature");
  return SignedBatch{p->batch(), p->signature()};
}

Result<Batch> decodeBatch(std::string_view bytes) {
  auto p = parse<v1::Batch>(bytes, "Batch");
  if (!p.ok()) return p.error();
  Batch b;
  b.hostId = p->host_id();
  b.seq = p->seq();
  b.prevDigest = p->prev_digest();
  b.stateDigest = p->state_digest();
  if (p->has_snapshot()) b.snapshot = SnapshotPart{p->snapshot().index(), p->snapshot().last()};
  b.agentVersion = p->agent_version();
  b.sentAt = p->sent_at();
  if (b.hostId.empty() || b.hostId.size() > 128) return malformed("missing or too long", "host_id");
  if (b.seq == 0) return malformed("must start at 1", "seq");
  if (!validDigest(b.prevDigest, b.seq == 1))
    return malformed("must be a 32-byte SHA-256", "prev_digest");
  if (!validDigest(b.stateDigest, false))
    return malformed("must be a 32-byte digest", "state_digest");
  if (static_cast<size_t>(p->deltas_size()) > kMaxDeltas)
    return malformed("too many deltas in one batch", "deltas");
  if (b.agentVersion.size() > 64) return malformed("too long", "agent_version");
  b.deltas.reserve(static_cast<size_t>(p->deltas_size()));
  for (int i = 0; i < p->deltas_size(); ++i) {
    const auto& d = p->deltas(i);
    const std::string field = "deltas[" + std::to_string(i) + "]";
    if (d.resource().size() > kMaxFieldBytes || d.state().size() > kMaxFieldBytes) {
      return malformed("resource or state larger than 64 KiB", field);
    }
    auto id = model::ResourceId::parse(d.resource());
    if (!id.ok() || id->str() != d.resource())
      return malformed("not a resource id in canonical form", field + ".resource");
    if (!isStateText(d.state()))
      return malformed("state is not tab-separated escaped fields", field + ".state");
    b.deltas.push_back({d.resource(), d.state(), d.observed_at()});
  }
  if (static_cast<size_t>(p->coverage_size()) > kMaxCoverage)
    return malformed("too many coverage events in one batch", "coverage");
  for (int i = 0; i < p->coverage_size(); ++i) {
    const auto& c = p->coverage(i);
    if (c.gap().size() > 64 || c.payload().size() > kMaxFieldBytes || !isDisplaySafe(c.payload())) {
      return malformed("malformed coverage event", "coverage[" + std::to_string(i) + "]");
    }
    b.coverage.push_back({c.gap(), c.payload(), c.at()});
  }
  return b;
}

Result<ReportResponse> decodeReportResponse(std::string_view bytes) {
  auto p = parse<v1::ReportResponse>(bytes, "ReportResponse");
  if (!p.ok()) return p.error();
  ReportResponse r;
  switch (p->status()) {
    case v1::ReportResponse::ACCEPTED:
      r.status = ReportStatus::kAccepted;
      break;
    case v1::ReportResponse::RESYNC:
      r.status = ReportStatus::kResync;
      break;
    case v1::ReportResponse::REFUSED:
      r.status = ReportStatus::kRefused;
      break;
    default:
      return malformed("unknown status", "status");
  }
  r.ackedSeq = p->acked_seq();
  r.ackedDigest = p->acked_digest();
  r.reason = p->reason();
  r.serverTime = p->server_time();
  if (!r.ackedDigest.empty() && r.ackedDigest.size() != 32)
    return malformed("must be 32 bytes", "acked_digest");
  return r;
}

Result<RulesRequest> decodeRulesRequest(std::string_view bytes) {
  if (bytes.size() > kMaxEnrollBytes) return malformed("a rules request is larger than 64 KiB");
  auto p = parse<v1::RulesRequest>(bytes, "RulesRequest");
  if (!p.ok()) return p.error();
  if (p->host_id().empty() || p->host_id().size() > 128)
    return malformed("missing or too long", "host_id");
  return RulesRequest{p->host_id(), p->have_revision()};
}

Result<RulesResponse> decodeRulesResponse(std::string_view bytes) {
  if (bytes.size() > kMaxRulesReplyBytes) return malformed("a rules answer is larger than 16 MiB");
  auto p = parse<v1::RulesResponse>(bytes, "RulesResponse");
  if (!p.ok()) return p.error();
  RulesResponse r;
  switch (p->status()) {
    case v1::RulesResponse::BUNDLE:
      r.status = RulesStatus::kBundle;
      if (p->bundle().empty()) return malformed("empty", "bundle");
      if (p->signature().size() != 64)
        return malformed("must be a 64-byte Ed25519 signature", "signature");
      break;
    case v1::RulesResponse::UNCHANGED:
      r.status = RulesStatus::kUnchanged;
      break;
    default:
      return malformed("unknown status", "status");
  }
  r.bundle = p->bundle();
  r.signature = p->signature();
  r.revision = p->revision();
  return r;
}

Result<RuleBundle> decodeRuleBundle(std::string_view bytes) {
  auto p = parse<v1::RuleBundle>(bytes, "RuleBundle");
  if (!p.ok()) return p.error();
  RuleBundle b;
  b.hostId = p->host_id();
  b.revision = p->revision();
  b.issuedAt = p->issued_at();
  if (b.hostId.empty() || b.hostId.size() > 128 || !isDisplaySafe(b.hostId))
    return malformed("missing, too long or not printable", "host_id");
  if (b.revision == 0) return malformed("must be at least 1", "revision");
  if (static_cast<size_t>(p->policies_size()) > kMaxBundledPolicies)
    return malformed("too many policies in one bundle", "policies");
  for (int i = 0; i < p->policies_size(); ++i) {
    const auto& in = p->policies(i);
    const std::string field = "policies[" + std::to_string(i) + "]";
    if (in.name().empty() || in.name().size() > 256 || !isDisplaySafe(in.name()))
      return malformed("missing, too long or not printable", field + ".name");
    if (in.version() < 1) return malformed("must be at least 1", field + ".version");
    if (!in.has_baseline() && !in.baseline().empty())
      return malformed("a baseline without has_baseline", field + ".baseline");
    BundledPolicy out{in.name(), in.version(), in.text(), std::nullopt};
    if (in.has_baseline()) out.baseline = in.baseline();
    b.policies.push_back(std::move(out));
  }
  return b;
}

}  // namespace driftwatch::wire

#pragma once
// The wire codec: driftwatch's typed messages to and from the Protobuf wire format
// (proto/driftwatch/v1/agent.proto). Decoding treats every byte as hostile: size limits first,
// then structure, then the meaning of each field, with an error that names the field.
// Pure functions; safe from any thread.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace driftwatch::wire {

inline constexpr size_t kMaxBodyBytes = 16u << 20;    // a request body larger than this is refused
inline constexpr size_t kMaxDeltas = 200'000;         // per batch
inline constexpr size_t kMaxCoverage = 10'000;        // coverage events per batch
inline constexpr size_t kMaxEnrollBytes = 64u << 10;  // an enrollment request
inline constexpr size_t kMaxFieldBytes = 64u << 10;   // one resource id or state

struct EnrollStatement {
  std::string token;
  std::string publicKey;  // 32 bytes
  std::string hostname;
  std::string agentVersion;
  int64_t requestedAt = 0;
};

struct EnrollRequest {
  std::string statement;  // serialized EnrollStatement, as signed
  std::string signature;
};

struct EnrollResponse {
  std::string hostId;
  std::string clientCertPem;
  std::string caCertPem;
  std::map<std::string, std::string> labels;
  std::string rulesPublicKey;  // 32 bytes; empty from an aggregator without fleet rules
};

struct Delta {
  std::string resource;
  std::string state;
  int64_t observedAt = 0;
};

struct CoverageEvent {
  std::string gap;
  std::string payload;
  int64_t at = 0;
};

struct SnapshotPart {
  uint32_t index = 0;
  bool last = false;
  bool operator==(const SnapshotPart&) const = default;
};

struct Batch {
  std::string hostId;
  uint64_t seq = 0;
  std::string prevDigest;                // 32 bytes, empty for seq 1
  std::string stateDigest;               // 32 bytes
  std::optional<SnapshotPart> snapshot;  // absent: a delta batch
  std::vector<Delta> deltas;
  std::vector<CoverageEvent> coverage;
  std::string agentVersion;
  int64_t sentAt = 0;
};

struct SignedBatch {
  std::string batch;  // the exact serialized Batch
  std::string signature;
};

enum class ReportStatus { kAccepted, kResync, kRefused };

struct ReportResponse {
  ReportStatus status = ReportStatus::kRefused;
  uint64_t ackedSeq = 0;
  std::string ackedDigest;
  std::string reason;
  int64_t serverTime = 0;
};

struct RulesRequest {
  std::string hostId;
  uint64_t haveRevision = 0;
};

struct BundledPolicy {
  std::string name;
  int64_t version = 0;
  std::string text;
  std::optional<std::string> baseline;
};

struct RuleBundle {
  std::string hostId;
  uint64_t revision = 0;
  int64_t issuedAt = 0;  // unix ms
  std::vector<BundledPolicy> policies;
};

enum class RulesStatus { kBundle, kUnchanged };

struct RulesResponse {
  RulesStatus status = RulesStatus::kUnchanged;
  std::string bundle;  // the exact serialized RuleBundle (kBundle)
  std::string signature;
  uint64_t revision = 0;
};

inline constexpr size_t kMaxRulesReplyBytes = 16u << 20;  // a rules answer, bundle included
inline constexpr size_t kMaxBundledPolicies = 1000;

// Protobuf logs a line on stderr for some malformed input (invalid UTF-8 in a string field):
// a peer could fill the log at will. Decoding errors are reported as values instead; call once
// at start in a process that decodes network input.
void silenceParserLogs();

std::string encode(const EnrollStatement& m);
std::string encode(const EnrollRequest& m);
std::string encode(const EnrollResponse& m);
std::string encode(const Batch& m);
std::string encode(const SignedBatch& m);
std::string encode(const ReportResponse& m);
std::string encode(const RulesRequest& m);
std::string encode(const RuleBundle& m);
std::string encode(const RulesResponse& m);

Result<EnrollStatement> decodeEnrollStatement(std::string_view bytes);
Result<EnrollRequest> decodeEnrollRequest(std::string_view bytes);
Result<EnrollResponse> decodeEnrollResponse(std::string_view bytes);
// Only the envelope: the batch bytes stay opaque until the signature over them is checked.
Result<SignedBatch> decodeSignedBatch(std::string_view bytes);
// Checks every field: resource ids parse, states and ids are bounded, digests have 32 bytes.
Result<Batch> decodeBatch(std::string_view bytes);
Result<ReportResponse> decodeReportResponse(std::string_view bytes);
Result<RulesRequest> decodeRulesRequest(std::string_view bytes);
// Only the envelope: the bundle bytes stay opaque until the signature over them is checked.
Result<RulesResponse> decodeRulesResponse(std::string_view bytes);
// Checks every field: names and host id bounded and printable, versions positive.
Result<RuleBundle> decodeRuleBundle(std::string_view bytes);

}  // namespace driftwatch::wire

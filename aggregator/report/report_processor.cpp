#include "aggregator/report/report_processor.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <utility>

#include "common/base/escape.h"
#include "common/crypto/sha256.h"
#include "common/crypto/signing.h"
#include "common/crypto/state_digest.h"
#include "common/wire/codec.h"

namespace driftwatch::aggregator {
namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool isGone(std::string_view state) {
  return state == "absent" || state == "unobserved";
}

HttpResponse reply(int status, const wire::ReportResponse& r) {
  return HttpResponse{status, kProtobufType, wire::encode(r)};
}

HttpResponse refused(int status, std::string reason) {
  wire::ReportResponse r;
  r.status = wire::ReportStatus::kRefused;
  r.reason = std::move(reason);
  r.serverTime = nowMs();
  return reply(status, r);
}

HttpResponse answer(wire::ReportStatus status, const HostRecord& host, std::string reason = {}) {
  wire::ReportResponse r;
  r.status = status;
  r.ackedSeq = host.lastSeq;
  r.ackedDigest = host.lastDigest;
  r.reason = std::move(reason);
  r.serverTime = nowMs();
  return reply(200, r);
}

std::string digestHex(std::string_view bytes) {
  if (bytes.size() != 32) return "none";
  Sha256Digest d{};
  std::copy(bytes.begin(), bytes.end(), d.begin());
  return toHex(d);
}

// Applies one delta to the stored state and its digest.
Status applyDelta(const FleetStore& store, const std::string& host, const wire::Delta& d,
                  uint64_t seq, int64_t now, crypto::StateDigest& digest) {
  auto old = store.resource(host, d.resource);
  if (!old.ok()) return old.error();
  if (*old) digest.remove(d.resource, (*old)->state);
  if (isGone(d.state)) {
    // Gone and never here (the agent compacted a short-lived file): nothing changed.
    if (!*old) return {};
    if (auto s = store.removeResource(host, d.resource); !s.ok()) return s;
  } else {
    digest.add(d.resource, d.state);
    if (auto s = store.putResource(host, d.resource, d.state, d.observedAt, seq); !s.ok()) return s;
  }
  return store.appendHistory(host, d.resource, d.state, d.observedAt, seq, now);
}

}  // namespace

HttpResponse ReportProcessor::handle(const HttpRequest& request) {
  const HttpRequest* one[] = {&request};
  return std::move(handleMany(one).front());
}

std::vector<HttpResponse> ReportProcessor::handleMany(
    std::span<const HttpRequest* const> requests) {
  std::vector<HttpResponse> out;
  out.reserve(requests.size());
  auto group = store_.begin();
  if (!group.ok()) {
    std::fprintf(stderr, "driftwatch-aggregator: error: %s\n", group.error().describe().c_str());
    for (size_t i = 0; i < requests.size(); ++i)
      out.push_back(refused(503, "the fleet store is unavailable"));
    return out;
  }
  for (const HttpRequest* request : requests) {
    // One report's exception (memory for a huge snapshot) fails that report alone: its
    // savepoint is undone as the exception leaves process().
    try {
      out.push_back(process(*request));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "driftwatch-aggregator: internal error: %s\n", e.what());
      out.push_back(refused(500, "internal error; retry later"));
    }
  }
  // One flush for the whole group. Until it returns, no answer has left: an ACCEPTED is never
  // sent for a batch a power cut could still take away.
  if (auto s = group->commit(); !s.ok()) {
    std::fprintf(stderr, "driftwatch-aggregator: error: %s\n", s.error().describe().c_str());
    for (auto& response : out)
      response = refused(503, "the fleet store failed; retry later");
    return out;
  }
  if (committed_) committed_();
  return out;
}

HttpResponse ReportProcessor::process(const HttpRequest& request) {
  const std::string& peer = request.peer.address;
  if (!request.peer.hasCert) {
    audit_.recordUnauthenticated("report_refused", peer, "no client certificate");
    return refused(401, "a client certificate is required: enroll the agent first");
  }
  const std::string& certHost = request.peer.certHostId;
  auto host = store_.host(certHost);
  if (!host.ok()) return refused(503, "the fleet store is unavailable");
  if (!*host) {
    audit_.recordLimited("report_refused", certHost, peer, "certificate for an unknown host");
    return refused(403, "this certificate's host is not enrolled here");
  }
  HostRecord h = std::move(**host);
  if (h.revokedAt) {
    audit_.recordLimited("report_refused", h.id, peer, "host revoked");
    return refused(403, "host " + h.id + " has been revoked; enroll it again to report");
  }
  if (request.peer.certPublicKey != h.publicKey) {
    audit_.recordLimited("report_refused", h.id, peer,
                         "certificate key differs from the enrolled key");
    return refused(403, "this certificate does not carry the host's enrolled key");
  }

  auto signedBatch = wire::decodeSignedBatch(request.body);
  if (!signedBatch.ok()) {
    audit_.recordLimited("report_refused", h.id, peer,
                         "malformed: " + signedBatch.error().describe());
    return refused(400, "malformed report: " + signedBatch.error().describe());
  }
  if (!crypto::verifyEd25519(h.publicKey, signedBatch->batch, signedBatch->signature)) {
    audit_.recordLimited("report_refused", h.id, peer, "bad signature");
    return refused(403, "the batch signature does not verify with the host's enrolled key");
  }
  auto batch = wire::decodeBatch(signedBatch->batch);
  if (!batch.ok()) {
    audit_.recordLimited("report_refused", h.id, peer,
                         "malformed batch: " + batch.error().describe());
    return refused(400, "malformed batch: " + batch.error().describe());
  }
  if (batch->hostId != h.id) {
    audit_.recordLimited("report_refused", h.id, peer,
                         "batch for another host: " + displaySafe(batch->hostId));
    return refused(403, "the batch is for another host");
  }

  const auto digest = Sha256::of(signedBatch->batch);
  const std::string digestBytes(digest.begin(), digest.end());
  const int64_t now = nowMs();
  h.lastSeen = now;
  h.lastAddress = peer;
  const std::string seqText = "seq " + std::to_string(batch->seq);

  if (batch->seq <= h.lastSeq) {
    auto stored = store_.batchDigest(h.id, batch->seq);
    if (!stored.ok()) return refused(503, "the fleet store is unavailable");
    (void)store_.touchHost(h.id, now, peer);
    if (*stored && **stored == digestBytes) {
      audit_.record("replay_ignored", h.id, peer,
                    seqText + " was already applied; acknowledged without applying it again");
      return answer(wire::ReportStatus::kAccepted, h);
    }
    audit_.record("resync_requested", h.id, peer,
                  seqText + " differs from the stored batch with that number (a fork)");
    return answer(wire::ReportStatus::kResync, h, seqText + " conflicts with the stored chain");
  }
  if (batch->seq != h.lastSeq + 1 || batch->prevDigest != h.lastDigest) {
    (void)store_.touchHost(h.id, now, peer);
    const std::string why = batch->seq != h.lastSeq + 1
                                ? seqText + " after " + std::to_string(h.lastSeq) + " (a gap)"
                                : seqText + " does not continue the chain (previous digest)";
    audit_.record("resync_requested", h.id, peer, why);
    return answer(wire::ReportStatus::kResync, h, why);
  }

  auto began = store_.savepoint();
  if (!began.ok()) return refused(503, "the fleet store is unavailable");
  std::optional<sqlite::Savepoint> tx(std::move(began).value());  // reset(): undo this report
  crypto::StateDigest stateDigest = crypto::StateDigest::fromBytes(h.stateDigest);
  std::string mismatch;
  std::vector<std::string> touched;     // by a delta batch: what the drift engine judges again
  std::vector<std::string> unobserved;  // of those, what the agent stopped observing
  std::map<std::string, std::string> lastState;  // a delta batch's last state per resource
  bool replaced = false;  // by a snapshot's last part: everything is judged again
  const auto failed = [&](const Error& e) {
    std::fprintf(stderr, "driftwatch-aggregator: error: %s\n", e.describe().c_str());
    return refused(503, "the fleet store failed; retry later");
  };

  if (batch->snapshot) {
    const auto& part = *batch->snapshot;
    if (part.index == 0) {
      if (auto s = store_.clearStaging(h.id); !s.ok()) return failed(s.error());
      h.snapshotNext = 0;
    }
    if (!h.snapshotNext || *h.snapshotNext != static_cast<int64_t>(part.index)) {
      tx.reset();
      (void)store_.touchHost(h.id, now, peer);
      audit_.record("resync_requested", h.id, peer, seqText + ": snapshot part out of order");
      return answer(wire::ReportStatus::kResync, h, "snapshot part out of order");
    }
    for (const auto& d : batch->deltas) {
      if (auto s = store_.stage(h.id, d.resource, d.state, d.observedAt); !s.ok())
        return failed(s.error());
    }
    h.snapshotNext = *h.snapshotNext + 1;
    if (part.last) {
      // The staged set becomes the host's state: changed and new resources get a history
      // row, resources the snapshot no longer has leave as "absent".
      crypto::StateDigest staged;
      std::vector<std::pair<std::string, StoredState>> current;
      if (auto s = store_.forEachResource(
              h.id,
              [&](const std::string& r, const StoredState& st) { current.emplace_back(r, st); });
          !s.ok())
        return failed(s.error());
      std::vector<std::pair<std::string, StoredState>> next;
      if (auto s = store_.forEachStaged(
              h.id, [&](const std::string& r, const StoredState& st) { next.emplace_back(r, st); });
          !s.ok())
        return failed(s.error());
      size_t i = 0;
      for (const auto& [resource, st] : next) {
        staged.add(resource, st.state);
        while (i < current.size() && current[i].first < resource) {
          if (auto s = store_.removeResource(h.id, current[i].first); !s.ok())
            return failed(s.error());
          if (auto s = store_.appendHistory(h.id, current[i].first, "absent", now, batch->seq, now);
              !s.ok())
            return failed(s.error());
          ++i;
        }
        const bool same = i < current.size() && current[i].first == resource &&
                          current[i].second.state == st.state;
        if (i < current.size() && current[i].first == resource) ++i;
        if (same) continue;
        if (auto s = store_.putResource(h.id, resource, st.state, st.observedAt, batch->seq);
            !s.ok())
          return failed(s.error());
        if (auto s = store_.appendHistory(h.id, resource, st.state, st.observedAt, batch->seq, now);
            !s.ok())
          return failed(s.error());
      }
      for (; i < current.size(); ++i) {
        if (auto s = store_.removeResource(h.id, current[i].first); !s.ok())
          return failed(s.error());
        if (auto s = store_.appendHistory(h.id, current[i].first, "absent", now, batch->seq, now);
            !s.ok())
          return failed(s.error());
      }
      if (auto s = store_.clearStaging(h.id); !s.ok()) return failed(s.error());
      h.snapshotNext.reset();
      replaced = true;
      stateDigest = staged;
      if (staged.bytes() != batch->stateDigest) mismatch = "snapshot";
    }
  } else {
    if (h.snapshotNext) {
      tx.reset();
      (void)store_.touchHost(h.id, now, peer);
      audit_.record("resync_requested", h.id, peer, seqText + ": a snapshot was left unfinished");
      return answer(wire::ReportStatus::kResync, h, "a snapshot was left unfinished");
    }
    for (const auto& d : batch->deltas) {
      if (auto s = applyDelta(store_, h.id, d, batch->seq, now, stateDigest); !s.ok())
        return failed(s.error());
      lastState[d.resource] = d.state;
    }
    // A resource is judged by its last delta in the batch: gone because the agent stopped
    // observing it, or observed (present or absent).
    for (const auto& [resource, state] : lastState)
      (state == "unobserved" ? unobserved : touched).push_back(resource);
    if (stateDigest.bytes() != batch->stateDigest) mismatch = "delta";
  }

  if (!mismatch.empty()) {
    // Nothing of this batch is kept: its savepoint is undone when `tx` goes.
    const std::string detail = seqText + ": state digest " + digestHex(batch->stateDigest) +
                               " from the agent, " + stateDigest.hex() + " here";
    tx.reset();
    (void)store_.touchHost(h.id, now, peer);
    audit_.record("resync_requested", h.id, peer, detail);
    return answer(wire::ReportStatus::kResync, h, "state digest mismatch");
  }

  // In this report's savepoint: the drift commits with the state it was judged from, or not.
  if (auto s = replaced ? drift_.onHostReplaced(h, now)
                        : drift_.onResourcesChanged(h, touched, now, unobserved);
      !s.ok())
    return failed(s.error());

  for (const auto& c : batch->coverage) {
    if (auto s = store_.addCoverage(h.id, c.gap, c.payload, c.at, batch->seq); !s.ok())
      return failed(s.error());
  }
  if (auto s =
          store_.addBatch(h.id, batch->seq, digestBytes, signedBatch->batch, signedBatch->signature,
                          now, static_cast<int64_t>(batch->deltas.size()));
      !s.ok())
    return failed(s.error());
  h.lastSeq = batch->seq;
  h.lastDigest = digestBytes;
  h.stateDigest = stateDigest.bytes();
  h.agentVersion = batch->agentVersion;
  // Sent-at is the client's clock at sending (not the batch's build time: a retry sends old
  // bytes); the transit time makes this a slight underestimate of a clock that runs ahead.
  if (request.clientSentAtMs) h.clockSkewMs = *request.clientSentAtMs - request.receivedAtMs;
  if (auto s = store_.advanceChain(h); !s.ok()) return failed(s.error());
  if (auto s = tx->release(); !s.ok()) return failed(s.error());
  return answer(wire::ReportStatus::kAccepted, h);
}

}  // namespace driftwatch::aggregator

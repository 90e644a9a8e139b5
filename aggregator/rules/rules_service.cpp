#include "aggregator/rules/rules_service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "aggregator/rules/rule_bundle.h"
#include "common/wire/codec.h"

namespace driftwatch::aggregator {
namespace {

HttpResponse text(int status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(body) + "\n"};
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status RulesService::recordHeld(const HostRecord& host, uint64_t held, uint64_t newest) {
  // An agent ahead of us (a store restored from an older copy) holds rules of another history:
  // recorded as holding none of ours. An agent that went back (its stored bundle refused at
  // start) is recorded as it is: what it does not observe must not be judged absent.
  const int64_t revision = held > newest ? 0 : static_cast<int64_t>(held);
  if (revision == host.rulesRevision) return {};
  auto tx = store_.begin();
  if (!tx.ok()) return tx.error();
  if (auto s = store_.setRulesRevision(host.id, revision); !s.ok()) return s;
  const bool caughtUp = revision > host.rulesRevision && static_cast<uint64_t>(revision) == newest;
  if (caughtUp) {
    HostRecord holding = host;
    holding.rulesRevision = revision;
    if (auto s = drift_.onRulesCaughtUp(holding, nowMs()); !s.ok()) return s;
  }
  if (auto s = tx->commit(); !s.ok()) return s;
  if (caughtUp && committed_) committed_();
  return {};
}

HttpResponse RulesService::handle(const HttpRequest& request) {
  const std::string& peer = request.peer.address;
  if (!request.peer.hasCert) {
    audit_.recordUnauthenticated("rules_refused", peer, "no client certificate");
    return text(401, "a client certificate is required: enroll the agent first");
  }
  auto host = store_.host(request.peer.certHostId);
  if (!host.ok()) return text(503, "the fleet store is unavailable; retry later");
  if (!*host) {
    audit_.recordLimited("rules_refused", request.peer.certHostId, peer,
                         "certificate for an unknown host");
    return text(403, "this certificate's host is not enrolled here");
  }
  const HostRecord& h = **host;
  if (h.revokedAt) {
    audit_.recordLimited("rules_refused", h.id, peer, "host revoked");
    return text(403, "host " + h.id + " has been revoked; enroll it again");
  }
  if (request.peer.certPublicKey != h.publicKey) {
    audit_.recordLimited("rules_refused", h.id, peer,
                         "certificate key differs from the enrolled key");
    return text(403, "this certificate does not carry the host's enrolled key");
  }
  auto asked = wire::decodeRulesRequest(request.body);
  if (!asked.ok()) {
    audit_.recordLimited("rules_refused", h.id, peer, "malformed: " + asked.error().describe());
    return text(400, "malformed rules request: " + asked.error().describe());
  }
  if (asked->hostId != h.id) {
    audit_.recordLimited("rules_refused", h.id, peer, "asked for another host's rules");
    return text(403, "a host may only ask for its own rules");
  }

  auto revision = rulesRevision(store_);
  if (!revision.ok()) return text(503, "the fleet store is unavailable; retry later");
  // A failure here is the aggregator's: the agent still gets its answer, and its next request
  // records the revision again.
  if (auto s = recordHeld(h, asked->haveRevision, *revision); !s.ok())
    std::fprintf(stderr, "driftwatch-aggregator: error: %s\n", s.error().describe().c_str());
  wire::RulesResponse answer;
  answer.revision = *revision;
  // An agent ahead of us (our store was restored from an older copy) gets the bundle too, and
  // refuses it as a replay: it says so in its status, which is what an operator needs to see.
  if (asked->haveRevision == *revision && *revision != 0) {
    answer.status = wire::RulesStatus::kUnchanged;
    return HttpResponse{200, kProtobufType, wire::encode(answer)};
  }
  if (*revision == 0) {
    // No policy yet: nothing to sign that an agent could hold on to.
    answer.status = wire::RulesStatus::kUnchanged;
    return HttpResponse{200, kProtobufType, wire::encode(answer)};
  }
  auto bundle = buildRuleBundle(store_, drift_.desired(), h, *revision, nowMs());
  if (!bundle.ok()) {
    std::fprintf(stderr, "driftwatch-aggregator: error: %s\n", bundle.error().describe().c_str());
    return text(503, "the fleet store failed; retry later");
  }
  answer.status = wire::RulesStatus::kBundle;
  answer.bundle = wire::encode(*bundle);
  answer.signature = key_.sign(answer.bundle);
  HttpResponse out{200, kProtobufType, wire::encode(answer)};
  if (out.body.size() > wire::kMaxRulesReplyBytes) {
    audit_.recordLimited("rules_refused", h.id, peer, "the bundle is larger than 16 MiB");
    return text(500,
                "this host's rule bundle is larger than 16 MiB: split its policies' baselines");
  }
  return out;
}

}  // namespace driftwatch::aggregator

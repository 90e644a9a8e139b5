#pragma once
// The agent's side of the report chain, kept by hand in unit tests: its state, the chain head,
// and batches built and signed the way the agent builds them.

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "common/crypto/sha256.h"
#include "common/crypto/signing.h"
#include "common/crypto/state_digest.h"
#include "common/wire/codec.h"

namespace driftwatch::testing {

using State = std::map<std::string, std::string>;

using Key = std::shared_ptr<const crypto::Ed25519Key>;

inline Key newKey() {
  auto key = crypto::Ed25519Key::generate();
  REQUIRE(key.ok());
  return std::make_shared<const crypto::Ed25519Key>(std::move(key).value());
}

inline std::string sha256Bytes(std::string_view data) {
  const auto d = Sha256::of(data);
  return std::string(d.begin(), d.end());
}

inline std::string digestOf(const State& state) {
  crypto::StateDigest d;
  for (const auto& [resource, value] : state)
    d.add(resource, value);
  return d.bytes();
}

inline bool isGone(std::string_view state) {
  return state == "absent" || state == "unobserved";
}

// The agent's side of the chain, kept by hand: its state, the chain head, and batches built
// and signed the way the agent builds them, with the state digest after each batch. A copy
// continues the same chain with the same key (to build a fork).
struct TestAgent {
  std::string hostId;
  Key key;
  State state;
  uint64_t seq = 0;
  std::string head;  // SHA-256 of the last batch's bytes

  // A signed delta batch continuing the chain; the chain advances (as if it were accepted).
  std::string delta(const std::vector<std::pair<std::string, std::string>>& changes) {
    wire::Batch b = next();
    for (const auto& [resource, value] : changes) {
      b.deltas.push_back({resource, value, 1000});
      if (isGone(value)) {
        state.erase(resource);
      } else {
        state[resource] = value;
      }
    }
    b.stateDigest = digestOf(state);
    return seal(b);
  }

  // The parts of a full snapshot of `full`, `perPart` resources each.
  std::vector<std::string> snapshot(const State& full, size_t perPart) {
    std::vector<std::string> parts;
    State sent;
    auto it = full.begin();
    uint32_t index = 0;
    do {
      wire::Batch b = next();
      for (size_t n = 0; n < perPart && it != full.end(); ++n, ++it) {
        b.deltas.push_back({it->first, it->second, 2000});
        sent.insert(*it);
      }
      b.snapshot = wire::SnapshotPart{index++, it == full.end()};
      b.stateDigest = digestOf(sent);
      parts.push_back(seal(b));
    } while (it != full.end());
    state = full;
    return parts;
  }

  wire::Batch next() const {
    wire::Batch b;
    b.hostId = hostId;
    b.seq = seq + 1;
    b.prevDigest = head;
    b.agentVersion = "0.1.0";
    b.sentAt = 1'700'000'000'000;
    return b;
  }

  // Signs `b` with this agent's key and advances the chain past it.
  std::string seal(const wire::Batch& b) {
    const std::string bytes = wire::encode(b);
    seq = b.seq;
    head = sha256Bytes(bytes);
    return wire::encode(wire::SignedBatch{bytes, key->sign(bytes)});
  }
};

}  // namespace driftwatch::testing

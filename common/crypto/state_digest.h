#pragma once
// The digest of a host's whole observed state, kept incrementally on both sides of the channel:
// the sum, modulo 2^256, of SHA-256("resource\tstate") over every resource. Adding or removing
// one resource is one hash, and the order of changes does not matter, so the agent can say what
// its state is after a batch and the aggregator can check that its copy agrees. (It detects
// divergence between two honest parties; authenticity comes from the batch signatures.)
// A value type; safe to copy between threads.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace driftwatch::crypto {

class StateDigest {
 public:
  StateDigest() { value_.fill(0); }
  static StateDigest fromBytes(std::string_view bytes);  // 32 bytes; anything else is zero

  void add(std::string_view resource, std::string_view state);
  void remove(std::string_view resource, std::string_view state);
  // The contribution of one resource, for callers that add and remove contributions.
  static std::array<uint8_t, 32> term(std::string_view resource, std::string_view state);
  void addTerm(const std::array<uint8_t, 32>& term);
  void subtractTerm(const std::array<uint8_t, 32>& term);

  std::string bytes() const;  // 32 bytes, big-endian
  std::string hex() const;
  bool operator==(const StateDigest&) const = default;

 private:
  std::array<uint8_t, 32> value_;
};

}  // namespace driftwatch::crypto

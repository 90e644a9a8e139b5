#pragma once
// Requests and responses as the aggregator's handlers see them: plain values, so that every
// handler can be tested without a socket, and so that Beast stays inside the server module.

#include <cstdint>
#include <optional>
#include <string>

namespace driftwatch::aggregator {

// Who is on the other end, as TLS established it.
struct PeerIdentity {
  std::string address;        // "127.0.0.1:51234"
  bool hasCert = false;       // a client certificate that chains to the fleet CA
  std::string certHostId;     // its subject CN
  std::string certPublicKey;  // its Ed25519 key, 32 bytes
};

struct HttpRequest {
  std::string method;
  std::string target;
  std::string contentType;
  std::string body;
  PeerIdentity peer;
  // The client's clock when it sent the request (Driftwatch-Sent-At, unix ms), and ours when
  // it arrived: the difference estimates the client's clock skew.
  std::optional<int64_t> clientSentAtMs;
  int64_t receivedAtMs = 0;
};

struct HttpResponse {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
};

inline constexpr const char* kProtobufType = "application/x-protobuf";

}  // namespace driftwatch::aggregator

#pragma once
// Requests and responses as the aggregator's handlers see them: plain values, so that every
// handler can be tested without a socket, and so that Beast stays inside the server module.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace driftwatch::aggregator {

// Who is on the other end, as TLS established it.
struct PeerIdentity {
  std::string address;        // "127.0.0.1:51234"
  bool hasCert = false;       // a client certificate that chains to the fleet CA
  std::string certHostId;     // its subject CN
  std::string certPublicKey;  // its Ed25519 key, 32 bytes
};

struct HttpRequest {
  // A constructor rather than an aggregate (see HttpResponse): the fields an agent's request
  // needs, in order; the rest are set by name.
  HttpRequest() = default;
  HttpRequest(std::string requestMethod, std::string requestTarget, std::string type,
              std::string content, PeerIdentity from, std::optional<int64_t> sentAtMs = {},
              int64_t arrivedAtMs = 0)
      : method(std::move(requestMethod)),
        target(std::move(requestTarget)),
        contentType(std::move(type)),
        body(std::move(content)),
        peer(std::move(from)),
        clientSentAtMs(sentAtMs),
        receivedAtMs(arrivedAtMs) {}

  std::string method;
  std::string target;
  std::string contentType;
  std::string body;
  PeerIdentity peer;
  // The client's clock when it sent the request (Driftwatch-Sent-At, unix ms), and ours when
  // it arrived: the difference estimates the client's clock skew.
  std::optional<int64_t> clientSentAtMs;
  int64_t receivedAtMs = 0;
  // The admin API's credentials ("Bearer ..."): a secret, never logged or audited.
  std::string authorization;
  std::string ifNoneMatch;  // for pages that can be revalidated by their ETag
};

// What the server knows of a request when it decides how large its body may be: the header only.
struct RequestHead {
  std::string_view method;
  std::string_view target;
  std::string_view authorization;  // a secret: never logged
};

// Extra response headers (WWW-Authenticate, ETag, Cache-Control, Content-Security-Policy), in
// order. The server sets Server, Content-Type, Content-Length and Connection itself.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  // A constructor rather than an aggregate: handlers that need no extra header keep writing
  // HttpResponse{status, type, body}.
  HttpResponse() = default;
  HttpResponse(int statusCode, std::string type, std::string text, HttpHeaders extra = {})
      : status(statusCode),
        contentType(std::move(type)),
        body(std::move(text)),
        headers(std::move(extra)) {}

  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
  HttpHeaders headers;
};

inline constexpr const char* kProtobufType = "application/x-protobuf";

}  // namespace driftwatch::aggregator

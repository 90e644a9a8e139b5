#pragma once
// An HTTPS client for the aggregator, used by the agent and by the admin commands' --server
// mode (Boost.Beast over OpenSSL; only this module's .cpp includes them). One connection, kept
// alive between requests and opened again when the server closed it. Every step has a
// timeout, and replies are size-limited: the network is hostile. Used by one thread at a time.
//
// Three ways to trust the server:
// - pinned (an agent's enrollment, `--ca-fingerprint`): the server must present, in its chain,
//   a CA certificate whose fingerprint is the one the user gave, and a certificate signed by
//   that CA for the host. It is checked right after the handshake, before a byte of the request
//   (a token) is sent.
// - a CA (an enrolled agent, `--ca FILE`): that CA is the only trust anchor, and the host name
//   is verified. An enrolled agent adds its client certificate and key (mutual TLS).
// - the system's trust store, when neither a pin nor a CA is given.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/result.h"

namespace driftwatch::net {

// Extra request headers ("Authorization"); never logged.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpsClientOptions {
  std::string host;
  std::string port;
  std::string pinnedCaFingerprint;  // pinned mode when set
  std::string caPem;                // else this CA when set, else the system's trust store
  std::string clientCertPem;
  std::string clientKeyPem;
  std::string userAgent = "driftwatch-agent";
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  size_t maxReplyBytes = 1u << 20;
};

struct HttpReply {
  int status = 0;
  std::string contentType;
  std::string body;
};

class HttpsClient {
 public:
  explicit HttpsClient(HttpsClientOptions options);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // POSTs `body` to `target`. A transport failure (connect, TLS, timeout, a reply too large) is
  // an error naming the server; any HTTP status is a reply.
  Result<HttpReply> post(std::string_view target, std::string_view body,
                         std::string_view contentType);
  // Any method ("GET", "POST", ...), with extra headers; errors as post().
  Result<HttpReply> request(std::string_view method, std::string_view target, std::string_view body,
                            std::string_view contentType, const HttpHeaders& headers = {});
  // The CA certificate that matched the pin on the last connection (pinned mode).
  const std::string& pinnedCaPem() const;
  void disconnect();
  // Ends the request under way (from any thread): it fails at once, as do later ones.
  void abort();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace driftwatch::net

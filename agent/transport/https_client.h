#pragma once
// The agent's HTTPS client for the aggregator (Boost.Beast over OpenSSL; only this module's
// .cpp includes them). One connection, kept alive between requests and opened again when the
// aggregator closed it. Every step has a timeout, and replies are size-limited: the network is
// hostile. Used by one thread at a time.
//
// Two ways to trust the server:
// - pinned (enrollment): the server must present, in its chain, a CA certificate whose
//   fingerprint is the one the user gave, and a certificate signed by that CA for the host. It
//   is checked right after the handshake, before a byte of the request (the token) is sent.
// - enrolled: the stored CA is the only trust anchor, the host name is verified, and the
//   agent's client certificate and key authenticate it (mutual TLS).

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace driftwatch::agent {

struct HttpsClientOptions {
  std::string host;
  std::string port;
  std::string pinnedCaFingerprint;  // pinned mode when set
  std::string caPem;                // enrolled mode
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
  // The CA certificate that matched the pin on the last connection (pinned mode).
  const std::string& pinnedCaPem() const;
  void disconnect();
  // Ends the request under way (from any thread): it fails at once, as do later ones.
  void abort();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace driftwatch::agent

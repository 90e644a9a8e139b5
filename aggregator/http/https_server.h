#pragma once
// The aggregator's HTTPS server (Boost.Beast; only this module's .cpp includes it). TLS 1.3 by
// default (1.2 at the lowest); clients may present a certificate from the fleet CA, which the
// handler sees as the peer's identity (mutual TLS). A connection that speaks plaintext HTTP
// gets a one-line refusal; one whose TLS handshake fails is closed; both are reported to the
// handler for the audit trail. Header and body sizes are limited before they are read, every
// read and write has a timeout, and the number of connections is capped.
//
// Network I/O runs on `threads` threads; every handler call runs on one store thread, so
// handlers need no locking. Requests that arrive while the store thread is busy are handed to
// the handler together (handleBatch), so that it can share one transaction among them.

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/config/aggregator_config.h"
#include "aggregator/http/messages.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // The largest body accepted for a request, decided from its header before the body is read.
  virtual size_t bodyLimit(const RequestHead& head, const PeerIdentity& peer) const = 0;
  virtual HttpResponse handle(const HttpRequest& request) = 0;
  // The answers to requests that queued up together, in order. By default, one handle() each.
  virtual std::vector<HttpResponse> handleBatch(std::span<const HttpRequest* const> requests) {
    std::vector<HttpResponse> out;
    out.reserve(requests.size());
    for (const HttpRequest* r : requests)
      out.push_back(handle(*r));
    return out;
  }
  // A connection refused before any request: plaintext, or a failed TLS handshake.
  virtual void connectionRefused(const std::string& peer, const std::string& reason) = 0;
};

struct HttpsServerOptions {
  ListenAddress listen;
  std::string tlsMinVersion = "1.3";
  std::string certChainPem;  // the server certificate, then the CA
  std::string keyPem;
  std::string clientCaPem;  // client certificates must chain to it
  unsigned threads = 2;
  unsigned maxConnections = 4096;
  unsigned maxConnectionsPerAddress = 512;
  std::chrono::milliseconds requestTimeout{std::chrono::seconds(30)};
};

class HttpsServer {
 public:
  // Binds the listening socket (so a port in use is an error here, not later).
  static Result<std::unique_ptr<HttpsServer>> create(const HttpsServerOptions& options,
                                                     RequestHandler& handler);
  ~HttpsServer();

  unsigned short port() const;
  // Serves until SIGTERM or SIGINT, or stop().
  void run();
  void stop();

 private:
  class Impl;
  explicit HttpsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace driftwatch::aggregator

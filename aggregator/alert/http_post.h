#pragma once
// The dispatcher's outbound HTTP client (Boost.Beast; only this module's .cpp includes it): one
// POST per connection to an http:// or https:// receiver. https trusts the system's CAs or only
// the given CA file, and verifies the host name. Connect, write and read each have the
// timeout, and the reply body is read up to a cap: a receiver is a network peer like any
// other. Errors name the receiver's host and port, never its path (webhook paths often hold a
// secret). Blocking; one call per thread at a time.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "aggregator/alert/alert_config.h"
#include "common/base/result.h"

namespace driftwatch::aggregator {

struct HttpPost {
  HttpUrl url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string contentType = "application/json";
  std::string body;
  std::string caFile;  // https: the only trusted CA; empty: the system's
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  size_t maxReplyBytes = 64 * 1024;  // more is cut off, not an error
};

struct HttpPostReply {
  int status = 0;
  std::string body;  // at most maxReplyBytes
};

// A transport failure (name resolution, connect, TLS, timeout, a malformed reply) is an error;
// any HTTP status is a reply.
Result<HttpPostReply> httpPost(const HttpPost& request);

}  // namespace driftwatch::aggregator

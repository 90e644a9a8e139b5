#include "aggregator/server/fleet_api.h"

#include "common/wire/codec.h"

namespace driftwatch::aggregator {
namespace {

HttpResponse text(int status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(body) + "\n"};
}

// The path without a query string.
std::string_view pathOf(std::string_view target) {
  return target.substr(0, target.find('?'));
}

}  // namespace

size_t FleetApi::bodyLimit(const RequestHead& head, const PeerIdentity& peer) const {
  const std::string_view target = head.target;
  if (admin_ != nullptr && AdminApi::serves(target)) {
    // Only a policy upload with a token that may write gets more than a few fields' worth:
    // anyone can connect, and the body is read before the request is handled.
    if (AdminApi::takesUpload(head.method, target) && gate_ != nullptr &&
        gate_->mayUpload(head.authorization))
      return kMaxAdminUploadBytes;
    return kMaxAdminBodyBytes;
  }
  // Only an enrolled, unrevoked agent may send a large body.
  if (pathOf(target) == "/v1/report" && peer.hasCert &&
      (gate_ == nullptr || gate_->mayReport(peer.certHostId, peer.certPublicKey)))
    return wire::kMaxBodyBytes;
  return wire::kMaxEnrollBytes;
}

HttpResponse FleetApi::handle(const HttpRequest& request) {
  const std::string_view path = pathOf(request.target);
  const auto only = [&](std::string_view method) { return request.method == method; };
  if (admin_ != nullptr && AdminApi::serves(request.target)) return admin_->handle(request);
  if (path == "/v1/report") {
    if (!only("POST")) return text(405, "use POST");
    return reports_.handle(request);
  }
  if (path == "/v1/rules") {
    if (!only("POST")) return text(405, "use POST");
    return rules_.handle(request);
  }
  if (path == "/v1/enroll") {
    if (!only("POST")) return text(405, "use POST");
    return enrollment_.handle(request);
  }
  if (path == "/healthz") {
    if (!only("GET")) return text(405, "use GET");
    return store_.ping().ok() ? text(200, "ok") : text(503, "the fleet store is unavailable");
  }
  return text(404, "no such endpoint");
}

std::vector<HttpResponse> FleetApi::handleBatch(std::span<const HttpRequest* const> requests) {
  std::vector<HttpResponse> out(requests.size());
  std::vector<const HttpRequest*> reports;
  std::vector<size_t> reportAt;
  for (size_t i = 0; i < requests.size(); ++i) {
    const HttpRequest& r = *requests[i];
    if (pathOf(r.target) == "/v1/report" && r.method == "POST") {
      reports.push_back(&r);
      reportAt.push_back(i);
    } else {
      // Each in its own transaction, before the reports' group; an exception fails only it.
      try {
        out[i] = handle(r);
      } catch (const std::exception& e) {
        out[i] = text(500, std::string("internal error: ") + e.what());
      }
    }
  }
  if (!reports.empty()) {
    auto answers = reports_.handleMany(reports);
    for (size_t k = 0; k < answers.size(); ++k)
      out[reportAt[k]] = std::move(answers[k]);
  }
  return out;
}

void FleetApi::connectionRefused(const std::string& peer, const std::string& reason) {
  audit_.recordUnauthenticated("connection_refused", peer, reason);
}

}  // namespace driftwatch::aggregator

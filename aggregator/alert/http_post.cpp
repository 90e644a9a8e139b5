#include "aggregator/alert/http_post.h"

#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>

namespace driftwatch::aggregator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

bool isIpAddress(const std::string& host) {
  beast::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

class Exchange {
 public:
  explicit Exchange(const HttpPost& request) : request_(request) {}

  Result<HttpPostReply> run() {
    tcp::resolver resolver(ioc_);
    tcp::resolver::results_type endpoints;
    auto ec = wait([&](auto handler) {
      resolver.async_resolve(
          request_.url.host, request_.url.port,
          [&endpoints, handler](beast::error_code e, tcp::resolver::results_type r) mutable {
            endpoints = std::move(r);
            handler(e);
          });
    });
    if (ec) return failure("cannot resolve the host", ec);
    if (!request_.url.tls) {
      beast::tcp_stream stream(ioc_);
      stream.expires_after(request_.timeout);
      ec = wait([&](auto handler) { stream.async_connect(endpoints, handler); });
      if (ec) return failure("cannot connect", ec);
      return exchange(stream);
    }
    ssl::context ctx(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    if (request_.caFile.empty()) {
      ctx.set_default_verify_paths(ec);
    } else {
      ctx.load_verify_file(request_.caFile, ec);
    }
    if (!ec) ctx.set_verify_mode(ssl::verify_peer, ec);
    if (ec) {
      return makeError(
          ErrorCode::kInvalidInput,
          "cannot load the trusted CAs: " + ec.message() + " (check ca_file: a PEM certificate)",
          request_.caFile.empty() ? server() : request_.caFile);
    }
    beast::ssl_stream<beast::tcp_stream> stream(ioc_, ctx);
    stream.set_verify_callback(ssl::host_name_verification(request_.url.host));
    // SNI carries names only, never an address.
    if (!isIpAddress(request_.url.host))
      SSL_set_tlsext_host_name(stream.native_handle(), request_.url.host.c_str());
    beast::get_lowest_layer(stream).expires_after(request_.timeout);
    ec = wait(
        [&](auto handler) { beast::get_lowest_layer(stream).async_connect(endpoints, handler); });
    if (ec) return failure("cannot connect", ec);
    beast::get_lowest_layer(stream).expires_after(request_.timeout);
    ec = wait([&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); });
    if (ec) return failure("TLS handshake failed", ec);
    return exchange(stream);
  }

 private:
  std::string server() const {
    const bool v6 = request_.url.host.find(':') != std::string::npos;
    return std::string(request_.url.tls ? "https://" : "http://") +
           (v6 ? "[" + request_.url.host + "]" : request_.url.host) + ":" + request_.url.port;
  }

  Error failure(std::string_view step, const beast::error_code& ec) const {
    const std::string why = ec == beast::error::timeout ? std::string("timed out") : ec.message();
    return makeError(ErrorCode::kIo, std::string(step) + ": " + why, server());
  }

  // Runs one asynchronous operation to completion on this thread; the stream's expiry bounds it.
  template <typename Start>
  beast::error_code wait(Start&& start) {
    beast::error_code result = asio::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result == asio::error::would_block ? asio::error::operation_aborted : result;
  }

  template <typename Stream>
  Result<HttpPostReply> exchange(Stream& stream) {
    http::request<http::string_body> req{http::verb::post, request_.url.target, 11};
    const bool v6 = request_.url.host.find(':') != std::string::npos;
    const bool defaultPort = request_.url.port == (request_.url.tls ? "443" : "80");
    req.set(http::field::host, (v6 ? "[" + request_.url.host + "]" : request_.url.host) +
                                   (defaultPort ? "" : ":" + request_.url.port));
    req.set(http::field::user_agent, "driftwatch-aggregator");
    req.set(http::field::content_type, request_.contentType);
    for (const auto& [name, value] : request_.headers)
      req.set(name, value);
    req.keep_alive(false);
    req.body() = request_.body;
    req.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(request_.timeout);
    auto ec = wait([&](auto handler) { http::async_write(stream, req, handler); });
    if (ec) return failure("cannot send the request", ec);

    http::response_parser<http::string_body> parser;
    parser.body_limit(request_.maxReplyBytes);
    parser.header_limit(16 * 1024);
    beast::flat_buffer buffer;
    beast::get_lowest_layer(stream).expires_after(request_.timeout);
    ec = wait([&](auto handler) { http::async_read(stream, buffer, parser, handler); });
    // A reply larger than the cap still says what happened: its status is kept, its body cut.
    if (ec && !(ec == http::error::body_limit && parser.is_header_done()))
      return failure("no valid reply", ec);
    HttpPostReply reply;
    reply.status = static_cast<int>(parser.get().result_int());
    reply.body = std::move(parser.get().body());
    if (reply.body.size() > request_.maxReplyBytes) reply.body.resize(request_.maxReplyBytes);
    // The connection is closed with the stream; a receiver that does not finish its side of
    // a TLS shutdown changes nothing about a reply already read.
    beast::get_lowest_layer(stream).close();
    return reply;
  }

  const HttpPost& request_;
  asio::io_context ioc_{1};
};

}  // namespace

Result<HttpPostReply> httpPost(const HttpPost& request) {
  return Exchange(request).run();
}

}  // namespace driftwatch::aggregator

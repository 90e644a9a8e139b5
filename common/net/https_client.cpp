#include "common/net/https_client.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/crypto/pki.h"

namespace driftwatch::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

std::string pemOf(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

bool isIpAddress(const std::string& host) {
  beast::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

class HttpsClient::Impl {
 public:
  explicit Impl(HttpsClientOptions options) : options_(std::move(options)) {}

  Result<HttpReply> request(std::string_view method, std::string_view target, std::string_view body,
                            std::string_view contentType, const HttpHeaders& headers) {
    const http::verb verb = http::string_to_verb(method);
    if (verb == http::verb::unknown)
      return makeError(ErrorCode::kInvalidInput, "not an HTTP method", std::string(method));
    const bool reused = stream_.has_value();
    auto reply = attempt(verb, target, body, contentType, headers);
    if (!reply.ok() && reused) {
      // The aggregator may have closed an idle connection: one fresh try.
      disconnect();
      reply = attempt(verb, target, body, contentType, headers);
    }
    if (!reply.ok()) disconnect();
    return reply;
  }

  void disconnect() {
    stream_.reset();
    buffer_.clear();
  }

  const std::string& pinnedCaPem() const { return pinnedCaPem_; }

  void abort() {
    aborted_ = true;
    ioc_.stop();
  }

 private:
  std::string server() const {
    const bool v6 = options_.host.find(':') != std::string::npos;
    return "https://" + (v6 ? "[" + options_.host + "]" : options_.host) + ":" + options_.port;
  }

  Error failure(std::string_view step, const beast::error_code& ec) const {
    std::string why = ec == beast::error::timeout ? std::string("timed out") : ec.message();
    return makeError(ErrorCode::kIo, std::string(step) + ": " + why, server());
  }

  // Runs one asynchronous operation to completion on this thread; the stream's expiry bounds it.
  template <typename Start>
  beast::error_code run(Start&& start) {
    beast::error_code result = asio::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    // Checked after restart(): an abort() from here on stops the run below.
    if (aborted_) return asio::error::operation_aborted;
    ioc_.run();
    return result == asio::error::would_block ? asio::error::operation_aborted : result;
  }

  Status connect() {
    ctx_.emplace(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx_->native_handle(), TLS1_2_VERSION);
    beast::error_code ec;
    const bool pinned = !options_.pinnedCaFingerprint.empty();
    if (pinned) {
      ctx_->set_verify_mode(ssl::verify_none, ec);  // checked against the pin after the handshake
    } else if (options_.caPem.empty()) {
      ctx_->set_default_verify_paths(ec);
      if (!ec) ctx_->set_verify_mode(ssl::verify_peer, ec);
    } else {
      ctx_->add_certificate_authority(asio::buffer(options_.caPem), ec);
      if (!ec) ctx_->set_verify_mode(ssl::verify_peer, ec);
      if (!ec && !options_.clientCertPem.empty()) {
        ctx_->use_certificate(asio::buffer(options_.clientCertPem), ssl::context::pem, ec);
        if (!ec) ctx_->use_private_key(asio::buffer(options_.clientKeyPem), ssl::context::pem, ec);
      }
    }
    if (ec) return makeError(ErrorCode::kInvalidInput, "bad TLS credentials: " + ec.message());

    stream_.emplace(ioc_, *ctx_);
    if (!pinned) stream_->set_verify_callback(ssl::host_name_verification(options_.host));
    if (!isIpAddress(options_.host)) {
      SSL_set_tlsext_host_name(stream_->native_handle(), options_.host.c_str());
    }
    tcp::resolver resolver(ioc_);
    tcp::resolver::results_type endpoints;
    ec = run([&](auto handler) {
      resolver.async_resolve(
          options_.host, options_.port,
          [&endpoints, handler](beast::error_code e, tcp::resolver::results_type r) mutable {
            endpoints = std::move(r);
            handler(e);
          });
    });
    if (ec) return failure("cannot resolve the server", ec);
    beast::get_lowest_layer(*stream_).expires_after(options_.timeout);
    ec = run(
        [&](auto handler) { beast::get_lowest_layer(*stream_).async_connect(endpoints, handler); });
    if (ec) return failure("cannot connect", ec);
    beast::get_lowest_layer(*stream_).expires_after(options_.timeout);
    ec = run([&](auto handler) { stream_->async_handshake(ssl::stream_base::client, handler); });
    if (ec) return failure("TLS handshake failed", ec);
    if (pinned) return checkPin();
    return {};
  }

  Status checkPin() {
    SSL* ssl = stream_->native_handle();
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
    X509* leaf = SSL_get0_peer_certificate(ssl);
    if (chain == nullptr || leaf == nullptr)
      return makeError(ErrorCode::kInvalidInput, "the server presented no certificate", server());
    pinnedCaPem_.clear();
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      std::string pem = pemOf(sk_X509_value(chain, i));
      auto fp = crypto::certFingerprint(pem);
      if (fp.ok() && *fp == options_.pinnedCaFingerprint) {
        pinnedCaPem_ = std::move(pem);
        break;
      }
    }
    if (pinnedCaPem_.empty()) {
      return makeError(ErrorCode::kInvalidInput,
                       "the server's CA does not match the pinned fingerprint " +
                           options_.pinnedCaFingerprint +
                           " (check the fingerprint that driftwatch-aggregator printed at start, "
                           "or `driftwatch-aggregator ca fingerprint`)",
                       server());
    }
    if (auto s = crypto::verifyServerCert(pemOf(leaf), pinnedCaPem_, options_.host); !s.ok())
      return makeError(s.error().code, s.error().message, server());
    return {};
  }

  Result<HttpReply> attempt(http::verb verb, std::string_view target, std::string_view body,
                            std::string_view contentType, const HttpHeaders& headers) {
    if (!stream_) {
      if (auto s = connect(); !s.ok()) {
        stream_.reset();
        return s.error();
      }
    }
    http::request<http::string_body> req{verb, std::string(target), 11};
    req.set(http::field::host, options_.host);
    req.set(http::field::user_agent, options_.userAgent);
    if (!contentType.empty()) req.set(http::field::content_type, contentType);
    for (const auto& [name, value] : headers)
      req.set(name, value);
    // The agent's clock when it sends, so the aggregator can measure this host's clock skew
    // (batches are signed when built, and a retry sends old bytes: their own time says little).
    req.set("Driftwatch-Sent-At",
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count()));
    req.keep_alive(true);
    if (!body.empty() || verb == http::verb::post) {
      req.body() = std::string(body);
      req.prepare_payload();
    }
    beast::get_lowest_layer(*stream_).expires_after(options_.timeout);
    auto ec = run([&](auto handler) { http::async_write(*stream_, req, handler); });
    if (ec) return failure("cannot send the request", ec);

    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.maxReplyBytes);
    parser.header_limit(16 * 1024);
    beast::get_lowest_layer(*stream_).expires_after(options_.timeout);
    ec = run([&](auto handler) { http::async_read(*stream_, buffer_, parser, handler); });
    if (ec) return failure("no valid reply", ec);
    auto res = parser.release();
    HttpReply reply;
    reply.status = static_cast<int>(res.result_int());
    reply.contentType = std::string(res[http::field::content_type]);
    reply.body = std::move(res.body());
    if (!res.keep_alive()) disconnect();
    return reply;
  }

  HttpsClientOptions options_;
  asio::io_context ioc_{1};
  std::optional<ssl::context> ctx_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
  std::string pinnedCaPem_;
  std::atomic<bool> aborted_{false};
};

HttpsClient::HttpsClient(HttpsClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpsClient::~HttpsClient() = default;

Result<HttpReply> HttpsClient::post(std::string_view target, std::string_view body,
                                    std::string_view contentType) {
  return impl_->request("POST", target, body, contentType, {});
}

Result<HttpReply> HttpsClient::request(std::string_view method, std::string_view target,
                                       std::string_view body, std::string_view contentType,
                                       const HttpHeaders& headers) {
  return impl_->request(method, target, body, contentType, headers);
}

const std::string& HttpsClient::pinnedCaPem() const {
  return impl_->pinnedCaPem();
}

void HttpsClient::disconnect() {
  impl_->disconnect();
}

void HttpsClient::abort() {
  impl_->abort();
}

}  // namespace driftwatch::net

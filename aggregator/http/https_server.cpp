#include "aggregator/http/https_server.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/crypto/pki.h"

namespace driftwatch::aggregator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

namespace {

constexpr size_t kHeaderLimit = 16 * 1024;
// A Driftwatch-Sent-At header: unix milliseconds, plausible (after 2020, before 2200).
std::optional<int64_t> parseSentAt(std::string_view text) {
  if (text.empty() || text.size() > 15) return std::nullopt;
  int64_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < 1'577'836'800'000 || v > 7'258'118'400'000) return std::nullopt;
  return v;
}

// The answer to a plaintext HTTP request, so that a misconfigured client says why it failed.
std::string plaintextRefusal() {
  constexpr std::string_view body = "This port speaks HTTPS only: use https:// to reach it.\n";
  return "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
         "Connection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

std::string endpointText(const tcp::socket& socket) {
  beast::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  const auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
         std::to_string(ep.port());
}

PeerIdentity peerIdentity(SSL* ssl, std::string address) {
  PeerIdentity id;
  id.address = std::move(address);
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return id;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  const std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  auto info = crypto::inspectCert(pem);
  if (!info.ok()) return id;
  id.hasCert = true;
  id.certHostId = info->commonName;
  id.certPublicKey = info->publicKeyRaw;
  return id;
}

// The TLS library's reason, without the numeric prefix ("tlsv13 alert certificate required").
std::string handshakeReason(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return "the handshake timed out";
  std::string why = ec.message();
  if (ec.category() == asio::error::get_ssl_category()) {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
    if (reason != nullptr) why = reason;
  }
  return why;
}

}  // namespace

class HttpsServer::Impl {
 public:
  Impl(const HttpsServerOptions& options, RequestHandler& handler)
      : options_(options), handler_(handler) {}

  Status setUp() {
    SSL_CTX* native = ctx_.native_handle();
    SSL_CTX_set_min_proto_version(
        native, options_.tlsMinVersion == "1.2" ? TLS1_2_VERSION : TLS1_3_VERSION);
    static constexpr unsigned char kSessionContext[] = "driftwatch-aggregator";
    SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
    beast::error_code ec;
    ctx_.use_certificate_chain(asio::buffer(options_.certChainPem), ec);
    if (!ec) ctx_.use_private_key(asio::buffer(options_.keyPem), ssl::context::pem, ec);
    if (!ec) ctx_.add_certificate_authority(asio::buffer(options_.clientCaPem), ec);
    // Asked for, not required: enrollment comes before the agent has a certificate.
    if (!ec) ctx_.set_verify_mode(ssl::verify_peer, ec);
    if (ec) return makeError(ErrorCode::kInvalidInput, "bad TLS credentials: " + ec.message());

    const auto address = asio::ip::make_address(options_.listen.address, ec);
    if (ec)
      return makeError(ErrorCode::kInvalidInput, "not an IP address", options_.listen.address);
    const tcp::endpoint endpoint(address, options_.listen.port);
    const std::string shown = options_.listen.address + ":" + std::to_string(options_.listen.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return makeError(ErrorCode::kIo, "cannot listen: " + ec.message(), shown);
    return {};
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }

  void run() {
    asio::signal_set signals(ioc_, SIGINT, SIGTERM);
    signals.async_wait([this](const beast::error_code& ec, int) {
      if (!ec) stop();
    });
    asio::co_spawn(ioc_, acceptLoop(), asio::detached);
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < options_.threads; ++i)
      threads.emplace_back([this] { ioc_.run(); });
    ioc_.run();
    for (auto& t : threads)
      t.join();
    store_.join();
  }

  void stop() {
    asio::post(ioc_, [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      ioc_.stop();
    });
  }

 private:
  // A request waiting for the store thread, and how to resume its session with the answer.
  struct Pending {
    HttpRequest request;
    std::function<void(HttpResponse)> done;
  };

  // A connection's place in the limits, taken when it is accepted (so a burst of accepts cannot
  // overshoot) and given back when its session ends.
  class Slot {
   public:
    Slot(Impl& server, std::string address) : server_(&server), address_(std::move(address)) {}
    Slot(Slot&& other) noexcept
        : server_(std::exchange(other.server_, nullptr)), address_(std::move(other.address_)) {}
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (server_ != nullptr) server_->release(address_);
    }

   private:
    Impl* server_;
    std::string address_;
  };

  // Takes a slot for a connection from `address`, or nullopt past a limit.
  std::optional<Slot> admit(const std::string& address) {
    std::lock_guard lock(limitsMutex_);
    if (connections_ >= options_.maxConnections) return std::nullopt;
    unsigned& fromThere = perAddress_[address];
    if (fromThere >= options_.maxConnectionsPerAddress) {
      if (fromThere == 0) perAddress_.erase(address);
      return std::nullopt;
    }
    ++fromThere;
    ++connections_;
    return Slot(*this, address);
  }

  void release(const std::string& address) {
    std::lock_guard lock(limitsMutex_);
    --connections_;
    const auto it = perAddress_.find(address);
    if (it != perAddress_.end() && --it->second == 0) perAddress_.erase(it);
  }

  awaitable<void> acceptLoop() {
    while (acceptor_.is_open()) {
      beast::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(asio::make_strand(ioc_),
                                                           asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        // Out of descriptors, most likely: wait instead of spinning.
        asio::steady_timer pause(ioc_, std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      const auto remote = socket.remote_endpoint(ec);
      if (ec) continue;
      auto slot = admit(remote.address().to_string());
      if (!slot) {
        socket.close(ec);
        continue;
      }
      auto executor = socket.get_executor();
      asio::co_spawn(executor, session(std::move(socket), std::move(*slot)), asio::detached);
    }
  }

  // Runs `fn` on the store thread and resumes the awaiting coroutine on its own executor with
  // the result. Not a coroutine itself, and callers pass named functions, not temporaries: g++ 12
  // mishandles non-trivial temporaries inside co_await expressions.
  template <typename Fn>
  awaitable<std::invoke_result_t<Fn&>> onStore(Fn fn) {
    using R = std::invoke_result_t<Fn&>;
    return asio::async_initiate<decltype(use_awaitable), void(R)>(
        [this](auto handler, Fn work) {
          auto home = asio::get_associated_executor(handler);
          asio::post(store_, [handler = std::move(handler), work = std::move(work),
                              home]() mutable {
            R result = work();
            asio::post(home, [handler = std::move(handler), result = std::move(result)]() mutable {
              std::move(handler)(std::move(result));
            });
          });
        },
        use_awaitable, std::move(fn));
  }

  // Hands `request` to the store thread through the queue that drain() empties, and resumes the
  // awaiting coroutine on its own executor with the answer. Not a coroutine itself (see onStore).
  awaitable<HttpResponse> handleOnStore(HttpRequest request) {
    return asio::async_initiate<decltype(use_awaitable), void(HttpResponse)>(
        [this](auto handler, HttpRequest req) {
          auto home = asio::get_associated_executor(handler);
          // std::function needs a copyable callable; the completion handler is move-only.
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          Pending p;
          p.request = std::move(req);
          p.done = [shared, home](HttpResponse response) {
            asio::post(home, [shared, response = std::move(response)]() mutable {
              std::move (*shared)(std::move(response));
            });
          };
          enqueue(std::move(p));
        },
        use_awaitable, std::move(request));
  }

  void enqueue(Pending pending) {
    std::lock_guard lock(pendingMutex_);
    pending_.push_back(std::move(pending));
    if (draining_) return;
    draining_ = true;
    asio::post(store_, [this] { drain(); });
  }

  // On the store thread: everything that queued up while it was busy goes to the handler as one
  // group (reports then share one transaction and one disk flush: under load, the flush per
  // report was the store thread's bottleneck and every waiting report's latency).
  void drain() {
    while (true) {
      std::vector<Pending> group;
      {
        std::lock_guard lock(pendingMutex_);
        if (pending_.empty()) {
          draining_ = false;
          return;
        }
        const size_t n = std::min(pending_.size(), kMaxGroup);
        group.assign(std::make_move_iterator(pending_.begin()),
                     std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(n)));
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
      }
      std::vector<const HttpRequest*> requests;
      requests.reserve(group.size());
      for (const auto& p : group)
        requests.push_back(&p.request);
      std::vector<HttpResponse> responses;
      try {
        responses = handler_.handleBatch(requests);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "driftwatch-aggregator: internal error: %s\n", e.what());
        responses.clear();
      }
      for (size_t i = 0; i < group.size(); ++i) {
        group[i].done(i < responses.size()
                          ? std::move(responses[i])
                          : HttpResponse{500, "text/plain; charset=utf-8", "internal error\n"});
      }
    }
  }

  awaitable<void> refuseConnection(const std::string& peer, const std::string& reason) {
    auto record = [this, peer, reason] {
      handler_.connectionRefused(peer, reason);
      return 0;
    };
    co_await onStore(std::move(record));
  }

  // `slot` lives in the coroutine frame: the connection counts until the session ends.
  awaitable<void> session(tcp::socket socket, [[maybe_unused]] Slot slot) {
    const std::string peer = endpointText(socket);
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    beast::error_code ec;
    stream.expires_after(options_.requestTimeout);
    const bool tls =
        co_await beast::async_detect_ssl(stream, buffer, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;  // closed or silent: nothing was said, nothing to refuse
    if (!tls) {
      const std::string reason = "plaintext connection: this port speaks HTTPS only";
      co_await refuseConnection(peer, reason);
      const std::string refusal = plaintextRefusal();
      co_await asio::async_write(stream, asio::buffer(refusal),
                                 asio::redirect_error(use_awaitable, ec));
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      co_return;
    }

    beast::ssl_stream<beast::tcp_stream> tlsStream(std::move(stream), ctx_);
    beast::get_lowest_layer(tlsStream).expires_after(options_.requestTimeout);
    const size_t used = co_await tlsStream.async_handshake(ssl::stream_base::server, buffer.data(),
                                                           asio::redirect_error(use_awaitable, ec));
    if (ec) {
      const std::string reason = "TLS handshake failed: " + handshakeReason(ec);
      co_await refuseConnection(peer, reason);
      co_return;
    }
    buffer.consume(used);
    const PeerIdentity identity = peerIdentity(tlsStream.native_handle(), peer);

    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      // The limit depends on the target and on who is asking: Beast would check a
      // Content-Length against the limit in force when the header ends, so it is checked here.
      // (Not boost::none: Beast compares the length with the optional, and none is smaller.)
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      beast::get_lowest_layer(tlsStream).expires_after(options_.requestTimeout);
      co_await http::async_read_header(tlsStream, buffer, parser,
                                       asio::redirect_error(use_awaitable, ec));
      if (ec) break;  // closed, timed out or not HTTP: the connection ends
      const std::string target(parser.get().target());
      const size_t bodyLimit =
          handler_.bodyLimit(RequestHead{.method = parser.get().method_string(),
                                         .target = target,
                                         .authorization = parser.get()[http::field::authorization]},
                             identity);
      parser.body_limit(bodyLimit);  // a chunked body is counted as it arrives
      const auto declared = parser.content_length();
      HttpResponse response;
      bool keepAlive = false;
      if (declared && *declared > bodyLimit) {
        ec = http::error::body_limit;  // refused before a byte of the body is read
      } else {
        // A large report on a slow link needs longer than one request timeout.
        beast::get_lowest_layer(tlsStream).expires_after(options_.requestTimeout * 4);
        co_await http::async_read(tlsStream, buffer, parser,
                                  asio::redirect_error(use_awaitable, ec));
      }
      if (ec == http::error::body_limit) {
        response = HttpResponse{413, "text/plain; charset=utf-8",
                                "the request body is larger than this endpoint accepts\n"};
      } else if (ec) {
        break;
      } else {
        auto req = parser.release();
        keepAlive = req.keep_alive();
        HttpRequest request;
        request.method = std::string(req.method_string());
        request.target = target;
        request.contentType = std::string(req[http::field::content_type]);
        request.body = std::move(req.body());
        request.peer = identity;
        request.receivedAtMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
        request.clientSentAtMs = parseSentAt(req["Driftwatch-Sent-At"]);
        request.authorization = std::string(req[http::field::authorization]);
        request.ifNoneMatch = std::string(req[http::field::if_none_match]);
        response = co_await handleOnStore(std::move(request));
      }
      http::response<http::string_body> res{static_cast<http::status>(response.status), 11};
      res.set(http::field::server, "driftwatch-aggregator");
      res.set(http::field::content_type, response.contentType);
      for (const auto& [name, value] : response.headers)
        res.set(name, value);
      res.keep_alive(keepAlive);
      res.body() = std::move(response.body);
      res.prepare_payload();
      beast::get_lowest_layer(tlsStream).expires_after(options_.requestTimeout);
      co_await http::async_write(tlsStream, res, asio::redirect_error(use_awaitable, ec));
      if (ec || !keepAlive) break;
    }
    beast::get_lowest_layer(tlsStream).expires_after(std::chrono::seconds(5));
    co_await tlsStream.async_shutdown(asio::redirect_error(use_awaitable, ec));
  }

  HttpsServerOptions options_;
  RequestHandler& handler_;
  // Before the I/O objects: sessions destroyed with them still give their slots back.
  std::mutex limitsMutex_;
  unsigned connections_ = 0;
  std::unordered_map<std::string, unsigned> perAddress_;
  asio::io_context ioc_;
  ssl::context ctx_{ssl::context::tls_server};
  tcp::acceptor acceptor_{ioc_};
  // Requests waiting for the store thread; drain() takes them in groups of at most kMaxGroup.
  static constexpr size_t kMaxGroup = 64;
  std::mutex pendingMutex_;
  std::vector<Pending> pending_;  // guarded by pendingMutex_
  bool draining_ = false;         // guarded by pendingMutex_: a drain() is posted or running
  asio::thread_pool store_{1};
};

HttpsServer::HttpsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsServer::~HttpsServer() = default;

Result<std::unique_ptr<HttpsServer>> HttpsServer::create(const HttpsServerOptions& options,
                                                         RequestHandler& handler) {
  auto impl = std::make_unique<Impl>(options, handler);
  if (auto s = impl->setUp(); !s.ok()) return s.error();
  return std::unique_ptr<HttpsServer>(new HttpsServer(std::move(impl)));
}

unsigned short HttpsServer::port() const {
  return impl_->port();
}

void HttpsServer::run() {
  impl_->run();
}

void HttpsServer::stop() {
  impl_->stop();
}

}  // namespace driftwatch::aggregator

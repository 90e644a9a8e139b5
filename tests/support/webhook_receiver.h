#pragma once
// A webhook receiver for tests: a small HTTP/1.1 server on 127.0.0.1 (plain sockets, one request
// per connection) that records every request it gets and answers 200, or the status the test
// asks for while it plays a failing receiver, or a long body, or nothing at all (a hung one).

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace driftwatch::testing {

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  int answered = 0;  // the status it was answered with
};

class WebhookReceiver {
 public:
  WebhookReceiver() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 64) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }

  ~WebhookReceiver() {
    stopping_ = true;
    thread_.join();
    ::close(fd_);
  }

  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // 0: answer 200 again.
  void failWith(int status) { failing_ = status; }
  // Answer with a body of `bytes` bytes.
  void answerBytes(size_t bytes) { bodyBytes_ = bytes; }
  // Read requests, answer none (until the client gives up).
  void hang(bool on) { hanging_ = on; }

  std::vector<ReceivedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    while (!stopping_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      handle(conn);
      ::close(conn);
    }
  }

  // Reads one request (headers, then Content-Length bytes of body) within a few seconds.
  void handle(int conn) {
    std::string data;
    size_t headerEnd = std::string::npos;
    size_t wanted = 0;
    char buf[4096];
    for (int rounds = 0; rounds < 100; ++rounds) {
      if (headerEnd != std::string::npos && data.size() >= headerEnd + 4 + wanted) break;
      pollfd p{conn, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::read(conn, buf, sizeof buf);
      if (n <= 0) return;
      data.append(buf, static_cast<size_t>(n));
      if (headerEnd == std::string::npos) {
        headerEnd = data.find("\r\n\r\n");
        if (headerEnd != std::string::npos) wanted = contentLength(data.substr(0, headerEnd));
      }
    }
    if (headerEnd == std::string::npos) return;
    ReceivedRequest r = parse(data.substr(0, headerEnd));
    r.body = data.substr(headerEnd + 4, wanted);
    r.answered = hanging_ ? 0 : failing_ != 0 ? failing_.load() : 200;
    const std::string body = bodyBytes_ > 0      ? std::string(bodyBytes_.load(), 'b')
                             : r.answered == 200 ? "ok"
                                                 : "receiver unavailable";
    const std::string reply = "HTTP/1.1 " + std::to_string(r.answered) +
                              " X\r\nContent-Length: " + std::to_string(body.size()) +
                              "\r\nConnection: close\r\n\r\n" + body;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(std::move(r));
    }
    if (hanging_) {
      // Holds the connection open without a word until the client closes it.
      pollfd p{conn, POLLIN, 0};
      for (int i = 0; i < 100 && !stopping_; ++i) {
        if (::poll(&p, 1, 50) > 0) break;
      }
      return;
    }
    size_t sent = 0;
    while (sent < reply.size()) {
      const ssize_t n = ::send(conn, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;  // the aggregator gave up on this request: it retries
      sent += static_cast<size_t>(n);
    }
  }

  static std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  }

  static ReceivedRequest parse(const std::string& head) {
    ReceivedRequest r;
    size_t pos = head.find("\r\n");
    const std::string line = head.substr(0, pos);
    const size_t sp1 = line.find(' ');
    const size_t sp2 = line.find(' ', sp1 + 1);
    r.method = line.substr(0, sp1);
    r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    while (pos != std::string::npos && pos < head.size()) {
      const size_t start = pos + 2;
      pos = head.find("\r\n", start);
      const std::string h =
          head.substr(start, pos == std::string::npos ? std::string::npos : pos - start);
      const size_t colon = h.find(':');
      if (colon == std::string::npos) continue;
      std::string value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.erase(0, 1);
      r.headers[lower(h.substr(0, colon))] = value;
    }
    return r;
  }

  static size_t contentLength(const std::string& head) {
    const auto r = parse(head);
    const auto it = r.headers.find("content-length");
    return it == r.headers.end() ? 0 : std::stoul(it->second);
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> failing_{0};
  std::atomic<size_t> bodyBytes_{0};
  std::atomic<bool> hanging_{false};
  mutable std::mutex mutex_;
  std::vector<ReceivedRequest> requests_;
  std::thread thread_;
};

}  // namespace driftwatch::testing

#include "agent/uplink/uploader.h"

#include <random>

#include <sys/stat.h>

#include "agent/transport/https_client.h"
#include "agent/uplink/batch_queue.h"
#include "agent/uplink/identity.h"
#include "common/base/escape.h"
#include "common/crypto/signing.h"
#include "common/wire/codec.h"

namespace driftwatch::agent {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kEnrollmentPoll{5000};
constexpr milliseconds kQuotaCheckEvery{30'000};
constexpr milliseconds kFirstRetry{1000};
constexpr milliseconds kRulesEvery{5000};  // the shortest time between two requests for rules
// Rules are asked for when the outbox is empty; a host that is never idle asks this often.
constexpr milliseconds kRulesEvenWhenBusy{60'000};
constexpr std::string_view kProtobuf = "application/x-protobuf";

// What identifies the enrollment file's version: a new enrollment replaces the file.
std::string fileStamp(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};
  return std::to_string(st.st_ino) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_size);
}

std::string secondsText(milliseconds d) {
  if (d.count() < 1000) return std::to_string(d.count()) + "ms";
  return std::to_string((d.count() + 500) / 1000) + "s";
}

// A reply body that is text, trimmed and made safe to log.
std::string replyText(const HttpReply& reply) {
  std::string body = reply.body.substr(0, 300);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r'))
    body.pop_back();
  return displaySafe(body);
}

int64_t unixMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Uploader::fetchRules(HttpsClient& client, const std::string& hostId,
                          const std::string& rulesKey, uint64_t have) {
  // `held` decides which bundle is new; `have` is what the aggregator may judge by.
  const uint64_t held = options_.rulesRevision(hostId);
  const auto refused = [&](std::string why) {
    RulesFetch f;
    f.kind = RulesFetch::Kind::kRefused;
    f.reason = std::move(why);
    f.atMs = unixMs();
    options_.onRules(std::move(f));
  };
  auto reply = client.post("/v1/rules", wire::encode(wire::RulesRequest{hostId, have}), kProtobuf);
  // Unreachable: the report that follows says so, and the next one asks again.
  if (!reply.ok()) return;
  if (reply->status != 200 || reply->contentType != kProtobuf) {
    return refused("the aggregator answered HTTP " + std::to_string(reply->status) + ": " +
                   replyText(*reply));
  }
  auto answer = wire::decodeRulesResponse(reply->body);
  if (!answer.ok()) return refused("malformed answer: " + answer.error().describe());
  if (answer->status == wire::RulesStatus::kUnchanged) {
    RulesFetch f;
    f.atMs = unixMs();
    return options_.onRules(std::move(f));
  }
  auto verified = verifyRuleBundle(std::move(answer->bundle), std::move(answer->signature),
                                   rulesKey, hostId, held);
  if (!verified.ok()) return refused(verified.error().message);
  RulesFetch f;
  f.kind = RulesFetch::Kind::kBundle;
  f.bundle = std::move(verified).value();
  f.atMs = unixMs();
  options_.onRules(std::move(f));
}

Uploader::Uploader(UploaderOptions options, LogFn log)
    : options_(std::move(options)), log_(std::move(log)) {}

Uploader::~Uploader() {
  stop();
}

void Uploader::start() {
  thread_ = std::thread([this] { run(); });
}

void Uploader::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_one();
}

void Uploader::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (client_ != nullptr) client_->abort();
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool Uploader::waitForWork(milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [this] { return stopping_ || woken_; });
  const bool woken = woken_;
  woken_ = false;
  return woken && !stopping_;
}

void Uploader::pause(milliseconds duration) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, duration, [this] { return stopping_; });
}

void Uploader::run() {
  const std::string enrollmentPath = options_.stateDir + "/" + std::string(kEnrollmentFile);
  auto opened = BatchQueue::open(options_.stateDir);
  if (!opened.ok()) {
    log_("error", "reporting is off: " + opened.error().describe());
    return;
  }
  BatchQueue queue = std::move(opened).value();
  std::mt19937_64 rng(std::random_device{}());

  std::string stamp;  // of the enrollment loaded
  std::optional<AgentIdentity> identity;
  std::optional<crypto::Ed25519Key> key;
  std::unique_ptr<HttpsClient> client;
  milliseconds backoff{0};
  std::string lastFailure;
  auto lastReport = Clock::now();
  auto lastQuotaCheck = Clock::time_point{};
  auto lastBacklogDrop = Clock::time_point{};
  auto lastRules = Clock::time_point{};
  bool firstRules = false;  // right after an enrollment is loaded, before anything is sent
  bool rulesDue = false;    // after reports
  // What the agent tells the aggregator it holds: the daemon's revision, once everything it
  // observed under it has been sent (read before an empty outbox was found). Until then the
  // aggregator does not judge what the agent has not reported as absent.
  uint64_t reported = 0;
  uint64_t lastSaid = 0;
  const bool wantRules = options_.onRules && options_.rulesRevision;
  const auto canAskRules = [&] {
    return wantRules && identity && !identity->rulesPublicKey.empty() &&
           !(options_.rulesPending && options_.rulesPending(identity->hostId));
  };
  const auto askRules = [&](uint64_t have) {
    firstRules = rulesDue = false;
    lastRules = Clock::now();
    lastSaid = have;
    fetchRules(*client, identity->hostId, identity->rulesPublicKey, have);
  };

  const auto setClient = [&](std::unique_ptr<HttpsClient> c) {
    std::lock_guard lock(mutex_);
    client_ = c.get();
    client = std::move(c);
  };
  const auto stopping = [&] {
    std::lock_guard lock(mutex_);
    return stopping_;
  };
  const auto retryLater = [&](const std::string& why) {
    backoff = backoff.count() == 0 ? kFirstRetry : std::min(options_.retryMax, backoff * 2);
    backoff = std::min(backoff, options_.retryMax);
    // Half fixed, half random: a fleet that lost its aggregator does not come back in step.
    std::uniform_int_distribution<int64_t> jitter(0, backoff.count() / 2);
    const milliseconds wait{backoff.count() / 2 + jitter(rng)};
    if (why != lastFailure) {
      log_("warning", why + "; retrying in " + secondsText(wait) + " (backing off up to " +
                          secondsText(options_.retryMax) + "), changes wait in the outbox");
      lastFailure = why;
    }
    (void)queue.noteContact(false, why);
    pause(wait);
  };

  while (!stopping()) {
    const std::string current = fileStamp(enrollmentPath);
    if (current != stamp) {
      stamp = current;
      if (options_.enrolled != nullptr) {
        const bool enrolledNow = !current.empty();
        // A transaction of the daemon's loop that began while the gate was closed may still be
        // open: its changes reach neither the outbox nor a snapshot built before it commits.
        // Wait for it, so that the first snapshot sees them.
        if (enrolledNow && !options_.enrolled->exchange(true)) {
          if (auto s = queue.waitForWriters(); !s.ok()) log_("warning", s.error().describe());
        }
        if (!enrolledNow) options_.enrolled->store(false);
      }
      setClient(nullptr);
      identity.reset();
      key.reset();
      auto loaded = loadIdentity(options_.stateDir);
      if (!loaded.ok()) {
        log_("error", "reporting is off: " + loaded.error().describe());
      } else if (*loaded) {
        auto k =
            crypto::Ed25519Key::fromPem((*loaded)->keyPem, options_.stateDir + "/identity.key");
        if (!k.ok()) {
          log_("error", "reporting is off: " + k.error().describe());
        } else {
          identity = std::move(*loaded);
          key.emplace(std::move(k).value());
          HttpsClientOptions o;
          o.host = identity->server.host;
          o.port = identity->server.port;
          o.caPem = identity->caPem;
          o.clientCertPem = identity->certPem;
          o.clientKeyPem = identity->keyPem;
          o.userAgent = "driftwatch-agent/" + options_.agentVersion;
          o.maxReplyBytes = wire::kMaxRulesReplyBytes;  // a rule bundle may carry baselines
          setClient(std::make_unique<HttpsClient>(o));
          firstRules = true;
          rulesDue = false;
          reported = lastSaid = 0;
          backoff = milliseconds(0);
          lastFailure.clear();
          log_("info", "reporting to " + identity->server.str() + " as host " + identity->hostId);
          if (wantRules && identity->rulesPublicKey.empty()) {
            log_("warning",
                 "this enrollment predates fleet rules (no rules key): the agent keeps to its "
                 "local policy; enroll it again with --force to receive the fleet's rules");
          }
        }
      }
    }
    if (!identity) {
      // Nothing is sent change by change before enrollment: the first report is a snapshot.
      if (Clock::now() - lastBacklogDrop > std::chrono::minutes(1)) {
        if (auto s = queue.dropBacklog(); !s.ok()) log_("error", s.error().describe());
        lastBacklogDrop = Clock::now();
      }
      pause(kEnrollmentPoll);
      continue;
    }

    // The first rules come before the first report, so that it covers their paths. A host
    // whose outbox never empties (a steady stream of changes) still asks now and then.
    if (canAskRules() &&
        (firstRules || (rulesDue && Clock::now() - lastRules >= kRulesEvenWhenBusy))) {
      askRules(std::min(options_.rulesRevision(identity->hostId), reported));
      if (stopping()) break;
    }

    if (Clock::now() - lastQuotaCheck > kQuotaCheckEvery) {
      lastQuotaCheck = Clock::now();
      auto compacted = queue.enforceQuota(options_.outboxQuotaBytes);
      if (!compacted.ok()) {
        log_("error", compacted.error().describe());
      } else if (compacted->merged > 0 || compacted->dropped) {
        log_("warning",
             "the outbox reached its quota (" + std::to_string(options_.outboxQuotaBytes >> 20) +
                 " MiB): " +
                 (compacted->dropped ? std::string("dropped it; a full snapshot follows")
                                     : "merged " + std::to_string(compacted->merged) +
                                           " changes into the latest state of their resource"));
      }
    }

    const bool heartbeatDue = Clock::now() - lastReport >= options_.heartbeatInterval;
    const BatchSigner signer{identity->hostId, &*key, options_.agentVersion};
    // Read before the outbox: what the daemon observed under this revision is in the outbox by
    // the time it holds it, so an empty outbox afterwards means it has all been sent.
    const uint64_t heldBefore = wantRules ? options_.rulesRevision(identity->hostId) : 0;
    auto batch = queue.next(signer, heartbeatDue);
    if (!batch.ok()) {
      log_("error", "cannot build a report: " + batch.error().describe());
      pause(options_.retryMax);
      continue;
    }
    if (!*batch) {
      // Nothing left to send: what the agent observed under the rules it holds has been
      // reported, so the revision it names now is one the aggregator may judge by. A revision
      // held since the last request is said at once.
      reported = heldBefore;
      if (canAskRules() &&
          (rulesDue || reported != lastSaid ||
           Clock::now() - lastRules >= std::max(options_.heartbeatInterval, kRulesEvery))) {
        askRules(reported);
        if (stopping()) break;
        continue;
      }
      const auto wait = std::chrono::duration_cast<milliseconds>(options_.heartbeatInterval -
                                                                 (Clock::now() - lastReport));
      if (waitForWork(std::max(wait, milliseconds(1)))) pause(options_.batchDelay);
      continue;
    }

    auto reply = client->post("/v1/report", (*batch)->signedBytes, kProtobuf);
    if (stopping()) break;
    if (!reply.ok()) {
      retryLater("cannot reach the aggregator: " + reply.error().describe());
      continue;
    }
    auto answer = wire::decodeReportResponse(reply->body);
    if (!answer.ok() || reply->contentType != kProtobuf) {
      retryLater("the aggregator answered HTTP " + std::to_string(reply->status) + ": " +
                 replyText(*reply));
      continue;
    }
    const wire::ReportResponse& r = *answer;
    Status applied;
    if (r.status == wire::ReportStatus::kAccepted && r.ackedSeq == (*batch)->seq &&
        r.ackedDigest == (*batch)->digest) {
      applied = queue.acknowledged(**batch);
    } else if (r.status == wire::ReportStatus::kRefused) {
      backoff = options_.retryMax;
      retryLater("the aggregator refused the report: " + displaySafe(r.reason));
      continue;
    } else {
      // A resync, or an acknowledgement of another chain (the aggregator's or the agent's state
      // was restored from a backup): a full snapshot continues from what the aggregator holds.
      log_("info",
           "the aggregator asked for a full snapshot (" +
               (r.reason.empty() ? std::string("its chain is elsewhere") : displaySafe(r.reason)) +
               ")");
      applied = queue.resyncFrom(r.ackedSeq, r.ackedDigest);
    }
    if (!applied.ok()) {
      log_("error", "cannot record the aggregator's answer: " + applied.error().describe());
      pause(options_.retryMax);
      continue;
    }
    (void)queue.noteContact(true, "");
    if (!lastFailure.empty()) log_("info", "reporting to the aggregator again");
    lastFailure.clear();
    backoff = milliseconds(0);
    lastReport = Clock::now();
    // Rules follow the report schedule: a busy host asks at most every few seconds.
    if (Clock::now() - lastRules >= kRulesEvery) rulesDue = true;
  }
  setClient(nullptr);
}

}  // namespace driftwatch::agent

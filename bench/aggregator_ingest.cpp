// Benchmark: aggregator ingest. N simulated enrolled agents (real Ed25519 keys, real
// enrollment, real mutual TLS, real signatures and hash chains, each with its own connection)
// report delta batches to one real driftwatch-aggregator on 127.0.0.1.
//
//  - signed deltas per second the aggregator acknowledged (committed), against the same deltas
//    written by this process straight into SQLite the way the fleet store keeps them (WAL,
//    synchronous=FULL, one transaction a batch): what the protocol, TLS and checks cost over
//    the store itself;
//  - p50/p99 acknowledgement latency (request sent to ACCEPTED received), at full speed (a closed
//    loop: every request waits behind the others in flight, so latency is in-flight/throughput)
//    and at a steady offered load (an open loop at --paced-rate deltas per second, timed from
//    when each request was due, so a generator that falls behind cannot hide the delay);
//  - the aggregator's peak resident memory.
//
// Usage: bench_aggregator_ingest --aggregator PATH [--agents N,M] [--batches B] [--deltas D]
//                                [--threads T] [--paced-rate R] [--paced-seconds S] [--runs N]
//                                [--json FILE]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>

#include "agent/transport/https_client.h"
#include "agent/uplink/enroller.h"
#include "bench/bench_util.h"
#include "common/crypto/sha256.h"
#include "common/crypto/signing.h"
#include "common/crypto/state_digest.h"
#include "common/sqlite/database.h"
#include "common/wire/codec.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace driftwatch;
using namespace driftwatch::bench;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string aggregator;
  std::vector<size_t> agents = {100, 1000};
  int batches = 20;          // per agent
  int deltas = 100;          // per batch
  int threads = 32;          // requests in flight at most
  int resources = 500;       // per agent, changed in turn
  double pacedRate = 20000;  // deltas per second offered in the paced phase
  double pacedSeconds = 10;
  int runs = 1;
  std::string json;
};

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One simulated agent: its identity, its connection, and its side of the chain.
struct SimAgent {
  std::string hostId;
  std::optional<crypto::Ed25519Key> key;
  std::unique_ptr<agent::HttpsClient> client;
  uint64_t seq = 0;
  std::string prevDigest;
  crypto::StateDigest state;
  std::vector<std::string> current;  // state of resource i, "" when not there yet
  uint64_t changes = 0;
};

std::string resourceName(size_t i) {
  return "file:/srv/data/f" + std::to_string(i);
}

std::string stateFor(uint64_t change) {
  const auto d = Sha256::of(std::to_string(change));
  return "present\ttype=file\tmode=0644\towner=0\tgroup=0\tsize=" + std::to_string(change % 9000) +
         "\tsha256=" + toHex(d);
}

// The next batch of `a`'s chain: a snapshot of nothing first, then `deltas` changes.
std::string nextBatch(SimAgent& a, int deltas, int resources) {
  wire::Batch b;
  b.hostId = a.hostId;
  b.seq = a.seq + 1;
  b.prevDigest = a.prevDigest;
  b.agentVersion = "bench";
  if (a.seq == 0) {
    b.snapshot = wire::SnapshotPart{0, true};
  } else {
    for (int k = 0; k < deltas; ++k) {
      const size_t r = a.changes % static_cast<size_t>(resources);
      const std::string id = resourceName(r);
      std::string st = stateFor(a.changes + (static_cast<uint64_t>(b.seq) << 32));
      if (!a.current[r].empty()) a.state.remove(id, a.current[r]);
      a.state.add(id, st);
      a.current[r] = st;
      b.deltas.push_back({id, std::move(st), 1'800'000'000'000});
      ++a.changes;
    }
  }
  b.stateDigest = a.state.bytes();
  const std::string bytes = wire::encode(b);
  const auto digest = Sha256::of(bytes);
  a.seq = b.seq;
  a.prevDigest.assign(digest.begin(), digest.end());
  return wire::encode(wire::SignedBatch{bytes, a.key->sign(bytes)});
}

// The reference: the same deltas written straight into SQLite as the fleet store keeps them.
double directSqliteSeconds(const std::string& dir, size_t agents, const Options& o) {
  sqlite::OpenOptions options;
  options.durableCommits = true;
  options.cacheKiB = 16 * 1024;
  auto db = sqlite::Database::open(dir + "/direct.db", options);
  if (!db.ok()) throw std::runtime_error(db.error().describe());
  auto s = db->exec(
      "CREATE TABLE resources (host TEXT, resource TEXT, state TEXT, observed_at INTEGER, seq "
      "INTEGER, PRIMARY KEY (host, resource)) WITHOUT ROWID;"
      "CREATE TABLE history (id INTEGER PRIMARY KEY, host TEXT, resource TEXT, state TEXT, "
      "observed_at INTEGER, seq INTEGER, recorded_at INTEGER);"
      "CREATE INDEX history_by_resource ON history (host, resource, id);");
  if (!s.ok()) throw std::runtime_error(s.error().describe());
  auto get = db->prepare("SELECT state FROM resources WHERE host = ? AND resource = ?");
  auto put = db->prepare("INSERT OR REPLACE INTO resources VALUES (?, ?, ?, ?, ?)");
  auto hist = db->prepare(
      "INSERT INTO history (host, resource, state, observed_at, seq, "
      "recorded_at) VALUES (?, ?, ?, ?, ?, ?)");
  if (!get.ok() || !put.ok() || !hist.ok()) throw std::runtime_error("prepare");
  const auto start = Clock::now();
  std::vector<uint64_t> changes(agents, 0);
  for (int batch = 1; batch <= o.batches; ++batch) {
    for (size_t a = 0; a < agents; ++a) {
      const std::string host = "bench-" + std::to_string(a);
      auto tx = sqlite::Transaction::begin(*db);
      if (!tx.ok()) throw std::runtime_error(tx.error().describe());
      for (int k = 0; k < o.deltas; ++k) {
        const std::string id = resourceName(changes[a] % static_cast<size_t>(o.resources));
        const std::string st = stateFor(changes[a]++);
        get->reset();
        get->bind(1, host).bind(2, id);
        (void)get->step();
        put->reset();
        (void)put->bind(1, host).bind(2, id).bind(3, st).bind(4, 1).bind(5, batch).run();
        hist->reset();
        (void)hist->bind(1, host)
            .bind(2, id)
            .bind(3, st)
            .bind(4, 1)
            .bind(5, batch)
            .bind(6, 1)
            .run();
      }
      if (auto c = tx->commit(); !c.ok()) throw std::runtime_error(c.error().describe());
    }
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct IngestRun {
  double seconds = 0;
  uint64_t deltas = 0;
  std::vector<double> latenciesMs;
  std::vector<double> pacedLatenciesMs;
  uint64_t failures = 0;
  long peakRssKib = 0;
};

IngestRun ingest(size_t agentCount, const Options& o) {
  testing::TempDir work;
  work.write("aggregator.yaml", "data_dir: " + work.at("data") +
                                    "\nmax_connections: 20000\nmax_connections_per_address: "
                                    "20000\nthreads: 2\n");
  testing::Child server(
      {o.aggregator, "serve", "--config", work.at("aggregator.yaml"), "--listen", "127.0.0.1:0"},
      work.at("serve.out"), work.at("serve.err"));
  if (!testing::waitFor([&] {
        return readText(work.at("serve.out")).find("listening on") != std::string::npos;
      })) {
    throw std::runtime_error("the aggregator did not start: " + readText(work.at("serve.err")));
  }
  const std::string out = readText(work.at("serve.out"));
  const auto fp = out.find("CA fingerprint: ");
  const std::string fingerprint = out.substr(fp + 16, out.find('\n', fp) - fp - 16);
  const auto at = out.find("listening on https://127.0.0.1:");
  const std::string port = std::to_string(std::stoi(out.substr(at + 31)));
  const std::string url = "https://127.0.0.1:" + port;

  const auto token =
      testing::runProcess({o.aggregator, "token", "create", "--config", work.at("aggregator.yaml"),
                           "--uses", std::to_string(agentCount)});
  if (token.exitCode != 0) throw std::runtime_error("token create: " + token.err);
  const std::string secret = token.out.substr(0, token.out.find('\n'));

  std::vector<SimAgent> agents(agentCount);
  for (size_t i = 0; i < agentCount; ++i) {
    agent::EnrollOptions e;
    e.server = url;
    e.token = secret;
    e.caFingerprint = fingerprint;
    e.stateDir = work.at("agents/" + std::to_string(i));
    e.hostname = "bench-" + std::to_string(i);
    e.agentVersion = "bench";
    work.mkdir("agents/" + std::to_string(i));
    auto id = agent::enroll(e);
    if (!id.ok()) throw std::runtime_error("enroll: " + id.error().describe());
    auto key = crypto::Ed25519Key::fromPem(id->keyPem, "identity.key");
    if (!key.ok()) throw std::runtime_error(key.error().describe());
    SimAgent& a = agents[i];
    a.hostId = id->hostId;
    a.key.emplace(std::move(*key));
    a.current.assign(static_cast<size_t>(o.resources), "");
    agent::HttpsClientOptions c;
    c.host = "127.0.0.1";
    c.port = port;
    c.caPem = id->caPem;
    c.clientCertPem = id->certPem;
    c.clientKeyPem = id->keyPem;
    a.client = std::make_unique<agent::HttpsClient>(c);
  }

  const auto send = [&](SimAgent& a, IngestRun& run, std::vector<double>& latencies,
                        std::optional<Clock::time_point> due = std::nullopt) {
    const std::string body = nextBatch(a, o.deltas, o.resources);
    const auto t0 = due.value_or(Clock::now());
    auto reply = a.client->post("/v1/report", body, "application/x-protobuf");
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    auto decoded = reply.ok() ? wire::decodeReportResponse(reply->body)
                              : Result<wire::ReportResponse>(reply.error());
    if (!decoded.ok() || decoded->status != wire::ReportStatus::kAccepted) {
      ++run.failures;
      return;
    }
    latencies.push_back(ms);
  };

  // Every agent's first report (its empty snapshot) opens its connection, before the clock.
  IngestRun run;
  std::vector<double> ignored;
  for (auto& a : agents)
    send(a, run, ignored);

  const int threads = std::min<int>(o.threads, static_cast<int>(agentCount));
  std::vector<std::vector<double>> latencies(static_cast<size_t>(threads));
  std::vector<IngestRun> perThread(static_cast<size_t>(threads));
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int b = 0; b < o.batches; ++b) {
        for (size_t i = static_cast<size_t>(t); i < agentCount; i += static_cast<size_t>(threads))
          send(agents[i], perThread[static_cast<size_t>(t)], latencies[static_cast<size_t>(t)]);
      }
    });
  }
  for (auto& w : workers)
    w.join();
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (size_t t = 0; t < latencies.size(); ++t) {
    run.latenciesMs.insert(run.latenciesMs.end(), latencies[t].begin(), latencies[t].end());
    run.failures += perThread[t].failures;
  }
  run.deltas = static_cast<uint64_t>(run.latenciesMs.size()) * static_cast<uint64_t>(o.deltas);

  // The paced phase: request k is due at k / rate seconds; the threads take them in turn.
  const double batchesPerSecond = o.pacedRate / o.deltas;
  const size_t pacedCount = static_cast<size_t>(batchesPerSecond * o.pacedSeconds);
  std::atomic<size_t> nextRequest{0};
  std::vector<std::vector<double>> paced(static_cast<size_t>(threads));
  std::vector<std::mutex> agentLocks(agentCount);
  std::vector<IngestRun> pacedRuns(static_cast<size_t>(threads));
  const auto pacedStart = Clock::now() + std::chrono::milliseconds(100);
  workers.clear();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (size_t k = nextRequest++; k < pacedCount; k = nextRequest++) {
        const auto due = pacedStart + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(k / batchesPerSecond));
        std::this_thread::sleep_until(due);
        const size_t i = k % agentCount;
        std::lock_guard lock(agentLocks[i]);  // one request at a time on an agent's chain
        send(agents[i], pacedRuns[static_cast<size_t>(t)], paced[static_cast<size_t>(t)], due);
      }
    });
  }
  for (auto& w : workers)
    w.join();
  for (size_t t = 0; t < paced.size(); ++t)
    run.pacedLatenciesMs.insert(run.pacedLatenciesMs.end(), paced[t].begin(), paced[t].end());
  for (const auto& p : pacedRuns)
    run.failures += p.failures;
  run.peakRssKib = peakResidentKib(server.pid());
  agents.clear();  // connections closed before the server stops
  server.signal(SIGTERM);
  (void)server.wait(std::chrono::seconds(30));
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--aggregator") {
      o.aggregator = next();
    } else if (a == "--agents") {
      o.agents.clear();
      std::stringstream list(next());
      for (std::string item; std::getline(list, item, ',');)
        o.agents.push_back(std::stoul(item));
    } else if (a == "--batches") {
      o.batches = std::stoi(next());
    } else if (a == "--deltas") {
      o.deltas = std::stoi(next());
    } else if (a == "--threads") {
      o.threads = std::stoi(next());
    } else if (a == "--runs") {
      o.runs = std::max(1, std::stoi(next()));
    } else if (a == "--paced-rate") {
      o.pacedRate = std::stod(next());
    } else if (a == "--paced-seconds") {
      o.pacedSeconds = std::stod(next());
    } else if (a == "--json") {
      o.json = next();
    } else {
      std::cerr << "unknown option " << a << "\n";
      return 1;
    }
  }
  if (o.aggregator.empty()) {
    std::cerr << "--aggregator PATH is required\n";
    return 1;
  }
  wire::silenceParserLogs();
  Results results;
  try {
    for (const size_t n : o.agents) {
      const std::string label = std::to_string(n) + "_agents";
      const std::string offered = std::to_string(static_cast<long>(o.pacedRate));
      // Each run: the SQLite reference, then a fresh aggregator; medians and spreads over runs.
      std::vector<double> refRates, rates, p50, p99, pacedP50, pacedP99, rss;
      double failures = 0;
      for (int r = 0; r < o.runs; ++r) {
        testing::TempDir refDir;
        const double refSeconds = directSqliteSeconds(refDir.path(), n, o);
        refRates.push_back(static_cast<double>(n) * o.batches * o.deltas / refSeconds);
        const IngestRun run = ingest(n, o);
        rates.push_back(static_cast<double>(run.deltas) / run.seconds);
        p50.push_back(percentile(run.latenciesMs, 50));
        p99.push_back(percentile(run.latenciesMs, 99));
        pacedP50.push_back(percentile(run.pacedLatenciesMs, 50));
        pacedP99.push_back(percentile(run.pacedLatenciesMs, 99));
        rss.push_back(run.peakRssKib / 1024.0);
        failures += static_cast<double>(run.failures);
      }
      results.add("ingest_deltas_per_second_" + label, median(rates), "deltas/s", spread(rates),
                  "same deltas straight into SQLite (FULL sync)", median(refRates));
      results.add("ingest_ack_latency_p50_" + label, median(p50), "ms", spread(p50));
      results.add("ingest_ack_latency_p99_" + label, median(p99), "ms", spread(p99));
      results.add("ingest_ack_latency_p50_at_" + offered + "_deltas_per_s_" + label,
                  median(pacedP50), "ms", spread(pacedP50));
      results.add("ingest_ack_latency_p99_at_" + offered + "_deltas_per_s_" + label,
                  median(pacedP99), "ms", spread(pacedP99));
      results.add("ingest_failed_reports_" + label, failures, "reports");
      results.add("aggregator_peak_rss_" + label, median(rss), "MiB", spread(rss));
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_aggregator_ingest: " << e.what() << "\n";
    return 1;
  }
  return results.write(o.json) ? 0 : 1;
}

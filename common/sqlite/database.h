#pragma once
// A thin RAII layer over SQLite: a connection, prepared statements, transactions and schema
// migrations. Every failure is wrapped once, here, with the database path and SQLite's own
// message. A Database is used by one thread at a time (open another connection per thread;
// WAL mode lets readers run beside the writer).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace driftwatch::sqlite {

class Database;
struct Connection;  // the open sqlite3 handle and its path; stable across moves of Database

class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binding is 1-based like SQLite; text and blobs are copied (SQLITE_TRANSIENT).
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bindBlob(int index, std::string_view bytes);
  Statement& bindNull(int index);

  // Runs to the next row: true when a row is ready, false when done. Errors are sticky and
  // reported by status() / done().
  bool step();
  // Runs a statement that returns no rows; the error, if any.
  Status run();
  // Resets for another execution with new bindings.
  void reset();

  bool isNull(int column) const;
  int64_t columnInt(int column) const;
  std::string columnText(int column) const;  // text or blob bytes

  const Status& status() const { return status_; }

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, const Connection* conn) : stmt_(stmt), conn_(conn) {}
  void fail(int rc);

  sqlite3_stmt* stmt_ = nullptr;
  const Connection* conn_ = nullptr;
  Status status_;
};

struct OpenOptions {
  bool readOnly = false;
  bool create = true;
  int busyTimeoutMs = 5000;
  int cacheKiB = 2048;  // page cache: bounds the memory SQLite keeps
  // Every commit reaches the disk before it returns (synchronous=FULL), for a database whose
  // commits are promised to others (the aggregator acknowledges what it committed).
  bool durableCommits = false;
};

class Database {
 public:
  static Result<Database> open(const std::string& path, const OpenOptions& options = {});

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  Result<Statement> prepare(std::string_view sql) const;
  // Runs one or more statements that return nothing.
  Status exec(std::string_view sql) const;
  int64_t changes() const;
  const std::string& path() const;

  // Wraps the connection's last error: "PATH: what: SQLite message".
  Error lastError(int rc, std::string_view what) const;

  // Applies migrations[i] for every i at or above the stored user_version, each in its own
  // transaction, so a database from any earlier version upgrades in place. A database newer
  // than this program is refused.
  Status migrate(std::span<const std::string_view> migrations) const;

 private:
  explicit Database(std::unique_ptr<Connection> conn);
  std::unique_ptr<Connection> conn_;
};

// Prepared statements kept for reuse by their SQL text, so each is compiled once per
// connection. Belongs with one connection and is used like it: from one thread at a time.
class StatementCache {
 public:
  // The statement for `sql` on `db`, reset and ready for new bindings.
  Result<Statement*> get(const Database& db, std::string_view sql);

 private:
  std::vector<std::pair<std::string, std::unique_ptr<Statement>>> statements_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless commit() succeeded.
class Transaction {
 public:
  static Result<Transaction> begin(const Database& db);
  // A read transaction (BEGIN DEFERRED): every read in it sees one snapshot, and in WAL mode it
  // does not hold up writers on other connections.
  static Result<Transaction> beginRead(const Database& db);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(const Database* db) : db_(db) {}
  const Database* db_;
  bool open_ = true;
};

// A nested unit inside an open transaction (SAVEPOINT ... RELEASE): rolled back to its start
// unless release() succeeded, leaving the enclosing transaction open. Lets one transaction (one
// disk flush) carry several independent pieces of work, each undone alone when it fails.
class Savepoint {
 public:
  static Result<Savepoint> begin(const Database& db);
  Savepoint(Savepoint&& other) noexcept;
  Savepoint& operator=(Savepoint&&) = delete;
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;
  ~Savepoint();
  Status release();

 private:
  explicit Savepoint(const Database* db) : db_(db) {}
  const Database* db_;
  bool open_ = true;
};

}  // namespace driftwatch::sqlite

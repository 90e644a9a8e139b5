#include "common/sqlite/database.h"

#include <utility>

#include <sqlite3.h>

namespace driftwatch::sqlite {

struct Connection {
  sqlite3* db = nullptr;
  std::string path;
  ~Connection() { sqlite3_close_v2(db); }
};

namespace {

Error connectionError(const Connection& conn, int rc, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += conn.db != nullptr ? sqlite3_errmsg(conn.db) : sqlite3_errstr(rc);
  ErrorCode code = ErrorCode::kIo;
  if ((rc & 0xff) == SQLITE_CONSTRAINT) code = ErrorCode::kConflict;
  if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
    code = ErrorCode::kInvalidInput;
  return makeError(code, std::move(message), conn.path);
}

}  // namespace

// ---- Statement ---------------------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      conn_(other.conn_),
      status_(std::move(other.status_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    conn_ = other.conn_;
    status_ = std::move(other.status_);
  }
  return *this;
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

void Statement::fail(int rc) {
  if (status_.ok()) status_ = connectionError(*conn_, rc, "statement failed");
}

Statement& Statement::bind(int index, int64_t value) {
  if (const int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) fail(rc);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  if (const int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                                         SQLITE_UTF8);
      rc != SQLITE_OK) {
    fail(rc);
  }
  return *this;
}

Statement& Statement::bindBlob(int index, std::string_view bytes) {
  if (const int rc =
          sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
      rc != SQLITE_OK) {
    fail(rc);
  }
  return *this;
}

Statement& Statement::bindNull(int index) {
  if (const int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) fail(rc);
  return *this;
}

bool Statement::step() {
  if (!status_.ok()) return false;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) fail(rc);
  return false;
}

Status Statement::run() {
  while (step()) {
  }
  Status result = status_;
  reset();
  return result;
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  status_ = Status();
}

bool Statement::isNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::columnInt(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::columnText(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

// ---- Database ----------------------------------------------------------------------------

Result<Database> Database::open(const std::string& path, const OpenOptions& options) {
  auto conn = std::make_unique<Connection>();
  conn->path = path;
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
  flags |= options.readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (options.create && !options.readOnly) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &conn->db, flags, nullptr);
  if (rc != SQLITE_OK) {
    return makeError(rc == SQLITE_CANTOPEN ? ErrorCode::kNotFound : ErrorCode::kIo,
                     std::string("cannot open the database: ") +
                         (conn->db != nullptr ? sqlite3_errmsg(conn->db) : sqlite3_errstr(rc)),
                     path);
  }
  sqlite3_extended_result_codes(conn->db, 1);
  sqlite3_busy_timeout(conn->db, options.busyTimeoutMs);
  Database db(std::move(conn));
  std::string pragmas =
      "PRAGMA foreign_keys=ON; PRAGMA cache_size=-" + std::to_string(options.cacheKiB) + ";";
  if (!options.readOnly) {
    // WAL: readers (status, scans) never block the writer. NORMAL sync is durable across a
    // process crash (only an OS crash can lose the last transactions, never corrupt the file);
    // FULL also across an OS crash, at one fsync a commit.
    pragmas += " PRAGMA journal_mode=WAL; PRAGMA synchronous=";
    pragmas += options.durableCommits ? "FULL;" : "NORMAL;";
  }
  if (auto s = db.exec(pragmas); !s.ok()) return s.error();
  return db;
}

Database::Database(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}
Database::Database(Database&& other) noexcept = default;
Database& Database::operator=(Database&& other) noexcept = default;
Database::~Database() = default;

const std::string& Database::path() const {
  return conn_->path;
}

Error Database::lastError(int rc, std::string_view what) const {
  return connectionError(*conn_, rc, what);
}

Result<Statement> Database::prepare(std::string_view sql) const {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(conn_->db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return lastError(rc, "cannot prepare a statement");
  return Statement(stmt, conn_.get());
}

Status Database::exec(std::string_view sql) const {
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(conn_->db, text.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  ErrorCode code = ErrorCode::kIo;
  if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
    code = ErrorCode::kInvalidInput;
  return makeError(code, "database error: " + detail, conn_->path);
}

int64_t Database::changes() const {
  return sqlite3_changes64(conn_->db);
}

Status Database::migrate(std::span<const std::string_view> migrations) const {
  auto version = prepare("PRAGMA user_version");
  if (!version.ok()) return version.error();
  int64_t current = 0;
  if (version->step()) current = version->columnInt(0);
  if (!version->status().ok()) return version->status();
  const auto target = static_cast<int64_t>(migrations.size());
  if (current > target) {
    return makeError(ErrorCode::kConflict,
                     "the database was written by a newer driftwatch (schema " +
                         std::to_string(current) + ", this one knows " + std::to_string(target) +
                         "); upgrade driftwatch",
                     conn_->path);
  }
  for (int64_t v = current; v < target; ++v) {
    auto tx = Transaction::begin(*this);
    if (!tx.ok()) return tx.error();
    if (auto s = exec(migrations[static_cast<size_t>(v)]); !s.ok()) return s;
    if (auto s = exec("PRAGMA user_version=" + std::to_string(v + 1)); !s.ok()) return s;
    if (auto s = tx->commit(); !s.ok()) return s;
  }
  return {};
}

// ---- Transaction -------------------------------------------------------------------------

Result<Transaction> Transaction::begin(const Database& db) {
  if (auto s = db.exec("BEGIN IMMEDIATE"); !s.ok()) return s.error();
  return Transaction(&db);
}

Result<Transaction> Transaction::beginRead(const Database& db) {
  if (auto s = db.exec("BEGIN DEFERRED"); !s.ok()) return s.error();
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept
    : db_(other.db_), open_(std::exchange(other.open_, false)) {}

Transaction::~Transaction() {
  if (open_) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  Status s = db_->exec("COMMIT");
  // A failed COMMIT (disk full, I/O error) leaves the transaction open: the destructor rolls
  // it back. A successful one ends it.
  if (s.ok()) open_ = false;
  return s;
}

// ---- Savepoint ---------------------------------------------------------------------------

Result<Savepoint> Savepoint::begin(const Database& db) {
  if (auto s = db.exec("SAVEPOINT unit"); !s.ok()) return s.error();
  return Savepoint(&db);
}

Savepoint::Savepoint(Savepoint&& other) noexcept
    : db_(other.db_), open_(std::exchange(other.open_, false)) {}

Savepoint::~Savepoint() {
  // Undo this unit's changes, then drop the savepoint; the enclosing transaction goes on. (After
  // an error that already rolled back the whole transaction there is nothing to undo.)
  if (open_) (void)db_->exec("ROLLBACK TO unit; RELEASE unit");
}

Status Savepoint::release() {
  Status s = db_->exec("RELEASE unit");
  if (s.ok()) open_ = false;
  return s;
}

Result<Statement*> StatementCache::get(const Database& db, std::string_view sql) {
  for (auto& [text, stmt] : statements_) {
    if (text == sql) {
      stmt->reset();
      return stmt.get();
    }
  }
  auto prepared = db.prepare(sql);
  if (!prepared.ok()) return prepared.error();
  statements_.emplace_back(std::string(sql),
                           std::make_unique<Statement>(std::move(prepared).value()));
  return statements_.back().second.get();
}

}  // namespace driftwatch::sqlite

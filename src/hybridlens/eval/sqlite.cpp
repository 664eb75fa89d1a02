#include "hybridlens/eval/sqlite.hpp"

#include <sqlite3.h>

#include "hybridlens/core/error.hpp"

namespace hl {

SqliteDb::SqliteDb(const std::string& path, Mode mode) : path_(path) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case Mode::ReadOnly: flags |= SQLITE_OPEN_READONLY; break;
    case Mode::ReadWrite: flags |= SQLITE_OPEN_READWRITE; break;
    case Mode::ReadWriteCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
  }
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    fail(path, ": cannot open the database: ", msg);
  }
  sqlite3_busy_timeout(db_, 10000);
  sqlite3_extended_result_codes(db_, 1);
}

SqliteDb::~SqliteDb() {
  if (db_) sqlite3_close_v2(db_);
}

void SqliteDb::raise(const std::string& what, int rc) const {
  const int primary = rc & 0xff;
  if (primary == SQLITE_NOTADB) fail(path_, ": not a SQLite database (", what, ")");
  if (primary == SQLITE_CORRUPT) fail(path_, ": the database file is damaged: ", sqlite3_errmsg(db_));
  fail(path_, ": ", what, ": ", db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
}

void SqliteDb::exec(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    const std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT) raise("executing SQL", rc);
    fail(path_, ": ", msg, " (in: ", sql.substr(0, 80), sql.size() > 80 ? "..." : "", ")");
  }
}

SqliteStatement SqliteDb::prepare(const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.c_str(), int(sql.size()), &st, nullptr);
  if (rc != SQLITE_OK) raise("cannot prepare \"" + sql.substr(0, 80) + "\"", rc);
  return SqliteStatement(*this, st, sql);
}

bool SqliteDb::table_exists(const std::string& name) {
  SqliteStatement s = prepare("SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?");
  s.bind(1, name);
  return s.step();
}

int64_t SqliteDb::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int SqliteDb::changes() const { return sqlite3_changes(db_); }

SqliteStatement::SqliteStatement(SqliteStatement&& o) noexcept : db_(o.db_), st_(o.st_), sql_(std::move(o.sql_)) {
  o.st_ = nullptr;
}

SqliteStatement::~SqliteStatement() {
  if (st_) sqlite3_finalize(st_);
}

#define HL_SQLITE_BIND(call)                                                         \
  do {                                                                               \
    const int rc_ = (call);                                                          \
    if (rc_ != SQLITE_OK) db_->raise("cannot bind parameter " + std::to_string(i), rc_); \
  } while (0)

SqliteStatement& SqliteStatement::bind(int i, int64_t v) {
  HL_SQLITE_BIND(sqlite3_bind_int64(st_, i, v));
  return *this;
}
SqliteStatement& SqliteStatement::bind(int i, double v) {
  HL_SQLITE_BIND(sqlite3_bind_double(st_, i, v));
  return *this;
}
SqliteStatement& SqliteStatement::bind(int i, std::string_view v) {
  HL_SQLITE_BIND(sqlite3_bind_text(st_, i, v.data(), int(v.size()), SQLITE_TRANSIENT));
  return *this;
}
SqliteStatement& SqliteStatement::bind_null(int i) {
  HL_SQLITE_BIND(sqlite3_bind_null(st_, i));
  return *this;
}
#undef HL_SQLITE_BIND

int SqliteStatement::index_of(const char* name) const {
  const int i = sqlite3_bind_parameter_index(st_, name);
  HL_CHECK(i > 0, "internal: SQL parameter ", name, " not in \"", sql_.substr(0, 80), "\"");
  return i;
}

bool SqliteStatement::step() {
  const int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->raise("\"" + sql_.substr(0, 60) + (sql_.size() > 60 ? "...\"" : "\"") + " failed", rc);
}

void SqliteStatement::run() {
  while (step()) {
  }
}

void SqliteStatement::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

int SqliteStatement::columns() const { return sqlite3_column_count(st_); }
std::string SqliteStatement::column_name(int i) const { return sqlite3_column_name(st_, i); }
bool SqliteStatement::is_null(int i) const { return sqlite3_column_type(st_, i) == SQLITE_NULL; }
int SqliteStatement::column_type(int i) const { return sqlite3_column_type(st_, i); }
int64_t SqliteStatement::int64(int i) const { return sqlite3_column_int64(st_, i); }
double SqliteStatement::real(int i) const { return sqlite3_column_double(st_, i); }
std::string SqliteStatement::text(int i) const {
  const unsigned char* p = sqlite3_column_text(st_, i);
  const int n = sqlite3_column_bytes(st_, i);
  return p ? std::string(reinterpret_cast<const char*>(p), size_t(n)) : std::string();
}

SqliteTransaction::SqliteTransaction(SqliteDb& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

SqliteTransaction::~SqliteTransaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void SqliteTransaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace hl

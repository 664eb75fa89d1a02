#pragma once
// A thin RAII layer over the SQLite C API: a connection, prepared statements with typed binding, and
// errors that name the database file. Only what the results store needs.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace hl {

class SqliteStatement;

class SqliteDb {
 public:
  enum class Mode { ReadOnly, ReadWrite, ReadWriteCreate };
  // Throws hl::Error "<path>: cannot open the database: <reason>".
  SqliteDb(const std::string& path, Mode mode);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements without results.
  void exec(const std::string& sql);
  SqliteStatement prepare(const std::string& sql);
  bool table_exists(const std::string& name);
  int64_t last_insert_rowid() const;
  int changes() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

 private:
  friend class SqliteStatement;
  [[noreturn]] void raise(const std::string& what, int rc) const;
  sqlite3* db_ = nullptr;
  std::string path_;
};

class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& o) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Parameters are 1-based, as in SQLite.
  SqliteStatement& bind(int i, int64_t v);
  SqliteStatement& bind(int i, int v) { return bind(i, int64_t(v)); }
  SqliteStatement& bind(int i, bool v) { return bind(i, int64_t(v ? 1 : 0)); }
  SqliteStatement& bind(int i, double v);
  SqliteStatement& bind(int i, std::string_view v);
  SqliteStatement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  SqliteStatement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  SqliteStatement& bind_null(int i);
  // Binds by parameter name (":name"); throws when the statement has no such parameter.
  template <class T>
  SqliteStatement& bind(const char* name, const T& v) { return bind(index_of(name), v); }

  // Advances to the next row; false when done.
  bool step();
  // step() that expects no rows (INSERT/UPDATE/DELETE).
  void run();
  void reset();

  int columns() const;
  std::string column_name(int i) const;
  bool is_null(int i) const;
  // SQLite's storage class of column i of the current row: 1 integer, 2 float, 3 text, 4 blob, 5 null.
  int column_type(int i) const;
  int64_t int64(int i) const;
  double real(int i) const;
  std::string text(int i) const;

 private:
  friend class SqliteDb;
  SqliteStatement(SqliteDb& db, sqlite3_stmt* st, std::string sql) : db_(&db), st_(st), sql_(std::move(sql)) {}
  int index_of(const char* name) const;
  SqliteDb* db_;
  sqlite3_stmt* st_;
  std::string sql_;
};

// BEGIN IMMEDIATE ... COMMIT; rolled back when destroyed without commit().
class SqliteTransaction {
 public:
  explicit SqliteTransaction(SqliteDb& db);
  ~SqliteTransaction();
  void commit();

 private:
  SqliteDb& db_;
  bool done_ = false;
};

}  // namespace hl

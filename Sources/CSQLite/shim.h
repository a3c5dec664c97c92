#ifndef IMR_CSQLITE_SHIM_H
#define IMR_CSQLITE_SHIM_H
#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro over a function-pointer cast that Swift cannot import.
static inline sqlite3_destructor_type imr_sqlite_transient(void) {
    return SQLITE_TRANSIENT;
}

// sqlite3_config is variadic, which Swift cannot call. Sets the size a statement journal (the
// undo record of a savepoint) may reach in memory before SQLite spills it to a temporary file;
// must run before the first connection opens (SQLITE_MISUSE after).
static inline int imr_sqlite_config_statement_journal_spill(int bytes) {
    return sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, bytes);
}

// Turns SQLite's memory statistics off (SQLITE_CONFIG_MEMSTATUS, 0): with them on, every
// sqlite3_malloc and sqlite3_free of every connection takes one process-wide mutex to count
// bytes, and threads using SQLite at once wait on each other there. Nothing here reads the
// statistics (sqlite3_memory_used, sqlite3_status) or sets a soft heap limit, which needs
// them. Must run before the first connection opens (SQLITE_MISUSE after).
static inline int imr_sqlite_config_no_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

// The calling thread's kernel id (gettid(2)), which glibc 2.36's headers do not give Swift.
#include <sys/syscall.h>
#include <unistd.h>
static inline int imr_gettid(void) {
    return (int)syscall(SYS_gettid);
}
#endif

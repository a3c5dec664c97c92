#ifndef IMR_CSQLITE_SHIM_H
#define IMR_CSQLITE_SHIM_H
#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro over a function-pointer cast that Swift cannot import.
static inline sqlite3_destructor_type imr_sqlite_transient(void) {
    return SQLITE_TRANSIENT;
}

// The calling thread's kernel id (gettid(2)), which glibc 2.36's headers do not give Swift.
#include <sys/syscall.h>
#include <unistd.h>
static inline int imr_gettid(void) {
    return (int)syscall(SYS_gettid);
}
#endif

#ifndef IMR_WAL_VFS_H
#define IMR_WAL_VFS_H

/// The name of the VFS registered by imr_wal_vfs_register().
#define IMR_WAL_VFS_NAME "imr-wal"

/// Registers, once, a VFS over the default one that gathers the writes SQLite makes to a
/// write-ahead log into one buffer and writes them with one call: SQLite writes each WAL frame
/// as two calls (a 24-byte header, then the page), so a commit of a hundred pages cost two
/// hundred system calls. The buffer is written out before the log is synced, read, sized,
/// truncated or closed, before a write that does not follow it, when it is full, and before
/// the database's wal-index is published (its memory barrier), and at 128 KiB: no other connection and no
/// sync can see the log without what was written to it. Every other file goes straight
/// through. Returns an SQLite result code.
int imr_wal_vfs_register(void);

struct sqlite3;

/// Replaces the connection's WAL hook (and so its automatic checkpoints, which SQLite runs from
/// that hook) with one that only stores, in `*frames`, how many frames the WAL holds after each
/// commit: the writer then asks a thread of its own to checkpoint. `*frames` is written on the
/// thread that commits, during the commit.
void imr_wal_track_frames(struct sqlite3 *db, int *frames);

#endif

#include "imr_wal_vfs.h"

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

/* At most this much is held before it is written: the most the default (unix) VFS writes in
   one call (its seekAndWrite masks a length with 0x1ffff), 31 frames of 4 KiB pages. */
#define IMR_WAL_BUFFER_CAPACITY 0x1ffff

typedef struct ImrFile ImrFile;
struct ImrFile {
    sqlite3_file base;       /* pMethods: imr_io_methods */
    sqlite3_file *real;      /* the default VFS's file, allocated after this struct */
    int isWal;
    /* A WAL file: the writes not yet made, which start at bufferStart in the file. */
    unsigned char *buffer;
    sqlite3_int64 bufferStart;
    int bufferLength;
    /* A database file: its WAL file, whose buffer is written at the wal-index barrier. */
    ImrFile *wal;
    /* A WAL file: its database file. */
    ImrFile *db;
};

static sqlite3_vfs *imr_real_vfs;
static sqlite3_vfs imr_vfs;
static const sqlite3_io_methods imr_io_methods;

static int imr_flush(ImrFile *f) {
    if (f->bufferLength == 0) return SQLITE_OK;
    int length = f->bufferLength;
    f->bufferLength = 0;
    return f->real->pMethods->xWrite(f->real, f->buffer, length, f->bufferStart);
}

static int imr_close(sqlite3_file *file) {
    ImrFile *f = (ImrFile *)file;
    int rc = imr_flush(f);
    if (f->wal) f->wal->db = 0;
    if (f->db && f->db->wal == f) f->db->wal = 0;
    int closed = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
    sqlite3_free(f->buffer);
    f->buffer = 0;
    return rc != SQLITE_OK ? rc : closed;
}

static int imr_read(sqlite3_file *file, void *data, int amount, sqlite3_int64 offset) {
    ImrFile *f = (ImrFile *)file;
    int rc = imr_flush(f);
    if (rc != SQLITE_OK) return rc;
    return f->real->pMethods->xRead(f->real, data, amount, offset);
}

static int imr_write(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset) {
    ImrFile *f = (ImrFile *)file;
    if (!f->isWal) return f->real->pMethods->xWrite(f->real, data, amount, offset);
    if (f->bufferLength > 0 && (offset != f->bufferStart + f->bufferLength || f->bufferLength + amount > IMR_WAL_BUFFER_CAPACITY)) {
        int rc = imr_flush(f);
        if (rc != SQLITE_OK) return rc;
    }
    if (amount > IMR_WAL_BUFFER_CAPACITY) return f->real->pMethods->xWrite(f->real, data, amount, offset);
    if (!f->buffer) {
        f->buffer = sqlite3_malloc(IMR_WAL_BUFFER_CAPACITY);
        if (!f->buffer) return f->real->pMethods->xWrite(f->real, data, amount, offset);
    }
    if (f->bufferLength == 0) f->bufferStart = offset;
    memcpy(f->buffer + f->bufferLength, data, (size_t)amount);
    f->bufferLength += amount;
    return SQLITE_OK;
}

static int imr_truncate(sqlite3_file *file, sqlite3_int64 size) {
    ImrFile *f = (ImrFile *)file;
    int rc = imr_flush(f);
    if (rc != SQLITE_OK) return rc;
    return f->real->pMethods->xTruncate(f->real, size);
}

static int imr_sync(sqlite3_file *file, int flags) {
    ImrFile *f = (ImrFile *)file;
    int rc = imr_flush(f);
    if (rc != SQLITE_OK) return rc;
    return f->real->pMethods->xSync(f->real, flags);
}

static int imr_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    ImrFile *f = (ImrFile *)file;
    int rc = imr_flush(f);
    if (rc != SQLITE_OK) return rc;
    return f->real->pMethods->xFileSize(f->real, size);
}

static int imr_lock(sqlite3_file *file, int lock) {
    ImrFile *f = (ImrFile *)file;
    return f->real->pMethods->xLock(f->real, lock);
}

static int imr_unlock(sqlite3_file *file, int lock) {
    ImrFile *f = (ImrFile *)file;
    return f->real->pMethods->xUnlock(f->real, lock);
}

static int imr_check_reserved_lock(sqlite3_file *file, int *out) {
    ImrFile *f = (ImrFile *)file;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int imr_file_control(sqlite3_file *file, int op, void *arg) {
    ImrFile *f = (ImrFile *)file;
    if (op == SQLITE_FCNTL_VFSNAME) {
        /* Names this layer above the default one's, as SQLite's shims do. */
        int rc = f->real->pMethods->xFileControl(f->real, op, arg);
        if (rc == SQLITE_OK) {
            char **name = (char **)arg;
            char *named = sqlite3_mprintf("%s/%z", IMR_WAL_VFS_NAME, *name);
            *name = named;
        }
        return rc;
    }
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int imr_sector_size(sqlite3_file *file) {
    ImrFile *f = (ImrFile *)file;
    return f->real->pMethods->xSectorSize(f->real);
}

static int imr_device_characteristics(sqlite3_file *file) {
    ImrFile *f = (ImrFile *)file;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int imr_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out) {
    ImrFile *f = (ImrFile *)file;
    return f->real->pMethods->xShmMap(f->real, page, size, extend, out);
}

static int imr_shm_lock(sqlite3_file *file, int offset, int n, int flags) {
    ImrFile *f = (ImrFile *)file;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

/* SQLite calls the barrier on the database file before it publishes a new wal-index header
   (a commit) to other connections: the frames it indexes must be in the file by then. */
static void imr_shm_barrier(sqlite3_file *file) {
    ImrFile *f = (ImrFile *)file;
    if (f->wal) (void)imr_flush(f->wal);
    f->real->pMethods->xShmBarrier(f->real);
}

static int imr_shm_unmap(sqlite3_file *file, int deleteFlag) {
    ImrFile *f = (ImrFile *)file;
    return f->real->pMethods->xShmUnmap(f->real, deleteFlag);
}

static int imr_fetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **out) {
    ImrFile *f = (ImrFile *)file;
    if (f->real->pMethods->iVersion < 3) { *out = 0; return SQLITE_OK; }
    return f->real->pMethods->xFetch(f->real, offset, amount, out);
}

static int imr_unfetch(sqlite3_file *file, sqlite3_int64 offset, void *page) {
    ImrFile *f = (ImrFile *)file;
    if (f->real->pMethods->iVersion < 3) return SQLITE_OK;
    return f->real->pMethods->xUnfetch(f->real, offset, page);
}

static const sqlite3_io_methods imr_io_methods = {
    3, imr_close, imr_read, imr_write, imr_truncate, imr_sync, imr_file_size, imr_lock, imr_unlock,
    imr_check_reserved_lock, imr_file_control, imr_sector_size, imr_device_characteristics,
    imr_shm_map, imr_shm_lock, imr_shm_barrier, imr_shm_unmap, imr_fetch, imr_unfetch,
};

static int imr_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file, int flags, int *outFlags) {
    (void)vfs;
    ImrFile *f = (ImrFile *)file;
    memset(f, 0, sizeof(ImrFile));
    f->real = (sqlite3_file *)&f[1];
    int rc = imr_real_vfs->xOpen(imr_real_vfs, name, f->real, flags, outFlags);
    if (rc != SQLITE_OK || !f->real->pMethods) {
        f->base.pMethods = 0;
        return rc;
    }
    f->base.pMethods = &imr_io_methods;
    if ((flags & SQLITE_OPEN_WAL) && name) {
        f->isWal = 1;
        sqlite3_file *db = sqlite3_database_file_object(name);
        if (db && db->pMethods == &imr_io_methods) {
            f->db = (ImrFile *)db;
            f->db->wal = f;
        }
    }
    return SQLITE_OK;
}

static int imr_delete(sqlite3_vfs *vfs, const char *name, int syncDir) {
    (void)vfs;
    return imr_real_vfs->xDelete(imr_real_vfs, name, syncDir);
}

static int imr_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    (void)vfs;
    return imr_real_vfs->xAccess(imr_real_vfs, name, flags, out);
}

static int imr_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
    (void)vfs;
    return imr_real_vfs->xFullPathname(imr_real_vfs, name, size, out);
}

static void *imr_dl_open(sqlite3_vfs *vfs, const char *name) {
    (void)vfs;
    return imr_real_vfs->xDlOpen(imr_real_vfs, name);
}

static void imr_dl_error(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    imr_real_vfs->xDlError(imr_real_vfs, size, out);
}

static void (*imr_dl_sym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void) {
    (void)vfs;
    return imr_real_vfs->xDlSym(imr_real_vfs, handle, symbol);
}

static void imr_dl_close(sqlite3_vfs *vfs, void *handle) {
    (void)vfs;
    imr_real_vfs->xDlClose(imr_real_vfs, handle);
}

static int imr_randomness(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    return imr_real_vfs->xRandomness(imr_real_vfs, size, out);
}

static int imr_sleep(sqlite3_vfs *vfs, int microseconds) {
    (void)vfs;
    return imr_real_vfs->xSleep(imr_real_vfs, microseconds);
}

static int imr_current_time(sqlite3_vfs *vfs, double *out) {
    (void)vfs;
    return imr_real_vfs->xCurrentTime(imr_real_vfs, out);
}

static int imr_get_last_error(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    return imr_real_vfs->xGetLastError ? imr_real_vfs->xGetLastError(imr_real_vfs, size, out) : 0;
}

static int imr_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void)vfs;
    return imr_real_vfs->xCurrentTimeInt64(imr_real_vfs, out);
}

static pthread_once_t imr_once = PTHREAD_ONCE_INIT;
static int imr_register_result = SQLITE_ERROR;

static void imr_register_once(void) {
    imr_real_vfs = sqlite3_vfs_find(0);
    if (!imr_real_vfs || imr_real_vfs->iVersion < 2) {
        imr_register_result = SQLITE_ERROR;
        return;
    }
    memset(&imr_vfs, 0, sizeof(imr_vfs));
    imr_vfs.iVersion = 2;
    imr_vfs.szOsFile = (int)sizeof(ImrFile) + imr_real_vfs->szOsFile;
    imr_vfs.mxPathname = imr_real_vfs->mxPathname;
    imr_vfs.zName = IMR_WAL_VFS_NAME;
    imr_vfs.xOpen = imr_open;
    imr_vfs.xDelete = imr_delete;
    imr_vfs.xAccess = imr_access;
    imr_vfs.xFullPathname = imr_full_pathname;
    imr_vfs.xDlOpen = imr_dl_open;
    imr_vfs.xDlError = imr_dl_error;
    imr_vfs.xDlSym = imr_dl_sym;
    imr_vfs.xDlClose = imr_dl_close;
    imr_vfs.xRandomness = imr_randomness;
    imr_vfs.xSleep = imr_sleep;
    imr_vfs.xCurrentTime = imr_current_time;
    imr_vfs.xGetLastError = imr_get_last_error;
    imr_vfs.xCurrentTimeInt64 = imr_current_time_int64;
    imr_register_result = sqlite3_vfs_register(&imr_vfs, 0);
}

int imr_wal_vfs_register(void) {
    pthread_once(&imr_once, imr_register_once);
    return imr_register_result;
}

static int imr_wal_frames_hook(void *context, sqlite3 *db, const char *name, int frames) {
    (void)db;
    (void)name;
    *(int *)context = frames;
    return SQLITE_OK;
}

void imr_wal_track_frames(sqlite3 *db, int *frames) {
    sqlite3_wal_hook(db, imr_wal_frames_hook, frames);
}

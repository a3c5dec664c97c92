#!/usr/bin/env python3
"""Which tables and indexes the commits in an event log's WAL wrote, page by page: what a
command costs the disk (BENCHMARKS.md, seventeenth session).

    sqlite3 DIR/imr.sqlite 'PRAGMA wal_checkpoint(TRUNCATE)'   # with the daemon running
    imr-ctl ...                                               # the commands to look at
    python3 scripts/wal-pages.py DIR/imr.sqlite

Reads DIR/imr.sqlite-wal frame by frame (each a page written by a commit) and names each page
by SQLite's dbstat table, read through a read-only connection (which sees the WAL). Prints the
frames, the commits and the distinct pages, then the frames per table or index, most first.
Pages freed or taken from the freelist meanwhile show as "freelist or header". Python's
sqlite3 module only; the daemon may go on running.
"""

import collections
import signal
import sqlite3
import struct
import sys


def main() -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the listing quietly
    if len(sys.argv) != 2:
        print("usage: wal-pages.py PATH-TO-imr.sqlite", file=sys.stderr)
        return 64
    path = sys.argv[1]
    try:
        with open(path + "-wal", "rb") as f:
            wal = f.read()
    except OSError as error:
        print(f"cannot read {path}-wal: {error.strerror}; is the log in WAL mode, and the path right?", file=sys.stderr)
        return 66
    if len(wal) < 32:
        print(f"{path}-wal holds no frames (checkpointed and truncated): run the commands first", file=sys.stderr)
        return 0
    page_size = struct.unpack(">I", wal[8:12])[0]
    frames = []
    offset = 32
    while offset + 24 + page_size <= len(wal):
        page, commit_size = struct.unpack(">II", wal[offset : offset + 8])
        frames.append((page, commit_size != 0))
        offset += 24 + page_size
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        owner = dict(db.execute("SELECT pageno, name FROM dbstat"))
    except sqlite3.OperationalError as error:
        print(f"cannot read dbstat ({error}): this SQLite was built without SQLITE_ENABLE_DBSTAT_VTAB", file=sys.stderr)
        return 69
    commits = sum(1 for _, is_commit in frames if is_commit)
    print(f"frames {len(frames)}, commits {commits}, distinct pages {len({p for p, _ in frames})}")
    counts = collections.Counter(owner.get(page, "freelist or header") for page, _ in frames)
    for name, count in counts.most_common():
        per = f"  ({count / commits:.1f} a commit)" if commits else ""
        print(f"{count:6d}  {name}{per}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The same kind of durable command that `imr-bench load` times, done with the Python
`eventsourcing` library: reload the case aggregate from its events, apply one event after a
rule check, save it to SQLite.

    python3 scripts/bench-eventsourcing.py --clients 32 --cases 300 --dir /tmp/bench

Each case goes through an IMR dispute's lifecycle, one command per event: open, RFA with two
or three treatment items, a UR decision per item, notice to the physician, service of the
written decision, IMR application, assignment, determination, close (10 or 11 commands). A
case's commands run in order on one thread; cases are dealt to --clients threads, which share
one Application, as imr-bench load deals them to connections. Prints one JSON line:
commands/s over the wall time and each command's latency. Exits 1 if any command failed
(the JSON line is printed first). Leaves the SQLite file in --dir for inspection.

Needs `pip install eventsourcing` (scripts/setup installs it); nothing else.
"""

import argparse
import json
import os
import sqlite3
import sys
import threading
import time

try:
    from importlib.metadata import version
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event
except ImportError:
    sys.exit("bench-eventsourcing: the eventsourcing library is not installed; run `pip install eventsourcing` (or scripts/setup)")


class RuleBroken(Exception):
    pass


class Case(Aggregate):
    # Rule checks sit in the public methods, before the event: a decorated method's body is
    # the event's apply, which also runs on every reload and must not refuse history.
    @event("Opened")
    def __init__(self, claim_number, employer):
        self.claim_number = claim_number
        self.employer = employer
        self.items = {}  # item id -> UR outcome, None until decided
        self.stage = "open"

    def receive_rfa(self, items):
        if self.stage != "open":
            raise RuleBroken(f"an RFA arrives on an open case, not one at {self.stage}")
        self._rfa_received(items)

    @event("RFAReceived")
    def _rfa_received(self, items):
        self.items = {item_id: None for item_id, _ in items}
        self.stage = "awaiting UR"

    def decide_ur(self, item_id, outcome):
        if self.stage != "awaiting UR" or self.items.get(item_id, "unknown") is not None:
            raise RuleBroken(f"item {item_id} is not awaiting UR")
        self._ur_decided(item_id, outcome)

    @event("URDecided")
    def _ur_decided(self, item_id, outcome):
        self.items[item_id] = outcome

    def notify_physician(self, method):
        self._require("awaiting UR")
        if None in self.items.values():
            raise RuleBroken("the physician is notified once every item is decided")
        self._physician_notified(method)

    @event("PhysicianNotified")
    def _physician_notified(self, method):
        self.stage = "notified"

    def serve_decision(self, served_on):
        self._require("notified")
        self._decision_served(served_on)

    @event("WrittenDecisionServed")
    def _decision_served(self, served_on):
        self.stage = "served"

    def receive_imr_application(self, received_on):
        self._require("served")
        if not any(outcome in ("denied", "modified") for outcome in self.items.values()):
            raise RuleBroken("IMR reviews only denied or modified items")
        self._imr_applied(received_on)

    @event("IMRApplicationReceived")
    def _imr_applied(self, received_on):
        self.stage = "applied"

    def assign_imr(self, imr_case_number):
        self._require("applied")
        self._imr_assigned(imr_case_number)

    @event("IMRAssigned")
    def _imr_assigned(self, imr_case_number):
        self.imr_case_number = imr_case_number
        self.stage = "assigned"

    def record_determination(self, decisions):
        self._require("assigned")
        self._determined(decisions)

    @event("DeterminationRecorded")
    def _determined(self, decisions):
        self.stage = "determined"

    def close(self, reason):
        self._require("determined")
        self._closed(reason)

    @event("Closed")
    def _closed(self, reason):
        self.stage = "closed"

    def _require(self, stage):
        if self.stage != stage:
            raise RuleBroken(f"this step needs a case at {stage}, not {self.stage}")


class Cases(Application):
    pass


TREATMENTS = ["Lumbar MRI without contrast", "Physical therapy 2x6 lumbar spine", "Acupuncture x8",
              "Tramadol ER 100 mg #30", "Right knee arthroscopy", "TENS unit purchase"]


def lifecycle(number):
    """A case's commands, in order: each takes the case and calls one method on it."""
    count = 2 + number % 2
    items = [(str(i + 1), TREATMENTS[(number + i) % len(TREATMENTS)]) for i in range(count)]
    outcomes = ["denied", "modified", "approved"]
    steps = [lambda case: case.receive_rfa(items)]
    steps += [lambda case, i=i: case.decide_ur(items[i][0], outcomes[i]) for i in range(count)]
    steps += [
        lambda case: case.notify_physician("fax"),
        lambda case: case.serve_decision("2026-03-06"),
        lambda case: case.receive_imr_application("2026-03-20"),
        lambda case: case.assign_imr(f"CM26-{number:07d}"),
        lambda case: case.record_determination({items[0][0]: "upheld", items[1][0]: "overturned"}),
        lambda case: case.close("Dispute resolved"),
    ]
    return steps


def check_durable(app):
    """Every save must reach the disk before it returns.

    eventsourcing.sqlite opens each pooled connection with a bare sqlite3.connect and sets
    journal_mode=WAL, but never sets `synchronous` (checked in 9.5's sqlite.py), so a save's
    COMMIT is as durable as the SQLite build's default for WAL databases: FULL (the WAL is
    fsynced at every commit) where SQLITE_DEFAULT_WAL_SYNCHRONOUS is 2, as in Debian's
    libsqlite3, but NORMAL (no fsync until a checkpoint) in builds that set it to 1. Every
    connection the pool opens gets that same default, so reading it on one of the library's
    own connections tells for all of them; anything but FULL would make the comparison
    unfair to imr, so the run stops instead.
    """
    with app.factory.datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous")
        synchronous = cursor.fetchone()[0]
    if journal.lower() != "wal" or synchronous != 2:
        sys.exit(f"bench-eventsourcing: the library's SQLite connections run journal_mode={journal}, synchronous={synchronous}; "
                 f"this comparison needs WAL with synchronous=FULL (2), which this SQLite build ({sqlite3.sqlite_version}) does not default to")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1, help="concurrent threads sharing the application")
    parser.add_argument("--cases", type=int, default=300, help="cases to take through their lifecycle")
    parser.add_argument("--dir", required=True, help="directory for the SQLite file (the file system under test)")
    args = parser.parse_args()
    if args.clients < 1 or args.cases < 1:
        sys.exit("bench-eventsourcing: --clients and --cases must be positive")
    if not os.path.isdir(args.dir):
        sys.exit(f"bench-eventsourcing: --dir {args.dir} is not a directory; create it or name another")
    database = os.path.join(os.path.abspath(args.dir), f"eventsourcing-{args.clients}-clients.sqlite")
    if os.path.exists(database):
        sys.exit(f"bench-eventsourcing: {database} exists from an earlier run; remove it or name another --dir")

    app = Cases(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": database})
    check_durable(app)

    latencies = []  # list.append is atomic under the GIL
    failures = []

    def client(k):
        for number in range(k, args.cases, args.clients):
            try:
                started = time.perf_counter()
                case = Case(claim_number=f"ADJ{number:07d}", employer="Valley Orchards")
                app.save(case)
                latencies.append(time.perf_counter() - started)
                for step in lifecycle(number):
                    started = time.perf_counter()
                    case = app.repository.get(case.id)
                    step(case)
                    app.save(case)
                    latencies.append(time.perf_counter() - started)
            except Exception as error:  # a case's later steps depend on this one: go to the next case
                failures.append(f"case {number}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    app.close()

    ordered = sorted(latencies)

    def percentile(p):  # the same rank as imr-bench's Latencies.percentile
        return round(ordered[min(len(ordered) - 1, int((len(ordered) - 1) * p + 0.5))] * 1000, 2) if ordered else None

    print(json.dumps({
        "library": f"eventsourcing {version('eventsourcing')}",
        "clients": args.clients, "cases": args.cases, "commands": len(latencies),
        "seconds": round(seconds, 3), "commands_per_second": round(len(latencies) / seconds, 1),
        "p50_ms": percentile(0.5), "p99_ms": percentile(0.99), "max_ms": percentile(1),
        "failures": len(failures), "database": database,
    }), flush=True)
    if failures:
        print(f"bench-eventsourcing: {len(failures)} commands failed, e.g. {failures[0]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

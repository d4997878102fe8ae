"""Exactly-once ingest without any in-process memory of message ids: the events table's primary key is the only
record (the group committer writes optimistically; a flush the key refuses is rolled back whole and written again
with a lookup), so an id acknowledged long ago, before a checkpoint and in another process's lifetime, is still a
duplicate; nothing grows in the server per id seen."""

from __future__ import annotations

import datetime as dt
import gc
import sys

import pytest

from wayfare.ingest.batcher import GroupCommitter
from wayfare.ingest.messages import check_message, to_row
from wayfare.store import Store

REC = dt.datetime(2026, 11, 30, 12, 0)


def _rows(ids: list[str]) -> list[dict]:
    return [to_row(check_message({"type": "page", "name": "Menu", "anonymousId": f"v-{int(m[2:]) % 300}",
                                  "messageId": m, "timestamp": "2026-11-20T12:00:00Z"}, "b"), REC, source="t")
            for m in ids]


def _submit_all(c: GroupCommitter, batches: list[list[str]]) -> list:
    futs = [c.submit(c.store.workspace_id("default"), _rows(b)) for b in batches]
    return [f.result(60) for f in futs]


def test_retry_of_an_id_acked_long_ago_is_a_duplicate_after_checkpoint_and_restart(tmp_path):
    db = tmp_path / "w.db"
    first = [f"m-{i}" for i in range(40)]
    with Store(db) as s:
        c = GroupCommitter(s)
        res = _submit_all(c, [first[:20], first[20:]])
        assert [(r.inserted, r.duplicates) for r in res] == [(20, 0), (20, 0)]
        # 6,000 other events in 300 requests afterwards: anything that remembered recent ids has moved on
        res = _submit_all(c, [[f"m-{i}" for i in range(k, k + 20)] for k in range(1000, 7000, 20)])
        assert sum(r.inserted for r in res) == 6000
        c.close()
        assert c.retried == 0  # no stored id came again: no flush paid for the lookup
        s.checkpoint()
    with Store(db) as s:  # a new store object: no state of the first one survives
        c = GroupCommitter(s)
        # the oldest ids retried, mixed with new ones, and one id twice within the same request
        res = _submit_all(c, [first[:5] + ["m-90000", "m-90000"], first[35:] + ["m-90001"]])
        c.close()
        assert [(r.received, r.inserted, r.duplicates) for r in res] == [(7, 1, 6), (6, 1, 5)]
        assert c.retried >= 1  # the primary key refused the first attempt; written again with the lookup
        sc = s.scope()
        assert sc.one("SELECT count(*), count(DISTINCT message_id) FROM events") == (6042, 6042)
        assert sc.one("SELECT count(*) FROM events WHERE message_id = 'm-0'") == (1,)


def test_a_flush_with_two_requests_holding_the_same_new_id_stores_it_once(tmp_path):
    with Store(tmp_path / "w.db") as s:
        c = GroupCommitter(s, linger_s=0.2)  # both requests land in one flush
        ws = s.workspace_id("default")
        f1, f2 = c.submit(ws, _rows(["m-1", "m-2"])), c.submit(ws, _rows(["m-2", "m-3"]))
        r1, r2 = f1.result(60), f2.result(60)
        c.close()
        assert c.flushes == 1
        assert [(r1.inserted, r1.duplicates), (r2.inserted, r2.duplicates)] == [(2, 0), (1, 1)]
        assert s.scope().one("SELECT count(*) FROM events") == (3,)


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="counts CPython's allocated blocks")
def test_the_writer_keeps_no_per_id_state(tmp_path):
    """Python's heap is no bigger after 16,000 more ids (no set or dict of seen ids anywhere in the write path)."""
    with Store(tmp_path / "w.db") as s:

        def run(ids: range) -> int:
            c = GroupCommitter(s)
            _submit_all(c, [list(map("m-{}".format, ids[k:k + 200])) for k in range(0, len(ids), 200)])
            c.close()  # the writer thread ends: the last flush's rows go with it
            gc.collect()
            return sys.getallocatedblocks()

        before = run(range(0, 4000))
        grown = run(range(4000, 20000)) - before
        # a set of the 16,000 new id strings alone would hold 16,000 more blocks (one per str)
        assert grown < 3000, grown
        assert s.scope().one("SELECT count(*) FROM events") == (20000,)


def test_idle_writer_checkpoints_a_grown_wal_and_loses_nothing(tmp_path):
    """The writer checkpoints a WAL past its threshold once requests stop coming for a moment (not between the
    requests of a steady load, nor inside a request's commit), also while a reader holds a transaction open;
    every acknowledged event is there after a reopen."""
    import os
    import time

    db = tmp_path / "w.db"
    with Store(db) as s:
        reader = s.cursor()
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM events").fetchall()  # a dashboard query's open read transaction
        c = GroupCommitter(s, checkpoint_wal_bytes=64 * 1024)
        c.CHECKPOINT_GAP_S = 0.0
        c.IDLE_CHECKPOINT_S = 1.0
        ws = s.workspace_id("default")
        for k in range(0, 3000, 100):
            c.submit(ws, _rows([f"m-{i}" for i in range(k, k + 100)])).result(60)
            time.sleep(0.01)  # gaps between requests, as under a steady load
        assert c.stats.checkpoints == 0  # the WAL is past 64 KiB, but requests keep coming
        c.submit(ws, _rows(["m-5000"])).result(60)
        for _ in range(100):  # then the load stops
            if c.stats.checkpoints:
                break
            time.sleep(0.05)
        reader.execute("COMMIT")
        c.close()
        assert c.stats.checkpoints == 1
        wal = str(db) + ".wal"
        assert not os.path.exists(wal) or os.path.getsize(wal) < 64 * 1024
    with Store(db) as s:
        assert s.scope().one("SELECT count(*), count(DISTINCT message_id) FROM events") == (3001, 3001)


def test_idle_writer_tries_a_failed_checkpoint_again_without_a_new_request(tmp_path):
    """An idle checkpoint that fails (say a long-running reader's transaction got in its way) is tried again while
    the server stays idle; before, the next try waited for the next request, however long that took."""
    import os
    import time

    db = tmp_path / "w.db"
    with Store(db) as s:
        c = GroupCommitter(s, checkpoint_wal_bytes=16 * 1024)
        c.CHECKPOINT_GAP_S = 0.0
        c.IDLE_CHECKPOINT_S = 0.2
        c.RETRY_S = 0.3
        real, calls = s.checkpoint, []

        def flaky() -> None:
            calls.append(time.monotonic())
            if len(calls) == 1:
                raise RuntimeError("a reader's transaction is in the way")
            real()

        s.checkpoint = flaky  # type: ignore[method-assign]
        ws = s.workspace_id("default")
        c.submit(ws, _rows([f"m-{i}" for i in range(800)])).result(60)  # the last request
        for _ in range(200):
            if c.stats.checkpoints:
                break
            time.sleep(0.02)
        c.close()
        assert len(calls) == 2 and c.stats.checkpoints == 1
        assert calls[1] - calls[0] >= 0.25  # waited RETRY_S, not spinning
        wal = str(db) + ".wal"
        assert not os.path.exists(wal) or os.path.getsize(wal) < 16 * 1024
    with Store(db) as s:
        assert s.scope().one("SELECT count(*) FROM events") == (800,)


def test_ingest_after_an_ibis_query_on_the_same_store(tmp_path):
    """The dashboard queries the store through Ibis, which changes settings of the connection it is given
    (python_enable_replacements=false): the writer's statements must not depend on any of them. Both writer paths
    (a lookup of stored ids, and the group committer's optimistic flush refused by the key) after an Ibis query."""
    from wayfare.ingest.pipeline import write_rows

    with Store(tmp_path / "i.db") as s:
        sc = s.scope("default")
        assert sc.ibis("events").count().execute() == 0  # what a dashboard page does first
        assert write_rows(sc, _rows(["m-1", "m-2"])).inserted == 2
        res = write_rows(sc, _rows(["m-2", "m-3"]))
        assert (res.inserted, res.duplicates) == (1, 1)
        c = GroupCommitter(s)
        try:
            out = _submit_all(c, [["m-3", "m-4"], ["m-4", "m-5"]])
        finally:
            c.close()
        assert [(r.inserted, r.duplicates) for r in out] == [(1, 1), (1, 1)]
        assert sc.ibis("events").count().execute() == 5

"""The identity graph: identifiers (user id, anonymous id, email, phone, a source's customer id) point
at one person; messages that share identifiers join their people, transitively, and every join of two
existing people is written to the merge log.

Resolution works a batch at a time: look up the batch's identifiers, union them per message with a
union-find, and give each component its existing person (the oldest one when several meet, the others
merged into it) or a new one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import orjson
import pyarrow as pa

from ..store import Scope, utcnow

__all__ = ["IdentityCache", "IdentityResolver", "Resolution", "new_person_id"]

Ident = tuple[str, str]


def new_person_id() -> str:
    return "p_" + uuid.uuid4().hex[:16]


@dataclass
class Resolution:
    person_ids: list[str]
    new_people: dict[str, dt.datetime] = field(default_factory=dict)
    merges: list[tuple[str, str]] = field(default_factory=list)  # (from, into)


class IdentityCache:
    """Identifier -> person of one workspace, as stored, kept by the one writer that resolves ingest between its
    transactions, so that identifiers seen before are not looked up again (the lookup joins the whole identities
    table: 2.6 ms a flush at 5k identities, 46 ms at 2M here).

    What a transaction learns is staged and kept only once it commits (:meth:`commit`; :meth:`rollback` drops it).
    The owner must :meth:`clear` it whenever anyone else may have written identities (a merge by an import, an
    erase): the ingest writer compares the store's write-lock count (store.WriteLock) with its own. A transaction
    that merges people clears it at commit (merges move other identifiers' people). Holds at most ``limit``
    identifiers, then starts again."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._map: dict[Ident, str] = {}
        self._staged: dict[Ident, str] = {}
        self._clear_at_commit = False
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._map)

    def get(self, ident: Ident) -> str | None:
        return self._map.get(ident)

    def stage(self, learned: dict[Ident, str], merged: bool) -> None:
        if merged:
            self._clear_at_commit = True
        self._staged.update(learned)

    def commit(self) -> None:
        if self._clear_at_commit or len(self._map) + len(self._staged) > self.limit:
            self._map.clear()
        else:
            self._map.update(self._staged)
        self.rollback()

    def rollback(self) -> None:
        self._staged.clear()
        self._clear_at_commit = False

    def clear(self) -> None:
        self._map.clear()
        self.rollback()


class _UF:
    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, x: object) -> object:
        p = self.parent.setdefault(x, x)
        root = p
        while root != self.parent[root]:
            root = self.parent[root]
        while x != root:
            nxt = self.parent[x]
            self.parent[x] = root
            x = nxt
        return root

    def union(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


class IdentityResolver:
    """Resolves batches of identifier lists to person ids inside the caller's transaction."""

    def __init__(self, scope: Scope):
        self.scope = scope

    def _lookup(self, con: duckdb.DuckDBPyConnection, idents: set[Ident], cache: IdentityCache | None = None
                ) -> dict[Ident, str]:
        found: dict[Ident, str] = {}
        if cache is not None:
            missing = set()
            for i in idents:
                p = cache.get(i)
                if p is None:
                    missing.add(i)
                else:
                    found[i] = p
            cache.hits += len(found)
            cache.misses += len(missing)
            idents = missing
        if not idents:
            return found
        kinds, values = zip(*idents, strict=True)
        tbl = pa.table({"kind": pa.array(kinds, pa.string()), "value": pa.array(values, pa.string())})
        con.register("__wf_idents", tbl)
        try:
            rows = con.execute(
                "SELECT i.kind, i.value, i.person_id FROM main.identities i JOIN __wf_idents q "
                "ON i.kind = q.kind AND i.value = q.value WHERE i.workspace_id = ?",
                [self.scope.workspace_id],
            ).fetchall()
        finally:
            con.unregister("__wf_idents")
        found.update(((k, v), p) for k, v, p in rows)
        return found

    def _first_seen(self, con: duckdb.DuckDBPyConnection, people: set[str]) -> dict[str, dt.datetime]:
        if not people:
            return {}
        con.register("__wf_people", pa.table({"person_id": pa.array(sorted(people), pa.string())}))
        try:  # a join, not list_contains(?, person_id): that evaluated a list search on every profile row
            rows = con.execute(
                "SELECT p.person_id, coalesce(p.first_seen, p.created_at) FROM main.profiles p "
                "SEMI JOIN __wf_people q ON p.person_id = q.person_id WHERE p.workspace_id = ?",
                [self.scope.workspace_id],
            ).fetchall()
            found = dict(rows)
            if len(found) < len(people):
                # people whose profile the ingest writer has not written yet (it may count a busy moment's
                # events in profiles a little later: ingest.batcher.GroupCommitter): their first event
                rows = con.execute(
                    "SELECT e.person_id, min(e.ts) FROM main.events e SEMI JOIN __wf_people q "
                    "ON e.person_id = q.person_id WHERE e.workspace_id = ? GROUP BY e.person_id",
                    [self.scope.workspace_id],
                ).fetchall()
                for pid, ts in rows:
                    found.setdefault(pid, ts)
        finally:
            con.unregister("__wf_people")
        return found

    def resolve(
        self, con: duckdb.DuckDBPyConnection, per_message: list[list[Ident]], seen_at: Sequence[dt.datetime],
        cache: IdentityCache | None = None,
    ) -> Resolution:
        """Person id per message; writes new identities, merges and the merge log through ``con``. With ``cache``,
        known identifiers are taken from it, and what this batch settles is staged in it. ``seen_at[i]`` (the
        message's time) is read only for messages that bring an identifier not stored before."""
        keys = [tuple(ids) for ids in per_message]
        distinct = set(keys)  # a batch repeats the same few identifier lists many times: resolve each once
        uses: dict[Ident, int] = {}
        for ids in distinct:
            for i in ids:
                uses[i] = uses.get(i, 0) + 1
        known = self._lookup(con, set(uses), cache)
        res = Resolution(person_ids=[])
        # A list whose identifiers appear in no other list of the batch, and that meets at most one known person,
        # is its own component: its person is that one, or a new one (most lists: one visitor's or customer's
        # ids, seen before). Only the rest — lists that share identifiers, or that join two known people — go
        # through the union-find, and only they can merge people.
        person_of: dict[tuple, str | None] = {(): None}
        linked: list[tuple] = []
        for ids in distinct:
            if not ids:
                continue
            found = None
            simple = True
            for i in ids:
                if uses[i] > 1:
                    simple = False
                    break
                p = known.get(i)
                if p is not None:
                    if found is not None and p != found:
                        simple = False
                        break
                    found = p
            if simple:
                person_of[ids] = found or new_person_id()
            else:
                linked.append(ids)
        comp_person: dict[object, str] = {}
        uf = _UF()
        if linked:
            for ids in linked:
                head = ids[0]
                uf.find(head)
                for other in ids[1:]:
                    uf.union(head, other)
            linked_ids = {i for ids in linked for i in ids}
            for ident in linked_ids:
                pid = known.get(ident)
                if pid is not None:
                    uf.union(ident, ("__person__", pid))
            comp_people: dict[object, set[str]] = {}
            for ident in linked_ids:
                comp_people.setdefault(uf.find(ident), set())
                pid = known.get(ident)
                if pid is not None:
                    comp_people[uf.find(ident)].add(pid)
            created = self._first_seen(con, {p for ps in comp_people.values() if len(ps) > 1 for p in ps})
            for root, people in comp_people.items():
                if not people:
                    comp_person[root] = new_person_id()
                elif len(people) == 1:
                    comp_person[root] = next(iter(people))
                else:
                    winner = min(people, key=lambda p: (created.get(p, dt.datetime.max), p))
                    comp_person[root] = winner
                    res.merges.extend((p, winner) for p in sorted(people) if p != winner)
            for ids in linked:
                person_of[ids] = comp_person[uf.find(ids[0])]
            if res.merges:  # a simple list's known person may have just been merged into another
                into = dict(res.merges)
                for ids, pid in person_of.items():
                    if pid in into:
                        person_of[ids] = into[pid]

        person_ids = [person_of[ids] for ids in keys]
        res.person_ids = person_ids  # type: ignore[assignment]
        # New identifiers and new people come only from lists holding an identifier not stored before (a merge's
        # winner is a known person): only their rows' times are needed (reading every row's time as a datetime
        # cost more than the rest of a 2,000-row batch's resolution)
        unknown = {i for i in uses if i not in known}
        first_time: dict[Ident, dt.datetime] = {}
        ident_person: dict[Ident, str] = {}
        if unknown:
            fresh_lists = {ids for ids in distinct if not unknown.isdisjoint(ids)}
            known_people = set(known.values())
            for row, ids in enumerate(keys):
                if ids not in fresh_lists:
                    continue
                ts = seen_at[row]
                pid = person_ids[row]
                for ident in ids:
                    if ident in unknown:
                        prev = first_time.get(ident)
                        if prev is None or ts < prev:
                            first_time[ident] = ts
                        # an identifier's person: its list's (every list holding it has the same person)
                        ident_person[ident] = pid  # type: ignore[assignment]
                if pid is not None and pid not in known_people:
                    prev = res.new_people.get(pid)
                    if prev is None or ts < prev:
                        res.new_people[pid] = ts
        new_rows_k = [i[0] for i in first_time]
        new_rows_v = [i[1] for i in first_time]
        new_rows_p = [ident_person[i] for i in first_time]
        new_rows_t = list(first_time.values())

        ws = self.scope.workspace_id
        if new_rows_k:
            tbl = pa.table(
                {
                    "workspace_id": pa.array([ws] * len(new_rows_k), pa.string()),
                    "kind": pa.array(new_rows_k, pa.string()),
                    "value": pa.array(new_rows_v, pa.string()),
                    "person_id": pa.array(new_rows_p, pa.string()),
                    "first_seen": pa.array(new_rows_t, pa.timestamp("us")),
                }
            )
            con.register("__wf_newids", tbl)
            try:
                con.execute("INSERT OR IGNORE INTO main.identities SELECT * FROM __wf_newids")
            finally:
                con.unregister("__wf_newids")
        if res.merges:
            self.apply_merges(con, res.merges, reason="shared identifier")
        if cache is not None:
            learned: dict[Ident, str] = {}
            for ids in distinct:
                pid = person_of[ids]
                if pid is not None:
                    for i in ids:
                        learned[i] = pid
            cache.stage(learned, merged=bool(res.merges))
        return res

    def apply_merges(self, con: duckdb.DuckDBPyConnection, merges: list[tuple[str, str]], reason: str) -> None:
        """Move identities, events and traits of each ``from`` person to ``into``; log each merge."""
        ws = self.scope.workspace_id
        now = utcnow()
        into = _final_targets(merges)
        # identities and events: one UPDATE each for all of this batch's merges (a scan of the events table per
        # merge made a batch with many merges pay for the whole table many times over)
        con.register("__wf_merge", pa.table({"src": pa.array(list(into), pa.string()),
                                             "dst": pa.array(list(into.values()), pa.string())}))
        try:
            for table in ("identities", "events"):
                con.execute(
                    f"UPDATE main.{table} SET person_id = m.dst FROM __wf_merge m "
                    f"WHERE main.{table}.workspace_id = ? AND main.{table}.person_id = m.src",
                    [ws],
                )
        finally:
            con.unregister("__wf_merge")
        for src, dst in merges:
            rows = con.execute(
                "SELECT person_id, created_at, first_seen, last_seen, traits FROM main.profiles "
                "WHERE workspace_id = ? AND person_id IN (?, ?)",
                [ws, src, dst],
            ).fetchall()
            if len(rows) == 2:
                a = {r[0]: r for r in rows}
                s, d = a[src], a[dst]
                traits = {**orjson.loads(s[4] or "{}"), **orjson.loads(d[4] or "{}")}
                con.execute(
                    "UPDATE main.profiles SET created_at = ?, first_seen = ?, last_seen = ?, traits = ? "
                    "WHERE workspace_id = ? AND person_id = ?",
                    [
                        min(s[1], d[1]),
                        min(x for x in (s[2], d[2]) if x is not None) if (s[2] or d[2]) else None,
                        max(x for x in (s[3], d[3]) if x is not None) if (s[3] or d[3]) else None,
                        orjson.dumps(traits).decode(),
                        ws,
                        dst,
                    ],
                )
            elif len(rows) == 1 and rows[0][0] == src:
                con.execute("UPDATE main.profiles SET person_id = ? WHERE workspace_id = ? AND person_id = ?", [dst, ws, src])
            con.execute("DELETE FROM main.profiles WHERE workspace_id = ? AND person_id = ?", [ws, src])
            con.execute("INSERT INTO main.merges VALUES (?, ?, ?, ?, ?)", [ws, now, src, dst, reason])


def _final_targets(merges: list[tuple[str, str]]) -> dict[str, str]:
    """Each merged-away person and the person it ends in, following chains (a -> b, b -> c gives a -> c)."""
    step = dict(merges)
    out = {}
    for src in step:
        dst, hops = step[src], 0
        while dst in step and hops < len(step):
            dst, hops = step[dst], hops + 1
        out[src] = dst
    return out

"""The ingest writer's identity cache (identity.resolver.IdentityCache in ingest.batcher.GroupCommitter): known
identifiers are not looked up again, and a write by anyone else between two flushes (here a merge made by a
direct write, as an import or the API would) empties it, so no event goes to a person that was merged away."""

import datetime as dt

from wayfare.ingest import check_message, to_row, write_rows
from wayfare.ingest.batcher import GroupCommitter
from wayfare.store import Store

T0 = dt.datetime(2026, 5, 1, 9)


def _row(n: int, **ids) -> dict:
    msg = {"type": "track", "event": "Menu Viewed", "messageId": f"m{n}", "timestamp": (T0 + dt.timedelta(hours=n)).isoformat(),
           **ids}
    return to_row(check_message(msg, "t"), T0, "test")


def _person(scope, mid: str) -> str:
    return scope.one("SELECT person_id FROM events WHERE message_id = $m", {"m": mid})[0]


def test_known_identifiers_come_from_the_cache(tmp_path):
    with Store(tmp_path / "c.db") as store:
        ws = store.workspace_id("default")
        committer = GroupCommitter(store)
        try:
            committer.submit(ws, [_row(i, userId=f"u{i % 3}") for i in range(6)]).result(10)
            committer.submit(ws, [_row(10 + i, userId=f"u{i % 3}") for i in range(6)]).result(10)
            cache = committer.identity_caches[ws]
            assert len(cache) == 3 and cache.hits == 3
            sc = store.scope()
            assert sc.one("SELECT count(DISTINCT person_id) FROM events")[0] == 3
            assert _person(sc, "m0") == _person(sc, "m13")
        finally:
            committer.close()


def test_a_merge_by_another_writer_empties_the_cache(tmp_path):
    with Store(tmp_path / "m.db") as store:
        ws = store.workspace_id("default")
        sc = store.scope()
        committer = GroupCommitter(store)
        try:
            committer.submit(ws, [_row(0, userId="older", anonymousId="a-older")]).result(10)
            committer.submit(ws, [_row(1, userId="newer")]).result(10)
            older, newer = _person(sc, "m0"), _person(sc, "m1")
            assert older != newer and committer.identity_caches[ws].get(("user_id", "newer")) == newer
            # another writer links the two: "newer" is merged into the older person
            write_rows(sc, [_row(2, userId="newer", anonymousId="a-older")])
            assert sc.one("SELECT count(*) FROM merges")[0] == 1
            # the writer's next flush must not use what it cached before
            committer.submit(ws, [_row(3, userId="newer")]).result(10)
            assert _person(sc, "m3") == older
            assert sc.one("SELECT count(*) FROM profiles WHERE person_id = $p", {"p": newer})[0] == 0
        finally:
            committer.close()


def test_a_merge_in_the_writers_own_flush_empties_the_cache(tmp_path):
    with Store(tmp_path / "o.db") as store:
        ws = store.workspace_id("default")
        sc = store.scope()
        committer = GroupCommitter(store)
        try:
            committer.submit(ws, [_row(0, userId="a"), _row(1, userId="b", anonymousId="x")]).result(10)
            committer.submit(ws, [_row(2, userId="a", anonymousId="x")]).result(10)  # a and b become one
            assert len(committer.identity_caches[ws]) == 0
            committer.submit(ws, [_row(3, userId="b"), _row(4, userId="a")]).result(10)
            assert _person(sc, "m3") == _person(sc, "m4") == _person(sc, "m0")
        finally:
            committer.close()

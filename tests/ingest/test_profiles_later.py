"""Under a sustained load the ingest writer counts events in profiles' first and last seen a moment later
(ingest.batcher.GroupCommitter, ingest.pipeline.catch_up_profiles). Whatever happens in between — a merge, an
erase, a crash — the profiles it ends with are those the events say, no erased person comes back and no
merged-away person reappears."""

import datetime as dt

from wayfare.ingest import check_message, to_row
from wayfare.ingest.batcher import GroupCommitter
from wayfare.store import Store

T0 = dt.datetime(2026, 5, 1, 9)


class BusyWriter(GroupCommitter):
    """A writer that believes requests are always waiting, until told otherwise."""

    busy = True

    def _profiles_later(self) -> bool:
        return self.busy and self.profile_catch_ups > 0  # the first flush catches up, as under a real load

    def _catch_up_idle(self) -> None:  # under a load the writer is never idle
        if not self.busy:
            super()._catch_up_idle()


def _row(n: int, hours: int, **ids) -> dict:
    msg = {"type": "track", "event": "Menu Viewed", "messageId": f"m{n}",
           "timestamp": (T0 + dt.timedelta(hours=hours)).isoformat(), **ids}
    return to_row(check_message(msg, "t"), T0, "test")


def _identify(n: int, hours: int, traits: dict, **ids) -> dict:
    msg = {"type": "identify", "messageId": f"m{n}", "timestamp": (T0 + dt.timedelta(hours=hours)).isoformat(),
           "traits": traits, **ids}
    return to_row(check_message(msg, "t"), T0, "test")


def _profiles(sc) -> dict:
    return {p: (f, lst) for p, f, lst in sc.rows("SELECT person_id, first_seen, last_seen FROM profiles")}


def _from_events(sc) -> dict:
    return {p: (f, lst) for p, f, lst in
            sc.rows("SELECT person_id, min(ts), max(ts) FROM events WHERE person_id IS NOT NULL GROUP BY 1")}


def test_busy_flushes_leave_profiles_for_one_catch_up(tmp_path):
    with Store(tmp_path / "b.db") as store:
        ws, sc = store.workspace_id("default"), store.scope()
        w = BusyWriter(store)
        try:
            w.submit(ws, [_row(0, 0, userId="ann")]).result(10)
            assert _profiles(sc) == _from_events(sc) and w.deferred == 0
            w.submit(ws, [_row(1, 5, userId="ann"), _row(2, 1, userId="bob")]).result(10)
            w.submit(ws, [_identify(3, 2, {"name": "Bob B"}, userId="bob")]).result(10)
            assert w.deferred == 2
            # the events are stored; ann's last seen and bob's range wait, and a row says where to start
            ann = sc.one("SELECT person_id FROM events WHERE message_id = 'm0'")[0]
            bob = sc.one("SELECT person_id FROM events WHERE message_id = 'm2'")[0]
            assert sc.one("SELECT count(*) FROM events")[0] == 4
            assert _profiles(sc)[ann] == (T0, T0)
            assert sc.one("SELECT count(*) FROM profiles_pending")[0] == 1
            # traits never wait: the identify's profile change is there at once
            assert sc.one("SELECT traits->>'name' FROM profiles WHERE person_id = $p", {"p": bob})[0] == "Bob B"
            w.busy = False
            w.submit(ws, [_row(4, 3, userId="cy")]).result(10)
            assert _profiles(sc) == _from_events(sc)
            assert _profiles(sc)[bob] == (T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2))
            assert sc.one("SELECT count(*) FROM profiles_pending")[0] == 0
        finally:
            w.close()


def test_a_crash_while_behind_is_caught_up_by_the_next_writer(tmp_path):
    db = tmp_path / "c.db"
    with Store(db) as store:
        ws = store.workspace_id("default")
        w = BusyWriter(store)
        w.submit(ws, [_row(0, 0, userId="ann")]).result(10)
        w.submit(ws, [_row(1, 7, userId="ann"), _row(2, 3, userId="dan")]).result(10)
        w.close()  # busy to the end: no catch-up at shutdown, as when the process is killed
        sc = store.scope()
        assert _profiles(sc) != _from_events(sc)
    with Store(db) as store:
        sc = store.scope()
        assert sc.one("SELECT count(*) FROM profiles_pending")[0] == 1
        w = GroupCommitter(store)  # what `wayfare serve` starts
        w.close()
        assert _profiles(sc) == _from_events(sc)
        assert sc.one("SELECT count(*) FROM profiles_pending")[0] == 0


def test_merge_and_erase_while_behind_bring_back_no_one(tmp_path):
    from wayfare.privacy.erase import erase_person

    with Store(tmp_path / "m.db") as store:
        ws, sc = store.workspace_id("default"), store.scope()
        w = BusyWriter(store)
        try:
            w.submit(ws, [_row(0, 0, userId="old")]).result(10)
            old = sc.one("SELECT person_id FROM events WHERE message_id = 'm0'")[0]
            # new people while behind: "anon" (a visitor whose first visit, sent late, is older than anything
            # "old" did), "eve"; then the visitor logs in as "old"
            w.submit(ws, [_row(1, -2, anonymousId="anon-1"), _identify(2, 6, {"email": "eve@example.com"}, userId="eve")]
                     ).result(10)
            anon = sc.one("SELECT person_id FROM events WHERE message_id = 'm1'")[0]
            eve = sc.one("SELECT person_id FROM events WHERE message_id = 'm2'")[0]
            w.submit(ws, [_row(3, 5, userId="old", anonymousId="anon-1")]).result(10)
            assert sc.one("SELECT count(*) FROM merges")[0] == 1
            # the older person survives — the visitor, judged by its first event though its profile was not
            # written yet
            assert {p for (p,) in sc.rows("SELECT DISTINCT person_id FROM events")} == {anon, eve}
            erase_person(sc, "eve@example.com", actor="test")
            w.busy = False
            w.submit(ws, [_row(4, 8, userId="zed")]).result(10)
            profiles = _profiles(sc)
            assert old not in profiles and eve not in profiles
            assert profiles == _from_events(sc)
            assert profiles[anon] == (T0 - dt.timedelta(hours=2), T0 + dt.timedelta(hours=5))
        finally:
            w.close()

"""The resolver against a model: after any sequence of batches, two events share a person exactly when their
messages' identifiers are connected through the messages seen so far, and every stored identity, profile and
merge agrees with that."""

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wayfare.identity.resolver import IdentityCache
from wayfare.ingest import check_message, to_row, write_rows
from wayfare.ingest.pipeline import write_batches
from wayfare.store import Store

T0 = dt.datetime(2026, 3, 1, 9, 0)

# a message: some of a small pool of user ids, anonymous ids and emails, so batches share identifiers often
_msg = st.fixed_dictionaries({}, optional={
    "userId": st.sampled_from([f"u{i}" for i in range(6)]),
    "anonymousId": st.sampled_from([f"a{i}" for i in range(8)]),
    "email": st.sampled_from([f"e{i}@example.org" for i in range(4)]),
}).filter(lambda m: "userId" in m or "anonymousId" in m)
_batches = st.lists(st.lists(_msg, min_size=1, max_size=12), min_size=1, max_size=6)


def _idents(m: dict) -> list[tuple[str, str]]:
    out = []
    if "userId" in m:
        out.append(("user_id", m["userId"]))
    if "anonymousId" in m:
        out.append(("anonymous_id", m["anonymousId"]))
    if "email" in m:
        out.append(("email", m["email"]))
    return out


class _Model:
    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def add(self, ids) -> None:
        for other in ids[1:]:
            a, b = self.find(ids[0]), self.find(other)
            if a != b:
                self.parent[a] = b
        self.find(ids[0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=_batches, cached=st.booleans())
def test_people_are_the_connected_components_of_identifiers(tmp_path_factory, batches, cached):
    """``cached``: batches go through one identity cache, as the ingest writer's flushes do."""
    store = Store(tmp_path_factory.mktemp("res") / "w.db")
    cache = IdentityCache()
    try:
        scope = store.scope("default")
        model = _Model()
        n = 0
        for b, batch in enumerate(batches):
            rows = []
            for m in batch:
                msg = {"type": "identify", "messageId": f"m{n}"}
                if "userId" in m:
                    msg["userId"] = m["userId"]
                if "anonymousId" in m:
                    msg["anonymousId"] = m["anonymousId"]
                if "email" in m:
                    msg["traits"] = {"email": m["email"]}
                rows.append(to_row(check_message(msg, "t"), T0 + dt.timedelta(minutes=n), "test"))
                model.add(_idents(m))
                n += 1
            if cached:
                with store.transaction() as con:
                    write_batches(scope, [rows], con, cache=cache)
                cache.commit()
            else:
                write_rows(scope, rows)
            # events: same person <=> same component
            ev = scope.rows("SELECT message_id, person_id FROM events")
            comp_of_msg = {}
            k = 0
            for bb in batches[: b + 1]:
                for m in bb:
                    comp_of_msg[f"m{k}"] = model.find(_idents(m)[0])
                    k += 1
            person_of_comp: dict = {}
            comp_of_person: dict = {}
            for mid, pid in ev:
                c = comp_of_msg[mid]
                assert person_of_comp.setdefault(c, pid) == pid, "one component split over people"
                assert comp_of_person.setdefault(pid, c) == c, "two components share a person"
            # identities point at their component's person; one profile per person, none left over
            for kind, value, pid in scope.rows("SELECT kind, value, person_id FROM identities"):
                assert person_of_comp[model.find((kind, value))] == pid
            profiles = {r[0] for r in scope.rows("SELECT person_id FROM profiles")}
            assert profiles == set(comp_of_person)
            # every person that ever existed and is gone was merged, and logged
            merged = {r[0] for r in scope.rows("SELECT from_person FROM merges")}
            assert not merged & profiles
    finally:
        store.close()

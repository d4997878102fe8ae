"""Growth fixtures: tiny declarative event logs written into a real store."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa

T0 = dt.datetime(2024, 1, 1)


def write_events(scope, rows: list[dict], traits: dict[str, dict] | None = None, source: str = "test") -> None:
    """rows: {person, day (days after T0, float) or at (datetime), event, revenue?, props?, anon?, source?}."""
    recs = []
    base = scope.one("SELECT COALESCE(max(seq), 0) FROM events")[0]
    for i, r in enumerate(rows):
        at = r.get("at") or T0 + dt.timedelta(days=r.get("day", 0))
        recs.append({"message_id": f"m{base + i}", "seq": base + i + 1, "type": r.get("type", "track"), "event": r["event"],
                     "anonymous_id": r.get("anon"), "person_id": r["person"], "user_id": r.get("user", r["person"]),
                     "ts": at, "received_at": at, "channel": r.get("channel", "web"), "source": r.get("source", source),
                     "revenue": r.get("revenue"), "properties": json.dumps(r.get("props", {})),
                     "context": json.dumps(r.get("context", {}))})
    df = pd.DataFrame(recs)
    df["revenue"] = df["revenue"].astype("float64")
    df["anonymous_id"] = df["anonymous_id"].astype("string")
    with scope.transaction() as con:
        scope.insert_arrow("events", pa.Table.from_pandas(df, preserve_index=False), con=con)
    traits = traits or {}
    known = {r[0] for r in scope.rows("SELECT person_id FROM profiles")}
    people = sorted({r["person"] for r in rows} - known)
    first = df.groupby("person_id").ts.min()
    if people:
        prof = pd.DataFrame({"person_id": people, "created_at": [first[p] for p in people],
                             "first_seen": [first[p] for p in people], "last_seen": [first[p] for p in people],
                             "traits": [json.dumps(traits.get(p, {})) for p in people]})
        ids = []
        for r in rows:
            if r["person"] in people:
                ids.append(("user_id", r.get("user", r["person"]), r["person"]))
                if r.get("anon"):
                    ids.append(("anonymous_id", r["anon"], r["person"]))
        idf = pd.DataFrame(sorted(set(ids)), columns=["kind", "value", "person_id"]).assign(first_seen=T0)
        with scope.transaction() as con:
            scope.insert_arrow("profiles", pa.Table.from_pandas(prof, preserve_index=False), con=con)
            scope.insert_arrow("identities", pa.Table.from_pandas(idf, preserve_index=False), con=con, on_conflict="ignore")

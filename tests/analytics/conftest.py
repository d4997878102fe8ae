"""Analytics fixtures: tiny declarative event logs written into a real store, and one Spark session."""

from __future__ import annotations

import datetime as dt
import json
import os

import pandas as pd
import pyarrow as pa
import pytest

from wayfare.analytics import Tables
from wayfare.store import Store

T0 = dt.datetime(2024, 1, 1)
EVENT_COLS = ["workspace_id", "message_id", "seq", "type", "event", "person_id", "user_id", "ts", "received_at",
              "channel", "source", "revenue", "properties"]


def write_events(scope, rows: list[dict]) -> None:
    """rows: {person, at (seconds after T0 or datetime), event, channel?, revenue?, props?}."""
    recs = []
    for i, r in enumerate(rows):
        at = r["at"] if isinstance(r["at"], dt.datetime) else T0 + dt.timedelta(seconds=r["at"])
        recs.append({"message_id": f"m{i}", "seq": i + 1, "type": "track", "event": r["event"], "person_id": r["person"],
                     "user_id": r["person"], "ts": at, "received_at": at, "channel": r.get("channel", "web"),
                     "source": "test", "revenue": r.get("revenue"),
                     "properties": json.dumps(r.get("props", {}))})
    df = pd.DataFrame(recs)
    df["revenue"] = df["revenue"].astype("float64")
    with scope.transaction() as con:
        scope.insert_arrow("events", pa.Table.from_pandas(df, preserve_index=False), con=con)
    people = sorted({r["person"] for r in rows})
    first = df.groupby("person_id").ts.min()
    traits = {r["person"]: r.get("traits", {}) for r in rows if r.get("traits")}
    prof = pd.DataFrame({"person_id": people, "created_at": [first[p] for p in people],
                         "first_seen": [first[p] for p in people], "last_seen": [first[p] for p in people],
                         "traits": [json.dumps(traits.get(p, {})) for p in people]})
    with scope.transaction() as con:
        scope.insert_arrow("profiles", pa.Table.from_pandas(prof, preserve_index=False), on_conflict="replace", con=con)


def journeys_for(scope, journeys: dict[str, list[tuple]]) -> None:
    """{"alice": [(seconds, "Event", {props}), ...]} -> events."""
    rows = []
    for person, evs in journeys.items():
        for ev in evs:
            rows.append({"person": person, "at": ev[0], "event": ev[1], "props": ev[2] if len(ev) > 2 else {}})
    write_events(scope, rows)


@pytest.fixture(scope="session")
def spark():
    from wayfare.analytics import spark_session

    s = spark_session("local[2]", **{"spark.sql.shuffle.partitions": "1", "spark.default.parallelism": "2"})
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


@pytest.fixture(params=["duckdb", "spark"])
def engine(request):
    """A function scope -> Tables on the chosen engine (the Spark copy is made from the store's rows)."""
    if request.param == "duckdb":
        return lambda scope: Tables.from_scope(scope)
    spark = request.getfixturevalue("spark")

    def make(scope) -> Tables:
        ev = scope.df("SELECT person_id, seq, event, type, ts, channel, source, revenue, properties::VARCHAR properties, "
                      "context::VARCHAR context, user_id FROM events")
        pr = scope.df("SELECT person_id, traits::VARCHAR traits FROM profiles")
        return Tables.from_spark(spark, ev, pr)

    return make


@pytest.fixture
def mem_scope(tmp_path):
    s = Store(tmp_path / "a.db")
    yield s.scope("default")
    s.close()


os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

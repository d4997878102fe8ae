"""Where the queries run: the store's DuckDB (default) or any Ibis backend, Spark included.

Builders take Ibis tables and return Ibis expressions; this module only hands them tables.

* DuckDB (default): ``Tables.from_scope(scope)`` -- the workspace's events and profiles.
* Spark: ``Tables.from_spark(session, events=..., profiles=...)`` where each is a Spark DataFrame,
  a temp view name or a Parquet path (a cluster reads the events exported with
  ``COPY (SELECT * FROM events WHERE workspace_id = ...) TO 'events.parquet'``). Timestamps are UTC
  (set ``spark.sql.session.timeZone=UTC``); ``properties``/``traits``/``context`` are JSON text.
* Any other Ibis backend: ``Tables(events=con.table("events"), profiles=con.table("profiles"))``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import ibis

__all__ = ["Tables", "spark_session"]


@dataclass
class Tables:
    events: ibis.Table
    profiles: ibis.Table | None = None

    @classmethod
    def from_scope(cls, scope, cursor: bool = False) -> Tables:
        """The workspace's tables; ``cursor=True`` reads through a fresh DuckDB cursor (for threads)."""
        if not cursor:
            return cls(scope.ibis("events"), scope.ibis("profiles"))
        be = ibis.duckdb.from_connection(scope.store.cursor())
        ev, pr = be.table("events"), be.table("profiles")
        return cls(ev.filter(ev.workspace_id == scope.workspace_id), pr.filter(pr.workspace_id == scope.workspace_id))

    @classmethod
    def spark_from_scope(cls, scope, master: str = "local[2]", folder: str | None = None, **conf: str) -> Tables:
        """The workspace's events and profiles on Spark: exported to Parquet under ``folder`` (a temp folder
        by default; on a cluster, a path every executor reads), then read by a session on ``master``."""
        import atexit
        import shutil
        import tempfile

        if folder is None:  # a temporary export: removed when the process ends
            folder = tempfile.mkdtemp(prefix="wayfare-spark-")
            atexit.register(shutil.rmtree, folder, True)
        ev, pr = os.path.join(folder, "events.parquet"), os.path.join(folder, "profiles.parquet")
        cur = scope.store.cursor()
        ws = scope.workspace_id.replace("'", "''")
        cur.execute(f"COPY (SELECT person_id, seq, event, type, ts, channel, source, revenue, user_id, "
                    f"properties::VARCHAR properties, context::VARCHAR context FROM events "
                    f"WHERE workspace_id = '{ws}') TO '{ev}' (FORMAT parquet)")
        cur.execute(f"COPY (SELECT person_id, traits::VARCHAR traits FROM profiles WHERE workspace_id = '{ws}') "
                    f"TO '{pr}' (FORMAT parquet)")
        return cls.from_spark(spark_session(master, **conf), ev, pr)

    @classmethod
    def from_spark(cls, session, events: Any, profiles: Any = None) -> Tables:
        con = ibis.pyspark.connect(session)
        return cls(_spark_table(con, session, events, "wf_events"),
                   _spark_table(con, session, profiles, "wf_profiles") if profiles is not None else None)


def _spark_table(con, session, src: Any, name: str):
    if isinstance(src, str) and src.endswith(".parquet") or (isinstance(src, str) and os.path.isdir(src)):
        session.read.parquet(src).createOrReplaceTempView(name)
        return con.table(name)
    if isinstance(src, str):
        return con.table(src)
    if hasattr(src, "createOrReplaceTempView"):
        src.createOrReplaceTempView(name)
        return con.table(name)
    df = src.to_pandas() if hasattr(src, "to_pandas") else src  # pandas / Arrow from the store
    df = df.copy()
    for c in df.columns:  # Spark wants plain Python strings (JSON stays text) and None for missing
        if df[c].dtype == object or str(df[c].dtype) in ("str", "string"):
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    session.createDataFrame(df).createOrReplaceTempView(name)
    return con.table(name)


def spark_session(master: str = "local[2]", **conf: str):
    """A local Spark session that listens only on 127.0.0.1, with UTC timestamps and no UI."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    b = (SparkSession.builder.master(master).appName("wayfare")
         .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
         .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
         .config("spark.sql.shuffle.partitions", "4").config("spark.sql.execution.arrow.pyspark.enabled", "true")
         .config("spark.sql.warehouse.dir", os.path.join(os.environ.get("TMPDIR", "/tmp"), "wayfare-spark-warehouse")))
    for k, v in conf.items():
        b = b.config(k, v)
    return b.getOrCreate()

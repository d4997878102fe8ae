"""Paths: what people do next after a starting event, drawn as a Sankey of the first few steps."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ...errors import ValidationError
from ...store import Scope
from .base import Ctx, page
from .common import event_names, stage_of

DEPTH = 4
TOP = 6


def build_paths_sql(depth: int) -> str:
    cols = ", ".join(f"max(event) FILTER (WHERE rn = {i}) s{i}" for i in range(1, depth + 1))
    return f"""WITH s AS (SELECT person_id, min(ts) t0 FROM events WHERE event = $start AND person_id IS NOT NULL GROUP BY 1),
        q AS (SELECT e.person_id, e.event,
                     row_number() OVER (PARTITION BY e.person_id ORDER BY e.ts, e.seq) rn
              FROM events e JOIN s ON e.person_id = s.person_id AND e.ts >= s.t0 WHERE e.event IS NOT NULL),
        p AS (SELECT person_id, {cols} FROM q WHERE rn <= {depth} GROUP BY 1)
        SELECT {", ".join(f"s{i}" for i in range(1, depth + 1))}, count(*) FROM p GROUP BY ALL"""


def run_paths(scope: Scope, start: str, depth: int = DEPTH) -> dict[str, Any]:
    rows = scope.rows(build_paths_sql(depth), {"start": start})
    per_col: list[Counter] = [Counter() for _ in range(depth)]
    for r in rows:
        for i in range(depth):
            per_col[i][r[i] or "(stopped)"] += r[-1]
    keep = [{k for k, _ in c.most_common(TOP)} for c in per_col]

    def name(i: int, v: str | None) -> str:
        v = v or "(stopped)"
        return v if v in keep[i] else "Other"

    links: Counter = Counter()
    cols: list[Counter] = [Counter() for _ in range(depth)]
    for r in rows:
        n = r[-1]
        for i in range(depth):
            if i > 0 and (r[i - 1] is None):
                break
            cols[i][name(i, r[i])] += n
            if i > 0:
                links[(i - 1, name(i - 1, r[i - 1]), name(i, r[i]))] += n
    columns = [sorted(c.items(), key=lambda kv: (kv[0] in ("Other", "(stopped)"), -kv[1])) for c in cols]
    top_paths = sorted(rows, key=lambda r: -r[-1])[:15]
    return {"start": start, "people": sum(r[-1] for r in rows), "columns": [[list(x) for x in c] for c in columns],
            "links": [[i, a, b, n] for (i, a, b), n in links.items()],
            "top_paths": [{"steps": [s for s in r[:-1] if s], "people": r[-1]} for r in top_paths]}


@page("/paths", "paths.html", "Paths", nav="Paths")
def paths(ctx: Ctx) -> dict:
    names = ctx.cached("event_names", lambda: event_names(ctx.scope))
    start = ctx.arg("start") or next((n for n in names if stage_of(n) == "Discover"), names[0] if names else "")
    if start and start not in names:
        raise ValidationError(f"no event named {start!r} in your data", where="start")
    result = ctx.cached(f"paths:{start}", lambda: run_paths(ctx.scope, start)) if start else None
    return {"event_names": names, "start": start, "result": result}

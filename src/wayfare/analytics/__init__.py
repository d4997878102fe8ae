"""Analytics: funnels, paths, retention, segments, RFM and KPIs as Ibis expressions.

Typed query (``model``) -> pure builder over Ibis tables -> one ``run_*`` function that executes, on
the store's DuckDB or on Spark (see ``engine``).
"""

from .engine import Tables, spark_session
from .funnel import funnel_levels, run_funnel
from .kpis import kpi_table, run_kpis
from .model import Condition, Exclusion, FunnelQuery, PathsQuery, RetentionQuery, Step, parse_duration, parse_step
from .paths import path_rows, run_paths
from .retention import retention_table, run_repeat, run_retention
from .rfm import SEGMENTS, rfm_table, run_rfm
from .saved import delete_segment, list_segments, preview_segment, refresh_segment, save_segment, segment_history
from .segments import members_expr, parse_rule

__all__ = ["Tables", "spark_session", "funnel_levels", "run_funnel", "kpi_table", "run_kpis", "Condition", "Exclusion",
           "FunnelQuery", "PathsQuery", "RetentionQuery", "Step", "parse_duration", "parse_step", "path_rows",
           "run_paths", "retention_table", "run_retention", "run_repeat", "SEGMENTS", "rfm_table", "run_rfm",
           "members_expr", "parse_rule", "save_segment", "list_segments", "preview_segment", "refresh_segment",
           "segment_history", "delete_segment", "dashboard_funnel"]


def dashboard_funnel(scope, steps: list[str], window_days: int, breakdown: str = ""):
    """The dashboard's funnel figures (same shape as its built-in query), computed by this engine."""
    t = Tables.from_scope(scope, cursor=True)  # the dashboard calls from server threads
    by = {"channel": "channel", "persona": "persona"}.get(breakdown) if breakdown else None
    q = FunnelQuery(steps=[parse_step(s) for s in steps], within=window_days * 86400, by=by)
    r = run_funnel(t.events, q, t.profiles, detail=False)
    groups = r.get("breakdown") or [{"key": "All", "steps": r["steps"]}]
    series = []
    for g in groups[:8]:
        counts = [s["count"] for s in g["steps"]]
        series.append({"group": g["key"], "counts": counts,
                       "conversion": [c / counts[0] if counts[0] else None for c in counts],
                       "step_conversion": [None] + [s["conversion_from_previous"] for s in g["steps"][1:]],
                       "median_hours": [s["median_hours"] for s in g["steps"]]})
    total = [s["count"] for s in r["steps"]]
    return {"steps": steps, "window_days": window_days, "breakdown": breakdown, "series": series, "total": total,
            "overall": total[-1] / total[0] if total and total[0] else None}

"""Journey map: the stage × channel grid of who did what, the emotion curve across stages, per persona;
each cell opens the people and events behind it."""

from __future__ import annotations

import datetime as dt

from ...errors import ValidationError
from ...store import Scope
from .base import Ctx, page
from .common import FEEDBACK_SCORE_SQL, STAGE_ORDER, anchor, persona_list, stage_values_sql

WINDOW_DAYS = 180
_PERSONA = "coalesce(p.traits->>'persona', p.traits->>'demo_persona')"


def _filter(persona: str) -> tuple[str, str]:
    if not persona:
        return "", ""
    return " JOIN profiles p ON p.person_id = e.person_id", f" AND {_PERSONA} = $persona"


def journey_map(scope: Scope, persona: str = "") -> dict:
    now = anchor(scope)
    join, where = _filter(persona)
    params = {"s": now - dt.timedelta(days=WINDOW_DAYS), "persona": persona} if persona else {
        "s": now - dt.timedelta(days=WINDOW_DAYS)}
    stages = stage_values_sql(scope)
    score = FEEDBACK_SCORE_SQL.replace("properties", "e.properties")
    # one pass over the events: (person, stage, channel) with counts and the mean feedback score
    per = scope.rows(
        f"""WITH ev AS MATERIALIZED (
                SELECT e.person_id, m.stage, coalesce(e.channel, 'unknown') AS channel, e.event, {score} AS score
                FROM events e JOIN {stages} m ON m.event = e.event{join}
                WHERE e.ts > $s AND e.person_id IS NOT NULL{where}),
            fb AS (SELECT person_id, avg(score) s FROM ev WHERE score IS NOT NULL GROUP BY 1),
            grid AS (SELECT 'grid' kind, stage, channel, count(DISTINCT person_id) people, count(*) n, mode(event) top,
                            NULL::DOUBLE mood FROM ev GROUP BY 2, 3),
            st AS (SELECT DISTINCT person_id, stage FROM ev),
            mood AS (SELECT 'stage' kind, stage, NULL channel, count(*) people, NULL n, NULL top, avg(fb.s) mood
                     FROM st LEFT JOIN fb USING (person_id) GROUP BY 2)
            SELECT * FROM grid UNION ALL SELECT * FROM mood""", params)
    rows = [(r[1], r[2], r[3], r[4], r[5]) for r in per if r[0] == "grid"]
    moods = {r[1]: r[6] for r in per if r[0] == "stage"}
    stage_people = {r[1]: r[3] for r in per if r[0] == "stage"}
    channels = sorted({r[1] for r in rows}, key=lambda c: -sum(r[2] for r in rows if r[1] == c))
    top = max((r[2] for r in rows), default=1) or 1
    cells = {(r[0], r[1]): {"people": r[2], "events": r[3], "top_event": r[4],
                            "heat": min(5, int(6 * r[2] / top))} for r in rows}
    grid = [{"channel": ch, "cells": [dict(stage=s, channel=ch, **cells.get((s, ch), {"people": 0, "events": 0,
                                                                                      "top_event": None, "heat": 0}))
                                      for s in STAGE_ORDER]} for ch in channels]
    stages = [{"stage": s, "people": stage_people.get(s, 0),
               "mood": None if moods.get(s) is None else round(10 * moods[s], 1)} for s in STAGE_ORDER]
    return {"as_of": now, "window_days": WINDOW_DAYS, "persona": persona, "stages": stages, "grid": grid,
            "empty": not rows}


@page("/journey", "journey.html", "Journey map", nav="Journey map")
def journey(ctx: Ctx) -> dict:
    persona = ctx.arg("persona")
    personas = ctx.cached("personas", lambda: persona_list(ctx.scope))
    if persona and persona not in personas:
        raise ValidationError("no such persona", where=f"persona {persona!r}")
    data = ctx.cached(f"journey:{persona}", lambda: journey_map(ctx.scope, persona))
    return {**data, "personas": personas}


@page("/journey/cell", "journey_cell.html", "Journey cell")
def cell(ctx: Ctx) -> dict:
    stage_name, channel, persona = ctx.arg("stage"), ctx.arg("channel"), ctx.arg("persona")
    if stage_name not in STAGE_ORDER:
        raise ValidationError(f"stage must be one of {', '.join(STAGE_ORDER)}", where=f"stage {stage_name!r}")
    return ctx.cached(f"cell:{stage_name}:{channel}:{persona}", lambda: cell_detail(ctx.scope, stage_name, channel, persona))


def cell_detail(scope: Scope, stage_name: str, channel: str, persona: str) -> dict:
    now = anchor(scope)
    join, where = _filter(persona)
    params = {"s": now - dt.timedelta(days=WINDOW_DAYS), "st": stage_name, "ch": channel}
    if persona:
        params["persona"] = persona
    base = (f"FROM events e JOIN {stage_values_sql(scope)} m ON m.event = e.event{join} "
            f"WHERE e.ts > $s AND e.person_id IS NOT NULL{where} AND m.stage = $st "
            f"AND coalesce(e.channel, 'unknown') = $ch")
    events = scope.rows(f"SELECT e.event, count(*), count(DISTINCT e.person_id) {base} GROUP BY 1 ORDER BY 2 DESC", params)
    people = scope.rows(
        f"""WITH c AS (SELECT e.person_id, count(*) n, max(e.ts) last {base} GROUP BY 1 ORDER BY last DESC LIMIT 50)
            SELECT c.person_id, c.n, c.last, pr.traits->>'name', pr.traits->>'email'
            FROM c LEFT JOIN profiles pr ON pr.person_id = c.person_id ORDER BY c.last DESC""", params)
    return {"title": f"{stage_name}, via {channel}", "stage": stage_name, "channel": channel, "persona": persona,
            "events": [{"event": r[0], "count": r[1], "people": r[2]} for r in events],
            "people": [{"person_id": r[0], "events": r[1], "last": r[2], "name": r[3], "email": r[4]} for r in people]}

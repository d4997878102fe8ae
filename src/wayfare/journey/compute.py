"""The computed map: for each stage and touchpoint, who got there, who moved on and how fast, through which
channels, with how much revenue, and how it felt.

Definitions (so the figures can be recomputed by hand):

* *reached*: people with at least one event at the stage (or touchpoint);
* *moved on*: of those, people with an event at **any later stage** at or after their first event here (a
  walk-in who books without browsing has moved on); the *drop-off* is the rest; *median days to move on* is from
  the first event here to that first later event; *to next stage*: those with an event at the very next stage
  at or after their first event here;
* *revenue*: the ``revenue`` of the events at the stage (or touchpoint); *value per person*: all revenue of
  the people reached, divided by them;
* *emotion*: from the feedback events placed at the stage by the map: mean text sentiment in [-1, 1], NPS,
  CSAT; its *score* is the mean of sentiment, NPS/100 and (CSAT mean − 3)/2, those that exist.
  *emotion_about* attributes each feedback event to the stage of the person's previous event within 14
  days instead (what the feedback is about: a survey two days after a meal speaks of the purchase).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..feedback import csat as csat_of
from ..feedback import nps as nps_of
from ..feedback import score_texts
from ..feedback.texts import feedback_sql
from ..store import Scope
from .model import ONLINE_CHANNELS, JourneyMap
from .rules import Compiled, compile_map

__all__ = ["MapData", "load_map_data", "compute_map"]

US_PER_DAY = 86_400 * 1_000_000
ABOUT_WINDOW_DAYS = 14


@dataclass
class MapData:
    """The events on the map and the feedback, loaded once and filtered per persona."""

    jm: JourneyMap
    compiled: Compiled
    events: pd.DataFrame  # person (int code), ts (int64 µs), tp, stage, channel, revenue
    people_ids: np.ndarray  # code -> person_id
    feedback: pd.DataFrame  # person, ts, tp, stage, text, nps, csat, sentiment
    unmapped: list[dict[str, Any]]
    sentiment_model: str
    period: tuple[str | None, str | None]

    def person_codes(self, person_ids: Any) -> np.ndarray:
        idx = pd.Index(self.people_ids)
        codes = idx.get_indexer(pd.Index(list(person_ids)))
        return codes[codes >= 0]


def load_map_data(scope: Scope, jm: JourneyMap, since: str | None = None,
                  unmapped: list[dict[str, Any]] | None = None) -> MapData:
    comp = compile_map(jm.stages)
    params = dict(comp.params)
    where = "person_id IS NOT NULL"
    if since:
        where += " AND ts >= CAST($since AS TIMESTAMP)"
        params["since"] = since
    stage_arr = "[" + ", ".join(str(s) for s in comp.tp_stage) + "]" if comp.tp_stage else "[]"
    ev = scope.df(
        f"SELECT person_id, epoch_us(ts) AS ts, tp, {stage_arr}[tp + 1] AS stage, channel, revenue FROM ("
        f"SELECT person_id, ts, {comp.tp_case} AS tp, lower(coalesce(channel, 'unknown')) AS channel, revenue "
        f"FROM events WHERE {where}) WHERE tp IS NOT NULL", params)

    cat = pd.Categorical(ev["person_id"])
    people_ids = np.asarray(cat.categories, object)
    ev = pd.DataFrame({"person": cat.codes.astype(np.int64), "ts": ev["ts"].astype(np.int64),
                       "tp": ev["tp"].astype(np.int32), "stage": ev["stage"].astype(np.int32),
                       "channel": ev["channel"].astype("category"), "revenue": ev["revenue"].astype(float)})
    fb = scope.df(f"SELECT person_id, epoch_us(ts) AS ts, tp, {stage_arr}[tp + 1] AS stage, text, nps, csat FROM ("
                  + feedback_sql(where, extra=f", {comp.tp_case} AS tp") + ") WHERE tp IS NOT NULL AND "
                  "(text IS NOT NULL OR nps IS NOT NULL OR csat IS NOT NULL)", params)
    scored = score_texts(fb["text"].tolist(), scope)
    fb["sentiment"] = scored.scores
    fb["person"] = pd.Index(people_ids).get_indexer(fb["person_id"])
    fb = fb.drop(columns=["person_id"])
    rng = scope.one("SELECT min(ts), max(ts) FROM events" + (" WHERE ts >= CAST($since AS TIMESTAMP)" if since else ""),
                    {"since": since} if since else None)
    period = tuple(None if v is None else v.isoformat(timespec="seconds") for v in (rng or (None, None)))
    return MapData(jm, comp, ev, people_ids, fb, unmapped or [], scored.model, period)  # type: ignore[arg-type]


def _emotion(fb: pd.DataFrame) -> dict[str, Any]:
    texts = fb["sentiment"].dropna()
    n = nps_of(fb["nps"])
    c = csat_of(fb["csat"])
    parts = []
    if len(texts):
        parts.append(float(texts.mean()))
    if n["n"]:
        parts.append(n["nps"] / 100)
    if c["n"]:
        parts.append((c["mean"] - 3) / 2)
    return {"score": round(float(np.mean(parts)), 3) if parts else None,
            "sentiment": round(float(texts.mean()), 3) if len(texts) else None, "texts": int(len(texts)),
            "negative_pct": round(100 * float((texts <= -0.05).mean()), 1) if len(texts) else None,
            "nps": n["nps"], "nps_n": n["n"], "csat_pct": c["csat_pct"], "csat_mean": c["mean"], "csat_n": c["n"],
            "feedback_people": int(fb["person"].nunique())}


def _next_later(first: pd.DataFrame, ev: pd.DataFrame, stage: int, only_next: bool = False) -> np.ndarray:
    """For rows (person, ts) at ``stage``: the time of the person's first event at a later stage (or, with
    ``only_next``, at the next stage) at or after ts; -1 where there is none."""
    sel = ev["stage"] == stage + 1 if only_next else ev["stage"] > stage
    later = ev.loc[sel, ["person", "ts"]].rename(columns={"ts": "next_ts"})
    out = np.full(len(first), -1, np.int64)
    if later.empty or first.empty:
        return out
    left = first[["person", "ts"]].reset_index(drop=True)
    left["row"] = np.arange(len(left))
    left = left.sort_values("ts", kind="stable")
    later = later.sort_values("next_ts", kind="stable")
    m = pd.merge_asof(left, later, left_on="ts", right_on="next_ts", by="person", direction="forward",
                      allow_exact_matches=True)
    nxt = m["next_ts"].to_numpy()
    ok = ~np.isnan(nxt)
    out[m["row"].to_numpy()[ok]] = nxt[ok].astype(np.int64)
    return out


def _figures(first: pd.DataFrame, nxt: np.ndarray, evs: pd.DataFrame, value: pd.Series, last: bool,
             nxt1: np.ndarray | None = None) -> dict[str, Any]:
    people = len(first)
    moved = nxt >= 0
    to_next = int((nxt1 >= 0).sum()) if nxt1 is not None else 0
    days = (nxt[moved] - first["ts"].to_numpy()[moved]) / US_PER_DAY
    ch = evs["channel"].value_counts()
    ch = ch[ch > 0]
    online = float(ch[ch.index.isin(ONLINE_CHANNELS)].sum() / ch.sum()) if ch.sum() else None
    person_value = value.reindex(first["person"].to_numpy()).fillna(0.0)
    out = {"people": people, "events": int(len(evs)),
           "moved_on": None if last else int(moved.sum()),
           "moved_on_pct": None if last or not people else round(100 * moved.mean(), 1),
           "drop_off": None if last else int(people - moved.sum()),
           "drop_off_pct": None if last or not people else round(100 * (1 - moved.mean()), 1),
           "to_next_stage": None if last else to_next,
           "to_next_stage_pct": None if last or not people else round(100 * to_next / people, 1),
           "median_days_to_move_on": None if last or not moved.any() else round(float(np.median(days)), 2),
           "channels": {str(k): int(v) for k, v in ch.items()},
           "online_pct": None if online is None else round(100 * online, 1),
           "revenue": round(float(evs["revenue"].sum(skipna=True)), 2),
           "value_per_person": round(float(person_value.mean()), 2) if people else None,
           "value_per_mover": round(float(person_value[moved].mean()), 2) if not last and moved.any() else None}
    return out


def compute_map(data: MapData, people: np.ndarray | None = None, persona: str | None = None) -> dict[str, Any]:
    """The map for everyone, or for the people (codes) of one persona."""
    ev, fb = data.events, data.feedback
    if people is not None:
        ev = ev[ev["person"].isin(people)]
        fb = fb[fb["person"].isin(people)]
    jm, comp = data.jm, data.compiled
    value = ev.groupby("person")["revenue"].sum(min_count=1).fillna(0.0)
    n_people = int(ev["person"].nunique())
    fb_about = _about(fb, ev)
    stages_out = []
    last_idx = len(jm.stages) - 1
    for si, stage in enumerate(jm.stages):
        sev = ev[ev["stage"] == si]
        first = sev.groupby("person", sort=False)["ts"].min().reset_index()
        nxt = _next_later(first, ev, si)
        fig = _figures(first, nxt, sev, value, si == last_idx, _next_later(first, ev, si, only_next=True))
        fig["reach_pct"] = round(100 * fig["people"] / n_people, 1) if n_people else None
        tps = []
        for ti, (name, tps_stage) in enumerate(zip(comp.tp_names, comp.tp_stage, strict=True)):
            if tps_stage != si:
                continue
            tev = sev[sev["tp"] == ti]
            tfirst = tev.groupby("person", sort=False)["ts"].min().reset_index()
            tn = _next_later(tfirst, ev, si)
            tfig = _figures(tfirst, tn, tev, value, si == last_idx, _next_later(tfirst, ev, si, only_next=True))
            tfig["reach_pct"] = round(100 * tfig["people"] / n_people, 1) if n_people else None
            tfb = fb[fb["tp"] == ti]
            tps.append({"name": name, **tfig, "emotion": _emotion(tfb) if len(tfb) else None})
        sfb = fb[fb["stage"] == si]
        afb = fb_about[fb_about["about_stage"] == si]
        stages_out.append({"name": stage.name, "index": si, **fig,
                           "emotion": _emotion(sfb) if len(sfb) else None,
                           "emotion_about": _emotion(afb) if len(afb) else None,
                           "touchpoints": tps})
    purchase = stages_out[jm.purchase_index()]
    buyers = purchase["people"]
    total_rev = float(ev["revenue"].sum(skipna=True))
    return {
        "map": jm.name, "persona": persona, "people": n_people, "events_mapped": int(len(ev)),
        "period": {"from": data.period[0], "to": data.period[1]},
        "sentiment_model": data.sentiment_model,
        "totals": {"revenue": round(total_rev, 2), "buyers": buyers,
                   "buyer_pct": round(100 * buyers / n_people, 1) if n_people else None,
                   "revenue_per_buyer": round(total_rev / buyers, 2) if buyers else None,
                   "emotion": _emotion(fb) if len(fb) else None},
        "stages": stages_out,
        "emotion_curve": [{"stage": s["name"], "score": (s["emotion"] or {}).get("score"),
                           "about_score": (s["emotion_about"] or {}).get("score")} for s in stages_out],
        "unmapped": data.unmapped,
    }


def _about(fb: pd.DataFrame, ev: pd.DataFrame) -> pd.DataFrame:
    """Each feedback event with the stage of the person's previous non-feedback event (within 14 days)."""
    out = fb.copy()
    out["about_stage"] = out["stage"]
    if fb.empty:
        return out
    fb_tps = set(fb["tp"].unique())
    prior = ev.loc[~ev["tp"].isin(fb_tps), ["person", "ts", "stage"]].rename(columns={"ts": "prev_ts",
                                                                                      "stage": "prev_stage"})
    left = out[["person", "ts"]].copy()
    left["row"] = np.arange(len(left))
    left = left[left["person"] >= 0].sort_values("ts", kind="stable")
    m = pd.merge_asof(left, prior.sort_values("prev_ts", kind="stable"), left_on="ts", right_on="prev_ts",
                      by="person", direction="backward", tolerance=ABOUT_WINDOW_DAYS * US_PER_DAY)
    ok = m["prev_stage"].notna().to_numpy()
    about = out["about_stage"].to_numpy().copy()
    about[m["row"].to_numpy()[ok]] = m["prev_stage"].to_numpy()[ok].astype(int)
    out["about_stage"] = about
    return out

"""Pain points, detected from the computed map and the voice of the customer, each ranked by revenue at
stake (people affected × value per person), told in a sentence and paired with an automation template.

Rules (each a small function returning pain points):
* ``biggest_leak``: the stage before purchase that loses the most people (when it loses at least a quarter);
* ``touchpoint_dropoff``: a touchpoint loses clearly more people than its stage does (two-proportion z-test);
* ``stage_dropoff_rising``: a stage's drop-off among recent entrants is above its own earlier months;
* ``emotion_dip``: feedback about a stage is mostly negative;
* ``long_wait``: people wait far longer to move on from a touchpoint than from its stage overall;
* ``repeat_contacts``: people contacting support again within 14 days;
* ``complaint_theme``: a complaint theme that is rising, or large;
* ``detractors``: a large share of NPS detractors;
* ``lapsing``: repeat customers overdue for their next purchase.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from .compute import US_PER_DAY, MapData, _next_later

__all__ = ["detect_pain_points", "TEMPLATES", "template_available", "THEME_TEMPLATES"]

TEMPLATES = ("order-confirmation", "shipping-notice", "feedback-request", "review-request", "nps-detractor-followup",
             "win-back", "abandoned-cart", "welcome-series", "appointment-reminder", "loyalty-reward",
             "referral-invitation", "birthday-offer", "re-engagement")
THEME_TEMPLATES = {
    "slow service": ("feedback-request", "nps-detractor-followup"),
    "order mistakes": ("order-confirmation", "nps-detractor-followup"),
    "delivery problems": ("shipping-notice", "feedback-request"),
    "booking problems": ("appointment-reminder", "feedback-request"),
    "too expensive": ("loyalty-reward", "birthday-offer"),
    "rude staff": ("nps-detractor-followup", "feedback-request"),
    "support not answering": ("nps-detractor-followup", "feedback-request"),
    "poor quality": ("feedback-request", "nps-detractor-followup"),
    "sizing and fit problems": ("order-confirmation", "review-request"),
    "fabric problems": ("feedback-request", "review-request"),
    "dirty": ("feedback-request", "nps-detractor-followup"),
    "noisy or uncomfortable": ("feedback-request", "review-request"),
}
MIN_PEOPLE = 30


def template_available(name: str) -> bool:
    try:
        from ..automate.loader import template_names
    except Exception:  # the automation library is optional for the map
        return False
    return name in template_names()


def _stage_template(stage_idx: int, purchase_idx: int, tp_name: str = "") -> tuple[str, str]:
    n = tp_name.lower()
    if stage_idx < purchase_idx:
        if re.search(r"cart|basket|checkout|added", n):
            return "abandoned-cart", "re-engagement"
        if re.search(r"book|appointment|reserv|enquir|inquir|quote", n):
            return "appointment-reminder", "welcome-series"
        return "welcome-series", "re-engagement"
    if stage_idx == purchase_idx:
        return "feedback-request", "review-request"
    return "loyalty-reward", "referral-invitation"


def _pp(kind: str, sentence: str, affected: float, value: float, template: str, also: str | None, *,
        stage: str | None = None, touchpoint: str | None = None, evidence: dict | None = None) -> dict[str, Any]:
    affected, value = int(round(affected)), round(value, 2)
    return {"kind": kind, "stage": stage, "touchpoint": touchpoint, "sentence": sentence, "people_affected": affected,
            "value_per_person": value, "revenue_at_stake": round(affected * value, 2),
            "recommended_template": template, "also": also, "action": f"wayfare flows enable {template}",
            "template_available": template_available(template), "evidence": evidence or {}}


def _z(p1: float, n1: int, p2: float, n2: int) -> float:
    p = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(max(p * (1 - p) * (1 / n1 + 1 / n2), 1e-12))
    return (p1 - p2) / se


def yearly_value(data: MapData, people: np.ndarray | None = None) -> float:
    """Mean revenue per buyer over the last 365 days of data."""
    ev = data.events
    if people is not None:
        ev = ev[ev["person"].isin(people)]
    if ev.empty:
        return 0.0
    recent = ev[(ev["ts"] >= ev["ts"].max() - 365 * US_PER_DAY) & (ev["revenue"] > 0)]
    buyers = recent["person"].nunique()
    return float(recent["revenue"].sum() / buyers) if buyers else 0.0


def biggest_leak(m: dict, data: MapData) -> list[dict]:
    pi = data.jm.purchase_index()
    before = [s for s in m["stages"][:pi] if s["people"] >= MIN_PEOPLE and s["drop_off_pct"] is not None]
    if not before:
        return []
    s = max(before, key=lambda x: x["drop_off_pct"])
    if s["drop_off_pct"] < 25:
        return []
    tps = [t for t in s["touchpoints"] if t["drop_off"]]
    worst = max(tps, key=lambda t: t["drop_off"], default=None)
    tpl, also = _stage_template(s["index"], pi, worst["name"] if worst else "")
    where = f", most of them after “{worst['name']}” ({worst['drop_off']})" if worst else ""
    return [_pp("biggest_leak",
                f"{s['drop_off_pct']:.0f}% of the {s['people']} people who reach {s['name']} go no further — the biggest "
                f"leak before purchase: {s['drop_off']} people{where}, each worth {s['value_per_mover'] or 0:.2f} "
                "if they moved on like the others.",
                s["drop_off"], s["value_per_mover"] or 0.0, tpl, also, stage=s["name"],
                touchpoint=worst["name"] if worst else None,
                evidence={"drop_off_pct": s["drop_off_pct"], "drop_off": s["drop_off"]})]


def touchpoint_dropoff(m: dict, data: MapData) -> list[dict]:
    out = []
    pi = data.jm.purchase_index()
    for s in m["stages"][:-1]:
        if not s["people"]:
            continue
        for t in s["touchpoints"]:
            if t["people"] < MIN_PEOPLE or t["drop_off_pct"] is None:
                continue
            gap = t["drop_off_pct"] - s["drop_off_pct"]
            if gap < 5 or _z(t["drop_off_pct"] / 100, t["people"], s["drop_off_pct"] / 100, s["people"]) < 2.5:
                continue
            extra = t["people"] * gap / 100
            tpl, also = _stage_template(s["index"], pi, t["name"])
            out.append(_pp("touchpoint_dropoff",
                           f"{t['drop_off_pct']:.0f}% of the {t['people']} people at “{t['name']}” go no further, "
                           f"against {s['drop_off_pct']:.0f}% for {s['name']} as a whole: about {extra:.0f} more people "
                           f"lost than the stage's own baseline.",
                           extra, s["value_per_mover"] or 0.0, tpl, also, stage=s["name"], touchpoint=t["name"],
                           evidence={"touchpoint_drop_off_pct": t["drop_off_pct"], "stage_drop_off_pct": s["drop_off_pct"]}))
    return out


def stage_dropoff_rising(m: dict, data: MapData, people: np.ndarray | None = None) -> list[dict]:
    """Recent entrants (the last 90 days that had time to move on) against the months before."""
    out = []
    ev = data.events if people is None else data.events[data.events["person"].isin(people)]
    if ev.empty:
        return out
    end = int(ev["ts"].max())
    pi = data.jm.purchase_index()
    for s in m["stages"][:-1]:
        si = s["index"]
        first = ev[ev["stage"] == si].groupby("person", sort=False)["ts"].min().reset_index()
        if len(first) < 4 * MIN_PEOPLE:
            continue
        nxt = _next_later(first, ev, si)
        med = s["median_days_to_move_on"] or 7
        grace = min(max(14.0, 2 * med), 120.0) * US_PER_DAY
        ok = first["ts"].to_numpy() <= end - grace
        recent = ok & (first["ts"].to_numpy() > end - grace - 90 * US_PER_DAY)
        before = ok & ~recent
        # people may move on after the grace period too: count both groups only within the same horizon
        horizon = grace
        moved = (nxt >= 0) & (nxt - first["ts"].to_numpy() <= horizon)
        n1, n2 = int(recent.sum()), int(before.sum())
        if n1 < MIN_PEOPLE or n2 < MIN_PEOPLE:
            continue
        d1, d2 = 1 - moved[recent].mean(), 1 - moved[before].mean()
        if d1 - d2 < 0.05 or _z(d1, n1, d2, n2) < 2.5:
            continue
        extra = n1 * (d1 - d2)
        tpl, also = _stage_template(si, pi)
        out.append(_pp("stage_dropoff_rising",
                       f"Drop-off after {s['name']} rose to {100 * d1:.0f}% for people arriving in the last 90 days "
                       f"(from {100 * d2:.0f}% before): about {extra:.0f} more people lost.",
                       extra, s["value_per_mover"] or 0.0, tpl, also, stage=s["name"],
                       evidence={"recent_drop_off_pct": round(100 * d1, 1), "earlier_drop_off_pct": round(100 * d2, 1),
                                 "recent_people": n1}))
    return out


def emotion_dip(m: dict, data: MapData, value: float, fb: pd.DataFrame) -> list[dict]:
    out = []
    pi = data.jm.purchase_index()
    for s in m["stages"]:
        e = s.get("emotion_about")
        if not e or e["texts"] < 20 or e["negative_pct"] is None or e["negative_pct"] < 40:
            continue
        neg_people = fb.loc[(fb["about_stage"] == s["index"]) & (fb["sentiment"] <= -0.05), "person"].nunique()
        tpl, also = ("nps-detractor-followup", "feedback-request") if s["index"] >= pi else _stage_template(s["index"], pi)
        out.append(_pp("emotion_dip",
                       f"Feedback about {s['name']} is mostly unhappy: {e['negative_pct']:.0f}% of {e['texts']} comments "
                       f"are negative (mean sentiment {round(e['sentiment'], 2) + 0.0:+.2f}), from {neg_people} people.",
                       neg_people, value, tpl, also, stage=s["name"],
                       evidence={"negative_pct": e["negative_pct"], "sentiment": e["sentiment"], "texts": e["texts"]}))
    return out


def long_wait(m: dict, data: MapData) -> list[dict]:
    out = []
    pi = data.jm.purchase_index()
    for s in m["stages"][:-1]:
        med = s["median_days_to_move_on"]
        if not med:
            continue
        for ti, (name, st) in enumerate(zip(data.compiled.tp_names, data.compiled.tp_stage, strict=True)):
            t = next((x for x in s["touchpoints"] if x["name"] == name), None)
            if st != s["index"] or t is None or t["people"] < MIN_PEOPLE or not t["median_days_to_move_on"]:
                continue
            if t["median_days_to_move_on"] < 2 * med or t["median_days_to_move_on"] - med < 1:
                continue
            tev = data.events[data.events["tp"] == ti]
            first = tev.groupby("person", sort=False)["ts"].min().reset_index()
            nxt = _next_later(first, data.events, s["index"])
            waited = int(((nxt >= 0) & ((nxt - first["ts"].to_numpy()) / US_PER_DAY > med)).sum())
            tpl, also = _stage_template(s["index"], pi, name)
            out.append(_pp("long_wait",
                           f"People wait {t['median_days_to_move_on']:.1f} days (median) after “{name}” before moving on, "
                           f"against {med:.1f} for {s['name']} overall; {waited} waited longer than usual.",
                           waited, s["value_per_mover"] or 0.0, tpl, also, stage=s["name"], touchpoint=name,
                           evidence={"touchpoint_median_days": t["median_days_to_move_on"], "stage_median_days": med}))
    return out


def repeat_contacts(data: MapData, value: float, people: np.ndarray | None) -> list[dict]:
    names = [i for i, n in enumerate(data.compiled.tp_names) if re.search(r"ticket|support|complain|contact", n, re.I)]
    ev = data.events
    sup = ev[ev["tp"].isin(names) | (ev["channel"] == "support")]
    if people is not None:
        sup = sup[sup["person"].isin(people)]
    if sup.empty:
        return []
    sup = sup.sort_values(["person", "ts"])
    gap = sup.groupby("person")["ts"].diff()
    again = sup.loc[gap <= 14 * US_PER_DAY, "person"].unique()
    if len(again) < 5:
        return []
    contacted = sup["person"].nunique()
    return [_pp("repeat_contacts",
                f"{len(again)} of the {contacted} people who contacted support had to come back within 14 days "
                f"({100 * len(again) / contacted:.0f}%): the first answer did not solve it.",
                len(again), value, "nps-detractor-followup", "feedback-request", stage=None, touchpoint=None,
                evidence={"people_contacting": contacted, "people_again_within_14_days": int(len(again))})]


def complaint_theme(themes: list[dict], value: float, texts: int) -> list[dict]:
    out = []
    for t in themes:
        if t["polarity"] != "complaint":
            continue
        big = texts and t["mentions"] >= 0.08 * texts
        if t["trend"] != "rising" and not big:
            continue
        tpl, also = THEME_TEMPLATES.get(t["theme"], ("feedback-request", "nps-detractor-followup"))
        how = (f"is rising ({t['rate_previous_pct']}% → {t['rate_last_pct']}% of comments over 90 days)"
               if t["trend"] == "rising" else f"comes up in {t['share_pct']:.0f}% of comments")
        quote = f" — “{t['quotes'][0]}”" if t["quotes"] else ""
        out.append(_pp("complaint_theme", f"“{t['theme']}” {how}, from {t['people']} people{quote}",
                       t["people"] or t["mentions"], value, tpl, also, stage=None,
                       evidence={"theme": t["theme"], "mentions": t["mentions"], "trend": t["trend"]}))
    return out


def detractors(fb: pd.DataFrame, value: float) -> list[dict]:
    a = fb.dropna(subset=["nps"])
    if len(a) < 30:
        return []
    det = a[a["nps"] <= 6]
    share = len(det) / len(a)
    if share < 0.2:
        return []
    people = det["person"].nunique()
    return [_pp("detractors", f"{100 * share:.0f}% of {len(a)} NPS answers are detractors (0-6), from {people} people "
                "who may be telling others.", people, value, "nps-detractor-followup", "feedback-request",
                stage=None, evidence={"detractor_pct": round(100 * share, 1), "answers": len(a)})]


def lapsing(data: MapData, people: np.ndarray | None) -> list[dict]:
    pi = data.jm.purchase_index()
    pur = data.events[data.events["stage"] == pi]
    if people is not None:
        pur = pur[pur["person"].isin(people)]
    if pur.empty:
        return []
    end = int(data.events["ts"].max())
    g = pur.sort_values("ts").groupby("person")
    stats = pd.DataFrame({"n": g.size(), "last": g["ts"].max(), "first": g["ts"].min(),
                          "rev": g["revenue"].sum(min_count=1).fillna(0)})
    rep = stats[stats["n"] >= 2].copy()
    if len(rep) < MIN_PEOPLE:
        return []
    rep["gap"] = (rep["last"] - rep["first"]) / (rep["n"] - 1) / US_PER_DAY
    rep["since"] = (end - rep["last"]) / US_PER_DAY
    over = rep[(rep["since"] > 3 * rep["gap"].clip(lower=7)) & (rep["since"] > 45)]
    if len(over) < 5:
        return []
    years = ((over["last"] - over["first"]) / US_PER_DAY / 365).clip(lower=1 / 12)
    yearly = float(np.median(over["rev"] / years))  # what such a customer spent a year while active
    return [_pp("lapsing", f"{len(over)} repeat customers are overdue: their last purchase was more than three of "
                f"their usual gaps ago (median {over['since'].median():.0f} days).", len(over), yearly, "win-back",
                "re-engagement", stage=data.jm.stages[pi].name,
                evidence={"repeat_customers": int(len(rep)), "overdue": int(len(over))})]


def detect_pain_points(m: dict, data: MapData, themes: list[dict], people: np.ndarray | None = None,
                       texts: int = 0) -> list[dict[str, Any]]:
    """All pain points, biggest revenue at stake first."""
    from .compute import _about

    value = yearly_value(data, people)
    ev = data.events if people is None else data.events[data.events["person"].isin(people)]
    fb = data.feedback if people is None else data.feedback[data.feedback["person"].isin(people)]
    fb = _about(fb, ev)
    found = (biggest_leak(m, data) + touchpoint_dropoff(m, data) + stage_dropoff_rising(m, data, people) + emotion_dip(m, data, value, fb)
             + long_wait(m, data) + repeat_contacts(data, value, people) + complaint_theme(themes, value, texts)
             + detractors(fb, value) + lapsing(data, people))
    found.sort(key=lambda p: -p["revenue_at_stake"])
    for i, p in enumerate(found, 1):
        p["rank"] = i
    return found

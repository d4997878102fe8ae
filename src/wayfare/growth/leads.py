"""Lead scoring and assignment.

* **Points**: each rule gives points for an event (by name pattern) or a trait, and event points fade with
  age (half-life ``half_life_days``). The chatbot's qualifying answers come in as events
  (``Lead Qualified`` / ``Assistant Qualified`` / ``Question Answered`` with ``properties.qualified``).
* **Learned score**: with enough history (``min_positives`` people who became customers), a logistic
  regression on per-person event counts, recency and traits before a snapshot predicts who converts in the
  next ``horizon_days``; its AUC on a held-out quarter is reported.
* **Stages**: subscriber -> lead -> qualified -> customer (thresholds on points or probability; anyone who
  bought is a customer); ``visitor`` for people with no contact and no points.
* **Assignment**: each qualified lead without an open task gets one for a member of staff — by topic
  (``properties.topic`` of their enquiries or ``traits.topic``), else by territory (``traits.territory /
  city / country``), else round-robin — due ``due_hours`` later.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import NotFound, ValidationError
from ..store import utcnow
from .recommend import PURCHASE_PATTERN

__all__ = ["Rule", "ScoringConfig", "DEFAULT_RULES", "score_people", "save_scores", "list_leads", "add_staff",
           "list_staff", "assign_leads", "list_tasks", "STAGES"]

STAGES = ("visitor", "subscriber", "lead", "qualified", "customer")


@dataclass(frozen=True)
class Rule:
    """``points`` for every event whose name matches ``event`` (a regex, case-insensitive), or once when the
    trait ``trait`` is present (and equals ``value`` if given)."""

    points: float
    event: str | None = None
    trait: str | None = None
    value: str | None = None
    cap: int = 5  # at most this many events count

    @property
    def name(self) -> str:
        return f"event ~ {self.event}" if self.event else f"traits.{self.trait}" + (f" = {self.value}" if self.value else "")


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(1, event=r"^(?:page|screen)$|viewed"),
    Rule(3, event=r"email opened|link clicked|clicked"),
    Rule(10, event=r"signed up|loyalty joined|newsletter|subscribed"),
    Rule(15, event=r"booked|appointment|table booked|cart|checkout started"),
    Rule(20, event=r"form submitted|contact requested|quote requested|enquiry|inquiry|demo requested|call requested"),
    Rule(20, event=r"lead qualified|assistant qualified|qualifying"),
    Rule(-15, event=r"unsubscribed|complaint"),
    Rule(5, trait="email"),
    Rule(5, trait="phone"),
    Rule(5, trait="email_marketing", value="subscribed"),
)


@dataclass
class ScoringConfig:
    rules: tuple[Rule, ...] = DEFAULT_RULES
    half_life_days: float = 30.0
    lead_points: float = 15.0
    qualified_points: float = 40.0
    qualified_probability: float = 0.5
    min_positives: int = 30
    horizon_days: int = 30
    rules_extra: list[Rule] = field(default_factory=list)


PEOPLE_SQL = """
SELECT p.person_id, p.traits,
       EXISTS (SELECT 1 FROM events e WHERE e.person_id = p.person_id AND e.type = 'track'
               AND (regexp_matches(lower(e.event), $purchase) OR e.revenue > 0)) AS bought
FROM profiles p
"""

EVENTS_SQL = """
SELECT person_id, lower(event) AS event, ts, revenue,
       COALESCE(properties->>'topic', properties->>'subject') AS topic,
       properties->>'qualified' AS qualified
FROM events WHERE person_id IS NOT NULL AND type IN ('track', 'page', 'screen') AND ts <= $now
"""


def _points(ev: pd.DataFrame, traits: dict[str, dict], cfg: ScoringConfig, now: pd.Timestamp) -> pd.DataFrame:
    rules = list(cfg.rules) + cfg.rules_extra
    people = list(traits)
    pts = pd.Series(0.0, index=people)
    reasons: dict[str, list] = {p: [] for p in people}
    if len(ev):
        age = (now - ev.ts).dt.total_seconds().clip(lower=0) / 86400
        decay = np.power(0.5, age / cfg.half_life_days)
        for r in (r for r in rules if r.event):
            m = ev.event.str.contains(r.event, regex=True, case=False, na=False)
            if r.event.startswith("lead qualified"):
                m = m & ~ev.qualified.fillna("").str.lower().isin(["false", "no", "0"])
            if not m.any():
                continue
            sub = pd.DataFrame({"p": ev.person_id[m], "d": decay[m]}).sort_values("d", ascending=False)
            s = sub.groupby("p").head(r.cap).groupby("p").d.sum() * r.points
            s = s[s.index.isin(pts.index)]
            pts = pts.add(s, fill_value=0)
            for p, v in s.items():
                reasons[p].append((r.name, round(float(v), 2)))
    for r in (r for r in rules if r.trait):
        for p, t in traits.items():
            v = t.get(r.trait)
            if v not in (None, "") and (r.value is None or str(v) == r.value):
                pts[p] += r.points
                reasons[p].append((r.name, r.points))
    return pd.DataFrame({"person_id": people, "points": pts.reindex(people).round(2).to_numpy(),
                         "reasons": [sorted(reasons[p], key=lambda x: -abs(x[1]))[:3] for p in people]})


def _features(ev: pd.DataFrame, people: list[str], traits: dict[str, dict], at: pd.Timestamp,
              vocab: list[str]) -> np.ndarray:
    e = ev[ev.ts < at]
    counts = pd.crosstab(e.person_id, e.event).reindex(index=people, columns=vocab, fill_value=0)
    last = e.groupby("person_id").ts.max().reindex(people)
    rec = ((at - last).dt.total_seconds() / 86400).fillna(999).clip(upper=999).to_numpy()
    tr = np.array([[float(bool(traits[p].get("email"))), float(bool(traits[p].get("phone"))),
                    float(traits[p].get("email_marketing") == "subscribed")] for p in people]).reshape(len(people), 3)
    return np.column_stack([np.log1p(counts.to_numpy(float)), np.log1p(rec), tr])


def _learned(ev: pd.DataFrame, traits: dict[str, dict], buyers_first: pd.Series, cfg: ScoringConfig,
             now: pd.Timestamp) -> tuple[pd.Series | None, dict[str, Any]]:
    """Fit P(first purchase within horizon) at a snapshot ``horizon`` before now; score everyone now."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    snap = now - pd.Timedelta(days=cfg.horizon_days)
    seen = ev[ev.ts < snap].person_id.unique()
    cand = [p for p in seen if not (p in buyers_first.index and buyers_first[p] < snap)]
    y = np.array([1 if p in buyers_first.index and snap <= buyers_first[p] <= now else 0 for p in cand])
    info: dict[str, Any] = {"snapshot": snap.isoformat(), "training_people": len(cand), "positives": int(y.sum())}
    if y.sum() < cfg.min_positives or (len(y) - y.sum()) < cfg.min_positives:
        info["used"] = False
        info["why"] = f"needs {cfg.min_positives} people who converted and as many who did not"
        return None, info
    nonbuy = ev[~ev.event.str.contains(PURCHASE_PATTERN, regex=True, na=False)]
    vocab = nonbuy.event.value_counts().head(25).index.tolist()
    x = _features(nonbuy, cand, traits, snap, vocab)
    rng = np.random.default_rng(0)
    test = rng.random(len(cand)) < 0.25
    clf = LogisticRegression(max_iter=500, C=1.0)
    clf.fit(x[~test], y[~test])
    if y[test].min() != y[test].max():
        info["auc_holdout"] = round(float(roc_auc_score(y[test], clf.predict_proba(x[test])[:, 1])), 4)
    clf.fit(x, y)
    people = list(traits)
    prob = clf.predict_proba(_features(nonbuy, people, traits, now, vocab))[:, 1]
    info["used"] = True
    info["model"] = "logistic_regression"
    return pd.Series(prob, index=people), info


def score_people(scope, cfg: ScoringConfig | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Points, learned probability (when there is enough history) and stage for every person."""
    cfg = cfg or ScoringConfig()
    prof = scope.df(PEOPLE_SQL, {"purchase": PURCHASE_PATTERN})
    ev = scope.df(EVENTS_SQL, {"now": now or dt.datetime(9999, 1, 1)})
    now_ts = pd.Timestamp(now) if now else (ev.ts.max() if len(ev) else pd.Timestamp(utcnow()))
    traits = {p: (json.loads(t) if isinstance(t, str) else (t or {})) for p, t in zip(prof.person_id, prof.traits, strict=True)}
    scored = _points(ev, traits, cfg, now_ts)
    buys = ev[ev.event.str.contains(PURCHASE_PATTERN, regex=True, na=False) | (ev.revenue.fillna(0) > 0)]
    buyers_first = buys.groupby("person_id").ts.min()
    prob, info = _learned(ev, traits, buyers_first, cfg, now_ts) if len(ev) else (None, {"used": False})
    scored["probability"] = prob.reindex(scored.person_id).round(4).to_numpy() if prob is not None else None
    bought = dict(zip(prof.person_id, prof.bought, strict=True))
    stages = []
    for r in scored.itertuples():
        t = traits[r.person_id]
        p = r.probability if prob is not None else None
        if bought.get(r.person_id):
            stages.append("customer")
        elif r.points >= cfg.qualified_points or (p is not None and p >= cfg.qualified_probability):
            stages.append("qualified")
        elif r.points >= cfg.lead_points:
            stages.append("lead")
        elif t.get("email") or t.get("phone") or t.get("email_marketing") == "subscribed":
            stages.append("subscriber")
        else:
            stages.append("visitor")
    scored["stage"] = stages
    return {"scored_at": now_ts.isoformat(), "people": scored, "learned": info,
            "stages": {s: int((scored.stage == s).sum()) for s in STAGES}}


def save_scores(scope, result: dict[str, Any]) -> int:
    df = result["people"]
    at = pd.Timestamp(result["scored_at"]).to_pydatetime()
    out = pd.DataFrame({"person_id": df.person_id, "points": df.points.astype(float),
                        "probability": pd.to_numeric(df.probability, errors="coerce") if "probability" in df else None,
                        "stage": df.stage, "reasons": [json.dumps(r) for r in df.reasons], "scored_at": at})
    import pyarrow as pa
    with scope.transaction() as con:
        con.execute("DELETE FROM main.growth_lead_scores WHERE workspace_id = ?", [scope.workspace_id])
        if len(out):
            scope.insert_arrow("growth_lead_scores", pa.Table.from_pandas(out, preserve_index=False), con=con)
    return len(out)


def list_leads(scope, stage: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    if stage and stage not in STAGES:
        raise ValidationError(f"stage must be one of {', '.join(STAGES)}", where="--stage")
    rows = scope.rows(
        "SELECT s.person_id, s.points, s.probability, s.stage, s.reasons, s.scored_at, t.assignee, t.due_at "
        "FROM growth_lead_scores s LEFT JOIN growth_tasks t ON t.person_id = s.person_id AND t.status = 'open' "
        "WHERE ($stage IS NULL OR s.stage = $stage) ORDER BY COALESCE(s.probability, 0) DESC, s.points DESC, s.person_id "
        "LIMIT $limit", {"stage": stage, "limit": limit})
    return [{"person_id": r[0], "points": r[1], "probability": r[2], "stage": r[3], "reasons": json.loads(r[4] or "[]"),
             "scored_at": r[5], "assignee": r[6], "due_at": r[7]} for r in rows]


def add_staff(scope, name: str, email: str | None = None, topics: list[str] = (), territories: list[str] = ()) -> dict:
    if not name.strip():
        raise ValidationError("a member of staff needs a name", where="NAME")
    scope.write("INSERT OR REPLACE INTO main.growth_staff VALUES ($__ws, $n, $e, $t, $r, TRUE, $at)",
                {"n": name.strip(), "e": email, "t": [t.lower() for t in topics], "r": [r.lower() for r in territories],
                 "at": utcnow()})
    return {"name": name.strip(), "email": email, "topics": list(topics), "territories": list(territories)}


def list_staff(scope) -> list[dict[str, Any]]:
    rows = scope.rows("SELECT name, email, topics, territories FROM growth_staff WHERE active ORDER BY created_at, name")
    return [{"name": r[0], "email": r[1], "topics": r[2] or [], "territories": r[3] or []} for r in rows]


def assign_leads(scope, due_hours: float = 24.0, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """One open task per qualified lead without one: topic match, else territory match, else round-robin."""
    staff = list_staff(scope)
    if not staff:
        raise NotFound("no staff to assign leads to; add some with: wayfare leads staff add NAME --topic ... ")
    now = now or utcnow()
    leads = scope.rows(
        "SELECT s.person_id, s.points, p.traits, "
        " (SELECT lower(COALESCE(properties->>'topic', properties->>'subject')) FROM events e WHERE e.person_id = s.person_id "
        "  AND COALESCE(properties->>'topic', properties->>'subject') IS NOT NULL ORDER BY ts DESC LIMIT 1) "
        "FROM growth_lead_scores s JOIN profiles p USING (person_id) WHERE s.stage = 'qualified' "
        "AND NOT EXISTS (SELECT 1 FROM growth_tasks t WHERE t.person_id = s.person_id AND t.status = 'open') "
        "ORDER BY COALESCE(s.probability, 0) DESC, s.points DESC, s.person_id")
    last = scope.one("SELECT assignee FROM growth_tasks WHERE rule = 'round-robin' ORDER BY created_at DESC, task_id DESC LIMIT 1")
    names = [s["name"] for s in staff]
    rr = (names.index(last[0]) + 1) % len(names) if last and last[0] in names else 0
    tasks = []
    for person, points, traits_json, topic in leads:
        traits = json.loads(traits_json) if traits_json else {}
        topic = topic or (str(traits.get("topic")).lower() if traits.get("topic") else None)
        place = {str(traits.get(k)).lower() for k in ("territory", "city", "country", "region") if traits.get(k)}
        who, rule, why = None, "round-robin", None
        if topic:
            who = next((s["name"] for s in staff if any(t in topic for t in s["topics"])), None)
            rule, why = ("topic", topic) if who else (rule, why)
        if who is None and place:
            who = next((s["name"] for s in staff if place & set(s["territories"])), None)
            rule, why = ("territory", ", ".join(sorted(place))) if who else (rule, why)
        if who is None:
            who = names[rr]
            rr = (rr + 1) % len(names)
        tasks.append({"task_id": "task_" + secrets.token_hex(6), "person_id": person, "assignee": who, "rule": rule,
                      "reason": why or f"qualified lead, {points:.0f} points", "created_at": now,
                      "due_at": now + dt.timedelta(hours=due_hours)})
    if tasks:
        with scope.transaction() as con:
            for i, t in enumerate(tasks):
                con.execute("INSERT INTO main.growth_tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open')",
                            [scope.workspace_id, t["task_id"], t["person_id"], t["assignee"], t["rule"], t["reason"],
                             t["created_at"] + dt.timedelta(microseconds=i), t["due_at"]])
    return tasks


def list_tasks(scope, status: str | None = "open") -> list[dict[str, Any]]:
    rows = scope.rows("SELECT task_id, person_id, assignee, rule, reason, created_at, due_at, status FROM growth_tasks "
                      "WHERE ($s IS NULL OR status = $s) ORDER BY due_at, task_id", {"s": status})
    keys = ("task_id", "person_id", "assignee", "rule", "reason", "created_at", "due_at", "status")
    return [dict(zip(keys, r, strict=True)) for r in rows]

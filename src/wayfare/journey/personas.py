"""Personas: rule-defined (YAML, or a persona trait already on the profiles), and suggested by clustering
customers on behaviour (k-means on standardised RFM, channel, time and basket features, k = 2..4 chosen by
silhouette), each with a card like a marketer's persona table. Suggestions are stored; the owner accepts
and renames them, and accepted personas are assigned by nearest centre from then on.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from ..errors import NotFound, ValidationError
from ..store import Scope, utcnow
from .model import JourneyMap, PersonaDef
from .rules import persona_condition

__all__ = ["CLUSTER_FEATURES", "add_touchpoints", "suggest_personas", "store_suggestions", "accept_persona", "list_personas",
           "persona_people", "persona_names"]

CLUSTER_FEATURES = ("log_orders", "log_revenue", "log_avg_order", "recency", "online_share", "weekend_share",
                    "evening_share", "party", "tickets", "nps")


def _features_for(feat: pd.DataFrame) -> list[str]:
    """The clustering features; distance joins them where at least half the customers have one."""
    extra = ["distance"] if "distance_km" in feat and feat["distance_km"].notna().mean() >= 0.5 else []
    return list(CLUSTER_FEATURES) + extra


def _matrix(feat: pd.DataFrame, means: dict[str, float] | None = None,
            features: list[str] | None = None) -> tuple[pd.DataFrame, dict[str, float]]:
    X = pd.DataFrame({
        "log_orders": np.log1p(feat["orders"].astype(float)),
        "log_revenue": np.log1p(feat["revenue"].astype(float).clip(lower=0)),
        "log_avg_order": np.log1p(feat["avg_order"].astype(float).clip(lower=0)),
        "recency": np.log1p(feat["days_since_last"].astype(float).clip(lower=0)),
        "online_share": feat["online_share"].astype(float),
        "weekend_share": feat["weekend_share"].astype(float),
        "evening_share": feat["evening_share"].astype(float),
        "party": np.log1p(feat["party"].astype(float)),
        "tickets": np.log1p(feat["tickets"].astype(float)),
        "nps": feat["nps"].astype(float),
        "distance": np.log1p(feat["distance_km"].astype(float).clip(lower=0)) if "distance_km" in feat else np.nan,
    })[features or list(CLUSTER_FEATURES)]
    means = means or {c: (float(X[c].mean()) if X[c].notna().any() else 0.0) for c in X}
    return X.fillna(means), means


def _fit(X: pd.DataFrame, k_range: range, seed: int) -> tuple[KMeans, np.ndarray, np.ndarray, np.ndarray, float]:
    mu, sd = X.mean().to_numpy(), X.std(ddof=0).replace(0, 1).to_numpy()
    Z = (X.to_numpy() - mu) / sd
    rng = np.random.default_rng(seed)
    sample = Z if len(Z) <= 5000 else Z[rng.choice(len(Z), 5000, replace=False)]
    best = None
    for k in k_range:
        if len(Z) <= k:
            break
        km = KMeans(n_clusters=k, n_init=5, random_state=seed).fit(Z)
        s = silhouette_score(sample, km.predict(sample)) if len(set(km.predict(sample))) > 1 else -1
        if best is None or s > best[1] + 0.01:  # prefer fewer personas unless more are clearly better
            best = (km, s)
    if best is None:
        raise ValidationError("too few customers with purchases to suggest personas (need at least 20)")
    return best[0], mu, sd, Z, float(best[1])


def _name(c: dict[str, float], overall: dict[str, float], used: set[str]) -> str:
    value = "High-value" if c["revenue"] > 1.6 * overall["revenue"] else (
        "Occasional" if c["orders"] < 0.6 * overall["orders"] else "Steady")
    if c["party"] and overall["party"] and c["party"] > 1.8 * overall["party"]:
        who = "group bookers"
    elif c["orders"] > 1.8 * overall["orders"]:
        who = "regulars"
    elif c["days_since_last"] > 1.5 * overall["days_since_last"]:
        who = "lapsing customers"
    else:
        who = "customers"
    how = "online " if c["online_share"] > overall["online_share"] + 0.15 else (
        "in-person " if c["online_share"] < overall["online_share"] - 0.15 else "")
    when = " at weekends" if c["weekend_share"] > overall["weekend_share"] + 0.15 else (
        " on weekday lunchtimes" if c["evening_share"] < overall["evening_share"] - 0.25 else "")
    name = f"{value} {how}{who}{when}"
    base, i = name, 2
    while name in used:
        name, i = f"{base} ({i})", i + 1
    used.add(name)
    return name


def _card(g: pd.DataFrame, everyone: pd.DataFrame, name: str, total_rev: float) -> dict[str, Any]:
    def m(col: str, d: pd.DataFrame = g) -> float:
        v = d[col].astype(float).mean()
        return 0.0 if v != v else float(v)

    o = {c: m(c, everyone) for c in ("orders", "revenue", "online_share", "weekend_share", "evening_share",
                                     "tickets", "avg_order", "days_since_last")}
    needs, pains = [], []
    if m("online_share") > o["online_share"] + 0.1:
        needs.append("quick online ordering and booking")
    if m("evening_share") < o["evening_share"] - 0.2:
        needs.append("fast service at lunchtime")
    if m("weekend_share") > o["weekend_share"] + 0.1:
        needs.append("weekend availability")
    if g["party"].notna().any() and m("party") > 1.5 * (everyone["party"].astype(float).mean() or 1):
        needs.append("a clear quote and reliable service for groups")
    if m("orders") > 1.5 * o["orders"]:
        needs.append("recognition as a regular")
    if not needs:
        needs.append("good value and a smooth visit")
    if m("tickets") > 1.3 * max(o["tickets"], 1e-9):
        pains.append(f"contacts support more than others ({m('tickets'):.2f} tickets each vs {o['tickets']:.2f})")
    nps_vals = g["nps"].dropna()
    if len(nps_vals) >= 5:
        pro = (nps_vals >= 9).mean() - (nps_vals <= 6).mean()
        pains.append(f"NPS {100 * pro:+.0f} from {len(nps_vals)} answers")
    if m("days_since_last") > 1.3 * o["days_since_last"]:
        pains.append(f"drifting away: last purchase {m('days_since_last'):.0f} days ago on average")
    hour = g["mean_hour"].astype(float).median()
    return {
        "name": name,
        "who": f"{len(g)} customers ({100 * len(g) / len(everyone):.0f}%), {100 * g['revenue'].sum() / total_rev:.0f}% "
               f"of revenue; {m('orders'):.1f} purchases each, {m('avg_order'):.2f} a basket, typically around "
               f"{int(hour) if hour == hour else 0:02d}:00" + (", mostly at weekends" if m("weekend_share") > 0.5 else ""),
        "needs_and_goals": needs,
        "pain_points": pains or ["no pain point stands out"],
        "online_behaviour": f"{100 * m('online_share'):.0f}% of purchases online; uses {m('channels_used'):.1f} channels",
        "size": int(len(g)), "revenue": round(float(g["revenue"].sum()), 2),
        "revenue_share_pct": round(100 * float(g["revenue"].sum()) / total_rev, 1) if total_rev else None,
        "figures": {c: round(m(c), 3) for c in ("orders", "revenue", "avg_order", "days_since_last", "online_share",
                                                "weekend_share", "evening_share", "party", "tickets")},
    }


def suggest_personas(feat: pd.DataFrame, k: int | None = None, seed: int = 0) -> dict[str, Any]:
    """2-4 personas from behaviour (customers with at least one purchase)."""
    buyers = feat[feat["orders"] > 0].reset_index(drop=True)
    if len(buyers) < 20:
        raise ValidationError(f"too few customers with purchases to suggest personas ({len(buyers)}; need 20)")
    features = _features_for(buyers)
    X, means = _matrix(buyers, features=features)
    km, mu, sd, Z, sil = _fit(X, range(k, k + 1) if k else range(2, 5), seed)
    labels = km.predict(Z)
    overall = {c: float(buyers[c].astype(float).mean()) for c in ("orders", "revenue", "online_share", "weekend_share",
                                                                 "evening_share", "days_since_last", "party")}
    overall = {k_: (0.0 if v != v else v) for k_, v in overall.items()}
    total_rev = float(buyers["revenue"].sum())
    used: set[str] = set()
    out = []
    for c in np.argsort(-np.bincount(labels)):
        g = buyers[labels == c]
        cen = {col: float(g[col].astype(float).mean()) for col in overall}
        cen = {k_: (0.0 if v != v else v) for k_, v in cen.items()}
        card = _card(g, buyers, _name(cen, overall, used), total_rev)
        card["definition"] = {"features": features, "centre": km.cluster_centers_[c].round(6).tolist(),
                              "mu": mu.round(6).tolist(), "sd": sd.round(6).tolist(), "fill": means,
                              "centres": km.cluster_centers_.round(6).tolist(), "index": int(c)}
        out.append(card)
    return {"customers": len(buyers), "k": int(km.n_clusters), "silhouette": round(sil, 3), "personas": out,
            "people_without_purchase": int((feat["orders"] == 0).sum())}


def store_suggestions(scope: Scope, suggestion: dict[str, Any]) -> None:
    now = utcnow()
    with scope.transaction() as con:
        con.execute("DELETE FROM main.journey_personas WHERE workspace_id = $ws AND status = 'suggested'",
                    {"ws": scope.workspace_id})
        taken = {r[0] for r in con.execute("SELECT name FROM main.journey_personas WHERE workspace_id = $ws",
                                           {"ws": scope.workspace_id}).fetchall()}
        for i, p in enumerate(suggestion["personas"], 1):
            name = p["name"] if p["name"] not in taken else f"{p['name']} (suggestion {i})"
            p["name"] = name
            con.execute("INSERT INTO main.journey_personas VALUES ($ws, $n, 'suggested', 'cluster', $d, $c, $s, $r, "
                        "$t, NULL)", {"ws": scope.workspace_id, "n": name, "d": json.dumps(p["definition"]),
                                      "c": json.dumps({k: v for k, v in p.items() if k != "definition"}),
                                      "s": p["size"], "r": p["revenue"], "t": now})


def list_personas(scope: Scope, status: str | None = None) -> list[dict[str, Any]]:
    rows = scope.rows("SELECT name, status, kind, card, size, revenue, created_at, accepted_at FROM journey_personas "
                      + ("WHERE status = $s " if status else "") + "ORDER BY status, size DESC",
                      {"s": status} if status else None)
    return [{"name": r[0], "status": r[1], "kind": r[2], "card": json.loads(r[3] or "{}"), "size": r[4],
             "revenue": r[5], "created_at": r[6], "accepted_at": r[7]} for r in rows]


def accept_persona(scope: Scope, which: str, new_name: str | None = None) -> dict[str, Any]:
    """Accept a suggestion by its name or its number in the list (1 = largest); optionally rename it."""
    sugg = list_personas(scope, "suggested")
    chosen = None
    if which.isdigit() and 1 <= int(which) <= len(sugg):
        chosen = sugg[int(which) - 1]
    else:
        chosen = next((p for p in sugg if p["name"].lower() == which.lower()), None)
    if chosen is None:
        names = ", ".join(f"{i}: {p['name']}" for i, p in enumerate(sugg, 1)) or "none; run `wayfare personas suggest`"
        raise NotFound(f"no suggested persona {which!r} (suggestions: {names})")
    name = (new_name or chosen["name"]).strip()
    if not name or len(name) > 80:
        raise ValidationError("a persona name is 1-80 characters", where="--name")
    if name != chosen["name"] and scope.one("SELECT 1 FROM journey_personas WHERE name = $n", {"n": name}):
        raise ValidationError(f"a persona called {name!r} already exists", where="--name")
    card = dict(chosen["card"], name=name)
    scope.write("UPDATE main.journey_personas SET name = $new, status = 'accepted', accepted_at = $t, card = $c "
                "WHERE workspace_id = $__ws AND name = $old", {"new": name, "old": chosen["name"], "t": utcnow(),
                                                               "c": json.dumps(card)})
    return {"name": name, "was": chosen["name"], "size": chosen["size"], "revenue": chosen["revenue"]}


def persona_names(scope: Scope, jm: JourneyMap) -> list[str]:
    return [p.name for p in jm.personas] + [p["name"] for p in list_personas(scope, "accepted")]


def persona_people(scope: Scope, jm: JourneyMap, name: str, feat: pd.DataFrame | None = None) -> pd.Series:
    """The person ids of a persona: a rule persona of the map, or an accepted (clustered) one."""
    rule = next((p for p in jm.personas if p.name.lower() == name.lower()), None)
    if rule is not None:
        return _rule_people(scope, jm, rule, feat)
    row = scope.one("SELECT definition FROM journey_personas WHERE status = 'accepted' AND lower(name) = lower($n)",
                    {"n": name})
    if row is None:
        known = ", ".join(persona_names(scope, jm)) or "none yet: define them in the map or run `wayfare personas suggest`"
        raise NotFound(f"no persona {name!r} (known: {known})")
    from .features import person_features

    d = json.loads(row[0])
    feat = feat if feat is not None else person_features(scope, jm)
    buyers = feat[feat["orders"] > 0].reset_index(drop=True)
    X, _ = _matrix(buyers, d["fill"], d.get("features"))
    Z = (X.to_numpy() - np.asarray(d["mu"])) / np.asarray(d["sd"])
    centres = np.asarray(d["centres"])
    nearest = ((Z[:, None, :] - centres[None, :, :]) ** 2).sum(-1).argmin(1)
    return buyers.loc[nearest == d["index"], "person_id"]


def _rule_people(scope: Scope, jm: JourneyMap, p: PersonaDef, feat: pd.DataFrame | None) -> pd.Series:
    cond, params = persona_condition(p.rules)
    if all(r.trait is not None for r in p.rules):
        return scope.df(f"SELECT person_id FROM profiles WHERE {cond}", params)["person_id"]
    from .features import person_features

    feat = feat if feat is not None else person_features(scope, jm)
    import duckdb

    con = duckdb.connect()  # an in-memory engine over the features frame (no store connection involved)
    try:
        con.register("feat", feat)
        return con.execute(f"SELECT person_id FROM feat WHERE {cond}", params).df()["person_id"]
    finally:
        con.close()


def add_touchpoints(data: Any, feat: pd.DataFrame, res: dict[str, Any]) -> None:
    """Each suggested persona's touchpoints: the ones its people use most, above everyone's rate."""
    buyers = feat[feat["orders"] > 0].reset_index(drop=True)
    if not res["personas"]:
        return
    d0 = res["personas"][0]["definition"]
    X, _ = _matrix(buyers, d0["fill"], d0["features"])
    Z = (X.to_numpy() - np.asarray(d0["mu"])) / np.asarray(d0["sd"])
    nearest = ((Z[:, None, :] - np.asarray(d0["centres"])[None]) ** 2).sum(-1).argmin(1)
    ev = data.events
    everyone = ev.groupby("tp")["person"].nunique()
    total = max(ev["person"].nunique(), 1)
    for p in res["personas"]:
        codes = data.person_codes(buyers.loc[nearest == p["definition"]["index"], "person_id"])
        sub = ev[ev["person"].isin(codes)].groupby("tp")["person"].nunique().reindex(everyone.index, fill_value=0)
        lift = (sub / max(len(codes), 1)) / (everyone / total)
        top = lift[sub >= max(3, 0.05 * len(codes))].sort_values(ascending=False).head(4)
        p["touchpoints"] = [data.compiled.tp_names[int(t)] for t in top.index]

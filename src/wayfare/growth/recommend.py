"""Product recommendations: item-to-item similarity from co-purchases (and co-views), "bought together",
per-person top-N excluding what the person owns, a popularity fallback, and an offline time-split
evaluation (hit rate and NDCG at 10 against the popularity baseline).

Items are found in any purchase or view event, whatever its source: a single item in
``properties.item_id / sku / StockCode / product_id`` (one event per line item, e.g. the Online Retail
import) or a list in ``properties.items / products`` (strings or objects with one of those keys or a name).
Line items with a quantity <= 0 (returns, cancellations) are not purchases.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import NotFound, ValidationError

__all__ = ["load_interactions", "ItemKNN", "Popularity", "evaluate", "recommend_for", "bought_together",
           "PURCHASE_PATTERN", "VIEW_PATTERN"]

PURCHASE_PATTERN = r"(?:purchas|order completed|order placed|checkout completed|bought|order paid)"
VIEW_PATTERN = r"(?:product viewed|item viewed|product clicked|viewed product|product added|added to cart)"
_KEYS = ("item_id", "sku", "StockCode", "product_id")


def _single(expr: str) -> str:
    return "COALESCE(" + ", ".join(f"{expr}->>'{k}'" for k in _KEYS) + ")"


def _elem(x: str) -> str:
    keys = ", ".join(f"{x}->>'{k}'" for k in (*_KEYS, "id", "name"))
    return f"CASE WHEN json_type({x}) = 'VARCHAR' THEN {x}->>'$' ELSE COALESCE({keys}) END"


INTERACTIONS_SQL = f"""
WITH e AS (
    SELECT person_id, ts, message_id, properties AS p,
           CASE WHEN regexp_matches(lower(event), '{PURCHASE_PATTERN}') THEN 'purchase' ELSE 'view' END AS kind
    FROM events
    WHERE type = 'track' AND person_id IS NOT NULL AND properties IS NOT NULL
      AND (regexp_matches(lower(event), '{PURCHASE_PATTERN}') OR regexp_matches(lower(event), '{VIEW_PATTERN}'))
      AND COALESCE(TRY_CAST(COALESCE(properties->>'quantity', properties->>'Quantity') AS DOUBLE), 1) > 0
      AND ($since IS NULL OR ts >= $since)
), single AS (
    SELECT person_id, ts, kind, message_id, {_single('p')} AS item FROM e
), listed AS (
    SELECT person_id, ts, kind, message_id, unnest(COALESCE(json_extract(p, '$.items[*]'), [])
                                                  || COALESCE(json_extract(p, '$.products[*]'), [])) AS x
    FROM e WHERE {_single('p')} IS NULL
)
SELECT person_id, ts, kind, message_id, item FROM single WHERE item IS NOT NULL
UNION ALL
SELECT person_id, ts, kind, message_id, {_elem('x')} AS item FROM listed
"""


def load_interactions(scope, since: dt.datetime | None = None) -> pd.DataFrame:
    """person_id, ts, kind ('purchase'|'view'), basket (one order), item — from the workspace's events."""
    df = scope.df(INTERACTIONS_SQL, {"since": since})
    df = df[df["item"].notna() & (df["item"].astype(str).str.len() > 0)].copy()
    df["item"] = df["item"].astype(str)
    # one basket = one person at one moment (line items of an invoice share both) or one event's list
    df["basket"] = df["person_id"].astype(str) + "@" + df["ts"].astype(str)
    return df.reset_index(drop=True)


@dataclass
class Popularity:
    """Most-bought items (distinct buyers), recent ones weighted up: the fallback and the baseline."""

    half_life_days: float | None = None
    scores_: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))

    def fit(self, data: pd.DataFrame, now: dt.datetime | None = None) -> Popularity:
        buys = data[data.kind == "purchase"] if (data.kind == "purchase").any() else data
        if self.half_life_days and len(buys):
            now = now or buys.ts.max()
            age = (pd.Timestamp(now) - buys.ts).dt.total_seconds() / 86400
            w = np.power(0.5, age.clip(lower=0) / self.half_life_days)
            per = buys.assign(w=w).groupby(["item", "person_id"]).w.max()
            s = per.groupby(level=0).sum()
        else:
            s = buys.groupby("item").person_id.nunique().astype(float)
        self.scores_ = s.sort_values(ascending=False, kind="stable")
        return self

    def top(self, n: int, exclude: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, float]]:
        out = []
        for item, score in self.scores_.items():
            if item not in exclude:
                out.append((item, float(score)))
                if len(out) >= n:
                    break
        return out


@dataclass
class ItemKNN:
    """Item-to-item cosine similarity over who bought (and, weighted less, who viewed) what.

    A person's score for item j is the sum of similarities between j and the items in their history,
    each weighted by how recent it is (half-life ``half_life_days``); only the ``neighbours`` most similar
    items per item are kept. Items a person owns are never recommended; empty slots are filled by the
    popularity fallback (new customers, new items).
    """

    neighbours: int = 20
    view_weight: float = 0.3
    half_life_days: float = 30.0
    alpha: float = 0.5  # asymmetric cosine: 0.5 is plain cosine
    items_: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    sim_: sp.csr_matrix | None = None
    popularity_: Popularity = field(default_factory=Popularity)
    history_: dict[str, dict[str, float]] = field(default_factory=dict)
    owned_: dict[str, set[str]] = field(default_factory=dict)
    fitted_at_: Any = None

    def __repr__(self) -> str:
        return (f"ItemKNN(neighbours={self.neighbours}, view_weight={self.view_weight}, "
                f"half_life_days={self.half_life_days}, items={len(self.items_)})")

    def fit(self, data: pd.DataFrame, now: dt.datetime | None = None) -> ItemKNN:
        missing = {"person_id", "item", "kind", "ts"} - set(data.columns)
        if missing:
            raise ValidationError(f"interactions lack column(s) {sorted(missing)}", where="ItemKNN.fit")
        now = pd.Timestamp(now) if now is not None else (data.ts.max() if len(data) else pd.Timestamp.now())
        self.fitted_at_ = now
        self.popularity_ = Popularity(half_life_days=90).fit(data, now)
        if not len(data):
            self.sim_ = sp.csr_matrix((0, 0))
            return self
        w = np.where(data.kind.to_numpy() == "purchase", 1.0, self.view_weight)
        d = data.assign(w=w).groupby(["person_id", "item"], sort=False).agg(w=("w", "max"), ts=("ts", "max")).reset_index()
        items, icode = np.unique(d["item"].to_numpy().astype(str), return_inverse=True)
        people, pcode = np.unique(d["person_id"].to_numpy().astype(str), return_inverse=True)
        self.items_ = items
        x = sp.csr_matrix((d.w.to_numpy(), (pcode, icode)), shape=(len(people), len(items)))
        co = (x.T @ x).tocsr().astype(np.float64)
        co.setdiag(0)
        co.eliminate_zeros()
        norm = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel()) + 1e-9
        # asymmetric cosine: co / (n_i^(2a) * n_j^(2(1-a)))
        left = sp.diags(1.0 / norm ** (2 * self.alpha))
        right = sp.diags(1.0 / norm ** (2 * (1 - self.alpha)))
        self.sim_ = _top_k_rows((left @ co @ right).tocsr(), self.neighbours)
        age = (now - d.ts).dt.total_seconds().to_numpy() / 86400
        rw = d.w.to_numpy() * np.power(0.5, np.clip(age, 0, None) / self.half_life_days)
        self.history_ = {}
        self.owned_ = {}
        for pid, item, weight, kind_w in zip(d.person_id.astype(str), d["item"], rw, d.w, strict=True):
            self.history_.setdefault(pid, {})[item] = weight
            if kind_w >= 1.0:
                self.owned_.setdefault(pid, set()).add(item)
        self._index = {it: i for i, it in enumerate(items)}
        return self

    def score_history(self, history: dict[str, float]) -> np.ndarray:
        v = np.zeros(len(self.items_))
        for item, weight in history.items():
            i = self._index.get(item)
            if i is not None:
                v[i] = weight
        return np.asarray(self.sim_.T @ v).ravel() if self.sim_ is not None and len(v) else v

    def recommend(self, person_id: str | None, n: int = 10, history: dict[str, float] | None = None,
                  exclude: set[str] | None = None) -> list[dict[str, Any]]:
        """Top-n items for a person (or an ad-hoc history, e.g. a visitor's cart), owned items excluded."""
        hist = history if history is not None else self.history_.get(str(person_id), {}) if person_id else {}
        owned = set(exclude or ()) | (self.owned_.get(str(person_id), set()) if person_id else set())
        owned |= {i for i, _ in hist.items()} if history is not None else set()
        out: list[dict[str, Any]] = []
        if hist and len(self.items_):
            s = self.score_history(hist)
            order = np.argsort(-s, kind="stable")
            for i in order[: n + len(owned) + 1]:
                if s[i] <= 0 or len(out) >= n:
                    break
                if self.items_[i] not in owned:
                    out.append({"item": str(self.items_[i]), "score": round(float(s[i]), 6), "source": "similar"})
        if len(out) < n:
            taken = owned | {r["item"] for r in out}
            out += [{"item": it, "score": round(sc, 6), "source": "popular"} for it, sc in self.popularity_.top(n - len(out), taken)]
        return out


def _top_k_rows(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest entries of every row (sparse)."""
    m = m.tocsr()
    rows, cols, vals = [], [], []
    for r in range(m.shape[0]):
        a, b = m.indptr[r], m.indptr[r + 1]
        if b == a:
            continue
        d, c = m.data[a:b], m.indices[a:b]
        if b - a > k:
            keep = np.argpartition(-d, k)[:k]
            d, c = d[keep], c[keep]
        rows.append(np.full(len(d), r))
        cols.append(c)
        vals.append(d)
    if not rows:
        return sp.csr_matrix(m.shape)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=m.shape)


def bought_together(data: pd.DataFrame, item: str, n: int = 5, min_count: int = 2) -> list[dict[str, Any]]:
    """Items most often in the same basket as ``item``: count, confidence P(other | item) and lift."""
    buys = data[data.kind == "purchase"][["basket", "item"]].drop_duplicates()
    baskets = buys[buys["item"] == item].basket
    if baskets.empty:
        return []
    total = buys.basket.nunique()
    with_item = buys[buys.basket.isin(set(baskets)) & (buys["item"] != item)]
    counts = with_item.groupby("item").basket.nunique()
    counts = counts[counts >= min_count]
    if counts.empty:
        return []
    support = buys[buys["item"].isin(counts.index)].groupby("item").basket.nunique()
    na = len(baskets)
    res = pd.DataFrame({"count": counts, "confidence": counts / na, "lift": (counts / na) / (support / total)})
    res = res.sort_values(["count", "lift"], ascending=False).head(n)
    return [{"item": str(i), "count": int(r["count"]), "confidence": round(float(r.confidence), 4),
             "lift": round(float(r.lift), 3)} for i, r in res.iterrows()]


def _dcg(hits: list[bool]) -> float:
    return float(sum(1.0 / np.log2(i + 2) for i, h in enumerate(hits) if h))


def evaluate(data: pd.DataFrame, cutoff: dt.datetime | None = None, k: int = 10,
             model: ItemKNN | None = None) -> dict[str, Any]:
    """Train before ``cutoff`` (default: 80% of the time range), test on the items each customer bought
    after it that they did not own before (recommendations exclude owned items). Customers with a
    purchase before and a new item after the cutoff are evaluated; both the model and the popularity
    baseline exclude what the customer owned."""
    buys = data[data.kind == "purchase"]
    if buys.empty:
        raise NotFound("no purchase events with items in this workspace (item_id, sku, StockCode, product_id, items ...)")
    lo, hi = buys.ts.min(), buys.ts.max()
    cut = pd.Timestamp(cutoff) if cutoff is not None else lo + (hi - lo) * 0.8
    if not (lo < cut <= hi):
        raise ValidationError(f"the cutoff must fall inside the purchase history ({lo} .. {hi})", where="--cutoff")
    train = data[data.ts < cut]
    test = buys[buys.ts >= cut]
    model = (model or ItemKNN()).fit(train, now=cut)
    pop = Popularity().fit(train)
    truth = test.groupby("person_id")["item"].apply(lambda s: set(s.astype(str)))
    res = {"model": [0.0, 0.0], "popularity": [0.0, 0.0]}
    users = 0
    for pid, items in truth.items():
        pid = str(pid)
        owned = model.owned_.get(pid)
        if not owned:
            continue
        new = items - owned
        if not new:
            continue
        users += 1
        ideal = _dcg([True] * min(k, len(new)))
        for name, recs in (("model", [r["item"] for r in model.recommend(pid, k)]),
                           ("popularity", [i for i, _ in pop.top(k, owned)])):
            hits = [r in new for r in recs[:k]]
            res[name][0] += any(hits)
            res[name][1] += _dcg(hits) / ideal
    if not users:
        raise ValidationError("no customer bought before and after the cutoff; move the cutoff", where="--cutoff")
    out = {"cutoff": cut.isoformat(), "k": k, "users_evaluated": users, "train_interactions": int(len(train)),
           "test_purchases": int(len(test)), "items": int(len(model.items_)), "model_params": repr(model)}
    for name, (hr, nd) in res.items():
        out[name] = {f"hit_rate_at_{k}": round(hr / users, 4), f"ndcg_at_{k}": round(nd / users, 4)}
    out[f"hit_rate_at_{k}"] = out["model"][f"hit_rate_at_{k}"]
    out[f"ndcg_at_{k}"] = out["model"][f"ndcg_at_{k}"]
    out["lift_over_popularity"] = {
        m: round(out["model"][f"{m}_at_{k}"] / out["popularity"][f"{m}_at_{k}"], 3)
        if out["popularity"][f"{m}_at_{k}"] else None for m in ("hit_rate", "ndcg")}
    return out


def recommend_for(scope, person: str, n: int = 10, data: pd.DataFrame | None = None) -> dict[str, Any]:
    """Top-n for a person id, user id, email or anonymous id of this workspace."""
    pid = resolve_person(scope, person)
    data = load_interactions(scope) if data is None else data
    model = ItemKNN().fit(data)
    recs = model.recommend(pid, n)
    names = item_names(scope, [r["item"] for r in recs])
    for r in recs:
        if r["item"] in names:
            r["name"] = names[r["item"]]
    return {"person_id": pid, "owned": len(model.owned_.get(pid, ())), "recommendations": recs}


def resolve_person(scope, person: str) -> str:
    row = scope.one("SELECT person_id FROM profiles WHERE person_id = $p", {"p": person})
    if row:
        return row[0]
    row = scope.one("SELECT person_id FROM identities WHERE value = $p ORDER BY kind = 'user_id' DESC LIMIT 1", {"p": person})
    if row:
        return row[0]
    raise NotFound(f"no person {person!r} in workspace {scope.name!r} (give a person id, user id, email or anonymous id)")


def item_names(scope, items: list[str]) -> dict[str, str]:
    """Descriptions for single-item events (Description / name / product_name), when present."""
    if not items:
        return {}
    rows = scope.rows(
        "SELECT COALESCE(properties->>'item_id', properties->>'sku', properties->>'StockCode', properties->>'product_id') AS i, "
        "any_value(COALESCE(properties->>'Description', properties->>'name', properties->>'product_name')) "
        "FROM events WHERE type = 'track' AND COALESCE(properties->>'item_id', properties->>'sku', "
        "properties->>'StockCode', properties->>'product_id') IN (SELECT unnest($items)) GROUP BY 1",
        {"items": items})
    return {r[0]: r[1] for r in rows if r[1]}

"""Recommendations: item extraction from any event shape, item-kNN, exclusions, fallback, bought-together,
metrics by hand, and the time-split evaluation on the real Online Retail data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wayfare.growth.recommend import ItemKNN, Popularity, bought_together, evaluate, load_interactions, recommend_for

from ..conftest import SHARED_DATA
from .conftest import write_events


def buys(person, day, *items, event="Product Purchased"):
    return [{"person": person, "day": day, "event": event, "props": {"StockCode": i, "Quantity": 1}} for i in items]


def test_items_extracted_from_every_shape(scope):
    write_events(scope, [
        {"person": "a", "day": 1, "event": "Product Purchased", "props": {"StockCode": "S1", "Quantity": 2}},
        {"person": "a", "day": 2, "event": "Product Purchased", "props": {"StockCode": "S2", "Quantity": -2}},
        {"person": "b", "day": 1, "event": "Order Completed", "props": {"items": ["Pizza", "Wine"]}},
        {"person": "c", "day": 1, "event": "Order Completed", "props": {"products": [{"sku": "K1"}, {"product_id": "P9"}]}},
        {"person": "d", "day": 1, "event": "Product Viewed", "props": {"item_id": "V1"}},
        {"person": "e", "day": 1, "event": "Menu Viewed", "props": {"item_id": "ignored"}},
        {"person": "f", "day": 1, "event": "Purchase", "props": {"sku": "Z1"}},
    ])
    d = load_interactions(scope)
    got = sorted(zip(d.person_id, d["item"], d.kind, strict=True))
    assert got == [("a", "S1", "purchase"), ("b", "Pizza", "purchase"), ("b", "Wine", "purchase"),
                   ("c", "K1", "purchase"), ("c", "P9", "purchase"), ("d", "V1", "view"), ("f", "Z1", "purchase")]
    # line items of one order share a basket
    assert d[d.person_id == "b"].basket.nunique() == 1


def test_similar_items_ranked_first_and_owned_excluded(scope):
    rows = []
    for p in range(6):  # x and y are bought together by six people; z by two others
        rows += buys(f"p{p}", p, "x", "y")
    rows += buys("q1", 1, "z", "w") + buys("q2", 2, "z", "w") + buys("q3", 3, "z")
    rows += buys("me", 9, "x")
    write_events(scope, rows)
    model = ItemKNN().fit(load_interactions(scope))
    recs = model.recommend("me", 3)
    assert recs[0] == {"item": "y", "score": pytest.approx(recs[0]["score"]), "source": "similar"}
    assert "x" not in [r["item"] for r in recs]
    # cosine of x and y: 7 buyers of x, 6 of y, 6 together -> 6 / sqrt(7*6); recency weight of day 9 at fit time (day 9) = 1
    assert recs[0]["score"] == pytest.approx(6 / np.sqrt(7 * 6), rel=1e-4)
    # filled from popularity, never repeating an item
    assert [r["source"] for r in recs[1:]] == ["popular", "popular"]
    assert len({r["item"] for r in recs}) == 3


def test_new_customer_gets_popular_items(scope):
    write_events(scope, buys("a", 1, "x", "y") + buys("b", 2, "x") + buys("c", 3, "x", "z"))
    recs = ItemKNN().fit(load_interactions(scope)).recommend("stranger", 2)
    assert recs[0]["item"] == "x"  # three buyers, the others one each
    assert recs[1]["item"] in {"y", "z"}
    assert all(r["source"] == "popular" for r in recs)


def test_recommend_for_resolves_user_id_and_names(scope):
    write_events(scope, [{"person": "p_1", "user": "u-1", "day": 1, "event": "Product Purchased",
                          "props": {"StockCode": "A", "Description": "APPLE", "Quantity": 1}},
                         {"person": "p_2", "user": "u-2", "day": 1, "event": "Product Purchased",
                          "props": {"StockCode": "A", "Description": "APPLE", "Quantity": 1}},
                         {"person": "p_2", "user": "u-2", "day": 1, "event": "Product Purchased",
                          "props": {"StockCode": "B", "Description": "BANANA", "Quantity": 1}}])
    res = recommend_for(scope, "u-1", 1)
    assert res["person_id"] == "p_1"
    assert res["recommendations"] == [{"item": "B", "score": pytest.approx(0.7071, abs=1e-3), "source": "similar",
                                       "name": "BANANA"}]


def test_bought_together_counts_confidence_lift(scope):
    write_events(scope, buys("a", 1, "x", "y") + buys("b", 1, "x", "y") + buys("c", 1, "x", "z") + buys("d", 1, "y")
                 + buys("e", 1, "x", "z"))
    d = load_interactions(scope)
    res = bought_together(d, "x", min_count=2)
    # baskets: 5; x in 4; y in 3 (2 with x); z in 2 (2 with x)
    # equal counts: the higher lift first
    assert res == [{"item": "z", "count": 2, "confidence": 0.5, "lift": round(0.5 / (2 / 5), 3)},
                   {"item": "y", "count": 2, "confidence": 0.5, "lift": round(0.5 / (3 / 5), 3)}]
    assert bought_together(d, "nothing") == []


def test_evaluate_metrics_by_hand(scope):
    # train: a buys x,y; b buys x,y; c buys x. test: c buys y (model hit at rank 1), d is new (not evaluated)
    write_events(scope, buys("a", 1, "x", "y") + buys("b", 2, "x", "y", "w") + buys("c", 3, "x")
                 + buys("c", 20, "y") + buys("d", 21, "y") + buys("e", 4, "w") + buys("f", 5, "w") + buys("g", 5, "w"))
    res = evaluate(load_interactions(scope), cutoff=pd.Timestamp("2024-01-15"))
    assert res["users_evaluated"] == 1
    assert res["model"] == {"hit_rate_at_10": 1.0, "ndcg_at_10": 1.0}
    # popularity without x: w (4 buyers) first, then y -> y at rank 2: NDCG = 1/log2(3)
    assert res["popularity"] == {"hit_rate_at_10": 1.0, "ndcg_at_10": round(1 / np.log2(3), 4)}


def test_popularity_weights_recent_buyers():
    d = pd.DataFrame({"person_id": ["a", "b", "c"], "item": ["old", "old", "new"], "kind": "purchase",
                      "ts": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-03-01"])})
    assert Popularity().fit(d).top(1) == [("old", 2.0)]
    assert Popularity(half_life_days=7).fit(d).top(1)[0][0] == "new"


@pytest.fixture(scope="module")
def online_retail():
    raw = pd.read_csv(SHARED_DATA / "online_retail" / "online_retail.csv.gz", encoding="latin-1",
                      dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    assert len(raw) == 541909
    raw = raw[raw.CustomerID.notna() & (raw.Quantity > 0) & ~raw.InvoiceNo.str.startswith("C")]
    ts = pd.to_datetime(raw.InvoiceDate, format="mixed")
    return pd.DataFrame({"person_id": raw.CustomerID.str.replace(".0", "", regex=False), "item": raw.StockCode,
                         "kind": "purchase", "ts": ts})


@pytest.mark.slow
def test_online_retail_model_clearly_beats_popularity(online_retail):
    res = evaluate(online_retail)  # default split: 80% of the time range (2011-09-25)
    assert res["cutoff"].startswith("2011-09-25")
    assert res["users_evaluated"] > 1500
    m, p = res["model"], res["popularity"]
    assert m["hit_rate_at_10"] >= p["hit_rate_at_10"] * 1.25
    assert m["ndcg_at_10"] >= p["ndcg_at_10"] * 1.5
    assert 0.2 < p["hit_rate_at_10"] < 0.35

"""Exact counts on real purchase logs (CDNOW, Online Retail): the repeat-purchase funnel, first order ->
second -> third (the same event in three steps), checked against an independent pandas computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wayfare.analytics import FunnelQuery, Step, Tables, run_funnel, run_repeat
from wayfare.ingest import run_import
from wayfare.store import Store

from ..conftest import SHARED_DATA

DAY = 86400


def expected_repeat_funnel(df: pd.DataFrame, within: int) -> list[int]:
    """df: customer, ts. Per customer, over every order as a start: 1 + distinct later order times within
    the window (capped at 2); the best start counts."""
    reached = [0, 0, 0]
    w = np.timedelta64(within, "s")
    for _, g in df.groupby("customer"):
        times = np.unique(g.ts.values)
        best = 1
        for i, t in enumerate(times):
            later = np.searchsorted(times, t + w, side="right") - (i + 1)
            best = max(best, 1 + min(2, later))
            if best == 3:
                break
        for k in range(best):
            reached[k] += 1
    return reached


def repeat_counts(scope, within: int) -> list[int]:
    t = Tables.from_scope(scope)
    q = FunnelQuery(steps=[Step(event="Order Completed", label=f"order {i}") for i in (1, 2, 3)], within=within)
    return [s["count"] for s in run_funnel(t.events, q, detail=False)["steps"]]


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    raw = pd.read_csv(SHARED_DATA / "cdnow" / "CDNOW_master.txt", sep=r"\s+", header=None, skiprows=1,
                      names=["customer", "day", "qty", "amount"], dtype={"customer": str, "day": str})
    raw["date"] = raw.day.str[:4] + "-" + raw.day.str[4:6] + "-" + raw.day.str[6:]
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    raw.assign(customer="c" + raw.customer.str.lstrip("0"))[["date", "customer", "amount"]].to_csv(path, index=False)
    store = Store(path.parent / "w.db")
    res = run_import(store.scope("default"), path, "generic", ["date=timestamp", "customer=user_id", "amount=revenue"])
    assert res["inserted"] == len(raw) == 69659
    raw["ts"] = pd.to_datetime(raw.date)
    yield store.scope("default"), raw
    store.close()


@pytest.mark.parametrize("within", [90 * DAY, 3650 * DAY])
def test_cdnow_repeat_purchase_funnel_exact(cdnow, within):
    scope, raw = cdnow
    got = repeat_counts(scope, within)
    assert got == expected_repeat_funnel(raw, within)
    if within == 3650 * DAY:
        # 23,570 customers; those who bought on 2 and 3 distinct days
        assert got[0] == 23570 == raw.customer.nunique()


def test_cdnow_repeat_rate_matches_pandas(cdnow):
    scope, raw = cdnow
    r = run_repeat(Tables.from_scope(scope).events)
    per = raw.groupby("customer").size()
    assert (r["buyers"], r["repeat_buyers"], r["orders"]) == (len(per), int((per >= 2).sum()), len(raw))


@pytest.fixture(scope="module")
def online_retail(tmp_path_factory):
    raw = pd.read_csv(SHARED_DATA / "online_retail" / "online_retail.csv.gz", dtype={"InvoiceNo": str})
    raw = raw[raw.CustomerID.notna() & ~raw.InvoiceNo.str.startswith("C")]  # customers' orders, not cancellations
    raw["line"] = raw.Quantity * raw.UnitPrice
    inv = raw.groupby("InvoiceNo").agg(ts=("InvoiceDate", "first"), customer=("CustomerID", "first"),
                                       total=("line", "sum")).reset_index()
    inv["customer"] = "r" + inv.customer.astype(int).astype(str)
    path = tmp_path_factory.mktemp("retail") / "invoices.csv"
    inv.rename(columns={"InvoiceNo": "invoice"}).to_csv(path, index=False)
    store = Store(path.parent / "w.db")
    res = run_import(store.scope("default"), path, "generic",
                     ["invoice=message_id", "ts=timestamp", "customer=user_id", "total=revenue"])
    assert res["inserted"] == len(inv) == 18536
    inv["ts"] = pd.to_datetime(inv.ts)
    yield store.scope("default"), inv
    store.close()


@pytest.mark.parametrize("within", [30 * DAY, 400 * DAY])
def test_online_retail_repeat_purchase_funnel_exact(online_retail, within):
    scope, inv = online_retail
    got = repeat_counts(scope, within)
    assert got == expected_repeat_funnel(inv, within)
    assert got[0] == 4339  # customers with at least one (non-cancelled) invoice

"""KPIs by period and channel: revenue, orders, average order value, customers, purchase frequency,
new vs returning customers, repeat rate, and active people; online and offline channels side by side.

A customer is *new* in a period when their first order ever falls in it, *returning* otherwise.
"""

from __future__ import annotations

from typing import Any

import ibis

from .retention import _period_start, period_index

__all__ = ["ONLINE", "OFFLINE", "kpi_table", "kpi_tables", "run_kpis"]

ONLINE = ("web", "app", "email", "sms", "social")
OFFLINE = ("pos", "in-store", "phone")


def channel_group(ch):
    return ibis.cases((ch.isin(ONLINE), "online"), (ch.isin(OFFLINE), "offline"), else_="other")


def kpi_table(events: ibis.Table, period: str = "month", order_event: str = "Order Completed",
              by_channel: bool = True) -> ibis.Table:
    e = events.filter(events.person_id.notnull())
    e = e.mutate(p=period_index(e.ts, period), channel=e.channel.fill_null("unknown"))
    e = e.mutate(group=channel_group(e.channel))
    keys = ["p", "group", "channel"] if by_channel else ["p"]
    o = e.filter(e.event == order_event)
    firsts = o.group_by("person_id").aggregate(first_p=o.p.min())
    o = o.join(firsts, "person_id")
    o = o.mutate(revenue=o.revenue.fill_null(0.0), is_new=(o.p == o.first_p))
    orders = o.group_by(keys).aggregate(
        revenue=o.revenue.sum(), orders=o.count(), customers=o.person_id.nunique(),
        new_customers=o.person_id.nunique(where=o.is_new), returning_customers=o.person_id.nunique(where=~o.is_new))
    active = e.group_by(keys).aggregate(active=e.person_id.nunique())
    j = active.left_join(orders, keys)
    j = j.select(*[active[k] for k in keys], active=active.active,
                 revenue=j.revenue.fill_null(0.0), orders=j.orders.fill_null(0), customers=j.customers.fill_null(0),
                 new_customers=j.new_customers.fill_null(0), returning_customers=j.returning_customers.fill_null(0))
    return j.order_by(keys)


def kpi_tables(events: ibis.Table, period: str = "month", order_event: str = "Order Completed") -> ibis.Table:
    """The totals and the by-channel rows of :func:`kpi_table` in one query (totals: ``channel`` null).

    One distinct pass makes the (person, period, channel) triples; active people by channel count them,
    the totals count their distinct people per period (a person active on two channels once), so the
    10M events are aggregated once instead of once per table. The order figures come from the orders
    alone (a few % of the rows)."""
    e = events.filter(events.person_id.notnull())
    e = e.mutate(p=period_index(e.ts, period), channel=e.channel.fill_null("unknown"))
    e = e.mutate(group=channel_group(e.channel))
    d = e.select("person_id", "p", "group", "channel").distinct()
    o = e.filter(e.event == order_event)
    firsts = o.group_by("person_id").aggregate(first_p=o.p.min())
    o = o.join(firsts, "person_id")
    o = o.mutate(revenue=o.revenue.fill_null(0.0), is_new=(o.p == o.first_p))
    parts = []
    for keys in (["p"], ["p", "group", "channel"]):
        orders = o.group_by(keys).aggregate(
            revenue=o.revenue.sum(), orders=o.count(), customers=o.person_id.nunique(),
            new_customers=o.person_id.nunique(where=o.is_new), returning_customers=o.person_id.nunique(where=~o.is_new))
        if len(keys) == 1:
            active = d.group_by(keys).aggregate(active=d.person_id.nunique())
        else:
            active = d.group_by(keys).aggregate(active=d.count())
        j = active.left_join(orders, keys)
        parts.append(j.select(p=active.p, group=active.group if len(keys) > 1 else ibis.null("string"),
                              channel=active.channel if len(keys) > 1 else ibis.null("string"),
                              active=active.active.cast("int64"), revenue=j.revenue.fill_null(0.0),
                              orders=j.orders.fill_null(0).cast("int64"), customers=j.customers.fill_null(0).cast("int64"),
                              new_customers=j.new_customers.fill_null(0).cast("int64"),
                              returning_customers=j.returning_customers.fill_null(0).cast("int64")))
    u = ibis.union(*parts, distinct=False)
    return u.order_by([u.channel.notnull(), "p", "group", "channel"])


def _row(r, period: str, keys) -> dict[str, Any]:
    orders, cust = int(r.orders), int(r.customers)
    d = {"period": _period_start(int(r.p), period)}
    if "channel" in keys:
        d |= {"group": r.group, "channel": r.channel}
    d |= {"revenue": round(float(r.revenue), 2), "orders": orders, "aov": round(float(r.revenue) / orders, 2) if orders else None,
          "customers": cust, "frequency": round(orders / cust, 4) if cust else None, "new_customers": int(r.new_customers),
          "returning_customers": int(r.returning_customers),
          "repeat_rate": round(int(r.returning_customers) / cust, 4) if cust else None, "active": int(r.active)}
    return d


def run_kpis(events: ibis.Table, period: str = "month", order_event: str = "Order Completed") -> dict[str, Any]:
    both = kpi_tables(events, period, order_event).to_pandas()
    tot, byc = both[both.channel.isna()], both[both.channel.notna()]
    return {"period": period, "order_event": order_event,
            "totals": [_row(r, period, ["p"]) for r in tot.itertuples(index=False)],
            "by_channel": [_row(r, period, ["p", "group", "channel"]) for r in byc.itertuples(index=False)]}

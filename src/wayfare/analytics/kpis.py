"""KPIs by period and channel: revenue, orders, average order value, customers, purchase frequency,
new vs returning customers, repeat rate, and active people; online and offline channels side by side.

A customer is *new* in a period when their first order ever falls in it, *returning* otherwise.
"""

from __future__ import annotations

from typing import Any

import ibis

from .retention import _period_start, period_index

__all__ = ["ONLINE", "OFFLINE", "kpi_table", "run_kpis"]

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
    tot = kpi_table(events, period, order_event, by_channel=False).to_pandas()
    byc = kpi_table(events, period, order_event, by_channel=True).to_pandas()
    return {"period": period, "order_event": order_event,
            "totals": [_row(r, period, ["p"]) for r in tot.itertuples(index=False)],
            "by_channel": [_row(r, period, ["p", "group", "channel"]) for r in byc.itertuples(index=False)]}

"""Shopify's order export (Orders → Export): one row per line item, the order's own fields on its first
row only. Rows of one order (``Name``, e.g. ``#1001``) become one ``Order Completed`` event with its
products; cancelled orders become ``Order Cancelled`` and refunds ``Order Refunded``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .base import Preset

_ORDER_COLS = ("Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
               "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
               "Discount Amount", "Shipping Method", "Created at", "Billing Name", "Billing City", "Billing Zip",
               "Billing Country", "Billing Phone", "Shipping City", "Shipping Country", "Cancelled at",
               "Payment Method", "Refunded Amount", "Id", "Tags", "Source", "Phone", "Notes")  # fmt: skip


def _group_line_items(df: pd.DataFrame) -> pd.DataFrame:
    cols = {c.strip().lower(): c for c in df.columns}
    name = cols.get("name")
    if name is None:
        return df
    items_cols = [cols[c] for c in ("lineitem name", "lineitem quantity", "lineitem price", "lineitem sku") if c in cols]
    order_cols = [c for c in df.columns if c not in items_cols]
    first = df.groupby(name, sort=False, dropna=False)[order_cols].first()
    # the line under the order keeps the line number of its first row, for error messages
    first["__line"] = df.groupby(name, sort=False, dropna=False)["__line"].min()
    if items_cols:
        def products(g: pd.DataFrame) -> list[dict[str, Any]]:
            out = []
            for _, r in g[items_cols].iterrows():
                item = {}
                for c in items_cols:
                    v = r[c]
                    if v is not None and v == v:
                        item[c.lower().replace("lineitem ", "")] = v
                out.append(item)
            return out

        first["products"] = df.groupby(name, sort=False, dropna=False)[df.columns].apply(products)
    return first.reset_index(drop=True)


def _status(row: dict[str, Any], props: dict[str, Any]) -> str | None:
    if props.get("cancelled_at"):
        return "Order Cancelled"
    fin = str(props.get("financial_status") or "").lower()
    if fin in ("refunded",):
        return "Order Refunded"
    return None


SHOPIFY_ORDERS = Preset(
    name="shopify-orders",
    kind="events",
    description="Shopify orders export (one row per line item; grouped into one event per order)",
    columns={
        "Name": "properties.order_id", "Email": "email", "Created at": "timestamp", "Total": "revenue",
        "Billing Phone": "phone", "Phone": "phone", "Billing Name": "name", "Id": "properties.shopify_order_id",
        "Subtotal": "properties.subtotal", "Shipping": "properties.shipping", "Taxes": "properties.tax",
        "Discount Code": "properties.coupon", "Discount Amount": "properties.discount", "Currency": "properties.currency",
        "Financial Status": "properties.financial_status", "Fulfillment Status": "properties.fulfillment_status",
        "Cancelled at": "properties.cancelled_at", "Accepts Marketing": "traits.accepts_marketing",
        "Billing City": "traits.city", "Billing Country": "traits.country", "Source": "properties.order_source",
    },  # fmt: skip
    event="Order Completed",
    channel="web",
    source="shopify",
    prepare=_group_line_items,
    row_hook=_status,
    example="wayfare import orders_export.csv --preset shopify-orders",
)

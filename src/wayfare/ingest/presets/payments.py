"""Payments: Square's transactions export (the till in the shop: offline, channel ``pos``) and Stripe's
payments export (online card charges)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .base import Preset


def _square_time(df: pd.DataFrame) -> pd.DataFrame:
    cols = {c.strip().lower(): c for c in df.columns}
    if "date" in cols and "time" in cols:
        df = df.copy()
        df["__when"] = df[cols["date"]].astype(str).str.strip() + " " + df[cols["time"]].astype(str).str.strip()
    return df


def _square_event(row: dict[str, Any], props: dict[str, Any]) -> str | None:
    kind = str(props.get("event_type") or "").lower()
    if "refund" in kind:
        return "Order Refunded"
    return None


SQUARE_PAYMENTS = Preset(
    name="square-payments",
    kind="events",
    description="Square transactions export (in-person payments at the till)",
    columns={
        "__when": "timestamp", "Transaction ID": "message_id", "Payment ID": "properties.payment_id",
        "Total Collected": "revenue", "Gross Sales": "properties.gross_sales", "Net Sales": "properties.net_sales",
        "Discounts": "properties.discounts", "Tip": "properties.tip", "Tax": "properties.tax",
        "Customer ID": "external_id", "Customer Name": "name", "Customer Reference ID": "properties.customer_reference_id",
        "Location": "properties.location", "Staff Name": "properties.staff", "Description": "properties.description",
        "Details": "ignore", "Card Brand": "properties.card_brand", "PAN Suffix": "ignore", "Device Name": "properties.device",
        "Event Type": "properties.event_type", "Dining Option": "properties.dining_option", "Date": "ignore",
        "Time": "ignore", "Time Zone": "properties.time_zone", "Fees": "properties.fees",
    },  # fmt: skip
    event="Order Completed",
    channel="pos",
    source="square",
    id_kind="square_customer",
    allow_anonymous=True,
    prepare=_square_time,
    row_hook=_square_event,
    example="wayfare import transactions-2026.csv --preset square-payments",
)


def _stripe_event(row: dict[str, Any], props: dict[str, Any]) -> str | None:
    status = str(props.get("status") or "").lower()
    if status in ("failed",):
        return "Payment Failed"
    refunded = props.get("amount_refunded")
    try:
        if refunded is not None and float(refunded) > 0:
            return "Order Refunded"
    except (TypeError, ValueError):
        pass
    return None


STRIPE_CHARGES = Preset(
    name="stripe-charges",
    kind="events",
    description="Stripe payments export (Payments → Export; unified charges)",
    columns={
        "id": "message_id", "Created (UTC)": "timestamp", "Created date (UTC)": "timestamp", "Amount": "revenue",
        "Amount Refunded": "properties.amount_refunded", "Currency": "properties.currency", "Status": "properties.status",
        "Customer ID": "external_id", "Customer Email": "email", "Customer Description": "name",
        "Description": "properties.description", "Card Brand": "properties.card_brand", "Card Last4": "ignore",
        "Card Fingerprint": "ignore", "Fee": "properties.fee", "Invoice ID": "properties.invoice_id",
        "PaymentIntent ID": "properties.payment_intent_id", "Seller Message": "properties.seller_message",
        "Mode": "properties.mode", "Captured": "properties.captured",
    },  # fmt: skip
    event="Order Completed",
    channel="web",
    source="stripe",
    id_kind="stripe_customer",
    row_hook=_stripe_event,
    example="wayfare import unified_payments.csv --preset stripe-charges",
)

"""What a preset is: a kind (events or people), column names (with the aliases real exports use) mapped
to wayfare fields, a fixed event name and channel, and an optional per-row hook for what a mapping
cannot say (an order spread over several line-item rows, a survey's NPS question)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

# Fields a column can map to. Anything else is written as properties.NAME or traits.NAME.
FIELDS = (
    "timestamp", "user_id", "anonymous_id", "email", "phone", "external_id", "event", "message_id",
    "channel", "revenue", "name", "first_name", "last_name", "ignore",
)  # fmt: skip


@dataclass
class Preset:
    name: str
    kind: str  # "events" or "people"
    description: str
    columns: dict[str, str] = field(default_factory=dict)  # export column (case-insensitive) -> field
    event: str | None = None  # a fixed event name for every row
    channel: str = "import"
    source: str | None = None
    id_kind: str | None = None  # external_id namespace, e.g. "shopify_customer"
    required_any: tuple[str, ...] = ("user_id", "anonymous_id", "email", "phone", "external_id")
    # frame -> frame, before mapping: group line items into orders, split date and time, ...
    prepare: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    # (row, properties) -> event name or None to keep the default; may edit properties in place
    row_hook: Callable[[dict[str, Any], dict[str, Any]], str | None] | None = None
    example: str = ""
    # rows with no identifier are kept as events of no known person (a cash sale at the till) instead of refused
    allow_anonymous: bool = False

    def column_for(self, header: str) -> str | None:
        h = header.strip().lower()
        for col, fld in self.columns.items():
            if col.lower() == h:
                return fld
        return None

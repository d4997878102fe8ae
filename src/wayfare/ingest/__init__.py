"""Getting data in: Segment-spec messages over HTTP, CSV presets, dedupe, the write pipeline.

The names below load on first use: a parsing process (:mod:`wayfare.ingest.parsepool`) imports only the message
checks and the row columns, not the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy

if TYPE_CHECKING:  # pragma: no cover
    from .csvimport import ImportPlan, parse_maps, plan_import, run_import
    from .messages import CHANNELS, MAX_BATCH_BYTES, MAX_EVENT_BYTES, TYPES, check_message, stable_message_id, to_row
    from .pipeline import IngestResult, on_commit, write_rows
    from .presets import PRESETS, Preset
    from .status import store_status

_LAZY = {
    "ImportPlan": "csvimport", "parse_maps": "csvimport", "plan_import": "csvimport", "run_import": "csvimport",
    "CHANNELS": "messages", "MAX_BATCH_BYTES": "messages", "MAX_EVENT_BYTES": "messages", "TYPES": "messages",
    "check_message": "messages", "stable_message_id": "messages", "to_row": "messages",
    "IngestResult": "pipeline", "on_commit": "pipeline", "write_rows": "pipeline",
    "PRESETS": "presets", "Preset": "presets", "store_status": "status",
}  # fmt: skip

__all__ = [
    "CHANNELS", "MAX_BATCH_BYTES", "MAX_EVENT_BYTES", "TYPES", "ImportPlan", "IngestResult", "PRESETS", "Preset",
    "check_message", "on_commit", "parse_maps", "plan_import", "run_import", "stable_message_id", "store_status",
    "to_row", "write_rows",
]  # fmt: skip

__getattr__, __dir__ = lazy(__name__, _LAZY, __all__)

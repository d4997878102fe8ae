"""Getting data in: Segment-spec messages over HTTP, CSV presets, dedupe, the write pipeline."""

from .csvimport import ImportPlan, parse_maps, plan_import, run_import
from .messages import CHANNELS, MAX_BATCH_BYTES, MAX_EVENT_BYTES, TYPES, check_message, stable_message_id, to_row
from .pipeline import IngestResult, on_commit, write_rows
from .presets import PRESETS, Preset
from .status import store_status

__all__ = [
    "CHANNELS", "MAX_BATCH_BYTES", "MAX_EVENT_BYTES", "TYPES", "ImportPlan", "IngestResult", "PRESETS", "Preset",
    "check_message", "on_commit", "parse_maps", "plan_import", "run_import", "stable_message_id", "store_status",
    "to_row", "write_rows",
]  # fmt: skip

"""The cached computations warmed at start-up, under the same keys the pages use."""

from __future__ import annotations

from .common import persona_list, safe_engine_call
from .feedback import run_feedback
from .journey import journey_map
from .overview import summary
from .predictions import run_predictions
from .retention import run_retention
from .segments import run_rfm

WARMERS = [
    ("overview", summary),
    ("journey:", lambda s: journey_map(s, "")),
    ("personas", persona_list),
    ("rfm", run_rfm),
    ("feedback", run_feedback),
    ("predictions", run_predictions),
    ("retention:orders", lambda s: run_retention(s, "orders")),
    # the assistant's index (and, with the embedding extra, the sentence model: ~16 s to load) before the
    # first customer asks; the value cached here is only its kind
    ("assistant:index", lambda s: type(safe_engine_call("assistant", "index_for", s)).__name__),
]

"""The customer assistant and the team inbox: knowledge base, retrieval, conversations, hand-over."""

from .bot import FOOTER, THRESHOLD, Reply, ask
from .conversations import (
    answer_handover,
    assign,
    close,
    customer_context,
    inbox,
    note,
    open_handovers,
    reply,
    set_status,
    show,
)
from .kb import Passage, bundled_kb, load_dir
from .knowledge import index_for, ingest, passages, save_settings, settings
from .retrieval import Hit, Index
from .semantic import HybridIndex

__all__ = [
    "FOOTER", "THRESHOLD", "Hit", "HybridIndex", "Index", "Passage", "Reply", "answer_handover", "ask", "assign", "bundled_kb",
    "close", "customer_context", "inbox", "index_for", "ingest", "load_dir", "note", "open_handovers", "passages", "reply",
    "save_settings", "set_status", "settings", "show",
]  # fmt: skip

"""The web dashboard: one module per page type, Jinja2 templates and static files inside the package.

Every page is a handler returning its data; the HTML page and its JSON twin (``?format=json``) come
from the same handler.
"""

from __future__ import annotations

import importlib

from .base import ACTIONS, NAV, PAGES, action, cache, page

__all__ = ["ACTIONS", "NAV", "PAGES", "PAGE_MODULES", "action", "cache", "load_pages", "page"]

# in menu order
PAGE_MODULES = ("overview", "journey", "funnels", "paths", "retention", "segments", "customers", "feedback",
                "predictions", "automations", "inbox", "imports", "settings")


def load_pages() -> None:
    for name in PAGE_MODULES:
        importlib.import_module(f"{__name__}.{name}")

"""Warming: compute the heavy pages of every workspace once at start-up (and the cache keeps them until
new data arrives), so an owner's first click is as fast as the next."""

from __future__ import annotations

import logging
import threading

from ...store import Store

log = logging.getLogger("wayfare.web.dashboard")


def warm_all(store: Store, stop: threading.Event) -> int:
    from . import base, warmers

    n = 0
    for ws in store.workspaces():
        for name, fn in warmers.WARMERS:
            if stop.is_set():
                return n
            try:
                scope = store.scope(ws["name"])
                base.cache.get(ws["id"], name, lambda fn=fn, scope=scope: fn(scope))
                n += 1
            except Exception as e:  # warming is an optimisation; a page computes on demand anyway
                log.warning("warming %s for %s failed: %s", name, ws["name"], e)
    return n

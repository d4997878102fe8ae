"""Python's garbage collector in a long-running server (``wayfare serve``).

The ingest path makes and drops ~30 small containers an event. With the collector's defaults (a young pass every
700 net allocations, older passes rescanning every object of the app, its models included) collection took ~17% of
the event loop's time under load, so the server freezes what exists at start (never scanned again) and raises the
young threshold to 50,000. Python counts that threshold in *net* allocations (containers made minus containers
freed), and a server in a steady state frees what it makes: in a soak the young pass ran 424 times in the first two
minutes and never again in the next sixteen, and the full pass never. Cyclic garbage (~2,000 objects a minute
under the soak's load) then stayed for as long as the server ran: +100,000 Python blocks in 18 minutes.

So the server also collects on a clock: one full pass every ``WAYFARE_GC_EVERY_S`` seconds (default 60; ``0``
turns it off) on a thread of its own, followed by glibc's ``malloc_trim`` (see :func:`collect_now`). A pass
scans only what was made since start (the frozen part is skipped): 60-120 ms in the soak. Durations are in
:data:`STATS`; a pass over 250 ms is logged.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import threading
import time
from dataclasses import dataclass

from ..errors import ValidationError

__all__ = ["tune_gc", "start_clock", "collect_now", "every_s", "STATS", "EVERY_S"]

EVERY_S = 60.0
SLOW_MS = 250.0
log = logging.getLogger("wayfare.gc")


@dataclass
class CollectorStats:
    runs: int = 0
    unreachable: int = 0  # objects found unreachable over all passes
    total_ms: float = 0.0
    max_ms: float = 0.0
    trims: int = 0  # malloc_trim calls that gave pages back
    trim_ms: float = 0.0

    def as_dict(self) -> dict:
        return {"runs": self.runs, "unreachable": self.unreachable, "total_ms": round(self.total_ms, 1),
                "max_ms": round(self.max_ms, 1), "trims": self.trims, "trim_ms": round(self.trim_ms, 1)}


STATS = CollectorStats()


def every_s() -> float:
    """Seconds between the server's full collections (``WAYFARE_GC_EVERY_S``, default 60; 0: none)."""
    spec = os.environ.get("WAYFARE_GC_EVERY_S", "").strip()
    if not spec:
        return EVERY_S
    try:
        v = float(spec)
    except ValueError:
        raise ValidationError(f"WAYFARE_GC_EVERY_S: {spec!r} is not a number of seconds (0 turns the periodic "
                              f"collection off)") from None
    if v < 0 or v != v:
        raise ValidationError(f"WAYFARE_GC_EVERY_S: {spec!r} must be 0 or more seconds")
    return v


def _malloc_trim():
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to give back this way
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


_trim = _malloc_trim()


def collect_now() -> int:
    """One full collection, then glibc's ``malloc_trim``, timed into :data:`STATS`; returns the number of
    unreachable objects found. glibc keeps freed chunks inside its heaps (several arenas, shared by the threads that
    allocate) resident until something asks: in the soak the free part of the heap grew 21 -> 45 MB in seven
    minutes, pages the process held but no longer used. ``malloc_trim(0)`` hands whole free pages back."""
    t = time.perf_counter()
    found = gc.collect()
    ms = (time.perf_counter() - t) * 1000
    if _trim is not None:
        t = time.perf_counter()
        STATS.trims += _trim(0)
        STATS.trim_ms += (time.perf_counter() - t) * 1000
    STATS.runs += 1
    STATS.unreachable += found
    STATS.total_ms += ms
    STATS.max_ms = max(STATS.max_ms, ms)
    if ms > SLOW_MS:
        log.warning("a full garbage collection took %.0f ms (%d unreachable objects)", ms, found)
    return found


def _collect_every(every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            collect_now()
        except Exception:  # a finalizer that raised: the next pass still runs
            log.exception("garbage collection failed")


def start_clock(every: float) -> threading.Event:
    """A full pass every ``every`` seconds on a daemon thread (none when 0); returns the event that stops it."""
    stop = threading.Event()
    if every > 0:
        threading.Thread(target=_collect_every, args=(every, stop), name="wayfare-gc", daemon=True).start()
    return stop


def tune_gc(every: float | None = None) -> threading.Event:
    """The collector settings of a long-running server, called once its app is built: freeze what exists,
    a young pass every 50,000 net allocations, and :func:`start_clock` with ``every`` seconds (default
    :func:`every_s`). Returns the event that stops the clock."""
    period = every_s() if every is None else every
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    return start_clock(period)

"""Parsing processes for ingest: a request's body is decoded, checked and turned into columns of event rows in
another process, so the server's own process — which holds Python's interpreter lock for HTTP, the event loop and
the single DuckDB writer — is left with the work that must happen there.

Measured on the 2-core benchmark machine (benchmarks/RESULTS.md, "Ingest fourth pass"): checking a 100-event batch
and building its columns costs the server's process ~7 µs an event when done there, and ~1 µs when a parsing
process does it and the rows come back as Arrow buffers (pickle protocol 5) with two small lists (each row's
identifiers, and the traits that update profiles).

The answers are the same either way: the parsing process runs the same checks (:func:`messages.body_rows`) and
returns the same errors; the key is verified in the server's process before a body is sent off, and any request
this path does not cover (no key in the header, a bad key, a small body, a pool that broke) is answered in process.
A parsing process that dies takes no request with it: the requests it held are parsed again in process and a new
pool starts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ..errors import ValidationError
from .messages import TooLarge, body_rows, decode_json, problem
from .rows import EventRows

__all__ = ["ParsePool", "parse_body", "default_workers"]
log = logging.getLogger("wayfare.ingest")

# below this a body holds a few events: checking them here costs less than the trip to another process
MIN_BYTES = 2048


def default_workers() -> int:
    """How many parsing processes ``wayfare serve`` starts: ``WAYFARE_PARSE_WORKERS`` if set, else one per core
    beyond the first, at most two (the server's own process is the limit after that), none on one core."""
    env = os.environ.get("WAYFARE_PARSE_WORKERS", "").strip()
    if env:
        try:
            return max(0, int(env))
        except ValueError:
            raise ValueError(f"WAYFARE_PARSE_WORKERS must be a whole number, not {env!r}") from None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(2, cores - 1))


def parse_body(kind: str, raw: bytes, received_at: dt.datetime, source: str) -> EventRows | tuple[int, dict]:
    """What a parsing process does with one request: its rows in columns, or the error's status and JSON answer
    (exactly those the server gives when it parses in process)."""
    try:
        rows = body_rows(kind, decode_json(raw), len(raw), received_at, source)
    except TooLarge as e:
        return 413, problem(str(e), e.where)
    except ValidationError as e:
        return 400, problem(str(e), e.where)
    return EventRows.from_dicts(rows)


def _init_worker() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the server stops its pool itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import gc

    gc.freeze()
    gc.set_threshold(50_000, 20, 100)  # as the server's process (web.app.tune_gc): ~30 small objects an event


def _ready() -> int:
    return os.getpid()


class ParsePool:
    """``workers`` parsing processes (started by :meth:`start`, stopped by :meth:`close`)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._ex: ProcessPoolExecutor | None = None
        self.parsed = 0  # requests parsed in the pool
        self.restarts = 0
        self._replacing = threading.Lock()

    def start(self) -> None:
        if self.workers <= 0 or self._ex is not None:
            return
        # a fresh interpreter per process (forkserver): the server has threads (DuckDB's, the writer's), and
        # forking a process with threads can copy a held lock into the child
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["wayfare.ingest.parsepool"])
        self._ex = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker)
        # start them now, not on the first request
        for f in [self._ex.submit(_ready) for _ in range(self.workers)]:
            f.result(timeout=120)

    def takes(self, size: int) -> bool:
        """Whether a body of ``size`` bytes would go to a parsing process (so the caller need not check its key
        twice for bodies it will parse itself)."""
        return self._ex is not None and size >= MIN_BYTES

    def close(self) -> None:
        ex, self._ex = self._ex, None
        if ex is not None:
            ex.shutdown(wait=True, cancel_futures=True)

    async def rows(self, kind: str, raw: bytes, received_at: dt.datetime, source: str
                   ) -> EventRows | tuple[int, dict] | None:
        """The body's rows or error answer from a parsing process; None when the caller should parse it itself
        (a small body, no pool, or the pool broke: a process died)."""
        ex = self._ex
        if ex is None or len(raw) < MIN_BYTES:
            return None
        try:
            out = await asyncio.get_running_loop().run_in_executor(ex, parse_body, kind, raw, received_at, source)
        except BrokenProcessPool:
            # starting processes takes a while: not on the event loop's thread, which answers every request
            await asyncio.get_running_loop().run_in_executor(None, self._replace, ex)
            return None
        except Exception:  # a bug in the checks: the in-process path raises it where the server reports errors
            log.exception("parsing process failed; parsing in process")
            return None
        self.parsed += 1
        return out

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._replacing:
            if self._ex is not broken:  # another request already replaced it (or is replacing it)
                return
            self._replace_locked(broken)

    def _replace_locked(self, broken: ProcessPoolExecutor) -> None:
        log.warning("a parsing process died; starting a new pool (its requests were parsed in process)")
        self.restarts += 1
        self._ex = None
        broken.shutdown(wait=False, cancel_futures=True)
        try:
            self.start()
        except Exception:
            log.exception("could not start parsing processes; parsing in process from now on")
            self.workers = 0

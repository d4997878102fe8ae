"""Parsing processes for ingest: a request's body is decoded, checked and turned into columns of event rows in
another process, so the server's own process — which holds Python's interpreter lock for HTTP, the event loop and
the single DuckDB writer — is left with the work that must happen there.

Each parsing process is joined to the server by one socket pair, read and written by the server's event loop
itself: a body goes out as one frame, its rows come back as one frame (an Arrow IPC stream and two small lists:
each row's identifiers, and the traits that update profiles). There is no executor between them — the first
version used ``concurrent.futures.ProcessPoolExecutor``, whose manager and feeder threads spent ~6.5 µs of the
server's interpreter lock on every event (benchmarks/RESULTS.md, "Ingest sixth pass").

The answers are the same either way: the parsing process runs the same checks (:func:`messages.body_rows`) and
returns the same errors; the key is verified in the server's process before a body is sent off, and any request
this path does not cover (no key in the header, a bad key, a small body, a process that died) is answered in
process. A parsing process that dies takes no request with it: the requests it held are parsed again in process
and a new process starts in its place.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
import threading

import pyarrow as pa

from ..errors import ValidationError
from .messages import TooLarge, body_rows, decode_json, problem
from .rows import EventRows

__all__ = ["ParsePool", "parse_body", "default_workers"]
log = logging.getLogger("wayfare.ingest")

# below this a body holds a few events: checking them here costs less than the trip to another process
MIN_BYTES = 2048
_HEADER = struct.Struct("!i")  # a frame's length, as multiprocessing.Connection.send_bytes writes it


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


def _encode(out: EventRows | tuple[int, dict]) -> bytes:
    if isinstance(out, tuple):
        return pickle.dumps(("answer", out), protocol=5)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, out.table.schema) as w:
        w.write_table(out.table)
    # an IPC stream reads back as buffers over the frame's bytes; a pickled table is rebuilt array by array
    # (1.2 against 0.33 µs an event here)
    return pickle.dumps(("rows", sink.getvalue(), out.ids, out.traits), protocol=5)


def _decode(frame: bytes) -> EventRows | tuple[int, dict]:
    msg = pickle.loads(frame)
    if msg[0] == "answer":
        return msg[1]
    if msg[0] == "rows":
        return EventRows(pa.ipc.open_stream(msg[1]).read_all(), msg[2], msg[3])
    raise _Failed(msg[1])


def _serve(conn: multiprocessing.connection.Connection) -> None:
    """A parsing process: frames in, frames out, in order, until the server closes its end."""
    # Ctrl-C in a terminal reaches the whole process group: the server stops its parsing processes itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import gc

    gc.freeze()
    gc.set_threshold(50_000, 20, 100)  # as the server's process (web.collector.tune_gc): ~30 small objects an event
    while True:
        try:
            frame = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            out = _encode(parse_body(*pickle.loads(frame)))
        except Exception as e:  # a bug in the checks: the server parses this body itself, where errors are reported
            out = pickle.dumps(("failed", f"{type(e).__name__}: {e}"), protocol=5)
        try:
            conn.send_bytes(out)
        except OSError:
            return


class _Failed(Exception):
    """The parsing process could not answer (it died, or its checks raised)."""


class _Link(asyncio.Protocol):
    """The server's end of one parsing process's socket: frames out in order, answers back in the same order."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.pending: collections.deque[asyncio.Future] = collections.deque()
        self.buf = bytearray()
        self.lost = False

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while len(buf) >= 4:
            (n,) = _HEADER.unpack_from(buf)
            if len(buf) < 4 + n:
                return
            frame = bytes(buf[4:4 + n])
            del buf[:4 + n]
            fut = self.pending.popleft()
            if not fut.done():
                fut.set_result(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        while self.pending:
            fut = self.pending.popleft()
            if not fut.done():
                fut.set_exception(_Failed("the parsing process died"))

    def send(self, frame: bytes) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        if self.lost or self.transport is None or self.transport.is_closing():
            fut.set_exception(_Failed("the parsing process died"))
            return fut
        self.pending.append(fut)
        self.transport.writelines([_HEADER.pack(len(frame)), frame])
        return fut


class _Worker:
    """One parsing process and its link (``link`` is None until attached to the serving event loop)."""

    def __init__(self, proc: multiprocessing.process.BaseProcess, sock: socket.socket) -> None:
        self.proc, self.sock = proc, sock
        self.link: _Link | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def alive(self) -> bool:
        return self.link is not None and not self.link.lost

    def close(self) -> None:
        if self.link is not None and self.link.transport is not None:
            self.link.transport.close()
        else:
            self.sock.close()


class ParsePool:
    """``workers`` parsing processes (started by :meth:`start`, stopped by :meth:`close`)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._slots: list[_Worker | None] = []
        self.parsed = 0  # requests parsed in the parsing processes
        self.restarts = 0
        self._replacing: dict[int, asyncio.Future] = {}
        self._lock = threading.Lock()
        self._ctx = multiprocessing.get_context("forkserver")
        # a fresh interpreter per process (forkserver): the server has threads (DuckDB's, the writer's), and
        # forking a process with threads can copy a held lock into the child
        self._ctx.set_forkserver_preload(["wayfare.ingest.parsepool"])

    def _spawn(self) -> _Worker:
        ours, theirs = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=_serve, args=(theirs,), name="wayfare-parse", daemon=True)
        proc.start()
        theirs.close()
        sock = socket.socket(fileno=os.dup(ours.fileno()))
        ours.close()
        sock.setblocking(False)
        return _Worker(proc, sock)

    def start(self) -> None:
        """Start the processes (blocking: call it off the event loop). They take bodies once :meth:`attach` has
        joined them to the serving loop; until then every body is parsed in process."""
        with self._lock:
            if self.workers <= 0 or self._slots:
                return
            self._slots = [self._spawn() for _ in range(self.workers)]

    async def attach(self) -> None:
        """Join the started processes to the running event loop (the one that serves the requests)."""
        for w in self._slots:
            if w is not None and w.link is None:
                await self._attach(w)

    @staticmethod
    async def _attach(w: _Worker) -> None:
        loop = asyncio.get_running_loop()
        _, link = await loop.create_unix_connection(_Link, sock=w.sock)
        w.link, w.loop = link, loop

    def takes(self, size: int) -> bool:
        """Whether a body of ``size`` bytes would go to a parsing process (so the caller need not check its key
        twice for bodies it will parse itself)."""
        return bool(self._slots) and size >= MIN_BYTES

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._slots if w is not None and w.proc.pid is not None]

    def close(self) -> None:
        slots, self._slots = self._slots, []
        for w in slots:
            if w is not None:
                w.close()  # the process sees the end of its socket and exits
        for w in slots:
            if w is not None:
                w.proc.join(5)
                if w.proc.is_alive():
                    w.proc.kill()
                    w.proc.join(5)

    async def rows(self, kind: str, raw: bytes, received_at: dt.datetime, source: str
                   ) -> EventRows | tuple[int, dict] | None:
        """The body's rows or error answer from a parsing process; None when the caller should parse it itself
        (a small body, no processes, or the process died: a new one is started before this returns)."""
        if not self._slots or len(raw) < MIN_BYTES:
            return None
        loop = asyncio.get_running_loop()
        # the live process with the fewest bodies waiting
        best = None
        for w in self._slots:
            if w is None or w.loop is not loop:  # not attached (attach()), or to another loop
                continue
            if w.alive() and (best is None or len(w.link.pending) < len(best.link.pending)):  # type: ignore[union-attr]
                best = w
        if best is None:
            await self._replace_dead(loop, wait=True)
            return None
        if len(self._replacing) < len(self._slots) and not all(w is None or w.alive() for w in self._slots):
            await self._replace_dead(loop, wait=False)  # another one died: replace it while this one works
        try:
            out = _decode(await best.link.send(pickle.dumps((kind, raw, received_at, source), protocol=5)))  # type: ignore[union-attr]
        except _Failed as e:
            if best.alive():  # a bug in the checks: the in-process path raises it where the server reports errors
                log.error("parsing process failed (%s); parsing in process", e)
            else:
                await self._replace_dead(loop, wait=True)
            return None
        self.parsed += 1
        return out

    async def _replace_dead(self, loop: asyncio.AbstractEventLoop, wait: bool) -> None:
        """Start a new process for each dead one (one start per death, however many requests notice it), and
        with ``wait`` wait for it; the requests that find it meanwhile are parsed in process."""
        for i, w in enumerate(self._slots):
            if w is None or w.alive() or w.link is None:
                continue
            pending = self._replacing.get(i)
            if pending is None:
                pending = self._replacing[i] = loop.create_task(self._replace(i, w))
            if not wait:
                continue
            try:
                await asyncio.shield(pending)
            except Exception:
                pass

    async def _replace(self, i: int, dead: _Worker) -> None:
        log.warning("a parsing process died; starting another (its requests were parsed in process)")
        self.restarts += 1
        try:
            dead.close()
            # starting a process takes a while: not on the event loop's thread, which answers every request
            new = await asyncio.get_running_loop().run_in_executor(None, self._spawn)
            await self._attach(new)
            if i < len(self._slots) and self._slots[i] is dead:
                self._slots[i] = new
            else:  # closed meanwhile
                new.close()
            await asyncio.get_running_loop().run_in_executor(None, dead.proc.join, 5)
        except Exception:
            log.exception("could not start a parsing process; parsing in process instead")
            if i < len(self._slots) and self._slots[i] is dead:
                self._slots[i] = None
        finally:
            self._replacing.pop(i, None)

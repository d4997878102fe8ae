"""The server's garbage collector: with its raised young threshold, cyclic garbage stays until the clocked full
pass, which frees it; the setting is checked."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import pytest

from wayfare.errors import ValidationError
from wayfare.web import collector


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: reference counting never frees it


@pytest.fixture
def server_gc():
    """The collector as `wayfare serve` sets it, and the test process's own settings back afterwards."""
    threshold = gc.get_threshold()
    stops = []
    yield stops
    for s in stops:
        s.set()
    gc.unfreeze()
    gc.set_threshold(*threshold)


def _cycles(n: int) -> list[weakref.ref]:
    refs = []
    for _ in range(n):
        refs.append(weakref.ref(_Node()))
    return refs


def test_cyclic_garbage_stays_without_the_clock_and_goes_with_it(server_gc):
    server_gc.append(collector.tune_gc(every=0))  # the raised thresholds alone
    refs = _cycles(2000)
    time.sleep(0.3)
    assert sum(r() is not None for r in refs) == 2000  # nothing collects them: the growth the soak saw
    runs = collector.STATS.runs
    server_gc.append(collector.start_clock(0.1))  # (a second freeze would keep the cycles for good)
    deadline = time.time() + 10
    while collector.STATS.runs == runs and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    assert collector.STATS.runs > runs
    assert sum(r() is not None for r in refs) == 0
    assert collector.STATS.unreachable >= 2000 and collector.STATS.max_ms > 0


def test_the_clock_stops(server_gc):
    stop = collector.start_clock(0.05)
    server_gc.append(stop)
    time.sleep(0.3)
    stop.set()
    time.sleep(0.2)
    runs = collector.STATS.runs
    time.sleep(0.3)
    assert collector.STATS.runs == runs
    assert not any(t.name == "wayfare-gc" and t.is_alive() for t in threading.enumerate())


def _rss_anon_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status")


@pytest.mark.skipif(collector._trim is None, reason="malloc_trim is glibc's")
def test_a_pass_gives_freed_heap_pages_back():
    # 100 MB in 640-byte blocks (glibc's heap, not Python's small-object arenas); keep every 64th, so the heap's
    # top stays in use and glibc cannot shrink it on its own: the freed runs between stay resident until trimmed
    blocks = [bytes(640) for _ in range(160_000)]
    keep = blocks[::64]
    del blocks
    before = _rss_anon_mb()
    trims = collector.STATS.trims
    collector.collect_now()
    after = _rss_anon_mb()
    assert collector.STATS.trims == trims + 1
    assert before - after > 30, f"RssAnon {before:.1f} -> {after:.1f} MB"
    assert len(keep) == 2500


@pytest.mark.parametrize("spec, expected", [("", 60.0), ("15", 15.0), ("0", 0.0), (" 2.5 ", 2.5)])
def test_every_s_reads_the_setting(monkeypatch, spec, expected):
    monkeypatch.setenv("WAYFARE_GC_EVERY_S", spec)
    assert collector.every_s() == expected


@pytest.mark.parametrize("spec", ["soon", "-1", "nan"])
def test_a_bad_setting_is_an_error_that_names_it(monkeypatch, spec):
    monkeypatch.setenv("WAYFARE_GC_EVERY_S", spec)
    with pytest.raises(ValidationError, match="WAYFARE_GC_EVERY_S"):
        collector.every_s()

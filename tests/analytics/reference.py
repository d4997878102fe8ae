"""Naive, obviously-correct Python versions of the analyses, to check the Ibis queries against."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict


def _furthest(evs: list[tuple], steps: list[str], w: dt.timedelta) -> int:
    """Explicit search over every chain of step events at strictly increasing times."""

    def extend(k: int, last: dt.datetime, start: dt.datetime) -> int:
        if k == len(steps):
            return k
        got = k
        for ts, ev in evs:
            if ev == steps[k] and last < ts <= start + w:
                got = max(got, extend(k + 1, ts, start))
                if got == len(steps):
                    break
        return got

    best = 0
    for ts, ev in evs:
        if ev == steps[0]:
            best = max(best, extend(1, ts, ts))
    return best


def funnel_levels(events: list[tuple], steps: list[str], within: int) -> dict[str, int]:
    """events: (person, ts, event) -> furthest step per person who did step 1."""
    by = defaultdict(list)
    for p, ts, ev in events:
        by[p].append((ts, ev))
    out = {}
    for p, evs in by.items():
        best = _furthest(evs, steps, dt.timedelta(seconds=within))
        if best:
            out[p] = best
    return out


def sessions(events: list[tuple], gap: int = 1800, collapse: bool = False) -> list[list[str]]:
    """(person, ts, event) -> sessions as lists of events (time, then log order; repeats collapsed if asked)."""
    by = defaultdict(list)
    for i, (p, ts, ev) in enumerate(events):
        by[p].append((ts, i, ev))
    out = []
    for p in sorted(by):
        evs = sorted(by[p])
        cur: list[str] = []
        last_ts = None
        for ts, _, ev in evs:
            if last_ts is not None and (ts - last_ts).total_seconds() > gap:
                out.append(cur)
                cur = []
            if not collapse or not cur or cur[-1] != ev:
                cur.append(ev)
            last_ts = ts
        out.append(cur)
    return out


def paths_from(events, start: str, depth: int, gap: int = 1800, collapse: bool = False) -> dict[tuple, int]:
    counts: dict[tuple, int] = defaultdict(int)
    for s in sessions(events, gap, collapse):
        if start in s:
            i = s.index(start)
            counts[tuple(s[i:i + depth])] += 1
    return dict(counts)


def paths_to(events, end: str, depth: int, gap: int = 1800, collapse: bool = False) -> dict[tuple, int]:
    counts: dict[tuple, int] = defaultdict(int)
    for s in sessions(events, gap, collapse):
        if end in s:
            i = s.index(end)
            counts[tuple(s[max(0, i - depth + 1):i + 1])] += 1
    return dict(counts)


def week_index(ts: dt.datetime) -> int:
    return (ts.date() - dt.date(1970, 1, 5)).days // 7


def retention(events, periods: int) -> dict[tuple[int, int], int]:
    """Weekly cohorts by first event, any event returns: (cohort, offset) -> people."""
    first: dict[str, int] = {}
    active = defaultdict(set)
    for p, ts, _ in events:
        w = week_index(ts)
        first[p] = min(first.get(p, w), w)
        active[p].add(w)
    out: dict[tuple[int, int], int] = defaultdict(int)
    for p, weeks in active.items():
        for w in weeks:
            off = w - first[p]
            if 0 <= off <= periods:
                out[(first[p], off)] += 1
    return dict(out)


def rfm_segments(orders: list[tuple]) -> dict[str, str]:
    """orders: (person, ts, revenue) -> person: named segment (scores from cumulative shares, as documented)."""
    import math

    last: dict[str, dt.datetime] = {}
    freq: dict[str, int] = defaultdict(int)
    money: dict[str, float] = defaultdict(float)
    for p, ts, rev in orders:
        last[p] = max(last.get(p, ts), ts)
        freq[p] += 1
        money[p] += rev
    ref = max(last.values())
    rec = {p: math.floor((ref - t).total_seconds() / 86400) for p, t in last.items()}
    n = len(last)

    def score(values: dict[str, float], higher_better: bool) -> dict[str, int]:
        out = {}
        for p, v in values.items():
            as_good_or_worse = sum(1 for w in values.values() if (w <= v if higher_better else w >= v))
            out[p] = min(5, max(1, math.ceil(as_good_or_worse * 5 / n - 1e-9)))
        return out

    r, f = score(rec, False), score(freq, True)

    def name(r: int, f: int) -> str:
        if r == 5 and f >= 4:
            return "Champions"
        if 3 <= r <= 4 and f >= 4:
            return "Loyal"
        if r >= 4 and 2 <= f <= 3:
            return "Potential Loyalist"
        if r == 5 and f == 1:
            return "New"
        if r == 4 and f == 1:
            return "Promising"
        if r == 3 and f == 3:
            return "Need Attention"
        if r == 3 and f <= 2:
            return "About to Sleep"
        if r <= 2 and f == 5:
            return "Can't Lose Them"
        if r <= 2 and f >= 3:
            return "At Risk"
        if r == 1 and f == 1:
            return "Lost"
        return "Hibernating"

    return {p: name(r[p], f[p]) for p in last}


def funnel_levels_loose(events: list[tuple], steps: list[str], within: int) -> dict[str, int]:
    """Loose order, by brute force: step k is reached when some window [s, s + within] starting at one of
    the person's step events holds a match of each of steps 1..k (one event may match several steps)."""
    by = defaultdict(list)
    for p, ts, ev in events:
        by[p].append((ts, ev))
    w = dt.timedelta(seconds=within)
    out = {}
    for p, evs in by.items():
        if not any(ev == steps[0] for _, ev in evs):
            continue
        best = 1
        for s, ev0 in evs:
            if ev0 not in steps:
                continue
            inside = {ev for ts, ev in evs if s <= ts <= s + w}
            k = 0
            while k < len(steps) and steps[k] in inside:
                k += 1
            best = max(best, k)
        out[p] = best
    return out

"""What grew between two moments of a memray recording, by stack (for ``soak.py --memray FILE``).

"Live at the end" is the wrong question for a server: its shutdown frees the store and DuckDB's buffers, and an
allocation made late may only replace one freed late. This reads memray's temporal records and, per stack, takes
what was live at the end moment minus what was live at the start moment:

    .venv/bin/python benchmarks/memray_growth.py FILE [--from 0.4] [--tail-s 3] [--top 30]

``--from``: the start moment as a share of the recording (after a ``--warm-traffic`` warm-up, its end);
``--tail-s``: the end moment this many seconds before the recording's end (before the shutdown frees anything).
Reading a 10-minute native recording (~3.5 GB) takes ~8 minutes on 2 cores. memray counts jemalloc's mapped
extents (DuckDB's allocator) as allocations of their own: they are address space kept mapped, not objects.
"""

from __future__ import annotations

import argparse
import collections

import memray

ALLOCATORS = {int(k): k.name for k in memray.AllocatorType}


def frames(rec, depth: int) -> str:
    try:
        st = rec.hybrid_stack_trace(max_stacks=depth)
    except Exception:  # records without Python frames
        st = rec.stack_trace(max_stacks=depth)
    return " <- ".join(f[0] + (f"@{f[1].rsplit('/', 1)[-1]}:{f[2]}" if len(f) > 2 and f[1] and not f[1].endswith(".so")
                                else "") for f in st[:depth])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--from", dest="start", type=float, default=0.4)
    ap.add_argument("--tail-s", type=float, default=3.0)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--depth", type=int, default=12)
    ap.add_argument("--width", type=int, default=1600, help="characters of each stack to print")
    a = ap.parse_args()
    r = memray.FileReader(a.file, report_progress=False)
    snaps = list(r.get_memory_snapshots())
    t0, t1 = snaps[0].time, snaps[-1].time
    cut = next(i for i, s in enumerate(snaps) if s.time >= t0 + a.start * (t1 - t0))
    end = max(i for i, s in enumerate(snaps) if s.time <= t1 - a.tail_s * 1000)
    minutes = (snaps[end].time - snaps[cut].time) / 60000
    print(f"from {(snaps[cut].time - t0) / 60000:.2f} min (heap {snaps[cut].heap / 2**20:.1f} MB, RSS "
          f"{snaps[cut].rss / 2**20:.1f} MB) to {(snaps[end].time - t0) / 60000:.2f} min (heap "
          f"{snaps[end].heap / 2**20:.1f} MB, RSS {snaps[end].rss / 2**20:.1f} MB): {minutes:.2f} min")

    def live(iv, s: int) -> bool:
        return iv.allocated_before_snapshot <= s and (iv.deallocated_before_snapshot is None
                                                      or iv.deallocated_before_snapshot > s)

    net: collections.Counter = collections.Counter()
    count: collections.Counter = collections.Counter()
    for rec in r.get_temporal_allocation_records(merge_threads=True):
        d = n = 0
        for iv in rec.intervals:
            if live(iv, end):
                d += iv.n_bytes
                n += iv.n_allocations
            if live(iv, cut):
                d -= iv.n_bytes
                n -= iv.n_allocations
        if d:
            key = f"[{ALLOCATORS.get(int(rec.allocator), rec.allocator)}] " + frames(rec, a.depth)
            net[key] += d
            count[key] += n
    total = sum(net.values())
    print(f"net growth {total / 2**20:.1f} MB ({total / 2**20 / minutes:.2f} MB/min)")
    for key, d in net.most_common(a.top):
        print(f"\n{d / 2**20:+8.2f} MB {count[key]:+8d} allocations\n   {key[:a.width]}")


if __name__ == "__main__":
    main()

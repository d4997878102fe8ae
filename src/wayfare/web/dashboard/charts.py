"""Charts drawn on the server as SVG: bars, lines, a heatmap and a Sankey diagram.

No chart library and no CDN: each function returns a ``<figure>`` holding an accessible SVG (a title,
a description, ``data-tip`` on every mark for the hover/focus tooltip in ``dashboard.js``) and a
download button that saves exactly that SVG. Colours are presentation attributes, not CSS, so a
downloaded chart looks the same outside the page, and nothing needs an inline style (the CSP forbids
them).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

from markupsafe import Markup, escape

__all__ = ["bars", "hbars", "lines", "heatmap", "sankey", "PALETTE", "fmt_num"]

PALETTE = ("#2563eb", "#ea580c", "#059669", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777")
_ids = itertools.count(1)
INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"


def fmt_num(v: float | None) -> str:
    if v is None:
        return "–"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.1f}M"
    if a >= 1e4:
        return f"{v / 1e3:.0f}k"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10 or float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8, 10):
        if v <= m * mag:
            return m * mag
    return 10 * mag


def _figure(svg: str, title: str, name: str, note: str = "") -> Markup:
    fid = f"chart{next(_ids)}"
    safe = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "chart"
    return Markup(
        f'<figure class="chart" id="{fid}">{svg}<figcaption><span>{escape(note)}</span><span class="chart-tools">'
        f'<button type="button" class="linkish zoom" data-target="{fid}" aria-pressed="false">Enlarge</button> '
        f'<button type="button" class="linkish dl-svg" data-target="{fid}" data-name="{escape(safe)}.svg" '
        f'aria-label="Download the chart {escape(title)} as SVG">Download SVG</button></span></figcaption></figure>'
    )


def _svg_open(w: int, h: int, title: str, desc: str = "") -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
            f'preserveAspectRatio="xMidYMid meet" font-family="system-ui, sans-serif" font-size="12">'
            f'<title>{escape(title)}</title><desc>{escape(desc or title)}</desc>'
            f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>')


def _empty(title: str, text: str) -> Markup:
    return Markup(f'<div class="chart-empty" role="note"><strong>{escape(title)}</strong><p>{escape(text)}</p></div>')


def bars(items: Sequence[tuple[str, float]], title: str, value_fmt: Callable[[float], str] = fmt_num,
         color: str = PALETTE[0], height: int = 240, empty: str = "No data yet.", note: str = "",
         width: int = 720) -> Markup:
    """Vertical bars, one per (label, value)."""
    items = [(str(k), float(v or 0)) for k, v in items]
    if not items or all(v == 0 for _, v in items):
        return _empty(title, empty)
    w, left, top, bottom = width, 48, 16, 44
    top_v = _nice_max(max(v for _, v in items))
    ph, pw = height - top - bottom, w - left - 12
    bw = pw / len(items)
    out = [_svg_open(w, height, title)]
    for i in range(5):
        y = top + ph - ph * i / 4
        out.append(f'<line x1="{left}" x2="{w - 12}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">{escape(value_fmt(top_v * i / 4))}</text>')
    step = max(1, math.ceil(len(items) / 12))
    for i, (label, v) in enumerate(items):
        bh = ph * v / top_v
        x = left + i * bw + bw * 0.12
        out.append(f'<rect class="mark" tabindex="0" x="{x:.1f}" y="{top + ph - bh:.1f}" width="{bw * 0.76:.1f}" '
                   f'height="{max(bh, 0.5):.1f}" rx="2" fill="{color}" data-tip="{escape(label)}: {escape(value_fmt(v))}"/>')
        if i % step == 0:
            out.append(f'<text x="{x + bw * 0.38:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                       f'fill="{MUTED}">{escape(label[:14])}</text>')
    out.append("</svg>")
    return _figure("".join(out), title, title, note)


def hbars(items: Sequence[tuple[str, float]], title: str, value_fmt: Callable[[float], str] = fmt_num,
          color: str = PALETTE[0], empty: str = "No data yet.", note: str = "",
          width: int = 720) -> Markup:
    """Horizontal bars with the label on the left and the value at the bar's end (a ranking)."""
    items = [(str(k), float(v or 0)) for k, v in items]
    if not items or all(v == 0 for _, v in items):
        return _empty(title, empty)
    w, row = width, 28
    left = min(200, max(80, 7 * max(len(k) for k, _ in items) + 12))
    h = row * len(items) + 12
    top_v = max(v for _, v in items) or 1
    pw = w - left - 80
    out = [_svg_open(w, h, title)]
    for i, (label, v) in enumerate(items):
        y = 6 + i * row
        bw = pw * v / top_v
        out.append(f'<text x="{left - 8}" y="{y + 18}" text-anchor="end" fill="{INK}">{escape(label[:30])}</text>'
                   f'<rect class="mark" tabindex="0" x="{left}" y="{y + 4}" width="{max(bw, 1):.1f}" height="{row - 9}" '
                   f'rx="3" fill="{color}" data-tip="{escape(label)}: {escape(value_fmt(v))}"/>'
                   f'<text x="{left + bw + 6:.1f}" y="{y + 18}" fill="{INK}">{escape(value_fmt(v))}</text>')
    out.append("</svg>")
    return _figure("".join(out), title, title, note)


def lines(x_labels: Sequence[str], series: dict[str, Sequence[float | None]], title: str,
          value_fmt: Callable[[float], str] = fmt_num, height: int = 240, empty: str = "No data yet.",
          note: str = "", y_min: float | None = None, y_max: float | None = None, width: int = 720) -> Markup:
    """One or more lines over shared x labels; points carry tooltips; a legend names each line."""
    vals = [v for s in series.values() for v in s if v is not None]
    if not x_labels or not vals:
        return _empty(title, empty)
    w, left, top, bottom = width, 52, 16, 56
    lo = y_min if y_min is not None else min(0.0, min(vals))
    hi = y_max if y_max is not None else _nice_max(max(vals))
    hi = hi if hi > lo else lo + 1
    ph, pw = height - top - bottom, w - left - 30
    n = len(x_labels)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (pw * i / (n - 1) if n > 1 else pw / 2)
        return x, top + ph - ph * (v - lo) / (hi - lo)

    out = [_svg_open(w, height, title)]
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        y = top + ph - ph * i / 4
        out.append(f'<line x1="{left}" x2="{w - 30}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">{escape(value_fmt(v))}</text>')
    step = max(1, math.ceil(n / max(2, w // 80)))
    ticks = list(range(0, n, step))
    if ticks[-1] != n - 1:
        if n - 1 - ticks[-1] >= step * 0.7:
            ticks.append(n - 1)
        else:
            ticks[-1] = n - 1
    for i in ticks:
        lab = x_labels[i]
        x, _ = xy(i, lo)
        out.append(f'<text x="{x:.1f}" y="{height - bottom + 18}" text-anchor="middle" fill="{MUTED}">{escape(lab)}</text>')
    lx = left
    for si, (name, s) in enumerate(series.items()):
        color = PALETTE[si % len(PALETTE)]
        pts = [xy(i, v) for i, v in enumerate(s) if v is not None]
        if len(pts) > 1:
            d = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f},{y:.1f}" for j, (x, y) in enumerate(pts))
            out.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2.5" stroke-linejoin="round"/>')
        for i, v in enumerate(s):
            if v is None:
                continue
            x, y = xy(i, v)
            out.append(f'<circle class="mark" tabindex="0" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}" '
                       f'data-tip="{escape(name)} · {escape(x_labels[i])}: {escape(value_fmt(v))}"/>')
        if len(series) > 1 or name:
            out.append(f'<rect x="{lx}" y="{height - 18}" width="12" height="12" rx="2" fill="{color}"/>'
                       f'<text x="{lx + 16}" y="{height - 8}" fill="{INK}">{escape(name)}</text>')
            lx += 24 + 7 * len(name)
    out.append("</svg>")
    return _figure("".join(out), title, title, note)


def _heat(v: float) -> str:
    # white -> blue, readable text chosen by the caller
    v = max(0.0, min(1.0, v))
    r, g, b = (int(255 - (255 - c) * v) for c in (30, 64, 175))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(row_labels: Sequence[str], col_labels: Sequence[str], values: Sequence[Sequence[float | None]],
            title: str, value_fmt: Callable[[float], str] = lambda v: f"{100 * v:.0f}%", row_notes: Sequence[str] = (),
            empty: str = "No data yet.", note: str = "", scale_max: float | None = None) -> Markup:
    """A grid of cells shaded by value (0..scale_max); None cells are left blank."""
    if not row_labels or not col_labels:
        return _empty(title, empty)
    flat = [v for r in values for v in r if v is not None]
    top_v = scale_max or (max(flat) if flat else 1) or 1
    cw, ch, left, top = 44, 26, 150, 28
    w = left + cw * len(col_labels) + 10
    h = top + ch * len(row_labels) + 8
    out = [_svg_open(w, h, title)]
    for j, c in enumerate(col_labels):
        out.append(f'<text x="{left + j * cw + cw / 2:.0f}" y="18" text-anchor="middle" fill="{MUTED}">{escape(c)}</text>')
    for i, r in enumerate(row_labels):
        y = top + i * ch
        lab = r + (f" ({row_notes[i]})" if i < len(row_notes) and row_notes[i] else "")
        out.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end" fill="{INK}">{escape(lab)}</text>')
        for j, v in enumerate(values[i]):
            if v is None:
                continue
            s = v / top_v
            out.append(f'<rect class="mark" tabindex="0" x="{left + j * cw + 1}" y="{y + 1}" width="{cw - 2}" '
                       f'height="{ch - 2}" rx="2" fill="{_heat(s)}" '
                       f'data-tip="{escape(r)} · {escape(col_labels[j])}: {escape(value_fmt(v))}"/>'
                       f'<text x="{left + j * cw + cw / 2:.0f}" y="{y + 17}" text-anchor="middle" font-size="11" '
                       f'fill="{"#ffffff" if s > 0.55 else INK}" pointer-events="none">{escape(value_fmt(v))}</text>')
    out.append("</svg>")
    return _figure("".join(out), title, title, note)


def sankey(columns: Sequence[Sequence[tuple[str, float]]], links: Sequence[tuple[int, str, str, float]], title: str,
           empty: str = "No paths yet.", note: str = "", column_labels: Sequence[str] = ()) -> Markup:
    """A simple Sankey: ``columns[i]`` lists (node, weight) at step i; ``links`` are (i, from, to, weight)
    flowing from column i to column i + 1. Nodes stack top-down by weight; link bands keep their order."""
    if not columns or not links:
        return _empty(title, empty)
    w, h, nw, pad, top = 900, 420, 14, 10, 24
    ncol = len(columns)
    gap = (w - 190 - nw) / max(1, ncol - 1)
    total = max(sum(v for _, v in col) for col in columns) or 1
    maxn = max(len(col) for col in columns)
    scale = (h - top - 10 - pad * (maxn - 1)) / total
    pos: dict[tuple[int, str], list[float]] = {}  # (col, node) -> [x, y, height, out_offset, in_offset]
    out = [_svg_open(w, h, title)]
    for i, col in enumerate(columns):
        x = 10 + i * gap
        y = top
        if i < len(column_labels):
            out.append(f'<text x="{x}" y="14" fill="{MUTED}">{escape(column_labels[i])}</text>')
        for name, v in col:
            nh = max(2.0, v * scale)
            pos[(i, name)] = [x, y, nh, 0.0, 0.0]
            y += nh + pad
    color_of: dict[str, str] = {}
    for col in columns:
        for name, _ in col:
            color_of.setdefault(name, PALETTE[len(color_of) % len(PALETTE)])
    for i, a, b, v in sorted(links, key=lambda t: (t[0], -t[3])):
        if (i, a) not in pos or (i + 1, b) not in pos:
            continue
        sa, sb = pos[(i, a)], pos[(i + 1, b)]
        th = max(1.0, v * scale)
        y0 = sa[1] + sa[3] + th / 2
        y1 = sb[1] + sb[4] + th / 2
        sa[3] += th
        sb[4] += th
        x0, x1 = sa[0] + nw, sb[0]
        mx = (x0 + x1) / 2
        out.append(f'<path class="mark" tabindex="0" d="M{x0:.1f},{y0:.1f} C{mx:.1f},{y0:.1f} {mx:.1f},{y1:.1f} {x1:.1f},{y1:.1f}" '
                   f'fill="none" stroke="{color_of[a]}" stroke-opacity="0.35" stroke-width="{th:.1f}" '
                   f'data-tip="{escape(a)} → {escape(b)}: {fmt_num(v)} people"/>')
    for (i, name), (x, y, nh, _, _) in pos.items():
        weight = dict(columns[i]).get(name, 0)
        out.append(f'<rect class="mark" tabindex="0" x="{x:.1f}" y="{y:.1f}" width="{nw}" height="{nh:.1f}" '
                   f'fill="{color_of[name]}" data-tip="{escape(name)} (step {i + 1}): {fmt_num(weight)} people"/>')
        if nh >= 11:
            out.append(f'<text x="{x + nw + 4:.1f}" y="{y + min(nh / 2, 12) + 4:.1f}" fill="{INK}" font-size="11">'
                       f'{escape(name[:26])}</text>')
    out.append("</svg>")
    return _figure("".join(out), title, title, note)


def register(env: Any) -> None:
    env.globals.update(bars=bars, hbars=hbars, lines=lines, heatmap=heatmap, sankey=sankey, fmt_num=fmt_num)

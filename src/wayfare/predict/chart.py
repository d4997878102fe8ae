"""A dependency-free SVG bar chart: predicted vs actual holdout purchases by calibration frequency."""

from __future__ import annotations

from html import escape


def holdout_svg(rows: list[dict], title: str = "Holdout repeat purchases per customer") -> str:
    w, h, pad = 640, 360, 48
    top = max([max(r["actual"], r["predicted"]) for r in rows] + [1e-9])
    n = max(len(rows), 1)
    bw = (w - 2 * pad) / n
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<text x="{pad}" y="20" font-size="14">{escape(title)}</text>',
             f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#333"/>']
    for i, r in enumerate(rows):
        x0 = pad + i * bw
        for j, (k, color) in enumerate((("actual", "#1f77b4"), ("predicted", "#ff7f0e"))):
            bh = (h - 2 * pad - 20) * r[k] / top
            parts.append(f'<rect x="{x0 + 4 + j * (bw - 8) / 2:.1f}" y="{h - pad - bh:.1f}" width="{(bw - 8) / 2:.1f}" '
                         f'height="{bh:.1f}" fill="{color}"><title>{k} {r[k]:.3f}</title></rect>')
        parts.append(f'<text x="{x0 + bw / 2:.1f}" y="{h - pad + 16}" text-anchor="middle">{escape(str(r["frequency"]))}</text>')
    parts.append(f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle">repeat purchases in calibration</text>')
    parts.append(f'<rect x="{w - 170}" y="30" width="10" height="10" fill="#1f77b4"/><text x="{w - 155}" y="39">actual</text>')
    parts.append(f'<rect x="{w - 100}" y="30" width="10" height="10" fill="#ff7f0e"/><text x="{w - 85}" y="39">predicted</text>')
    parts.append("</svg>")
    return "\n".join(parts)

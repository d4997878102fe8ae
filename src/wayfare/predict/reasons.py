"""Plain-word reasons behind a score, for a shop owner."""

from __future__ import annotations


def churn_reason(days_since: float, typical_gap: float | None, p_alive: float) -> str:
    """E.g. "No purchase for 64 days; usually returns every 12"."""
    s = f"No purchase for {days_since:.0f} days"
    if typical_gap and typical_gap > 0:
        s += f"; usually returns every {typical_gap:.0f}"
    else:
        s += "; has bought only once"
    return s + f" (chance still active {p_alive:.0%})"

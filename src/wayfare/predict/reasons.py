"""Plain-word reasons behind a score, for a shop owner: from BG/NBD figures or from SHAP contributions."""

from __future__ import annotations


def churn_reason(days_since: float, typical_gap: float | None, p_alive: float) -> str:
    """E.g. "No purchase for 64 days; usually returns every 12"."""
    s = f"No purchase for {days_since:.0f} days"
    if typical_gap and typical_gap > 0:
        s += f"; usually returns every {typical_gap:.0f}"
    else:
        s += "; has bought only once"
    return s + f" (chance still active {p_alive:.0%})"


# Features that tell one story are summed into one reason, so a person gets distinct sentences.
GROUPS: dict[str, tuple[str, ...]] = {
    "rhythm": ("days_since_last_order", "overdue_ratio", "mean_gap_days", "p_alive", "bgnbd_expected", "tenure_days"),
    "frequency": ("orders", "orders_30d", "orders_90d", "orders_365d"),
    "value": ("spend", "avg_order_value", "spend_90d"),
    "review": ("reviews", "last_rating", "days_since_last_review", "last_review_topic"),
    "support": ("tickets_90d",),
    "survey": ("last_survey_score",),
    "engagement": ("events_30d", "events_90d", "days_since_last_event", "email_engagement_90d"),
}


def _n(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else f


def _plural(n: float, word: str) -> str:
    return f"{n:.0f} {word}{'' if round(n) == 1 else 's'}"


def sentence(group: str, f: dict) -> str | None:
    """One plain sentence for a reason group from a person's feature values (None when it says nothing)."""
    since, gap, orders = _n(f.get("days_since_last_order")), _n(f.get("mean_gap_days")), _n(f.get("orders")) or 0
    if group == "rhythm":
        if since is None:
            return "Has not bought yet"
        s = "Visited today" if since == 0 else f"No visit for {_plural(since, 'day')}"
        return s + (f"; usually returns every {gap:.0f}" if gap else "; has come only once")
    if group == "frequency":
        o90 = _n(f.get("orders_90d")) or 0
        if orders <= 1:
            return "Only one order so far" if orders == 1 else "No orders yet"
        return f"{_plural(orders, 'order')} in all, {o90:.0f} in the last 90 days"
    if group == "value":
        spend, aov = _n(f.get("spend")) or 0, _n(f.get("avg_order_value"))
        return f"Spent {spend:,.0f} in all" + (f" ({aov:,.0f} a visit)" if aov and orders > 1 else "")
    if group == "review":
        rating = _n(f.get("last_rating"))
        if rating is None:
            return "Has never left a review"
        topic = f.get("last_review_topic")
        ago = _n(f.get("days_since_last_review"))
        s = f"Last review {rating:.0f}★"
        if isinstance(topic, str) and topic:
            s += f" about {topic}"
        return s + (f", {_plural(ago, 'day')} ago" if ago is not None else "")
    if group == "support":
        t = _n(f.get("tickets_90d")) or 0
        return f"{_plural(t, 'support ticket')} or complaints in the last 90 days" if t else "No complaints in the last 90 days"
    if group == "survey":
        sc = _n(f.get("last_survey_score"))
        return None if sc is None else f"Last survey score {10 * sc:.0f}/10"
    if group == "engagement":
        last, e30 = _n(f.get("days_since_last_event")), _n(f.get("events_30d")) or 0
        mails = _n(f.get("email_engagement_90d")) or 0
        if mails:
            return f"Opened or clicked {_plural(mails, 'message')} in the last 90 days"
        if e30:
            return f"Active in the last 30 days ({_plural(e30, 'interaction')})"
        return None if last is None else f"No contact of any kind for {_plural(last, 'day')}"
    return None


def reasons_from_contributions(target: str, X, contrib, scores, base_rate: float, top: int = 3) -> dict[str, list[str]]:
    """Top reason sentences per person from SHAP contributions (log-odds), grouped by :data:`GROUPS`.

    Above the base rate the reasons are what pushes the score up; below it, what holds it down.
    """
    import numpy as np

    names = list(GROUPS)
    g = np.column_stack([contrib[[c for c in cols if c in contrib.columns]].sum(axis=1).to_numpy() for cols in GROUPS.values()])
    up = np.asarray(scores) >= base_rate
    signed = np.where(up[:, None], g, -g)
    order = np.argsort(-signed, axis=1)[:, : top + 2]
    recs = X.to_dict(orient="records")
    out: dict[str, list[str]] = {}
    for i, pid in enumerate(X.index):
        said: list[str] = []
        for j in order[i]:
            if signed[i, j] <= 0 and said:
                break
            s = sentence(names[j], recs[i])
            if s and s not in said:
                said.append(s)
            if len(said) == top:
                break
        out[pid] = said
    return out

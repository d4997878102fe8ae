"""Stage assignment: the default name/channel rules (a map that needs no YAML) and the compiler that turns a
map's touchpoints into one SQL ``CASE`` (values travel as parameters, never spliced into the SQL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..store import Scope
from .model import DEFAULT_STAGES, Match, PersonaRule, Stage, Touchpoint

__all__ = ["DEFAULT_RULES", "CHANNEL_FALLBACK", "default_stage", "default_map_stages", "Compiled", "compile_map",
           "persona_condition"]

A, C, D, P, PP, L = DEFAULT_STAGES
# first match wins; names are matched case-insensitively
DEFAULT_RULES: tuple[tuple[str, str], ...] = (
    (PP, r"\breview(ed)? (posted|written|submitted|left|created)|\breviewed\b|\brated\b|\brating\b|\bsurvey|\bfeedback|\bnps\b|"
         r"\bcsat\b|\bces\b|\bticket|\bsupport\b|\bcomplain|\breturn(ed)?\b|\brefund|\bdeliver|\bshipped|\bshipping|"
         r"\bshipment|\bdispatch|order (received|arrived)|\bfollow[- ]?up"),
    (L, r"\breferr|\brefer\b|\bloyalty|\breward|\bredeem|\bpoints\b|\badvoca|\bambassador|\bmention|\bshared\b|"
        r"\btestimonial|\brenew|\brepeat|\bmember(ship)?\b|\binvite"),
    (P, r"order (completed|placed|paid)|\bpurchase|\bpaid\b|payment (succeeded|completed|received)|checkout completed|"
        r"\btransaction|\bsale\b|visit completed|appointment completed|subscription (started|created)|invoice paid|"
        r"\bcheck[- ]?in\b"),
    (D, r"\bbooked\b|\bbooking|\breserv|\badded\b|add(ed)? to (cart|basket)|\bcart\b|\bbasket\b|\bcheckout|\benquir|"
        r"\binquir|\bquote|signed up|sign[- ]?up|\bregister|\bappointment|\bwishlist|\blead\b|contact(ed)? (us|form)|"
        r"\bcalled\b|trial started|\bsubscribed\b"),
    (A, r"\blisting|search result|\bwalked|\brecommended|referred by|\bseen\b|\bimpression|\bad (clicked|viewed|seen)|"
        r"\bnewsletter|\bcampaign|\bdiscover|\blanding|page viewed|first visit|social post|\bflyer|word of mouth|"
        r"\bpassed by\b"),
    (C, r"\bviewed\b|\bread\b|\bbrowse|\bsearch|\bcompare|\bopened\b|\bwatched\b|\bclicked\b|\bexplored?\b|\bchecked\b|"
        r"\bprices?\b|\bmenu\b|\bproducts?\b|\bcatalog|\bfaq\b|\bquestion|\bvisited\b"),
)
CHANNEL_FALLBACK = {"support": PP, "survey": PP, "review": PP, "social": A, "pos": P, "in-store": C}
_COMPILED = tuple((stage, re.compile(rx, re.IGNORECASE)) for stage, rx in DEFAULT_RULES)


def default_stage(name: str | None, type_: str = "track", channel: str | None = None) -> str | None:
    """The stage the default rules give an event (None: not on the map)."""
    if type_ == "identify":
        return D
    if type_ in ("page", "screen"):
        name = name or ""
        for stage, rx in _COMPILED:
            if name and rx.search(name):
                return stage
        return C
    if type_ != "track":
        return None
    for stage, rx in _COMPILED:
        if name and rx.search(name):
            return stage
    return CHANNEL_FALLBACK.get((channel or "").lower())


def default_map_stages(scope: Scope) -> tuple[list[Stage], list[dict[str, Any]]]:
    """Stages with one touchpoint per event name seen in the workspace, placed by the default rules.

    Returns the stages and the event names left off the map (with counts)."""
    rows = scope.rows("SELECT type, event, mode(channel) AS channel, count(*) AS n FROM events "
                      "WHERE type IN ('track', 'identify', 'page', 'screen') GROUP BY ALL ORDER BY n DESC")
    by_stage: dict[str, list[Touchpoint]] = {s: [] for s in DEFAULT_STAGES}
    names: set[str] = set()
    unmapped = []
    pages = {"page": False, "screen": False}
    for type_, event, channel, n in rows:
        stage = default_stage(event, type_, channel)
        if type_ == "identify":
            if "Signed Up" not in names and not any(t.name.lower() == "signed up" for t in by_stage[D]):
                by_stage[D].append(Touchpoint(name="Signed Up (identified)", match=[Match(type=["identify"])]))
                names.add("Signed Up")
            continue
        if type_ in ("page", "screen"):
            pages[type_] = True
            continue
        if stage is None or not event:
            unmapped.append({"event": event, "type": type_, "events": int(n)})
            continue
        if event.lower() in names:
            continue
        names.add(event.lower())
        by_stage[stage].append(Touchpoint(name=event, match=[Match(event=[event])]))
    for kind, seen in pages.items():
        if seen:
            label = "Web pages" if kind == "page" else "App screens"
            by_stage[C].append(Touchpoint(name=label, match=[Match(type=[kind])]))
    return [Stage(name=s, touchpoints=tps) for s, tps in by_stage.items()], unmapped


@dataclass
class Compiled:
    """A map's touchpoints as SQL: ``tp_case`` gives each event its touchpoint index (NULL: not on the map)."""

    tp_case: str
    params: dict[str, Any] = field(default_factory=dict)
    tp_names: list[str] = field(default_factory=list)
    tp_stage: list[int] = field(default_factory=list)


class _Params:
    def __init__(self, prefix: str) -> None:
        self.values: dict[str, Any] = {}
        self.prefix = prefix

    def __call__(self, v: Any) -> str:
        k = f"{self.prefix}{len(self.values)}"
        self.values[k] = v
        return f"${k}"


def _prop_sql(key: str, cond: Any, p: _Params, col: str = "properties") -> str:
    x = f"json_extract_string({col}, {p('$.' + key)})"
    num = f"TRY_CAST({x} AS DOUBLE)"
    parts = []
    eq = cond.equals
    if eq is not None:
        if isinstance(eq, bool):
            parts.append(f"lower({x}) = {p('true' if eq else 'false')}")
        elif isinstance(eq, int | float):
            parts.append(f"{num} = {p(float(eq))}")
        else:
            parts.append(f"lower({x}) = lower({p(str(eq))})")
    ne = getattr(cond, "not_", None)
    if ne is not None:
        parts.append(f"coalesce(lower({x}) <> lower({p(str(ne).lower() if isinstance(ne, bool) else str(ne))}), TRUE)")
    if cond.in_ is not None:
        parts.append(f"lower({x}) IN ({', '.join('lower(' + p(str(v)) + ')' for v in cond.in_)})")
    for op, sym in (("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<=")):
        v = getattr(cond, op)
        if v is not None:
            parts.append(f"{num} {sym} {p(float(v))}")
    if cond.exists is not None:
        parts.append(f"{x} IS {'NOT ' if cond.exists else ''}NULL")
    if cond.contains is not None:
        parts.append(f"contains(lower({x}), lower({p(cond.contains)}))")
    return " AND ".join(parts) or "TRUE"


def _match_sql(m: Match, p: _Params) -> str:
    parts = []
    if m.event:
        parts.append(f"lower(event) IN ({', '.join(p(e.lower()) for e in m.event)})")
    if m.event_matches:
        parts.append(f"regexp_matches(coalesce(event, ''), {p(m.event_matches)}, 'i')")
    if m.type:
        parts.append(f"type IN ({', '.join(p(t) for t in m.type)})")
    if m.channel:
        parts.append(f"lower(channel) IN ({', '.join(p(c.lower()) for c in m.channel)})")
    for key, cond in (m.properties or {}).items():
        parts.append(_prop_sql(key, cond, p))
    return "(" + " AND ".join(parts) + ")"


def compile_map(stages: list[Stage], prefix: str = "jm") -> Compiled:
    p = _Params(prefix)
    whens, names, stage_of = [], [], []
    for si, stage in enumerate(stages):
        for tp in stage.touchpoints:
            cond = " OR ".join(_match_sql(m, p) for m in tp.match)
            whens.append(f"WHEN {cond} THEN {len(names)}")
            names.append(tp.name)
            stage_of.append(si)
    case = f"CASE {' '.join(whens)} END" if whens else "CAST(NULL AS INTEGER)"
    return Compiled(case, p.values, names, stage_of)


def persona_condition(rules: list[PersonaRule], p: _Params | None = None) -> tuple[str, dict[str, Any]]:
    """SQL over a per-person table with ``traits`` (JSON) and the behaviour columns named like the metrics."""
    p = p or _Params("pr")
    parts = []
    for r in rules:
        if r.trait is not None:
            parts.append(_prop_sql(r.trait, r, p, col="traits"))
        else:
            col = f"coalesce({r.metric}, 0)" if r.metric not in ("nps", "days_since_last") else r.metric
            sub = []
            if r.equals is not None and not isinstance(r.equals, str):
                sub.append(f"{col} = {p(float(r.equals))}")
            for op, sym in (("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<=")):
                v = getattr(r, op)
                if v is not None:
                    sub.append(f"{col} {sym} {p(float(v))}")
            if r.exists is not None:
                sub.append(f"{r.metric} IS {'NOT ' if r.exists else ''}NULL")
            parts.append(" AND ".join(sub) or "TRUE")
    return "(" + " AND ".join(parts) + ")", p.values

"""``wayfare plan``: the map turned into a phased plan — assessment (the map and KPIs with today's values),
a pilot (the one automation with the highest expected return for the lowest risk), expansion, and
continuous optimisation (what to re-measure, and when)."""

from __future__ import annotations

from typing import Any

# (share of the revenue at stake a flow typically wins back, risk 1 = low .. 3 = high) — cautious priors
TEMPLATE_PRIORS: dict[str, tuple[float, int, str]] = {
    "order-confirmation": (0.05, 1, "transactional, expected by every customer"),
    "shipping-notice": (0.06, 1, "transactional, answers 'where is my order?'"),
    "feedback-request": (0.06, 1, "one polite question after a visit"),
    "review-request": (0.04, 1, "only to happy customers"),
    "nps-detractor-followup": (0.12, 2, "a personal reply from the owner; needs a person to follow up"),
    "appointment-reminder": (0.10, 1, "transactional, cuts no-shows"),
    "abandoned-cart": (0.10, 2, "marketing consent needed; at most one or two reminders"),
    "welcome-series": (0.05, 2, "marketing consent needed"),
    "win-back": (0.08, 2, "marketing consent needed; an offer costs margin"),
    "re-engagement": (0.04, 2, "marketing consent needed"),
    "loyalty-reward": (0.06, 2, "rewards cost margin"),
    "referral-invitation": (0.03, 2, "only to promoters"),
    "birthday-offer": (0.03, 2, "needs a birthday and consent"),
}

__all__ = ["make_plan", "TEMPLATE_PRIORS"]


def _kpis(m: dict, voice: dict) -> list[dict[str, Any]]:
    st = m["stages"]
    worst = max((s for s in st[:-1] if s["drop_off_pct"] is not None), key=lambda s: s["drop_off_pct"], default=None)
    k = [{"kpi": "people reaching purchase", "today": m["totals"]["buyer_pct"], "unit": "%",
          "why": "the share of everyone on the map who buys"},
         {"kpi": "revenue per buyer", "today": m["totals"]["revenue_per_buyer"], "unit": "",
          "why": "over the period of the data"}]
    if worst:
        k.append({"kpi": f"drop-off after {worst['name']}", "today": worst["drop_off_pct"], "unit": "%",
                  "why": "the biggest leak of the journey"})
    if voice.get("nps", {}).get("n"):
        k.append({"kpi": "NPS", "today": voice["nps"]["nps"], "unit": "", "why": f"from {voice['nps']['n']} answers"})
    if voice.get("csat", {}).get("n"):
        k.append({"kpi": "CSAT (satisfied)", "today": voice["csat"]["csat_pct"], "unit": "%",
                  "why": f"from {voice['csat']['n']} answers"})
    emo = m["totals"].get("emotion") or {}
    if emo.get("sentiment") is not None:
        k.append({"kpi": "mean sentiment of comments", "today": emo["sentiment"], "unit": "",
                  "why": f"from {emo['texts']} comments, -1 to 1"})
    return k


def make_plan(m: dict, pain_points: list[dict], voice: dict) -> dict[str, Any]:
    scored = []
    for p in pain_points:
        rate, risk, note = TEMPLATE_PRIORS.get(p["recommended_template"], (0.03, 3, "no prior"))
        expected = p["revenue_at_stake"] * rate
        scored.append((expected / risk, expected, risk, note, p))
    scored.sort(key=lambda x: -x[0])
    pilot = None
    if scored:
        _, expected, risk, note, p = scored[0]
        remeasure_days = 30
        if p.get("stage"):
            s = next((x for x in m["stages"] if x["name"] == p["stage"]), None)
            if s and s.get("median_days_to_move_on"):
                remeasure_days = int(min(max(14, 3 * s["median_days_to_move_on"]), 90))
        pilot = {"template": p["recommended_template"], "action": p["action"], "pain_point": p["sentence"],
                 "revenue_at_stake": p["revenue_at_stake"], "expected_return": round(expected, 2),
                 "risk": {1: "low", 2: "medium", 3: "high"}[risk], "risk_note": note,
                 "template_available": p["template_available"],
                 "how": f"Enable {p['recommended_template']} for half of the people it applies to (the other half is the "
                        f"control group) and compare after {remeasure_days} days.", "remeasure_after_days": remeasure_days}
    seen = {pilot["template"]} if pilot else set()
    expansion = []
    for _, expected, risk, _note, p in scored[1:]:
        if p["recommended_template"] in seen:
            continue
        seen.add(p["recommended_template"])
        expansion.append({"template": p["recommended_template"], "action": p["action"], "pain_point": p["sentence"],
                          "expected_return": round(expected, 2), "risk": {1: "low", 2: "medium", 3: "high"}[risk]})
        if len(expansion) == 3:
            break
    optimise = [
        {"what": "this map (people, moving on, drop-off, emotion per stage)", "when": "every month",
         "command": "wayfare map --export journey.html"},
        {"what": "NPS and CSAT with their intervals", "when": "every month; act on a change only when the interval "
         "excludes zero", "command": "wayfare feedback nps"},
        {"what": "complaint themes and their trend", "when": "every two weeks", "command": "wayfare feedback themes"},
        {"what": "pain points and revenue at stake", "when": "after each flow has run its re-measure period",
         "command": "wayfare painpoints"},
        {"what": "personas", "when": "every quarter, or after a big change in the business",
         "command": "wayfare personas suggest"},
    ]
    if pilot:
        optimise.insert(0, {"what": f"the pilot ({pilot['template']}): its stage's drop-off and revenue, flow vs control",
                            "when": f"after {pilot['remeasure_after_days']} days",
                            "command": f"wayfare flows stats {pilot['template']}"})
    return {"assessment": {"stages": [{"name": s["name"], "people": s["people"], "moved_on_pct": s["moved_on_pct"],
                                       "emotion": (s["emotion"] or {}).get("score")} for s in m["stages"]],
                           "kpis": _kpis(m, voice), "pain_points": len(pain_points)},
            "pilot": pilot, "expansion": expansion, "optimisation": optimise}

"""One call that builds what the commands, the API and the exports show: the map (for everyone or a persona),
the persona comparison, the pain points and the plan."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..feedback import score_texts, themes, voice_summary
from ..store import Scope
from .compute import MapData, compute_map, load_map_data
from .defaults import current_map
from .painpoints import detect_pain_points
from .personas import persona_names, persona_people
from .plan import make_plan

__all__ = ["JourneyView", "open_view"]


class JourneyView:
    """The map data of a workspace loaded once; maps, personas, pain points and the plan computed from it."""

    def __init__(self, scope: Scope, yaml_text: str | None = None, since: str | None = None,
                 where: str = "journey.yaml") -> None:
        self.scope = scope
        self.jm, unmapped = current_map(scope, yaml_text, where)
        self.data: MapData = load_map_data(scope, self.jm, since, unmapped)
        self._feat = None
        self._themes: tuple[list, int] | None = None

    def features(self):
        if self._feat is None:
            from .features import person_features

            self._feat = person_features(self.scope, self.jm)
        return self._feat

    def persona_codes(self, name: str) -> np.ndarray:
        rule = next((p for p in self.jm.personas if p.name.lower() == name.lower()), None)
        traits_only = rule is not None and all(r.trait for r in rule.rules)  # no behaviour figures needed
        ids = persona_people(self.scope, self.jm, name, None if traits_only else self.features())
        return self.data.person_codes(ids)

    def map(self, persona: str | None = None) -> dict[str, Any]:
        if persona is None:
            return compute_map(self.data)
        canonical = next((n for n in self.personas() if n.lower() == persona.lower()), persona)
        return compute_map(self.data, self.persona_codes(persona), canonical)

    def personas(self) -> list[str]:
        return persona_names(self.scope, self.jm)

    def comparison(self) -> list[dict[str, Any]]:
        out = []
        for name in self.personas():
            m = compute_map(self.data, self.persona_codes(name), name)
            st = [s for s in m["stages"][:-1] if s["drop_off_pct"] is not None and s["people"]]
            worst = max(st, key=lambda s: s["drop_off_pct"], default=None)
            emo = m["totals"]["emotion"] or {}
            out.append({"persona": name, "people": m["people"], "buyer_pct": m["totals"]["buyer_pct"],
                        "revenue": m["totals"]["revenue"],
                        "revenue_per_person": round(m["totals"]["revenue"] / m["people"], 2) if m["people"] else None,
                        "emotion": emo.get("score"), "sentiment": emo.get("sentiment"), "nps": emo.get("nps"),
                        "biggest_drop_off": f"{worst['name']} ({worst['drop_off_pct']:.0f}%)" if worst else None,
                        "reach_pct_by_stage": {s["name"]: s["reach_pct"] for s in m["stages"]}})
        return out

    def themes(self) -> tuple[list[dict], int]:
        if self._themes is None:  # the feedback already loaded with the map (events on the map)
            fb = self.data.feedback
            tp_names = np.asarray(self.data.compiled.tp_names, object)
            f = pd.DataFrame({"text": fb["text"], "ts": pd.to_datetime(fb["ts"], unit="us"),
                              "person_id": np.where(fb["person"] >= 0, self.data.people_ids[fb["person"].clip(lower=0)],
                                                    None),
                              "event": tp_names[fb["tp"].to_numpy(int)] if len(fb) else []})
            th = themes(f, score_fn=lambda t: score_texts(t, self.scope).scores)
            self._themes = (th, int(f["text"].notna().sum()))
        return self._themes

    def pain_points(self, m: dict | None = None, persona: str | None = None) -> list[dict[str, Any]]:
        m = m or self.map(persona)
        people = self.persona_codes(persona) if persona else None
        th, texts = self.themes() if persona is None else ([], 0)
        return detect_pain_points(m, self.data, th, people, texts)

    def plan(self) -> dict[str, Any]:
        m = self.map()
        return make_plan(m, self.pain_points(m), voice_summary(self.scope))


def open_view(scope: Scope, yaml_text: str | None = None, since: str | None = None) -> JourneyView:
    return JourneyView(scope, yaml_text, since)

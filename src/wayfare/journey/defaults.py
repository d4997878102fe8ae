"""The map in force for a workspace: the one saved with ``wayfare map init``/``save``, or the default map built
from the data by the default rules (no YAML needed)."""

from __future__ import annotations

from typing import Any

from ..store import Scope, utcnow
from .loader import load_map_text
from .model import JourneyMap, PersonaDef, PersonaRule
from .rules import default_map_stages

__all__ = ["current_map", "default_map", "save_map_yaml", "saved_map_yaml", "trait_personas"]

PERSONA_TRAITS = ("persona", "demo_persona", "segment", "customer_type")


def trait_personas(scope: Scope) -> list[PersonaDef]:
    """Personas already written on the profiles (a trait like ``persona``), when there are 2-12 of them."""
    for trait in PERSONA_TRAITS:
        rows = scope.rows(f"SELECT json_extract_string(traits, '$.{trait}') AS v, count(*) FROM profiles "
                          "WHERE v IS NOT NULL GROUP BY v ORDER BY 2 DESC")
        if 2 <= len(rows) <= 12:
            return [PersonaDef(name=v, description=f"profiles whose {trait} is {v!r}",
                               rules=[PersonaRule(trait=trait, equals=v)]) for v, _ in rows]
    return []


def default_map(scope: Scope) -> tuple[JourneyMap, list[dict[str, Any]]]:
    stages, unmapped = default_map_stages(scope)
    return JourneyMap(name="default", stages=stages, personas=trait_personas(scope)), unmapped


def saved_map_yaml(scope: Scope, name: str = "default") -> str | None:
    row = scope.one("SELECT yaml FROM journey_maps WHERE name = $n", {"n": name})
    return row[0] if row else None


def save_map_yaml(scope: Scope, text: str, name: str = "default") -> JourneyMap:
    jm = load_map_text(text)
    scope.write("DELETE FROM main.journey_maps WHERE workspace_id = $__ws AND name = $n", {"n": name})
    scope.write("INSERT INTO main.journey_maps VALUES ($__ws, $n, $y, $t)", {"n": name, "y": text, "t": utcnow()})
    return jm


def current_map(scope: Scope, yaml_text: str | None = None, where: str = "journey.yaml") -> tuple[JourneyMap, list]:
    """A given YAML, else the saved one, else the default; the second value lists event names off the map."""
    text = yaml_text if yaml_text is not None else saved_map_yaml(scope)
    if text is None:
        return default_map(scope)
    jm = load_map_text(text, where if yaml_text is not None else "saved journey map")
    if not jm.personas:
        jm.personas = trait_personas(scope)
    comp_names = {m.lower() for s in jm.stages for t in s.touchpoints for mt in t.match for m in (mt.event or [])}
    rows = scope.rows("SELECT event, count(*) FROM events WHERE type = 'track' GROUP BY 1 ORDER BY 2 DESC LIMIT 50")
    unmapped = [{"event": e, "events": int(n)} for e, n in rows if e and e.lower() not in comp_names]
    return jm, unmapped if comp_names else []

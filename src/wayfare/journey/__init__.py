"""The live journey map: stages and touchpoints (YAML or default rules), the computed map per stage and
touchpoint, personas (rules and suggestions), pain points, the plan, and exports."""

from .compute import compute_map, load_map_data
from .defaults import current_map, default_map, save_map_yaml, saved_map_yaml
from .export import FORMATS, export_map
from .loader import dump_map, load_map_text
from .model import DEFAULT_STAGES, JourneyMap, Match, PersonaDef, PersonaRule, Stage, Touchpoint
from .painpoints import TEMPLATES, detect_pain_points
from .personas import accept_persona, list_personas, store_suggestions, suggest_personas
from .plan import make_plan
from .rules import default_stage
from .service import JourneyView, open_view

__all__ = [
    "DEFAULT_STAGES",
    "FORMATS",
    "TEMPLATES",
    "JourneyMap",
    "JourneyView",
    "Match",
    "PersonaDef",
    "PersonaRule",
    "Stage",
    "Touchpoint",
    "accept_persona",
    "compute_map",
    "current_map",
    "default_map",
    "default_stage",
    "detect_pain_points",
    "dump_map",
    "export_map",
    "list_personas",
    "load_map_data",
    "load_map_text",
    "make_plan",
    "open_view",
    "save_map_yaml",
    "saved_map_yaml",
    "store_suggestions",
    "suggest_personas",
]

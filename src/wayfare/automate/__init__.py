"""Automations: the flow model, the pure step function, the durable worker and scheduler."""

from .engine import EntryState, Step, advance
from .loader import load_flow, load_text, template_names
from .model import Flow
from .worker import Scheduler, disable_flow, enable_flow, flow_stats, list_flows, reconcile, run_due, scan_triggers

__all__ = ["EntryState", "Step", "advance", "load_flow", "load_text", "template_names", "Flow", "Scheduler",
           "disable_flow", "enable_flow", "flow_stats", "list_flows", "reconcile", "run_due", "scan_triggers"]

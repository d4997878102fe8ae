"""Automations: the flow model, the pure step function, triggers, the durable worker and scheduler,
policies, humans in the loop (approvals, tasks, pauses), measurement and the dry run."""

from .dryrun import dry_run
from .engine import EntryState, Facts, Step, advance, assign_variant
from .humans import (
    complete_task,
    decide_approval,
    flows_for_person,
    open_tasks,
    pause_person,
    pending_approvals,
    resume_person,
)
from .journal import trace
from .loader import load_flow, load_text, template_names, templates
from .model import Flow
from .policy import Decision, Policy, decide, get_policy, set_policy
from .registry import disable_flow, enable_flow, get_flow, list_flows, stored_flows, validate_flow
from .scheduler import Scheduler, run_until
from .stats import flow_stats
from .triggers import scan_triggers
from .worker import reconcile, run_due

__all__ = ["dry_run", "EntryState", "Facts", "Step", "advance", "assign_variant", "complete_task", "decide_approval",
           "flows_for_person", "open_tasks", "pause_person", "pending_approvals", "resume_person", "trace",
           "load_flow", "load_text", "template_names", "templates", "Flow", "Decision", "Policy", "decide",
           "get_policy", "set_policy", "disable_flow", "enable_flow", "get_flow", "list_flows", "stored_flows",
           "validate_flow", "flow_stats", "scan_triggers", "Scheduler", "reconcile", "run_due", "run_until"]

"""Zendesk's ticket export: each ticket a ``Ticket Opened`` event on the support channel, with its
subject, status, satisfaction rating and tags; solved tickets are ``Ticket Solved``."""

from __future__ import annotations

from typing import Any

from .base import Preset


def _ticket(row: dict[str, Any], props: dict[str, Any]) -> str | None:
    status = str(props.get("status") or "").lower()
    return "Ticket Solved" if status in ("solved", "closed") else None


ZENDESK_TICKETS = Preset(
    name="zendesk-tickets",
    kind="events",
    description="Zendesk tickets export (CSV)",
    columns={
        "Id": "properties.ticket_id", "ID": "properties.ticket_id", "Summation column": "ignore",
        "Requester": "name", "Requester email": "email", "Requester id": "external_id",
        "Requester external id": "user_id", "Requester phone": "phone", "Subject": "properties.subject",
        "Description": "properties.description", "Status": "properties.status", "Priority": "properties.priority",
        "Ticket type": "properties.ticket_type", "Via": "properties.via", "Created at": "timestamp",
        "Updated at": "properties.updated_at", "Solved at": "properties.solved_at", "Assignee": "properties.assignee",
        "Group": "properties.group", "Satisfaction Score": "properties.satisfaction", "Tags": "properties.tags",
        "Full Resolution Time in minutes": "properties.resolution_minutes",
        "First reply time in minutes": "properties.first_reply_minutes",
    },  # fmt: skip
    event="Ticket Opened",
    channel="support",
    source="zendesk",
    id_kind="zendesk_user",
    row_hook=_ticket,
    example="wayfare import tickets.csv --preset zendesk-tickets",
)

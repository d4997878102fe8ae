"""CSV presets: how the export of a shop, till, payment, CRM, mailing, survey or help-desk tool maps
onto wayfare's events and people. One module per tool; each names the tool's real export columns."""

from __future__ import annotations

from .base import FIELDS, Preset
from .crm import HUBSPOT_CONTACTS, MAILCHIMP_AUDIENCE
from .generic import GENERIC
from .payments import SQUARE_PAYMENTS, STRIPE_CHARGES
from .shop import SHOPIFY_ORDERS
from .support import ZENDESK_TICKETS
from .surveys import GOOGLE_FORMS, TYPEFORM

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        GENERIC, SHOPIFY_ORDERS, SQUARE_PAYMENTS, STRIPE_CHARGES, HUBSPOT_CONTACTS, MAILCHIMP_AUDIENCE,
        GOOGLE_FORMS, TYPEFORM, ZENDESK_TICKETS,
    )
}  # fmt: skip

__all__ = ["FIELDS", "PRESETS", "Preset"]

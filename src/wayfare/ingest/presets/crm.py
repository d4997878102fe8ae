"""People lists: HubSpot's contacts export and Mailchimp's audience export (subscribed, unsubscribed
and cleaned members). Each row becomes a person with traits, and an ``identify`` in their timeline."""

from __future__ import annotations

from typing import Any

from .base import Preset

HUBSPOT_CONTACTS = Preset(
    name="hubspot-contacts",
    kind="people",
    description="HubSpot contacts export (Contacts → Export)",
    columns={
        "Record ID": "external_id", "Contact ID": "external_id", "First Name": "first_name", "Last Name": "last_name",
        "Email": "email", "Phone Number": "phone", "Mobile Phone Number": "phone", "Create Date": "timestamp",
        "Lifecycle Stage": "traits.lifecycle_stage", "Lead Status": "traits.lead_status",
        "Contact owner": "traits.owner", "Last Activity Date": "traits.last_activity_at",
        "Company Name": "traits.company", "City": "traits.city", "Country/Region": "traits.country",
        "State/Region": "traits.region", "Original Source": "traits.original_source",
        "Marketing contact status": "traits.marketing_status",
    },  # fmt: skip
    channel="import",
    source="hubspot",
    id_kind="hubspot_contact",
    example="wayfare import hubspot-crm-exports-all-contacts.csv --preset hubspot-contacts",
)


def _mailchimp(row: dict[str, Any], traits: dict[str, Any]) -> str | None:
    # an audience export of subscribed members carries OPTIN/CONFIRM times: that is consent with its time
    if traits.get("confirm_time") or traits.get("optin_time"):
        traits.setdefault("email_marketing", "subscribed")
    if traits.get("unsub_time"):
        traits["email_marketing"] = "unsubscribed"
    if traits.get("clean_time"):
        traits["email_marketing"] = "cleaned"
    return None


MAILCHIMP_AUDIENCE = Preset(
    name="mailchimp-audience",
    kind="people",
    description="Mailchimp audience export (subscribed/unsubscribed/cleaned members CSV)",
    columns={
        "Email Address": "email", "First Name": "first_name", "Last Name": "last_name", "Phone Number": "phone",
        "Address": "traits.address", "Birthday": "traits.birthday", "MEMBER_RATING": "traits.member_rating",
        "OPTIN_TIME": "traits.optin_time", "OPTIN_IP": "ignore", "CONFIRM_TIME": "timestamp",
        "CONFIRM_IP": "ignore", "LATITUDE": "traits.latitude", "LONGITUDE": "traits.longitude", "GMTOFF": "ignore",
        "DSTOFF": "ignore", "TIMEZONE": "traits.timezone", "CC": "traits.country", "REGION": "traits.region",
        "LAST_CHANGED": "traits.mailchimp_last_changed", "LEID": "ignore", "EUID": "external_id",
        "NOTES": "traits.notes", "TAGS": "traits.tags", "UNSUB_TIME": "traits.unsub_time",
        "CLEAN_TIME": "traits.clean_time",
    },  # fmt: skip
    channel="email",
    source="mailchimp",
    id_kind="mailchimp_euid",
    row_hook=_mailchimp,
    example="wayfare import subscribed_members_export.csv --preset mailchimp-audience",
)

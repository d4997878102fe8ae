"""``generic``: any table, one row an event (a time, a person, an event name, properties) or one row a
person (identifiers and traits). Common column names are recognised; ``--map column=field`` says the rest."""

from .base import Preset

GENERIC = Preset(
    name="generic",
    kind="events",
    description="Any CSV: one row an event (--kind events) or a person (--kind people); map columns with --map",
    columns={
        # time
        "timestamp": "timestamp", "time": "timestamp", "datetime": "timestamp", "date": "timestamp",
        "event_time": "timestamp", "created_at": "timestamp", "invoicedate": "timestamp", "order_date": "timestamp",
        "occurred_at": "timestamp", "sent_at": "timestamp",
        # who
        "user_id": "user_id", "userid": "user_id", "customer_id": "user_id", "customerid": "user_id",
        "client_id": "user_id", "member_id": "user_id", "contact_id": "user_id",
        "anonymous_id": "anonymous_id", "anonymousid": "anonymous_id", "visitor_id": "anonymous_id",
        "session_id": "anonymous_id", "email": "email", "email_address": "email", "e-mail": "email",
        "phone": "phone", "phone_number": "phone", "mobile": "phone", "name": "name",
        "first_name": "first_name", "firstname": "first_name", "last_name": "last_name", "lastname": "last_name",
        # what
        "event": "event", "event_name": "event", "event_type": "event", "action": "event",
        "message_id": "message_id", "messageid": "message_id", "channel": "channel",
        "revenue": "revenue", "amount": "revenue", "total": "revenue", "order_total": "revenue",
    },  # fmt: skip
    example="wayfare import visits.csv --preset generic --map visited_at=timestamp --map member=user_id",
)

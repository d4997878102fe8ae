"""Survey responses: Google Forms (the linked sheet's CSV) and Typeform (Results → Download CSV).

Questions are free-form, so the columns are read by meaning: a question about recommending (0-10) is
the NPS answer, one about satisfaction the CSAT score, one about effort/ease the CES score, and the
longest free-text answer the comment. Each row becomes a ``Survey Responded`` event."""

from __future__ import annotations

import re
from typing import Any

from .base import Preset

_NPS = re.compile(r"recommend|likely.*(friend|colleague)", re.I)
_CSAT = re.compile(r"satisf", re.I)
_CES = re.compile(r"(^|[^a-z])eas(y|ily|e)([^a-z]|$)|effort", re.I)


def _num(v: Any) -> float | None:
    try:
        f = float(str(v).strip())
    except (TypeError, ValueError):
        m = re.match(r"^\s*(\d+(\.\d+)?)", str(v))
        return float(m.group(1)) if m else None
    return f if f == f else None


def score_questions(row: dict[str, Any], props: dict[str, Any]) -> str | None:
    """Find NPS/CSAT/CES answers and the comment among a response's question columns."""
    texts = []
    for k, v in list(props.items()):
        if v is None or v == "":
            continue
        label = str(k)
        n = _num(v)
        if _NPS.search(label) and n is not None and 0 <= n <= 10 and "nps_score" not in props:
            props["nps_score"] = int(n)
        elif _CSAT.search(label) and n is not None and 1 <= n <= 10 and "csat_score" not in props:
            props["csat_score"] = n
        elif _CES.search(label) and n is not None and 1 <= n <= 7 and "ces_score" not in props:
            props["ces_score"] = n
        elif isinstance(v, str) and n is None and len(v) > 12:
            texts.append(v)
    if texts and "comment" not in props:
        props["comment"] = max(texts, key=len)
    return None


GOOGLE_FORMS = Preset(
    name="google-forms",
    kind="events",
    description="Google Forms responses (the response sheet as CSV); NPS/CSAT/CES questions recognised",
    columns={"Timestamp": "timestamp", "Email Address": "email", "Email": "email", "Name": "name",
             "Phone": "phone", "Phone number": "phone"},
    event="Survey Responded",
    channel="survey",
    source="google-forms",
    row_hook=score_questions,
    example="wayfare import 'Feedback (Responses).csv' --preset google-forms",
)

TYPEFORM = Preset(
    name="typeform",
    kind="events",
    description="Typeform responses CSV; NPS/CSAT/CES questions and hidden fields (email, user_id) recognised",
    columns={"#": "message_id", "Response ID": "message_id", "Submit Date (UTC)": "timestamp",
             "Submitted At": "timestamp", "Start Date (UTC)": "properties.started_at", "Network ID": "ignore",
             "email": "email", "Email": "email", "user_id": "user_id", "Tags": "properties.tags",
             "Stage Date (UTC)": "ignore", "Ending": "properties.ending"},
    event="Survey Responded",
    channel="survey",
    source="typeform",
    row_hook=score_questions,
    example="wayfare import responses.csv --preset typeform",
)

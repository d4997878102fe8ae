"""Segment-spec messages: the limits, the checks (each error names its field path) and the step that
turns a message into an event row.

The pydantic models at the bottom describe the same shapes for the OpenAPI schema; the hot path uses
the hand-written checks, which are several times faster and say exactly which field was wrong.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

import orjson

from ..errors import ValidationError
from ..identity.normalize import normalize_email, normalize_id, normalize_phone

__all__ = [
    "MAX_EVENT_BYTES",
    "MAX_BATCH_BYTES",
    "TYPES",
    "CHANNELS",
    "TooLarge",
    "check_message",
    "to_row",
    "batch_rows",
    "body_rows",
    "parse_time",
    "stable_message_id",
]

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
TYPES = ("track", "identify", "page", "screen", "group", "alias")
CHANNELS = (
    "web", "app", "email", "sms", "pos", "phone", "in-store", "social", "survey", "support",
    "review", "chat", "webhook", "import", "other",
)  # fmt: skip
_CHANNEL_ALIASES = {"browser": "web", "mobile": "app", "server": "web", "instore": "in-store", "store": "in-store"}
_REVENUE_KEYS = ("revenue", "total", "amount", "value")


class TooLarge(ValidationError):
    """A message or a batch over Segment's documented limits (answered with 413)."""


def parse_time(value: Any, where: str) -> dt.datetime:
    """ISO 8601 (with or without zone; ``Z`` accepted) to naive UTC."""
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, str) and value:
        try:
            t = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(f"not an ISO 8601 time: {value[:40]!r}", where=where) from None
    else:
        raise ValidationError("a time must be an ISO 8601 string", where=where)
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    if not (1970 <= t.year <= 2200):
        raise ValidationError(f"time out of range: {value!r}", where=where)
    return t


# the largest integer a JavaScript client (and any IEEE double) holds exactly: an id sent as a bigger number may
# already have been rounded on its way here, so it is refused (send it as a string)
MAX_SAFE_INTEGER = 2**53 - 1


def _id(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValidationError("an id must be a string or a number", where=where)
    if not isinstance(value, str) and abs(value) > MAX_SAFE_INTEGER:
        raise ValidationError("an id sent as a number must be within ±(2^53 - 1); send bigger ids as strings",
                              where=where)
    s = normalize_id(value)
    if s is not None and len(s) > 256:
        raise ValidationError("an id is at most 256 characters", where=where)
    return s


def _obj(m: dict, key: str, where: str) -> dict:
    v = m.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise ValidationError(f"{key} must be a JSON object", where=f"{where}.{key}")
    return v


def check_message(m: Any, where: str, type_: str | None = None, size: int | None = None) -> dict:
    """Validate one message; return it with ``type`` filled in. Raises with the field path."""
    if not isinstance(m, dict):
        raise ValidationError("a message must be a JSON object", where=where)
    if size is None:
        size = len(orjson.dumps(m))
    if size > MAX_EVENT_BYTES:
        raise TooLarge(f"message is {size} bytes; the limit is {MAX_EVENT_BYTES} (32 KB)", where=where)
    t = type_ or m.get("type")
    if t not in TYPES:
        raise ValidationError(f"type must be one of {', '.join(TYPES)}", where=f"{where}.type")
    if type_ and m.get("type") not in (None, type_):
        raise ValidationError(f"type {m.get('type')!r} sent to /v1/{type_}", where=f"{where}.type")
    uid = _id(m.get("userId"), f"{where}.userId")
    aid = _id(m.get("anonymousId"), f"{where}.anonymousId")
    if t == "alias":
        if not uid:
            raise ValidationError("alias needs userId", where=f"{where}.userId")
        if not _id(m.get("previousId"), f"{where}.previousId"):
            raise ValidationError("alias needs previousId", where=f"{where}.previousId")
    elif not uid and not aid:
        raise ValidationError("either userId or anonymousId is required", where=f"{where}.userId")
    if t == "track":
        ev = m.get("event")
        if not isinstance(ev, str) or not ev.strip():
            raise ValidationError("track needs an event name", where=f"{where}.event")
        if len(ev) > 200:
            raise ValidationError("an event name is at most 200 characters", where=f"{where}.event")
    if t in ("page", "screen") and m.get("name") is not None and not isinstance(m["name"], str):
        raise ValidationError(f"a {t}'s name must be a string", where=f"{where}.name")
    if t == "group" and not _id(m.get("groupId"), f"{where}.groupId"):
        raise ValidationError("group needs groupId", where=f"{where}.groupId")
    for key in ("properties", "traits", "context", "integrations"):
        _obj(m, key, where)
    parsed = {}
    for key in ("timestamp", "sentAt", "originalTimestamp"):
        if m.get(key) is not None:
            parsed[key] = parse_time(m[key], f"{where}.{key}")
    mid = m.get("messageId")
    if isinstance(mid, float) and mid.is_integer():  # 7.0: JSON has one kind of number
        mid = int(mid)
    if mid is not None and (not isinstance(mid, str | int) or isinstance(mid, bool) or len(str(mid)) > 200
                            or (isinstance(mid, int) and abs(mid) > MAX_SAFE_INTEGER)):
        raise ValidationError("messageId must be a string of at most 200 characters (or a whole number within "
                              "±(2^53 - 1))", where=f"{where}.messageId")
    if m.get("type") != t or parsed or mid is not m.get("messageId"):
        m = {**m, "type": t, "__times": parsed, "messageId": mid}
    return m


def stable_message_id(*parts: object) -> str:
    """A message id derived from content, so re-importing the same row is a no-op."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return "h-" + h[:32]


def _channel(m: dict, props: dict, ctx: dict, default: str | None) -> str:
    for v in (m.get("channel"), props.get("channel"), ctx.get("channel")):
        if isinstance(v, str) and v:
            c = v.strip().lower()
            return _CHANNEL_ALIASES.get(c, c)[:40]
    if default:
        return default
    return {"page": "web", "screen": "app"}.get(m["type"], "web")


def _revenue(props: dict) -> float | None:
    for k in _REVENUE_KEYS:
        v = props.get(k)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
        if isinstance(v, str):
            try:
                return float(v.replace(",", ""))
            except ValueError:
                continue
    return None


def identifiers(m: dict, uid: str | None, aid: str | None, traits: dict) -> list[tuple[str, str]]:
    """The identifiers one message carries (user id, anonymous id, email, phone, source customer ids)."""
    ids: list[tuple[str, str]] = []
    if uid:
        ids.append(("user_id", uid))
    if aid:
        ids.append(("anonymous_id", aid))
    if m["type"] == "alias":
        prev = normalize_id(m.get("previousId"))
        if prev:
            ids.append(("anonymous_id" if prev != uid else "user_id", prev))
    email = normalize_email(traits.get("email"))
    if email:
        ids.append(("email", email))
    phone = normalize_phone(traits.get("phone"))
    if phone:
        ids.append(("phone", phone))
    extra = traits.get("external_ids")
    if isinstance(extra, dict):
        for k, v in extra.items():
            vv = normalize_id(v)
            if vv and isinstance(k, str):
                ids.append((k[:60], vv))
    return ids


def to_row(m: dict, received_at: dt.datetime, source: str, default_channel: str | None = None) -> dict:
    """An event row (plus its identifiers) from a checked message; Segment's clock-skew rule applies."""
    props = m.get("properties") or {}
    ctx = m.get("context") or {}
    traits = m.get("traits") or {}
    if not traits and isinstance(ctx.get("traits"), dict):
        traits = ctx["traits"]
    uid = normalize_id(m.get("userId"))
    aid = normalize_id(m.get("anonymousId"))
    times = m.get("__times")
    if times is None:
        times = {k: parse_time(m[k], k) for k in ("timestamp", "sentAt", "originalTimestamp") if m.get(k) is not None}
    ts = times.get("timestamp") or times.get("originalTimestamp")
    if ts is not None:
        if "sentAt" in times and "timestamp" not in times:
            ts = ts + (received_at - times["sentAt"])
    else:
        ts = received_at
    mid = m.get("messageId")
    mid = str(mid) if mid not in (None, "") else str(uuid.uuid4())
    t = m["type"]
    event = m.get("event") if t == "track" else (m.get("name") if t in ("page", "screen") else None)
    return _row(m, t, mid, event.strip() if isinstance(event, str) else None, uid, aid, ts, received_at, source,
                default_channel, props, ctx, traits, identifiers(m, uid, aid, traits))


def _row(m: dict, t: str, mid: str, event: str | None, uid: str | None, aid: str | None, ts: dt.datetime,
         received_at: dt.datetime, source: str, default_channel: str | None, props: dict, ctx: dict, traits: dict,
         ids: list[tuple[str, str]]) -> dict:
    return {
        "message_id": mid,
        "type": t,
        "event": event,
        "anonymous_id": aid,
        "user_id": uid,
        "ts": ts,
        "received_at": received_at,
        "channel": _channel(m, props, ctx, default_channel),
        "source": str(m.get("source") or source)[:80],
        "revenue": _revenue(props) if t == "track" else None,
        "properties": props,
        "context": ctx,
        "traits": traits,
        "_ids": ids,
    }


_FAST_TYPES = frozenset(("track", "page", "screen", "identify"))
_fromiso = dt.datetime.fromisoformat


def _fast_time(v: Any) -> dt.datetime | None:
    """``parse_time`` for the plain case (a string ``fromisoformat`` reads, in range); None for anything else."""
    if type(v) is not str:
        return None
    try:
        t = _fromiso(v)
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t if 1970 <= t.year <= 2200 else None


def _fast_row(m: Any, received_at: dt.datetime, source: str, type_: str | None,
              sent_at: dt.datetime | None) -> dict | None:
    """``to_row(check_message(m))`` for a well-formed track, page, screen or identify message; None for anything
    else (another type, an unusual value, an error), which then takes the full path and its exact error."""
    if type(m) is not dict:
        return None
    t = m.get("type")
    if type_ is not None:
        if t is not None and t != type_:
            return None
        t = type_
    if t not in _FAST_TYPES:
        return None
    uid = m.get("userId")
    if uid is not None:
        if type(uid) is not str or len(uid) > 256:
            return None
        uid = normalize_id(uid)
    aid = m.get("anonymousId")
    if aid is not None:
        if type(aid) is not str or len(aid) > 256:
            return None
        aid = normalize_id(aid)
    if not uid and not aid:
        return None
    if t == "track":
        event = m.get("event")
        if type(event) is not str or len(event) > 200:
            return None
        event = event.strip()
        if not event:
            return None
    elif t == "identify":
        event = None
    else:
        event = m.get("name")
        if event is not None:
            if type(event) is not str:
                return None
            event = event.strip()
    objs = []
    for key in ("properties", "context", "traits", "integrations"):
        v = m.get(key)
        if v is None:
            v = {}
        elif type(v) is not dict:
            return None
        objs.append(v)
    props, ctx, traits = objs[0], objs[1], objs[2]
    if not traits and type(ctx.get("traits")) is dict:
        traits = ctx["traits"]
    v = m.get("timestamp")
    if v is not None:
        ts = _fast_time(v)
        if ts is None:
            return None
        if m.get("sentAt") is not None and _fast_time(m["sentAt"]) is None:
            return None
        if m.get("originalTimestamp") is not None and _fast_time(m["originalTimestamp"]) is None:
            return None
    else:
        ts = None
        v = m.get("originalTimestamp")
        if v is not None:
            ts = _fast_time(v)
            if ts is None:
                return None
        v = m.get("sentAt")
        sent = sent_at if v is None else _fast_time(v)
        if v is not None and sent is None:
            return None
        if ts is None:
            ts = received_at
        elif sent is not None:
            ts = ts + (received_at - sent)
    mid = m.get("messageId")
    if mid is None or mid == "":
        mid = str(uuid.uuid4())
    elif type(mid) is not str or len(mid) > 200:
        return None
    if uid and aid:
        ids = [("user_id", uid), ("anonymous_id", aid)]
    else:
        ids = [("user_id", uid)] if uid else [("anonymous_id", aid)]
    if traits:
        ids = identifiers({"type": t}, uid, aid, traits)
    return _row(m, t, mid, event, uid, aid, ts, received_at, source, None, props, ctx, traits, ids)


def batch_rows(batch: list, received_at: dt.datetime, source: str, *, sizes: bool = True,
               context: dict | None = None, sent_at: Any = None, where: str = "batch") -> list[dict]:
    """Event rows for a batch's messages, or a ValidationError naming the first bad one's field. ``sizes=False``
    skips measuring each message (the caller knows the whole body is within one message's limit); ``context``
    and ``sent_at`` are the batch's own, which every message without its own inherits."""
    fast_sent = None
    if sent_at is not None:
        fast_sent = _fast_time(sent_at)
    plain = context is None and (sent_at is None or fast_sent is not None)
    rows = []
    for i, m in enumerate(batch):
        r = None
        if plain and (not sizes or (type(m) is dict and len(orjson.dumps(m)) <= MAX_EVENT_BYTES)):
            r = _fast_row(m, received_at, source, None, fast_sent)
        if r is None:  # the full checks: a message the fast path does not cover, or an error to name exactly
            if context and isinstance(m, dict) and (m.get("context") is None or isinstance(m.get("context"), dict)):
                m = {**m, "context": {**context, **(m.get("context") or {})}}
            if sent_at and isinstance(m, dict) and "sentAt" not in m:
                m = {**m, "sentAt": sent_at}
            r = to_row(check_message(m, f"{where}[{i}]", size=None if sizes or context else 0), received_at,
                       source=source)
        rows.append(r)
    return rows


def body_rows(kind: str, body: Any, size: int, received_at: dt.datetime, source: str) -> list[dict]:
    """The event rows of one ingest request's decoded JSON ``body`` (``size`` bytes) for ``POST /v1/<kind>``, or
    a ValidationError (TooLarge: 413) naming the field."""
    if kind in ("batch", "import"):
        if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
            raise ValidationError("a batch body is an object with a 'batch' list", where="batch")
        if body.get("writeKey") is not None and not isinstance(body["writeKey"], str):
            raise ValidationError("writeKey must be a string", where="writeKey")
        if body.get("context") is not None and not isinstance(body["context"], dict):
            raise ValidationError("context must be a JSON object", where="context")
        if body.get("sentAt") is not None:
            parse_time(body["sentAt"], "sentAt")
        shared_ctx = body.get("context") if isinstance(body.get("context"), dict) else None
        # a body within the per-message limit cannot hold a message over it: skip measuring each
        return batch_rows(body["batch"], received_at, source, sizes=size > MAX_EVENT_BYTES or shared_ctx is not None,
                          context=shared_ctx, sent_at=body.get("sentAt"))
    return [to_row(check_message(body, "body", type_=kind), received_at, source=source)]


def problem(message: str, where: str | None = None) -> dict:
    """An ingest error's JSON answer: the message and, where known, the field path."""
    body: dict[str, Any] = {"success": False, "error": message}
    if where:
        body["field"] = where
    return body


def decode_json(raw: bytes | None) -> Any:
    """A request body's JSON (None for an empty body), or a ValidationError saying where it stopped being JSON."""
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as e:
        raise ValidationError(f"the body is not JSON ({e.msg} at character {e.pos})") from None


# --- OpenAPI shapes ------------------------------------------------------------------------------
# Written out by hand so that the schema says what the checks above accept, no more and no less (schemathesis
# generates requests from it and checks that what it calls valid is stored and what it calls invalid is refused).
# Two rules the schema leaves to the 413 answer: 32 KB a message and 500 KB a batch.

# What Python's str.strip() removes, spelled out: a schema's \\s means something else to an ECMA-262 validator
# (it misses U+0085 and U+001C-U+001F and adds U+FEFF).
WHITESPACE = ("\\t\\n\\u000b\\f\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f"
              "\\u205f\\u3000")
_MISSING = f"^[{WHITESPACE}]*([Nn][Aa][Nn]|[Nn][Oo][Nn][Ee]|[Nn][Uu][Ll][Ll])?[{WHITESPACE}]*$"  # ids read as "no id"
_ID_NUMBER = {"type": "number", "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER}
_ID = {"anyOf": [{"type": "string", "maxLength": 256}, _ID_NUMBER, {"type": "null"}],
       "description": "a string or a number; empty, 'null', 'none' and 'nan' mean no id"}
_SOME_ID = {"anyOf": [{"type": "string", "maxLength": 256, "not": {"pattern": _MISSING}}, _ID_NUMBER]}
# ISO 8601 as Python reads it, 1980-2199 (times before 1970 or after 2200 in UTC are refused), days 1-28 of a
# month: a narrower form than is accepted, so that every time the schema allows is one the checks accept
_TIME = {"anyOf": [{"type": "string", "pattern": (
    "^(19[89][0-9]|2[01][0-9][0-9])-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    "(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$")},
    {"type": "null"}], "description": "ISO 8601, e.g. 2026-11-24T18:30:00Z"}
_OBJECT = {"type": ["object", "null"]}
_MESSAGE_ID = {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "integer", "minimum": -MAX_SAFE_INTEGER,
                                                                  "maximum": MAX_SAFE_INTEGER}, {"type": "null"}]}
_COMMON = {"userId": _ID, "anonymousId": _ID, "messageId": _MESSAGE_ID, "timestamp": _TIME, "sentAt": _TIME,
           "originalTimestamp": _TIME, "context": _OBJECT, "integrations": _OBJECT, "properties": _OBJECT,
           "traits": _OBJECT}
_WHO = [{"required": ["userId"], "properties": {"userId": _SOME_ID}},
        {"required": ["anonymousId"], "properties": {"anonymousId": _SOME_ID}}]
_EVENT = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": f"[^{WHITESPACE}]"}


def _message(types: tuple[str, ...], in_batch: bool, required: tuple[str, ...] = (), who: bool = True,
             **props: dict) -> dict:
    typ = {"enum": list(types)} if in_batch else {"enum": [*types, None]}
    s: dict = {"type": "object", "properties": {"type": typ, **_COMMON, **props},
               "required": [*(("type",) if in_batch else ()), *required]}
    if who:
        s["anyOf"] = _WHO
    return s


def _schemas(in_batch: bool) -> dict:
    return {
        "track": _message(("track",), in_batch, ("event",), event=_EVENT),
        "identify": _message(("identify",), in_batch),
        "page": _message(("page",), in_batch, name={"type": ["string", "null"]}),
        "screen": _message(("screen",), in_batch, name={"type": ["string", "null"]}),
        "group": _message(("group",), in_batch, ("groupId",), groupId=_SOME_ID),
        "alias": _message(("alias",), in_batch, ("userId", "previousId"), who=False, userId=_SOME_ID,
                          previousId=_SOME_ID),
    }


_SINGLE = _schemas(False)
_BATCH = {"type": "object", "required": ["batch"], "properties": {
    "batch": {"type": "array", "items": {"anyOf": list(_schemas(True).values())}},
    "context": _OBJECT, "sentAt": _TIME, "writeKey": {"type": ["string", "null"]}}}
OPENAPI_SCHEMAS = {f"{k.capitalize()}Message": v for k, v in _SINGLE.items()} | {"Batch": _BATCH}
SCHEMA_OF_KIND = {**{k: f"{k.capitalize()}Message" for k in _SINGLE}, "batch": "Batch", "import": "Batch"}

"""Settings: sources and API keys, the tracking snippet, the team, and the workspace's data (export and
deletion). Keys and the team are the owner's; everyone sees the snippet."""

from __future__ import annotations

import threading
from typing import Any

import orjson
from fastapi.responses import StreamingResponse

from ...errors import ValidationError
from ...privacy import audit
from ...store import create_key, list_keys, revoke_key
from .. import auth
from .base import Ctx, action, page
from .common import safe_engine_call
from .export import csv_lines

# a new key is shown once, on the creating session's next Settings page, and never put in a URL
_NEW_KEYS: dict[str, str] = {}
_LOCK = threading.Lock()


def _pop_new_key(ctx: Ctx) -> str | None:
    with _LOCK:
        return _NEW_KEYS.pop(ctx.session.token_hash, None)


EXPORTS = {
    "people": ("SELECT person_id, first_seen, last_seen, traits->>'name', traits->>'email', traits->>'phone', "
               "traits->>'city', traits FROM profiles ORDER BY first_seen",
               ["person_id", "first_seen", "last_seen", "name", "email", "phone", "city", "traits"]),
    "events": ("SELECT ts, event, type, person_id, channel, source, revenue, properties FROM events ORDER BY ts",
               ["ts", "event", "type", "person_id", "channel", "source", "revenue", "properties"]),
}
_WIPE = ("events", "profiles", "identities", "merges", "imports")


def snippet(base_url: str) -> str:
    return f"""<script>
  // wayfare: sends page views and events from your website to {base_url}
  window.wayfare = {{
    key: "PASTE_AN_INGEST_KEY_HERE",
    send: function (type, body) {{
      var msg = Object.assign({{ type: type, anonymousId: localStorage.wfid || (localStorage.wfid = crypto.randomUUID()),
                               timestamp: new Date().toISOString() }}, body);
      navigator.sendBeacon("{base_url}/v1/" + type + "?writeKey=" + this.key, JSON.stringify(msg));
    }},
    page: function () {{ this.send("page", {{ name: document.title, properties: {{ url: location.href }} }}); }},
    track: function (event, properties) {{ this.send("track", {{ event: event, properties: properties || {{}} }}); }}
  }};
  wayfare.page();
</script>"""


@page("/settings", "settings.html", "Settings", nav="Settings")
def settings(ctx: Ctx) -> dict:
    owner = ctx.can("owner")
    base = str(ctx.request.base_url).rstrip("/")
    return {"api_keys": list_keys(ctx.store, ctx.session.workspace) if owner else [],
            "team": auth.list_users(ctx.store, ctx.session.workspace) if owner else [],
            "is_owner": owner, "snippet": snippet(base), "consent": consent_texts(ctx), "workspace": ctx.session.workspace,
            "new_key": _pop_new_key(ctx), "roles": list(auth.ROLES), "exports": list(EXPORTS)}


DEFAULT_CONSENT = {
    "email": "Yes, send me news and offers by email. I can unsubscribe at any time with one click.",
    "sms": "Yes, send me occasional offers by text message. Reply STOP to opt out at any time.",
}


def consent_texts(ctx: Ctx) -> dict[str, str]:
    row = ctx.store.cursor().execute("SELECT settings FROM workspaces WHERE id = ?", [ctx.session.workspace_id]).fetchone()
    saved = (orjson.loads(row[0]) if row and row[0] else {}).get("consent_texts") or {}
    return {k: saved.get(k) or v for k, v in DEFAULT_CONSENT.items()}


@action("/settings/consent", need="owner")
def consent_save(ctx: Ctx, form: Any) -> str:
    texts = {k: str(form.get(k) or "").strip()[:1000] for k in DEFAULT_CONSENT}
    for k, v in texts.items():
        if len(v) < 20:
            raise ValidationError("say plainly what people agree to (at least 20 characters)", where=f"{k} consent text")
    with ctx.store.write_lock:
        con = ctx.store.con
        row = con.execute("SELECT settings FROM workspaces WHERE id = ?", [ctx.session.workspace_id]).fetchone()
        settings = orjson.loads(row[0]) if row and row[0] else {}
        settings["consent_texts"] = texts
        con.execute("UPDATE workspaces SET settings = ? WHERE id = ?",
                    [orjson.dumps(settings).decode(), ctx.session.workspace_id])
    audit(ctx.scope, ctx.session.user.email, "consent_texts.update", None, texts)
    ctx.say("Consent wording saved. New sign-ups will see it.")
    return "/settings#consent"


@action("/settings/keys/create", need="owner")
def key_create(ctx: Ctx, form: Any) -> str:
    scope_ = str(form.get("scope") or "ingest")
    label = str(form.get("label") or "").strip()[:80] or None
    k = create_key(ctx.store, ctx.session.workspace, scope_, label)
    audit(ctx.scope, ctx.session.user.email, "key.create", k["key_id"], {"scope": scope_})
    # shown once, on the next page only; never stored in clear
    with _LOCK:
        _NEW_KEYS[ctx.session.token_hash] = k["key"]
    ctx.say("Key created: copy it now, it is shown only once.")
    return "/settings"


@action("/settings/keys/revoke", need="owner")
def key_revoke(ctx: Ctx, form: Any) -> str:
    key_id = str(form.get("key_id") or "")
    revoke_key(ctx.store, ctx.session.workspace, key_id)
    audit(ctx.scope, ctx.session.user.email, "key.revoke", key_id)
    ctx.say(f"Key {key_id} revoked: anything using it can no longer send data.")
    return "/settings"


@action("/settings/team/add", need="owner")
def team_add(ctx: Ctx, form: Any) -> str:
    email, role = str(form.get("email") or ""), str(form.get("role") or "staff")
    password = str(form.get("password") or "")
    res = auth.create_user(ctx.store, email, password, role, ctx.session.workspace)
    audit(ctx.scope, ctx.session.user.email, "team.add", res["email"], {"role": role})
    ctx.say(f"{res['email']} can now sign in as {role}.")
    return "/settings#team"


@action("/settings/erase-person", need="owner")
def erase_person(ctx: Ctx, form: Any) -> str:
    from ...identity import find_person

    pid = find_person(ctx.scope, str(form.get("who") or ""))
    done = safe_engine_call("privacy", "erase", ctx.scope, pid)
    if done is None:
        raise ValidationError("erasing one person needs the privacy engine's erase, which is not installed yet; "
                              "run `wayfare privacy erase` once it is")
    ctx.say("That person's data was erased.")
    return "/settings"


@action("/settings/wipe", need="owner")
def wipe(ctx: Ctx, form: Any) -> str:
    if str(form.get("confirm") or "").strip() != ctx.session.workspace:
        raise ValidationError(f"type the workspace name ({ctx.session.workspace}) to confirm", where="confirm")
    scope = ctx.scope
    with scope.transaction() as con:
        for t in _WIPE:
            con.execute(f"DELETE FROM main.{t} WHERE workspace_id = ?", [scope.workspace_id])
    audit(scope, ctx.session.user.email, "workspace.wipe", ctx.session.workspace)
    from .base import cache

    cache.bump(scope.workspace_id)
    ctx.say("All customer data of this workspace was deleted.")
    return "/settings"


def export_response(ctx: Ctx, what: str) -> StreamingResponse:
    if what not in EXPORTS:
        raise ValidationError(f"export one of {', '.join(EXPORTS)}", where=what)
    sql, header = EXPORTS[what]
    cur = ctx.scope.execute(sql)
    audit(ctx.scope, ctx.session.user.email, "export", what)

    def rows():
        while batch := cur.fetchmany(5000):
            yield from batch

    return StreamingResponse(csv_lines(header, rows()), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{ctx.session.workspace}-{what}.csv"'})


@page("/settings/export/{what}.csv", "error.html", "Export", need="owner")
def export(ctx: Ctx) -> Any:
    return export_response(ctx, ctx.request.path_params["what"])

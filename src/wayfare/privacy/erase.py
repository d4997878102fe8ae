"""Erasing a person: every row that names them, in every table that has a person column or mentions them.

Tables are discovered from the schema, so tables added later are covered: a table with a ``workspace_id``
column and any column whose name contains ``person`` loses the person's rows; text and JSON columns of every
tenant table are searched for the person's identifiers (email, phone, name, user ids) — events that mention
them are deleted, other rows have the identifier redacted. Afterwards the caller rewrites the database file
(:func:`wayfare.privacy.compact.rewrite_file`) so not even freed pages keep a byte of them. The email and
phone survive only as salted hashes in the suppression list (reason ``erased``), so nobody mails them again.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..identity.normalize import normalize_email, normalize_phone
from ..store import Scope
from .suppression import address_hash, audit, suppress, transaction

__all__ = ["erase_person", "person_ids", "identifiers", "person_tables"]

# tables that never hold a person's data, or must outlive the erase (hashes, audit trail)
_KEEP = {"suppressions", "audit_log", "workspaces", "api_keys", "schema_version"}
# first or last names alone are shared by many people: only full names (with a space) are searched for
_NAME_TRAITS = ("email", "phone", "name", "full_name", "mobile", "phone_number", "address", "street")
_OWN_TABLES = ("profiles", "identities")  # other people's own identity data: only unique identifiers redacted
_MIN_LEN = 4  # shorter identifiers would redact unrelated text


def person_ids(scope: Scope, who: str) -> list[str]:
    """Every person id ``who`` (email, phone, person id, user id ...) points at, following merges."""
    from ..identity import find_person

    first = find_person(scope, who)
    pids = {first}
    values = {who.strip(), normalize_email(who) or "", normalize_phone(who) or ""} - {""}
    for (p,) in scope.rows("SELECT DISTINCT person_id FROM identities WHERE value IN (SELECT unnest($v))",
                           {"v": sorted(values)}):
        pids.add(p)
    for _ in range(5):  # merged-away ids point at the survivor and back
        rows = scope.rows("SELECT from_person, into_person FROM merges WHERE from_person IN (SELECT unnest($p)) "
                          "OR into_person IN (SELECT unnest($p))", {"p": sorted(pids)})
        more = {x for r in rows for x in r} - pids
        if not more:
            break
        pids |= more
    return sorted(pids)


def identifiers(scope: Scope, pids: list[str], who: str) -> dict[str, set[str]]:
    """The person's identifiers by kind: emails, phones and other strings (names, user ids) to search for."""
    out: dict[str, set[str]] = {"email": set(), "phone": set(), "other": set(), "name": set()}

    def add(kind: str, v: Any) -> None:
        if isinstance(v, str) and v.strip():
            v = v.strip()
            if kind == "email" or normalize_email(v) == v.lower():
                out["email"].add(v)
                out["email"].add(normalize_email(v) or v)
            elif kind == "phone":
                out["phone"].add(v)
                out["phone"].add(normalize_phone(v) or v)
            elif kind == "name":
                if " " in v and len(v) >= 8:
                    out["name"].add(v)
            else:
                out["other"].add(v)

    add("email" if normalize_email(who) else ("phone" if normalize_phone(who) else "other"), who)
    for kind, value in scope.rows("SELECT kind, value FROM identities WHERE person_id IN (SELECT unnest($p))",
                                  {"p": pids}):
        add(kind if kind in ("email", "phone") else "other", value)
    for (traits,) in scope.rows("SELECT traits FROM profiles WHERE person_id IN (SELECT unnest($p))", {"p": pids}):
        t = orjson.loads(traits or "{}")
        for k in _NAME_TRAITS:
            add(_trait_kind(k), t.get(k))
    for (traits,) in scope.rows("SELECT traits FROM events WHERE person_id IN (SELECT unnest($p)) "
                                "AND traits IS NOT NULL", {"p": pids}):
        t = orjson.loads(traits or "{}") if traits else {}
        if isinstance(t, dict):
            for k in _NAME_TRAITS:
                add(_trait_kind(k), t.get(k))
    out["other"] = {v for v in out["other"] - set(pids) if len(v) >= 6}
    return out


def _trait_kind(k: str) -> str:
    return "email" if k == "email" else ("phone" if k in ("phone", "mobile", "phone_number") else "name")


def person_tables(scope: Scope) -> dict[str, dict[str, list[str]]]:
    """Tenant tables with their person columns and text columns, discovered from the schema."""
    rows = scope.store.cursor().execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_catalog = current_database() ORDER BY table_name, ordinal_position"
    ).fetchall()
    tables: dict[str, dict[str, list[str]]] = {}
    for t, c, ty in rows:
        tables.setdefault(t, {"cols": [], "person": [], "text": []})
        tables[t]["cols"].append(c)
        if "person" in c.lower():
            tables[t]["person"].append(c)
        if ty.upper() in ("VARCHAR", "JSON") and c != "workspace_id":
            tables[t]["text"].append(c)
    return {t: v for t, v in tables.items() if "workspace_id" in v["cols"] and t not in _KEEP}


def _pattern(values: set[str]) -> str | None:
    vals = sorted({v for v in values if len(v) >= _MIN_LEN and "\\E" not in v}, key=len, reverse=True)
    if not vals:
        return None
    return "(?i)(?:" + "|".join(f"\\Q{v}\\E" for v in vals) + ")"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _erase_from_queue(scope: Scope, pids: list[str]) -> int:
    """With a PostgreSQL delivery queue: nothing still waiting goes out, and it keeps no address or message."""
    from ..store.postgres import erase_from_queue, queue_url
    url = queue_url()
    return erase_from_queue(url, scope.workspace_id, pids) if url and pids else 0


def erase_person(scope: Scope, who: str, actor: str = "cli") -> dict[str, Any]:
    """Delete everything held about ``who`` in this workspace; returns what was removed, table by table.

    The caller should then rewrite the database file (the CLI does) so freed pages hold nothing either.
    """
    pids = person_ids(scope, who)
    ids = identifiers(scope, pids, who)
    strong = _pattern(ids["email"] | ids["phone"] | ids["other"])
    pat = _pattern(ids["email"] | ids["phone"] | ids["other"] | ids["name"])
    user_ids = {v for (v,) in scope.rows("SELECT value FROM identities WHERE person_id IN (SELECT unnest($p)) "
                                         "AND kind IN ('user_id', 'anonymous_id')", {"p": pids})}
    # hash before deleting anything (the salt lives in the workspace's settings)
    hashes = {"email": sorted({address_hash(scope, "email", e) for e in ids["email"]}),
              "sms": sorted({address_hash(scope, "sms", p) for p in ids["phone"]})}
    removed: dict[str, int] = {}
    redacted: dict[str, int] = {}
    tables = person_tables(scope)
    ws = scope.workspace_id
    with transaction(scope) as con:
        for t, info in tables.items():
            conds = [f"{_q(c)} IN (SELECT unnest($p))" for c in info["person"]]
            if t == "events":
                conds.append("user_id IN (SELECT unnest($u)) OR anonymous_id IN (SELECT unnest($u))")
                if strong:
                    conds += [f"regexp_matches(CAST({_q(c)} AS VARCHAR), $pat)" for c in info["text"]]
            if not conds:
                continue
            params: dict[str, Any] = {"ws": ws, "p": pids}
            if "$u" in " ".join(conds):
                params["u"] = sorted(user_ids) or [""]
            if "$pat" in " ".join(conds):
                params["pat"] = strong
            n = con.execute(f"DELETE FROM main.{_q(t)} WHERE workspace_id = $ws AND ({' OR '.join(conds)})",
                            params).fetchone()
            if n and n[0]:
                removed[t] = int(n[0])
        for t, info in tables.items():
            tpat = strong if t in _OWN_TABLES else pat
            if not tpat:
                continue
            for c in info["text"]:
                n = con.execute(
                    f"UPDATE main.{_q(t)} SET {_q(c)} = regexp_replace(CAST({_q(c)} AS VARCHAR), $pat, '[erased]', "
                    f"'g') WHERE workspace_id = $ws AND regexp_matches(CAST({_q(c)} AS VARCHAR), $pat)",
                    {"ws": ws, "pat": tpat}).fetchone()
                if n and n[0]:
                    redacted[f"{t}.{c}"] = redacted.get(f"{t}.{c}", 0) + int(n[0])
    queued = _erase_from_queue(scope, pids)
    if queued:
        removed["delivery_queue"] = queued
    # the analytics' sorted copies of the events (kept beside the store) hold person ids: gone with them,
    # built again from what is left on the next ask
    from ..analytics.sorted_events import drop_files

    if scope.store.path != ":memory:":
        kept = drop_files(scope.store.path)
        if kept:
            removed["analytics_copies"] = kept
    for e in sorted(ids["email"]):
        suppress(scope, "email", e, "erased")
    for p in sorted(ids["phone"]):
        suppress(scope, "sms", p, "erased")
    result = {"workspace": scope.name, "person_ids": pids, "removed": removed, "redacted": redacted,
              "suppressed": {"email": len(hashes["email"]), "sms": len(hashes["sms"])}}
    audit(scope, actor, "privacy.erase", pids[0], {"person_ids": pids, "removed": removed, "redacted": redacted,
                                                   "suppressed_hashes": hashes})
    return result

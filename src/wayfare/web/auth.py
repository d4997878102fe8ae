"""Dashboard accounts: argon2id password hashes, server-side sessions, CSRF tokens, roles, workspaces.

* Passwords are kept only as argon2id hashes (m = 19456 KiB, t = 2, p = 1, the OWASP minimum);
  unknown emails are checked against a dummy hash so the answer takes as long either way.
* A session is a random 256-bit token in an HttpOnly, SameSite=Lax cookie (Secure over HTTPS and on
  loopback); the table holds only its SHA-256. Signing in always issues a new token (rotation) and
  drops the one the browser held. Sessions end after ``IDLE_TIMEOUT`` without a request and
  ``ABSOLUTE_TIMEOUT`` after sign-in, whichever comes first.
* Every state-changing form carries the session's CSRF token (compared in constant time); forms used
  before signing in (sign-in, first-run sign-up) use a double-submit cookie instead.
* Roles: ``owner`` (everything, including team, keys and deletion) > ``staff`` (imports, approvals,
  inbox, pausing a customer) > ``viewer`` (reads only). A user belongs to one or more workspaces, with
  a role in each; the session remembers which workspace it is looking at.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import AuthError, NotFound, ValidationError
from ..store import Store, utcnow

__all__ = [
    "ROLES", "SESSION_COOKIE", "PRE_CSRF_COOKIE", "IDLE_TIMEOUT", "ABSOLUTE_TIMEOUT", "User", "Session",
    "hasher", "create_user", "add_member", "list_users", "has_users", "authenticate", "start_session",
    "load_session", "end_session", "token_hash", "switch_workspace", "workspaces_of", "role_allows", "check_csrf", "LoginThrottle",
]  # fmt: skip

ROLES = ("owner", "staff", "viewer")
_RANK = {"viewer": 0, "staff": 1, "owner": 2}
SESSION_COOKIE = "wf_session"
PRE_CSRF_COOKIE = "wf_precsrf"
IDLE_TIMEOUT = dt.timedelta(hours=2)
ABSOLUTE_TIMEOUT = dt.timedelta(hours=12)
MIN_PASSWORD = 10
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_HASH = hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class User:
    user_id: str
    email: str
    role: str  # the role in the workspace it was loaded for
    workspace_id: str


@dataclass(frozen=True)
class Session:
    token_hash: str
    user: User
    workspace_id: str
    workspace: str
    csrf: str
    created_at: dt.datetime


def _h(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_hash(token: str) -> str:
    """What the sessions table stores for a cookie value."""
    return _h(token)


def role_allows(role: str, need: str) -> bool:
    return _RANK.get(role, -1) >= _RANK[need]


def _check_email(email: str) -> str:
    e = (email or "").strip().lower()
    if not _EMAIL_RE.match(e):
        raise ValidationError("that is not an email address", where=f"email {email!r}")
    return e


def has_users(store: Store) -> bool:
    return bool(store.cursor().execute("SELECT count(*) FROM web_users").fetchone()[0])


def create_user(store: Store, email: str, password: str, role: str, workspace: str = "default") -> dict:
    """Create an account with a role in ``workspace`` (or add the workspace to an existing account)."""
    email = _check_email(email)
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", where=f"--role {role!r}")
    wid = store.workspace_id(workspace)
    con = store.cursor()
    row = con.execute("SELECT user_id FROM web_users WHERE email = ?", [email]).fetchone()
    if row:
        add_member(store, row[0], workspace, role)
        return {"user_id": row[0], "email": email, "role": role, "workspace": workspace, "created": False}
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(f"a password needs at least {MIN_PASSWORD} characters", where="password")
    uid = "u_" + secrets.token_hex(8)
    pw = hasher.hash(password)
    with store.transaction() as c:
        c.execute("INSERT INTO web_users VALUES (?, ?, ?, ?, ?, NULL, false)", [wid, uid, email, pw, utcnow()])
        c.execute("INSERT INTO web_members VALUES (?, ?, ?, ?)", [wid, uid, role, utcnow()])
    return {"user_id": uid, "email": email, "role": role, "workspace": workspace, "created": True}


def add_member(store: Store, user_id: str, workspace: str, role: str) -> None:
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", where=f"role {role!r}")
    wid = store.workspace_id(workspace)
    with store.transaction() as c:
        c.execute("DELETE FROM web_members WHERE workspace_id = ? AND user_id = ?", [wid, user_id])
        c.execute("INSERT INTO web_members VALUES (?, ?, ?, ?)", [wid, user_id, role, utcnow()])


def list_users(store: Store, workspace: str | None = None) -> list[dict]:
    sql = ("SELECT u.user_id, u.email, m.role, w.name, u.created_at, u.last_login_at, u.disabled "
           "FROM web_users u JOIN web_members m USING (user_id) JOIN workspaces w ON w.id = m.workspace_id")
    params: list = []
    if workspace:
        sql += " WHERE m.workspace_id = ?"
        params.append(store.workspace_id(workspace))
    rows = store.cursor().execute(sql + " ORDER BY w.name, u.email", params).fetchall()
    return [{"user_id": r[0], "email": r[1], "role": r[2], "workspace": r[3], "created_at": r[4].isoformat(),
             "last_login_at": r[5].isoformat() if r[5] else None, "disabled": bool(r[6])} for r in rows]


def authenticate(store: Store, email: str, password: str) -> str:
    """The user id for a correct email and password; AuthError otherwise (same message either way)."""
    e = (email or "").strip().lower()
    row = store.cursor().execute(
        "SELECT user_id, password_hash, disabled FROM web_users WHERE email = ?", [e]
    ).fetchone()
    try:
        hasher.verify(row[1] if row else _DUMMY_HASH, password or "")
        ok = row is not None and not row[2]
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        raise AuthError("wrong email or password")
    if hasher.check_needs_rehash(row[1]):
        with store.write_lock:
            store.con.execute("UPDATE web_users SET password_hash = ? WHERE user_id = ?", [hasher.hash(password), row[0]])
    return row[0]


def start_session(store: Store, user_id: str, user_agent: str | None = None, previous_token: str | None = None,
                  workspace_id: str | None = None) -> str:
    """A fresh session token for ``user_id`` (the previous one, if any, is ended: rotation)."""
    con = store.cursor()
    members = con.execute(
        "SELECT m.workspace_id FROM web_members m JOIN workspaces w ON w.id = m.workspace_id "
        "WHERE user_id = ? ORDER BY w.created_at", [user_id]).fetchall()
    if not members:
        raise AuthError("this account belongs to no workspace; ask the owner to add you")
    wids = [m[0] for m in members]
    wid = workspace_id if workspace_id in wids else wids[0]
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with store.transaction() as c:
        if previous_token:
            c.execute("DELETE FROM web_sessions WHERE session_hash = ?", [_h(previous_token)])
        c.execute("DELETE FROM web_sessions WHERE created_at < ?", [now - ABSOLUTE_TIMEOUT])
        c.execute("INSERT INTO web_sessions VALUES (?, ?, ?, ?, ?, ?, ?)",
                  [wid, _h(token), user_id, secrets.token_urlsafe(32), now, now, (user_agent or "")[:200]])
        c.execute("UPDATE web_users SET last_login_at = ? WHERE user_id = ?", [now, user_id])
    return token


def load_session(store: Store, token: str | None) -> Session | None:
    """The live session for a cookie value, or None (unknown, idle too long, too old, or user disabled)."""
    if not token or len(token) > 100:
        return None
    th = _h(token)
    row = store.cursor().execute(
        "SELECT s.workspace_id, s.user_id, s.csrf_token, s.created_at, s.last_seen_at, u.email, u.disabled, m.role, w.name "
        "FROM web_sessions s JOIN web_users u USING (user_id) "
        "LEFT JOIN web_members m ON m.user_id = s.user_id AND m.workspace_id = s.workspace_id "
        "LEFT JOIN workspaces w ON w.id = s.workspace_id WHERE s.session_hash = ?", [th]).fetchone()
    if not row:
        return None
    wid, uid, csrf, created, seen, email, disabled, role, wname = row
    now = utcnow()
    if disabled or role is None or now - seen > IDLE_TIMEOUT or now - created > ABSOLUTE_TIMEOUT:
        with store.write_lock:
            store.con.execute("DELETE FROM web_sessions WHERE session_hash = ?", [th])
        return None
    if now - seen > dt.timedelta(seconds=60):  # keep writes rare: idle time is measured to the minute
        with store.write_lock:
            store.con.execute("UPDATE web_sessions SET last_seen_at = ? WHERE session_hash = ?", [now, th])
    return Session(th, User(uid, email, role, wid), wid, wname, csrf, created)


def end_session(store: Store, token: str | None) -> None:
    if token:
        with store.write_lock:
            store.con.execute("DELETE FROM web_sessions WHERE session_hash = ?", [_h(token)])


def workspaces_of(store: Store, user_id: str) -> list[dict]:
    rows = store.cursor().execute(
        "SELECT w.id, w.name, m.role FROM web_members m JOIN workspaces w ON w.id = m.workspace_id "
        "WHERE m.user_id = ? ORDER BY w.created_at", [user_id]).fetchall()
    return [{"id": r[0], "name": r[1], "role": r[2]} for r in rows]


def switch_workspace(store: Store, session: Session, workspace: str) -> None:
    allowed = {w["name"]: w["id"] for w in workspaces_of(store, session.user.user_id)}
    if workspace not in allowed:
        raise NotFound(f"you are not a member of a workspace named {workspace!r}")
    with store.write_lock:
        store.con.execute("UPDATE web_sessions SET workspace_id = ? WHERE session_hash = ?",
                          [allowed[workspace], session.token_hash])


def check_csrf(expected: str | None, given: str | None) -> bool:
    return bool(expected and given and hmac.compare_digest(expected.encode(), given.encode()))


class LoginThrottle:
    """At most ``limit`` failed sign-ins per email and per client address in ``window`` seconds."""

    def __init__(self, limit: int = 10, window: float = 900.0):
        self.limit, self.window = limit, window
        self._fails: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        return [t for t in self._fails.get(key, []) if now - t < self.window]

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.limit for k in keys)

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for k in keys:
                self._fails[k] = self._recent(k, now) + [now]

    def ok(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._fails.pop(k, None)

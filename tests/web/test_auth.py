"""Accounts and sessions: argon2id parameters, sign-in, rotation, timeouts, roles, workspaces, throttling."""

from __future__ import annotations

import datetime as dt

import pytest

from wayfare.errors import AuthError, NotFound, ValidationError
from wayfare.web import auth

PW = "correct horse battery staple"


def test_password_hash_is_argon2id_with_owasp_parameters(store):
    auth.create_user(store, "Owner@Example.org", PW, "owner")
    h = store.con.execute("SELECT password_hash FROM web_users").fetchone()[0]
    assert h.startswith("$argon2id$") and "m=19456,t=2,p=1" in h
    assert PW not in h


def test_authenticate_accepts_only_the_right_password(store):
    u = auth.create_user(store, "owner@example.org", PW, "owner")
    assert auth.authenticate(store, " OWNER@example.org ", PW) == u["user_id"]
    for email, pw in (("owner@example.org", PW + "x"), ("nobody@example.org", PW), ("owner@example.org", "")):
        with pytest.raises(AuthError, match="wrong email or password"):
            auth.authenticate(store, email, pw)


@pytest.mark.parametrize("email,pw,role,fragment", [
    ("not-an-email", PW, "owner", "not an email"),
    ("a@example.org", "short", "owner", "at least 10"),
    ("a@example.org", PW, "admin", "role must be one of"),
])
def test_create_user_refuses_bad_input(store, email, pw, role, fragment):
    with pytest.raises(ValidationError, match=fragment):
        auth.create_user(store, email, pw, role)


def test_login_rotates_the_session_and_logout_ends_it(store):
    uid = auth.create_user(store, "owner@example.org", PW, "owner")["user_id"]
    first = auth.start_session(store, uid)
    s1 = auth.load_session(store, first)
    assert s1 and s1.user.role == "owner" and s1.workspace == "default" and len(s1.csrf) >= 40
    second = auth.start_session(store, uid, previous_token=first)
    assert auth.load_session(store, first) is None  # the old token is dead
    s2 = auth.load_session(store, second)
    assert s2 and s2.csrf != s1.csrf
    assert store.con.execute("SELECT count(*) FROM web_sessions WHERE session_hash = ?", [second]).fetchone()[0] == 0
    auth.end_session(store, second)
    assert auth.load_session(store, second) is None


@pytest.mark.parametrize("column,age", [("last_seen_at", auth.IDLE_TIMEOUT), ("created_at", auth.ABSOLUTE_TIMEOUT)])
def test_sessions_expire_when_idle_or_too_old(store, column, age):
    uid = auth.create_user(store, "owner@example.org", PW, "owner")["user_id"]
    token = auth.start_session(store, uid)
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - age - dt.timedelta(minutes=1)
    store.con.execute(f"UPDATE web_sessions SET {column} = ?", [past])
    assert auth.load_session(store, token) is None
    assert store.con.execute("SELECT count(*) FROM web_sessions").fetchone()[0] == 0


def test_roles_rank_owner_over_staff_over_viewer():
    assert auth.role_allows("owner", "staff") and auth.role_allows("staff", "staff")
    assert not auth.role_allows("viewer", "staff") and not auth.role_allows("staff", "owner")
    assert not auth.role_allows("intruder", "viewer")


def test_a_user_switches_only_to_workspaces_they_belong_to(store):
    store.create_workspace("salon")
    store.create_workspace("other")
    u = auth.create_user(store, "agency@example.org", PW, "staff")
    auth.create_user(store, "agency@example.org", "", "viewer", "salon")  # existing account: a new membership
    token = auth.start_session(store, u["user_id"])
    s = auth.load_session(store, token)
    assert [w["name"] for w in auth.workspaces_of(store, u["user_id"])] == ["default", "salon"]
    auth.switch_workspace(store, s, "salon")
    s = auth.load_session(store, token)
    assert s.workspace == "salon" and s.user.role == "viewer"
    with pytest.raises(NotFound):
        auth.switch_workspace(store, s, "other")


def test_disabled_users_lose_their_sessions(store):
    uid = auth.create_user(store, "owner@example.org", PW, "owner")["user_id"]
    token = auth.start_session(store, uid)
    store.con.execute("UPDATE web_users SET disabled = true")
    assert auth.load_session(store, token) is None
    with pytest.raises(AuthError):
        auth.authenticate(store, "owner@example.org", PW)


def test_throttle_blocks_after_the_limit_and_clears_on_success():
    t = auth.LoginThrottle(limit=3, window=60)
    for _ in range(3):
        assert not t.blocked("a@example.org")
        t.fail("a@example.org", "ip:1")
    assert t.blocked("a@example.org") and t.blocked("ip:1") and not t.blocked("b@example.org")
    t.ok("a@example.org")
    assert not t.blocked("a@example.org")


def test_csrf_comparison():
    assert auth.check_csrf("abc", "abc")
    assert not auth.check_csrf("abc", "abd") and not auth.check_csrf("abc", None) and not auth.check_csrf(None, None)

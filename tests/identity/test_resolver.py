import datetime as dt

from wayfare.identity import find_person, normalize_email, normalize_phone, person_summary, timeline
from wayfare.ingest import check_message, to_row, write_rows

T0 = dt.datetime(2026, 2, 1, 9, 0)


def send(scope, *msgs):
    rows = []
    for i, m in enumerate(msgs):
        m = check_message({"messageId": f"m-{len(scope.rows('SELECT 1 FROM events'))}-{i}", **m}, "t")
        rows.append(to_row(m, T0 + dt.timedelta(minutes=i), "test"))
    return write_rows(scope, rows)


def test_anonymous_visits_join_the_person_who_identifies(scope):
    send(scope, {"type": "page", "anonymousId": "anon-1", "name": "Menu"},
         {"type": "track", "anonymousId": "anon-1", "event": "Table Booked"})
    assert scope.one("SELECT count(*) FROM profiles")[0] == 1
    send(scope, {"type": "identify", "anonymousId": "anon-1", "userId": "u-9", "traits": {"email": "Kim@Example.org"}})
    pid = find_person(scope, "kim@example.org")
    assert {r[0] for r in scope.rows("SELECT person_id FROM events")} == {pid}
    assert scope.one("SELECT count(*) FROM profiles")[0] == 1


def test_merges_are_transitive_and_logged(scope, monkeypatch):
    monkeypatch.setenv("WAYFARE_DEFAULT_REGION", "GB")  # a UK shop: numbers without +44 are British
    # three separate people: a web user, a till payment by phone, a survey by email
    send(scope, {"type": "identify", "userId": "web-1", "traits": {"email": "jo@example.org"}})
    send(scope, {"type": "track", "userId": "pos-77", "event": "Order Completed", "context": {"traits": {"phone": "07700 900555"}},
                 "properties": {"revenue": 12}})
    send(scope, {"type": "track", "anonymousId": "s-1", "event": "Survey Responded",
                 "context": {"traits": {"email": "JO@example.org"}}})
    assert scope.one("SELECT count(*) FROM profiles")[0] == 2  # the survey joined the web user by email
    # one message names the email and the phone together: the till customer and the web user are one person
    send(scope, {"type": "identify", "userId": "web-1", "traits": {"phone": "+44 7700 900555"}})
    assert scope.one("SELECT count(*) FROM profiles")[0] == 1
    pid = find_person(scope, "+447700900555")
    assert find_person(scope, "pos-77") == find_person(scope, "jo@example.org") == pid
    s = person_summary(scope, pid)
    assert s["revenue"] == 12 and s["events"] == 4
    assert len(s["merged_from"]) == 1 and s["merged_from"][0]["reason"] == "shared identifier"
    assert scope.one("SELECT count(*) FROM merges")[0] == 1
    assert {e["event"] for e in timeline(scope, pid)} == {"identify", "Order Completed", "Survey Responded"}


def test_alias_links_previous_id(scope):
    send(scope, {"type": "track", "anonymousId": "dev-1", "event": "App Opened"})
    send(scope, {"type": "alias", "previousId": "dev-1", "userId": "acct-5"})
    send(scope, {"type": "track", "userId": "acct-5", "event": "Order Completed"})
    assert scope.one("SELECT count(DISTINCT person_id) FROM events")[0] == 1


def test_identifier_normalisation():
    assert normalize_email("  Ann.Lee+news@Example.ORG ") == "ann.lee+news@example.org"
    assert normalize_email("not an email") is None
    assert normalize_phone("07700 900123", "GB") == "+447700900123"
    assert normalize_phone("+1 (415) 555-0100") == "+14155550100"
    assert normalize_phone("12") is None


def test_merge_targets_follow_chains_to_the_last_person():
    from wayfare.identity.resolver import _final_targets

    assert _final_targets([("a", "b"), ("b", "c"), ("x", "y")]) == {"a": "c", "b": "c", "x": "y"}


def test_many_merges_in_one_batch_move_every_event_and_identity(tmp_path):
    import datetime as dt

    from wayfare.ingest.messages import check_message, to_row
    from wayfare.ingest.pipeline import write_rows
    from wayfare.store import Store

    rec = dt.datetime(2026, 11, 30)

    def row(m: dict) -> dict:
        return to_row(check_message({"timestamp": "2026-11-20T12:00:00Z", **m}, "b"), rec, source="t")

    with Store(tmp_path / "m.db") as s:
        sc = s.scope()
        write_rows(sc, [row({"type": "track", "event": "Page Viewed", "anonymousId": f"a{i}", "messageId": f"p{i}"})
                        for i in range(30)]
                   + [row({"type": "track", "event": "Order Completed", "userId": f"u{i}", "messageId": f"o{i}"})
                      for i in range(30)])
        assert sc.one("SELECT count(DISTINCT person_id) FROM events")[0] == 60
        res = write_rows(sc, [row({"type": "identify", "userId": f"u{i}", "anonymousId": f"a{i}", "messageId": f"i{i}"})
                              for i in range(30)])
        assert res.merges == 30
        assert sc.one("SELECT count(DISTINCT person_id) FROM events")[0] == 30
        assert sc.one("SELECT count(*) FROM profiles")[0] == 30
        assert sc.one("SELECT count(*) FROM merges")[0] == 30
        # every identity points at a person that still has a profile, and each user's visits are theirs
        assert sc.one("SELECT count(*) FROM identities i ANTI JOIN profiles p ON i.person_id = p.person_id")[0] == 0
        assert sc.one("SELECT count(DISTINCT e.person_id) FROM events e WHERE e.anonymous_id = 'a7' OR e.user_id = 'u7'")[0] == 1

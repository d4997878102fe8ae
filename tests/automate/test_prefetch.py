import datetime as dt

from wayfare.automate.prefetch import ChunkFacts
from wayfare.ingest import to_row, write_rows
from wayfare.privacy import address_hash, consent_status, is_suppressed, record_consent, suppress
from wayfare.store import Store


def _people(scope, traits):
    now = dt.datetime.now(dt.UTC)
    write_rows(scope, [to_row({"type": "identify", "userId": u, "traits": t, "messageId": f"id-{u}"}, now, "test")
                       for u, t in traits.items()])
    return dict(scope.store.cursor().execute("SELECT traits->>'email', person_id FROM profiles").fetchall())


def test_chunk_answers_match_the_single_row_reads(tmp_path):
    st = Store(tmp_path / "f.db")
    sc = st.scope()
    pid = _people(sc, {"a": {"email": "Ann@Example.org", "email_marketing": "subscribed"},
                       "b": {"email": "bob@example.org", "email_marketing": True},
                       "c": {"email": "cy@example.org"}})
    suppress(sc, "email", "ann@example.org", "unsubscribe")
    suppress(sc, "email", "cy@example.org", "bounce")
    record_consent(sc, pid["bob@example.org"], "email", "marketing", "withdrawn")
    ids = list(pid.values())
    ch = ChunkFacts(sc, [(f"e{i}", p, None) for i, p in enumerate(ids)], dt.datetime(2026, 11, 30), 7)
    assert ch._hash("email", "Ann@Example.org") == address_hash(sc, "email", "Ann@Example.org")
    for p in ids:
        email = ch.person(p)["email"]
        assert ch.is_suppressed("email", email) == is_suppressed(sc, "email", email)
        for purpose in ("marketing", "transactional"):
            assert ch.consent(p, "email", purpose) == consent_status(sc, p, "email", purpose)
    assert ch.is_suppressed("email", "Ann@Example.org") == "unsubscribe"
    assert ch.is_suppressed("email", "cy@example.org") == "bounce"
    assert ch.consent(pid["bob@example.org"], "email", "marketing") == "withdrawn"
    st.close()

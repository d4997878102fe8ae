import pandas as pd

from wayfare.feedback import general_model, themes


def _frame():
    rows = []
    for i in range(40):  # older: praise for staff, a little slowness
        rows.append((f"2026-01-{1 + i % 28:02d}", "The staff were so friendly and welcoming."))
        if i % 10 == 0:
            rows.append((f"2026-01-{1 + i % 28:02d}", "We waited forty minutes, very slow."))
    for i in range(40):  # recent: slowness complaints rise
        rows.append((f"2026-05-{1 + i % 28:02d}", "The staff were lovely and attentive."))
        rows.append((f"2026-05-{1 + i % 28:02d}", "Service was painfully slow, we waited ages."))
    for i in range(4):
        rows.append((f"2026-05-{1 + i:02d}", "The parking meter outside was broken and useless."))
    return pd.DataFrame({"ts": pd.to_datetime([r[0] for r in rows]), "text": [r[1] for r in rows],
                         "person_id": [f"p{i}" for i in range(len(rows))], "event": "Survey Responded"})


def test_themes_named_counted_with_trend_and_quotes():
    th = {t["theme"]: t for t in themes(_frame(), score_fn=general_model().score, end=pd.Timestamp("2026-05-31"))}
    assert th["friendly staff"]["mentions"] == 80 and th["friendly staff"]["polarity"] == "praise"
    slow = th["slow service"]
    assert slow["mentions"] == 44 and slow["polarity"] == "complaint"
    assert slow["trend"] == "rising"
    assert slow["quotes"][0] in ("Service was painfully slow, we waited ages.", "We waited forty minutes, very slow.")
    # a complaint no topic knows still surfaces, named by its words
    assert any("parking" in name for name in th), list(th)


def test_themes_of_nothing_is_empty():
    assert themes(pd.DataFrame({"ts": [], "text": []}), score_fn=general_model().score) == []

from wayfare.predict.reasons import churn_reason


def test_churn_reason_in_plain_words():
    assert churn_reason(64, 12, 0.2) == "No purchase for 64 days; usually returns every 12 (chance still active 20%)"
    assert "bought only once" in churn_reason(30, None, 1.0)

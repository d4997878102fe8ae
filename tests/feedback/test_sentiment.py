import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score

from wayfare.feedback import general_model, list_models, score_texts, train_sentiment
from wayfare.feedback.sentiment import GENERAL_PATH, rating_labels


def _clear(df: pd.DataFrame) -> pd.DataFrame:
    d = df[df["Rating"] != 3]
    return d.assign(y=(d["Rating"] >= 4).astype(int))


def test_general_model_ships_small_and_reads_clothing_reviews_it_never_saw(clothing):
    assert GENERAL_PATH.stat().st_size < 5 * 1024 * 1024
    meta = json.loads(GENERAL_PATH.read_text())["meta"]
    assert meta["sentences"] == 3000
    d = _clear(clothing).sample(4000, random_state=7)
    s = general_model().score(d["Review Text"].tolist())
    ba = balanced_accuracy_score(d["y"], s > 0)
    assert ba >= 0.75, ba


def test_general_model_reads_service_feedback():
    s = general_model().score(["The staff were so friendly and made us feel welcome.",
                               "Delivery was late and the driver could not find us.",
                               "Items were missing from the order and I had to call twice.",
                               "Booking online took seconds, very convenient."])
    assert list(np.sign(s)) == [1, -1, -1, 1]


def test_trained_model_reaches_goal_on_unseen_reviews_and_becomes_active(scope, clothing):
    d = _clear(clothing)
    train, unseen = d.iloc[: int(len(d) * 0.7)], d.iloc[int(len(d) * 0.7):]
    assert score_texts(["fine"], scope).model == "general"
    res = train_sentiment(scope, train, "Review Text", "Rating", source="part_a")
    assert res["balanced_accuracy_holdout"] >= 0.85
    assert res["positive"] + res["negative"] == res["rows_used"] == len(train)
    scored = score_texts(unseen["Review Text"].tolist(), scope)
    assert scored.model == res["model_id"]
    assert balanced_accuracy_score(unseen["y"], scored.scores > 0) >= 0.85
    assert [m["active"] for m in list_models(scope)] == [True]
    # the general model can still be asked for
    assert score_texts(["fine"], scope, model="general").model == "general"


def test_training_is_per_workspace(store, clothing):
    store.create_workspace("other")
    a = store.scope("default")
    other = store.scope("other")
    train_sentiment(a, _clear(clothing).iloc[:3000], "Review Text", "Rating")
    assert score_texts(["nice"], other).model == "general"
    assert score_texts(["nice"], a).model != "general"


def test_rating_scale_is_read_from_the_data():
    y, pos, neg = rating_labels(pd.Series([0, 3, 5, 8, 10, None]))
    assert (pos, neg) == (7.5, 4.5) and list(y) == [0, 0, -1, 1, 1, -1]
    y5, pos5, neg5 = rating_labels(pd.Series([1, 2, 3, 4, 5]))
    assert list(y5) == [0, 0, -1, 1, 1]


def test_training_refuses_too_few_labels_and_names_the_column(scope, tmp_path: Path):
    import pytest

    from wayfare.errors import ValidationError

    df = pd.DataFrame({"t": ["good"] * 30 + ["bad"] * 5, "r": [5] * 30 + [1] * 5})
    with pytest.raises(ValidationError, match="at least 20"):
        train_sentiment(scope, df, "t", "r")
    with pytest.raises(ValidationError, match="no column 'stars'"):
        train_sentiment(scope, df, "t", "stars")

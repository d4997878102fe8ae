import json

import numpy as np
import pytest

from wayfare.feedback import LinearTextModel, label_of
from wayfare.feedback.linear import split_sentences

TEXTS = ["great food and lovely staff", "awful, cold and late", "lovely evening, great service",
         "late again, awful service", "great value", "cold food"] * 5
Y = [1, 0, 1, 0, 1, 0] * 5


def test_json_round_trip_scores_the_same():
    m = LinearTextModel(min_df=1).fit(TEXTS, Y)
    back = LinearTextModel.from_dict(json.loads(json.dumps(m.to_dict())))
    probe = ["great staff", "awful and cold", "nothing known here"]
    assert np.allclose(m.score(probe), back.score(probe), atol=1e-4)
    assert back.score(["great staff"])[0] > 0 > back.score(["awful and cold"])[0]


def test_from_dict_refuses_other_kinds_and_ragged_arrays():
    with pytest.raises(ValueError):
        LinearTextModel.from_dict({"kind": "pickle"})
    d = LinearTextModel(min_df=1).fit(TEXTS, Y).to_dict()
    d["coef"] = d["coef"][:-1]
    with pytest.raises(ValueError):
        LinearTextModel.from_dict(d)


def test_labels_and_sentences():
    assert [label_of(x) for x in (0.5, 0.01, -0.3, None)] == ["positive", "neutral", "negative", None]
    assert split_sentences("Lovely. Too slow!\nWill return") == ["Lovely.", "Too slow!", "Will return"]

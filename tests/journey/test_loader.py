import pytest

from wayfare.errors import ValidationError
from wayfare.journey import dump_map, load_map_text

GOOD = """name: cafe
stages:
  - name: Awareness
    touchpoints:
      - name: Walk-ins
        match: {event: Walked Past}
  - name: Purchase
    touchpoints:
      - name: Big orders
        match:
          - event: Order Completed
            properties:
              revenue: {gte: 100}
      - name: Till
        match: {channel: pos}
personas:
  - name: Locals
    rules:
      - trait: city
        equals: Leeds
"""


def test_a_good_map_loads_and_round_trips():
    jm = load_map_text(GOOD)
    assert jm.stage_names() == ["Awareness", "Purchase"]
    assert jm.stages[1].touchpoints[0].match[0].properties["revenue"].gte == 100
    assert load_map_text(dump_map(jm)) == jm


@pytest.mark.parametrize(("change", "line", "text"), [
    (("{gte: 100}", "{gtx: 100}"), 13, "gtx"),
    (("name: Till", "nam: Till"), 14, "name"),
    (("equals: Leeds", "equals: [Leeds]"), 20, "equals"),
    (("        match: {channel: pos}", "        match: {}"), 15, "at least one of"),
    (("  - name: Purchase", "  - name: awareness"), 7, "two stages"),
    (("name: Till", "name: walk-ins"), 14, "two touchpoints"),
])
def test_errors_name_the_line(change, line, text):
    with pytest.raises(ValidationError) as e:
        load_map_text(GOOD.replace(*change), "j.yaml")
    assert f"j.yaml:{line}:" in str(e.value) and text in str(e.value)


def test_bad_yaml_and_bad_regex_name_the_line():
    with pytest.raises(ValidationError, match=r"j.yaml:4: not valid YAML"):
        load_map_text("stages:\n  - name: A\n    touchpoints: [\n", "j.yaml")
    with pytest.raises(ValidationError, match=r"j.yaml:6:.*regular expression"):
        load_map_text(GOOD.replace("{event: Walked Past}", "{event_matches: '(unclosed'}"), "j.yaml")

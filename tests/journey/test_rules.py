import pytest

from wayfare.demo.businesses import STAGE_OF_EVENT
from wayfare.journey import default_stage
from wayfare.journey.model import Match, Stage, Touchpoint
from wayfare.journey.rules import compile_map


def test_default_rules_place_every_demo_event_where_the_demo_means_it():
    for event, stage in STAGE_OF_EVENT.items():
        assert default_stage(event, "identify" if event == "Signed Up" else "track") == stage, event


@pytest.mark.parametrize(("name", "stage"), [
    ("Add to Cart", "Decision"), ("Checkout Completed", "Purchase"), ("Purchase", "Purchase"),
    ("Order Shipped", "Post-purchase"), ("Product Reviewed", "Post-purchase"), ("Points Redeemed", "Loyalty/Advocacy"),
    ("Blog Post Read", "Consideration"), ("Instagram Ad Clicked", "Awareness"), ("Quote Requested", "Decision"),
])
def test_default_rules_are_general(name, stage):
    assert default_stage(name) == stage


def test_channel_fallback_and_unknown():
    assert default_stage("Something Odd", channel="support") == "Post-purchase"
    assert default_stage("Something Odd", channel="web") is None


def test_compiled_sql_carries_values_as_parameters_not_text():
    evil = "x') OR 1=1 --"
    comp = compile_map([Stage(name="A", touchpoints=[Touchpoint(name="t", match=[Match(event=[evil], properties={
        "plan": {"equals": evil}})])]), Stage(name="B")])
    assert evil.lower() not in comp.tp_case and evil not in comp.tp_case
    assert evil.lower() in comp.params.values() and evil in comp.params.values()

"""The suppression list: a block on every channel is found by each channel's look-up, and only for that address."""

from wayfare.privacy import is_suppressed
from wayfare.privacy.suppression import suppress, unsuppress


def test_a_block_on_every_channel_is_found_by_email_and_sms_lookups(scope):
    suppress(scope, "any", "Ann.Smith@Example.org ", "manual")
    suppress(scope, "any", "+44 20 7946 0018", "manual")
    assert is_suppressed(scope, "email", "ann.smith@example.org") == "manual"
    assert is_suppressed(scope, "sms", "+442079460018") == "manual"
    assert is_suppressed(scope, "email", "bob@example.org") is None
    assert is_suppressed(scope, "sms", "+442079460019") is None
    unsuppress(scope, "any", "ann.smith@example.org")
    assert is_suppressed(scope, "email", "ann.smith@example.org") is None
    assert is_suppressed(scope, "sms", "+442079460018") == "manual"


def test_a_block_on_one_channel_stays_on_that_channel(scope):
    suppress(scope, "email", "carol@example.org", "unsubscribe")
    assert is_suppressed(scope, "email", "carol@example.org") == "unsubscribe"
    assert is_suppressed(scope, "sms", "carol@example.org") is None

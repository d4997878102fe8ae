"""Webhook targets inside the network are refused at save time (check_target) and at send time (deliver),
whatever the spelling, and after DNS resolution; the connection goes to the address that was checked."""

import pytest

from tests.channels.conftest import Recorder
from wayfare.channels.errors import TargetRefused
from wayfare.channels.webhook import check_target, deliver

BAD = [
    ("http://127.0.0.1/", "loopback"),
    ("http://localhost:8080/", "loopback"),  # a real DNS name (hosts file) that resolves to loopback
    ("http://2130706433/", "loopback"),  # decimal spelling
    ("http://0177.0.0.1/", "loopback"),  # octal spelling
    ("http://0x7f.1/", "loopback"),  # hex, short form
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped IPv6
    ("http://[64:ff9b::a9fe:a9fe]/", "metadata"),  # NAT64 form of 169.254.169.254
    ("http://[2002:c0a8:101::1]/", "private"),  # 6to4 of 192.168.1.1
    ("http://10.1.2.3/", "private"),
    ("http://172.16.0.9/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://169.254.10.10/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://240.0.0.1/", "reserved"),
    ("http://192.0.2.10/", "private|reserved"),  # documentation range
]


@pytest.mark.parametrize("url,why", BAD)
def test_check_target_refuses_internal_address(url, why, monkeypatch):
    monkeypatch.delenv("WAYFARE_WEBHOOK_ALLOW_PRIVATE", raising=False)
    monkeypatch.delenv("WAYFARE_WEBHOOK_ALLOW", raising=False)
    with pytest.raises(TargetRefused, match=why):
        check_target(url)
    with pytest.raises(TargetRefused):
        deliver(url, {"x": 1}, "k", "id", sleep=lambda s: None)


def test_check_target_refuses_a_name_resolving_to_any_internal_address():
    def dns(host, port):
        return {"hooks.example.com": ["93.184.216.34", "10.0.0.5"]}[host]

    with pytest.raises(TargetRefused, match="10.0.0.5 \\(private\\)"):
        check_target("https://hooks.example.com/x", resolve=dns)
    assert check_target("https://hooks.example.com/x", resolve=lambda h, p: ["93.184.216.34"]).ip == "93.184.216.34"


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "http://u:p@example.com/"])
def test_check_target_refuses_other_schemes_and_credentials(url):
    with pytest.raises(TargetRefused):
        check_target(url, resolve=lambda h, p: ["93.184.216.34"])


def test_metadata_stays_refused_even_when_private_targets_are_allowed(monkeypatch):
    monkeypatch.setenv("WAYFARE_WEBHOOK_ALLOW", "169.254.0.0/16")
    with pytest.raises(TargetRefused, match="metadata"):
        check_target("http://169.254.169.254/", allow_private=True)
    assert check_target("http://169.254.10.10/").ip == "169.254.10.10"  # the admin allowed that LAN range


def test_connection_is_pinned_to_the_checked_address():
    # "shop.invalid" does not exist in DNS: the request only arrives because it goes to the checked IP,
    # carrying the name in the Host header
    with Recorder() as rec:
        assert deliver(f"http://shop.invalid:{rec.port}/h", {}, "k", "id", allow_private=True,
                       resolve=lambda h, p: ["127.0.0.1"]) == 200
    assert rec.requests[0]["headers"]["Host"] == f"shop.invalid:{rec.port}"


def test_a_name_that_re_resolves_to_metadata_is_refused_on_retry(monkeypatch):
    monkeypatch.setenv("WAYFARE_WEBHOOK_ALLOW", "127.0.0.1/32")
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])
    with Recorder([(503, {}, b"")]) as rec:
        with pytest.raises(TargetRefused, match="metadata"):
            deliver(f"http://rebind.invalid:{rec.port}/", {}, "k", "id", resolve=lambda h, p: next(answers),
                    sleep=lambda s: None)
    assert len(rec.requests) == 1

"""Property-based fuzzing of the CSV importer and the YAML loaders: a result, or a clear wayfare error."""

from __future__ import annotations

import csv
import io
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wayfare.errors import WayfareError
from wayfare.ingest import run_import
from wayfare.store import Store
from wayfare.web.dashboard.automations import validate_yaml

HEADERS = ["email", "phone", "name", "user_id", "event", "timestamp", "date", "amount", "revenue", "order_id",
           "customer_id", "first_name", "channel", "rating", "comment", "x", "", "email"]
CELLS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["2026-11-01", "2026-13-45", "01/02/2026 10:00", "yesterday", "1e308", "-0", "NaN", "=1+1",
                     "a@b.c", "+44 7700 900123", "\x00", "\"", "\r\n", "null", "9" * 40, "1700000000000"]),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers().map(str),
)
_count = itertools.count()


@st.composite
def csv_files(draw) -> bytes:
    plausible = draw(st.booleans())
    if plausible:  # a good file with some hostile cells
        header = ["email", "event", "timestamp", "amount", "comment"]
        rows = []
        for i in range(draw(st.integers(1, 8))):
            row = [f"p{i}@example.org", "Order Completed", f"2026-11-0{i + 1}T10:00:00Z", "12.5",
                   draw(st.text(max_size=20))]
            if draw(st.integers(0, 3)) == 0:
                row[draw(st.integers(0, 4))] = draw(CELLS)
            rows.append(row)
    else:
        header = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6))
        rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=len(header) + 1), max_size=8))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    text = buf.getvalue()
    enc = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"] if plausible else ["utf-8", "latin-1", "utf-16"]))
    try:
        data = text.encode(enc)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    if not plausible and draw(st.booleans()):  # a half-written file
        data = data[: draw(st.integers(0, max(0, len(data))))]
    return data


def test_csv_importer_fuzzed_gives_result_or_wayfare_error(tmp_path):
    store = Store(tmp_path / "fuzz.db")
    scope = store.scope()
    outcomes = {"ok": 0, "refused": 0}

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=csv_files(), preset=st.sampled_from(["generic", "generic", "generic", "shopify-orders", "mailchimp-audience", "zendesk-tickets"]))
    def run(data: bytes, preset: str) -> None:
        p = tmp_path / f"f{next(_count)}.csv"
        p.write_bytes(data)
        before = scope.one("SELECT count(*) FROM events")[0]
        try:
            res = run_import(scope, p, preset=preset)
        except WayfareError as e:
            assert str(e)
            outcomes["refused"] += 1
            # a refused file leaves nothing partial behind
            assert scope.one("SELECT count(*) FROM events")[0] == before
        else:
            assert isinstance(res, dict)
            outcomes["ok"] += 1

    try:
        run()
    finally:
        store.close()
    assert outcomes["ok"] + outcomes["refused"] >= 100
    assert outcomes["refused"] > 0 and outcomes["ok"] > 0


YAML_SNIPPETS = st.sampled_from([
    "name: x\ntrigger: {event: A}\nsteps:\n  - wait: 1 day\n", "!!python/object/apply:os.system ['echo hi']",
    "a: &a [*a]", "&a [*a, *a, *a]", "- - - - - - - - - -", "{", "name: [", "\t\x00", "?", "steps: []",
    "name: n\ntrigger: t\nsteps: [{send: {template: '{{ \"\".__class__.__mro__ }}'}}]", "x: !!binary Zm9v",
    "b: &b {c: *b}", "1e400", "~", "''",
])


@settings(max_examples=150, deadline=None)
@given(text=st.one_of(YAML_SNIPPETS, st.text(max_size=200),
                      st.builds(lambda a, b: a + "\n" + b, YAML_SNIPPETS, st.text(max_size=40))))
def test_flow_yaml_loader_fuzzed_gives_result_or_wayfare_error(text):
    try:
        out = validate_yaml(text)
    except WayfareError as e:
        assert str(e)
    else:
        assert isinstance(out, dict)

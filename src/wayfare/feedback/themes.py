"""Themes: complaints and praise grouped under names a business owner would use ("slow service",
"friendly staff"), with counts, a trend and example quotes.

A theme is a topic (a pattern of words) read with the sentiment of the sentence it appears in: "the staff
were rude" lands in *rude staff*, "the staff were lovely" in *friendly staff*. Sentences that match no
topic are grouped by their most frequent content word pairs, so a new complaint still surfaces with a name.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .linear import split_sentences

__all__ = ["TOPICS", "Topic", "themes"]


@dataclass(frozen=True)
class Topic:
    key: str
    praise: str  # the theme's name when people are pleased
    complaint: str  # ... and when they are not
    pattern: str

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern, re.IGNORECASE)


TOPICS: tuple[Topic, ...] = (
    Topic("speed", "quick service", "slow service",
          r"\b(wait(ed|ing)?|slow(ly)?|quick(ly)?|fast|prompt|took (ages|forever|seconds)|minutes|delay(ed)?|queue|on time|overwhelmed)\b"),
    Topic("staff", "friendly staff", "rude staff",
          r"\b(staff|team|waiter|waitress|server|stylist|employee|manager|rude|friendly|welcom\w*|attentive|dismissive|polite|helpful|unhelpful)\b"),
    Topic("order", "orders right", "order mistakes",
          r"\b(order (was )?wrong|wrong order|missing|forgot(ten)?|mix(ed)?[ -]?up|incorrect|items? (were )?missing|cold when)\b"),
    Topic("quality", "great quality", "poor quality",
          r"\b(quality|delicious|tasty|fresh|bland|stale|burnt|beautifully done|well made|fell apart|broke|cheaply made|poorly made)\b"),
    Topic("price", "good value", "too expensive",
          r"\b(price[ds]?|pricey|expensive|overpriced|cheap|value|worth|afford\w*|portions?|money)\b"),
    Topic("booking", "easy booking", "booking problems",
          r"\b(book(ing|ed)?|reservation|reserve|appointment|online ordering|app)\b"),
    Topic("delivery", "fast delivery", "delivery problems",
          r"\b(deliver(y|ed)?|driver|courier|shipping|shipped|parcel|package|arrived (late|early|quickly|on time|damaged)|dispatch\w*)\b"),
    Topic("atmosphere", "lovely atmosphere", "noisy or uncomfortable",
          r"\b(atmosphere|ambien\w+|cos[yi]|noisy|loud|music|decor|relax\w*|cramped|comfortable)\b"),
    Topic("cleanliness", "clean", "dirty", r"\b(clean\w*|dirty|filthy|hygien\w*|toilets?|smell\w*)\b"),
    Topic("fit", "great fit", "sizing and fit problems",
          r"\b(fits?|fitted|sizing|sized?|runs (small|large|big)|too (small|big|large|tight|loose|short|long)|petite|tight|loose)\b"),
    Topic("material", "lovely fabric", "fabric problems",
          r"\b(fabric|material|cotton|linen|wool|itchy|thin|see[- ]through|soft|stretchy|lining)\b"),
    Topic("support", "helpful support", "support not answering",
          r"\b(support|customer service|no (answer|reply|response)|nobody (answered|replied|called)|call(ed)? (twice|again)|following up|still no|refund|chas(e|ed|ing))\b"),
    Topic("look", "looks great", "looks disappointing",
          r"\b(colou?rs?|pattern|print|design|style|looks?|flattering|cute|gorgeous|beautiful)\b"),
)

_STOP = set("""a an the and or but if so to of in on at for with from by as is are was were be been it its it's this that
these those i me my we our you your he she they them their there here very really just too not no yes do did does
had has have having would could should will can also all any more most some such than then out up down over again
get got one two im i'm ive i've dont don't didnt didn't wasnt wasn't what when which who how about after before
into only own same other much many even still us went go going well""".split())
_WORD = re.compile(r"[a-z][a-z'\-]+")


def _pairs(sentence: str) -> list[str]:
    words = [w for w in _WORD.findall(sentence.lower()) if w not in _STOP and len(w) > 2]
    return [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def themes(frame: pd.DataFrame, sentiment: np.ndarray | None = None, *, score_fn=None, end: pd.Timestamp | None = None,
           window_days: int = 90, quotes: int = 3, min_count: int = 3) -> list[dict[str, Any]]:
    """Themes of the texts in ``frame`` (columns ``text`` and ``ts``; optional ``person_id``, ``event``).

    ``score_fn(list_of_sentences) -> scores in [-1, 1]`` gives each sentence its sentiment (the theme's polarity)."""
    df = frame.loc[frame["text"].notna(), [c for c in ("text", "ts", "person_id", "event") if c in frame]].copy()
    if df.empty:
        return []
    df["ts"] = pd.to_datetime(df["ts"])
    rows: list[tuple[int, str]] = [(i, s) for i, t in zip(range(len(df)), df["text"], strict=True) for s in split_sentences(t)]
    owner = np.array([i for i, _ in rows])
    sents = [s for _, s in rows]
    # identical sentences are scored once (feedback repeats itself a lot)
    uniq = {s: k for k, s in enumerate(dict.fromkeys(sents))}
    uscore = np.asarray(score_fn(list(uniq))) if score_fn is not None else np.zeros(len(uniq))
    sscore = uscore[np.fromiter((uniq[s] for s in sents), np.int64, len(sents))]
    ts = df["ts"].to_numpy()
    end = end if end is not None else df["ts"].max()
    w = np.timedelta64(window_days, "D")
    end64 = np.datetime64(end)
    in_last = (ts > end64 - w)
    in_prev = (ts > end64 - 2 * w) & (ts <= end64 - w)
    n_last, n_prev = int(in_last.sum()), int(in_prev.sum())
    matched = np.zeros(len(sents), bool)
    found: dict[tuple[str, str], list[int]] = {}
    ulist = list(uniq)
    sidx = np.fromiter((uniq[s] for s in sents), np.int64, len(sents))
    for topic in TOPICS:  # match each distinct sentence once
        rx = topic.regex
        hit = np.fromiter((rx.search(u) is not None for u in ulist), bool, len(ulist))[sidx]
        matched |= hit
        neg = np.flatnonzero(hit & (sscore <= -0.05))
        pos = np.flatnonzero(hit & (sscore >= 0.05))
        if len(neg):
            found.setdefault((topic.complaint, "complaint"), []).extend(neg.tolist())
        if len(pos):
            found.setdefault((topic.praise, "praise"), []).extend(pos.tolist())
    # unmatched complaints and praise: the most frequent word pairs name new themes
    for polarity, sign in (("complaint", -1), ("praise", 1)):
        idx = [j for j in range(len(sents)) if not matched[j] and sign * sscore[j] >= 0.05]
        counts = Counter(p for j in idx for p in dict.fromkeys(_pairs(sents[j])))
        first = {}
        for j in idx:
            for k, p in enumerate(_pairs(sents[j])):
                first.setdefault(p, (j, k))
        taken: set[int] = set()
        # most frequent first; ties go to the pair that came first (deterministic, and it reads as a noun phrase)
        for pair, c in sorted(counts.items(), key=lambda kv: (-kv[1], first[kv[0]]))[:8]:
            if c < min_count:
                break
            members = [j for j in idx if j not in taken and pair in _pairs(sents[j])]
            if len(members) >= min_count:
                taken.update(members)
                found[(pair, polarity)] = members
    out = []
    total_texts = len(df)
    for (name, polarity), members in found.items():
        texts_idx = np.unique(owner[members])
        if len(texts_idx) < min_count:
            continue
        last = int(in_last[texts_idx].sum())
        prev = int(in_prev[texts_idx].sum())
        rate_last = last / n_last if n_last else None
        rate_prev = prev / n_prev if n_prev else None
        direction = None
        if rate_last is not None and rate_prev is not None:
            se = np.sqrt((rate_last * (1 - rate_last) / max(n_last, 1)) + (rate_prev * (1 - rate_prev) / max(n_prev, 1)))
            diff = rate_last - rate_prev
            direction = "rising" if diff > 1.96 * se and diff > 0 else "falling" if -diff > 1.96 * se else "steady"
        members_sorted = sorted(members, key=lambda j: sscore[j] if polarity == "complaint" else -sscore[j])
        qs, seen = [], set()
        for j in members_sorted:
            if sents[j] not in seen:
                seen.add(sents[j])
                qs.append(sents[j])
            if len(qs) >= quotes:
                break
        people = df["person_id"].iloc[texts_idx].nunique() if "person_id" in df else None
        out.append({"theme": name, "polarity": polarity, "mentions": int(len(texts_idx)), "people": people,
                    "share_pct": round(100 * len(texts_idx) / total_texts, 1),
                    "mean_sentiment": round(float(np.mean(sscore[members])), 3),
                    "last_window": last, "previous_window": prev,
                    "rate_last_pct": None if rate_last is None else round(100 * rate_last, 1),
                    "rate_previous_pct": None if rate_prev is None else round(100 * rate_prev, 1),
                    "trend": direction, "quotes": qs,
                    "events": sorted(df["event"].iloc[texts_idx].dropna().unique().tolist()) if "event" in df else []})
    out.sort(key=lambda t: (-t["mentions"], t["theme"]))
    return out

"""Words: tokenising, a light stemmer, typo-tolerant matching, and a small sentiment lexicon.

Nothing here knows about a particular business: the vocabulary that typos are corrected towards is the
knowledge base's own, and the only built-in word lists are English stop words, a handful of general
synonym groups, and the words people use when they are upset or want a person.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["tokens", "content_tokens", "stem", "trigrams", "similar", "sentiment", "wants_person",
           "asks_order_status", "is_greeting", "STOP"]

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

STOP = frozenset("""
a an the and or but if of to in on at by for with about from into over after before under between up down out
is are was were be been being am do does did doing have has had having can could would should will shall may might
must i me my mine we us our ours you your yours he him his she her it its they them their this that these those
there here what which who whom whose when where why how any some all each every no not nor only own same so than
too very just also as s t don't doesn't isn't i'm i'd i've you're it's what's there's let's please hi hello hey
thanks thank tell know want wondering wonder question ask like would get got one ok okay yes yeah
back bring need needs offer offers available possible allowed allow anything something someone guys also really
""".split())

# general-purpose groups (not tied to one business); the knowledge base adds its own from its questions
SYNONYMS: list[set[str]] = [
    {"price", "cost", "charge", "fee", "much", "expensive", "pricing"},
    {"open", "hour", "opening", "closing"},
    {"book", "booking", "reserve", "reservation", "table"},
    {"child", "kid", "children", "kids", "baby", "toddler", "family"},
    {"vegan", "vegetarian", "plant", "dairy"},
    {"gluten", "coeliac", "celiac", "wheat"},
    {"allergy", "allergen", "allergic", "intolerance"},
    {"park", "parking", "car", "drive"},
    {"wheelchair", "accessible", "accessibility", "disabled", "step", "ramp", "mobility"},
    {"deliver", "delivery", "takeaway", "takeout", "courier", "ship", "shipping"},
    {"refund", "money", "return", "compensation"},
    {"voucher", "gift", "card", "certificate"},
    {"cater", "catering", "event", "party", "function", "group", "large"},
    {"pay", "payment", "card", "cash"},
    {"dog", "pet", "animal"},
    {"buy", "purchase", "sell", "stock"},
    {"cancel", "cancellation", "change", "reschedule", "amend"},
    {"address", "location", "find", "located", "direction"},
    {"phone", "call", "number", "contact", "email"},
]

_NEG = {
    "terrible": 3, "awful": 3, "horrible": 3, "disgusting": 3, "worst": 3, "furious": 3, "outraged": 3,
    "unacceptable": 3, "ridiculous": 2, "appalling": 3, "rude": 2, "angry": 2, "disappointed": 2,
    "disappointing": 2, "useless": 2, "hate": 3, "scam": 3, "pathetic": 3, "shocking": 2, "sick": 2,
    "poisoning": 3, "poisoned": 3, "cold": 1, "late": 1, "never": 1, "wrong": 1, "bad": 1, "poor": 1,
    "complaint": 1, "complain": 1, "upset": 2, "annoyed": 2, "fed": 1, "joke": 1, "waste": 2, "stupid": 2,
    "rubbish": 2, "crap": 3, "sucks": 2, "ruined": 3, "refund": 1, "lawyer": 3, "sue": 3, "nightmare": 3,
    "unhappy": 2, "dreadful": 3, "inedible": 3, "overcharged": 2, "insulting": 3, "hair": 1, "still": 1,
}
_POS = {"great": 2, "love": 2, "lovely": 2, "excellent": 3, "amazing": 3, "good": 1, "thanks": 1, "thank": 1,
        "wonderful": 3, "perfect": 2, "delicious": 2, "happy": 1}
_NEGATORS = {"not", "no", "never", "isn't", "wasn't", "don't", "didn't", "hardly"}

_PERSON = re.compile(
    r"\b(human|real person|(want|need|get|see|ask for|reach|contact) (a|an|the) (person|agent|human)|live (agent|person|chat)|agent|operator|someone (real|else)|"
    r"speak (to|with) (someone|somebody|a|the|your)|(talk|chat) (to|with) (someone|somebody|a|the|your)|"
    r"staff member|member of staff|manager|customer service|representative|call me|contact me|"
    r"^\W*(a )?(person|human|agent|operator|someone|staff)\b|(person|human|agent|someone) please)\b")
_ORDER = re.compile(
    r"\b(where('s| is)? (my|our) (order|food|delivery|parcel|package)|(status|progress) of (my|our) (order|delivery)|"
    r"(my|our) (order|delivery)('s)? status|track(ing)? (my|our) (order|delivery)|"
    r"(has|did) (my|our) (order|food|delivery) (arrive|ship|leave|go)|when will (my|our) (order|food|delivery)|"
    r"(my|our) (order|food|delivery) (is|was|has)( still)? (late|not here|delayed|taking))\b")
_GREET = re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening)|hiya|yo)\b[\s!.,]*$")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return text.lower().replace("\u2019", "'")


_HYPHENATED = re.compile(r"\b([a-z0-9]+)-([a-z0-9]+)\b")


def tokens(text: str) -> list[str]:
    """Words; a hyphenated word also counts joined ("wi-fi" is "wi", "fi" and "wifi")."""
    t = normalise(text)
    return _WORD.findall(t) + [a + b for a, b in _HYPHENATED.findall(t)]


@lru_cache(maxsize=65536)
def stem(w: str) -> str:
    """A light suffix stripper: enough to meet 'bookings'/'booking'/'booked' at 'book'."""
    if len(w) <= 3 or w.isdigit():
        return w
    if w.endswith("'s"):
        w = w[:-2]
    for suf, rep in (("ies", "y"), ("sses", "ss"), ("shes", "sh"), ("ches", "ch"), ("xes", "x")):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            w = w[: len(w) - len(suf)] + rep
            break
    else:
        if w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) >= 4:
            w = w[:-1]
    for suf, rep in (("ied", "y"), ("ing", ""), ("ed", ""), ("ly", ""), ("ation", "ate"), ("ment", "")):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            w = w[: len(w) - len(suf)] + rep
            break
    if len(w) > 4 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):  # bike/bikes/biked all meet at "bik"
        w = w[:-1]
    return w


def content_tokens(text: str) -> list[str]:
    return [stem(t) for t in tokens(text) if t not in STOP]


def trigrams(w: str) -> set[str]:
    w = f"#{w}#"
    return {w[i : i + 3] for i in range(len(w) - 2)}


def _edit_distance(a: str, b: str, limit: int) -> int:
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:  # transposition
                cur[j] = min(cur[j], prev[j - 2] + 1 if j >= 2 else cur[j])
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def similar(a: str, b: str) -> float:
    """How alike two words are, 0..1: 1 for equal, ~0.8 for one typo in a long word, 0 for unrelated."""
    if a == b:
        return 1.0
    if min(len(a), len(b)) < 3 or max(len(a), len(b)) < 4:
        return 0.0
    limit = 1 if max(len(a), len(b)) <= 7 else 2
    d = _edit_distance(a, b, limit)
    if d > limit:
        return 0.0
    return 1.0 - d / (max(len(a), len(b)) + 1)


def sentiment(text: str) -> float:
    """-1 (furious) .. +1 (delighted) from a small lexicon with negation, shouting and '!!!' as intensifiers."""
    raw = text or ""
    toks = tokens(raw)
    score = 0.0
    for i, t in enumerate(toks):
        w = _NEG.get(t, 0) * -1 or _POS.get(t, 0)
        if not w:
            continue
        if any(p in _NEGATORS for p in toks[max(0, i - 3) : i]):
            w = -w * 0.7
        score += w
    letters = [c for c in raw if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7:
        score -= 2
    if "!!" in raw:
        score -= 1 if score < 0 else 0
    return max(-1.0, min(1.0, score / 6.0))


def wants_person(text: str) -> bool:
    return bool(_PERSON.search(normalise(text)))


def asks_order_status(text: str) -> bool:
    return bool(_ORDER.search(normalise(text)))


def is_greeting(text: str) -> bool:
    return bool(_GREET.match(normalise(text)))

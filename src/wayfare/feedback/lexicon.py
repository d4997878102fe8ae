"""A small lexicon of words about service that review sentences from phones, films and restaurants
rarely teach a model (late, rude, refund, convenient ...). Each word adds its weight to a sentence's
log-odds; a negation up to three words before it ("not friendly", "never late") flips the sign.
"""

from __future__ import annotations

import re

__all__ = ["LEXICON", "lexicon_logodds"]

_POS = {
    2.0: "excellent outstanding superb fantastic amazing wonderful brilliant perfect delicious lovely gorgeous",
    1.5: "friendly welcoming helpful attentive convenient efficient quick fast prompt easy reliable recommend "
         "recommended love loved loves great beautiful comfortable cosy cozy tasty fresh clean spotless generous "
         "professional polite kind pleased happy delighted impressed smooth seamless flawless",
    1.0: "good nice fine enjoyed enjoy tidy reasonable affordable bargain worth value soft flattering fits",
}
_NEG = {
    2.0: "terrible awful horrible disgusting appalling dreadful worst rude useless unacceptable disappointing "
         "disappointed furious",
    1.5: "late slow delayed cold wrong missing lost broken damaged dirty filthy frustrating frustrated annoying "
         "annoyed overpriced expensive rip-off ripoff dismissive unhelpful ignored complaint complained refund "
         "cancelled canceled poor bad waited waiting stale burnt bland noisy cramped unreliable faulty defective "
         "return returned returning unfortunately sadly cheap",
    1.0: "pricey tiny small tight itchy thin wait queue problem issue mistake error confusing",
}
LEXICON: dict[str, float] = {}
for w, words in _POS.items():
    LEXICON.update({t: w for t in words.split()})
for w, words in _NEG.items():
    LEXICON.update({t: -w for t in words.split()})

_NEGATORS = {"not", "no", "never", "nothing", "hardly", "isn't", "wasn't", "aren't", "weren't", "don't",
             "didn't", "doesn't", "won't", "can't", "couldn't", "nor", "without", "isnt", "wasnt", "didnt", "dont"}
_TOKEN = re.compile(r"[a-z][a-z'\-]*")


def lexicon_logodds(sentence: str, scale: float = 1.0) -> float:
    toks = _TOKEN.findall(sentence.lower())
    total = 0.0
    for i, t in enumerate(toks):
        w = LEXICON.get(t)
        if w is None:
            continue
        if any(p in _NEGATORS for p in toks[max(0, i - 3):i]):
            w = -0.5 * w
        total += w
    return scale * total

"""BM25 retrieval that survives typos and paraphrases, with a confidence calibrated to [0, 1].

Query words are stemmed; a word the knowledge base does not contain is corrected towards the closest
words it does contain (edit distance, found through a trigram index); general synonym groups and the
knowledge base's own questions widen the query. The confidence is the share of the question's
information (IDF mass) that the best passage covers, damped when little evidence or two passages tie:
a question about something the knowledge base never mentions leaves most of its mass uncovered.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from .kb import Passage
from .text import STOP, SYNONYMS, content_tokens, similar, stem, tokens, trigrams

__all__ = ["Index", "Hit"]

K1, B = 1.2, 0.75
TITLE_WEIGHT = 3


@dataclass
class Hit:
    passage: Passage
    score: float
    confidence: float
    matched: list[str]


class Index:
    """An in-memory BM25 index over passages (title and questions weigh more than the body)."""

    def __init__(self, passages: list[Passage]):
        self.passages = passages
        self.docs: list[Counter] = []
        for p in passages:
            toks = content_tokens(p.text)
            head = content_tokens(" ".join([p.title, *p.questions]))
            c = Counter(toks)
            for t in head:
                c[t] += TITLE_WEIGHT
            self.docs.append(c)
        self.lengths = [sum(c.values()) for c in self.docs]
        self.avgdl = (sum(self.lengths) / len(self.lengths)) if self.lengths else 1.0
        self.df: Counter = Counter()
        for c in self.docs:
            self.df.update(c.keys())
        self.n = len(self.docs)
        self.rare = math.log(1 + (self.n - 0.5) / 1.5) if self.n else 1.0  # the idf of a word in one passage
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, c in enumerate(self.docs):
            for t, f in c.items():
                self.postings[t].append((i, f))
        self.synonyms = self._synonyms()
        # typos are corrected towards the knowledge base's words and towards synonyms of them
        self.grams: dict[str, set[str]] = defaultdict(set)
        for t in set(self.df) | {w for w, syn in self.synonyms.items() if syn & self.df.keys()}:
            if len(t) >= 4 and not t.isdigit():
                for g in trigrams(t):
                    self.grams[g].add(t)
        self._fuzzy: dict[str, list[tuple[str, float]]] = {}

    def idf(self, term: str) -> float:
        n = self.df.get(term, 0)
        return math.log(1 + (self.n - n + 0.5) / (n + 0.5))

    def _synonyms(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for group in SYNONYMS:
            g = {stem(w) for w in group}
            for w in g:
                out[w] |= g - {w}
        # the knowledge base's own paraphrases: questions that share one answer ("Do you rent bikes?",
        # "Can I hire a bicycle?") pair up the words they do not share (rent~hire, bike~bicycle)
        for p in self.passages:
            qs = [set(content_tokens(q)) for q in p.questions[:20]]
            for i, a in enumerate(qs):
                for b in qs[i + 1 :]:
                    only_a, only_b = a - b, b - a
                    if 0 < len(only_a) <= 3 and 0 < len(only_b) <= 3:
                        for x in only_a:
                            out[x] |= only_b
                        for y in only_b:
                            out[y] |= only_a
        return out

    def _variants(self, term: str, raw_len: int = 0) -> list[tuple[str, float]]:
        """Index terms that stand for ``term``: itself, typo corrections, synonyms, each with a weight."""
        out: dict[str, float] = {}
        if term in self.df:
            out[term] = 1.0
        elif max(raw_len, len(term)) >= 5 or (len(term) == 4 and raw_len >= 4):
            out.update(dict(self._correct(term)))
        for base, w in [*out.items(), (term, 1.0)]:
            for s in self.synonyms.get(base, ()):
                if s in self.df and s not in out:
                    out[s] = 0.7 * w
        return sorted(out.items(), key=lambda kv: -kv[1])

    def _correct(self, term: str) -> list[tuple[str, float]]:
        if term in self._fuzzy:
            return self._fuzzy[term]
        best: list[tuple[str, float]] = []
        if len(term) >= 3 and not term.isdigit():
            cands: Counter = Counter()
            for g in trigrams(term):
                for t in self.grams.get(g, ()):
                    cands[t] += 1
            scored = [(t, similar(term, t)) for t, _ in cands.most_common(40)]
            scored = [(t, s) for t, s in scored if s >= 0.7]
            if scored:
                top = max(s for _, s in scored)
                best = [(t, s) for t, s in scored if s >= top - 1e-9][:3]
            if not best and len(term) >= 7:  # a compound written as one word: "giftcard"
                for i in range(3, len(term) - 2):
                    a, b = term[:i], stem(term[i:])
                    if a in self.df and b in self.df:
                        best = [(a, 0.9), (b, 0.9)]
                        break
            if not best:  # a typo that stemming changed: try prefixes
                for t in self.df:
                    if len(t) >= 4 and (term.startswith(t) or t.startswith(term)) and abs(len(t) - len(term)) <= 3:
                        best.append((t, 0.75))
                best = best[:3]
        if len(self._fuzzy) < 50_000:
            self._fuzzy[term] = best
        return best

    def search(self, question: str, k: int = 3, allowed: set[int] | None = None) -> list[Hit]:
        raw = [t for t in tokens(question) if t not in STOP]
        q = [stem(t) for t in raw]
        longest = {}
        for r, t in zip(raw, q, strict=True):
            longest[t] = max(longest.get(t, 0), len(r))
        if not q or not self.n:
            return []
        scores = [0.0] * self.n
        per_doc: list[dict[str, float]] = [dict() for _ in range(self.n)]
        mass = 0.0
        seen: set[str] = set()
        for term in q:
            if term in seen:
                continue
            seen.add(term)
            variants = self._variants(term, longest[term])
            # a word the knowledge base never uses counts, but less than a matched one: filler words
            # ("nearby", "tonight") should not sink a clear question; many of them should
            w_idf = max((self.idf(v) for v, _ in variants), default=0.6 * self.rare)
            mass += w_idf * (0.3 if term.isdigit() else 1.0)
            for v, w in variants:
                idf = self.idf(v)
                for i, f in self.postings.get(v, ()):
                    if allowed is not None and i not in allowed:
                        continue
                    tf = f * (K1 + 1) / (f + K1 * (1 - B + B * self.lengths[i] / self.avgdl))
                    scores[i] += w * idf * tf
                    cov = w * (0.3 if term.isdigit() else 1.0) * w_idf
                    if cov > per_doc[i].get(term, 0.0):
                        per_doc[i][term] = cov
        # Lucene's classic coord factor: a passage that covers more of the question ranks higher
        for i in range(self.n):
            if scores[i] > 0 and mass:
                scores[i] *= sum(per_doc[i].values()) / mass
        order = sorted((i for i in range(self.n) if scores[i] > 0), key=lambda i: -scores[i])[:k]
        hits = []
        top2 = scores[order[1]] if len(order) > 1 else 0.0
        for rank, i in enumerate(order):
            covered = sum(per_doc[i].values())
            coverage = covered / mass if mass else 0.0
            evidence = min(1.0, covered / (0.8 * self.rare))
            margin = 1.0 if rank else (1.0 - top2 / scores[i]) if scores[i] else 0.0
            conf = coverage * (0.55 + 0.45 * evidence) * (0.8 + 0.2 * min(1.0, margin * 3))
            hits.append(Hit(self.passages[i], scores[i], round(max(0.0, min(1.0, conf)), 3), sorted(per_doc[i])))
        return hits

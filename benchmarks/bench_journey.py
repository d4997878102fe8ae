"""Journey map timings on the 100k-customer restaurant demo, and sentiment balanced accuracies on real reviews.

Run: .venv/bin/python benchmarks/bench_journey.py [--customers 100000] [--skip-map] [--skip-sentiment] [--embeddings]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
if not SHARED.exists():
    SHARED = Path("/work/shared/data")


def timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{label:<48} {time.perf_counter() - t0:7.2f} s")
    return out


def bench_map(customers: int) -> None:
    from wayfare.demo import generate
    from wayfare.journey import export_map, open_view
    from wayfare.journey.features import person_features
    from wayfare.journey.personas import suggest_personas
    from wayfare.store import Store

    with tempfile.TemporaryDirectory() as d:
        s = Store(Path(d) / "b.db")
        sc = s.scope("default")
        info = timed(f"demo restaurant, {customers:,} customers", lambda: generate(sc, "restaurant", customers, seed=1))
        print(f"  {info['events']:,} events, {info['people']:,} people")
        view = timed("load the map data (default map, sentiment)", lambda: open_view(sc))
        m = timed("compute the map (all stages and touchpoints)", view.map)
        timed("compute the map for one persona", lambda: view.map("The Regular"))
        timed("persona comparison (5 personas)", view.comparison)
        pains = timed("pain points (incl. themes)", lambda: view.pain_points(m))
        timed("plan", view.plan)
        feat = timed("person features", lambda: person_features(sc, view.jm))
        timed("personas suggest (k-means, k=2..4)", lambda: suggest_personas(feat))
        timed("export HTML", lambda: export_map(Path(d) / "m.html", {"All": m}, pains))
        timed("export PNG", lambda: export_map(Path(d) / "m.png", {"All": m}, pains))
        s.close()


def bench_sentiment() -> None:
    from wayfare.feedback import general_model
    from wayfare.feedback.linear import NEUTRAL_BAND, LinearTextModel

    df = pd.read_csv(SHARED / "womens_clothing_reviews" / "womens_clothing_reviews_part_a.csv.gz")
    df = df.dropna(subset=["Review Text"])
    clear = df[df["Rating"] != 3]
    y = (clear["Rating"] >= 4).astype(int).to_numpy()
    texts = clear["Review Text"].tolist()
    s = timed(f"general model, {len(texts):,} clear reviews", lambda: general_model().score(texts))
    lab = np.where(s >= NEUTRAL_BAND, 1, np.where(s <= -NEUTRAL_BAND, 0, -1))
    strict = 0.5 * (((lab == 1) & (y == 1)).sum() / (y == 1).sum() + ((lab == 0) & (y == 0)).sum() / (y == 0).sum())
    print(f"  general: balanced accuracy {balanced_accuracy_score(y, s > 0):.3f} (sign); "
          f"{strict:.3f} counting 'neutral' labels as wrong ({(lab == -1).mean():.1%} neutral)")
    titled = (clear["Title"].fillna("") + ". " + clear["Review Text"]).tolist()
    print(f"  general, title + text: {balanced_accuracy_score(y, general_model().score(titled) > 0):.3f}")
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        va = SentimentIntensityAnalyzer()
        v = np.array([va.polarity_scores(t)["compound"] for t in texts])
        print(f"  VADER alone (compound > 0.05): {balanced_accuracy_score(y, v > 0.05):.3f}")
    except ImportError:
        print("  VADER not installed: skipped")
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(texts))
    cut = int(0.7 * len(idx))
    tr, te = idx[:cut], idx[cut:]
    m = timed(f"train on the shop's own {cut:,} reviews", lambda: LinearTextModel().fit([texts[i] for i in tr], y[tr]))
    p = m.score([texts[i] for i in te])
    print(f"  trained: balanced accuracy on {len(te):,} unseen reviews {balanced_accuracy_score(y[te], p > 0):.3f}; "
          f"the general model on the same {balanced_accuracy_score(y[te], s[te] > 0):.3f}")


def bench_embeddings() -> None:
    """The optional tier (pip install 'wayfare[embeddings]'): MiniLM embeddings + logistic regression."""
    from wayfare.feedback import EmbeddingTextModel
    from wayfare.feedback.embedding import load_encoder
    from wayfare.feedback.train_general import DEFAULT_DATA, load_sentences

    encode, device = load_encoder()
    sents, ys = load_sentences(DEFAULT_DATA)
    df = pd.read_csv(SHARED / "womens_clothing_reviews" / "womens_clothing_reviews_part_a.csv.gz")
    clear = df.dropna(subset=["Review Text"])
    clear = clear[clear["Rating"] != 3]
    y = (clear["Rating"] >= 4).astype(int).to_numpy()
    Xs = timed(f"encode {len(sents):,} UCI sentences on {device}", lambda: encode(sents))
    Xc = timed(f"encode {len(y):,} clothing reviews on {device}", lambda: encode(clear["Review Text"].tolist()))
    g = EmbeddingTextModel(class_weight=None).fit_encoded(Xs, ys)
    print(f"  embedding head trained on UCI sentences: {balanced_accuracy_score(y, g.decision_encoded(Xc) > 0):.3f}")
    idx = np.random.default_rng(0).permutation(len(y))
    cut = int(0.7 * len(idx))
    m = EmbeddingTextModel().fit_encoded(Xc[idx[:cut]], y[idx[:cut]])
    print(f"  embedding head trained on the shop's reviews: "
          f"{balanced_accuracy_score(y[idx[cut:]], m.decision_encoded(Xc[idx[cut:]]) > 0):.3f} on unseen reviews")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--skip-map", action="store_true")
    ap.add_argument("--skip-sentiment", action="store_true")
    ap.add_argument("--embeddings", action="store_true", help="also the optional embedding tier (slow on CPU)")
    a = ap.parse_args()
    if a.embeddings:
        bench_embeddings()
    if not a.skip_sentiment:
        bench_sentiment()
    if not a.skip_map:
        bench_map(a.customers)

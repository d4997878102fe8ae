"""Build the general sentiment model that ships inside the package (``general_model.json``).

Trained on the UCI "Sentiment Labelled Sentences" (Kotzias et al., KDD 2015; CC BY 4.0): 3,000 English
sentences from Amazon, Yelp and IMDb reviews, labelled positive or negative. TF-IDF over words and word
pairs, logistic regression; long texts are scored sentence by sentence and averaged. A small lexicon of
service words these sentences lack (``lexicon.py``) is added on top when scoring.

    python -m wayfare.feedback.train_general [DATA_DIR] [--evaluate CLOTHING_REVIEWS.csv.gz]

Re-running it on the same data writes the same file.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from .linear import LinearTextModel

OUT = Path(__file__).with_name("general_model.json")
DEFAULT_DATA = Path(os.environ.get("WAYFARE_SHARED_DATA", "/work/shared/data")) / "sentiment_labelled_sentences"
FILES = ("amazon_cells_labelled.txt", "imdb_labelled.txt", "yelp_labelled.txt")


def load_sentences(data_dir: Path) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for name in FILES:
        with open(data_dir / name, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if "\t" not in line:
                    continue
                text, label = line.rsplit("\t", 1)
                if label.strip() in ("0", "1"):
                    texts.append(text.strip())
                    labels.append(int(label))
    return texts, np.asarray(labels)


def train(data_dir: Path = DEFAULT_DATA) -> LinearTextModel:
    texts, y = load_sentences(data_dir)
    model = LinearTextModel(ngram_range=(1, 2), min_df=2, max_features=None, C=10.0, class_weight=None,
                            by_sentence=True, lexicon_scale=0.5)
    model.fit(texts, y)
    model.meta = {"name": "general", "trained_on": "UCI Sentiment Labelled Sentences (Kotzias et al. 2015), CC BY 4.0",
                  "sentences": len(texts), "positive": int(y.sum())}
    return model


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", nargs="?", default=str(DEFAULT_DATA))
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    model = train(Path(args.data_dir))
    Path(args.out).write_text(json.dumps(model.to_dict(), separators=(",", ":")))
    print(f"wrote {args.out}: {len(model.vocabulary_)} terms, {Path(args.out).stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()

"""Churn risk on a people table with a label trait: cross-validated evaluation without protected attributes."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Attributes that are never used as model features. Extend with WAYFARE_PROTECTED (comma-separated) or by
# appending to this list.
PROTECTED_ATTRIBUTES = ["gender", "sex", "seniorcitizen", "age", "birthday", "date_of_birth", "race",
                        "ethnicity", "religion", "nationality", "disability", "marital_status", "pregnancy",
                        "sexual_orientation"]
IDENTIFIERS = ["customerid", "email", "phone", "name", "first_name", "last_name", "user_id", "address"]


def protected() -> set[str]:
    import os
    extra = [s.strip().lower() for s in os.environ.get("WAYFARE_PROTECTED", "").split(",") if s.strip()]
    return {p.lower() for p in PROTECTED_ATTRIBUTES} | set(extra)


def _features(df: pd.DataFrame, label: str) -> pd.DataFrame:
    drop = protected() | set(IDENTIFIERS) | {label.lower()}
    cols = [c for c in df.columns if c.lower() not in drop]
    X = df[cols].copy()
    num, cat = [], []
    for c in cols:
        conv = pd.to_numeric(X[c].replace(r"^\s*$", np.nan, regex=True), errors="coerce")
        nonnull = X[c].notna() & (X[c].astype(str).str.strip() != "")
        if nonnull.sum() and conv[nonnull].notna().mean() > 0.95:
            X[c] = conv.fillna(0.0)
            num.append(c)
        else:
            X[c] = X[c].astype(str)
            cat.append(c)
    return pd.get_dummies(X, columns=cat, drop_first=True, dtype=float)


def _label(s: pd.Series) -> np.ndarray:
    yes = {"yes", "true", "1", "churned", "y"}
    return s.astype(str).str.strip().str.lower().isin(yes).to_numpy(int)


def evaluate_churn(df: pd.DataFrame, label: str, folds: int = 5, seed: int = 0) -> dict:
    """5-fold cross-validated ROC AUC, calibration curve and top-decile lift."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = _features(df, label)
    y = _label(df[label])
    oof = np.zeros(len(y))
    aucs = []
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        m = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        m.fit(X.iloc[tr], y[tr])
        oof[te] = m.predict_proba(X.iloc[te])[:, 1]
        aucs.append(roc_auc_score(y[te], oof[te]))
    order = np.argsort(-oof)
    top = order[: max(1, len(y) // 10)]
    lift = float(y[top].mean() / y.mean()) if y.mean() > 0 else None
    bins = np.clip((oof * 10).astype(int), 0, 9)
    calib = [{"bin": f"{b / 10:.1f}-{(b + 1) / 10:.1f}", "n": int((bins == b).sum()),
              "predicted": float(oof[bins == b].mean()), "observed": float(y[bins == b].mean())}
             for b in range(10) if (bins == b).any()]
    by_segment = {}
    for c in (c for c in df.columns if c.lower() in protected()):
        segs = {}
        for v, idx in df.groupby(df[c].astype(str)).indices.items():
            if len(idx) >= 30 and 0 < y[idx].sum() < len(idx):
                segs[v] = {"n": int(len(idx)), "auc": float(roc_auc_score(y[idx], oof[idx])),
                           "churn_rate": float(y[idx].mean()), "mean_score": float(oof[idx].mean())}
        by_segment[c] = segs
    return {"model": "logistic_regression", "by_segment": by_segment, "folds": folds, "n": int(len(y)), "positives": int(y.sum()),
            "auc": float(np.mean(aucs)), "auc_sd": float(np.std(aucs)), "auc_pooled": float(roc_auc_score(y, oof)),
            "top_decile_lift": lift, "calibration": calib, "features": list(X.columns),
            "excluded_protected": sorted(c for c in df.columns if c.lower() in protected())}

"""Voice of the customer: NPS, CSAT, CES, themes, and sentiment scoring and training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ..errors import ValidationError
from . import app
from ._common import JsonOpt, WorkspaceOpt, console, emit, progress, scope

feedback_app = typer.Typer(help="Voice of the customer: NPS, CSAT, CES, sentiment and themes.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")

SinceOpt = typer.Option(None, "--since", help="Only feedback from this date on (YYYY-MM-DD).")


def _since(since: str | None) -> str | None:
    import pandas as pd

    if since is None:
        return None
    try:
        return pd.Timestamp(since).isoformat()
    except ValueError:
        raise ValidationError(f"not a date: {since!r}", where="--since") from None


def _ci(ci: list | None, unit: str = "") -> str:
    return "" if not ci or ci[0] is None else f"[{ci[0]}{unit}, {ci[1]}{unit}]"


def _trend_table(title: str, t: dict[str, Any], unit: str = "") -> None:
    if not t["by_month"]:
        return
    tab = Table(title=title)
    for c in ("month", "answers", "value", "95% interval"):
        tab.add_column(c, justify="right" if c != "month" else "left")
    for m in t["by_month"][-12:]:
        tab.add_row(m["month"], str(m["n"]), f"{m['value']}{unit}", _ci(m["ci95"], unit))
    console.print(tab)
    c = t["change"]
    if c:
        console.print(f"Last {c['window_days']} days {c['last']}{unit} vs {c['previous']}{unit} before: "
                      f"{c['diff']:+}{unit} {_ci(c['ci95'], unit)} → [bold]{c['direction']}[/bold]")


@feedback_app.command("nps")
def nps_cmd(since: str = SinceOpt, workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Net Promoter Score from survey answers (nps_score 0-10): promoters, passives, detractors, 95% interval, trend.

    Example: wayfare feedback nps --json
    """
    from ..feedback import metric_report

    data = metric_report(scope(workspace), "nps", _since(since))

    def render(d: dict) -> None:
        if not d["n"]:
            console.print("No NPS answers yet (events with an nps_score property).")
            return
        console.print(f"[bold]NPS {d['nps']:+}[/bold] {_ci(d['ci95'])} from {d['n']} answers: "
                      f"{d['promoters']} promoters ({d['promoters_pct']}%), {d['passives']} passives "
                      f"({d['passives_pct']}%), {d['detractors']} detractors ({d['detractors_pct']}%)")
        _trend_table("NPS by month", d["trend"])

    emit(data, json, render)


@feedback_app.command("csat")
def csat_cmd(since: str = SinceOpt, workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Customer satisfaction (csat_score 1-5): share satisfied (4-5) with a Wilson interval, mean, trend.

    Example: wayfare feedback csat --since 2026-01-01
    """
    from ..feedback import metric_report

    data = metric_report(scope(workspace), "csat", _since(since))

    def render(d: dict) -> None:
        if not d["n"]:
            console.print("No CSAT answers yet (events with a csat_score property).")
            return
        console.print(f"[bold]CSAT {d['csat_pct']}%[/bold] satisfied {_ci(d['ci95'], '%')} from {d['n']} answers; "
                      f"mean {d['mean']} of {d['scale']} {_ci(d['mean_ci95'])}")
        _trend_table("CSAT by month", d["trend"], "%")

    emit(data, json, render)


@feedback_app.command("ces")
def ces_cmd(since: str = SinceOpt, workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Customer effort score (ces_score 1-7, higher = easier): mean with a t interval, share finding it easy, trend.

    Example: wayfare feedback ces --json
    """
    from ..feedback import metric_report

    data = metric_report(scope(workspace), "ces", _since(since))

    def render(d: dict) -> None:
        if not d["n"]:
            console.print("No CES answers yet (events with a ces_score property).")
            return
        console.print(f"[bold]CES {d['ces']}[/bold] of {d['scale']} {_ci(d['ci95'])} from {d['n']} answers; "
                      f"{d['easy_pct']}% found it easy")
        _trend_table("CES by month", d["trend"])

    emit(data, json, render)


@feedback_app.command("themes")
def themes_cmd(since: str = SinceOpt, limit: int = typer.Option(15, "--limit", help="Themes shown."),
               workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Complaints and praise grouped into named themes, with counts, trend (last 90 days vs the 90 before) and quotes.

    Example: wayfare feedback themes --limit 10
    """
    from ..feedback import feedback_frame, themes

    sc = scope(workspace)
    with progress("Reading feedback") as update:
        f = feedback_frame(sc, _since(since))
        scorer = _scorer(sc)
        th = themes(f, score_fn=scorer[0])
        update(1, 1)
    data = {"texts": int(f["text"].notna().sum()), "sentiment_model": scorer[1], "themes": th[:limit]}

    def render(d: dict) -> None:
        tab = Table(title=f"Themes in {d['texts']} comments (sentiment model: {d['sentiment_model']})")
        for c in ("theme", "kind", "mentions", "share", "trend", "example"):
            tab.add_column(c)
        for t in d["themes"]:
            colour = "red" if t["polarity"] == "complaint" else "green"
            tab.add_row(f"[{colour}]{t['theme']}[/{colour}]", t["polarity"], str(t["mentions"]), f"{t['share_pct']}%",
                        t["trend"] or "", (t["quotes"] or [""])[0][:70])
        console.print(tab)

    emit(data, json, render)


def _scorer(sc):
    from ..feedback import score_texts

    probe = score_texts(["ok"], sc)

    def fn(texts: list[str]):
        return score_texts(texts, sc).scores

    return fn, probe.model


@feedback_app.command("train-sentiment")
def train_cmd(
    file: Path = typer.Argument(..., help="CSV (or .csv.gz, .tsv, .jsonl, .parquet, .xlsx) of your rated reviews."),
    text_column: str = typer.Option(..., "--text-column", help="The column with the review text."),
    rating_column: str = typer.Option(..., "--rating-column", help="The column with the star rating (1-5 or 0-10)."),
    positive_min: float = typer.Option(None, "--positive-min", help="Ratings at or above this are positive (default 4 of 5)."),
    negative_max: float = typer.Option(None, "--negative-max", help="Ratings at or below this are negative (default 2 of 5)."),
    kind: str = typer.Option("tfidf", "--kind", help="tfidf (default) or embedding (needs wayfare[embeddings]; GPU if any)."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Train a sentiment model on your own star-rated reviews; it is used automatically from then on.

    Ratings are free labels: 4-5 stars are positive, 1-2 negative, 3 left out. A fifth of the reviews is held
    back to measure balanced accuracy before the final model is fitted on all of them.

    Example: wayfare feedback train-sentiment reviews.csv --text-column "Review Text" --rating-column Rating
    """
    from ..feedback import read_table, train_sentiment

    sc = scope(workspace)
    df = read_table(file)
    with progress("Training on your reviews") as update:
        res = train_sentiment(sc, df, text_column, rating_column, source=file.name, positive_min=positive_min,
                              negative_max=negative_max, kind=kind)
        update(1, 1)

    def render(d: dict) -> None:
        console.print(f"Trained [bold]{d['model_id']}[/bold] on {d['rows_used']} reviews ({d['positive']} positive, "
                      f"{d['negative']} negative; {d['ignored_middle_or_empty']} in the middle or empty, left out).")
        console.print(f"Balanced accuracy on {d['holdout_rows']} held-back reviews: [bold]"
                      f"{d['balanced_accuracy_holdout']:.3f}[/bold] (the general model: "
                      f"{d['general_model_balanced_accuracy_holdout']:.3f}). Now active for workspace {workspace!r}.")

    emit(res, json, render)


@feedback_app.command("score-text")
def score_cmd(
    file: Path = typer.Argument(..., help="A CSV (or .csv.gz, .tsv, .jsonl, .parquet, .xlsx) with a text column."),
    column: str = typer.Option(..., "--column", help="The column with the text to score."),
    out: Path = typer.Option(None, "--out", help="Write the rows with sentiment and label to this CSV."),
    model: str = typer.Option("auto", "--model", help="auto (the workspace's trained model if any) or general."),
    limit: int = typer.Option(50, "--limit", help="Rows shown in the table (all rows in --json and --out)."),
    workspace: str = WorkspaceOpt,
    json: bool = JsonOpt,
) -> None:
    """Score each row's text: sentiment in [-1, 1] and a label positive / neutral / negative.

    Example: wayfare feedback score-text comments.csv --column comment --json
    """
    import pandas as pd

    from ..feedback import read_table, score_texts

    if model not in ("auto", "general"):
        raise ValidationError("choose auto or general", where=f"--model {model!r}")
    df = read_table(file)
    if column not in df.columns:
        raise ValidationError(f"no column {column!r} (columns: {', '.join(map(str, df.columns[:30]))})",
                              where=f"{file} --column")
    texts = [t if isinstance(t, str) else None for t in df[column].tolist()]
    scored = score_texts(texts, scope(workspace), model=model)
    df = df.copy()
    df["sentiment"] = [None if s != s else round(float(s), 4) for s in scored.scores]
    df["label"] = scored.labels
    if out:
        df.to_csv(out, index=False)
    labels = pd.Series(scored.labels).value_counts().to_dict()
    data = {"model": scored.model, "file": str(file), "column": column, "rows": len(df),
            "labels": {k: int(labels.get(k, 0)) for k in ("positive", "neutral", "negative")},
            "out": str(out) if out else None,
            "scored": [{"row": i, **{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}}
                       for i, r in enumerate(df.to_dict("records"))]}

    def render(d: dict) -> None:
        tab = Table(title=f"{d['rows']} rows scored with the {d['model']} model")
        tab.add_column("row", justify="right")
        tab.add_column("sentiment", justify="right")
        tab.add_column("label")
        tab.add_column(column)
        for r in d["scored"][:limit]:
            s = r["sentiment"]
            colour = {"positive": "green", "negative": "red"}.get(r["label"] or "", "white")
            tab.add_row(str(r["row"]), "" if s is None else f"{s:+.2f}", f"[{colour}]{r['label'] or ''}[/{colour}]",
                        str(r[column] or "")[:90])
        console.print(tab)
        console.print(f"positive {d['labels']['positive']}, neutral {d['labels']['neutral']}, "
                      f"negative {d['labels']['negative']}" + (f"; written to {d['out']}" if d["out"] else ""))

    emit(data, json, render)


@feedback_app.command("models")
def models_cmd(workspace: str = WorkspaceOpt, json: bool = JsonOpt) -> None:
    """Sentiment models trained for this workspace (the newest is active), with their held-out figures.

    Example: wayfare feedback models --json
    """
    from ..feedback import list_models

    data = {"models": list_models(scope(workspace))}

    def render(d: dict) -> None:
        if not d["models"]:
            console.print("Only the general model so far; train your own with `wayfare feedback train-sentiment`.")
        for m in d["models"]:
            console.print(f"{'*' if m['active'] else ' '} {m['model_id']} {m['trained_at']:%Y-%m-%d %H:%M} "
                          f"{m['source']}: {m['rows_used']} reviews, balanced accuracy "
                          f"{m['metrics'].get('balanced_accuracy_holdout')}")

    emit(data, json, render)

"""The voice of the customer: NPS, CSAT and CES with intervals and trends; sentiment (a general model shipped
with the package, and one trained on the business's own rated reviews); themes with counts and quotes."""

from .embedding import EmbeddingTextModel
from .linear import NEUTRAL_BAND, LinearTextModel, label_of
from .scores import ces, csat, nps, trend
from .sentiment import general_model, list_models, read_table, score_texts, train_sentiment, workspace_model
from .summary import metric_report, voice_summary
from .texts import feedback_frame
from .themes import TOPICS, themes

__all__ = [
    "NEUTRAL_BAND",
    "LinearTextModel",
    "EmbeddingTextModel",
    "label_of",
    "nps",
    "csat",
    "ces",
    "trend",
    "general_model",
    "workspace_model",
    "score_texts",
    "train_sentiment",
    "read_table",
    "list_models",
    "feedback_frame",
    "themes",
    "TOPICS",
    "voice_summary",
    "metric_report",
]


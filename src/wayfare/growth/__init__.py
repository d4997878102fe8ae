"""Growth loops: product recommendations, lead scoring and assignment, referrals, what-if forecasts."""

from .recommend import ItemKNN, Popularity, bought_together, evaluate, load_interactions, recommend_for

__all__ = ["ItemKNN", "Popularity", "bought_together", "evaluate", "load_interactions", "recommend_for"]

"""Predictions: BG/NBD + Gamma-Gamma CLV, churn risk with cross-validated evaluation."""

from .churn import PROTECTED_ATTRIBUTES, evaluate_churn
from .clv import BetaGeoFitter, GammaGammaFitter, customer_lifetime_value, rfm_summary
from .reasons import churn_reason
from .registry import list_models, save_model

__all__ = ["BetaGeoFitter", "GammaGammaFitter", "PROTECTED_ATTRIBUTES", "churn_reason", "customer_lifetime_value",
           "evaluate_churn", "list_models", "rfm_summary", "save_model"]

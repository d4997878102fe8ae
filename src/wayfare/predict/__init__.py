"""Predictions: BG/NBD + Gamma-Gamma CLV, churn risk with cross-validated evaluation."""

from .churn import PROTECTED_ATTRIBUTES, evaluate_churn
from .clv import BetaGeoFitter, GammaGammaFitter, rfm_summary

__all__ = ["BetaGeoFitter", "GammaGammaFitter", "PROTECTED_ATTRIBUTES", "evaluate_churn", "rfm_summary"]

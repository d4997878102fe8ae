"""Predictions: BG/NBD, Pareto/NBD and Gamma-Gamma CLV; churn risk and purchase propensity from LightGBM on
behavioural features with time-split evaluation and SHAP reasons; next best action with measured uplift."""

from .churn import PROTECTED_ATTRIBUTES, evaluate_churn
from .clv import BetaGeoFitter, GammaGammaFitter, customer_lifetime_value, rfm_summary
from .gbm import BehaviourModel, time_split
from .nba import ACTIONS, ContactLimits, measure_uplift
from .pareto import ParetoNBDFitter
from .reasons import churn_reason
from .registry import list_models, save_model
from .score import dashboard_lists, explain_person, score_customers, write_traits

__all__ = ["ACTIONS", "BehaviourModel", "BetaGeoFitter", "ContactLimits", "GammaGammaFitter", "PROTECTED_ATTRIBUTES",
           "ParetoNBDFitter", "churn_reason", "customer_lifetime_value", "dashboard_lists", "evaluate_churn",
           "explain_person", "list_models", "measure_uplift", "rfm_summary", "save_model", "score_customers",
           "time_split", "write_traits"]

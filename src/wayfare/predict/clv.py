"""BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma spend models, fitted by maximum likelihood.

The log-likelihood is vectorised and customers with identical (frequency, recency, T) are collapsed
into one row with a weight, so a million customers fit in seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, logsumexp


def rfm_summary(tx: pd.DataFrame, calibration_end: pd.Timestamp, unit_days: float = 7.0) -> pd.DataFrame:
    """Per customer: frequency (repeat purchase days), recency, T (weeks) and mean repeat value.

    tx has columns person_id, ts, revenue. Purchases on the same day count as one (values summed).
    The calibration period ends at the end of `calibration_end` (day granularity, as in the paper).
    """
    d = tx.copy()
    d["day"] = pd.to_datetime(d["ts"]).dt.normalize()
    end = pd.Timestamp(calibration_end).normalize()
    d = d[d["day"] <= end]
    days = d.groupby(["person_id", "day"], as_index=False)["revenue"].sum().sort_values(["person_id", "day"])
    g = days.groupby("person_id")
    first = g["day"].transform("min")
    days["repeat"] = days["day"] > first
    out = pd.DataFrame({
        "first": g["day"].min(),
        "last": g["day"].max(),
        "frequency": g.size() - 1,
    })
    rep = days[days["repeat"]].groupby("person_id")["revenue"].mean()
    out["monetary_value"] = rep.reindex(out.index).fillna(0.0)
    out["recency"] = (out["last"] - out["first"]).dt.days / unit_days
    out["T"] = (end - out["first"]).dt.days / unit_days
    return out[["frequency", "recency", "T", "monetary_value"]]


def _collapse(x, tx, T):
    df = pd.DataFrame({"x": x, "tx": tx, "T": T})
    c = df.groupby(["x", "tx", "T"], sort=False).size().reset_index(name="w")
    return c["x"].to_numpy(float), c["tx"].to_numpy(float), c["T"].to_numpy(float), c["w"].to_numpy(float)


class BetaGeoFitter:
    """BG/NBD: purchases Poisson(lambda) while alive, lambda ~ Gamma(r, alpha), drop-out after a purchase ~ Beta(a, b)."""

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer
        self.params_: dict[str, float] = {}

    @staticmethod
    def loglik_terms(params, x, tx, T):
        r, alpha, a, b = params
        A1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        A2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        A3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore"):
            A4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + tx), -np.inf)
        return A1 + A2 + logsumexp(np.vstack([A3, A4]), axis=0)

    def _nll_grad(self, logp, x, tx, T, w):
        r, alpha, a, b = np.exp(logp)
        ll = self.loglik_terms((r, alpha, a, b), x, tx, T)
        # analytic gradient w.r.t. (r, alpha, a, b), then chain rule for log-parameters
        from scipy.special import digamma
        A3 = -(r + x) * np.log(alpha + T)
        pos = x > 0
        bx1 = np.where(pos, b + x - 1, 1.0)
        A4 = np.where(pos, np.log(a) - np.log(bx1) - (r + x) * np.log(alpha + tx), -np.inf)
        m = np.maximum(A3, A4)
        e3 = np.exp(A3 - m)
        e4 = np.where(pos, np.exp(A4 - m), 0.0)
        s = e3 + e4
        w3, w4 = e3 / s, e4 / s
        dr = digamma(r + x) - digamma(r) + np.log(alpha) + w3 * (-np.log(alpha + T)) + w4 * (-np.log(alpha + tx))
        dalpha = r / alpha + w3 * (-(r + x) / (alpha + T)) + w4 * (-(r + x) / (alpha + tx))
        da = digamma(a + b) - digamma(a + b + x) + w4 / a
        db = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - w4 / bx1
        g = np.array([(w * dr).sum(), (w * dalpha).sum(), (w * da).sum(), (w * db).sum()]) * np.array([r, alpha, a, b])
        pen = self.penalizer * (np.exp(logp) ** 2).sum()
        gpen = 2 * self.penalizer * np.exp(logp) ** 2
        return -(w * ll).sum() + pen, -g + gpen

    def fit(self, frequency, recency, T, weights=None):
        x, tx, TT = (np.asarray(v, float) for v in (frequency, recency, T))
        if weights is None:
            x, tx, TT, w = _collapse(x, tx, TT)
        else:
            w = np.asarray(weights, float)
        res = minimize(self._nll_grad, np.zeros(4), args=(x, tx, TT, w), jac=True, method="L-BFGS-B",
                       options={"maxiter": 2000, "gtol": 1e-9, "ftol": 1e-14})
        r, alpha, a, b = np.exp(res.x)
        self.params_ = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
        self.log_likelihood_ = float(-res.fun)
        self.n_customers_ = int(w.sum())
        self.converged_ = bool(res.success)
        return self

    def _p(self):
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def conditional_probability_alive(self, frequency, recency, T):
        r, alpha, a, b = self._p()
        x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
        log_div = (r + x) * np.log((alpha + T) / (alpha + tx)) + np.log(a / (b + np.maximum(x, 1) - 1))
        return np.where(x == 0, 1.0, 1.0 / (1.0 + np.exp(log_div)))

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T):
        from scipy.special import hyp2f1
        r, alpha, a, b = self._p()
        x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        with np.errstate(divide="ignore", invalid="ignore"):  # a == 1 only on degenerate fits
            first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        return first * self.conditional_probability_alive(x, tx, T)

    def expected_number_of_purchases_up_to_time(self, t):
        from scipy.special import hyp2f1
        r, alpha, a, b = self._p()
        hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)


class GammaGammaFitter:
    """Gamma-Gamma spend model on the mean repeat-transaction value of customers with frequency > 0."""

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer
        self.params_: dict[str, float] = {}

    @staticmethod
    def loglik_terms(params, x, m):
        p, q, v = params
        return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v) + (p * x - 1) * np.log(m)
                + (p * x) * np.log(x) - (p * x + q) * np.log(x * m + v))

    def fit(self, frequency, monetary_value, weights=None):
        x, m = np.asarray(frequency, float), np.asarray(monetary_value, float)
        keep = (x > 0) & (m > 0)
        x, m = x[keep], m[keep]
        w = np.ones_like(x) if weights is None else np.asarray(weights, float)[keep]

        def nll(lp):
            return -(w * self.loglik_terms(np.exp(lp), x, m)).sum() + self.penalizer * (np.exp(lp) ** 2).sum()

        res = minimize(nll, np.zeros(3), method="Nelder-Mead", options={"maxiter": 5000, "xatol": 1e-10, "fatol": 1e-10})
        res = minimize(nll, res.x, method="BFGS")
        p, q, v = np.exp(res.x)
        self.params_ = {"p": float(p), "q": float(q), "gamma": float(v)}
        self.log_likelihood_ = float(-res.fun)
        return self

    def conditional_expected_average_profit(self, frequency, monetary_value):
        p, q, v = self.params_["p"], self.params_["q"], self.params_["gamma"]
        x, m = np.asarray(frequency, float), np.asarray(monetary_value, float)
        pop = p * v / (q - 1)
        wgt = q - 1 + p * x
        return np.where(x > 0, (q - 1) / wgt * pop + (p * x) / wgt * m, pop)


def customer_lifetime_value(bg, gg, summary: pd.DataFrame, horizon_weeks: float, discount_rate_annual: float = 0.1):
    """Discounted expected spend over the horizon, summed week by week."""
    spend = gg.conditional_expected_average_profit(summary["frequency"], summary["monetary_value"])
    weekly = (1 + discount_rate_annual) ** (1 / 52.0) - 1
    total = np.zeros(len(summary))
    prev = np.zeros(len(summary))
    steps = int(np.ceil(horizon_weeks))
    for k in range(1, steps + 1):
        t = min(k, horizon_weeks)
        cur = bg.conditional_expected_number_of_purchases_up_to_time(t, summary["frequency"], summary["recency"], summary["T"])
        total += (cur - prev) / (1 + weekly) ** k
        prev = cur
    return total * spend

"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987), fitted by maximum likelihood.

Purchases are Poisson(lambda) while alive, lambda ~ Gamma(r, alpha); the lifetime is Exponential(mu),
mu ~ Gamma(s, beta). The likelihood follows Fader & Hardie's note "A Note on Implementing the
Pareto/NBD Model in MATLAB" (2005): the integral is the difference of two Gauss hypergeometric terms,
taken in log space. Customers with identical (frequency, recency, T) are collapsed into weighted rows.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

from .clv import _collapse

__all__ = ["ParetoNBDFitter"]


def _log_a0(r, alpha, s, beta, x, tx, T):
    """log of A0 = [2F1(..; (|a-b|)/(max+tx)) / (max+tx)^(r+s+x) - 2F1(..; ../(max+T)) / (max+T)^(r+s+x)]."""
    if alpha >= beta:
        big, small, t = alpha, beta, s + 1.0
    else:
        big, small, t = beta, alpha, r + x
    rsx = r + s + x
    d = big - small
    q1, q2 = big + tx, big + T
    with np.errstate(divide="ignore", invalid="ignore"):
        l1 = np.log(hyp2f1(rsx, t, rsx + 1.0, d / q1)) - rsx * np.log(q1)
        l2 = np.log(hyp2f1(rsx, t, rsx + 1.0, d / q2)) - rsx * np.log(q2)
        # log(e^l1 - e^l2), l1 >= l2 because tx <= T
        return l1 + np.log1p(-np.exp(np.minimum(l2 - l1, 0.0)))


class ParetoNBDFitter:
    """Pareto/NBD by maximum likelihood on (frequency, recency, T); fitted parameters in ``params_``."""

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer
        self.params_: dict[str, float] = {}

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v:.4f}" for k, v in self.params_.items())
        return f"ParetoNBDFitter({p or 'unfitted'})"

    @staticmethod
    def loglik_terms(params, x, tx, T):
        r, alpha, s, beta = params
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        first = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        second = np.log(s) - np.log(r + s + x) + _log_a0(r, alpha, s, beta, x, tx, T)
        return a1 + np.logaddexp(first, np.where(np.isfinite(second), second, -np.inf))

    def _nll(self, logp, x, tx, T, w):
        p = np.exp(logp)
        ll = self.loglik_terms(p, x, tx, T)
        if not np.all(np.isfinite(ll)):
            return 1e300
        return -(w * ll).sum() / w.sum() + self.penalizer * (p ** 2).sum()

    def fit(self, frequency, recency, T, weights=None):
        x, tx, TT = (np.asarray(v, float) for v in (frequency, recency, T))
        if weights is None:
            x, tx, TT, w = _collapse(x, tx, TT)
        else:
            w = np.asarray(weights, float)
        best = None
        for start in (np.zeros(4), np.log([0.5, 10.0, 0.5, 10.0])):
            res = minimize(self._nll, start, args=(x, tx, TT, w), method="Nelder-Mead",
                           options={"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-12})
            res = minimize(self._nll, res.x, args=(x, tx, TT, w), method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-9})
            if best is None or res.fun < best.fun:
                best = res
        r, alpha, s, beta = np.exp(best.x)
        self.params_ = {"r": float(r), "alpha": float(alpha), "s": float(s), "beta": float(beta)}
        self.log_likelihood_ = float(-best.fun * w.sum())
        self.n_customers_ = int(w.sum())
        self.converged_ = bool(best.success)
        return self

    def _p(self):
        p = self.params_
        return p["r"], p["alpha"], p["s"], p["beta"]

    def conditional_probability_alive(self, frequency, recency, T):
        r, alpha, s, beta = self._p()
        x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
        la0 = _log_a0(r, alpha, s, beta, x, tx, T)
        z = np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + la0
        return 1.0 / (1.0 + np.exp(np.where(np.isfinite(z), z, -np.inf)))

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T):
        r, alpha, s, beta = self._p()
        x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
        ll = self.loglik_terms((r, alpha, s, beta), x, tx, T)
        first = (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
                 - (r + x) * np.log(alpha + T) - s * np.log(beta + T))
        second = np.log(r + x) + np.log(beta + T) - np.log(alpha + T)
        third = np.log((1 - ((beta + T) / (beta + T + t)) ** (s - 1)) / (s - 1))
        return np.exp(first + second + third - ll)

    def expected_number_of_purchases_up_to_time(self, t):
        r, alpha, s, beta = self._p()
        return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))

"""Regression metrics for physical quantities (stellar mass, fluxes; papers.md section 0)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from astrolab.errors import invalid

__all__ = ["chi2_n", "sigma_mad", "outlier_fraction_sigma"]


def _finite(x: ArrayLike, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise invalid(name, f"cannot be converted to a float array ({exc})", "pass numbers") from None
    if arr.size == 0:
        raise invalid(name, "is empty", "pass at least one value")
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise invalid(name, f"contains {n_bad} non-finite value(s) (NaN/inf)",
                      "drop or mask those entries before computing the metric")
    return arr


def chi2_n(pred: ArrayLike, obs: ArrayLike, sigma: ArrayLike, axis: int | None = 0):
    """Reduced chi-square ``χ²_N = (1/N) Σ_i ((pred_i − obs_i)/σ_i)²`` (Jespersen et al.).

    Parameters
    ----------
    pred, obs : array_like, broadcastable, e.g. shape (N, B)
        Predicted and observed values (e.g. fluxes of N objects in B bands),
        same units.
    sigma : array_like, broadcastable
        Observational uncertainties (> 0), units of ``obs``.
    axis : int or None
        Axis over which objects are averaged (default 0: one value per band);
        None averages everything.

    Returns
    -------
    numpy.ndarray or float
        Dimensionless χ²_N, shape of the inputs without ``axis`` (e.g. (B,));
        ≈ 1 when residuals match the observational noise.
    """
    p = _finite(pred, "chi2_n pred")
    o = _finite(obs, "chi2_n obs")
    s = _finite(sigma, "chi2_n sigma")
    if np.any(s <= 0):
        raise invalid("chi2_n sigma", "has values <= 0", "pass positive uncertainties (mask objects with sigma <= 0)")
    try:
        r = ((p - o) / s) ** 2
    except ValueError:
        raise invalid("chi2_n pred/obs/sigma", f"have incompatible shapes {p.shape}, {o.shape}, {s.shape}",
                      "pass arrays of the same shape, e.g. (N, n_bands)") from None
    out = np.mean(r, axis=axis)
    return float(out) if np.ndim(out) == 0 else out


def sigma_mad(delta: ArrayLike) -> float:
    """Robust scatter ``σ_MAD = 1.4826 · median(|Δ − median(Δ)|)``.

    Parameters
    ----------
    delta : array_like, shape (N,)
        Residuals (e.g. log M_pred − log M_true in dex).

    Returns
    -------
    float
        Scatter in the units of ``delta`` (σ for normal residuals).
    """
    d = _finite(delta, "sigma_mad delta").ravel()
    return float(1.4826 * np.median(np.abs(d - np.median(d))))


def outlier_fraction_sigma(delta: ArrayLike, k: float = 3.0) -> float:
    """Fraction of residuals with ``|Δ| > k · σ_MAD`` (paper 1, stellar mass).

    Parameters
    ----------
    delta : array_like, shape (N,)
        Residuals (e.g. dex).
    k : float
        Cut in units of :func:`sigma_mad`.

    Returns
    -------
    float
        Fraction in [0, 1].
    """
    d = _finite(delta, "outlier_fraction_sigma delta").ravel()
    if not np.isfinite(k) or k <= 0:
        raise invalid("outlier_fraction_sigma k", f"is {k}", "pass a positive number such as 3")
    s = 1.4826 * np.median(np.abs(d - np.median(d)))
    return float(np.mean(np.abs(d) > k * s))

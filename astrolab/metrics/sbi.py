"""Calibration diagnostics for simulation-based inference (numbers only; plots in :mod:`astrolab.viz.sbi_plots`).

All functions take posterior samples for many test simulations and their true parameters:

- :func:`sbc_ranks` -- simulation-based calibration ranks (Talts et al. 2018);
- :func:`sbc_ks_pvalues` -- KS test of the normalised ranks against U(0, 1), per parameter;
- :func:`marginal_coverage` -- fraction of truths inside each marginal central credible interval;
- :func:`tarp_coverage` -- joint expected coverage with random reference points (TARP, Lemos et al. 2023);
- :func:`coverage_summary` -- the coverage at a few levels, averaged over parameters, as a dict.

Shapes: ``samples`` (S, B, D) -- S posterior draws for each of B test simulations and D
parameters; ``truths`` (B, D). A calibrated posterior has uniform ranks and coverage equal to the
nominal credibility at every level. Importing this module does not import torch.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from astrolab.errors import invalid

__all__ = ["sbc_ranks", "sbc_ks_pvalues", "marginal_coverage", "tarp_coverage", "coverage_summary"]


def _check(samples: ArrayLike, truths: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(samples, dtype=np.float64)
    t = np.asarray(truths, dtype=np.float64)
    if s.ndim == 2:
        s = s[..., None]
    if t.ndim == 1:
        t = t[:, None]
    if s.ndim != 3 or t.ndim != 2 or s.shape[1:] != t.shape:
        raise invalid("samples/truths", f"have shapes {np.shape(samples)} and {np.shape(truths)}",
                      "pass samples (S, B, D) and truths (B, D)")
    if s.shape[0] < 2 or t.shape[0] < 1:
        raise invalid("samples", f"has {s.shape[0]} draws for {t.shape[0]} simulations",
                      "pass at least 2 posterior draws and 1 simulation")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(t))):
        raise invalid("samples/truths", "contain NaN or inf", "drop failed simulations before computing coverage")
    return s, t


def _levels(levels) -> np.ndarray:
    lv = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    if np.any((lv <= 0) | (lv >= 1)):
        raise invalid("levels", f"{lv} is not inside (0, 1)", "pass credibility levels such as (0.68, 0.95)")
    return lv


def sbc_ranks(samples: ArrayLike, truths: ArrayLike) -> np.ndarray:
    """SBC ranks: how many posterior draws lie below the truth, per simulation and parameter.

    Parameters
    ----------
    samples : array_like, shape (S, B, D) or (S, B)
        Posterior draws.
    truths : array_like, shape (B, D) or (B,)
        True parameters of each test simulation.

    Returns
    -------
    numpy.ndarray of int, shape (B, D)
        Ranks in 0..S; uniform on 0..S for a calibrated posterior.
    """
    s, t = _check(samples, truths)
    return (s < t[None]).sum(axis=0)


def sbc_ks_pvalues(ranks: ArrayLike, n_samples: int) -> np.ndarray:
    """KS p-values of the normalised ranks (rank + U(0, 1)) / (S + 1) against U(0, 1).

    Parameters
    ----------
    ranks : array_like of int, shape (B, D)
        From :func:`sbc_ranks`.
    n_samples : int
        Number S of posterior draws behind the ranks.

    Returns
    -------
    numpy.ndarray, shape (D,)
        p-values (small = miscalibrated). Ties are broken with a fixed-seed jitter.
    """
    from scipy.stats import kstest

    r = np.asarray(ranks, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    u = (r + np.random.default_rng(0).uniform(size=r.shape)) / (n_samples + 1)
    return np.array([kstest(u[:, j], "uniform").pvalue for j in range(r.shape[1])])


def marginal_coverage(samples: ArrayLike, truths: ArrayLike, levels: ArrayLike = (0.68, 0.95)) -> np.ndarray:
    """Fraction of simulations whose truth lies in the central (equal-tailed) marginal interval.

    Parameters
    ----------
    samples : array_like, shape (S, B, D)
        Posterior draws.
    truths : array_like, shape (B, D)
    levels : array_like, shape (L,)
        Credibility levels in (0, 1).

    Returns
    -------
    numpy.ndarray, shape (L, D)
        Empirical coverage per level and parameter; equals ``levels`` (within binomial noise
        √(ℓ(1−ℓ)/B)) for a calibrated posterior.
    """
    s, t = _check(samples, truths)
    lv = _levels(levels)
    frac = ((s < t[None]).sum(axis=0) + 0.5 * (s == t[None]).sum(axis=0)) / s.shape[0]  # (B, D)
    lo = (1 - lv) / 2
    hi = 1 - lo
    return np.stack([((frac >= a) & (frac <= b)).mean(axis=0) for a, b in zip(lo, hi)])


def tarp_coverage(samples: ArrayLike, truths: ArrayLike, levels: ArrayLike | None = None, references=None,
                  bounds: ArrayLike | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Joint expected coverage probability with random reference points (TARP).

    For simulation i, a reference point r_i is drawn uniformly in the (scaled) parameter box; the
    credibility of the truth is f_i = fraction of posterior draws closer to r_i than the truth is.
    The expected coverage at level α is mean_i 𝟙[f_i < α]; it equals α for every α if and only if
    the posterior is calibrated (Lemos et al. 2023, for random references).

    Parameters
    ----------
    samples : array_like, shape (S, B, D)
    truths : array_like, shape (B, D)
    levels : array_like, shape (L,), optional
        Credibility levels (default 99 levels 0.01–0.99).
    references : array_like, shape (B, D), optional
        Reference points in the scaled unit box; default uniform draws.
    bounds : array_like, shape (D, 2), optional
        Box used to scale each parameter to [0, 1]; default the range of truths and samples.
    seed : int
        Seed of the reference points.

    Returns
    -------
    levels : numpy.ndarray, shape (L,)
    ecp : numpy.ndarray, shape (L,)
        Expected coverage probability at each level.
    """
    s, t = _check(samples, truths)
    lv = _levels(np.linspace(0.01, 0.99, 99) if levels is None else levels)
    if bounds is None:
        lo = np.minimum(s.min(axis=(0, 1)), t.min(axis=0))
        hi = np.maximum(s.max(axis=(0, 1)), t.max(axis=0))
    else:
        b = np.asarray(bounds, float)
        lo, hi = b[:, 0], b[:, 1]
    scale = np.where(hi > lo, hi - lo, 1.0)
    s = (s - lo) / scale
    t = (t - lo) / scale
    if references is None:
        ref = np.random.default_rng(seed).uniform(size=t.shape)
    else:
        ref = np.asarray(references, float)
        if ref.shape != t.shape:
            raise invalid("references", f"has shape {ref.shape}", f"pass shape {t.shape} (one point per simulation)")
    d_samp = np.sqrt(((s - ref[None]) ** 2).sum(-1))  # (S, B)
    d_true = np.sqrt(((t - ref) ** 2).sum(-1))  # (B,)
    f = (d_samp < d_true[None]).mean(axis=0)  # (B,)
    return lv, np.array([(f < a).mean() for a in lv])


def coverage_summary(samples: ArrayLike, truths: ArrayLike, levels: ArrayLike = (0.68, 0.95),
                     names=None) -> dict:
    """Marginal coverage per parameter and averaged, plus TARP, at a few levels.

    Parameters
    ----------
    samples : array_like, shape (S, B, D)
    truths : array_like, shape (B, D)
    levels : array_like
        Credibility levels.
    names : sequence of str, optional
        Parameter names (default ``p0``, ``p1``...).

    Returns
    -------
    dict
        ``{"n_sims": B, "levels": [...], "mean": {level: coverage averaged over parameters},
        "tarp": {level: joint expected coverage}, "per_parameter": {name: {level: coverage}},
        "max_abs_error": max over levels of |mean coverage − level|}``. Level keys are strings
        such as ``"0.68"``.
    """
    s, t = _check(samples, truths)
    lv = _levels(levels)
    cov = marginal_coverage(s, t, lv)
    names = list(names) if names is not None else [f"p{j}" for j in range(t.shape[1])]
    _, ecp = tarp_coverage(s, t, lv)
    key = [f"{a:g}" for a in lv]
    mean = cov.mean(axis=1)
    return {
        "n_sims": int(t.shape[0]),
        "levels": lv.tolist(),
        "mean": dict(zip(key, mean.tolist())),
        "tarp": dict(zip(key, ecp.tolist())),
        "per_parameter": {n: dict(zip(key, cov[:, j].tolist())) for j, n in enumerate(names)},
        "max_abs_error": float(np.max(np.abs(mean - lv))),
    }

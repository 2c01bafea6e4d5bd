"""``GyroFlow``: data-driven gyrochronology with a conditional normalising flow (ChronoFlow).

Reimplements the method of Van-Lane et al. 2025 (ChronoFlow) from its
description: a zuko neural spline flow models ``p(log10 P_rot | log10 age,
(BP-RP)_0, log10 sigma_C)``, trained by maximum likelihood on open-cluster
rotators at their fiducial ages; ages follow from the flow on a grid of log age
with a flat prior. The per-star likelihood (see :mod:`astrolab.models.flows`)
mixes the flow with a uniform outlier density, weighted by the membership
probability, and marginalises the true colour over the photometric error.

Example
-------
>>> import astrolab
>>> from astrolab.gyro import GyroFlow
>>> cat = astrolab.load_dataset("chronoflow", training_cuts=True)
>>> model = GyroFlow(epochs=30).fit(cat[cat["cluster"] != "Praesepe"])
>>> res = model.cluster_age(cat[cat["cluster"] == "Praesepe"])
>>> res.median_myr, res.interval_myr(0.68)

Ages on grids are ``log10(age / Myr)`` throughout; the default grid spans
0.5 Myr - 10 Gyr with a flat prior in log age.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from astrolab.errors import CheckpointError, DataValidationError, invalid

__all__ = ["GyroFlow", "ClusterAge", "StarAges", "default_log_age_grid", "apply_cuts", "cluster_ages",
           "leave_one_cluster_out", "simulation_recovery", "fit_age_calibration",
           "leave_one_out_calibration"]

_FORMAT_VERSION = 1
_REQUIRED = ("Prot", "BPRP_0", "e_BPRP_0")


def default_log_age_grid(step: float = 0.01, lo_myr: float = 0.5, hi_myr: float = 10000.0) -> np.ndarray:
    """Grid of log10(age / Myr) from ``lo_myr`` to ``hi_myr`` in steps of ``step`` dex.

    Returns
    -------
    numpy.ndarray, shape (G,)
    """
    lo, hi = np.log10(lo_myr), np.log10(hi_myr)
    return np.linspace(lo, hi, int(round((hi - lo) / step)) + 1)


def _cdf(grid, post):
    """Cumulative distribution (…, G) of densities ``post`` on ``grid`` (trapezoid rule)."""
    dx = np.diff(grid)
    mid = 0.5 * (post[..., 1:] + post[..., :-1]) * dx
    cdf = np.concatenate([np.zeros(post.shape[:-1] + (1,)), np.cumsum(mid, axis=-1)], axis=-1)
    return cdf / np.where(cdf[..., -1:] > 0, cdf[..., -1:], 1.0)


def _quantile(grid, post, q):
    """Quantile(s) ``q`` of densities (N, G) on ``grid``: returns (N,) log ages."""
    cdf = np.atleast_2d(_cdf(grid, np.atleast_2d(post)))
    out = np.empty(cdf.shape[0])
    for i, c in enumerate(cdf):
        c = np.maximum.accumulate(c)
        j = np.searchsorted(c, q)
        j = int(np.clip(j, 1, len(grid) - 1))
        c0, c1 = c[j - 1], c[j]
        frac = 0.0 if c1 <= c0 else (q - c0) / (c1 - c0)
        out[i] = grid[j - 1] + np.clip(frac, 0.0, 1.0) * (grid[j] - grid[j - 1])
    return out


def _normalise(grid, log_post):
    """Normalised densities per dex (…, G) from unnormalised log posteriors on ``grid``."""
    log_post = log_post - np.max(log_post, axis=-1, keepdims=True)
    p = np.exp(log_post)
    area = np.trapezoid(p, grid, axis=-1)[..., None]
    return p / area


def _log_gauss_bin_mass(x, lo, hi, sigma):
    """log P(lo - x < e < hi - x) ... i.e. log[Phi((x - lo)/s) - Phi((x - hi)/s)], elementwise, stable in the tails."""
    from scipy.special import log_ndtr

    b = (np.asarray(x) - lo) / sigma  # upper standardised limit
    a = (np.asarray(x) - hi) / sigma  # lower standardised limit (a < b)
    # Phi(b) - Phi(a) = Phi(-a) - Phi(-b): use the side away from the upper tail
    flip = a > 0
    hi_arg, lo_arg = np.where(flip, -a, b), np.where(flip, -b, a)
    lb, la = log_ndtr(hi_arg), log_ndtr(lo_arg)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = lb + np.log1p(-np.exp(np.minimum(la - lb, 0.0)))
    return np.where(np.isfinite(out), out, -np.inf)


def _smoothed_log_density(grid, post, x, sigma):
    """log of (posterior * N(0, sigma)) at points ``x`` [log age], shape (M,).

    The posterior is taken as piecewise constant between grid points (mass of each
    trapezoid segment spread over the segment), so the convolution with the Gaussian
    is exact for that density and tends to the posterior itself as ``sigma -> 0``.
    """
    from scipy.special import logsumexp

    grid = np.asarray(grid, dtype=np.float64)
    post = np.asarray(post, dtype=np.float64)
    dx = np.diff(grid)
    mass = 0.5 * (post[1:] + post[:-1]) * dx
    mass = mass / mass.sum()
    keep = mass > 0
    lo, hi, lm = grid[:-1][keep], grid[1:][keep], np.log(mass[keep]) - np.log(dx[keep])
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    terms = lm[None, :] + _log_gauss_bin_mass(x[:, None], lo[None, :], hi[None, :], sigma)
    return logsumexp(terms, axis=1)


@dataclass
class StarAges:
    """Per-star age posteriors on a grid of log10(age / Myr).

    Attributes
    ----------
    log_age_grid : numpy.ndarray, shape (G,)
        log10(age / Myr).
    posterior : numpy.ndarray, shape (N, G)
        Posterior densities per dex of log age (flat prior on the grid); each row integrates to 1.
    ids : numpy.ndarray, shape (N,), optional
        ``GaiaDR3_ID`` of the stars when available.
    """

    log_age_grid: np.ndarray
    posterior: np.ndarray
    ids: np.ndarray | None = None

    @property
    def median_myr(self) -> np.ndarray:
        """Posterior median ages [Myr], shape (N,)."""
        return 10 ** _quantile(self.log_age_grid, self.posterior, 0.5)

    def interval_myr(self, level: float = 0.68):
        """Central credible interval [Myr]: ``(lo, hi)`` arrays of shape (N,)."""
        q = (1.0 - level) / 2.0
        return (10 ** _quantile(self.log_age_grid, self.posterior, q),
                10 ** _quantile(self.log_age_grid, self.posterior, 1.0 - q))

    def __len__(self) -> int:
        return self.posterior.shape[0]

    def __repr__(self) -> str:
        med = np.median(np.log10(self.median_myr)) if len(self) else float("nan")
        return (f"StarAges({len(self)} stars, grid {self.log_age_grid[0]:.2f}..{self.log_age_grid[-1]:.2f} "
                f"log10 Myr, median of medians {10**med:.0f} Myr)")


@dataclass
class ClusterAge:
    """Posterior on a cluster's age from the product of its members' likelihoods.

    Attributes
    ----------
    log_age_grid : numpy.ndarray, shape (G,)
        log10(age / Myr).
    posterior : numpy.ndarray, shape (G,)
        Posterior density per dex of log age (flat prior); integrates to 1.
    n_stars : int
        Number of stars used.
    name : str
        Cluster name (or "").
    """

    log_age_grid: np.ndarray
    posterior: np.ndarray
    n_stars: int = 0
    name: str = ""
    log_likelihood: np.ndarray | None = field(default=None, repr=False)
    width_scale: float = 1.0
    systematic_dex: float = 0.0

    @property
    def median_myr(self) -> float:
        """Posterior median age [Myr]."""
        return float(10 ** _quantile(self.log_age_grid, self.posterior, 0.5)[0])

    @property
    def log_age_median(self) -> float:
        """Posterior median of log10(age / Myr)."""
        return float(np.log10(self.median_myr))

    def interval_myr(self, level: float = 0.68) -> tuple[float, float]:
        """Central credible interval ``(lo, hi)`` [Myr] holding probability ``level``."""
        if not 0.0 < level < 1.0:
            raise invalid("ClusterAge.interval_myr(level=...)", f"level {level} is not in (0, 1)", "use e.g. 0.68")
        q = (1.0 - level) / 2.0
        lo = _quantile(self.log_age_grid, self.posterior, q)[0]
        hi = _quantile(self.log_age_grid, self.posterior, 1.0 - q)[0]
        return float(10**lo), float(10**hi)

    def sigma_dex(self) -> float:
        """Half the 68 % interval width in dex of log age."""
        lo, hi = self.interval_myr(0.68)
        return 0.5 * float(np.log10(hi) - np.log10(lo))

    def log_density_at(self, log_age) -> np.ndarray:
        """log posterior density [log 1/dex] at ``log_age`` = log10(age / Myr), shape (M,).

        The density is piecewise constant between grid points; 0 (log = -inf) off the grid.
        """
        return _smoothed_log_density(self.log_age_grid, self.posterior, log_age, 1e-6)

    def tempered(self, width_scale: float) -> "ClusterAge":
        """Posterior with the summed log-likelihood divided by ``width_scale**2``.

        Widens the statistical posterior by ``width_scale`` (exactly for a Gaussian):
        the stars of a cluster count as ``N / width_scale**2`` independent stars. This
        is the remedy for a flow that is slightly wrong for every star of the cluster
        in the same way, so that the product of likelihoods over-counts the evidence.

        Parameters
        ----------
        width_scale : float
            Factor >= 1 on the posterior width (1 returns the object itself).

        Returns
        -------
        ClusterAge
            On the same grid, with ``width_scale`` multiplied in.
        """
        k = float(width_scale)
        if not np.isfinite(k) or k < 1.0:
            raise invalid("ClusterAge.tempered(width_scale=...)", f"{width_scale!r} is not a finite value >= 1",
                          "pass e.g. 1.3 (1 = the statistical posterior)")
        if k == 1.0:
            return self
        if self.log_likelihood is None:
            raise invalid("ClusterAge.tempered", "this posterior has no log_likelihood (it was widened already)",
                          "temper first, then widen: calibrated(width_scale, systematic_dex)")
        post = _normalise(self.log_age_grid, self.log_likelihood / k**2)
        return ClusterAge(self.log_age_grid, post, self.n_stars, self.name, self.log_likelihood,
                          self.width_scale * k, self.systematic_dex)

    def widened(self, systematic_dex: float) -> "ClusterAge":
        """The posterior convolved with a Gaussian systematic error in log age.

        Models a cluster-to-cluster error that does not shrink with the number of
        stars (a cluster's rotation sequence off the mean one, an error in its
        calibration age): the gyro age is the true age times 10^e, e ~ N(0,
        systematic_dex). Compare the ChronoFlow paper's statistical plus systematic
        error budget.

        Parameters
        ----------
        systematic_dex : float
            Standard deviation of the systematic error [dex], >= 0.

        Returns
        -------
        ClusterAge
            New object on a uniform grid spanning the old one +- 5 sigma, with
            ``systematic_dex`` set (added in quadrature to any already applied) and
            ``log_likelihood`` None.
        """
        sigma = float(systematic_dex)
        if not np.isfinite(sigma) or sigma < 0:
            raise invalid("ClusterAge.widened(systematic_dex=...)", f"{systematic_dex!r} is not a finite value >= 0",
                          "pass a width in dex, e.g. 0.05")
        if sigma == 0.0:
            return self
        g = self.log_age_grid
        step = min(float(np.min(np.diff(g))) * 2.0, max(sigma / 8.0, 1e-3))
        lo, hi = g[0] - 5.0 * sigma, g[-1] + 5.0 * sigma
        grid = np.linspace(lo, hi, int(np.ceil((hi - lo) / step)) + 1)
        post = _normalise(grid, _smoothed_log_density(g, self.posterior, grid, sigma))
        total = float(np.hypot(self.systematic_dex, sigma))
        return ClusterAge(grid, post, self.n_stars, self.name, None, self.width_scale, total)

    def calibrated(self, width_scale: float = 1.0, systematic_dex: float = 0.0) -> "ClusterAge":
        """``tempered(width_scale)`` then ``widened(systematic_dex)`` (see :func:`fit_age_calibration`)."""
        return self.tempered(width_scale).widened(systematic_dex)

    def __repr__(self) -> str:
        lo, hi = self.interval_myr(0.68)
        name = f"{self.name}: " if self.name else ""
        extra = ""
        if self.width_scale != 1.0 or self.systematic_dex > 0:
            extra = f", widths x{self.width_scale:.2f} + {self.systematic_dex:.3f} dex systematic"
        return (f"ClusterAge({name}{self.median_myr:.0f} Myr, 68% [{lo:.0f}, {hi:.0f}] Myr, "
                f"{self.n_stars} stars{extra})")


def _calibration_log_density(results, log_truth, width_scale, systematic_dex):
    """Sum over clusters of log density of the truth under the calibrated posterior."""
    total = 0.0
    for r, t in zip(results, log_truth):
        post = r.tempered(width_scale).posterior
        total += float(_smoothed_log_density(r.log_age_grid, post, [t], max(systematic_dex, 1e-6))[0])
    return total


def fit_age_calibration(results, true_myr, *, fit_width_scale: bool = True, fit_systematic: bool = True,
                        max_width_scale: float = 5.0, max_systematic_dex: float = 0.5) -> dict:
    """Maximum-likelihood calibration of cluster-age posteriors on clusters of known age.

    Two remedies for intervals that are too narrow, fitted jointly: a width scale
    ``k >= 1`` (the summed log-likelihood divided by k², :meth:`ClusterAge.tempered`),
    for a flow that is wrong in the same way for all of a cluster's stars, and an
    additive systematic ``s`` [dex] (:meth:`ClusterAge.widened`), for cluster-to-cluster
    scatter. It maximises ``sum_i log p_i(log10 t_i | k, s)``, the density of each true
    (or fiducial) age under its calibrated posterior. Fit it on clusters that are
    *not* the ones you then test (calibration simulations, or the other clusters of
    a leave-one-out run: :func:`leave_one_out_calibration`).

    Parameters
    ----------
    results : sequence of ClusterAge, length K
        Statistical posteriors from :meth:`GyroFlow.cluster_age` (with their log-likelihoods).
    true_myr : array_like, shape (K,)
        True or fiducial ages [Myr].
    fit_width_scale, fit_systematic : bool
        Which of the two to fit (the other stays at 1 / 0).
    max_width_scale, max_systematic_dex : float
        Search ranges: k in [1, max_width_scale], s in [0, max_systematic_dex] dex.

    Returns
    -------
    dict
        ``width_scale`` (k), ``systematic_dex`` (s), ``log_density`` (the maximised sum)
        and ``n_clusters``.
    """
    from scipy.optimize import minimize

    results = list(results)
    t = np.log10(np.asarray(true_myr, dtype=np.float64))
    if len(results) == 0 or t.shape != (len(results),) or not np.all(np.isfinite(t)):
        raise invalid("fit_age_calibration", f"needs K >= 1 posteriors and K finite ages > 0, got {len(results)} "
                      f"posteriors and ages of shape {t.shape}", "pass matching lists of ClusterAge and ages [Myr]")
    if fit_width_scale and any(r.log_likelihood is None for r in results):
        raise invalid("fit_age_calibration", "some posteriors carry no log_likelihood (already widened)",
                      "pass the statistical posteriors of GyroFlow.cluster_age")

    def objective(x):
        k = float(np.clip(10 ** x[0], 1.0, max_width_scale)) if fit_width_scale else 1.0
        sd = float(np.clip(10 ** x[1], 0.0, max_systematic_dex)) if fit_systematic else 0.0
        return -_calibration_log_density(results, t, k, sd)

    ks = np.log10(np.linspace(1.0, max_width_scale, 17)) if fit_width_scale else np.array([0.0])
    ss = np.linspace(-3.0, np.log10(max_systematic_dex), 13) if fit_systematic else np.array([-6.0])
    best, best_val = None, np.inf
    for a in ks:
        for b in ss:
            v = objective((a, b))
            if v < best_val:
                best, best_val = (a, b), v
    res = minimize(objective, np.array(best), method="Nelder-Mead",
                   options={"xatol": 1e-3, "fatol": 1e-4, "maxiter": 200})
    x, val = (res.x, res.fun) if res.fun <= best_val else (np.array(best), best_val)
    k = float(np.clip(10 ** x[0], 1.0, max_width_scale)) if fit_width_scale else 1.0
    sd = float(np.clip(10 ** x[1], 0.0, max_systematic_dex)) if fit_systematic else 0.0
    if sd < 1.5e-3:
        sd = 0.0
    return {"width_scale": k, "systematic_dex": sd, "log_density": -float(val), "n_clusters": len(results)}


class GyroFlow:
    """Gyrochronology from a conditional neural spline flow (ChronoFlow-style).

    Parameters
    ----------
    transforms, hidden, bins : int, tuple of int, int
        Flow architecture (spline transforms, hyper-network widths, spline bins).
    n_colour_nodes : int
        Gauss-Hermite nodes marginalising the true colour over the error.
    outlier_fraction : float
        Outlier floor ``f_out``: mixture weight of the flow is ``m (1 - f_out)``.
    logp_range : (float, float)
        Range of the uniform outlier density in log10(P_rot / d).
    membership : str or None
        Membership probability: ``"auto"`` (``mem_prob_hdbscan`` where finite,
        else ``mem_prob_source``, else 1), a column name, or None (all 1).
    epochs : int, optional
        Training epochs (default: 30 in FAST mode, 120 otherwise).
    batch_size, lr, weight_decay : int, float, float
        Optimiser settings (Adam-type, via :func:`astrolab.train.fit`).
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``...
    seed : int
        Random seed of initialisation and batching.
    progress : bool
        Show the engine's progress bar.
    """

    def __init__(self, transforms: int = 3, hidden=(64, 64), bins: int = 8, n_colour_nodes: int = 5,
                 outlier_fraction: float = 0.05, logp_range=(-1.75, 2.5), membership: str | None = "auto",
                 epochs: int | None = None, batch_size: int = 512, lr: float = 3e-3, weight_decay: float = 1e-5,
                 device: str = "auto", seed: int = 0, progress: bool = False):
        self.transforms = int(transforms)
        self.hidden = tuple(int(h) for h in hidden)
        self.bins = int(bins)
        self.n_colour_nodes = int(n_colour_nodes)
        self.outlier_fraction = float(outlier_fraction)
        self.logp_range = (float(logp_range[0]), float(logp_range[1]))
        self.membership = membership
        self.epochs = epochs
        self.batch_size = int(batch_size)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.device = device
        self.seed = int(seed)
        self.progress = bool(progress)
        self.module_ = None
        self.history_ = None
        self.fit_result_ = None
        self.training_log_age_range_ = None

    # -- parameters ---------------------------------------------------------------------
    def get_params(self) -> dict:
        """Constructor arguments as plain Python values."""
        return dict(transforms=self.transforms, hidden=list(self.hidden), bins=self.bins,
                    n_colour_nodes=self.n_colour_nodes, outlier_fraction=self.outlier_fraction,
                    logp_range=list(self.logp_range), membership=self.membership, epochs=self.epochs,
                    batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                    device=self.device, seed=self.seed, progress=self.progress)

    def _new_module(self):
        from astrolab.models.flows import GyroNSF

        return GyroNSF(self.transforms, self.hidden, self.bins, self.n_colour_nodes, self.outlier_fraction,
                       self.logp_range)

    # -- validation -----------------------------------------------------------------------
    @staticmethod
    def _check_table(table, what: str, need_age: bool = False):
        if table is None or not hasattr(table, "colnames"):
            raise invalid(f"GyroFlow {what}", f"is a {type(table).__name__}, not an astropy Table",
                          "pass a Table like astrolab.load_dataset('chronoflow')")
        if len(table) == 0:
            raise invalid(f"GyroFlow {what}", "is empty (0 rows)",
                          "pass at least one star (check your cluster name or cuts)")
        needed = _REQUIRED + (("fiducial_age_Myr",) if need_age else ())
        for col in needed:
            if col not in table.colnames:
                raise invalid(f"GyroFlow {what}, column {col!r}", "is missing",
                              f"add a {col!r} column (see load_dataset('chronoflow') for the schema)")
        cols = {}
        for col in needed:
            vals = np.asarray(getattr(table[col], "value", table[col]), dtype=np.float64)
            bad = ~np.isfinite(vals)
            if bad.any():
                raise invalid(f"GyroFlow {what}, column {col!r}", f"has {int(bad.sum())} NaN/inf value(s)",
                              f"drop those rows first, e.g. table[np.isfinite(table[{col!r}])]")
            if col in ("Prot", "fiducial_age_Myr") and np.any(vals <= 0):
                raise invalid(f"GyroFlow {what}, column {col!r}", f"has {int((vals <= 0).sum())} value(s) <= 0",
                              f"{col} must be positive (days / Myr); drop or correct those rows")
            if col == "e_BPRP_0" and np.any(vals < 0):
                raise invalid(f"GyroFlow {what}, column 'e_BPRP_0'", "has negative colour errors",
                              "pass 1-sigma errors in mag (>= 0)")
            cols[col] = vals
        return cols

    def membership_values(self, table) -> np.ndarray:
        """Membership probabilities used in the likelihood, per the ``membership`` setting.

        Parameters
        ----------
        table : astropy.table.Table
            Stars (N rows).

        Returns
        -------
        numpy.ndarray, shape (N,)
            Values in [0, 1]; missing values count as 1 (certain member / field star).
        """
        n = len(table)
        if self.membership is None:
            return np.ones(n)

        def col(name):
            if name not in table.colnames:
                return np.full(n, np.nan)
            return np.asarray(table[name], dtype=np.float64)

        if self.membership == "auto":
            m = col("mem_prob_hdbscan")
            m = np.where(np.isfinite(m), m, col("mem_prob_source"))
        else:
            if self.membership not in table.colnames:
                raise invalid(f"GyroFlow membership column {self.membership!r}", "is missing from the table",
                              "use membership='auto', None, or an existing column name")
            m = col(self.membership)
        return np.clip(np.where(np.isfinite(m), m, 1.0), 0.0, 1.0)

    def _rows(self, table, what: str, need_age: bool = False) -> np.ndarray:
        """Rows (N, 5) with :data:`astrolab.models.flows.BATCH_COLUMNS` (age column NaN if absent)."""
        cols = self._check_table(table, what, need_age)
        age = np.log10(cols["fiducial_age_Myr"]) if need_age else np.full(len(table), np.nan)
        return np.column_stack([np.log10(cols["Prot"]), age, cols["BPRP_0"], cols["e_BPRP_0"],
                                self.membership_values(table)])

    # -- training -------------------------------------------------------------------------
    def fit(self, table, *, val_table=None, run_dir=None, resume: bool = False, history=None, stop_event=None,
            patience: int | None = None) -> "GyroFlow":
        """Train the flow on cluster stars at their fiducial ages (maximum likelihood).

        Parameters
        ----------
        table : astropy.table.Table
            Catalogue in the ``load_dataset("chronoflow")`` format (any subset of
            clusters): ``Prot`` [d], ``BPRP_0`` and ``e_BPRP_0`` [mag],
            ``fiducial_age_Myr`` [Myr], optional membership columns.
        val_table : astropy.table.Table, optional
            Validation stars (same format) for the engine's validation loss.
        run_dir : path, optional
            Checkpoint folder for the engine (default: a fresh cache folder).
        resume : bool
            Continue from the engine's last checkpoint in ``run_dir``.
        history, stop_event : optional
            Passed to :func:`astrolab.train.fit` (live widgets, stop button).
        patience : int, optional
            Early-stopping patience in epochs (needs ``val_table``).

        Returns
        -------
        self
        """
        import torch
        from torch.utils.data import TensorDataset

        from astrolab import config

        rows = self._rows(table, "training table", need_age=True)
        loc = np.array([rows[:, 1].mean(), rows[:, 2].mean(), np.log10(np.maximum(rows[:, 3], 1e-3)).mean(),
                        rows[:, 0].mean()])
        scale = np.array([rows[:, 1].std(), rows[:, 2].std(), np.log10(np.maximum(rows[:, 3], 1e-3)).std(),
                          rows[:, 0].std()])
        scale = np.where(scale > 1e-6, scale, 1.0)
        config.seed_everything(self.seed)
        module = self._new_module()
        module.set_scalers(loc, scale)
        self.training_log_age_range_ = (float(rows[:, 1].min()), float(rows[:, 1].max()))
        train_ds = TensorDataset(torch.as_tensor(rows, dtype=torch.float32))
        val_ds = None
        if val_table is not None:
            val_ds = TensorDataset(torch.as_tensor(self._rows(val_table, "validation table", True),
                                                   dtype=torch.float32))
        epochs = self.epochs if self.epochs is not None else config.fast_or_full(30, 120)
        result = _engine_fit(module, train_ds, val_ds, max_epochs=int(epochs), batch_size=self.batch_size,
                             lr=self.lr, weight_decay=self.weight_decay, scheduler="cosine", run_dir=run_dir,
                             resume=resume,
                             patience=patience if val_ds is not None else None, device=self.device,
                             progress=self.progress, seed=self.seed, history=history, stop_event=stop_event,
                             config={"estimator": "GyroFlow", **self.get_params()})
        self.fit_result_ = result
        self.module_ = result.model.to("cpu").eval()
        self.history_ = result.history
        return self

    def _require_fitted(self):
        if self.module_ is None:
            raise DataValidationError("GyroFlow: the model is not fitted. Fix: call .fit(table) or "
                                      "GyroFlow.load(path) first.")

    # -- likelihoods and ages --------------------------------------------------------------
    def log_likelihood(self, table, log_age_grid=None, chunk: int = 200_000) -> np.ndarray:
        """Per-star log-likelihood of the observed period on a grid of ages.

        Parameters
        ----------
        table : astropy.table.Table
            Stars (``Prot``, ``BPRP_0``, ``e_BPRP_0``, optional memberships).
        log_age_grid : array_like, shape (G,), optional
            log10(age / Myr); default :func:`default_log_age_grid` (0.02 dex).
        chunk : int
            Flow evaluations per batch (memory control).

        Returns
        -------
        numpy.ndarray, shape (N, G)
            ``log p(log10 P | age, C_obs, sigma_C, m)`` [log 1/dex].
        """
        import torch

        self._require_fitted()
        rows = self._rows(table, "input table")
        grid = default_log_age_grid(0.02) if log_age_grid is None else np.asarray(log_age_grid, dtype=np.float64)
        n, g = len(rows), grid.size
        per = max(1, chunk // (g * self.n_colour_nodes))
        out = np.empty((n, g))
        module = self.module_
        grid_t = torch.as_tensor(grid, dtype=torch.float32)
        with torch.no_grad():
            for start in range(0, n, per):
                r = torch.as_tensor(rows[start:start + per], dtype=torch.float32)
                b = r.shape[0]
                rep = lambda v: v.unsqueeze(1).expand(b, g).reshape(-1)  # noqa: E731
                ll = module.log_likelihood(rep(r[:, 0]), grid_t.repeat(b), rep(r[:, 2]), rep(r[:, 3]), rep(r[:, 4]))
                out[start:start + b] = ll.reshape(b, g).double().numpy()
        return out

    def star_age(self, table, log_age_grid=None) -> StarAges:
        """Age posterior of every star (flat prior in log age on the grid).

        Parameters
        ----------
        table : astropy.table.Table
            Stars in the catalogue format.
        log_age_grid : array_like, shape (G,), optional
            log10(age / Myr); default 0.5 Myr - 10 Gyr in 0.02 dex steps.

        Returns
        -------
        StarAges
            ``posterior`` (N, G) per dex, ``median_myr`` (N,), ``interval_myr(level)``.
        """
        grid = default_log_age_grid(0.02) if log_age_grid is None else np.asarray(log_age_grid, dtype=np.float64)
        ll = self.log_likelihood(table, grid)
        ids = np.asarray(table["GaiaDR3_ID"]) if "GaiaDR3_ID" in table.colnames else None
        return StarAges(grid, _normalise(grid, ll), ids)

    def cluster_age(self, members, log_age_grid=None, *, refine: bool = True, name: str | None = None,
                    width_scale: float = 1.0, systematic_dex: float = 0.0) -> ClusterAge:
        """Posterior on the age of a cluster: flat prior times the product of its stars' likelihoods.

        Parameters
        ----------
        members : astropy.table.Table
            The cluster's stars (non-members are handled by the membership weights).
        log_age_grid : array_like, shape (G,), optional
            log10(age / Myr); default 0.5 Myr - 10 Gyr in 0.04 dex steps.
        refine : bool
            When the posterior's 0.01 %-99.99 % range covers fewer than 40 grid steps,
            re-evaluate on a fine grid over that range (0.002 dex steps, 20-120 points)
            with 12 coarser points on each side spanning twice the range again (room to
            temper it); the returned grid is then this non-uniform one.
        name : str, optional
            Label (default: the ``cluster`` column when it has one value).
        width_scale : float
            Factor >= 1 on the statistical width (:meth:`ClusterAge.tempered`).
        systematic_dex : float
            Gaussian systematic error [dex] convolved into the posterior
            (:meth:`ClusterAge.widened`). With the defaults (1, 0) the result is the
            statistical posterior alone; calibrate both with :func:`fit_age_calibration`
            on clusters of known age.

        Returns
        -------
        ClusterAge
        """
        grid = default_log_age_grid(0.04) if log_age_grid is None else np.asarray(log_age_grid, dtype=np.float64)
        total = self.log_likelihood(members, grid).sum(axis=0)
        post = _normalise(grid, total)
        if refine and grid.size > 2:
            lo_q, hi_q = _quantile(grid, post, 1e-4)[0], _quantile(grid, post, 1 - 1e-4)[0]
            step = float(np.median(np.diff(grid)))
            lo_q, hi_q = lo_q - 2 * step, hi_q + 2 * step
            if (hi_q - lo_q) / step < 40:
                width = hi_q - lo_q
                core = np.linspace(max(grid[0], lo_q), min(grid[-1], hi_q),
                                   int(np.clip(np.ceil(width / 0.002), 20, 120)) + 1)
                wing_lo = np.linspace(max(grid[0], lo_q - 2 * width), core[0], 13)[:-1]
                wing_hi = np.linspace(core[-1], min(grid[-1], hi_q + 2 * width), 13)[1:]
                grid = np.unique(np.concatenate([wing_lo, core, wing_hi]))
                total = self.log_likelihood(members, grid).sum(axis=0)
                post = _normalise(grid, total)
        if name is None and "cluster" in members.colnames and len(set(np.asarray(members["cluster"]))) == 1:
            name = str(members["cluster"][0])
        return ClusterAge(grid, post, len(members), name or "", total).calibrated(width_scale, systematic_dex)

    def density(self, age_myr: float, colour=None, log_period=None, sigma: float = 0.03) -> tuple:
        """Flow density of log10 P_rot over a (colour, log period) grid at a fixed age.

        Parameters
        ----------
        age_myr : float
            Age [Myr].
        colour : array_like, shape (Nc,), optional
            (BP-RP)_0 grid [mag] (default 0.4-3.4, 61 points).
        log_period : array_like, shape (Np,), optional
            log10(P_rot / d) grid (default -1 to 2, 61 points).
        sigma : float
            Colour error assumed [mag].

        Returns
        -------
        colour : numpy.ndarray, shape (Nc,)
        log_period : numpy.ndarray, shape (Np,)
        density : numpy.ndarray, shape (Np, Nc)
            ``p_flow(log10 P | age, colour)`` per dex (members, no outliers).
        """
        import torch

        self._require_fitted()
        colour = np.linspace(0.4, 3.4, 61) if colour is None else np.asarray(colour, dtype=np.float64)
        log_period = np.linspace(-1, 2, 61) if log_period is None else np.asarray(log_period, dtype=np.float64)
        cc, pp = np.meshgrid(colour, log_period)
        t = lambda v: torch.as_tensor(np.ravel(v), dtype=torch.float32)  # noqa: E731
        with torch.no_grad():
            lp = self.module_.marginal_log_density(t(pp), t(np.full(pp.size, np.log10(age_myr))), t(cc),
                                                   t(np.full(pp.size, sigma)))
        return colour, log_period, np.exp(lp.double().numpy()).reshape(pp.shape)

    def mean_nll(self, table) -> float:
        """Mean negative log-likelihood [nats per star] of ``table`` at its fiducial ages."""
        import torch

        self._require_fitted()
        rows = torch.as_tensor(self._rows(table, "table", need_age=True), dtype=torch.float32)
        with torch.no_grad():
            return float(-self.module_(rows).mean())

    # -- persistence ----------------------------------------------------------------------
    def save(self, path) -> Path:
        """Save settings, scalers (module buffers) and weights (atomic; loads with ``weights_only=True``).

        Parameters
        ----------
        path : path-like
            Destination file (``.pt``).

        Returns
        -------
        pathlib.Path
        """
        import torch

        import astrolab
        from astrolab.utils import atomic_path

        self._require_fitted()
        payload = {
            "kind": "GyroFlow",
            "format_version": _FORMAT_VERSION,
            "astrolab_version": astrolab.__version__,
            "params": self.get_params(),
            "scalers": {"loc": self.module_.loc.tolist(), "scale": self.module_.scale.tolist(),
                        "order": ["log10_age_myr", "bprp0_mag", "log10_e_bprp0_mag", "log10_prot_d"]},
            "training_log_age_range": list(self.training_log_age_range_ or ()),
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.module_.state_dict().items()},
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
        return Path(path)

    @classmethod
    def load(cls, path) -> "GyroFlow":
        """Load a model written by :meth:`save` (``torch.load(..., weights_only=True)``).

        Raises
        ------
        astrolab.errors.CheckpointError
            Missing, corrupt or foreign file.
        """
        import torch

        path = Path(path)
        if not path.exists():
            raise CheckpointError(f"GyroFlow.load: {path} does not exist. Fix: check the path or call save() first.")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise CheckpointError(f"GyroFlow.load: {path} could not be read ({type(exc).__name__}). "
                                  "Fix: the file is corrupt or truncated; save the model again.") from exc
        if not isinstance(payload, dict) or payload.get("kind") != "GyroFlow":
            raise CheckpointError(f"GyroFlow.load: {path} is not a GyroFlow file. "
                                  "Fix: pass a file written by GyroFlow.save().")
        if payload.get("format_version", 0) > _FORMAT_VERSION:
            raise CheckpointError(f"GyroFlow.load: {path} has format {payload['format_version']}, newer than "
                                  f"this astrolab supports ({_FORMAT_VERSION}). Fix: upgrade astrolab.")
        params = dict(payload["params"])
        model = cls(**params)
        module = model._new_module()
        try:
            module.load_state_dict(payload["state_dict"])
        except Exception as exc:
            raise CheckpointError(f"GyroFlow.load: {path} does not match the GyroFlow architecture ({exc}). "
                                  "Fix: save the model again with this astrolab version.") from exc
        model.module_ = module.eval()
        rng = payload.get("training_log_age_range") or None
        model.training_log_age_range_ = tuple(rng) if rng else None
        return model

    def __repr__(self) -> str:
        state = "fitted" if self.module_ is not None else "not fitted"
        return (f"GyroFlow(transforms={self.transforms}, hidden={list(self.hidden)}, bins={self.bins}, "
                f"n_colour_nodes={self.n_colour_nodes}, {state})")


# -- workflows used by the ChronoFlow notebook ---------------------------------------------------
def apply_cuts(table, *, ruwe_max: float | None = 1.4, flags: bool = True):
    """Select rows with the paper's quality cuts (or a variant of them).

    Parameters
    ----------
    table : astropy.table.Table
        Catalogue in the ``load_dataset("chronoflow")`` format.
    ruwe_max : float or None
        Keep ``dr3_ruwe < ruwe_max`` (None: no RUWE cut; NaN RUWE is kept then).
    flags : bool
        Keep only ``cmd_exclude = dered_exclude = phot_exclude = 0``.

    Returns
    -------
    astropy.table.Table
        The selected rows.
    """
    keep = np.ones(len(table), dtype=bool)
    if flags:
        for col in ("cmd_exclude", "dered_exclude", "phot_exclude"):
            if col not in table.colnames:
                raise invalid(f"apply_cuts: column {col!r}", "is missing", "pass flags=False or a full catalogue")
            keep &= np.asarray(table[col]) == 0
    if ruwe_max is not None:
        if "dr3_ruwe" not in table.colnames:
            raise invalid("apply_cuts: column 'dr3_ruwe'", "is missing", "pass ruwe_max=None")
        keep &= np.asarray(table["dr3_ruwe"], dtype=np.float64) < ruwe_max
    return table[keep]


def _clusters_older_than(table, min_age_myr: float) -> list[str]:
    names = []
    for name in np.unique(np.asarray(table["cluster"])):
        ages = np.asarray(table["fiducial_age_Myr"], dtype=np.float64)[np.asarray(table["cluster"]) == name]
        if np.all(ages > min_age_myr):
            names.append(str(name))
    return names


def cluster_ages(model: GyroFlow, table, clusters=None, *, min_age_myr: float = 20.0, level: float = 0.68,
                 width_scale: float = 1.0, systematic_dex: float = 0.0):
    """Age of each cluster of ``table`` with a fitted model.

    Parameters
    ----------
    model : GyroFlow
        Fitted model.
    table : astropy.table.Table
        Catalogue with ``cluster`` and ``fiducial_age_Myr`` [Myr] columns.
    clusters : sequence of str, optional
        Clusters to date (default: every cluster whose stars are all older than ``min_age_myr``).
    min_age_myr : float
        Age threshold [Myr] for the default cluster list.
    level : float
        Credible level of the ``lo_Myr``/``hi_Myr`` columns.
    width_scale, systematic_dex : float
        Calibration of every posterior (see :meth:`GyroFlow.cluster_age`, :func:`fit_age_calibration`).

    Returns
    -------
    table : astropy.table.Table
        One row per cluster: ``cluster``, ``n_stars``, ``fiducial_Myr``, ``median_Myr``,
        ``lo_Myr``, ``hi_Myr`` [Myr], ``dlog_age`` = log10(median / fiducial) [dex].
    results : dict of str -> ClusterAge
    """
    from astropy.table import Table

    clusters = _clusters_older_than(table, min_age_myr) if clusters is None else [str(c) for c in clusters]
    rows, results = [], {}
    names = np.asarray(table["cluster"])
    for name in clusters:
        members = table[names == name]
        if len(members) == 0:
            raise invalid(f"cluster_ages: cluster {name!r}", "has no stars in the table",
                          "check the name and the cuts applied")
        res = model.cluster_age(members, name=name, width_scale=width_scale, systematic_dex=systematic_dex)
        fid = float(np.median(np.asarray(members["fiducial_age_Myr"], dtype=np.float64)))
        lo, hi = res.interval_myr(level)
        rows.append((name, len(members), fid, res.median_myr, lo, hi, float(np.log10(res.median_myr / fid))))
        results[name] = res
    out = Table(rows=rows or None, names=("cluster", "n_stars", "fiducial_Myr", "median_Myr", "lo_Myr", "hi_Myr",
                                          "dlog_age"),
                dtype=(str, int, float, float, float, float, float))
    return out, results


def leave_one_cluster_out(table, clusters=None, *, min_age_myr: float = 20.0, level: float = 0.68,
                          **gyroflow_kwargs):
    """Leave-one-cluster-out ages: for each cluster, train without it and date it.

    Parameters
    ----------
    table : astropy.table.Table
        Training catalogue (``load_dataset("chronoflow", training_cuts=True)``).
    clusters : sequence of str, optional
        Clusters to leave out in turn (default: all clusters older than ``min_age_myr``).
    min_age_myr : float
        Age threshold [Myr] for the default cluster list.
    level : float
        Credible level of the interval columns.
    **gyroflow_kwargs
        Passed to :class:`GyroFlow` (``epochs``, ``seed``, ``device``...).

    Returns
    -------
    table : astropy.table.Table
        As :func:`cluster_ages`, one row per left-out cluster.
    results : dict of str -> ClusterAge
    """
    from astropy.table import vstack

    clusters = _clusters_older_than(table, min_age_myr) if clusters is None else [str(c) for c in clusters]
    names = np.asarray(table["cluster"])
    tables, results = [], {}
    for name in clusters:
        model = GyroFlow(**gyroflow_kwargs).fit(table[names != name])
        tab, res = cluster_ages(model, table, [name], level=level)
        tables.append(tab)
        results.update(res)
    return vstack(tables), results


def _append_interval_columns(cols, levels, calibrated, statistical, truth_myr):
    """Append ``lo_/hi_/covered_/covered_stat_<level>`` of one cluster to the column lists ``cols``."""
    for lv in levels:
        lo, hi = calibrated.interval_myr(lv)
        slo, shi = statistical.interval_myr(lv)
        for key, value in ((f"lo_{lv}", lo), (f"hi_{lv}", hi), (f"covered_{lv}", bool(lo <= truth_myr <= hi)),
                           (f"covered_stat_{lv}", bool(slo <= truth_myr <= shi))):
            cols.setdefault(key, []).append(value)


def _coverage(table, levels, prefix="covered"):
    """{level: fraction of rows whose ``<prefix>_<level>`` column is True}."""
    return {float(lv): float(np.mean(table[f"{prefix}_{lv}"])) for lv in levels}


def leave_one_out_calibration(results, truth_myr, levels=(0.68, 0.95)):
    """Intervals calibrated on the *other* clusters, and their coverage.

    For each cluster ``i``, :func:`fit_age_calibration` runs on every cluster but
    ``i``; cluster ``i``'s posterior is calibrated with the result and its interval
    checked against its own truth, which took no part in the fit. Use it on the
    output of :func:`leave_one_cluster_out` (truth = fiducial ages) or on simulated clusters.

    Parameters
    ----------
    results : dict of str -> ClusterAge, K >= 3 entries
        Statistical cluster posteriors.
    truth_myr : dict of str -> float, or array_like of shape (K,)
        True / fiducial ages [Myr], in the order of ``results``.
    levels : sequence of float
        Credible levels.

    Returns
    -------
    table : astropy.table.Table
        Per cluster: ``cluster``, ``truth_Myr``, ``sigma_stat_dex`` (half the statistical
        68 % width), ``width_scale`` and ``systematic_dex`` (fitted without it),
        ``median_Myr``, ``sigma_dex`` (calibrated), ``lo_<level>``/``hi_<level>`` [Myr]
        of the calibrated posterior, ``covered_<level>`` and ``covered_stat_<level>`` (bool).
    summary : dict
        ``coverage`` and ``coverage_statistical`` ({level: fraction}) and
        ``calibration_all`` (:func:`fit_age_calibration` on all K clusters, for final ages).
    """
    from astropy.table import Table

    names = list(results)
    if len(names) < 3:
        raise invalid("leave_one_out_calibration", f"needs at least 3 clusters, got {len(names)}",
                      "date more clusters (e.g. leave_one_cluster_out(..., clusters=None))")
    truth = (np.array([float(truth_myr[n]) for n in names]) if isinstance(truth_myr, dict)
             else np.asarray(truth_myr, dtype=np.float64))
    if truth.shape != (len(names),):
        raise invalid("leave_one_out_calibration(truth_myr=...)", f"has shape {truth.shape}, "
                      f"expected ({len(names)},)", "pass one age [Myr] per cluster, in the order of results")
    post = [results[n] for n in names]
    cols = {"cluster": names, "truth_Myr": truth, "sigma_stat_dex": [r.sigma_dex() for r in post],
            "width_scale": [], "systematic_dex": [], "median_Myr": [], "sigma_dex": []}
    for i, r in enumerate(post):
        others = [k for k in range(len(post)) if k != i]
        cal = fit_age_calibration([post[k] for k in others], truth[others])
        calibrated = r.calibrated(cal["width_scale"], cal["systematic_dex"])
        cols["width_scale"].append(cal["width_scale"])
        cols["systematic_dex"].append(cal["systematic_dex"])
        cols["median_Myr"].append(calibrated.median_myr)
        cols["sigma_dex"].append(calibrated.sigma_dex())
        _append_interval_columns(cols, levels, calibrated, r, truth[i])
    out = Table(cols)
    summary = {"coverage": _coverage(out, levels), "coverage_statistical": _coverage(out, levels, "covered_stat"),
               "calibration_all": fit_age_calibration(post, truth)}
    return out, summary


def simulation_recovery(n_train_clusters: int = 20, n_test_clusters: int = 10, n_stars: int = 150, *,
                        n_calibration_clusters: int = 10, seed: int = 0, levels=(0.68, 0.95),
                        return_model: bool = False, **gyroflow_kwargs):
    """Train on simulated clusters and date fresh simulated clusters at new ages.

    Training ages are log-uniform in 20 Myr - 4 Gyr; calibration and test ages
    log-uniform in 30 Myr - 3 Gyr (new stars, new ages: the flow must interpolate
    in age). The calibration of the age posteriors (:func:`fit_age_calibration`:
    width scale and systematic) is fitted on the calibration clusters only and
    applied to the test clusters' posteriors; coverage is measured on the test clusters.

    Parameters
    ----------
    n_train_clusters, n_test_clusters : int
        Number of simulated clusters for training and testing.
    n_calibration_clusters : int
        Simulated clusters (fresh ages and stars) that fix the calibration;
        0 reports the statistical posteriors alone.
    n_stars : int
        Stars per cluster (members and contaminants).
    seed : int
        Random seed (simulation and training).
    levels : sequence of float
        Credible levels whose empirical coverage is reported.
    return_model : bool
        Also return the fitted model and the test table.
    **gyroflow_kwargs
        Passed to :class:`GyroFlow`.

    Returns
    -------
    table : astropy.table.Table
        Per test cluster: ``cluster``, ``true_Myr``, ``median_Myr``, ``dlog_age`` [dex],
        ``sigma_stat_dex``, ``lo_<level>``/``hi_<level>`` [Myr] and ``covered_<level>`` (bool)
        of the calibrated posterior, ``covered_stat_<level>`` of the statistical one.
        ``table.meta`` holds ``calibration`` (:func:`fit_age_calibration`'s dict, or None)
        and ``coverage_statistical``.
    coverage : dict
        ``{level: fraction of test clusters whose calibrated interval holds the true age}``.
    (model, test_table) : only with ``return_model=True``.
    """
    from astropy.table import Table

    from astrolab.sim.rotation import simulate_clusters

    rng = np.random.default_rng(seed)
    train_ages = np.sort(10 ** rng.uniform(np.log10(20.0), np.log10(4000.0), n_train_clusters))
    test_ages = 10 ** rng.uniform(np.log10(30.0), np.log10(3000.0), n_test_clusters)
    train = simulate_clusters(train_ages, n_stars, seed=seed + 1)
    calib_ages = 10 ** rng.uniform(np.log10(30.0), np.log10(3000.0), int(n_calibration_clusters))
    test = simulate_clusters(test_ages, n_stars, seed=seed + 2,
                             names=[f"SimTest{i:02d}" for i in range(n_test_clusters)])
    gyroflow_kwargs.setdefault("seed", seed)
    model = GyroFlow(**gyroflow_kwargs).fit(train)
    calibration = None
    if calib_ages.size:
        calib = simulate_clusters(calib_ages, n_stars, seed=seed + 3,
                                  names=[f"SimCal{i:02d}" for i in range(calib_ages.size)])
        cnames = np.asarray(calib["cluster"])
        calib_post = [model.cluster_age(calib[cnames == f"SimCal{i:02d}"]) for i in range(calib_ages.size)]
        calibration = fit_age_calibration(calib_post, calib_ages)
    cols = {"cluster": [], "true_Myr": [], "median_Myr": [], "dlog_age": [], "sigma_stat_dex": []}
    names = np.asarray(test["cluster"])
    for i, age in enumerate(test_ages):
        name = f"SimTest{i:02d}"
        stat = model.cluster_age(test[names == name], name=name)
        res = stat if calibration is None else stat.calibrated(calibration["width_scale"],
                                                               calibration["systematic_dex"])
        cols["cluster"].append(name)
        cols["true_Myr"].append(float(age))
        cols["median_Myr"].append(res.median_myr)
        cols["dlog_age"].append(float(np.log10(res.median_myr / age)))
        cols["sigma_stat_dex"].append(stat.sigma_dex())
        _append_interval_columns(cols, levels, res, stat, float(age))
    out = Table(cols)
    coverage = _coverage(out, levels)
    out.meta["calibration"] = calibration
    out.meta["coverage_statistical"] = _coverage(out, levels, "covered_stat")
    if return_model:
        return out, coverage, (model, test)
    return out, coverage


def _engine_fit(module, train_ds, val_ds, **kwargs):
    """Train with :func:`astrolab.train.fit` (the project's engine)."""
    from astrolab.train import fit

    return fit(module, train_ds, val_ds, **kwargs)

"""Redshift probability densities on a grid, and the scores of probabilistic photo-z.

:class:`RedshiftPDF` holds ``N`` densities ``p_i(z)`` tabulated on a common,
strictly increasing redshift grid ``z_grid`` (G,). Between grid nodes the
density is taken to be piecewise linear, so that

- the normalisation is the trapezoid integral over the grid (exactly 1);
- the CDF at the nodes is the cumulative trapezoid sum and, between nodes, the
  exact integral of the linear density (a quadratic), which makes
  :meth:`RedshiftPDF.pit` and :meth:`RedshiftPDF.quantile` exact inverses;
- the density is zero outside the grid.

Scores follow ``/work/shared/papers.md`` section 0: PIT, CRPS (binned and closed
form for Gaussian mixtures), central/HPD coverage, CDE loss (Dalmasso et al.
2020). Redshifts are dimensionless; densities have units of 1/redshift.

torch is imported only inside the ``*_torch`` functions.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import special, stats

from astrolab.errors import invalid
from astrolab.utils import atomic_path

__all__ = [
    "RedshiftPDF",
    "GoodnessOfFit",
    "pit_ks",
    "pit_cvm",
    "pit_histogram",
    "crps_gaussian",
    "crps_gaussian_mixture",
    "crps_gaussian_mixture_torch",
    "gaussian_mixture_nll_torch",
]

_FORMAT = "astrolab.RedshiftPDF"
_FORMAT_VERSION = 1
_MAX_CHUNK = 4_000_000  # array elements per chunk in the KDE


class GoodnessOfFit(NamedTuple):
    """Result of a goodness-of-fit test of PIT values against U(0, 1).

    Attributes
    ----------
    statistic : float
        Test statistic (KS distance D, or Cramér–von Mises ω²).
    pvalue : float
        p-value of the hypothesis "PIT ~ U(0, 1)".
    """

    statistic: float
    pvalue: float


# ----------------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------------
def _finite_array(x: ArrayLike, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise invalid(name, f"cannot be converted to a float array ({exc})",
                      "pass numbers (a list, numpy array or table column)") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            raise invalid(name, f"has {arr.ndim} dimension(s) (shape {arr.shape}), expected "
                          f"{' or '.join(str(a) for a in allowed)}",
                          "reshape the array to the documented shape")
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr.ravel()))
        raise invalid(name, f"contains {bad.size} non-finite value(s) (NaN/inf), first at flat index "
                      f"{bad[:5].tolist()}", "drop or impute those entries before computing the metric")
    return arr


def _check_level(level: float, name: str = "level") -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise invalid(name, f"is {level}, outside the open interval (0, 1)",
                      "pass a probability such as 0.68 or 0.95")
    return level


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


# ----------------------------------------------------------------------------------------------
# RedshiftPDF
# ----------------------------------------------------------------------------------------------
class RedshiftPDF:
    """Redshift probability densities of ``N`` objects on a common grid.

    Parameters
    ----------
    z_grid : array_like, shape (G,)
        Redshift grid (dimensionless), strictly increasing, finite, >= 0, G >= 2.
    pdf : array_like, shape (N, G) or (G,)
        Non-negative, finite density values at the grid nodes (1/redshift). A 1-D
        array is one object. Each row is renormalised so that its trapezoid
        integral over ``z_grid`` is 1; rows that integrate to 0 are an error.
    ids : array_like, shape (N,), optional
        Object identifiers (integers or strings). Default ``arange(N)``.

    Raises
    ------
    astrolab.errors.DataValidationError
        Bad grid, bad shape, negative/non-finite values, zero rows (the message
        names the row ids), or ``ids`` of the wrong length.

    Notes
    -----
    Between nodes the density is linear; it is zero outside the grid. All
    results are exact for that piecewise-linear density, except where stated.

    Examples
    --------
    >>> z = np.linspace(0, 3, 301)
    >>> pdf = RedshiftPDF.from_gaussian_mixture([[1.0]], [[0.8]], [[0.05]], z)
    >>> float(pdf.median()[0])  # doctest: +SKIP
    0.8
    """

    def __init__(self, z_grid: ArrayLike, pdf: ArrayLike, ids: ArrayLike | None = None):
        z = _finite_array(z_grid, "RedshiftPDF.z_grid", ndim=1)
        if z.size < 2:
            raise invalid("RedshiftPDF.z_grid", f"has {z.size} node(s)", "pass a grid with at least 2 redshifts")
        if np.any(np.diff(z) <= 0):
            raise invalid("RedshiftPDF.z_grid", "is not strictly increasing",
                          "sort the grid and remove duplicate redshifts")
        if z[0] < 0:
            raise invalid("RedshiftPDF.z_grid", f"starts at a negative redshift ({z[0]:g})",
                          "use a grid of redshifts >= 0")
        p = _finite_array(pdf, "RedshiftPDF.pdf", ndim=(1, 2))
        if p.ndim == 1:
            p = p[None, :]
        if p.shape[1] != z.size:
            raise invalid("RedshiftPDF.pdf", f"has shape {p.shape} but z_grid has {z.size} nodes",
                          "pass pdf with shape (N, len(z_grid))")
        if np.any(p < 0):
            rows = np.unique(np.nonzero(p < 0)[0])
            raise invalid("RedshiftPDF.pdf", f"has negative values in {rows.size} row(s) "
                          f"(row indices {rows[:10].tolist()})", "clip the densities at 0 (np.clip(pdf, 0, None))")
        n = p.shape[0]
        if ids is None:
            id_arr = np.arange(n)
        else:
            id_arr = np.asarray(ids)
            if id_arr.ndim != 1 or id_arr.shape[0] != n:
                raise invalid("RedshiftPDF.ids", f"has shape {id_arr.shape} but pdf has {n} rows",
                              "pass one identifier per PDF row, or ids=None")
        norm = np.trapezoid(p, z, axis=1)
        zero = ~(norm > 0)
        if np.any(zero):
            bad = id_arr[zero]
            raise invalid("RedshiftPDF.pdf", f"{bad.size} row(s) integrate to 0 over z_grid "
                          f"(ids {bad[:10].tolist()}{' ...' if bad.size > 10 else ''})",
                          "drop those objects or give them a non-zero density (e.g. a flat prior)")
        # renormalise (rows already normalised to round-off are kept bit-exact, so save/load round-trips)
        p = np.where(np.abs(norm - 1.0)[:, None] > 1e-12, p / norm[:, None], p)
        z.flags.writeable = False
        p.flags.writeable = False
        id_arr = id_arr.copy()
        id_arr.flags.writeable = False
        self._z = z
        self._p = p
        self._ids = id_arr
        self._cdf: np.ndarray | None = None

    # -- basic container protocol ----------------------------------------------------------------
    @property
    def z_grid(self) -> np.ndarray:
        """Redshift grid (G,), read-only."""
        return self._z

    @property
    def pdf(self) -> np.ndarray:
        """Normalised densities (N, G) in 1/redshift, read-only."""
        return self._p

    @property
    def ids(self) -> np.ndarray:
        """Object identifiers (N,), read-only."""
        return self._ids

    @property
    def n(self) -> int:
        """Number of objects N."""
        return self._p.shape[0]

    @property
    def n_grid(self) -> int:
        """Number of grid nodes G."""
        return self._z.size

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key) -> "RedshiftPDF":
        """Select objects by integer, slice, integer array or boolean mask (N,).

        Always returns a :class:`RedshiftPDF` (an integer gives one object).
        """
        if isinstance(key, (int, np.integer)):
            i = int(key)
            if not -self.n <= i < self.n:
                raise IndexError(f"RedshiftPDF index {i} out of range for {self.n} objects")
            key = [i]
        elif not isinstance(key, slice):
            key = np.asarray(key)
            if key.dtype == bool and key.shape != (self.n,):
                raise invalid("RedshiftPDF[mask]", f"mask has shape {key.shape}, expected ({self.n},)",
                              "use a boolean mask with one entry per object")
        new = object.__new__(RedshiftPDF)
        new._z = self._z
        p = self._p[key]
        ids = self._ids[key]
        p.flags.writeable = False
        ids.flags.writeable = False
        new._p = p
        new._ids = ids
        new._cdf = None if self._cdf is None else self._cdf[key]
        return new

    def __repr__(self) -> str:
        return (f"RedshiftPDF(n={self.n}, grid={self.n_grid} nodes in "
                f"[{self._z[0]:g}, {self._z[-1]:g}])")

    # -- per-object summaries ----------------------------------------------------------------------
    def cdf(self) -> np.ndarray:
        """Cumulative distribution at the grid nodes.

        Returns
        -------
        numpy.ndarray, shape (N, G)
            ``F_i(z_grid[j])`` (dimensionless), 0 at the first node, 1 at the last.
        """
        if self._cdf is None:
            dz = np.diff(self._z)
            cells = 0.5 * (self._p[:, 1:] + self._p[:, :-1]) * dz
            c = np.zeros_like(self._p)
            np.cumsum(cells, axis=1, out=c[:, 1:])
            c /= np.where(c[:, -1:] > 0, c[:, -1:], 1.0)
            c.flags.writeable = False
            self._cdf = c
        return self._cdf

    def _per_object(self, z: ArrayLike, name: str) -> np.ndarray:
        arr = _finite_array(z, name)
        if arr.ndim == 0:
            return np.full(self.n, float(arr))
        if arr.shape != (self.n,):
            raise invalid(name, f"has shape {arr.shape}, expected ({self.n},) (one value per object)",
                          "pass one redshift per PDF row, in the same order")
        return arr

    def _cell(self, z: np.ndarray):
        """Cell index j (z_j <= z <= z_{j+1}), fraction t in [0, 1] and width h."""
        g = self._z
        j = np.clip(np.searchsorted(g, z, side="right") - 1, 0, g.size - 2)
        h = g[j + 1] - g[j]
        t = np.clip((z - g[j]) / h, 0.0, 1.0)
        return j, t, h

    def mean(self) -> np.ndarray:
        """Mean redshift ∫ z p(z) dz (trapezoid), shape (N,)."""
        return np.trapezoid(self._p * self._z, self._z, axis=1)

    def std(self) -> np.ndarray:
        """Standard deviation sqrt(∫ (z - mean)² p(z) dz) (trapezoid), shape (N,)."""
        m = self.mean()
        var = np.trapezoid(self._p * (self._z[None, :] - m[:, None]) ** 2, self._z, axis=1)
        return np.sqrt(np.clip(var, 0.0, None))

    def mode(self) -> np.ndarray:
        """Redshift of the highest grid node, shape (N,) (grid precision)."""
        if self.n == 0:
            return np.zeros(0)
        return self._z[np.argmax(self._p, axis=1)]

    def median(self) -> np.ndarray:
        """Median redshift, shape (N,)."""
        return self.quantile(0.5)

    def quantile(self, q: float | ArrayLike) -> np.ndarray:
        """Redshift below which a fraction ``q`` of each PDF lies.

        Parameters
        ----------
        q : float or array_like, shape (Q,)
            Probabilities in [0, 1].

        Returns
        -------
        numpy.ndarray, shape (N,) for scalar ``q``, (N, Q) otherwise
            Redshifts (exact inverse of the piecewise-quadratic CDF).
        """
        qa = _finite_array(q, "quantile q", ndim=(0, 1))
        if np.any((qa < 0) | (qa > 1)):
            raise invalid("quantile q", "has values outside [0, 1]", "pass probabilities between 0 and 1")
        qq = np.broadcast_to(np.atleast_1d(qa)[None, :], (self.n, np.atleast_1d(qa).size))
        out = self._inverse_cdf(qq)
        return out[:, 0] if qa.ndim == 0 else out

    def _inverse_cdf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF for probabilities ``u`` of shape (N, M) -> redshifts (N, M)."""
        n, m = u.shape
        if n == 0 or m == 0:
            return np.zeros((n, m))
        g, p, cdf = self._z, self._p, self.cdf()
        rows = np.arange(n)[:, None]
        # monotone flattening: row i lives in [2i, 2i + 1]
        flat = (cdf + 2.0 * np.arange(n)[:, None]).ravel()
        k = np.searchsorted(flat, (u + 2.0 * rows).ravel(), side="left").reshape(n, m) - rows * g.size
        k = np.clip(k, 1, g.size - 1)
        j = k - 1
        h = g[k] - g[j]
        pj, pk, fj = p[rows, j], p[rows, k], cdf[rows, j]
        a = 0.5 * (pk - pj) * h
        b = pj * h
        c = fj - u  # <= 0
        disc = np.sqrt(np.clip(b * b - 4.0 * a * c, 0.0, None))
        den = b + disc
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(den > 0, -2.0 * c / den, 0.0)
        t = np.clip(t, 0.0, 1.0)
        out = g[j] + t * h
        return np.where(u <= 0, g[0], np.where(u >= 1, np.minimum(out, g[-1]), out))

    def pdf_at(self, z: float | ArrayLike) -> np.ndarray:
        """Density of each object at its own redshift.

        Parameters
        ----------
        z : float or array_like, shape (N,)
            One redshift per object (a scalar is used for all).

        Returns
        -------
        numpy.ndarray, shape (N,)
            ``p_i(z_i)`` in 1/redshift (linear interpolation; 0 outside the grid).
        """
        zz = self._per_object(z, "RedshiftPDF.pdf_at z")
        if self.n == 0:
            return np.zeros(0)
        j, t, _ = self._cell(zz)
        rows = np.arange(self.n)
        val = (1 - t) * self._p[rows, j] + t * self._p[rows, j + 1]
        inside = (zz >= self._z[0]) & (zz <= self._z[-1])
        return np.where(inside, val, 0.0)

    def point_estimate(self, kind: str = "mode") -> np.ndarray:
        """Point redshift per object, shape (N,).

        Parameters
        ----------
        kind : {"mode", "mean", "median"}
        """
        if kind == "mode":
            return self.mode()
        if kind == "mean":
            return self.mean()
        if kind == "median":
            return self.median()
        raise invalid("point_estimate kind", f"is {kind!r}", 'use "mode", "mean" or "median"')

    # -- highest posterior density ---------------------------------------------------------------
    def _hpd_threshold(self, level: float) -> np.ndarray:
        """Density threshold t_i (N,) such that the region p_i >= t_i holds ``level`` of the mass.

        The mass of a set of nodes is Σ p_j w_j with trapezoid node weights w_j;
        the threshold is interpolated between sorted node values to hit ``level``.
        """
        level = _check_level(level)
        if self.n == 0:
            return np.zeros(0)
        g, p = self._z, self._p
        w = np.zeros(g.size)
        d = np.diff(g)
        w[:-1] += 0.5 * d
        w[1:] += 0.5 * d
        order = np.argsort(-p, axis=1, kind="stable")
        ps = np.take_along_axis(p, order, axis=1)
        mass = np.cumsum(ps * w[order], axis=1)
        mass /= mass[:, -1:]
        k = np.minimum((mass < level).sum(axis=1), g.size - 1)
        rows = np.arange(self.n)
        pk = ps[rows, k]
        mk = mass[rows, k]
        km1 = np.maximum(k - 1, 0)
        pprev = np.where(k > 0, ps[rows, km1], pk)
        mprev = np.where(k > 0, mass[rows, km1], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(mk > mprev, (mk - level) / (mk - mprev), 0.0)
        thr = pk + np.clip(frac, 0.0, 1.0) * (pprev - pk)
        return np.minimum(thr, pk)

    def hpd_mask(self, level: float = 0.68) -> np.ndarray:
        """Grid nodes inside the highest-posterior-density region.

        Parameters
        ----------
        level : float
            Probability mass of the region, in (0, 1).

        Returns
        -------
        numpy.ndarray of bool, shape (N, G)
            True where ``p_i(z_j) >= t_i``; the region may be disjoint for
            multimodal PDFs.
        """
        thr = self._hpd_threshold(level)
        return self._p >= thr[:, None]

    def n_hpd_peaks(self, level: float = 0.68) -> np.ndarray:
        """Number of disjoint segments of the HPD region, shape (N,) int.

        A value > 1 flags a multimodal (degenerate) redshift solution.
        """
        m = self.hpd_mask(level)
        if self.n == 0:
            return np.zeros(0, dtype=int)
        starts = m[:, 1:] & ~m[:, :-1]
        return (m[:, 0].astype(int) + starts.sum(axis=1)).astype(int)

    def hpd_interval(self, level: float = 0.68) -> np.ndarray:
        """Lower and upper redshift of the highest-posterior-density region.

        Parameters
        ----------
        level : float
            Probability mass, in (0, 1).

        Returns
        -------
        numpy.ndarray, shape (N, 2)
            (lower, upper) redshift; for a disjoint region these are the outer
            edges of its union (see :meth:`hpd_mask`, :meth:`n_hpd_peaks`).
            Edges are linearly interpolated to where the density crosses the
            HPD threshold (sub-grid precision).
        """
        thr = self._hpd_threshold(level)
        if self.n == 0:
            return np.zeros((0, 2))
        g, p = self._z, self._p
        m = p >= thr[:, None]
        rows = np.arange(self.n)
        first = np.argmax(m, axis=1)
        last = g.size - 1 - np.argmax(m[:, ::-1], axis=1)

        def cross(i_in, i_out):
            p_in, p_out = p[rows, i_in], p[rows, i_out]
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(p_in > p_out, (p_in - thr) / (p_in - p_out), 0.0)
            f = np.clip(f, 0.0, 1.0)
            return g[i_in] + f * (g[i_out] - g[i_in])

        lo = np.where(first > 0, cross(first, np.maximum(first - 1, 0)), g[0])
        hi = np.where(last < g.size - 1, cross(last, np.minimum(last + 1, g.size - 1)), g[-1])
        return np.stack([lo, hi], axis=1)

    # -- scores against true redshifts -------------------------------------------------------
    def pit(self, z_true: ArrayLike) -> np.ndarray:
        """Probability integral transform ``F_i(z_true,i)``.

        Parameters
        ----------
        z_true : array_like, shape (N,)
            True redshift of each object.

        Returns
        -------
        numpy.ndarray, shape (N,)
            PIT values in [0, 1] (0 below the grid, 1 above it). For calibrated
            PDFs they follow U(0, 1); test with :func:`pit_ks` / :func:`pit_cvm`.
        """
        zt = self._per_object(z_true, "RedshiftPDF.pit z_true")
        return self._cdf_at(zt)

    def _cdf_at(self, zt: np.ndarray) -> np.ndarray:
        if self.n == 0:
            return np.zeros(0)
        j, t, h = self._cell(zt)
        rows = np.arange(self.n)
        pj, pk = self._p[rows, j], self._p[rows, j + 1]
        f = self.cdf()[rows, j] + h * (pj * t + 0.5 * (pk - pj) * t * t)
        f = np.where(zt < self._z[0], 0.0, np.where(zt > self._z[-1], 1.0, f))
        return np.clip(f, 0.0, 1.0)

    def crps(self, z_true: ArrayLike) -> np.ndarray:
        """Continuous ranked probability score ∫ (F_i(z) − 𝟙[z ≥ z_true,i])² dz.

        Parameters
        ----------
        z_true : array_like, shape (N,)
            True redshift of each object.

        Returns
        -------
        numpy.ndarray, shape (N,)
            CRPS in redshift units (lower is better). Binned version: the CDF is
            taken at the grid nodes (exact PIT at ``z_true``) and linear in
            between; truths outside the grid add their distance to the grid edge.
        """
        zt = self._per_object(z_true, "RedshiftPDF.crps z_true")
        if self.n == 0:
            return np.zeros(0)
        g, f = self._z, self.cdf()
        h = np.diff(g)
        a, b = f[:, :-1], f[:, 1:]
        left_cells = h * (a * a + a * b + b * b) / 3.0  # ∫ F² per cell
        ga, gb = 1 - a, 1 - b
        right_cells = h * (ga * ga + ga * gb + gb * gb) / 3.0  # ∫ (1-F)² per cell
        c_left = np.zeros_like(f)
        np.cumsum(left_cells, axis=1, out=c_left[:, 1:])
        c_right = np.zeros_like(f)
        np.cumsum(right_cells[:, ::-1], axis=1, out=c_right[:, 1:])
        c_right = c_right[:, ::-1]  # c_right[:, j] = ∫_{z_j}^{z_G} (1-F)²
        j, t, hj = self._cell(zt)
        rows = np.arange(self.n)
        ft = self._cdf_at(np.clip(zt, g[0], g[-1]))
        fj, fk = f[rows, j], f[rows, j + 1]
        part_left = t * hj * (fj * fj + fj * ft + ft * ft) / 3.0
        gt, gk = 1 - ft, 1 - fk
        part_right = (1 - t) * hj * (gt * gt + gt * gk + gk * gk) / 3.0
        inside = c_left[rows, j] + part_left + part_right + c_right[rows, j + 1]
        below = (g[0] - zt) + c_right[:, 0]
        above = c_left[:, -1] + (zt - g[-1])
        return np.where(zt < g[0], below, np.where(zt > g[-1], above, inside))

    def coverage(self, z_true: ArrayLike, levels=(0.68, 0.95)) -> dict:
        """Fraction of truths inside the central (equal-tailed) credible interval.

        Parameters
        ----------
        z_true : array_like, shape (N,)
            True redshifts.
        levels : sequence of float
            Credible levels in (0, 1).

        Returns
        -------
        dict
            ``{level: fraction}``; a calibrated model gives fraction ≈ level.
        """
        pit = self.pit(z_true)
        out = {}
        for lev in levels:
            lev = _check_level(lev, "coverage level")
            lo, hi = 0.5 * (1 - lev), 0.5 * (1 + lev)
            out[lev] = float(np.mean((pit >= lo) & (pit <= hi))) if self.n else float("nan")
        return out

    def hpd_coverage(self, z_true: ArrayLike, levels=(0.68, 0.95)) -> dict:
        """Fraction of truths inside the highest-posterior-density region.

        Parameters
        ----------
        z_true : array_like, shape (N,)
            True redshifts.
        levels : sequence of float
            Credible levels in (0, 1).

        Returns
        -------
        dict
            ``{level: fraction}`` where a truth is covered when
            ``p_i(z_true,i)`` reaches the HPD threshold (disjoint regions count).
        """
        zt = self._per_object(z_true, "RedshiftPDF.hpd_coverage z_true")
        dens = self.pdf_at(zt)
        inside = (zt >= self._z[0]) & (zt <= self._z[-1])
        out = {}
        for lev in levels:
            lev = _check_level(lev, "hpd_coverage level")
            thr = self._hpd_threshold(lev)
            out[lev] = float(np.mean(inside & (dens >= thr))) if self.n else float("nan")
        return out

    def cde_loss(self, z_true: ArrayLike) -> float:
        """Conditional density estimation loss (Dalmasso et al. 2020).

        ``mean_i [ ∫ p_i(z)² dz − 2 p_i(z_true,i) ]`` (trapezoid). Lower is
        better; units of 1/redshift.

        Parameters
        ----------
        z_true : array_like, shape (N,)

        Returns
        -------
        float
        """
        zt = self._per_object(z_true, "RedshiftPDF.cde_loss z_true")
        if self.n == 0:
            return float("nan")
        term1 = np.trapezoid(self._p ** 2, self._z, axis=1)
        return float(np.mean(term1 - 2.0 * self.pdf_at(zt)))

    def sample(self, n: int, rng=None) -> np.ndarray:
        """Draw redshifts from each PDF by inverse-CDF sampling.

        Parameters
        ----------
        n : int
            Draws per object.
        rng : numpy.random.Generator, int or None
            Random generator or seed.

        Returns
        -------
        numpy.ndarray, shape (N, n)
        """
        n = int(n)
        if n < 0:
            raise invalid("RedshiftPDF.sample n", f"is {n}", "pass a non-negative number of draws")
        u = _rng(rng).random((self.n, n))
        return self._inverse_cdf(u)

    # -- constructors ------------------------------------------------------------------------
    @classmethod
    def from_gaussian_mixture(cls, weights: ArrayLike, means: ArrayLike, sigmas: ArrayLike,
                              z_grid: ArrayLike, ids: ArrayLike | None = None) -> "RedshiftPDF":
        """PDFs from Gaussian mixtures evaluated on a grid (truncated to the grid, renormalised).

        Parameters
        ----------
        weights, means, sigmas : array_like, shape (N, K) (or (N,) for K = 1)
            Mixture weights (>= 0, renormalised to sum to 1), means and standard
            deviations (> 0) in redshift.
        z_grid : array_like, shape (G,)
        ids : array_like, shape (N,), optional

        Returns
        -------
        RedshiftPDF
        """
        w, m, s = _mixture_arrays(weights, means, sigmas, "RedshiftPDF.from_gaussian_mixture")
        z = _finite_array(z_grid, "RedshiftPDF.z_grid", ndim=1)
        dens = np.zeros((w.shape[0], z.size))
        for k in range(w.shape[1]):
            dens += w[:, k:k + 1] * stats.norm.pdf(z[None, :], m[:, k:k + 1], s[:, k:k + 1])
        return cls(z, dens, ids=ids)

    @classmethod
    def from_samples(cls, samples: ArrayLike, z_grid: ArrayLike, bandwidth: float | ArrayLike | None = None,
                     ids: ArrayLike | None = None) -> "RedshiftPDF":
        """PDFs from redshift samples with a Gaussian kernel density estimate.

        Parameters
        ----------
        samples : array_like, shape (N, S) (or (S,) for one object)
            Redshift draws per object.
        z_grid : array_like, shape (G,)
        bandwidth : float or array_like (N,), optional
            Kernel standard deviation in redshift. Default: Silverman's rule
            ``0.9 min(std, IQR/1.34) S^(-1/5)`` per object, floored at the
            median grid spacing.
        ids : array_like, shape (N,), optional

        Returns
        -------
        RedshiftPDF
        """
        x = _finite_array(samples, "RedshiftPDF.from_samples samples", ndim=(1, 2))
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[1] == 0:
            raise invalid("RedshiftPDF.from_samples samples", "has no samples per object",
                          "pass an (N, S) array with S >= 1")
        z = _finite_array(z_grid, "RedshiftPDF.z_grid", ndim=1)
        n, s = x.shape
        floor = float(np.median(np.diff(z))) if z.size > 1 else 1.0
        if bandwidth is None:
            sd = x.std(axis=1, ddof=1) if s > 1 else np.zeros(n)
            iqr = np.subtract(*np.percentile(x, [75, 25], axis=1)) / 1.34
            spread = np.where(iqr > 0, np.minimum(sd, iqr), sd)
            bw = 0.9 * spread * s ** (-0.2)
        else:
            bw = _finite_array(bandwidth, "RedshiftPDF.from_samples bandwidth", ndim=(0, 1))
            if np.any(bw <= 0):
                raise invalid("RedshiftPDF.from_samples bandwidth", "has values <= 0",
                              "pass a positive kernel width in redshift, or None for Silverman's rule")
            bw = np.broadcast_to(bw, (n,)).astype(float)
        bw = np.maximum(bw, floor)
        dens = np.empty((n, z.size))
        step = max(1, _MAX_CHUNK // max(1, s * z.size))
        for start in range(0, n, step):
            sl = slice(start, start + step)
            u = (z[None, None, :] - x[sl, :, None]) / bw[sl, None, None]
            dens[sl] = np.exp(-0.5 * u * u).sum(axis=1) / (s * bw[sl, None] * math.sqrt(2 * math.pi))
        return cls(z, dens, ids=ids)

    @classmethod
    def from_logits(cls, logits: ArrayLike, z_grid: ArrayLike, ids: ArrayLike | None = None) -> "RedshiftPDF":
        """PDFs from classifier logits over redshift bins centred on ``z_grid``.

        The softmax gives the probability of each bin; bin edges are the
        midpoints between nodes (outer bins symmetric, lower edge clipped at 0);
        the density at a node is the probability divided by its bin width,
        then renormalised over the grid.

        Parameters
        ----------
        logits : array_like, shape (N, G)
            Unnormalised log-probabilities.
        z_grid : array_like, shape (G,)
            Bin centres.
        ids : array_like, shape (N,), optional

        Returns
        -------
        RedshiftPDF
        """
        lg = _finite_array(logits, "RedshiftPDF.from_logits logits", ndim=(1, 2))
        if lg.ndim == 1:
            lg = lg[None, :]
        z = _finite_array(z_grid, "RedshiftPDF.z_grid", ndim=1)
        if lg.shape[1] != z.size:
            raise invalid("RedshiftPDF.from_logits logits", f"has {lg.shape[1]} columns but z_grid has {z.size} nodes",
                          "pass one logit per redshift bin")
        prob = special.softmax(lg, axis=1)
        if z.size >= 2 and np.all(np.diff(z) > 0):
            mid = 0.5 * (z[1:] + z[:-1])
            edges = np.concatenate([[max(z[0] - (mid[0] - z[0]), 0.0)], mid, [z[-1] + (z[-1] - mid[-1])]])
            width = np.diff(edges)
        else:
            width = np.ones(z.size)  # the constructor reports the bad grid
        return cls(z, prob / width, ids=ids)

    # -- persistence -------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the PDFs to an HDF5 file (atomic write).

        Datasets ``z_grid`` (G,), ``pdf`` (N, G), ``ids`` (N,); attributes
        ``format`` and ``format_version``.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        pathlib.Path
            The written path.
        """
        import h5py

        ids = self._ids
        if ids.dtype.kind in "US":
            ids_out = np.asarray(ids.astype(str), dtype=h5py.string_dtype())
        elif ids.dtype.kind == "O":
            ids_out = np.asarray([str(i) for i in ids], dtype=h5py.string_dtype())
        else:
            ids_out = ids
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as f:
                f.attrs["format"] = _FORMAT
                f.attrs["format_version"] = _FORMAT_VERSION
                f.create_dataset("z_grid", data=self._z)
                f.create_dataset("pdf", data=self._p, compression="gzip", compression_opts=4)
                f.create_dataset("ids", data=ids_out)
        return Path(path)

    @classmethod
    def load(cls, path) -> "RedshiftPDF":
        """Read PDFs written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        RedshiftPDF
        """
        import h5py

        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise invalid(f"RedshiftPDF file {str(path)!r}", f"cannot be opened as HDF5 ({exc})",
                          "pass a file written by RedshiftPDF.save") from None
        with f:
            if f.attrs.get("format") != _FORMAT or not {"z_grid", "pdf", "ids"} <= set(f):
                raise invalid(f"RedshiftPDF file {str(path)!r}", "is not a RedshiftPDF file",
                              "pass a file written by RedshiftPDF.save")
            z = f["z_grid"][()]
            p = f["pdf"][()]
            ids = f["ids"]
            ids = ids.asstr()[()] if h5py.check_string_dtype(ids.dtype) else ids[()]
        return cls(z, p, ids=np.asarray(ids))


# ----------------------------------------------------------------------------------------------
# PIT diagnostics
# ----------------------------------------------------------------------------------------------
def _pit_values(pit: ArrayLike) -> np.ndarray:
    x = _finite_array(pit, "pit", ndim=1)
    if x.size == 0:
        raise invalid("pit", "is empty", "pass at least one PIT value")
    if np.any((x < 0) | (x > 1)):
        raise invalid("pit", "has values outside [0, 1]", "pass PIT values from RedshiftPDF.pit")
    return x


def pit_ks(pit: ArrayLike) -> GoodnessOfFit:
    """Kolmogorov–Smirnov distance of PIT values from U(0, 1).

    Parameters
    ----------
    pit : array_like, shape (N,)
        PIT values in [0, 1].

    Returns
    -------
    GoodnessOfFit
        ``(statistic, pvalue)``: the KS distance D and its p-value
        (``scipy.stats.kstest``).
    """
    res = stats.kstest(_pit_values(pit), "uniform")
    return GoodnessOfFit(float(res.statistic), float(res.pvalue))


def pit_cvm(pit: ArrayLike) -> GoodnessOfFit:
    """Cramér–von Mises distance of PIT values from U(0, 1).

    Parameters
    ----------
    pit : array_like, shape (N,)
        PIT values in [0, 1].

    Returns
    -------
    GoodnessOfFit
        ``(statistic, pvalue)``: the ω² statistic and its p-value
        (``scipy.stats.cramervonmises``).
    """
    res = stats.cramervonmises(_pit_values(pit), "uniform")
    return GoodnessOfFit(float(res.statistic), float(res.pvalue))


def pit_histogram(pit: ArrayLike, bins: int = 20):
    """Histogram of PIT values with the ±2σ band expected for a calibrated model.

    Parameters
    ----------
    pit : array_like, shape (N,)
        PIT values in [0, 1].
    bins : int
        Number of equal-width bins on [0, 1].

    Returns
    -------
    counts : numpy.ndarray, shape (bins,) int
        Objects per bin.
    edges : numpy.ndarray, shape (bins + 1,)
        Bin edges from 0 to 1.
    expected_band : numpy.ndarray, shape (2,)
        (low, high) = ``N/bins ∓ 2 sqrt(N p (1 − p))`` with ``p = 1/bins``
        (binomial standard deviation); the expected count is their midpoint.
    """
    x = _pit_values(pit)
    bins = int(bins)
    if bins < 1:
        raise invalid("pit_histogram bins", f"is {bins}", "pass a positive number of bins")
    counts, edges = np.histogram(x, bins=bins, range=(0.0, 1.0))
    p = 1.0 / bins
    expected = x.size * p
    sd = math.sqrt(x.size * p * (1 - p))
    return counts, edges, np.array([expected - 2 * sd, expected + 2 * sd])


# ----------------------------------------------------------------------------------------------
# closed-form CRPS and mixture likelihood
# ----------------------------------------------------------------------------------------------
def crps_gaussian(y: ArrayLike, mu: ArrayLike, sigma: ArrayLike) -> np.ndarray:
    """Closed-form CRPS of a Gaussian forecast N(mu, sigma²) for outcome ``y``.

    ``σ [ ω(2Φ(ω) − 1) + 2φ(ω) − 1/√π ]`` with ``ω = (y − μ)/σ``.

    Parameters
    ----------
    y, mu, sigma : array_like, broadcastable
        Outcome, mean and standard deviation (> 0), same units (e.g. redshift).

    Returns
    -------
    numpy.ndarray
        CRPS in the units of ``y``, broadcast shape.
    """
    y = _finite_array(y, "crps_gaussian y")
    mu = _finite_array(mu, "crps_gaussian mu")
    sigma = _finite_array(sigma, "crps_gaussian sigma")
    if np.any(sigma <= 0):
        raise invalid("crps_gaussian sigma", "has values <= 0", "pass positive standard deviations")
    w = (y - mu) / sigma
    return sigma * (w * (2 * special.ndtr(w) - 1) + 2 * stats.norm.pdf(w) - 1 / math.sqrt(math.pi))


def _mixture_arrays(weights, means, sigmas, where: str):
    w = _finite_array(weights, f"{where} weights", ndim=(1, 2))
    m = _finite_array(means, f"{where} means", ndim=(1, 2))
    s = _finite_array(sigmas, f"{where} sigmas", ndim=(1, 2))
    w, m, s = (a[:, None] if a.ndim == 1 else a for a in (w, m, s))
    if not (w.shape == m.shape == s.shape):
        raise invalid(f"{where} weights/means/sigmas", f"have shapes {w.shape}, {m.shape}, {s.shape}",
                      "pass three arrays of the same shape (N, K)")
    if np.any(s <= 0):
        raise invalid(f"{where} sigmas", "has values <= 0", "pass positive standard deviations")
    if np.any(w < 0):
        raise invalid(f"{where} weights", "has negative values", "pass non-negative mixture weights")
    tot = w.sum(axis=1, keepdims=True)
    if np.any(tot <= 0):
        raise invalid(f"{where} weights", f"sum to 0 for row(s) {np.flatnonzero(tot[:, 0] <= 0)[:10].tolist()}",
                      "give every object at least one positive weight")
    return w / tot, m, s


def _a_np(mu, sigma):
    r = mu / sigma
    return mu * (2 * special.ndtr(r) - 1) + 2 * sigma * stats.norm.pdf(r)


def crps_gaussian_mixture(y: ArrayLike, weights: ArrayLike, means: ArrayLike, sigmas: ArrayLike) -> np.ndarray:
    """Closed-form CRPS of Gaussian-mixture forecasts (numpy).

    ``Σ_k w_k A(y − μ_k, σ_k) − ½ Σ_{k,l} w_k w_l A(μ_k − μ_l, sqrt(σ_k² + σ_l²))``
    with ``A(μ, σ) = μ(2Φ(μ/σ) − 1) + 2σφ(μ/σ)`` (papers.md §0, PICZL loss, unweighted).

    Parameters
    ----------
    y : array_like, shape (N,)
        Outcomes (e.g. true redshifts).
    weights, means, sigmas : array_like, shape (N, K) (or (N,) for K = 1)
        Mixture weights (>= 0, renormalised to sum to 1 per object), means and
        standard deviations (> 0), units of ``y``.

    Returns
    -------
    numpy.ndarray, shape (N,)
        CRPS per object in the units of ``y``.
    """
    w, m, s = _mixture_arrays(weights, means, sigmas, "crps_gaussian_mixture")
    yy = _finite_array(y, "crps_gaussian_mixture y", ndim=(0, 1))
    yy = np.broadcast_to(yy, (w.shape[0],)) if yy.ndim == 0 else yy
    if yy.shape[0] != w.shape[0]:
        raise invalid("crps_gaussian_mixture y", f"has {yy.shape[0]} values but the mixtures have {w.shape[0]} rows",
                      "pass one outcome per mixture row")
    term1 = (w * _a_np(yy[:, None] - m, s)).sum(axis=1)
    dm = m[:, :, None] - m[:, None, :]
    ss = np.sqrt(s[:, :, None] ** 2 + s[:, None, :] ** 2)
    term2 = 0.5 * (w[:, :, None] * w[:, None, :] * _a_np(dm, ss)).sum(axis=(1, 2))
    return term1 - term2


def _torch_mixture(y, weights, means, sigmas, where: str):
    import torch

    tensors = []
    for name, t in (("y", y), ("weights", weights), ("means", means), ("sigmas", sigmas)):
        if not isinstance(t, torch.Tensor):
            t = torch.as_tensor(np.asarray(t, dtype=np.float32))
        tensors.append(t)
    y, w, m, s = tensors
    dtype = torch.promote_types(torch.promote_types(w.dtype, m.dtype), s.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    y, w, m, s = (t.to(dtype) for t in (y, w, m, s))
    if w.dim() == 1:
        w, m, s = w[:, None], m[:, None], s[:, None]
    if not (w.shape == m.shape == s.shape) or w.dim() != 2:
        raise invalid(f"{where} weights/means/sigmas", f"have shapes {tuple(w.shape)}, {tuple(m.shape)}, "
                      f"{tuple(s.shape)}", "pass three tensors of the same shape (N, K)")
    y = y.reshape(-1)
    if y.shape[0] != w.shape[0]:
        raise invalid(f"{where} y", f"has {y.shape[0]} values but the mixtures have {w.shape[0]} rows",
                      "pass one outcome per mixture row")
    return y, w, m, s


def _reduce(x, reduction: str, where: str):
    if reduction == "none":
        return x
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    raise invalid(f"{where} reduction", f"is {reduction!r}", 'use "none", "mean" or "sum"')


def crps_gaussian_mixture_torch(y, weights, means, sigmas, reduction: str = "none"):
    """Closed-form CRPS of Gaussian mixtures in torch (differentiable).

    Same formula as :func:`crps_gaussian_mixture`; weights are renormalised to
    sum to 1 per object (pass softmax outputs).

    Parameters
    ----------
    y : torch.Tensor, shape (N,)
        Outcomes (e.g. true redshifts).
    weights, means, sigmas : torch.Tensor, shape (N, K)
        Mixture weights (>= 0), means and standard deviations (> 0).
    reduction : {"none", "mean", "sum"}
        ``"none"`` (default) returns the per-object tensor.

    Returns
    -------
    torch.Tensor, shape (N,) (or scalar when reduced)
        CRPS in the units of ``y``; gradients flow to all inputs.
    """
    import torch

    y, w, m, s = _torch_mixture(y, weights, means, sigmas, "crps_gaussian_mixture_torch")
    w = w / w.sum(dim=1, keepdim=True)
    inv_sqrt2pi = 1.0 / math.sqrt(2 * math.pi)

    def a(mu, sig):
        r = mu / sig
        return mu * (2 * torch.special.ndtr(r) - 1) + 2 * sig * inv_sqrt2pi * torch.exp(-0.5 * r * r)

    term1 = (w * a(y[:, None] - m, s)).sum(dim=1)
    dm = m[:, :, None] - m[:, None, :]
    ss = torch.sqrt(s[:, :, None] ** 2 + s[:, None, :] ** 2)
    term2 = 0.5 * (w[:, :, None] * w[:, None, :] * a(dm, ss)).sum(dim=(1, 2))
    return _reduce(term1 - term2, reduction, "crps_gaussian_mixture_torch")


def gaussian_mixture_nll_torch(y, weights, means, sigmas, reduction: str = "none"):
    """Negative log-likelihood of outcomes under Gaussian mixtures (torch, differentiable).

    ``−log Σ_k w_k N(y | μ_k, σ_k²)`` computed with ``logsumexp``.

    Parameters
    ----------
    y : torch.Tensor, shape (N,)
        Outcomes (e.g. true redshifts).
    weights, means, sigmas : torch.Tensor, shape (N, K)
        Mixture weights (>= 0, renormalised to sum to 1; pass softmax outputs),
        means and standard deviations (> 0), units of ``y``.
    reduction : {"none", "mean", "sum"}
        ``"none"`` (default) returns the per-object tensor.

    Returns
    -------
    torch.Tensor, shape (N,) (or scalar when reduced)
        NLL in nats (density in 1/units of ``y``).
    """
    import torch

    y, w, m, s = _torch_mixture(y, weights, means, sigmas, "gaussian_mixture_nll_torch")
    logw = torch.log(w.clamp_min(torch.finfo(w.dtype).tiny)) - torch.log(w.sum(dim=1, keepdim=True))
    r = (y[:, None] - m) / s
    logn = -0.5 * r * r - torch.log(s) - 0.5 * math.log(2 * math.pi)
    nll = -torch.logsumexp(logw + logn, dim=1)
    return _reduce(nll, reduction, "gaussian_mixture_nll_torch")

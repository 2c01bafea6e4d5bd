"""Post-hoc recalibration of redshift PDFs from their PIT values.

:class:`PITRecalibrator` learns, on a calibration set with true redshifts, the
monotone map G(u) = P(PIT ≤ u) (the empirical CDF of the PIT values, an
isotonic fit, smoothed on quantile knots) and returns recalibrated PDFs whose
CDF is G(F(z)) (Bordoloi et al. 2010). For a model whose PIT is not uniform
this makes the PIT of new objects from the same population uniform. With
``by=`` (a per-object feature, e.g. the magnitude or the PDF width) the map is
learned in quantile bins of that feature: a coarse, conditional version of the
Cal-PIT idea (Dey et al. 2022), whose full form learns G conditioned on all
features with a monotone network.
"""

from __future__ import annotations

import numpy as np

from astrolab.errors import invalid

__all__ = ["PITRecalibrator"]


class PITRecalibrator:
    """Monotone PIT recalibration of :class:`astrolab.metrics.RedshiftPDF` objects.

    Parameters
    ----------
    n_knots : int
        Quantile knots of the map G (more knots: closer to the raw empirical CDF).
    n_groups : int
        Number of quantile bins of the ``by`` feature (1: one global map).

    Attributes
    ----------
    maps_ : list of (u, G(u)) ndarray pairs
        One monotone map per group (knots in [0, 1]).
    edges_ : ndarray (n_groups + 1,)
        Group edges of the ``by`` feature (None without ``by``).
    """

    def __init__(self, n_knots: int = 30, n_groups: int = 1):
        if int(n_knots) < 2 or int(n_groups) < 1:
            raise invalid("PITRecalibrator", f"n_knots={n_knots}, n_groups={n_groups}",
                          "use n_knots >= 2 and n_groups >= 1")
        self.n_knots, self.n_groups = int(n_knots), int(n_groups)
        self.maps_, self.edges_ = None, None

    @staticmethod
    def _map(pit, n_knots):
        q = np.linspace(0.0, 1.0, n_knots + 1)[1:-1]
        u = np.quantile(pit, q)
        u = np.concatenate([[0.0], u, [1.0]])
        g = np.concatenate([[0.0], q, [1.0]])
        u = np.maximum.accumulate(u)
        keep = np.concatenate([[True], np.diff(u) > 1e-9])
        return u[keep], g[keep]

    def _groups(self, by, n):
        if by is None or self.n_groups == 1:
            return np.zeros(n, dtype=int)
        b = np.asarray(by, float)
        if b.shape != (n,):
            raise invalid("PITRecalibrator(by=...)", f"shape {b.shape} for {n} PDFs", "pass one value per object")
        return np.clip(np.searchsorted(self.edges_, b, side="right") - 1, 0, self.n_groups - 1)

    def fit(self, pdf, z_true, by=None) -> "PITRecalibrator":
        """Learn the map(s) from PDFs and true redshifts of a calibration set.

        Parameters
        ----------
        pdf : astrolab.metrics.RedshiftPDF
            N calibration PDFs.
        z_true : array_like (N,)
            True redshifts.
        by : array_like (N,), optional
            Feature whose quantile bins get their own map (``n_groups`` > 1).

        Returns
        -------
        self
        """
        pit = np.asarray(pdf.pit(z_true), float)
        if len(pit) < 20:
            raise invalid("PITRecalibrator.fit", f"only {len(pit)} calibration objects", "use a few hundred or more")
        if by is not None and self.n_groups > 1:
            self.edges_ = np.quantile(np.asarray(by, float), np.linspace(0, 1, self.n_groups + 1))
            self.edges_[0], self.edges_[-1] = -np.inf, np.inf
        grp = self._groups(by, len(pit))
        self.maps_ = [self._map(pit[grp == g] if np.any(grp == g) else pit, self.n_knots)
                      for g in range(self.n_groups)]
        return self

    def transform_pit(self, pit, by=None) -> np.ndarray:
        """Recalibrated PIT values G(u) (N,) of raw PIT values ``pit`` (N,)."""
        if self.maps_ is None:
            raise invalid("PITRecalibrator", "is not fitted", "call .fit(pdf, z_true) first")
        pit = np.asarray(pit, float)
        grp = self._groups(by, len(pit))
        out = np.empty_like(pit)
        for g, (u, gu) in enumerate(self.maps_):
            sel = grp == g
            out[sel] = np.interp(pit[sel], u, gu)
        return out

    def transform(self, pdf, by=None):
        """Recalibrated PDFs: CDF G(F(z)), density its derivative on the same grid.

        Parameters
        ----------
        pdf : astrolab.metrics.RedshiftPDF
        by : array_like (N,), optional
            The grouping feature (when fitted with ``by``).

        Returns
        -------
        astrolab.metrics.RedshiftPDF
        """
        from astrolab.metrics.pdf import RedshiftPDF

        if self.maps_ is None:
            raise invalid("PITRecalibrator", "is not fitted", "call .fit(pdf, z_true) first")
        cdf = np.clip(pdf.cdf(), 0.0, 1.0)
        grp = self._groups(by, len(pdf))
        new = np.empty_like(cdf)
        for g, (u, gu) in enumerate(self.maps_):
            sel = grp == g
            new[sel] = np.interp(cdf[sel], u, gu)
        z = pdf.z_grid
        dens = np.gradient(new, z, axis=1)
        dens = np.clip(dens, 0.0, None) + 1e-12
        return RedshiftPDF(z, dens, ids=pdf.ids)

    def fit_transform(self, pdf, z_true, by=None):
        """:meth:`fit` then :meth:`transform` on the same PDFs."""
        return self.fit(pdf, z_true, by).transform(pdf, by)

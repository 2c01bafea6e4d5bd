"""The oracle: template-fitting photo-z with the simulator's own SED library and noise model.

Grid method (default; classic template fitting)
------------------------------------------------
For each object, with band fluxes F_b and errors σ_b [nJy] (Gaussian in flux, so
non-detections and negative fluxes carry their information),

    χ²_t(z) = min_{a ≥ 0} Σ_b (F_b − a M_tb(z))² / (σ_b² + (ε F_b)²),

where M_tb(z) are the band fluxes of template t of the simulator's own
:class:`astrolab.sim.sed.TemplateLibrary` redshifted to z (age-of-universe mask
applied) and ε a small model-error floor for the library's discreteness. The
posterior on the redshift grid is

    p(z | F) ∝ p(z | m) Σ_t p(t | z) exp(−χ²_t(z) / 2),

with, for ``prior="simulation"``, the simulated survey's own p(z | m) (m: the
magnitude of the selection band) and template occupancy p(t | z), both measured
once on a large fixed-seed simulation; ``prior="flat"`` sets both uniform.

Population method
-----------------
A large fixed-seed simulated population of the same survey is the library
(every member has its own SED, redshift and luminosity: the full prior); each
member is fitted with an amplitude under a log-normal prior and the posterior
is the kernel-smoothed, likelihood-weighted redshift distribution of the
members -- the Bayesian posterior up to the library size.

Either way no method using the same photometry should do much better: it is
the physical-limit baseline.
"""

from __future__ import annotations

import functools

import astropy.units as u
import numpy as np

from astrolab.errors import invalid

__all__ = ["TemplateFitter", "template_grid"]

_REF_SEED = 987654
_REF_SIZE = 12000


def template_grid(include_agn: bool = False) -> dict:
    """Parameters of the default template library (arrays of equal length T).

    Parameters
    ----------
    include_agn : bool
        Add the AGN templates.

    Returns
    -------
    dict of ndarray (T,)
        ``age`` [Gyr], ``metallicity`` [log Z/Zsun], ``log_ssfr`` [log10 1/yr],
        ``ebv`` [mag], ``agn_frac`` of :meth:`astrolab.sim.sed.TemplateLibrary.default`.
    """
    from astrolab.sim.sed import TemplateLibrary

    return dict(TemplateLibrary.default(include_agn=include_agn).params)


@functools.lru_cache(maxsize=4)
def _default_library(include_agn: bool):
    from astrolab.sim.sed import TemplateLibrary

    return TemplateLibrary.default(include_agn=include_agn)


@functools.lru_cache(maxsize=8)
def _reference_sample(survey: str, cols: tuple, z_max: float, agn_fraction: float, redshift_distribution: str):
    """(redshift (K,), noise-free fluxes (K, B) [nJy], true params dict) of a fixed-seed simulation."""
    from astrolab.sim.galaxies import simulate_galaxies

    ref = simulate_galaxies(_REF_SIZE, survey=survey, bands=list(cols), seed=_REF_SEED, z_max=z_max,
                            agn_fraction=agn_fraction, redshift_distribution=redshift_distribution)
    flux = np.column_stack([10 ** (-0.4 * (np.asarray(ref[f"{c}_true"], float) - 31.4)) for c in cols])
    params = {k: np.asarray(ref[k], float) for k in ("age", "metallicity", "log_ssfr", "ebv", "agn_frac")}
    return np.asarray(ref["redshift"], float), flux, params


@functools.lru_cache(maxsize=4)
def _population_library(survey: str, cols: tuple, z_max: float, size: int, agn_fraction: float,
                        redshift_distribution: str):
    """Noise-free fluxes (K, B) [nJy] and redshifts (K,) of a fixed-seed simulated population."""
    from astrolab.sim.galaxies import simulate_galaxies

    lib = simulate_galaxies(size, survey=survey, bands=list(cols), seed=20241125, z_max=z_max,
                            agn_fraction=agn_fraction, redshift_distribution=redshift_distribution)
    flux = np.column_stack([10 ** (-0.4 * (np.asarray(lib[f"{c}_true"], float) - 31.4)) for c in cols])
    return flux, np.asarray(lib["redshift"], float)


def _table_names(table) -> list:
    return list(table.colnames) if hasattr(table, "colnames") else list(getattr(table, "columns", []))


class TemplateFitter:
    """Template-fitting photo-z with the simulator's own templates, noise model and priors (the oracle).

    Parameters
    ----------
    survey : str
        Survey of the band columns (as in :func:`astrolab.sim.galaxies.simulate_galaxies`).
    bands : list of str, optional
        Band columns to use (default: all of the survey; ``"<survey>_<band>"`` for
        several surveys). The table needs ``<band>_flux`` and ``<band>_flux_err`` [nJy].
    z_grid : array (G,), optional
        Redshift grid of the posterior (default: 300 points from 0.005 to ``z_max``).
    library : astrolab.sim.sed.TemplateLibrary, optional
        Templates of the grid method (default :meth:`TemplateLibrary.default`, with
        AGN templates when ``include_agn`` or ``agn_fraction > 0``).
    prior : {"simulation", "flat"} or array (G,) or callable
        ``"simulation"``: the simulated survey's p(z | selection-band magnitude) and
        template occupancy p(t | z); ``"flat"``: uniform in z and over templates; an
        array on ``z_grid`` or a callable z -> density: that n(z), templates uniform.
    z_max : float
        Upper end of the default grid and of the simulated prior sample.
    method : {"grid", "population"}
        See the module docstring. ``"grid"`` is classic template fitting on
        ``library``; ``"population"`` uses a simulated population as the library.
    include_agn : bool
        Add AGN templates to the default library.
    agn_fraction : float
        AGN fraction of the simulated prior sample / population (match the survey).
    redshift_distribution : {"galaxiesml", "uniform"}
        Parent n(z) of the simulated prior sample (match the survey).
    model_error : float
        Fractional model-error floor ε added in quadrature to the flux errors (grid method).
    chunk : int
        Objects per vectorised block (bounds memory: about chunk × T × G × 16 bytes).
    library_size : int
        Members of the population library (population method).
    amplitude_dex : float
        Width of the log-normal amplitude prior of the population method [dex].

    Notes
    -----
    Bands whose flux or error is NaN/inf (or error ≤ 0) for an object are dropped
    from that object's χ²; an object with no usable band is an error.
    :meth:`predict` returns the posterior median by default.
    """

    def __init__(self, survey: str = "hsc", bands=None, z_grid=None, library=None, prior="simulation", *,
                 z_max: float = 3.0, method: str = "grid", include_agn: bool = False, agn_fraction: float = 0.0,
                 redshift_distribution: str = "galaxiesml", model_error: float = 0.01, chunk: int = 64,
                 library_size: int = 20000, amplitude_dex: float = 0.15):
        from astrolab.sim.galaxies import resolve_bands
        from astrolab.sim.sed import TemplateLibrary

        self.survey = survey
        self.band_list = resolve_bands(survey, bands)
        self.bands = [c for c, _, _ in self.band_list]
        self.z_max = float(z_max)
        self.z_grid = np.asarray(z_grid if z_grid is not None else np.linspace(0.005, self.z_max, 300), dtype=float)
        if self.z_grid.ndim != 1 or self.z_grid.size < 2 or np.any(np.diff(self.z_grid) <= 0) or self.z_grid[0] < 0:
            raise invalid("TemplateFitter(z_grid=...)", "is not a strictly increasing 1-D grid of redshifts >= 0",
                          "pass e.g. np.linspace(0.005, 3, 300)")
        if isinstance(prior, str) and prior not in ("simulation", "flat"):
            raise invalid("TemplateFitter(prior=...)", f"unknown prior {prior!r}",
                          "use 'simulation', 'flat', an array on z_grid or a callable n(z)")
        if not isinstance(prior, str) and not callable(prior):
            arr = np.asarray(prior, float)
            if arr.shape != self.z_grid.shape or np.any(~np.isfinite(arr)) or np.any(arr < 0) or arr.sum() <= 0:
                raise invalid("TemplateFitter(prior=...)", f"array prior has shape {arr.shape} or bad values",
                              f"pass non-negative finite values on z_grid (shape {self.z_grid.shape})")
        self.prior = prior
        if method not in ("population", "grid"):
            raise invalid("TemplateFitter(method=...)", f"unknown method {method!r}", "use 'grid' or 'population'")
        self.method = method
        self.include_agn = bool(include_agn or agn_fraction > 0)
        if library is not None and not isinstance(library, TemplateLibrary):
            raise invalid("TemplateFitter(library=...)", f"is a {type(library).__name__}",
                          "pass an astrolab.sim.sed.TemplateLibrary (or None for the default)")
        self.library = library if library is not None else _default_library(self.include_agn)
        self.agn_fraction = float(agn_fraction)
        self.redshift_distribution = redshift_distribution
        self.model_error = float(model_error)
        self.chunk = max(1, int(chunk))
        self.library_size = int(library_size)
        self.amplitude_dex = float(amplitude_dex)

    # ------------------------------------------------------------------------------------------
    @property
    def prior_kind(self) -> str:
        """``"simulation"``, ``"flat"`` or ``"custom"``."""
        return self.prior if isinstance(self.prior, str) else "custom"

    @property
    def models(self) -> np.ndarray:
        """Template fluxes (T, G, B) [nJy] on :attr:`z_grid` (L_λ,stars(5500 Å) = 1e40 erg/s/Å; cached)."""
        return self.library.fluxes(self.z_grid, self.band_list)

    @property
    def selection_index(self) -> int:
        """Index of the band whose magnitude conditions the prior (the i band, else the middle band)."""
        ends_i = [j for j, c in enumerate(self.bands) if c == "i" or c.endswith("_i")]
        return ends_i[0] if ends_i else len(self.bands) // 2

    def _reference(self):
        return _reference_sample(self.survey, tuple(self.bands), self.z_max, self.agn_fraction,
                                 self.redshift_distribution)

    @functools.cached_property
    def _prior_tables(self):
        """(mag_edges (M+1,), log p(z | m) (M, G), log p(t | z) (T, G)) from the reference simulation."""
        z_ref, flux_ref, params = self._reference()
        zg = self.z_grid
        with np.errstate(divide="ignore"):
            mag = 31.4 - 2.5 * np.log10(np.clip(flux_ref[:, self.selection_index], 1e-30, None))
        edges = np.arange(np.floor(mag.min()), np.ceil(mag.max()) + 0.51, 0.5)
        edges[0], edges[-1] = -np.inf, np.inf
        bw = 0.06
        kern = np.exp(-0.5 * ((zg[:, None] - z_ref[None, :]) / bw) ** 2)  # (G, K)
        overall = kern.sum(axis=1)
        rows = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = (mag >= lo) & (mag < hi)
            dens = kern[:, sel].sum(axis=1) + 0.02 * overall / len(z_ref) * max(sel.sum(), 1)
            dens = dens + 1e-4 * dens.max()
            rows.append(dens / np.trapezoid(dens, zg))
        log_pz_m = np.log(np.array(rows))
        # template occupancy p(t | z): nearest template of each reference object, smoothed in z
        idx = self.library.nearest(params)
        n_t = len(self.library)
        kz = np.exp(-0.5 * ((zg[:, None] - z_ref[None, :]) / 0.15) ** 2)  # (G, K)
        occ = np.zeros((n_t, zg.size))
        np.add.at(occ, idx, kz.T)
        occ /= np.clip(occ.sum(axis=0, keepdims=True), 1e-300, None)
        overall_t = np.bincount(idx, minlength=n_t) / len(idx)
        p_t = 0.9 * occ + 0.08 * overall_t[:, None] + 0.02 / n_t
        return edges, log_pz_m, np.log(p_t)

    def log_prior(self, flux_sel) -> np.ndarray:
        """Log redshift prior (N, G) on :attr:`z_grid` given the selection-band flux (N,) [nJy].

        ``"simulation"``: the simulated survey's p(z | magnitude) (NaN flux: the
        faintest bin); ``"flat"``: zeros; custom: log of the given n(z).
        """
        n = len(flux_sel)
        if self.prior_kind == "flat":
            return np.zeros((n, len(self.z_grid)))
        if self.prior_kind == "custom":
            dens = self.prior(self.z_grid) if callable(self.prior) else self.prior
            with np.errstate(divide="ignore"):
                row = np.log(np.clip(np.asarray(dens, float), 1e-300, None))
            return np.broadcast_to(row, (n, len(self.z_grid)))
        edges, table, _ = self._prior_tables
        flux_sel = np.asarray(flux_sel, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            mag = np.where(flux_sel > 0, 31.4 - 2.5 * np.log10(np.where(flux_sel > 0, flux_sel, 1.0)), np.inf)
        mag = np.where(np.isfinite(flux_sel), mag, np.inf)
        idx = np.clip(np.searchsorted(edges, mag, side="right") - 1, 0, len(table) - 1)
        return table[idx]

    def _log_template_prior(self) -> np.ndarray:
        """log p(t | z) (T, G), -inf where a template is older than the universe."""
        allowed = self.library.allowed(self.z_grid)
        if self.prior_kind == "simulation":
            lpt = self._prior_tables[2]
        else:
            lpt = np.zeros(allowed.shape)
        return np.where(allowed, lpt, -np.inf)

    # ------------------------------------------------------------------------------------------
    def _fluxes(self, table):
        names = _table_names(table)
        missing = [c for c in self.bands if f"{c}_flux" not in names or f"{c}_flux_err" not in names]
        if missing:
            raise invalid(f"TemplateFitter input table, band(s) {missing}",
                          f"no {[f'{c}_flux' for c in missing]} / {[f'{c}_flux_err' for c in missing]} columns",
                          "provide fluxes and errors in nJy (as simulate_galaxies writes them), or build the "
                          f"fitter with bands= listing only the bands present (available: {self.bands})")
        if len(table) == 0:
            raise invalid("TemplateFitter input table", "has no rows", "pass at least one object")
        if "object_id" in names:
            uniq, counts = np.unique(np.asarray(table["object_id"]), return_counts=True)
            if np.any(counts > 1):
                raise invalid("TemplateFitter input table['object_id']",
                              f"{int(np.sum(counts > 1))} duplicate id(s), e.g. {uniq[counts > 1][:5].tolist()}",
                              "make object ids unique (drop or merge duplicate rows)")

        def njy(name):
            col = table[name]
            unit = getattr(col, "unit", None)
            values = np.asarray(getattr(col, "value", col), dtype=float)
            if unit is None or unit == u.dimensionless_unscaled or unit == u.nJy:
                return values
            try:
                return u.Quantity(values, unit).to_value(u.nJy)
            except u.UnitsError:
                raise invalid(f"TemplateFitter input table, column {name!r}", f"unit {unit} is not a flux density",
                              "pass fluxes and errors in nJy (or another f_nu unit such as uJy)") from None

        flux = np.column_stack([njy(f"{c}_flux") for c in self.bands])
        err = np.column_stack([njy(f"{c}_flux_err") for c in self.bands])
        neg = np.isfinite(err) & (err < 0)
        if neg.any():
            cols = sorted({f"{self.bands[j]}_flux_err" for j in np.flatnonzero(neg.any(axis=0))})
            raise invalid(f"TemplateFitter input table, column(s) {cols}",
                          f"{int(neg.sum())} negative flux error(s) (rows {np.flatnonzero(neg.any(axis=1))[:5].tolist()})",
                          "errors are 1-sigma >= 0; set NaN where unknown, or drop those rows")
        ok = np.isfinite(flux) & np.isfinite(err) & (err > 0)
        empty = ~ok.any(axis=1)
        if empty.any():
            ids = np.asarray(table["object_id"])[empty] if "object_id" in names else np.flatnonzero(empty)
            raise invalid(f"TemplateFitter input rows {ids[:10].tolist()}{' ...' if empty.sum() > 10 else ''}",
                          f"{int(empty.sum())} object(s) have no finite flux with a positive error in any of "
                          f"{self.bands}", "drop those rows (they carry no redshift information)")
        return flux, err, ok

    def log_posterior(self, table) -> np.ndarray:
        """Unnormalised log posterior (N, G) on :attr:`z_grid`.

        Parameters
        ----------
        table : astropy.table.Table or pandas.DataFrame
            With ``<band>_flux`` and ``<band>_flux_err`` [nJy] for every band of the fitter.

        Returns
        -------
        ndarray (N, G)
            log p(z | F) up to a per-object constant. Bands with NaN/inf flux or
            a non-positive error are ignored for that object.
        """
        flux, err, ok = self._fluxes(table)
        flux = np.where(ok, flux, 0.0)
        if self.method == "population":
            ivar = np.where(ok, 1.0 / np.where(ok, err, 1.0) ** 2, 0.0)
            return self._log_posterior_population(flux, ivar)
        var = np.where(ok, err, 1.0) ** 2 + (self.model_error * flux) ** 2
        ivar = np.where(ok, 1.0 / var, 0.0)
        models = self.models  # (T, G, B)
        n_t, n_g, n_b = models.shape
        scale = np.nanmax(models)  # keep float32 sums well inside range
        flat = (models / scale).reshape(n_t * n_g, n_b).T.astype(np.float32)  # (B, T*G)
        flat_sq = flat ** 2
        sel = self.selection_index
        log_prior = self.log_prior(np.where(ok[:, sel], flux[:, sel], np.nan))
        log_pt = self._log_template_prior().astype(np.float32).reshape(1, n_t * n_g)
        out = np.empty((len(flux), n_g))
        for s in range(0, len(flux), self.chunk):
            f, w = flux[s:s + self.chunk].astype(np.float32), ivar[s:s + self.chunk].astype(np.float32)
            fm = (f * w) @ flat  # (n, T*G): sum_b F M / sigma^2
            mm = w @ flat_sq  # (n, T*G): sum_b M^2 / sigma^2
            # log L = -chi2_min / 2 + log p(t|z), chi2_min = sum_b F^2/sigma^2 - fm^2 / mm at the best amplitude
            # fm / mm >= 0; the first term is the same for every (t, z) and cancels in the normalisation
            np.maximum(fm, 0.0, out=fm)
            np.maximum(mm, 1e-30, out=mm)
            np.square(fm, out=fm)
            np.divide(fm, mm, out=fm)
            fm *= 0.5
            fm += log_pt
            fm -= fm.max(axis=1, keepdims=True)
            np.exp(fm, out=fm)
            like = fm.reshape(len(f), n_t, n_g).sum(axis=1)  # marginalise templates
            out[s:s + self.chunk] = np.log(like.astype(np.float64) + 1e-300) + log_prior[s:s + self.chunk]
        return out

    def _log_posterior_population(self, flux, ivar) -> np.ndarray:
        lib_flux, lib_z = _population_library(self.survey, tuple(self.bands), self.z_max, self.library_size,
                                              self.agn_fraction, self.redshift_distribution)
        lib = lib_flux.T.astype(np.float64)  # (B, K)
        lib_sq = lib ** 2
        width = 0.015 * (1 + self.z_grid)  # kernel width of the smoothed posterior
        kern = np.exp(-0.5 * ((self.z_grid[:, None] - lib_z[None, :]) / width[:, None]) ** 2)  # (G, K)
        kern = (kern / kern.sum(axis=0, keepdims=True).clip(1e-300)).T  # each member spreads unit mass: (K, G)
        kern32 = kern.astype(np.float32)
        s2 = (self.amplitude_dex * np.log(10.0)) ** 2
        out = np.empty((len(flux), len(self.z_grid)))
        chunk = max(self.chunk, 256)
        for s in range(0, len(flux), chunk):
            f, w = flux[s:s + chunk], ivar[s:s + chunk]
            fm = (f * w) @ lib
            mm = w @ lib_sq
            ff = (f * f * w).sum(axis=1)[:, None]
            # amplitude a ~ LogNormal(0, amplitude_dex): maximise likelihood x prior over ln a (Newton steps)
            a = np.clip(fm / np.where(mm > 0, mm, 1.0), 1e-3, None)
            for _ in range(2):
                ln_a = np.log(a)
                grad = (fm * a - mm * a * a) - ln_a / s2
                hess = (fm * a - 2 * mm * a * a) - 1.0 / s2
                ln_a = ln_a - grad / np.where(hess < 0, hess, -1.0)
                a = np.exp(np.clip(ln_a, -10, 10))
            chi2 = ff - 2 * a * fm + a * a * mm + np.log(a) ** 2 / s2
            chi2 -= chi2.min(axis=1, keepdims=True)
            weight = np.exp(-0.5 * chi2).astype(np.float32)
            out[s:s + chunk] = np.log((weight @ kern32).astype(np.float64) + 1e-300)
        return out

    def predict_pdf(self, table):
        """Posterior redshift PDFs on :attr:`z_grid`.

        Parameters
        ----------
        table : astropy.table.Table or pandas.DataFrame
            N objects with ``<band>_flux`` / ``<band>_flux_err`` [nJy] columns
            (and ``object_id``, used as ids when present).

        Returns
        -------
        astrolab.metrics.pdf.RedshiftPDF
            N densities on the G-point grid (1/redshift, unit trapezoid integral).
        """
        from astrolab.metrics.pdf import RedshiftPDF

        logp = self.log_posterior(table)
        p = np.exp(logp - logp.max(axis=1, keepdims=True))
        ids = np.asarray(table["object_id"]) if "object_id" in _table_names(table) else None
        return RedshiftPDF(self.z_grid, p, ids=ids)

    def predict(self, table, kind: str = "median") -> np.ndarray:
        """Point redshifts (N,): the posterior ``kind`` (``"median"`` (default), ``"mode"`` or ``"mean"``)."""
        return np.asarray(self.predict_pdf(table).point_estimate(kind))

    def __repr__(self):
        lib = f"{len(self.library)} templates" if self.method == "grid" else f"population of {self.library_size}"
        return (f"TemplateFitter(survey={self.survey!r}, bands={self.bands}, {len(self.z_grid)} z, {lib}, "
                f"prior={self.prior_kind!r}, method={self.method!r})")

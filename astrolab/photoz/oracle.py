"""The oracle: template-fitting photo-z with the simulator's own SED library and noise model.

For each object the posterior on a redshift grid is

    p(z | F) ∝ prior(z) · Σ_t exp(−χ²_t(z) / 2),

where χ²_t(z) uses the best non-negative amplitude of template t at redshift z,
the observed band fluxes F and their errors (Gaussian in flux, so
non-detections carry their information), and the templates are a grid of the
same SED model that generated the data (:func:`astrolab.sim.sed.sed_shape`).
The prior is the simulated survey's redshift distribution. No method using
the same photometry should do much better: it is the physical-limit baseline.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from astrolab.errors import invalid

__all__ = ["TemplateFitter", "template_grid"]


def template_grid(include_agn: bool = False) -> dict:
    """Parameters of the oracle's template library (arrays of equal length T).

    A grid over age [Gyr] × metallicity [log Z/Zsun] × log sSFR [1/yr] × E(B−V)
    [mag] (× AGN fraction when ``include_agn``).
    """
    ages = [0.05, 0.2, 0.7, 2.0, 6.0]
    metallicities = [-0.5, 0.15]
    ssfrs = [-12.0, -10.3, -9.5, -8.8]
    ebvs = [0.0, 0.12, 0.3, 0.5, 0.75]
    agns = [0.0, 0.35, 0.7] if include_agn else [0.0]
    rows = np.array(list(itertools.product(ages, metallicities, ssfrs, ebvs, agns)))
    return dict(age=rows[:, 0], metallicity=rows[:, 1], log_ssfr=rows[:, 2], ebv=rows[:, 3], agn_frac=rows[:, 4])


@functools.lru_cache(maxsize=8)
def _model_grid(bands_key: tuple, z_grid_key: tuple, include_agn: bool) -> np.ndarray:
    """Template band fluxes M[t, k, b] up to a free amplitude, for templates t, redshifts k, bands b."""
    from astrolab.sim import filters as _filters
    from astrolab.sim.sed import WAVE, igm_transmission, sed_shape

    params = template_grid(include_agn)
    shapes = sed_shape(params["age"], params["metallicity"], params["log_ssfr"], params["ebv"], params["agn_frac"])
    z_grid = np.asarray(z_grid_key)
    f_nu_shape = shapes * WAVE[None, :] ** 2  # f_nu ∝ L_lambda lambda^2 (the z-dependent factor is absorbed by the amplitude)
    igm = igm_transmission(WAVE, z_grid)
    out = np.zeros((shapes.shape[0], len(z_grid), len(bands_key)))
    for b, (sv, band) in enumerate(bands_key):
        fw, fr = _filters.filter_curve(sv, band)
        lam_obs = WAVE[None, :] * (1 + z_grid[:, None])
        resp = np.interp(lam_obs, fw, fr, left=0.0, right=0.0)  # (K, L)
        norm = resp.sum(axis=1)
        out[:, :, b] = (f_nu_shape @ (resp * igm).T) / np.where(norm > 0, norm, 1.0)[None, :]
    peak = out.max(axis=(1, 2), keepdims=True)
    return out / np.where(peak > 0, peak, 1.0)


@functools.lru_cache(maxsize=8)
def _simulation_prior(survey: str, bands_key: tuple, z_grid_key: tuple, z_max: float, sel_index: int):
    """Magnitude-dependent redshift prior p(z | m_sel) of the simulated survey.

    Built from a large fixed-seed simulated sample: in bins of the selection
    band's magnitude (0.5 mag), a Gaussian-kernel density of z on the grid.

    Returns
    -------
    mag_edges : ndarray (M + 1,)
    prior : ndarray (M, G)
        Each row a density on the grid.
    """
    from astrolab.sim.galaxies import simulate_galaxies

    cols = [b if sv == survey else f"{sv}_{b}" for sv, b in bands_key]
    sample = simulate_galaxies(8000, survey=survey, bands=cols, seed=987654, z_max=z_max)
    z_grid = np.asarray(z_grid_key)
    z = np.asarray(sample["redshift"])
    mag = np.asarray(sample[f"{cols[sel_index]}_true"], float)
    edges = np.arange(np.floor(mag.min()), np.ceil(mag.max()) + 0.51, 0.5)
    edges[0], edges[-1] = -np.inf, np.inf
    bw = 0.06
    kern = np.exp(-0.5 * ((z_grid[:, None] - z[None, :]) / bw) ** 2)  # (G, n)
    overall = kern.sum(axis=1)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (mag >= lo) & (mag < hi)
        dens = kern[:, sel].sum(axis=1) + 0.02 * overall / max(len(z), 1) * max(sel.sum(), 1)
        dens = dens + 1e-4 * dens.max()
        rows.append(dens / np.trapezoid(dens, z_grid))
    return edges, np.array(rows)


@functools.lru_cache(maxsize=4)
def _population_library(survey: str, cols: tuple, z_max: float, size: int, agn_fraction: float):
    """Noise-free fluxes (K, B) [nJy] and redshifts (K,) of a fixed-seed simulated population."""
    from astrolab.sim.galaxies import simulate_galaxies

    lib = simulate_galaxies(size, survey=survey, bands=list(cols), seed=20241125, z_max=z_max,
                            agn_fraction=agn_fraction)
    flux = np.column_stack([10 ** (-0.4 * (np.asarray(lib[f"{c}_true"], float) - 31.4)) for c in cols])
    return flux, np.asarray(lib["redshift"], float)


class TemplateFitter:
    """Template-fitting photo-z with the simulator's own template library (the oracle).

    Parameters
    ----------
    survey : str
        Survey of the band columns (as in :func:`astrolab.sim.galaxies.simulate_galaxies`).
    bands : list of str, optional
        Band columns to use (default: all of the survey). Needs ``<band>_flux``
        and ``<band>_flux_err`` [nJy] columns.
    z_grid : array (G,), optional
        Redshift grid of the posterior (default 0.005–``z_max`` in 300 steps).
    z_max : float
        Upper end of the default grid.
    prior : {"simulation", "flat"}
        Redshift prior: the simulated survey's n(z), or flat.
    include_agn : bool
        Add AGN templates to the library (for surveys simulated with AGN).
    chunk : int
        Objects per vectorised block (bounds memory).
    method : {"population", "grid"}
        ``"population"`` (default): the library is a large simulated population
        from the same simulator (its SEDs, redshifts and luminosities: the
        full prior), each member fitted with a free amplitude under a
        log-normal prior (``amplitude_dex``), and the posterior is the
        kernel-smoothed likelihood-weighted redshift distribution of the
        library -- the Bayesian posterior up to the library size.
        ``"grid"``: a regular grid of the SED model redshifted over the grid,
        free amplitude, age-of-universe mask and the magnitude-dependent n(z)
        prior (classic template fitting; ignores the population's correlations).
    library_size : int
        Members of the population library.
    agn_fraction : float
        AGN fraction of the population library (match the simulated survey).
    """

    def __init__(self, survey: str = "hsc", bands=None, z_grid=None, z_max: float = 3.0, prior: str = "simulation",
                 include_agn: bool = False, chunk: int = 256, method: str = "population",
                 library_size: int = 20000, amplitude_dex: float = 0.15, agn_fraction: float = 0.0):
        from astrolab.sim.galaxies import resolve_bands

        self.survey = survey
        self.band_list = resolve_bands(survey, bands)
        self.bands = [c for c, _, _ in self.band_list]
        self.z_grid = np.asarray(z_grid if z_grid is not None else np.linspace(0.005, z_max, 300), dtype=float)
        if prior not in ("simulation", "flat"):
            raise invalid("TemplateFitter(prior=...)", f"unknown prior {prior!r}", "use 'simulation' or 'flat'")
        self.prior_kind, self.include_agn, self.chunk, self.z_max = prior, include_agn, int(chunk), float(z_max)
        if method not in ("population", "grid"):
            raise invalid("TemplateFitter(method=...)", f"unknown method {method!r}", "use 'population' or 'grid'")
        self.method, self.library_size, self.amplitude_dex = method, int(library_size), float(amplitude_dex)
        self.agn_fraction = float(agn_fraction)

    def _key(self):
        return tuple((sv, b) for _, sv, b in self.band_list), tuple(np.round(self.z_grid, 8))

    @property
    def models(self) -> np.ndarray:
        """Template fluxes (T, G, B), arbitrary normalisation."""
        bands_key, z_key = self._key()
        return _model_grid(bands_key, z_key, self.include_agn)

    @property
    def selection_index(self) -> int:
        """Index of the band whose magnitude conditions the prior (the i band, else the middle band)."""
        ends_i = [j for j, c in enumerate(self.bands) if c.endswith("i")]
        return ends_i[0] if ends_i else len(self.bands) // 2

    def log_prior(self, flux_sel) -> np.ndarray:
        """Log prior (N, G) on :attr:`z_grid` given the selection-band flux (N,) [nJy].

        ``"simulation"``: the simulated survey's p(z | magnitude); ``"flat"``: uniform.
        """
        n = len(flux_sel)
        if self.prior_kind == "flat":
            return np.zeros((n, len(self.z_grid)))
        bands_key, z_key = self._key()
        edges, table = _simulation_prior(self.survey, bands_key, z_key, self.z_max, self.selection_index)
        with np.errstate(divide="ignore", invalid="ignore"):
            mag = np.where(flux_sel > 0, 31.4 - 2.5 * np.log10(np.where(flux_sel > 0, flux_sel, 1.0)), np.inf)
        mag = np.where(np.isfinite(flux_sel), mag, np.inf)
        idx = np.clip(np.searchsorted(edges, mag, side="right") - 1, 0, len(table) - 1)
        return np.log(table[idx])

    def _age_mask(self) -> np.ndarray:
        """(T, G) True where a template is younger than the universe at that redshift."""
        from astrolab.sim.galaxies import age_of_universe_gyr

        ages = template_grid(self.include_agn)["age"]
        return ages[:, None] <= age_of_universe_gyr(self.z_grid)[None, :] + 1e-6

    def _fluxes(self, table):
        names = list(table.colnames) if hasattr(table, "colnames") else list(table.columns)
        missing = [c for c in self.bands if f"{c}_flux" not in names or f"{c}_flux_err" not in names]
        if missing:
            raise invalid(f"TemplateFitter input table, band(s) {missing}", "no <band>_flux / <band>_flux_err columns",
                          "provide fluxes and errors in nJy (as simulate_galaxies writes them) or drop those bands")
        flux = np.column_stack([np.asarray(table[f"{c}_flux"], float) for c in self.bands])
        err = np.column_stack([np.asarray(table[f"{c}_flux_err"], float) for c in self.bands])
        return flux, err

    def log_posterior(self, table) -> np.ndarray:
        """Unnormalised log posterior (N, G) on :attr:`z_grid`.

        Bands with NaN/inf flux or a non-positive error are ignored for that
        object; an object with no usable band gets the prior.
        """
        flux, err = self._fluxes(table)
        ok = np.isfinite(flux) & np.isfinite(err) & (err > 0)
        ivar = np.where(ok, 1.0 / np.where(ok, err, 1.0) ** 2, 0.0)
        flux = np.where(ok, flux, 0.0)
        if self.method == "population":
            return self._log_posterior_population(flux, ivar)
        models = self.models  # (T, G, B)
        n_t, n_g, n_b = models.shape
        flat = models.reshape(n_t * n_g, n_b).T.astype(np.float32)  # (B, T*G)
        flat_sq = flat ** 2
        log_prior = self.log_prior(flux[:, self.selection_index] if ok[:, self.selection_index].all()
                                   else np.where(ok[:, self.selection_index], flux[:, self.selection_index], np.nan))
        allowed = self._age_mask().astype(np.float32)[None, :, :]
        out = np.empty((len(flux), n_g))
        for s in range(0, len(flux), self.chunk):
            f, w = flux[s:s + self.chunk].astype(np.float32), ivar[s:s + self.chunk].astype(np.float32)
            fm = (f * w) @ flat  # (n, T*G): sum_b F M / sigma^2
            mm = w @ flat_sq  # (n, T*G): sum_b M^2 / sigma^2
            ff = (f * f * w).sum(axis=1)[:, None]
            chi2 = np.where(fm > 0, ff - fm ** 2 / np.where(mm > 0, mm, 1.0), ff)  # best amplitude >= 0
            chi2 -= chi2.min(axis=1, keepdims=True)
            like = (np.exp(-0.5 * chi2).reshape(len(f), n_t, n_g) * allowed).sum(axis=1)  # marginalise templates
            out[s:s + self.chunk] = np.log(like.astype(np.float64) + 1e-300) + log_prior[s:s + self.chunk]
        return out

    def _log_posterior_population(self, flux, ivar) -> np.ndarray:
        lib_flux, lib_z = _population_library(self.survey, tuple(self.bands), self.z_max, self.library_size,
                                              self.agn_fraction)
        lib = lib_flux.T.astype(np.float64)  # (B, K)
        lib_sq = lib ** 2
        width = 0.015 * (1 + self.z_grid)  # kernel width of the smoothed posterior
        kern = np.exp(-0.5 * ((self.z_grid[:, None] - lib_z[None, :]) / width[:, None]) ** 2)  # (G, K)
        kern = (kern / kern.sum(axis=0, keepdims=True).clip(1e-300)).T  # each member spreads unit mass: (K, G)
        kern32 = kern.astype(np.float32)
        s2 = (self.amplitude_dex * np.log(10.0)) ** 2
        out = np.empty((len(flux), len(self.z_grid)))
        for s in range(0, len(flux), self.chunk):
            f, w = flux[s:s + self.chunk], ivar[s:s + self.chunk]
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
            out[s:s + self.chunk] = np.log((weight @ kern32).astype(np.float64) + 1e-300)
        return out

    def predict_pdf(self, table):
        """Posterior redshift PDFs (:class:`astrolab.metrics.pdf.RedshiftPDF`) on :attr:`z_grid`."""
        from astrolab.metrics.pdf import RedshiftPDF

        logp = self.log_posterior(table)
        p = np.exp(logp - logp.max(axis=1, keepdims=True))
        names = list(table.colnames) if hasattr(table, "colnames") else list(table.columns)
        ids = np.asarray(table["object_id"]) if "object_id" in names else None
        return RedshiftPDF(self.z_grid, p, ids=ids)

    def predict(self, table, kind: str = "median") -> np.ndarray:
        """Point redshifts (N,): the posterior ``kind`` ("median", "mode" or "mean")."""
        return np.asarray(self.predict_pdf(table).point_estimate(kind))

    def __repr__(self):
        return (f"TemplateFitter(survey={self.survey!r}, bands={self.bands}, {len(self.z_grid)} z, "
                f"{self.models.shape[0]} templates, prior={self.prior_kind!r})")

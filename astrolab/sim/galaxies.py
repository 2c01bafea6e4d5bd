"""Simulated galaxy surveys with known ground truth.

:func:`simulate_galaxies` draws a flux-limited galaxy population (redshift,
stellar mass, star formation, age, metallicity, dust, optional AGN), builds
each SED with :mod:`astrolab.sim.sed`, integrates it through the real filter
curves of the chosen survey(s) (speclite), and adds Gaussian flux noise set by
each band's 5σ depth. The returned astropy Table holds every true parameter.
"""

from __future__ import annotations

import numpy as np

from astrolab.errors import invalid
from astrolab.sim import filters as _filters
from astrolab.sim.sed import WAVE, igm_transmission, luminosity_5500, sed_shape

__all__ = ["simulate_galaxies", "band_fluxes", "model_fluxes", "draw_population", "AB_ZEROPOINT_NJY", "resolve_bands"]

AB_ZEROPOINT_NJY = 3631e9  #: AB zero point [nJy]
_DLNL = np.log(WAVE[1] / WAVE[0])


def resolve_bands(survey, bands):
    """Normalise ``survey``/``bands`` to a list of (column name, survey, band).

    A single survey with plain band names gives plain column names; bands
    written ``"<survey>_<band>"`` (or several surveys) give prefixed names.
    """
    if bands is None:
        s = _filters.get_survey(survey)
        return [(b, s.name, b) for b in s.bands]
    out = []
    for b in bands:
        sv, name = _filters.parse_band(b, survey)
        col = name if ("_" not in b and sv == _filters.get_survey(survey).name) else f"{sv}_{name}"
        out.append((col, sv, name))
    return out


_Z_TABLE = np.concatenate([[0.0], np.geomspace(1e-4, 12.0, 600)])


def _cosmo_table():
    from astropy.cosmology import Planck18

    if not hasattr(_cosmo_table, "cache"):
        _cosmo_table.cache = (Planck18.luminosity_distance(np.clip(_Z_TABLE, 1e-5, None)).to_value("cm"),
                              Planck18.age(_Z_TABLE).to_value("Gyr"))
    return _cosmo_table.cache


def luminosity_distance_cm(z):
    """Planck18 luminosity distance [cm] (interpolated table, relative error < 1e-4)."""
    return np.exp(np.interp(np.asarray(z, float), _Z_TABLE[1:], np.log(_cosmo_table()[0][1:])))


def age_of_universe_gyr(z):
    """Planck18 age of the universe at redshift z [Gyr] (interpolated table)."""
    return np.interp(np.asarray(z, float), _Z_TABLE, _cosmo_table()[1])


def band_fluxes(shape, z, l5500, band_list, chunk: int = 2000):
    """Noise-free band fluxes [nJy] of rest-frame SEDs.

    Parameters
    ----------
    shape : array (N, L)
        SED shapes from :func:`astrolab.sim.sed.sed_shape` (L_λ / L_λ,stars(5500)).
    z : array (N,)
        Redshifts (> 0).
    l5500 : array (N,)
        Stellar L_λ(5500 Å) [erg/s/Å].
    band_list : list of (column, survey, band)
        From :func:`resolve_bands`.

    Returns
    -------
    ndarray (N, B)
        AB-system band fluxes [nJy] (photon-counting response, IGM applied).
    """
    z = np.asarray(z, float)
    dl_cm = luminosity_distance_cm(np.clip(z, 1e-4, None))
    out = np.zeros((len(z), len(band_list)))
    curves = [_filters.filter_curve(sv, b) for _, sv, b in band_list]
    for start in range(0, len(z), chunk):
        sl = slice(start, start + chunk)
        zz = z[sl]
        # f_nu(lambda_obs) = L_lambda(lambda_rest) lambda_rest^2 (1+z) / (4 pi D_L^2 c)   [erg/s/cm2/Hz]
        lam_fac = WAVE[None, :] ** 2 * 1e-8 / 2.998e10  # Angstrom^2 -> (cm * Angstrom) / (cm/s)
        fnu = shape[sl] * (l5500[sl] * (1 + zz) / (4 * np.pi * dl_cm[sl] ** 2))[:, None] * lam_fac
        fnu = fnu * igm_transmission(WAVE, zz) * 1e32  # -> nJy
        lam_obs = WAVE[None, :] * (1 + zz[:, None])
        for j, (fw, fr) in enumerate(curves):
            resp = np.interp(lam_obs, fw, fr, left=0.0, right=0.0)
            norm = resp.sum(axis=1)
            out[sl, j] = np.where(norm > 0, (fnu * resp).sum(axis=1) / np.where(norm > 0, norm, 1), np.nan)
    return out


def model_fluxes(pop: dict, band_list, chunk: int = 1000) -> np.ndarray:
    """Noise-free band fluxes (N, B) [nJy] of a population dict (see :func:`draw_population`)."""
    n = len(pop["redshift"])
    out = np.zeros((n, len(band_list)))
    for s in range(0, n, chunk):
        sl = slice(s, s + chunk)
        shape = sed_shape(pop["age"][sl], pop["metallicity"][sl], pop["log_ssfr"][sl], pop["ebv"][sl],
                          pop["agn_frac"][sl])
        out[sl] = band_fluxes(shape, pop["redshift"][sl], luminosity_5500(pop["log_mstar"][sl], pop["age"][sl]),
                              band_list)
    return out


def _redshifts(rng, n, kind, z_max):
    if kind == "uniform":
        return rng.uniform(0.02, z_max, n)
    if kind != "galaxiesml":
        raise invalid("simulate_galaxies(redshift_distribution=...)", f"unknown {kind!r}", "use 'galaxiesml' or 'uniform'")
    z0 = 0.9  # p(z) ~ z^2 exp(-(z/z0)^1.5): mode near z = 1.1, tail to z ~ 3
    out = np.empty(0)
    while out.size < n:
        cand = rng.uniform(0.01, z_max, 4 * n)
        p = (cand / z0) ** 2 * np.exp(-((cand / z0) ** 1.5))
        out = np.concatenate([out, cand[rng.uniform(0, 0.8, cand.size) < p]])
    return out[:n]


def draw_population(n: int, rng, z_max: float = 3.0, agn_fraction: float = 0.0,
                    redshift_distribution: str = "galaxiesml") -> dict:
    """Draw true galaxy parameters (no photometry).

    Returns
    -------
    dict of arrays (N,)
        redshift, log_mstar [dex Msun], sfr [Msun/yr], log_ssfr [1/yr], age [Gyr],
        metallicity [log Z/Zsun], ebv [mag], agn_frac, quiescent (bool).
    """
    z = _redshifts(rng, n, redshift_distribution, z_max)
    # stellar mass: a Schechter-like shape, steeper at high mass
    u = rng.uniform(size=n)
    logm = 8.3 + 3.5 * (1 - np.sqrt(1 - u)) ** 1.0 + rng.normal(0, 0.15, n)
    logm = np.clip(logm, 8.0, 12.0)
    f_q = 1.0 / (1.0 + np.exp(-(logm - 10.6 - 0.4 * z) / 0.25))
    quiescent = rng.uniform(size=n) < f_q
    log_sfr_ms = 0.8 * (logm - 10.0) + 0.2 + 2.0 * np.log10(1 + z)
    log_sfr = np.where(quiescent, log_sfr_ms - 1.7, log_sfr_ms) + rng.normal(0, 0.3, n)
    log_ssfr = log_sfr - logm
    t_univ = age_of_universe_gyr(z)
    frac = np.where(quiescent, rng.uniform(0.45, 0.9, n), rng.uniform(0.05, 0.5, n))
    age = np.clip(frac * t_univ, 0.05, None)
    metallicity = np.clip(0.3 * (logm - 10.0) - 0.1 - 0.15 * z + rng.normal(0, 0.1, n), -1.2, 0.4)
    ebv = np.where(quiescent, rng.uniform(0.0, 0.05, n),
                   np.clip(0.12 + 0.08 * (log_sfr - 0.5) + rng.normal(0, 0.06, n), 0.0, 0.8))
    agn = np.where(rng.uniform(size=n) < agn_fraction, rng.uniform(0.2, 0.85, n), 0.0)
    return dict(redshift=z, log_mstar=logm, sfr=10 ** log_sfr, log_ssfr=log_ssfr, age=age,
                metallicity=metallicity, ebv=ebv, agn_frac=agn, quiescent=quiescent)


def simulate_galaxies(n: int, survey: str = "hsc", bands=None, seed: int = 0, z_max: float = 3.0,
                      agn_fraction: float = 0.0, depth: dict | None = None, redshift_distribution: str = "galaxiesml",
                      selection_band: str | None = None, selection_limit: float | None = None):
    """Simulate a flux-limited galaxy catalog with photometry and every true parameter.

    Parameters
    ----------
    n : int
        Number of galaxies returned.
    survey : str
        Default survey of the bands (``"hsc"``, ``"sdss"``, ``"lsst"``, ``"legacy"``,
        ``"panstarrs"``, ``"galex"``, ``"wise"``).
    bands : list of str, optional
        Bands to simulate: plain names of ``survey`` or ``"<survey>_<band>"``
        from several surveys (columns then carry the prefix). Default: all of ``survey``.
    seed : int
        Random seed: the same seed gives the same table.
    z_max : float
        Largest redshift.
    agn_fraction : float
        Fraction of galaxies hosting an AGN (AGN share of the 5500 Å light 0.2–0.85).
    depth : dict, optional
        5σ depth overrides per band column [AB mag].
    redshift_distribution : {"galaxiesml", "uniform"}
        Parent n(z): GalaxiesML-like (peak ~1) or uniform.
    selection_band, selection_limit : optional
        Flux limit on the noise-free magnitude (default: the survey's i band
        or its reddest optical band, 1 mag brighter than its 5σ depth).

    Returns
    -------
    astropy.table.Table
        ``object_id``; truths ``redshift``, ``log_mstar`` [dex(Msun)], ``sfr``
        [Msun/yr], ``log_ssfr`` [dex(1/yr)], ``age`` [Gyr], ``metallicity``
        [dex, log Z/Zsun], ``ebv`` [mag], ``agn_frac``, ``quiescent``; per band
        ``<b>`` observed AB magnitude [mag] (NaN when flux S/N < 1, a
        non-detection), ``<b>_err`` [mag], ``<b>_flux`` and ``<b>_flux_err``
        [nJy] (always finite), ``<b>_true`` noise-free magnitude [mag].
    """
    from astropy import units as u
    from astropy.table import Table

    if int(n) < 1:
        raise invalid("simulate_galaxies(n=...)", f"n={n}", "ask for at least one galaxy")
    band_list = resolve_bands(survey, bands)
    depth = dict(depth or {})
    depths = []
    for col, sv, b in band_list:
        s = _filters.get_survey(sv)
        depths.append(float(depth.get(col, s.depth[s.bands.index(b)])))
    depths = np.array(depths)
    cols = [c for c, _, _ in band_list]
    if selection_band is None:
        prefs = [c for c in cols if c.endswith("i")] or cols
        selection_band = prefs[0]
    if selection_band not in cols:
        raise invalid("simulate_galaxies(selection_band=...)", f"{selection_band!r} is not simulated", f"use one of {cols}")
    j_sel = cols.index(selection_band)
    limit = selection_limit if selection_limit is not None else depths[j_sel] - 1.0
    rng = np.random.default_rng(seed)
    kept, fluxes, total = [], [], 0
    while total < n:
        batch = max(512, int(1.6 * (n - total)))
        pop = draw_population(batch, rng, z_max, agn_fraction, redshift_distribution)
        f = model_fluxes(pop, band_list)
        mag_sel = 31.4 - 2.5 * np.log10(np.clip(f[:, j_sel], 1e-30, None))
        ok = np.isfinite(mag_sel) & (mag_sel < limit)
        kept.append({k: v[ok] for k, v in pop.items()})
        fluxes.append(f[ok])
        total += int(ok.sum())
    pop = {k: np.concatenate([p[k] for p in kept])[:n] for k in kept[0]}
    flux_true = np.concatenate(fluxes)[:n]
    sigma = 10 ** (-0.4 * (depths - 31.4)) / 5.0  # 5-sigma depth -> 1-sigma flux error [nJy]
    flux_err = np.sqrt(sigma[None, :] ** 2 + (0.01 * flux_true) ** 2)
    flux_obs = flux_true + rng.normal(size=flux_true.shape) * flux_err
    detected = flux_obs > flux_err
    with np.errstate(invalid="ignore", divide="ignore"):
        mag = np.where(detected, 31.4 - 2.5 * np.log10(np.where(detected, flux_obs, 1.0)), np.nan)
        mag_err = np.where(detected, 1.0857 * flux_err / np.where(detected, flux_obs, 1.0), np.nan)
    table = Table()
    table["object_id"] = np.arange(n, dtype=np.int64)
    table["redshift"] = pop["redshift"]
    table["log_mstar"] = pop["log_mstar"]
    table["log_mstar"].unit = "dex(Msun)"
    table["sfr"] = pop["sfr"] * u.Msun / u.yr
    table["log_ssfr"] = pop["log_ssfr"]
    table["log_ssfr"].unit = "dex(1/yr)"
    table["age"] = pop["age"] * u.Gyr
    table["metallicity"] = pop["metallicity"]
    table["metallicity"].unit = "dex"
    table["ebv"] = pop["ebv"] * u.mag
    table["agn_frac"] = pop["agn_frac"]
    table["quiescent"] = pop["quiescent"]
    for j, col in enumerate(cols):
        table[col] = mag[:, j] * u.mag
        table[f"{col}_err"] = mag_err[:, j] * u.mag
    for j, col in enumerate(cols):
        table[f"{col}_flux"] = flux_obs[:, j] * u.nJy
        table[f"{col}_flux_err"] = flux_err[:, j] * u.nJy
        table[f"{col}_true"] = (31.4 - 2.5 * np.log10(np.clip(flux_true[:, j], 1e-30, None))) * u.mag
    table.meta.update({"simulator": "astrolab.sim.galaxies", "survey": survey, "bands": cols, "seed": seed,
                       "depth_5sigma": dict(zip(cols, depths.tolist())), "selection": f"{selection_band}_true < {limit}",
                       "z_max": z_max, "agn_fraction": agn_fraction})
    return table

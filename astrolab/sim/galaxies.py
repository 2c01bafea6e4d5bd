"""Simulated galaxy surveys with known ground truth.

:func:`simulate_galaxies` draws a flux-limited galaxy population (redshift,
stellar mass, star formation, age, metallicity, dust, optional AGN), builds
each SED with :mod:`astrolab.sim.sed`, integrates it through the real filter
curves of the chosen survey(s) (speclite), and adds Gaussian flux noise set by
each band's 5σ depth. The returned astropy Table holds every true parameter.

Columns: truths (``redshift``, ``log_mstar``, ``sfr``, ``age``, ``metallicity``,
``ebv``, ``agn_frac``, ``quiescent``, ``template_index``) and, per band column
stem ``<b>`` (``"g"`` for a single survey, ``"hsc_g"``/``"wise_w1"`` when bands
are asked for with a survey prefix), ``<b>``, ``<b>_err`` [mag], ``<b>_flux``,
``<b>_flux_err`` [nJy] and ``<b>_true`` [mag]. Magnitudes of non-detections
(flux S/N ≤ 1) are NaN; fluxes are always finite.
"""

from __future__ import annotations

import numpy as np

from astrolab.errors import invalid
from astrolab.sim import filters as _filters
from astrolab.sim.sed import (TemplateLibrary, age_of_universe_gyr, band_fluxes, luminosity_5500,
                              luminosity_distance_cm, sed_shape)

__all__ = ["simulate_galaxies", "band_fluxes", "model_fluxes", "draw_population", "redshift_density",
           "AB_ZEROPOINT_NJY", "resolve_bands", "luminosity_distance_cm", "age_of_universe_gyr"]

AB_ZEROPOINT_NJY = 3631e9  #: AB zero point [nJy]


def resolve_bands(survey, bands):
    """Normalise ``survey``/``bands`` to a list of (column name, survey, band).

    Parameters
    ----------
    survey : str
        Default survey (key of :data:`astrolab.sim.filters.SURVEYS`).
    bands : sequence of str or None
        Plain band names of ``survey`` and/or ``"<survey>_<band>"`` names. None: all of ``survey``.

    Returns
    -------
    list of (str, str, str)
        (column stem, survey, band) per band, in order. Plain bands of ``survey``
        keep their plain name as column stem (``"g"``); prefixed ones keep the
        prefix (``"wise_w1"``).

    Raises
    ------
    astrolab.errors.DataValidationError
        Unknown survey or band (the message lists the available ones).
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


def model_fluxes(pop: dict, band_list, chunk: int = 1000) -> np.ndarray:
    """Noise-free band fluxes of a population.

    Parameters
    ----------
    pop : dict of arrays (N,)
        From :func:`draw_population` (redshift, log_mstar, age, metallicity, log_ssfr, ebv, agn_frac);
        an optional ``ebv_mw`` (Milky-Way foreground E(B−V) [mag]) reddens the
        observed-frame spectra (:func:`astrolab.sim.dust.milky_way_extinction`).
    band_list : list of (column, survey, band)
        From :func:`resolve_bands`.
    chunk : int
        Objects per block.

    Returns
    -------
    ndarray (N, B)
        AB band fluxes [nJy] (IGM and the foreground, when given, included; no noise).
    """
    n = len(pop["redshift"])
    out = np.zeros((n, len(band_list)))
    for s in range(0, n, chunk):
        sl = slice(s, s + chunk)
        shape = sed_shape(pop["age"][sl], pop["metallicity"][sl], pop["log_ssfr"][sl], pop["ebv"][sl],
                          pop["agn_frac"][sl])
        fg = pop["ebv_mw"][sl] if "ebv_mw" in pop else None
        out[sl] = band_fluxes(shape, pop["redshift"][sl], luminosity_5500(pop["log_mstar"][sl], pop["age"][sl]),
                              band_list, foreground_ebv=fg)
    return out


_Z0_GALAXIESML = 0.9  # p(z) ~ z^2 exp(-(z/z0)^1.5): mode near z = 1.1, tail to z ~ 3


def redshift_density(z, kind: str = "galaxiesml", z_max: float = 3.0) -> np.ndarray:
    """Parent redshift density of the simulator (before the flux limit), unnormalised.

    Parameters
    ----------
    z : array_like
        Redshifts.
    kind : {"galaxiesml", "uniform"}
        ``"galaxiesml"``: p(z) ∝ (z/0.9)² exp(−(z/0.9)^1.5) on [0.01, z_max]
        (mode ≈ 1.1, like the GalaxiesML spec-z sample); ``"uniform"``: flat on [0.02, z_max].
    z_max : float
        Largest redshift.

    Returns
    -------
    numpy.ndarray
        Density (same shape as ``z``), zero outside the support.
    """
    z = np.asarray(z, float)
    if kind == "uniform":
        return np.where((z >= 0.02) & (z <= z_max), 1.0, 0.0)
    if kind != "galaxiesml":
        raise invalid("redshift_distribution", f"unknown {kind!r}", "use 'galaxiesml' or 'uniform'")
    x = z / _Z0_GALAXIESML
    return np.where((z >= 0.01) & (z <= z_max), x**2 * np.exp(-np.clip(x, 0, None) ** 1.5), 0.0)


def _redshifts(rng, n, kind, z_max):
    if kind == "uniform":
        return rng.uniform(0.02, z_max, n)
    if kind != "galaxiesml":
        raise invalid("simulate_galaxies(redshift_distribution=...)", f"unknown {kind!r}",
                      "use 'galaxiesml' or 'uniform'")
    z0 = _Z0_GALAXIESML
    out = np.empty(0)
    while out.size < n:
        cand = rng.uniform(0.01, z_max, 4 * n)
        p = (cand / z0) ** 2 * np.exp(-((cand / z0) ** 1.5))
        out = np.concatenate([out, cand[rng.uniform(0, 0.8, cand.size) < p]])
    return out[:n]


def draw_population(n: int, rng, z_max: float = 3.0, agn_fraction: float = 0.0,
                    redshift_distribution: str = "galaxiesml") -> dict:
    """Draw true galaxy parameters (no photometry, no flux limit).

    Scaling relations: redshift from :func:`redshift_density`; log stellar mass
    from a falling, Schechter-like distribution on [8, 12]; quiescent fraction
    rising with mass (and falling with z); SFR on a main sequence
    log SFR = 0.8 (log M − 10) + 0.2 + 2 log10(1 + z) with 0.3 dex scatter
    (quiescent: 1.7 dex below); age a fraction of the age of the universe at z
    (Planck18; older for quiescent galaxies); metallicity from a mass–metallicity
    relation; nebular E(B−V) rising with SFR; AGN fraction 0.2–0.85 for a share
    ``agn_fraction`` of the objects, else 0.

    Parameters
    ----------
    n : int
        Number of objects.
    rng : numpy.random.Generator
        Random generator (consumed).
    z_max : float
        Largest redshift.
    agn_fraction : float
        Probability that an object hosts an AGN.
    redshift_distribution : {"galaxiesml", "uniform"}
        Parent n(z).

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


def _depth_array(depth, cols, defaults, n):
    """5σ depths [AB mag] as an array (n, B) from None / scalar / sequence (B,) / dict {column: value or (n,)}."""
    out = np.broadcast_to(np.asarray(defaults, float), (n, len(cols))).copy()
    if depth is None:
        return out
    if isinstance(depth, dict):
        unknown = [k for k in depth if k not in cols]
        if unknown:
            raise invalid(f"simulate_galaxies(depth=...) key(s) {unknown}", "are not simulated band columns",
                          f"use keys among {cols}")
        for k, v in depth.items():
            out[:, cols.index(k)] = np.broadcast_to(np.asarray(v, float), (n,))
    else:
        arr = np.asarray(depth, float)
        if arr.ndim == 0 or arr.shape == (len(cols),) or arr.shape == (n, len(cols)):
            out[:] = arr
        else:
            raise invalid("simulate_galaxies(depth=...)", f"has shape {arr.shape}",
                          f"pass a scalar, {len(cols)} values (one per band), an ({n}, {len(cols)}) array "
                          f"or a dict {{column: depth}}")
    if not np.all(np.isfinite(out)):
        raise invalid("simulate_galaxies(depth=...)", "contains non-finite depths", "pass AB magnitudes")
    return out


def simulate_galaxies(n: int, survey: str = "hsc", bands=None, seed: int = 0, z_max: float = 3.0,
                      agn_fraction: float = 0.0, depth=None, redshift_distribution: str = "galaxiesml",
                      selection_band: str | None = None, selection_limit: float | None = None,
                      foreground_ebv=None):
    """Simulate a flux-limited galaxy catalog with photometry and every true parameter.

    Parameters
    ----------
    n : int
        Number of galaxies returned (after the flux limit).
    survey : str
        Default survey of the bands (``"hsc"``, ``"sdss"``, ``"lsst"``, ``"legacy"``,
        ``"panstarrs"``, ``"galex"``, ``"wise"``).
    bands : list of str, optional
        Bands to simulate: plain names of ``survey`` (columns ``"g"``, ``"g_flux"`` ...)
        or ``"<survey>_<band>"`` names, possibly from several surveys (columns then
        carry the prefix: ``"hsc_g"``, ``"wise_w1_flux"``). Default: all of ``survey``.
    seed : int
        Random seed: the same seed gives the same table, different seeds differ.
    z_max : float
        Largest redshift (0.1–6).
    agn_fraction : float
        Fraction of galaxies hosting an AGN (AGN share of the 5500 Å continuum 0.2–0.85).
    depth : None, float, sequence (B,), array (n, B) or dict
        5σ point-source depths [AB mag]: one value for all bands, one per band,
        one per object and band, or ``{column: value or array (n,)}`` overrides.
        Default: the survey's (:data:`astrolab.sim.filters.SURVEYS`).
    redshift_distribution : {"galaxiesml", "uniform"}
        Parent n(z) (:func:`redshift_density`): GalaxiesML-like (mode ~1.1) or uniform.
    selection_band, selection_limit : optional
        Flux limit on the noise-free magnitude (default: the survey's i band or
        its middle band, 1 mag brighter than its default 5σ depth).
    foreground_ebv : None, "high_latitude", float or callable, optional
        Milky-Way foreground dust per line of sight (truth column ``ebv_mw``
        [mag]): ``"high_latitude"`` draws SFD-like values
        (:func:`astrolab.sim.dust.draw_foreground_ebv`, median 0.03 mag), a number
        is used for every object, ``f(n, rng)`` returns n values. Every band's
        flux is reddened in the observed frame (CCM89, R_V = 3.1) before the
        noise and the flux limit. Default None: no foreground (no column), and
        the same table as before this option existed.

    Returns
    -------
    astropy.table.Table
        N rows. Truths: ``object_id`` (int64, unique), ``redshift``, ``log_mstar``
        [dex(Msun)], ``sfr`` [Msun/yr], ``log_ssfr`` [dex(1/yr)], ``age`` [Gyr],
        ``metallicity`` [dex, log Z/Zsun], ``ebv`` (nebular E(B−V), in the galaxy) [mag],
        ``ebv_mw`` (Milky-Way foreground E(B−V) [mag], only with ``foreground_ebv``),
        ``agn_frac`` (AGN share of the 5500 Å continuum), ``quiescent`` (bool),
        ``template_index`` (nearest template of :meth:`TemplateLibrary.default`).
        Per band column ``<b>``: ``<b>`` observed AB magnitude [mag], ``<b>_err``
        [mag], ``<b>_flux`` and ``<b>_flux_err`` [nJy], ``<b>_true`` noise-free
        magnitude [mag]. ``meta`` records survey, bands, seed, depths, selection.

    Notes
    -----
    Noise: Gaussian in flux with σ² = (f_5σ / 5)² + (0.01 f_true)² (background
    from the 5σ depth plus a 1 % calibration floor). Non-detections: fluxes are
    always finite (they may be negative); where the observed S/N = flux / σ ≤ 1
    the magnitude and its error are NaN, so that likelihood methods use the
    flux columns. ``<b>_true`` is finite (a flux erased by the IGM gives
    ≈ 106 mag). Runs at ~4 s per 20,000 objects in HSC grizy on one core.
    """
    from astropy import units as u
    from astropy.table import Table

    if int(n) < 1:
        raise invalid("simulate_galaxies(n=...)", f"n={n}", "ask for at least one galaxy")
    n = int(n)
    if not 0.1 <= float(z_max) <= 6.0:
        raise invalid("simulate_galaxies(z_max=...)", f"z_max={z_max} is outside [0.1, 6]",
                      "pick a maximum redshift between 0.1 and 6")
    if not 0.0 <= float(agn_fraction) <= 1.0:
        raise invalid("simulate_galaxies(agn_fraction=...)", f"{agn_fraction} is not a fraction",
                      "pass a number in [0, 1]")
    band_list = resolve_bands(survey, bands)
    cols = [c for c, _, _ in band_list]
    default_depths = []
    for col, sv, b in band_list:
        s = _filters.get_survey(sv)
        default_depths.append(float(s.depth[s.bands.index(b)]))
    depths = _depth_array(depth, cols, default_depths, n)
    if selection_band is None:
        prefs = [c for c in cols if c == "i" or c.endswith("_i")] or [cols[len(cols) // 2]]
        selection_band = prefs[0]
    if selection_band not in cols:
        raise invalid("simulate_galaxies(selection_band=...)", f"{selection_band!r} is not simulated",
                      f"use one of {cols}")
    j_sel = cols.index(selection_band)
    limit = float(selection_limit) if selection_limit is not None else default_depths[j_sel] - 1.0
    rng = np.random.default_rng(seed)
    kept, fluxes, total, drawn = [], [], 0, 0
    fg_rng = None
    if foreground_ebv is not None:
        from astrolab.sim.dust import foreground_for

        fg_rng = np.random.default_rng([int(seed), 0xD057])  # own stream: the population draws stay as they were
    while total < n:
        batch = max(512, int(2.2 * (n - total)))
        pop = draw_population(batch, rng, z_max, agn_fraction, redshift_distribution)
        if fg_rng is not None:
            pop["ebv_mw"] = foreground_for(foreground_ebv, batch, fg_rng)
        f = model_fluxes(pop, band_list)
        drawn += batch
        with np.errstate(divide="ignore"):
            mag_sel = 31.4 - 2.5 * np.log10(np.clip(f[:, j_sel], 1e-30, None))
        ok = np.isfinite(mag_sel) & (mag_sel < limit)
        kept.append({k: v[ok] for k, v in pop.items()})
        fluxes.append(f[ok])
        total += int(ok.sum())
        if drawn > 200 * n + 100_000 and total < n:
            raise invalid("simulate_galaxies(selection_limit=...)",
                          f"only {total} of {drawn} drawn galaxies pass {selection_band}_true < {limit}",
                          "raise selection_limit (fainter) or lower z_max")
    pop = {k: np.concatenate([p[k] for p in kept])[:n] for k in kept[0]}
    flux_true = np.concatenate(fluxes)[:n]
    sigma = 10 ** (-0.4 * (depths - 31.4)) / 5.0  # 5-sigma depth -> 1-sigma flux error [nJy]
    flux_err = np.sqrt(sigma ** 2 + (0.01 * flux_true) ** 2)
    flux_obs = flux_true + rng.normal(size=flux_true.shape) * flux_err
    detected = flux_obs > flux_err
    with np.errstate(invalid="ignore", divide="ignore"):
        mag = np.where(detected, 31.4 - 2.5 * np.log10(np.where(detected, flux_obs, 1.0)), np.nan)
        mag_err = np.where(detected, 2.5 / np.log(10.0) * flux_err / np.where(detected, flux_obs, 1.0), np.nan)
    library = TemplateLibrary.default(include_agn=bool(np.any(pop["agn_frac"] > 0)))
    table = Table()
    table["object_id"] = np.arange(n, dtype=np.int64)
    table["redshift"] = pop["redshift"] * u.dimensionless_unscaled
    table["log_mstar"] = pop["log_mstar"]
    table["log_mstar"].unit = "dex(Msun)"
    table["sfr"] = pop["sfr"] * u.Msun / u.yr
    table["log_ssfr"] = pop["log_ssfr"]
    table["log_ssfr"].unit = "dex(1/yr)"
    table["age"] = pop["age"] * u.Gyr
    table["metallicity"] = pop["metallicity"]
    table["metallicity"].unit = "dex"
    table["ebv"] = pop["ebv"] * u.mag
    if "ebv_mw" in pop:
        table["ebv_mw"] = pop["ebv_mw"] * u.mag
    table["agn_frac"] = pop["agn_frac"] * u.dimensionless_unscaled
    table["quiescent"] = pop["quiescent"]
    table["template_index"] = library.nearest(pop)
    for j, col in enumerate(cols):
        table[col] = mag[:, j] * u.mag
        table[f"{col}_err"] = mag_err[:, j] * u.mag
    for j, col in enumerate(cols):
        table[f"{col}_flux"] = flux_obs[:, j] * u.nJy
        table[f"{col}_flux_err"] = flux_err[:, j] * u.nJy
        table[f"{col}_true"] = (31.4 - 2.5 * np.log10(np.clip(flux_true[:, j], 1e-30, None))) * u.mag
    depth_meta = {c: (float(depths[0, j]) if np.all(depths[:, j] == depths[0, j]) else "per object")
                  for j, c in enumerate(cols)}
    table.meta.update({"simulator": "astrolab.sim.galaxies", "survey": survey, "bands": cols, "seed": seed,
                       "depth_5sigma": depth_meta, "selection": f"{selection_band}_true < {limit}",
                       "selection_band": selection_band, "selection_limit": limit,
                       "z_max": z_max, "agn_fraction": agn_fraction,
                       "redshift_distribution": redshift_distribution, "n_templates": len(library),
                       "foreground_ebv": None if foreground_ebv is None else
                       (foreground_ebv if isinstance(foreground_ebv, (str, float, int)) else "custom")})
    return table

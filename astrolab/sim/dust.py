"""Milky-Way foreground dust: extinction law, line-of-sight E(B−V) and dereddening.

Extragalactic photometry is seen through the Galaxy's dust. The simulator
(:func:`astrolab.sim.galaxies.simulate_galaxies` with ``foreground_ebv=...``,
:func:`astrolab.sim.images.simulate_multisurvey`) draws one Galactic E(B−V)
per line of sight (truth column ``ebv_mw`` [mag]) and reddens every galaxy's
*observed-frame* spectrum with the law of :func:`milky_way_extinction` inside
each filter before integrating it, so that the band extinction depends on the
band (GALEX FUV/NUV ≈ 8 E(B−V), PanSTARRS g ≈ 3.5, unWISE W1 ≈ 0.2) and,
slightly, on the galaxy's SED and redshift -- as in real data. The selection
(flux limit) acts on the reddened fluxes.

- :func:`milky_way_extinction` -- A_λ / E(B−V) of Cardelli, Clayton & Mathis
  (1989, ApJ 345, 245; "CCM89") for R_V = 3.1;
- :func:`draw_foreground_ebv` -- E(B−V) of random high-latitude sight lines;
- :func:`band_extinction_coefficients` -- R_b = A_b / E(B−V) per band (flat f_ν
  source, small-E limit): the catalogue "dereddening coefficients";
- :func:`deredden_table` -- fluxes corrected with R_b (what a template fitter
  given a dust-map E(B−V) does).
"""

from __future__ import annotations

import numpy as np

from astrolab.errors import invalid

__all__ = ["R_V", "milky_way_extinction", "draw_foreground_ebv", "foreground_for", "band_extinction_coefficients",
           "deredden_table", "FOREGROUND_MEDIAN", "FOREGROUND_SIGMA_LN"]

R_V = 3.1  #: total-to-selective extinction of the diffuse Milky-Way ISM
FOREGROUND_MEDIAN = 0.03  #: median E(B−V) [mag] of high-latitude extragalactic sight lines (SFD-like)
FOREGROUND_SIGMA_LN = 0.7  #: log-normal width (natural log) of that distribution


def milky_way_extinction(wave, r_v: float = R_V) -> np.ndarray:
    """Milky-Way extinction curve A_λ / E(B−V) of Cardelli, Clayton & Mathis (1989).

    Piecewise in x = 1/λ [µm⁻¹]: infrared power law (0.3 ≤ x < 1.1), optical
    polynomial (1.1–3.3), ultraviolet with the 2175 Å bump (3.3–8) and far-UV
    (8–10). Redder than 3.3 µm (x < 0.3, unWISE W1/W2) the infrared power law
    λ^−1.61 is extended; bluer than 1000 Å (x > 10) the curve is held at its
    1000 Å value (no filter used here reaches it).

    Parameters
    ----------
    wave : array_like
        Wavelengths [Angstrom] (any shape).
    r_v : float
        R_V = A_V / E(B−V).

    Returns
    -------
    numpy.ndarray
        A_λ / E(B−V) = R_V a(x) + b(x) [mag per mag of E(B−V)], same shape as ``wave``;
        3.1 at 5500 Å for R_V = 3.1.
    """
    lam = np.asarray(wave, dtype=float)
    if np.any(~np.isfinite(lam)) or np.any(lam <= 0):
        raise invalid("milky_way_extinction(wave)", "has non-positive or non-finite wavelengths",
                      "pass wavelengths in Angstrom (> 0)")
    x = np.clip(1e4 / lam, None, 10.0)
    a = np.zeros_like(x)
    b = np.zeros_like(x)
    ir = x < 1.1
    a[ir] = 0.574 * x[ir] ** 1.61
    b[ir] = -0.527 * x[ir] ** 1.61
    opt = (x >= 1.1) & (x < 3.3)
    y = x[opt] - 1.82
    a[opt] = np.polyval([0.32999, -0.77530, 0.01979, 0.72085, -0.02427, -0.50447, 0.17699, 1.0], y)
    b[opt] = np.polyval([-2.09002, 5.30260, -0.62251, -5.38434, 1.07233, 2.28305, 1.41338, 0.0], y)
    uv = (x >= 3.3) & (x <= 8.0)
    xu = x[uv]
    d = np.clip(xu - 5.9, 0.0, None)
    fa = -0.04473 * d ** 2 - 0.009779 * d ** 3
    fb = 0.2130 * d ** 2 + 0.1207 * d ** 3
    a[uv] = 1.752 - 0.316 * xu - 0.104 / ((xu - 4.67) ** 2 + 0.341) + fa
    b[uv] = -3.090 + 1.825 * xu + 1.206 / ((xu - 4.62) ** 2 + 0.263) + fb
    fuv = x > 8.0
    e = x[fuv] - 8.0
    a[fuv] = -1.073 - 0.628 * e + 0.137 * e ** 2 - 0.070 * e ** 3
    b[fuv] = 13.670 + 4.257 * e - 0.420 * e ** 2 + 0.374 * e ** 3
    return float(r_v) * a + b


def draw_foreground_ebv(n: int, rng, median: float = FOREGROUND_MEDIAN, sigma_ln: float = FOREGROUND_SIGMA_LN,
                        max_ebv: float = 0.5) -> np.ndarray:
    """Galactic E(B−V) of ``n`` random extragalactic (high-latitude) sight lines.

    A log-normal with median ``median`` and natural-log width ``sigma_ln``
    (defaults: 0.03 mag and 0.7, i.e. 5–95 % range ≈ 0.01–0.09 mag, the shape of
    the Schlegel–Finkbeiner–Davis map away from the Galactic plane), clipped
    to [0.002, ``max_ebv``].

    Parameters
    ----------
    n : int
        Number of sight lines.
    rng : numpy.random.Generator
        Random generator (consumed).
    median : float
        Median E(B−V) [mag].
    sigma_ln : float
        Width of ln E(B−V).
    max_ebv : float
        Upper clip [mag].

    Returns
    -------
    numpy.ndarray (n,)
        E(B−V) [mag].
    """
    if not (median > 0 and sigma_ln >= 0 and max_ebv > 0.002):
        raise invalid("draw_foreground_ebv", f"median={median}, sigma_ln={sigma_ln}, max_ebv={max_ebv}",
                      "use median > 0, sigma_ln >= 0 and max_ebv > 0.002 [mag]")
    return np.clip(median * np.exp(sigma_ln * rng.standard_normal(int(n))), 0.002, max_ebv)


def foreground_for(spec, n: int, rng) -> np.ndarray:
    """E(B−V) [mag] (n,) from a ``foreground_ebv=`` specification of the simulators.

    Parameters
    ----------
    spec : "high_latitude", float, or callable
        ``"high_latitude"``: :func:`draw_foreground_ebv`; a number: that E(B−V)
        for every sight line; a callable ``f(n, rng) -> (n,)`` array.
    n : int
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray (n,)
    """
    if isinstance(spec, str):
        if spec != "high_latitude":
            raise invalid("foreground_ebv", f"unknown {spec!r}", "use 'high_latitude', a number [mag] or f(n, rng)")
        return draw_foreground_ebv(n, rng)
    out = np.asarray(spec(n, rng), float) if callable(spec) else np.full(int(n), float(spec))
    if out.shape != (int(n),) or np.any(~np.isfinite(out)) or np.any(out < 0):
        raise invalid("foreground_ebv", f"gave shape {out.shape} or negative/non-finite values",
                      "return one E(B-V) >= 0 [mag] per object")
    return out


def band_extinction_coefficients(bands, survey: str = "panstarrs") -> dict:
    """R_b = A_b / E(B−V) of each band for a flat-f_ν source in the small-E(B−V) limit.

    The photon-weighted mean of :func:`milky_way_extinction` over the band's
    speclite response (the same filter integration as the simulator). Real
    catalogues tabulate such coefficients to deredden their photometry.

    Parameters
    ----------
    bands : sequence of str
        Band column stems (``"panstarrs_g"``, ``"galex_nuv"``, ``"wise_w1"``, or plain
        names of ``survey``).
    survey : str
        Survey of plain band names.

    Returns
    -------
    dict of str -> float
        Band stem -> R_b [mag of extinction per mag of E(B−V)].
    """
    from astrolab.sim.galaxies import resolve_bands
    from astrolab.sim.sed import _DLNL, _LN_W0, _band_kernel

    out = {}
    for col, sv, b in resolve_bands(survey, list(bands)):
        k0, resp = _band_kernel(sv, b)
        lam = np.exp(_LN_W0 + (k0 + np.arange(resp.size)) * _DLNL)
        out[col] = float(np.sum(resp * milky_way_extinction(lam)))
    return out


def deredden_table(table, bands, ebv_column: str = "ebv_mw", survey: str = "panstarrs"):
    """Copy of a catalog whose ``<b>_flux`` / ``<b>_flux_err`` are corrected for Galactic extinction.

    Each band's flux and error are multiplied by 10^(0.4 R_b E(B−V)) with the
    coefficients of :func:`band_extinction_coefficients`; magnitudes ``<b>`` are
    shifted by −R_b E(B−V). (A flat-f_ν coefficient is an approximation: the
    true band extinction depends weakly on the SED, as in real data.)

    Parameters
    ----------
    table : astropy.table.Table
        Catalog with ``<b>_flux``, ``<b>_flux_err`` [nJy] and ``ebv_column`` [mag].
    bands : sequence of str
        Band stems to correct.
    ebv_column : str
        Column of the line-of-sight E(B−V) [mag].
    survey : str
        Survey of plain band names.

    Returns
    -------
    astropy.table.Table
        A copy; other columns unchanged.
    """
    if ebv_column not in table.colnames:
        raise invalid(f"deredden_table(ebv_column={ebv_column!r})", "is not a column of the table",
                      "simulate with foreground_ebv=... (column 'ebv_mw') or name the E(B-V) column")
    ebv = np.asarray(table[ebv_column], float)
    if np.any(~np.isfinite(ebv)) or np.any(ebv < 0):
        raise invalid(f"table[{ebv_column!r}]", "has negative or non-finite E(B-V)", "pass E(B-V) >= 0 [mag]")
    coeff = band_extinction_coefficients(bands, survey)
    out = table.copy(copy_data=True)
    for b, r in coeff.items():
        fac = 10.0 ** (0.4 * r * ebv)
        for suffix in ("_flux", "_flux_err"):
            if f"{b}{suffix}" not in out.colnames:
                raise invalid(f"deredden_table band {b!r}", f"has no column {b}{suffix}",
                              "pass band stems whose flux columns exist")
            out[f"{b}{suffix}"] = out[f"{b}{suffix}"] * fac
        if b in out.colnames:
            out[b][:] = np.asarray(out[b], float) - r * ebv
    return out

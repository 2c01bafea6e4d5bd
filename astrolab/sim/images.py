"""Multi-survey galaxy images with known ground truth, on top of :mod:`astrolab.sim.galaxies`.

Each galaxy of a :func:`astrolab.sim.galaxies.simulate_galaxies` catalog gets a
bulge + disk morphology (:func:`add_morphology`):

- **sizes** from size–mass–redshift relations (disk: R_e ∝ M^0.22 (1+z)^−0.75,
  bulge: R_e ∝ M^0.5 (1+z)^−1.2, both with 0.15 dex scatter) in kpc, turned into
  arcsec with the Planck18 angular-diameter distance (:mod:`astropy.cosmology`);
- **bulge-to-total** ratio at rest-frame 5500 Å (high for quiescent galaxies);
- **colour gradients**: the bulge has an old, dust-free stellar SED, the disk the
  galaxy's own; the per-band bulge share is computed from both SEDs through the
  real filter curves, so that the bulge is redder than the disk and the
  gradient changes with redshift as the 4000 Å break moves through the bands;
- **AGN**: the AGN share of each band's flux (power law + broad lines of the
  SED model) is rendered as a point source on top of the host.

:func:`render_images` draws one survey's stamps (:class:`~astrolab.data.ImageSet`,
nJy per pixel) with that survey's pixel scale, Gaussian PSF and 5σ depth
(:data:`astrolab.sim.filters.SURVEYS`: HSC 0.168″/px, Legacy Survey 0.262″/px,
PanSTARRS 0.25″/px, GALEX 1.5″/px, unWISE 2.75″/px). The same objects are drawn
in several surveys by :func:`simulate_multisurvey`, which returns a
:class:`~astrolab.data.MultimodalSet` (catalog + one ``images_<survey>`` per
survey) with a fraction of objects missing a survey (e.g. no GALEX for 10 %).

Rendering is exact for Gaussian PSFs and vectorised in numpy (float32): each Sérsic
profile (n = 1 disk, n = 4 bulge) is a fixed mixture of concentric Gaussians
(amplitudes fitted once by non-negative least squares), so the PSF convolution
is a sum of covariances. Pixel noise is Gaussian with the per-pixel σ that
gives the survey's 5σ point-source depth for PSF-fitting photometry. The pixel
noise is drawn independently of the catalog's photometric noise.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from astrolab.errors import invalid
from astrolab.sim import filters as _filters

__all__ = ["add_morphology", "render_images", "simulate_multisurvey", "angular_diameter_distance_kpc",
           "sersic_mog", "DEFAULT_STAMPS", "survey_band_columns"]

#: Default stamp size [pixels] per survey (small, for FAST-mode training).
DEFAULT_STAMPS = {"hsc": 24, "legacy": 23, "panstarrs": 24, "lsst": 24, "sdss": 16, "galex": 8, "wise": 8}

_ARCSEC_PER_RAD = 206264.806


@functools.lru_cache(maxsize=1)
def _da_table():
    from astropy.cosmology import Planck18

    zg = np.concatenate([[1e-4], np.geomspace(1e-3, 8.0, 600)])
    return zg, np.asarray(Planck18.angular_diameter_distance(zg).to_value("kpc"))


def angular_diameter_distance_kpc(z) -> np.ndarray:
    """Planck18 angular-diameter distance [kpc] (interpolated on a fine grid).

    Parameters
    ----------
    z : array_like
        Redshifts in [1e-4, 8].

    Returns
    -------
    numpy.ndarray
        D_A [kpc], same shape as ``z``.
    """
    zg, da = _da_table()
    return np.interp(np.clip(np.asarray(z, float), zg[0], zg[-1]), zg, da)


@functools.lru_cache(maxsize=8)
def sersic_mog(n: float, k: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Mixture-of-Gaussians approximation of a unit-flux circular Sérsic profile of R_e = 1.

    Parameters
    ----------
    n : float
        Sérsic index (1 = exponential disk, 4 = de Vaucouleurs bulge).
    k : int
        Number of Gaussians.

    Returns
    -------
    amplitudes : ndarray (k,)
        Flux fractions (sum to 1).
    sigmas : ndarray (k,)
        Gaussian standard deviations in units of R_e.
    """
    from scipy.optimize import nnls
    from scipy.special import gammaincinv

    b = gammaincinv(2 * n, 0.5)
    r = np.linspace(0.005, 8.0, 800)
    prof = np.exp(-b * (r ** (1.0 / n) - 1.0))
    prof /= np.sum(prof * 2 * np.pi * r) * (r[1] - r[0])  # unit flux inside 8 R_e
    sig = np.geomspace(0.01 if n > 2 else 0.08, 3.0 if n > 2 else 1.5, k)
    basis = np.exp(-0.5 * (r[:, None] / sig[None, :]) ** 2) / (2 * np.pi * sig[None, :] ** 2)
    w = np.sqrt(r)  # weight by the annulus area (flux), softened
    amp, _ = nnls(basis * w[:, None], prof * w)
    amp = amp / amp.sum()
    keep = amp > 1e-6
    return amp[keep], sig[keep]


def survey_band_columns(survey: str, catalog=None) -> list:
    """Catalog column stems of a survey's bands (``"hsc_g"`` ..., or plain ``"g"`` when the catalog has those).

    Parameters
    ----------
    survey : str
        Survey key.
    catalog : astropy.table.Table, optional
        When given, plain names are used if the prefixed ones are absent.

    Returns
    -------
    list of str
    """
    s = _filters.get_survey(survey)
    cols = [f"{s.name}_{b}" for b in s.bands]
    if catalog is not None and not all(f"{c}_true" in catalog.colnames for c in cols):
        plain = list(s.bands)
        if all(f"{c}_true" in catalog.colnames for c in plain) and catalog.meta.get("survey") == s.name:
            return plain
    return cols


def _pop(catalog) -> dict:
    need = ["redshift", "log_mstar", "age", "metallicity", "log_ssfr", "ebv", "agn_frac", "quiescent"]
    missing = [c for c in need if c not in catalog.colnames]
    if missing:
        raise invalid("add_morphology(catalog)", f"misses the simulator's truth columns {missing}",
                      "pass a table from astrolab.sim.galaxies.simulate_galaxies")
    return {c: np.asarray(catalog[c], dtype=float) for c in need}


def add_morphology(catalog, seed: int = 0):
    """Add bulge + disk structure and per-band bulge/AGN flux shares to a simulated catalog (in place).

    Parameters
    ----------
    catalog : astropy.table.Table
        From :func:`astrolab.sim.galaxies.simulate_galaxies` (truth columns needed).
    seed : int
        Random seed of the structural parameters.

    Returns
    -------
    astropy.table.Table
        The same table with ``bulge_to_total`` (at rest 5500 Å), ``r_disk_kpc``,
        ``r_bulge_kpc`` [kpc], ``r_disk_arcsec``, ``r_bulge_arcsec`` [arcsec]
        (half-light radii), ``axis_ratio_disk``, ``axis_ratio_bulge``,
        ``position_angle`` [deg], ``dx``, ``dy`` [arcsec] (centre offsets), and
        per band column stem ``<b>`` present in the table: ``<b>_bulge_share``
        and ``<b>_agn_share`` (fractions of the noise-free band flux).
    """
    from astropy import units as u

    from astrolab.sim.galaxies import resolve_bands
    from astrolab.sim.sed import age_of_universe_gyr, band_fluxes, luminosity_5500, sed_shape

    p = _pop(catalog)
    n = len(catalog)
    rng = np.random.default_rng(seed + 7919)
    z, logm, q = p["redshift"], p["log_mstar"], p["quiescent"] > 0
    bt = np.where(q, rng.uniform(0.5, 0.9, n), rng.beta(1.5, 5.0, n))
    r_disk = 10 ** (0.22 * (logm - 10.7) + 0.70 - 0.75 * np.log10(1 + z) + rng.normal(0, 0.15, n))
    r_bulge = 10 ** (0.50 * (logm - 10.7) + 0.25 - 1.20 * np.log10(1 + z) + rng.normal(0, 0.15, n))
    r_bulge = np.minimum(r_bulge, 0.8 * r_disk)
    da = angular_diameter_distance_kpc(z)
    catalog["bulge_to_total"] = bt
    catalog["r_disk_kpc"] = r_disk * u.kpc
    catalog["r_bulge_kpc"] = r_bulge * u.kpc
    catalog["r_disk_arcsec"] = r_disk / da * _ARCSEC_PER_RAD * u.arcsec
    catalog["r_bulge_arcsec"] = r_bulge / da * _ARCSEC_PER_RAD * u.arcsec
    catalog["axis_ratio_disk"] = rng.uniform(0.2, 1.0, n)
    catalog["axis_ratio_bulge"] = rng.uniform(0.6, 1.0, n)
    catalog["position_angle"] = rng.uniform(0, 180.0, n) * u.deg
    catalog["dx"] = rng.uniform(-0.5, 0.5, n) * 0.1 * u.arcsec
    catalog["dy"] = rng.uniform(-0.5, 0.5, n) * 0.1 * u.arcsec
    stems = [c[:-5] for c in catalog.colnames if c.endswith("_true") and f"{c[:-5]}_flux" in catalog.colnames]
    if not stems:
        return catalog
    survey = catalog.meta.get("survey", "hsc")
    band_list = resolve_bands(survey, stems)
    l55 = luminosity_5500(logm, p["age"])
    host = sed_shape(p["age"], p["metallicity"], p["log_ssfr"], p["ebv"], 0.0)
    old_age = np.maximum(p["age"], 0.8 * age_of_universe_gyr(z))
    bulge = sed_shape(old_age, p["metallicity"] + 0.1, np.full(n, -12.0), np.zeros(n), 0.0)
    # the same Milky-Way foreground as the catalog photometry (shares are ratios of like-for-like fluxes)
    fg = np.asarray(catalog["ebv_mw"], float) if "ebv_mw" in catalog.colnames else None
    f_host = band_fluxes(host, z, l55, band_list, foreground_ebv=fg)
    f_bulge = band_fluxes(bulge, z, l55, band_list, foreground_ebv=fg)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = bt[:, None] * f_bulge / (bt[:, None] * f_bulge + (1 - bt[:, None]) * f_host)
    share = np.nan_to_num(share, nan=0.0)
    for j, stem in enumerate(stems):
        f_tot = 10 ** (-0.4 * (np.asarray(catalog[f"{stem}_true"], float) - 31.4))
        with np.errstate(divide="ignore", invalid="ignore"):
            agn = np.where(f_tot > 0, np.clip(1.0 - f_host[:, j] / f_tot, 0.0, 1.0), 0.0)
        agn = np.where(p["agn_frac"] > 0, agn, 0.0)
        catalog[f"{stem}_bulge_share"] = share[:, j]
        catalog[f"{stem}_agn_share"] = agn
    return catalog


def _grids(centre, npix, scale):
    """Pixel-centre offsets from each object's centre: x², xy, y² of shape (N, 1, H, W) [arcsec²], float32."""
    c = ((np.arange(npix, dtype=np.float32) - (npix - 1) / 2.0) * scale).astype(np.float32)
    x = c[None, None, None, :] - centre[:, 0, None, None, None]
    y = c[None, None, :, None] - centre[:, 1, None, None, None]
    x, y = np.broadcast_arrays(x, y)
    return x * x, x * y, y * y


def _add_gaussian(img, cov, weight, grids, scale):
    """Add unit-flux 2-D Gaussians times ``weight`` to ``img`` (N,1,H,W): cov (N,2,2) [arcsec²] -> 1/pixel."""
    x2, xy, y2 = grids
    a, b, d = cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 1]
    det = np.clip(a * d - b * b, 1e-12, None)
    sh = (-1, 1, 1, 1)
    q = (-0.5 * d / det).astype(np.float32).reshape(sh) * x2
    q += (b / det).astype(np.float32).reshape(sh) * xy
    q += (-0.5 * a / det).astype(np.float32).reshape(sh) * y2
    np.exp(q, out=q)
    q *= (weight / (2 * math.pi * np.sqrt(det)) * scale * scale).astype(np.float32).reshape(sh)
    img += q
    return img


def render_images(catalog, survey: str = "hsc", stamp: int | None = None, seed: int = 0,
                  missing_fraction: float = 0.0, pixel_scale: float | None = None, psf_fwhm=None, depth=None,
                  noise: bool = True, psf_per_band: bool = False, chunk: int = 512):
    """Render one survey's noisy cutouts of every catalog object.

    Parameters
    ----------
    catalog : astropy.table.Table
        Simulated catalog with the survey's band columns (``<b>_true`` [mag],
        stems from :func:`survey_band_columns`) and the morphology of
        :func:`add_morphology` (added here when missing).
    survey : str
        Survey key of :data:`astrolab.sim.filters.SURVEYS`.
    stamp : int, optional
        Stamp side [pixels] (default :data:`DEFAULT_STAMPS`).
    seed : int
        Seed of the pixel noise and of the missing objects.
    missing_fraction : float
        Share of objects without data in this survey: their pixels are 0 and
        masked, their ivar 0.
    pixel_scale : float, optional
        Override [arcsec/pixel] (default: the survey's).
    psf_fwhm : float or sequence (B,), optional
        Override of the Gaussian PSF FWHM [arcsec] per band.
    depth : float or sequence (B,), optional
        Override of the 5σ point-source depth [AB mag] per band.
    noise : bool
        Add Gaussian pixel noise (False: noise-free model images).
    psf_per_band : bool
        True: each band has its own PSF FWHM (slower, B times more Gaussians);
        False (default): every band uses the median FWHM of the survey's bands.
    chunk : int
        Objects rendered at once.

    Returns
    -------
    astrolab.data.ImageSet
        Images (N, B, stamp, stamp) float32 in nJy per pixel, ``ivar``
        [1/nJy²], ``mask`` (missing objects), band names of the survey,
        ``ids`` from ``object_id``, ``pixel_scale`` and ``psf_fwhm`` [arcsec].
    """
    from astrolab.data import ImageSet

    s = _filters.get_survey(survey)
    stems = survey_band_columns(s.name, catalog)
    missing = [f"{c}_true" for c in stems if f"{c}_true" not in catalog.colnames]
    if missing:
        raise invalid(f"render_images(catalog, survey={survey!r})", f"has no column(s) {missing}",
                      f"simulate the catalog with bands={[f'{s.name}_{b}' for b in s.bands]}")
    if "r_disk_arcsec" not in catalog.colnames or f"{stems[0]}_bulge_share" not in catalog.colnames:
        add_morphology(catalog, seed=seed)
    if not 0.0 <= float(missing_fraction) < 1.0:
        raise invalid("render_images(missing_fraction=...)", f"got {missing_fraction}", "pass a value in [0, 1)")
    npix = int(stamp or DEFAULT_STAMPS.get(s.name, 24))
    scale = float(pixel_scale or s.pixel_scale)
    nb = len(stems)
    fwhm = np.broadcast_to(np.asarray(psf_fwhm if psf_fwhm is not None else s.psf_fwhm, float), (nb,))
    if not psf_per_band:
        fwhm = np.full(nb, float(np.median(fwhm)))
    dep = np.broadcast_to(np.asarray(depth if depth is not None else s.depth, float), (nb,))
    n = len(catalog)
    f_true = np.stack([10 ** (-0.4 * (np.asarray(catalog[f"{c}_true"], float) - 31.4)) for c in stems], axis=1)
    f_true = np.where(np.isfinite(f_true), f_true, 0.0)
    bshare = np.stack([np.asarray(catalog[f"{c}_bulge_share"], float) for c in stems], axis=1)
    ashare = np.stack([np.asarray(catalog[f"{c}_agn_share"], float) for c in stems], axis=1)
    f_agn = f_true * ashare
    f_bulge = (f_true - f_agn) * bshare
    f_disk = f_true - f_agn - f_bulge
    psf_var = (fwhm / 2.3548) ** 2 + scale ** 2 / 12.0  # + pixel response
    sig_pix = _filters.flux_err_from_depth(dep) / (math.sqrt(4 * math.pi) * np.sqrt(psf_var) / scale)
    comps = []
    pa = np.deg2rad(np.asarray(catalog["position_angle"], float))
    for kind, rcol, qcol, n_s in (("disk", "r_disk_arcsec", "axis_ratio_disk", 1.0),
                                  ("bulge", "r_bulge_arcsec", "axis_ratio_bulge", 4.0)):
        comps.append((sersic_mog(n_s), np.asarray(catalog[rcol], float), np.asarray(catalog[qcol], float),
                      f_disk if kind == "disk" else f_bulge))
    centre_all = np.stack([np.asarray(catalog["dx"], float), np.asarray(catalog["dy"], float)], axis=1)
    out = np.empty((n, nb, npix, npix), dtype=np.float32)
    groups = {}
    for j, v in enumerate(np.round(psf_var, 8)):
        groups.setdefault(float(v), []).append(j)
    eye = np.eye(2)
    for st in range(0, n, chunk):
        sl = slice(st, min(n, st + chunk))
        m = sl.stop - sl.start
        cth, sth = np.cos(pa[sl]), np.sin(pa[sl])
        rot = np.stack([np.stack([cth, -sth], -1), np.stack([sth, cth], -1)], -2)  # (m,2,2)
        centre = centre_all[sl].astype(np.float32)
        grids = _grids(centre, npix, scale)
        img = np.zeros((m, nb, npix, npix), dtype=np.float32)
        for pvar, idx in groups.items():
            # unit-flux profiles (m, 1, H, W) of disk, bulge and point source under this PSF
            profiles = []
            for (amp, sig), r_e, qa, flux in comps:
                diag = np.zeros((m, 2, 2))
                diag[:, 0, 0] = 1.0
                diag[:, 1, 1] = qa[sl] ** 2
                shape = rot @ diag @ rot.transpose(0, 2, 1)  # (m,2,2), unit R_e
                re2 = r_e[sl] ** 2
                prof = np.zeros((m, 1, npix, npix), dtype=np.float32)
                for a_k, s_k in zip(amp, sig):
                    cov = (float(s_k) ** 2 * re2)[:, None, None] * shape + pvar * eye
                    _add_gaussian(prof, cov, np.full(m, float(a_k)), grids, scale)
                profiles.append((prof, flux))
            prof = np.zeros((m, 1, npix, npix), dtype=np.float32)
            _add_gaussian(prof, np.broadcast_to(pvar * eye, (m, 2, 2)), np.ones(m), grids, scale)
            profiles.append((prof, f_agn))
            for prof, flux in profiles:
                img[:, idx] += flux[sl][:, idx].astype(np.float32)[..., None, None] * prof
        out[sl] = img
    rng = np.random.default_rng(seed * 1009 + sum(map(ord, s.name)))
    if noise:
        out += (rng.standard_normal(out.shape, dtype=np.float32) * sig_pix[None, :, None, None].astype(np.float32))
    ivar = np.broadcast_to((1.0 / sig_pix ** 2).astype(np.float32)[None, :, None, None], out.shape).copy()
    mask = np.zeros(out.shape, dtype=bool)
    if missing_fraction > 0:
        gone = rng.uniform(size=n) < missing_fraction
        out[gone] = 0.0
        ivar[gone] = 0.0
        mask[gone] = True
    ids = np.asarray(catalog["object_id"]) if "object_id" in catalog.colnames else None
    return ImageSet(out, bands=list(s.bands), pixel_scale=scale, psf_fwhm=np.asarray(fwhm, float), ivar=ivar,
                    mask=mask, ids=ids, survey=s.name)


def simulate_multisurvey(n: int, surveys=("hsc",), seed: int = 0, stamps: dict | None = None,
                         missing: dict | None = None, agn_fraction: float = 0.0, z_max: float = 3.0,
                         redshift_distribution: str = "galaxiesml", selection_band: str | None = None,
                         selection_limit: float | None = None, noise: bool = True, foreground_ebv=None):
    """Simulate galaxies and render the same objects in several surveys.

    Parameters
    ----------
    n : int
        Number of objects (after the flux limit).
    surveys : sequence of str
        Survey keys, e.g. ``("panstarrs", "galex", "wise")`` (Mantis Shrimp) or
        ``("legacy", "wise")`` (PICZL). Catalog photometry is simulated in every
        band of every survey, with columns ``<survey>_<band>...``.
    seed : int
        Random seed (catalog, morphology, noise, missing objects).
    stamps : dict, optional
        Stamp size [pixels] per survey (default :data:`DEFAULT_STAMPS`).
    missing : dict, optional
        Share of objects without data per survey, e.g. ``{"galex": 0.1}``: their
        images are masked and their catalog magnitudes in that survey are NaN
        (``has_<survey>`` column False).
    agn_fraction : float
        Share of objects hosting an AGN (rendered as a point source).
    z_max, redshift_distribution : see :func:`astrolab.sim.galaxies.simulate_galaxies`.
    selection_band, selection_limit : optional
        Flux limit (column stem such as ``"hsc_i"``, and its noise-free magnitude
        limit); default: the first survey's i band (or middle band).
    noise : bool
        Add pixel noise.
    foreground_ebv : None, "high_latitude", float or callable, optional
        Milky-Way foreground E(B−V) per line of sight (truth column ``ebv_mw``
        [mag]); catalog fluxes and images are reddened in the observed frame
        (see :func:`astrolab.sim.galaxies.simulate_galaxies`). Default: none.

    Returns
    -------
    astrolab.data.MultimodalSet
        ``catalog`` (every truth, photometry, morphology) and one
        ``images_<survey>`` ImageSet per survey; ``images`` is the first survey's.
    """
    from astrolab.data import MultimodalSet
    from astrolab.sim.galaxies import simulate_galaxies

    surveys = [_filters.get_survey(sv).name for sv in ([surveys] if isinstance(surveys, str) else surveys)]
    if not surveys:
        raise invalid("simulate_multisurvey(surveys=...)", "is empty", "pass e.g. ('hsc',)")
    bands = [f"{sv}_{b}" for sv in surveys for b in _filters.get_survey(sv).bands]
    if selection_band is None:
        first = _filters.get_survey(surveys[0])
        selection_band = f"{first.name}_{'i' if 'i' in first.bands else first.bands[len(first.bands) // 2]}"
    catalog = simulate_galaxies(n, survey=surveys[0], bands=bands, seed=seed, z_max=z_max, agn_fraction=agn_fraction,
                                redshift_distribution=redshift_distribution, selection_band=selection_band,
                                selection_limit=selection_limit, foreground_ebv=foreground_ebv)
    add_morphology(catalog, seed=seed)
    stamps = dict(stamps or {})
    missing = dict(missing or {})
    unknown = [k for k in list(stamps) + list(missing) if k not in surveys]
    if unknown:
        raise invalid("simulate_multisurvey(stamps/missing=...)", f"unknown survey key(s) {unknown}",
                      f"use keys among {surveys}")
    mods = {}
    for sv in surveys:
        ims = render_images(catalog, sv, stamp=stamps.get(sv), seed=seed, missing_fraction=missing.get(sv, 0.0),
                            noise=noise)
        has = ~ims.mask.reshape(len(ims), -1).all(axis=1)
        catalog[f"has_{sv}"] = has
        if not has.all():
            for b in _filters.get_survey(sv).bands:
                for suffix in ("", "_err"):
                    col = catalog[f"{sv}_{b}{suffix}"]
                    col[~has] = np.nan
        mods[f"images_{sv}"] = ims
    catalog.meta["surveys"] = surveys
    return MultimodalSet(catalog, images=mods[f"images_{surveys[0]}"],
                         **{k: v for k, v in mods.items()})

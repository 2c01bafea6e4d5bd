"""Galaxies drawn from an explicit structural causal model (SCM) for interpretable stellar-mass estimation.

The simulator behind notebook ``10_stellar_mass`` (Zhang, Lin, Ting et al. 2025, papers.md §1). Every
catalog quantity is produced by one structural equation whose parents are listed in
:data:`CAUSAL_EDGES`; the DAG travels with the data (``catalog.meta["causal_dag"]``, or
:func:`causal_graph` as a networkx DiGraph), so causal-discovery output can be scored against it.

Exogenous variables (independent of each other)

- ``redshift`` z ~ U(z_min, z_max);
- ``log_mstar`` log M* [dex(Msun)] ~ N(10.3, 0.6) truncated to [8.5, 12];
- ``log_age`` [dex(Gyr)] = 0.6 + 0.25 t with t ~ N(0, 1): a stellar-age (star-formation state) index,
  *independent of M** here, hidden from every network;
- ``cos_incl``: cosine of the disk inclination, U(0.15, 1), independent of M*.

Structural equations (M' = log M* − 10.3; t as above; ε independent Gaussian noise)

- size: log10 R_e/kpc = 0.55 + 0.25 M' − 0.10 t + ε(0.03); angular R_e = R_e / D_A(z) (Planck18);
- Sérsic index: n = clip(2.3 + 0.2 M' + 0.9 t + ε(0.2), 0.6, 6) (morphology measures the age index);
- mass-to-light ratio: log10 Υ_r = 0.25 + 0.30 t + ε(0.03); luminosity log10 L_r = log M* − log10 Υ_r;
- colours (band b relative to r): c_b = c0_b + α_b t + β_b M' + κ_b z (k-correction) + (δ_b − 1) A_r;
- inclination: attenuation A_r = 1.0 (1 − cos i) [mag] (inclined disks are fainter *and* redder,
  δ_b = A_b/A_r; linear in cos i), projected axis ratio q = sqrt(cos² i (1 − 0.2²) + 0.2²);
- apparent magnitudes: m_b = 4.65 − 2.5 log10 L_r + DM(z) + A_r + c_b, observed as SDSS-like asinh
  magnitudes with the noise of a 5σ depth per band;
- measured morphology: n × exp ε(0.08), log10 R_e/arcsec + ε(0.02), q + ε(0.05);
- IR: absolute W1 magnitude M_W1 = −21.3 − 2.5 (M' + ε(σ_IR)): a noisy function of M* alone, so it is
  *redundant* with what the optical data say about M*.

Information structure built in. Photometry alone leaves M* degenerate with distance, age and dust; the
angular size scales as 10^(0.25 M') / D_A(z) with little scatter and the axis ratio measures the
inclination, so photometry and morphology *together* pin M* down much better than either alone
(synergy: M/L follows the age index, which colours barely show (small α_b) but the Sérsic index
measures; a quadratic regression gives σ_MAD ≈ 0.14 dex from ugriz, 0.42 from morphology, 0.08 from both). The IR magnitude carries M* again with independent noise -- *redundant* with the optical images.

Causal-discovery variables (:data:`PC_VARIABLES`). Redshift enters as log10 z (``log_redshift``:
distance modulus and log angular size are nearly linear in it, which the Fisher-z test of the PC
algorithm needs), and the colour node is g − i (``colour_gi``), whose noise is independent of the
r-band magnitude (g − r would share the r noise with ``mag_r`` and plant a spurious edge). All
structural relations between these nodes are close to linear, with independent noises; PC with
Fisher-z tests recovers the skeleton (F1 ≈ 0.97 at N = 20 000, α = 0.01).

:func:`simulate_stellar_mass` returns a :class:`~astrolab.data.MultimodalSet`: the catalog (astropy
Table with units: truths, ugriz photometry, measured morphology, IR, ``galaxy_class``) and ugriz
cutouts (``images``, an :class:`~astrolab.data.ImageSet` in nanomaggies per pixel) rendered with
Gaussian-mixture Sérsic profiles (:func:`astrolab.sim.images.sersic_mog`, blended between index grid
points), a Gaussian PSF and pixel noise. No flux limit is applied (a selection on magnitudes would make
its parents dependent and break the planted DAG).
"""

from __future__ import annotations

import math

import numpy as np

from astrolab.errors import invalid

__all__ = ["BANDS", "CAUSAL_EDGES", "PC_VARIABLES", "GALAXY_CLASSES", "simulate_stellar_mass", "causal_graph",
           "render_sersic_images", "tabular_matrix"]

#: SDSS-like bands of the photometry and the images.
BANDS = ("u", "g", "r", "i", "z")

#: Galaxy classes (from the true stellar age), as in the paper's star-forming / passive / other split.
GALAXY_CLASSES = ("star-forming", "intermediate", "passive")

#: Planted causal DAG over the catalog's tabular variables (parent, child).
CAUSAL_EDGES = (
    ("log_redshift", "mag_r"), ("log_redshift", "colour_gi"), ("log_redshift", "log_size"),
    ("log_mstar", "mag_r"), ("log_mstar", "colour_gi"), ("log_mstar", "log_size"), ("log_mstar", "sersic_n"),
    ("log_mstar", "w1_abs"),
    ("log_age", "mag_r"), ("log_age", "colour_gi"), ("log_age", "log_size"), ("log_age", "sersic_n"),
    ("cos_incl", "mag_r"), ("cos_incl", "colour_gi"), ("cos_incl", "axis_ratio"),
)

#: Catalog columns the PC cross-check uses (nodes of :data:`CAUSAL_EDGES`).
PC_VARIABLES = ("log_redshift", "log_mstar", "log_age", "cos_incl", "mag_r", "colour_gi", "log_size", "sersic_n",
                "axis_ratio", "w1_abs")

# band b relative to r: offset c0, age slope alpha, mass slope beta, k-correction kappa [mag per unit z],
# attenuation ratio delta = A_b / A_r
_COLOUR_MODEL = {
    "u": (1.90, 0.10, 0.25, 2.5, 1.90),
    "g": (0.60, 0.06, 0.20, 2.0, 1.35),
    "r": (0.00, 0.00, 0.00, 0.0, 1.00),
    "i": (-0.35, -0.02, -0.04, 0.25, 0.75),
    "z": (-0.60, -0.04, -0.07, 0.55, 0.55),
}
#: 5σ point-source depths [AB mag] of the photometry and images (SDSS-like).
DEPTHS = {"u": 22.0, "g": 23.2, "r": 22.7, "i": 22.2, "z": 20.7}
_N_GRID = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0)
_ARCSEC_PER_RAD = 206264.806
_Q0 = 0.2  # intrinsic disk thickness


def _distance_modulus(z):
    from astrolab.sim.images import angular_diameter_distance_kpc

    d_l_pc = angular_diameter_distance_kpc(z) * (1 + np.asarray(z, float)) ** 2 * 1e3
    return 5.0 * np.log10(d_l_pc / 10.0)


def _asinh_mag(flux, sigma):
    """SDSS asinh magnitude of ``flux`` [nanomaggies] with softening b = 1.042 σ (→ 22.5 − 2.5 log10 f)."""
    b = 1.042 * sigma
    return 22.5 - 2.5 / math.log(10) * (np.arcsinh(flux / (2 * b)) + np.log(b))


def simulate_stellar_mass(n: int, seed: int = 0, stamp: int = 16, pixel_scale: float = 0.8,
                          psf_fwhm: float = 1.4, z_range=(0.05, 0.25), ir_scatter: float = 0.15,
                          images: bool = True, noise: bool = True):
    """Simulate galaxies from the stellar-mass SCM, with ugriz photometry, morphology, IR and cutouts.

    Parameters
    ----------
    n : int
        Number of galaxies N (no selection is applied afterwards).
    seed : int
        Random seed (all draws, pixel noise included).
    stamp : int
        Cutout side [pixels].
    pixel_scale : float
        [arcsec/pixel].
    psf_fwhm : float
        Gaussian PSF FWHM [arcsec], the same in every band.
    z_range : (float, float)
        Redshift interval of the uniform redshift distribution.
    ir_scatter : float
        Scatter [dex] of the IR tracer around M* (noise of ``w1_abs`` is 2.5 × this, in mag).
    images : bool
        Render the cutouts (False: catalog only, ``images`` is None).
    noise : bool
        Add pixel noise to the cutouts (the catalog is always noisy).

    Returns
    -------
    astrolab.data.MultimodalSet
        ``catalog``: astropy Table, N rows -- truths ``redshift``, ``log_mstar`` [dex(Msun)],
        ``log_age`` [dex(Gyr)], ``cos_incl``, ``r_e_kpc`` [kpc], ``r_e_arcsec`` [arcsec], ``sersic_true``,
        ``axis_ratio_true``, ``log_ml_r`` [dex(Msun/Lsun)], ``attenuation_r`` [mag], ``<b>_true`` [mag]
        (noise-free, attenuated); observed ``<b>`` and ``<b>_err`` [mag] (asinh), ``mag_r`` and
        ``colour_gr``, ``colour_gi`` [mag], ``log_redshift``, ``sersic_n``, ``log_size`` [log10 arcsec], ``axis_ratio`` (profile-fit
        values with measurement noise), ``w1_abs`` [mag]; ``galaxy_class`` (one of
        :data:`GALAXY_CLASSES`). ``catalog.meta``: ``causal_dag`` (list of [parent, child] over
        :data:`PC_VARIABLES`), ``bands``, ``simulator``. ``images``: ImageSet (N, 5, stamp, stamp) in
        nanomaggies per pixel, or None.

    Raises
    ------
    astrolab.errors.DataValidationError
        On a non-positive ``n``/``stamp``/``pixel_scale``/``psf_fwhm``, a bad ``z_range`` or
        ``ir_scatter``.
    """
    from astropy import units as u
    from astropy.table import Table

    from astrolab.data import MultimodalSet
    from astrolab.sim.images import angular_diameter_distance_kpc

    if int(n) < 2:
        raise invalid("simulate_stellar_mass(n=...)", f"got {n}", "pass at least 2 galaxies")
    if int(stamp) < 4 or not (pixel_scale > 0) or not (psf_fwhm > 0):
        raise invalid("simulate_stellar_mass(stamp/pixel_scale/psf_fwhm)",
                      f"got stamp={stamp}, pixel_scale={pixel_scale}, psf_fwhm={psf_fwhm}",
                      "pass stamp >= 4 pixels and positive pixel_scale and psf_fwhm [arcsec]")
    z_lo, z_hi = (float(v) for v in z_range)
    if not 0 < z_lo < z_hi <= 3:
        raise invalid("simulate_stellar_mass(z_range=...)", f"got {z_range}", "pass (z_min, z_max) with 0 < z_min < z_max <= 3")
    if not 0 < float(ir_scatter) < 2:
        raise invalid("simulate_stellar_mass(ir_scatter=...)", f"got {ir_scatter}", "pass a scatter in dex in (0, 2)")
    n = int(n)
    rng = np.random.default_rng(seed)
    # exogenous variables
    z = rng.uniform(z_lo, z_hi, n)
    logm = rng.normal(10.3, 0.6, n)
    bad = (logm < 8.5) | (logm > 12.0)
    while bad.any():
        logm[bad] = rng.normal(10.3, 0.6, int(bad.sum()))
        bad = (logm < 8.5) | (logm > 12.0)
    t = rng.normal(0.0, 1.0, n)
    cos_i = rng.uniform(0.15, 1.0, n)
    mp = logm - 10.3
    # structural equations
    log_r_kpc = 0.55 + 0.25 * mp - 0.10 * t + rng.normal(0, 0.03, n)
    sersic = np.clip(2.3 + 0.2 * mp + 0.9 * t + rng.normal(0, 0.2, n), 0.6, 6.0)
    log_ml = 0.25 + 0.30 * t + rng.normal(0, 0.03, n)
    log_l = logm - log_ml
    a_r = 1.0 * (1.0 - cos_i)
    q_true = np.sqrt(cos_i ** 2 * (1 - _Q0 ** 2) + _Q0 ** 2)
    r_arcsec = 10 ** log_r_kpc / angular_diameter_distance_kpc(z) * _ARCSEC_PER_RAD
    m_r = 4.65 - 2.5 * log_l + _distance_modulus(z) + a_r
    true_mag, obs_mag, obs_err = {}, {}, {}
    for b in BANDS:
        c0, al, be, ka, de = _COLOUR_MODEL[b]
        true_mag[b] = m_r + c0 + al * t + be * mp + ka * z + (de - 1.0) * a_r
        f = 10 ** (-0.4 * (true_mag[b] - 22.5))
        sig = 10 ** (-0.4 * (DEPTHS[b] - 22.5)) / 5.0 * np.sqrt(1.0 + (r_arcsec / psf_fwhm) ** 2)
        sig = np.sqrt(sig ** 2 + (0.01 * f) ** 2)  # 1 % calibration floor
        f_obs = f + rng.normal(0, 1, n) * sig
        obs_mag[b] = _asinh_mag(f_obs, sig)
        obs_err[b] = 1.0857 * sig / np.sqrt(f_obs ** 2 + (2 * 1.042 * sig) ** 2)
    w1_abs = -21.3 - 2.5 * (mp + rng.normal(0, float(ir_scatter), n))
    # measured morphology (profile fit with noise)
    sersic_obs = sersic * np.exp(rng.normal(0, 0.08, n))
    log_size = np.log10(r_arcsec) + rng.normal(0, 0.02, n)
    axis_ratio = np.clip(q_true + rng.normal(0, 0.05, n), 0.05, 1.0)
    log_age = 0.6 + 0.25 * t
    cls = np.where(t < -0.6, 0, np.where(t > 0.6, 2, 1))

    cat = Table()
    cat["object_id"] = np.arange(n, dtype=np.int64)
    cat["redshift"] = z
    cat["log_redshift"] = np.log10(z)
    cat["log_mstar"] = logm
    cat["log_mstar"].unit = "dex(Msun)"
    cat["log_age"] = log_age
    cat["log_age"].unit = "dex(Gyr)"
    cat["cos_incl"] = cos_i
    cat["r_e_kpc"] = 10 ** log_r_kpc * u.kpc
    cat["r_e_arcsec"] = r_arcsec * u.arcsec
    cat["sersic_true"] = sersic
    cat["axis_ratio_true"] = q_true
    cat["log_ml_r"] = log_ml
    cat["log_ml_r"].unit = "dex(Msun/Lsun)"
    cat["attenuation_r"] = a_r * u.mag
    for b in BANDS:
        cat[f"{b}_true"] = true_mag[b] * u.mag
    for b in BANDS:
        cat[b] = obs_mag[b] * u.mag
        cat[f"{b}_err"] = obs_err[b] * u.mag
    cat["mag_r"] = obs_mag["r"] * u.mag
    cat["colour_gr"] = (obs_mag["g"] - obs_mag["r"]) * u.mag
    cat["colour_gi"] = (obs_mag["g"] - obs_mag["i"]) * u.mag
    cat["sersic_n"] = sersic_obs
    cat["log_size"] = log_size
    cat["log_size"].unit = "dex(arcsec)"
    cat["axis_ratio"] = axis_ratio
    cat["w1_abs"] = w1_abs * u.mag
    cat["galaxy_class"] = np.asarray(GALAXY_CLASSES)[cls]
    cat.meta["causal_dag"] = [list(e) for e in CAUSAL_EDGES]
    cat.meta["bands"] = list(BANDS)
    cat.meta["simulator"] = "astrolab.sim.stellar_mass"
    cat.meta["seed"] = int(seed)
    ims = None
    if images:
        rng_pix = np.random.default_rng(seed * 7919 + 17)
        pa = rng_pix.uniform(0, np.pi, n)
        centre = rng_pix.uniform(-0.3, 0.3, (n, 2)) * pixel_scale
        flux = np.stack([10 ** (-0.4 * (true_mag[b] - 22.5)) for b in BANDS], axis=1)
        ims = render_sersic_images(flux, r_arcsec, sersic, q_true, pa, stamp=stamp, pixel_scale=pixel_scale,
                                   psf_fwhm=psf_fwhm, centre=centre, noise=noise, seed=seed,
                                   ids=cat["object_id"])
    return MultimodalSet(cat, images=ims)


def render_sersic_images(flux, r_e, sersic_n, axis_ratio, position_angle, *, stamp: int = 16,
                         pixel_scale: float = 0.6, psf_fwhm: float = 1.4, centre=None, depths=None,
                         noise: bool = True, seed: int = 0, ids=None, bands=BANDS, chunk: int = 1024):
    """Render single-Sérsic galaxies (any index) convolved with a Gaussian PSF, plus pixel noise.

    Each profile is a mixture of concentric elliptical Gaussians: the mixtures of
    :func:`astrolab.sim.images.sersic_mog` at the two index grid points bracketing n
    (0.5, 1, 1.5, 2, 3, 4, 5, 6), weighted linearly in n. Convolution with the Gaussian PSF adds its
    covariance (exact).

    Parameters
    ----------
    flux : array_like (N, B)
        Total noise-free flux per band [nanomaggies].
    r_e : array_like (N,)
        Half-light radius along the major axis [arcsec].
    sersic_n : array_like (N,)
        Sérsic index, in [0.5, 6].
    axis_ratio : array_like (N,)
        Minor/major axis ratio in (0, 1].
    position_angle : array_like (N,)
        [rad].
    stamp : int
        Side [pixels].
    pixel_scale, psf_fwhm : float
        [arcsec/pixel], [arcsec].
    centre : array_like (N, 2), optional
        Offsets of the centre from the stamp centre [arcsec].
    depths : sequence (B,), optional
        5σ point-source depths [AB mag] setting the pixel σ (default :data:`DEPTHS`).
    noise : bool
        Add Gaussian pixel noise.
    seed : int
        Seed of the pixel noise.
    ids : array_like (N,), optional
        Object ids of the ImageSet.
    bands : sequence of str (B,)
        Band names.
    chunk : int
        Galaxies rendered at once (memory).

    Returns
    -------
    astrolab.data.ImageSet
        (N, B, stamp, stamp) float32 in nanomaggies per pixel, with ``ivar`` [1/nanomaggies²].
    """
    from astrolab.data import ImageSet
    from astrolab.sim.images import _add_gaussian, _grids, sersic_mog

    f = np.asarray(flux, float)
    if f.ndim != 2 or f.shape[1] != len(bands):
        raise invalid("render_sersic_images(flux)", f"has shape {f.shape}", f"pass (N, {len(bands)}) fluxes, one per band")
    nobj = len(f)
    r_e, ns, q, pa = (np.broadcast_to(np.asarray(a, float), (nobj,)) for a in (r_e, sersic_n, axis_ratio, position_angle))
    if not (np.all(np.isfinite(f)) and np.all(r_e > 0) and np.all((q > 0) & (q <= 1))):
        raise invalid("render_sersic_images", "non-finite fluxes, non-positive radii or axis ratios outside (0, 1]",
                      "pass finite fluxes, r_e > 0 arcsec and 0 < axis_ratio <= 1")
    ns = np.clip(ns, _N_GRID[0], _N_GRID[-1])
    cen = np.zeros((nobj, 2)) if centre is None else np.asarray(centre, float)
    grid = np.asarray(_N_GRID)
    lo = np.clip(np.searchsorted(grid, ns, side="right") - 1, 0, len(grid) - 2)
    w_hi = (ns - grid[lo]) / (grid[lo + 1] - grid[lo])
    psf_var = (psf_fwhm / 2.3548) ** 2 + pixel_scale ** 2 / 12.0
    eye = np.eye(2)
    profile = np.zeros((nobj, 1, stamp, stamp), dtype=np.float32)
    for st in range(0, nobj, chunk):
        sl = np.arange(st, min(nobj, st + chunk))
        for g in np.unique(lo[sl]):
            idx = sl[lo[sl] == g]
            m = len(idx)
            c, s = np.cos(pa[idx]), np.sin(pa[idx])
            rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
            diag = np.zeros((m, 2, 2))
            diag[:, 0, 0] = 1.0
            diag[:, 1, 1] = q[idx] ** 2
            shape = rot @ diag @ rot.transpose(0, 2, 1)
            grids = _grids(cen[idx].astype(np.float32), stamp, pixel_scale)
            img = np.zeros((m, 1, stamp, stamp), dtype=np.float32)
            for gg, wt in ((g, 1.0 - w_hi[idx]), (g + 1, w_hi[idx])):
                amp, sig = sersic_mog(float(grid[gg]))
                for a_k, s_k in zip(amp, sig):
                    cov = (float(s_k) ** 2 * r_e[idx] ** 2)[:, None, None] * shape + psf_var * eye
                    _add_gaussian(img, cov, a_k * wt, grids, pixel_scale)
            profile[idx] = img
    out = profile * f.astype(np.float32)[:, :, None, None]
    dep = np.asarray([DEPTHS[b] for b in bands] if depths is None else depths, float)
    sig_pix = 10 ** (-0.4 * (dep - 22.5)) / 5.0 / (math.sqrt(4 * math.pi * psf_var) / pixel_scale)
    if noise:
        rng = np.random.default_rng(seed * 1009 + 3)
        out += rng.standard_normal(out.shape, dtype=np.float32) * sig_pix.astype(np.float32)[None, :, None, None]
    ivar = np.broadcast_to((1.0 / sig_pix ** 2).astype(np.float32)[None, :, None, None], out.shape).copy()
    return ImageSet(out, bands=list(bands), pixel_scale=pixel_scale, psf_fwhm=psf_fwhm, ivar=ivar,
                    ids=None if ids is None else np.asarray(ids), survey="sdss-like")


def causal_graph(edges=CAUSAL_EDGES):
    """The planted DAG as a networkx DiGraph.

    Parameters
    ----------
    edges : sequence of (str, str)
        (parent, child) pairs (default :data:`CAUSAL_EDGES`; or ``catalog.meta["causal_dag"]``).

    Returns
    -------
    networkx.DiGraph
        Nodes are catalog column names.
    """
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(PC_VARIABLES)
    g.add_edges_from(tuple(e) for e in edges)
    return g


def tabular_matrix(catalog, columns=PC_VARIABLES) -> np.ndarray:
    """Catalog columns as a float matrix (N, V) in the given order (units dropped).

    Parameters
    ----------
    catalog : astropy.table.Table
        From :func:`simulate_stellar_mass`.
    columns : sequence of str (V,)
        Column names (default :data:`PC_VARIABLES`).

    Returns
    -------
    ndarray (N, V) float64

    Raises
    ------
    astrolab.errors.DataValidationError
        A column is missing or holds non-finite values.
    """
    missing = [c for c in columns if c not in catalog.colnames]
    if missing:
        raise invalid("tabular_matrix(catalog)", f"misses column(s) {missing}",
                      "pass a catalog from astrolab.sim.stellar_mass.simulate_stellar_mass")
    x = np.stack([np.asarray(catalog[c], float) for c in columns], axis=1)
    if not np.all(np.isfinite(x)):
        raise invalid("tabular_matrix(catalog)", "holds non-finite values", "drop or fill the rows with NaN/inf")
    return x

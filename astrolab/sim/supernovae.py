"""CIGaRS-style hierarchical forward model of SNe Ia and their host galaxies (laptop scale).

Reproduces the generative model of Karchev, Trotta & Jimenez (CIGaRS I, papers.md §3) with a
parametric galaxy population in place of the Prospector-β bank and emulator:

1. **Host galaxies** (:func:`make_host_bank`, drawn once and kept fixed, like the paper's galaxy
   bank): redshift ∝ comoving volume up to ``z_max``; stellar mass; a delayed-τ star-formation
   history discretised into :data:`AGE_EDGES_GYR` lookback-age bins (the last edge is the age of the
   universe at the host's redshift); a saturating mass–metallicity relation with scatter; dust
   E(B−V) rising with specific star formation. LSST ugrizy magnitudes come from the project's SED
   model (:func:`astrolab.sim.sed.sed_shape` through :class:`astrolab.sim.sed.TemplateLibrary`, real
   speclite filters, interpolated on a template × redshift grid) at the mass-weighted age; they
   are stored as *absolute* band magnitudes M = m − μ_Planck18(z), so each simulated universe
   re-observes them as m = M + μ(z; Ω_m) + noise. Hosts fainter than the LSST coadd depths
   (:data:`HOST_DEPTHS`) in any band are dropped.
2. **SN Ia occurrence** from a power-law delay-time distribution (DTD): the expected number of SNe
   in host h and age bin k is 10^A (1+z_h)^−1 M_formed,hk ⟨(t/Gyr)^s⟩_k, where ⟨·⟩_k is the DTD
   averaged over the bin (exact for a constant star-formation rate inside the bin); only bins from
   the third youngest (t > 0.1 Gyr) on make SNe. N_SN ~ Poisson(Σ), host and bin are categorical,
   and the progenitor age is drawn from t^s inside the bin.
3. **Host connection**: δM = γ_Z·log(Z/Z☉) + γ_age·(t/Gyr) + Δ_step·𝟙[log M* > loc].
4. **SN population** (SALT-like): x ~ N(0, 1); c ~ N(α_c x, 0.1);
   M_int ~ N(M0 + δM + α x + β c, σ_res); host dust A_V ~ Exp(mean 0.1), R_V ~ N(3, 0.5)
   truncated at 1.2, E = A_V/R_V; M = M_int + (R_V + 1) E; c_ext = c + E.
5. **Observation**: m = M + μ(z; Ω_m) with μ from :class:`astropy.cosmology.FlatLambdaCDM`
   (H0 = 70 km/s/Mpc; tabulated on an Ω_m × z grid, error < 1e-3 mag); Var(m) ~
   LogNormal(0.2 (m − 56), 1.2), Var(x) ~ LogNormal(−3, 1), Var(c) ~ LogNormal(−7, 0.6)
   (reported variances; observed values scattered by them).
6. **Selection**: a SN is detected with probability Φ((m_lim − m_obs)/w) (default m_lim = 24 mag,
   w = 0.15 mag).

The inferred global parameters are :data:`PARAM_NAMES` with priors :data:`PRIORS` and the
paper's mock truths :data:`TRUTHS`; ``loc`` (10) and ``α_c`` (0) are fixed settings of the
simulator. :class:`CigarsSimulator` simulates one survey with every latent truth kept
(:meth:`CigarsSimulator.simulate`) or many surveys per call as padded set tensors for SBI
(:meth:`CigarsSimulator.simulate_sets`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from astrolab.errors import invalid

__all__ = [
    "PARAM_NAMES",
    "PARAM_LABELS",
    "PRIORS",
    "TRUTHS",
    "AGE_EDGES_GYR",
    "HOST_BANDS",
    "HOST_DEPTHS",
    "FEATURE_NAMES",
    "HostBank",
    "make_host_bank",
    "HostPhotoZ",
    "distance_modulus",
    "prior_sample",
    "prior_log_prob",
    "dtd_bin_average",
    "mass_metallicity",
    "CigarsSimulator",
]

#: Global parameters inferred by SBI, in the order of every θ array.
PARAM_NAMES = ("Om0", "A", "s", "gamma_Z", "gamma_age", "delta_step", "alpha", "beta", "M0", "sigma_res")
#: Plot labels (with units) of :data:`PARAM_NAMES`.
PARAM_LABELS = {"Om0": "Ω_m", "A": "A (log10 DTD amplitude)", "s": "s (DTD slope)", "gamma_Z": "γ_Z [mag/dex]",
                "gamma_age": "γ_age [mag/Gyr]", "delta_step": "Δ_step [mag]", "alpha": "α [mag]",
                "beta": "β [mag/mag]", "M0": "M0 [mag]", "sigma_res": "σ_res [mag]"}
#: Priors: ("normal", mean, sd) or ("uniform", low, high). Ω_m: flat ΛCDM (the paper fits Λ(Ω_m, Ω_Λ)).
PRIORS = {
    "Om0": ("uniform", 0.1, 0.6),
    "A": ("normal", -12.15, 0.1),
    "s": ("normal", -1.34, 0.2),
    "gamma_Z": ("uniform", -2.0, 2.0),
    "gamma_age": ("uniform", -0.1, 0.1),
    "delta_step": ("uniform", -0.2, 0.2),
    "alpha": ("uniform", -0.55, 0.25),
    "beta": ("uniform", 0.0, 4.0),
    "M0": ("uniform", -20.0, -19.0),
    "sigma_res": ("uniform", 0.01, 0.2),
}
#: Mock truths of the paper (code initial values, papers.md §3b).
TRUTHS = {"Om0": 0.3, "A": -12.15, "s": -1.34, "gamma_Z": -0.1, "gamma_age": -0.03, "delta_step": -0.05,
          "alpha": -0.14, "beta": 2.2, "M0": -19.5, "sigma_res": 0.1}

#: Lookback-age bin edges of the star-formation history [Gyr]; the last edge is replaced by the
#: age of the universe at the host redshift. Bins 0 and 1 (< 0.1 Gyr) make no SNe Ia.
AGE_EDGES_GYR = np.array([0.0, 0.03, 0.1, 0.3, 1.0, 2.5, 5.0, 14.0])
_FIRST_SN_BIN = 2
HOST_BANDS = ("u", "g", "r", "i", "z", "y")
#: LSST coadd 5σ depths [AB mag] used for host detection and host photometric noise (papers.md §3a).
HOST_DEPTHS = np.array([25.73, 26.86, 26.88, 26.34, 25.63, 25.87])
#: Per-object features of :meth:`CigarsSimulator.simulate_sets` (a last column, the mask, follows):
#: the observables (host ugrizy [mag], host photo-z, SN m_obs [mag], x_obs, c_obs, log10 of their
#: reported errors) and fixed functions of them that make the physics close to linear for a
#: mean-pooled embedding: d = m_obs − μ_ref(photo-z) + 19.5 (μ_ref: Ω_m = 0.3), the host absolute
#: magnitude M_i + 21 and colour g − i, and the second moments whose set means are the sufficient
#: statistics of a Tripp-like regression of d on x, c and the host properties.
FEATURE_NAMES = ("u", "g", "r", "i", "z", "y", "photo_z", "m_obs", "x_obs", "c_obs",
                 "log10_sigma_m", "log10_sigma_x", "log10_sigma_c", "d", "M_i_host", "g_i_host",
                 "d*x", "d*c", "x*c", "x*x", "c*c", "d*d", "d*M_i", "d*g_i")
_H0 = 70.0


# ----------------------------------------------------------------------------------------------
# cosmology
# ----------------------------------------------------------------------------------------------
_OM_GRID = np.linspace(0.05, 0.7, 27)
_Z_GRID = np.concatenate([[1e-3], np.linspace(0.005, 1.6, 320)])


@functools.lru_cache(maxsize=1)
def _mu_table():
    from astropy.cosmology import FlatLambdaCDM

    return np.stack([FlatLambdaCDM(H0=_H0, Om0=om).distmod(_Z_GRID).value for om in _OM_GRID])


def distance_modulus(z, om0) -> np.ndarray:
    """Distance modulus μ(z; Ω_m) [mag] of flat ΛCDM with H0 = 70 km/s/Mpc.

    Bilinear interpolation (in Ω_m and ln z) of a table computed once with
    :class:`astropy.cosmology.FlatLambdaCDM`; agrees with astropy to < 1e-3 mag.

    Parameters
    ----------
    z : array_like
        Redshifts in [0.001, 1.6].
    om0 : float or array_like
        Matter density Ω_m in [0.05, 0.7], broadcastable against ``z``.

    Returns
    -------
    numpy.ndarray
        μ [mag], broadcast shape of ``z`` and ``om0``.
    """
    z = np.asarray(z, float)
    om0 = np.asarray(om0, float)
    if np.any((z < _Z_GRID[0]) | (z > _Z_GRID[-1])) or np.any((om0 < _OM_GRID[0]) | (om0 > _OM_GRID[-1])):
        raise invalid("distance_modulus(z, om0)", f"needs {_Z_GRID[0]} ≤ z ≤ {_Z_GRID[-1]} and "
                      f"{_OM_GRID[0]} ≤ Ω_m ≤ {_OM_GRID[-1]}", "clip the inputs or use astropy.cosmology directly")
    z, om0 = np.broadcast_arrays(z, om0)
    tab = _mu_table()
    lz = np.log(_Z_GRID)
    fo = (om0 - _OM_GRID[0]) / (_OM_GRID[1] - _OM_GRID[0])
    io = np.clip(fo.astype(int), 0, len(_OM_GRID) - 2)
    wo = fo - io
    iz = np.clip(np.searchsorted(lz, np.log(z)) - 1, 0, len(lz) - 2)
    wz = (np.log(z) - lz[iz]) / (lz[iz + 1] - lz[iz])
    # interpolate μ − 5 log10 z (smooth) rather than μ
    base = tab - 5 * np.log10(_Z_GRID)[None, :]
    v = ((1 - wo) * ((1 - wz) * base[io, iz] + wz * base[io, iz + 1])
         + wo * ((1 - wz) * base[io + 1, iz] + wz * base[io + 1, iz + 1]))
    return v + 5 * np.log10(z)


# ----------------------------------------------------------------------------------------------
# priors
# ----------------------------------------------------------------------------------------------
def prior_sample(n: int, rng=None) -> np.ndarray:
    """Draw ``n`` parameter vectors from :data:`PRIORS`.

    Parameters
    ----------
    n : int
        Number of draws.
    rng : numpy.random.Generator or int, optional
        Random generator or seed.

    Returns
    -------
    numpy.ndarray, shape (n, 10)
        Columns in the order of :data:`PARAM_NAMES`.
    """
    rng = np.random.default_rng(rng)
    out = np.empty((n, len(PARAM_NAMES)))
    for j, name in enumerate(PARAM_NAMES):
        kind, a, b = PRIORS[name]
        out[:, j] = rng.normal(a, b, n) if kind == "normal" else rng.uniform(a, b, n)
    return out


def prior_log_prob(theta) -> np.ndarray:
    """Log prior density of parameter vectors (−inf outside the uniform bounds).

    Parameters
    ----------
    theta : array_like, shape (n, 10) or (10,)

    Returns
    -------
    numpy.ndarray, shape (n,)
    """
    theta = np.atleast_2d(np.asarray(theta, float))
    lp = np.zeros(len(theta))
    for j, name in enumerate(PARAM_NAMES):
        kind, a, b = PRIORS[name]
        t = theta[:, j]
        if kind == "normal":
            lp += -0.5 * ((t - a) / b) ** 2 - np.log(b * np.sqrt(2 * np.pi))
        else:
            lp += np.where((t >= a) & (t <= b), -np.log(b - a), -np.inf)
    return lp


def _theta_array(theta) -> np.ndarray:
    if isinstance(theta, dict):
        missing = [k for k in PARAM_NAMES if k not in theta and k not in TRUTHS]
        if missing:  # pragma: no cover - TRUTHS has every key
            raise invalid("theta", f"misses {missing}", f"give all of {PARAM_NAMES}")
        theta = [theta.get(k, TRUTHS[k]) for k in PARAM_NAMES]
    arr = np.atleast_2d(np.asarray(theta, float))
    if arr.shape[-1] != len(PARAM_NAMES) or arr.ndim != 2:
        raise invalid("theta", f"has shape {np.shape(theta)}", f"pass (n, {len(PARAM_NAMES)}) in the order "
                      f"{PARAM_NAMES} or a dict of parameter values")
    om = arr[:, 0]
    if np.any((om < _OM_GRID[0]) | (om > _OM_GRID[-1])):
        raise invalid("theta['Om0']", "is outside [0.05, 0.7]", "use Ω_m inside the prior range")
    return arr


# ----------------------------------------------------------------------------------------------
# delay-time distribution
# ----------------------------------------------------------------------------------------------
def _exprel(y):
    y = np.asarray(y, float)
    small = np.abs(y) < 1e-6
    return np.where(small, 1.0 + y / 2.0, np.expm1(np.where(small, 1.0, y)) / np.where(small, 1.0, y))


def dtd_bin_average(lo, hi, s) -> np.ndarray:
    """Average of the DTD (t / 1 Gyr)^s over lookback-age bins [lo, hi] [Gyr].

    ⟨t^s⟩ = (hi^(s+1) − lo^(s+1)) / ((s + 1)(hi − lo)), evaluated stably through s = −1.

    Parameters
    ----------
    lo, hi : array_like
        Bin edges [Gyr], 0 < lo < hi (broadcastable). Empty bins (hi ≤ lo) give 0.
    s : array_like
        DTD slope(s), broadcastable.

    Returns
    -------
    numpy.ndarray
        Bin-averaged DTD [dimensionless, per unit of 10^A].
    """
    lo, hi, s = np.broadcast_arrays(np.asarray(lo, float), np.asarray(hi, float), np.asarray(s, float))
    ok = hi > lo
    lo_s = np.where(ok, lo, 1.0)
    hi_s = np.where(ok, hi, 2.0)
    L = np.log(hi_s / lo_s)
    p = s + 1.0
    integral = np.exp(p * np.log(lo_s)) * L * _exprel(p * L)
    return np.where(ok, integral / (hi_s - lo_s), 0.0)


def _sample_in_bin(lo, hi, s, u):
    """Progenitor ages [Gyr] drawn ∝ t^s inside [lo, hi] from uniforms u (inverse CDF)."""
    p = s + 1.0
    L = np.log(hi / lo)
    pl = p * L
    small = np.abs(pl) < 1e-6
    logt = np.where(small, u * L, np.log1p(u * np.expm1(np.where(small, 1.0, pl))) / np.where(small, 1.0, p))
    return lo * np.exp(logt)


# ----------------------------------------------------------------------------------------------
# host galaxies
# ----------------------------------------------------------------------------------------------
@dataclass
class HostBank:
    """A fixed population of host galaxies (the "galaxy bank").

    Attributes
    ----------
    z : ndarray (H,)
        True redshift.
    log_mstar : ndarray (H,)
        log10 stellar mass [Msun].
    log_z : ndarray (H,)
        Stellar metallicity log10(Z/Z☉).
    ebv : ndarray (H,)
        Nebular E(B−V) [mag].
    age_mw : ndarray (H,)
        Mass-weighted stellar age [Gyr].
    log_ssfr : ndarray (H,)
        log10 specific SFR over the last 100 Myr [1/yr].
    tau, t_start : ndarray (H,)
        Delayed-τ time scale [Gyr] and onset after the Big Bang [Gyr].
    edges : ndarray (H, K+1)
        Lookback-age bin edges [Gyr] (last edge = age of the universe at z).
    mass_formed : ndarray (H, K)
        Stellar mass formed in each bin [Msun].
    abs_mag : ndarray (H, 6)
        Absolute ugrizy magnitudes M = m − μ_Planck18(z) [mag] (observed-frame bands, k-corrected
        by construction).
    seed : int
        Seed used to draw the bank.
    """

    z: np.ndarray
    log_mstar: np.ndarray
    log_z: np.ndarray
    ebv: np.ndarray
    age_mw: np.ndarray
    log_ssfr: np.ndarray
    tau: np.ndarray
    t_start: np.ndarray
    edges: np.ndarray
    mass_formed: np.ndarray
    abs_mag: np.ndarray
    seed: int = 0
    _cache: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.z.size)

    def __repr__(self) -> str:
        return (f"HostBank({len(self)} hosts, z ≤ {self.z.max():.2f}, "
                f"log M* {self.log_mstar.min():.1f}–{self.log_mstar.max():.1f})")

    def to_table(self):
        """The bank as an astropy Table with units (one row per host)."""
        import astropy.units as u
        from astropy.table import Table

        t = Table()
        t["redshift"] = self.z
        t["log_mstar"] = self.log_mstar * u.dex(u.Msun)
        t["log_z"] = self.log_z
        t["ebv"] = self.ebv * u.mag
        t["age_mw"] = self.age_mw * u.Gyr
        t["log_ssfr"] = self.log_ssfr
        for j, b in enumerate(HOST_BANDS):
            t[f"M_{b}"] = self.abs_mag[:, j] * u.mag
        return t


def _delayed_tau_cumulative(x, tau):
    """∫_0^x t' e^{−t'/τ} dt' (x ≥ 0) for the delayed-τ SFH (arbitrary normalisation)."""
    x = np.clip(x, 0.0, None)
    return tau ** 2 - tau * np.exp(-x / tau) * (x + tau)


def _redshift_draw(rng, n, z_min, z_max):
    from astropy.cosmology import Planck18

    grid = np.linspace(z_min, z_max, 400)
    dens = Planck18.differential_comoving_volume(grid).value
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    return np.interp(rng.uniform(0, cdf[-1], n), cdf, grid)


def mass_metallicity(log_mstar, z=0.0) -> np.ndarray:
    """Mean stellar metallicity log10(Z/Z☉) of the saturating mass–metallicity relation.

    log Z = 0.15 − 0.8 log10(1 + 10^{−(log M* − 10)}) − 0.15 z: steep below 10^10 Msun (≈ 0.8 dex per dex),
    flat above, spanning ≈ −0.7 (10^9 Msun) to +0.1 (10^11 Msun) at z = 0 like the observed relation.

    Parameters
    ----------
    log_mstar : array_like
        log10 stellar mass [Msun].
    z : array_like
        Redshift.

    Returns
    -------
    numpy.ndarray
    """
    lm = np.asarray(log_mstar, float)
    return 0.15 - 0.8 * np.log10(1.0 + 10 ** (-(lm - 10.0))) - 0.15 * np.asarray(z, float)


@functools.lru_cache(maxsize=1)
def _age_table():
    from astropy.cosmology import Planck18

    zz = np.linspace(0.0, 1.6, 161)
    return zz, Planck18.age(zz).to_value("Gyr")


def _draw_hosts(n, rng, z_max):
    z = _redshift_draw(rng, n, 0.01, z_max)
    log_m = np.clip(rng.normal(9.9, 0.65, n), 8.0, 11.8)
    t_univ = np.interp(z, *_age_table())
    t_start = rng.uniform(0.3, 2.5, n)
    # massive galaxies form early and fast (downsizing)
    log_tau = rng.normal(0.45 - 0.45 * (log_m - 10.0), 0.35)
    tau = np.clip(10 ** log_tau, 0.2, 20.0)
    edges = np.broadcast_to(AGE_EDGES_GYR, (n, AGE_EDGES_GYR.size)).copy()
    edges = np.minimum(edges, t_univ[:, None] - 1e-3)
    edges[:, -1] = t_univ - t_start  # oldest stars formed at t_start after the Big Bang
    edges = np.maximum.accumulate(np.clip(edges, 0.0, None), axis=1)
    # lookback age a corresponds to time since SF onset x = (t_univ - t_start) - a
    x = edges[:, -1:] - edges
    cum = _delayed_tau_cumulative(x, tau[:, None])
    frac = np.clip(cum[:, :-1] - cum[:, 1:], 0.0, None)
    frac /= frac.sum(axis=1, keepdims=True)
    m_formed_total = 10 ** log_m / 0.65  # surviving fraction ~0.65
    mass_formed = frac * m_formed_total[:, None]
    mids = 0.5 * (edges[:, 1:] + edges[:, :-1])
    age_mw = np.clip((frac * mids).sum(axis=1), 0.02, None)
    sfr_100 = mass_formed[:, 0] / 0.03e9 * 0.3 + mass_formed[:, 1] / 0.07e9 * 0.7  # weighted [Msun/yr]
    log_ssfr = np.log10(np.clip(sfr_100, 1e-3, None) / 10 ** log_m)
    log_z = np.clip(mass_metallicity(log_m, z) + rng.normal(0, 0.12, n), -1.5, 0.4)
    ebv = np.clip(0.03 + 0.12 / (1 + np.exp(-(log_ssfr + 10.0) / 0.4)) + rng.exponential(0.04, n), 0, 0.6)
    return dict(z=z, log_mstar=log_m, log_z=log_z, ebv=ebv, age_mw=age_mw, log_ssfr=log_ssfr, tau=tau,
                t_start=t_start, edges=edges, mass_formed=mass_formed)


_GRID_AXES = {
    "log_age": np.linspace(np.log10(0.3), np.log10(13.0), 8),
    "log_z": np.linspace(-1.5, 0.4, 4),
    "log_ssfr": np.linspace(-12.0, -8.5, 5),
    "ebv": np.linspace(0.0, 0.6, 4),
    "z": np.linspace(0.005, 1.6, 48),
}


@functools.lru_cache(maxsize=1)
def _abs_mag_grid():
    """Absolute ugrizy magnitudes (per unit stellar mass) on a template × redshift grid (disk-cached)."""
    import hashlib

    from astrolab import config
    from astrolab.utils import atomic_path

    key = hashlib.sha1(b"".join(a.tobytes() for a in _GRID_AXES.values()) + b"v1").hexdigest()[:12]
    path = config.cache_dir() / f"cigars_host_grid_{key}.npy"
    if path.exists():
        try:
            return np.load(path)
        except (OSError, ValueError):  # pragma: no cover - corrupt cache
            pass
    grid = _compute_abs_mag_grid()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, grid)
    return grid


def _compute_abs_mag_grid():
    import itertools

    from astropy.cosmology import Planck18

    from astrolab.sim import galaxies as gal
    from astrolab.sim.sed import TemplateLibrary, mass_to_light

    ax = _GRID_AXES
    rows = np.array(list(itertools.product(ax["log_age"], ax["log_z"], ax["log_ssfr"], ax["ebv"])))
    lib = TemplateLibrary({"age": 10 ** rows[:, 0], "metallicity": rows[:, 1], "log_ssfr": rows[:, 2],
                           "ebv": rows[:, 3]})
    band_list = gal.resolve_bands("lsst", list(HOST_BANDS))
    flux = lib.fluxes(ax["z"], band_list)  # (T, G, B) for L5500 = 1e40 erg/s/A
    # magnitude of a 1 Msun galaxy: L5500 = 1e40 * (1 Msun / M/L / L_sun5500 ...) folded in via mass_to_light
    from astrolab.sim.sed import luminosity_5500

    l_per_msun = luminosity_5500(0.0, 10 ** rows[:, 0])  # (T,) erg/s/A per Msun
    mag = -2.5 * np.log10(np.clip(flux, 1e-30, None) / gal.AB_ZEROPOINT_NJY)
    mag -= 2.5 * np.log10(l_per_msun / 1e40)[:, None, None]
    mag -= Planck18.distmod(ax["z"]).value[None, :, None]
    shape = tuple(len(ax[k]) for k in ("log_age", "log_z", "log_ssfr", "ebv"))
    return mag.reshape(*shape, len(ax["z"]), len(HOST_BANDS))


def _host_abs_mags(p) -> np.ndarray:
    """Absolute ugrizy magnitudes (H, 6) of hosts, interpolated (5-D linear) in the SED-model grid."""
    from scipy.interpolate import RegularGridInterpolator

    ax = _GRID_AXES
    grid = _abs_mag_grid()
    interp = RegularGridInterpolator(tuple(ax.values()), grid, bounds_error=False, fill_value=None)
    pts = np.column_stack([np.log10(p["age_mw"]), p["log_z"], p["log_ssfr"], p["ebv"], p["z"]])
    lo = np.array([a[0] for a in ax.values()])
    hi = np.array([a[-1] for a in ax.values()])
    return interp(np.clip(pts, lo, hi)) - 2.5 * p["log_mstar"][:, None]


@functools.lru_cache(maxsize=8)
def _bank_cached(n_hosts: int, seed: int, z_max: float) -> HostBank:
    from astropy.cosmology import Planck18

    rng = np.random.default_rng(seed)
    kept = []
    need = n_hosts
    while need > 0:
        p = _draw_hosts(int(need * 1.6) + 100, rng, z_max)
        absm = _host_abs_mags(p)
        app = absm + Planck18.distmod(p["z"]).value[:, None]
        ok = np.all(app < HOST_DEPTHS[None, :], axis=1)
        idx = np.flatnonzero(ok)[:need]
        kept.append({**{k: v[idx] for k, v in p.items()}, "abs_mag": absm[idx]})
        need -= idx.size
    cat = {k: np.concatenate([d[k] for d in kept]) for k in kept[0]}
    return HostBank(**cat, seed=seed)


def make_host_bank(n_hosts: int = 20000, seed: int = 0, z_max: float = 1.0) -> HostBank:
    """Draw (or fetch from the in-memory cache) a bank of detected host galaxies.

    Parameters
    ----------
    n_hosts : int
        Number of galaxies kept after the LSST depth cut (all six bands brighter than
        :data:`HOST_DEPTHS` at Planck18 distances).
    seed : int
        Random seed.
    z_max : float
        Largest redshift (≤ 1.5).

    Returns
    -------
    HostBank
    """
    if n_hosts < 10 or not 0.05 < z_max <= 1.5:
        raise invalid("make_host_bank", f"got n_hosts={n_hosts}, z_max={z_max}", "use n_hosts ≥ 10 and 0.05 < z_max ≤ 1.5")
    return _bank_cached(int(n_hosts), int(seed), float(z_max))


def _host_noise_sigma(mag):
    """Host magnitude errors [mag]: 0.01 mag floor plus the LSST coadd depth (S/N = 5 at the depth)."""
    return np.sqrt(0.01 ** 2 + (0.2171 * 10 ** (0.4 * (mag - HOST_DEPTHS))) ** 2)


class HostPhotoZ:
    """k-nearest-neighbour host photometric redshift from ugrizy colours and i magnitude.

    Trained on an independent host bank observed once (truth cosmology, noisy photometry), so
    its photo-z is a fixed function of the observed host photometry (a valid SBI summary).

    Parameters
    ----------
    bank : HostBank
        Training galaxies (use a bank with another seed than the survey's).
    n_neighbors : int
        Neighbours averaged (distance weighted).
    seed : int
        Seed of the training photometric noise.
    """

    def __init__(self, bank: HostBank, n_neighbors: int = 10, seed: int = 0):
        from scipy.spatial import cKDTree

        rng = np.random.default_rng(seed)
        mag = bank.abs_mag + distance_modulus(bank.z, TRUTHS["Om0"])[:, None]
        mag = mag + rng.normal(size=mag.shape) * _host_noise_sigma(mag)
        feats = self._features(mag)
        self.mean_, self.std_ = feats.mean(0), feats.std(0)
        self.n_neighbors = int(n_neighbors)
        self.tree_ = cKDTree((feats - self.mean_) / self.std_)
        self.z_train_ = np.asarray(bank.z, float)

    @staticmethod
    def _features(mag):
        return np.column_stack([-np.diff(mag, axis=1), mag[:, 3]])

    def predict(self, mags) -> np.ndarray:
        """Photometric redshifts (N,) of ugrizy magnitudes (N, 6) [mag]."""
        mags = np.asarray(mags, float)
        if mags.ndim != 2 or mags.shape[1] != len(HOST_BANDS):
            raise invalid("HostPhotoZ.predict(mags)", f"has shape {mags.shape}", "pass (N, 6) ugrizy magnitudes")
        if len(mags) == 0:
            return np.zeros(0)
        dist, idx = self.tree_.query((self._features(mags) - self.mean_) / self.std_, k=self.n_neighbors,
                                     eps=0.2, workers=-1)
        w = 1.0 / np.maximum(dist, 1e-6)
        return (w * self.z_train_[idx]).sum(axis=1) / w.sum(axis=1)


@functools.lru_cache(maxsize=4)
def _photoz_cached(n_hosts: int, seed: int, z_max: float) -> HostPhotoZ:
    return HostPhotoZ(make_host_bank(n_hosts, seed, z_max), seed=seed)


# ----------------------------------------------------------------------------------------------
# the simulator
# ----------------------------------------------------------------------------------------------
class CigarsSimulator:
    """Hierarchical SN Ia + host simulator with a fixed host bank (see the module docstring).

    Parameters
    ----------
    n_hosts : int
        Galaxies in the survey's host bank (sets the survey size: ~0.01–0.02 SNe per host).
    seed : int
        Seed of the host bank (the photo-z training bank uses ``seed + 1000``).
    z_max : float
        Largest host redshift.
    m_lim : float
        Magnitude at which the detection probability is 50 % [mag].
    m_width : float
        Width of the detection probability ramp [mag].
    loc : float
        Mass-step location log10(M*/Msun) (fixed).
    alpha_c : float
        Colour–stretch slope α_c (fixed).
    photoz_hosts : int
        Size of the independent photo-z training bank.

    Attributes
    ----------
    bank : HostBank
    photoz : HostPhotoZ
    """

    def __init__(self, n_hosts: int = 20000, seed: int = 0, z_max: float = 1.0, m_lim: float = 24.0,
                 m_width: float = 0.15, loc: float = 10.0, alpha_c: float = 0.0, photoz_hosts: int = 20000):
        self.n_hosts, self.seed, self.z_max = int(n_hosts), int(seed), float(z_max)
        self.m_lim, self.m_width, self.loc, self.alpha_c = float(m_lim), float(m_width), float(loc), float(alpha_c)
        self.bank = make_host_bank(self.n_hosts, self.seed, self.z_max)
        self.photoz = _photoz_cached(int(photoz_hosts), self.seed + 1000, self.z_max)
        b = self.bank
        lo = b.edges[:, _FIRST_SN_BIN:-1]
        hi = b.edges[:, _FIRST_SN_BIN + 1:]
        self._nonempty = hi > lo
        self._lo = np.where(self._nonempty, np.maximum(lo, 1e-3), 1.0)
        self._hi = np.where(self._nonempty, hi, 2.0)
        self._base = b.mass_formed[:, _FIRST_SN_BIN:] / (1 + b.z[:, None]) * self._nonempty  # (H, K')
        # bins whose edges are the same for every host are evaluated once per call
        self._shared = np.all(self._lo == self._lo[:1], axis=0) & np.all(self._hi == self._hi[:1], axis=0)

    def __repr__(self) -> str:
        return (f"CigarsSimulator(n_hosts={self.n_hosts}, seed={self.seed}, m_lim={self.m_lim}, "
                f"loc={self.loc})")

    # -- pieces ---------------------------------------------------------------------------------
    def expected_rates(self, A, s) -> np.ndarray:
        """Expected SN Ia numbers per host and SN-producing age bin.

        Parameters
        ----------
        A, s : float
            log10 DTD amplitude and DTD slope.

        Returns
        -------
        numpy.ndarray, shape (H, K')
            10^A (1+z)^−1 M_formed ⟨(t/Gyr)^s⟩ for bins from the third youngest on.
        """
        psi = np.empty(self._base.shape)
        sh = self._shared
        psi[:, sh] = dtd_bin_average(self._lo[0, sh], self._hi[0, sh], s)[None, :]
        psi[:, ~sh] = dtd_bin_average(self._lo[:, ~sh], self._hi[:, ~sh], s)
        return 10.0 ** A * self._base * psi

    def _one(self, theta, rng):
        """Simulate one survey: dict of per-SN arrays (all SNe, before selection)."""
        om, A, s, gz, gage, dstep, alpha, beta, m0, sres = theta
        b = self.bank
        rates = self.expected_rates(A, s)
        cum = np.cumsum(rates.sum(axis=1))
        n = rng.poisson(cum[-1])
        host = np.minimum(np.searchsorted(cum, rng.uniform(0, cum[-1], n), side="right"), cum.size - 1)
        bin_cum = np.cumsum(rates[host], axis=1)
        kbin = np.minimum((bin_cum < rng.uniform(size=(n, 1)) * bin_cum[:, -1:]).sum(axis=1), rates.shape[1] - 1)
        age = _sample_in_bin(self._lo[host, kbin], self._hi[host, kbin], s, rng.uniform(size=n))
        z = b.z[host]
        logm = b.log_mstar[host]
        logz = b.log_z[host]
        dm = gz * logz + gage * age + dstep * (logm > self.loc)
        x = rng.normal(size=n)
        c = rng.normal(self.alpha_c * x, 0.1)
        m_int = rng.normal(m0 + dm + alpha * x + beta * c, sres)
        av = rng.exponential(0.1, n)
        rv = rng.normal(3.0, 0.5, n)
        bad = rv <= 1.2
        while np.any(bad):
            rv[bad] = rng.normal(3.0, 0.5, bad.sum())
            bad = rv <= 1.2
        ebv = av / rv
        m_abs = m_int + (rv + 1) * ebv
        c_ext = c + ebv
        mu = distance_modulus(z, om)
        m = m_abs + mu
        var_m = np.exp(rng.normal(0.2 * (m - 56.0), 1.2))
        var_x = np.exp(rng.normal(-3.0, 1.0, n))
        var_c = np.exp(rng.normal(-7.0, 0.6, n))
        m_obs = rng.normal(m, np.sqrt(var_m))
        x_obs = rng.normal(x, np.sqrt(var_x))
        c_obs = rng.normal(c_ext, np.sqrt(var_c))
        p_det = 0.5 * (1 + _erf((self.m_lim - m_obs) / (self.m_width * np.sqrt(2))))
        detected = rng.uniform(size=n) < p_det
        host_true = b.abs_mag[host] + mu[:, None]
        host_mag = host_true + rng.normal(size=host_true.shape) * _host_noise_sigma(host_true)
        return dict(host=host, age_bin=kbin + _FIRST_SN_BIN, progenitor_age=age, redshift=z, log_mstar=logm,
                    log_z=logz, delta_m=dm, x=x, c=c, M_int=m_int, A_V=av, R_V=rv, E_BV=ebv, M_ext=m_abs,
                    c_ext=c_ext, mu=mu, m=m, m_obs=m_obs, x_obs=x_obs, c_obs=c_obs, sigma_m=np.sqrt(var_m),
                    sigma_x=np.sqrt(var_x), sigma_c=np.sqrt(var_c), p_det=p_det, detected=detected,
                    host_mag=host_mag)

    # -- public ---------------------------------------------------------------------------------
    def simulate(self, theta=None, seed: int = 0, detected_only: bool = False):
        """Simulate one survey and keep every latent truth.

        Parameters
        ----------
        theta : dict or array_like (10,), optional
            Global parameters (dict entries missing fall back to :data:`TRUTHS`; default: the truths).
        seed : int
            Random seed.
        detected_only : bool
            Keep only the detected SNe.

        Returns
        -------
        astropy.table.Table
            One row per SN: ``host`` (bank index), ``age_bin``, ``progenitor_age`` [Gyr],
            ``redshift``, ``log_mstar``, ``log_z``, ``delta_m`` [mag], ``x``, ``c``, ``M_int``,
            ``A_V``, ``R_V``, ``E_BV``, ``M_ext`` [mag], ``c_ext``, ``mu`` [mag], ``m`` [mag],
            observed ``m_obs``, ``x_obs``, ``c_obs`` with ``sigma_m``, ``sigma_x``, ``sigma_c``,
            ``p_det``, ``detected``, host ugrizy magnitudes ``host_<b>`` [mag] and ``photo_z``.
            ``meta`` holds ``theta`` (dict), ``n_hosts``, ``loc``, ``m_lim`` and ``seed``.
        """
        from astropy.table import Table

        th = _theta_array(TRUTHS if theta is None else theta)[0]
        out = self._one(th, np.random.default_rng(seed))
        hm = out.pop("host_mag")
        t = Table(out)
        for j, bnd in enumerate(HOST_BANDS):
            t[f"host_{bnd}"] = hm[:, j]
        t["photo_z"] = self.photoz.predict(hm)
        t.meta.update(theta=dict(zip(PARAM_NAMES, map(float, th))), n_hosts=self.n_hosts, loc=self.loc,
                      m_lim=self.m_lim, seed=seed)
        units = {"progenitor_age": "Gyr", "delta_m": "mag", "M_int": "mag", "A_V": "mag", "E_BV": "mag",
                 "M_ext": "mag", "mu": "mag", "m": "mag", "m_obs": "mag", "sigma_m": "mag",
                 **{f"host_{b}": "mag" for b in HOST_BANDS}}
        for k, u in units.items():
            t[k].unit = u
        return t[t["detected"]] if detected_only else t

    def features(self, table) -> np.ndarray:
        """Observed per-object features (N, F) of detected SNe, in the order of :data:`FEATURE_NAMES`.

        Parameters
        ----------
        table : astropy.table.Table
            From :meth:`simulate` (rows not detected are dropped).

        Returns
        -------
        numpy.ndarray, shape (N, F)
        """
        t = table[np.asarray(table["detected"], bool)]
        hm = np.column_stack([np.asarray(t[f"host_{b}"], float) for b in HOST_BANDS])
        return self._features(hm, np.asarray(t["photo_z"], float), *(np.asarray(t[k], float) for k in
                              ("m_obs", "x_obs", "c_obs", "sigma_m", "sigma_x", "sigma_c")))

    @staticmethod
    def _features(hm, pz, m_obs, x_obs, c_obs, sm, sx, sc):
        mu_ref = distance_modulus(np.clip(pz, 0.01, 1.5), TRUTHS["Om0"])
        d = m_obs - mu_ref + 19.5
        mi = hm[:, 3] - mu_ref + 21.0
        gi = hm[:, 1] - hm[:, 3]
        return np.column_stack([hm, pz, m_obs, x_obs, c_obs, np.log10(sm), np.log10(sx), np.log10(sc), d, mi, gi,
                                d * x_obs, d * c_obs, x_obs * c_obs, x_obs ** 2, c_obs ** 2, d ** 2, d * mi, d * gi])

    def simulate_sets(self, theta, seed: int = 0, n_max: int | None = None, return_counts: bool = False):
        """Simulate many surveys at once as padded sets of detected SN+host objects (for SBI).

        Parameters
        ----------
        theta : array_like, shape (B, 10)
            Parameter vectors (order :data:`PARAM_NAMES`).
        seed : int
            Random seed (simulation i uses an independent stream spawned from it).
        n_max : int, optional
            Set size to pad to. Default: the largest number of detected SNe in the batch. Surveys
            with more detections are randomly subsampled to ``n_max`` (the count feature keeps the
            true number).
        return_counts : bool
            Also return the number of detected SNe per survey.

        Returns
        -------
        numpy.ndarray, shape (B, n_max, F + 1), float32
            Features :data:`FEATURE_NAMES` per object; the last channel is 1 for a real object and
            0 for padding (padded features are 0). The number of objects is ``x[..., -1].sum(1)``
            (it differs from the detected count only for subsampled surveys).
        numpy.ndarray, shape (B,), optional
            Detected SNe per survey (before any subsampling).
        """
        th = _theta_array(theta)
        seeds = np.random.SeedSequence(seed).spawn(len(th))
        rows, counts = [], np.empty(len(th), dtype=np.int64)
        for i, t in enumerate(th):
            rng = np.random.default_rng(seeds[i])
            o = self._one(t, rng)
            d = o["detected"]
            counts[i] = d.sum()
            rows.append((o["host_mag"][d], o["m_obs"][d], o["x_obs"][d], o["c_obs"][d], o["sigma_m"][d],
                         o["sigma_x"][d], o["sigma_c"][d], rng))
        allmag = np.concatenate([r[0] for r in rows]) if rows else np.zeros((0, 6))
        pz_all = self.photoz.predict(allmag)
        n_max = int(max(counts.max(initial=1), 1) if n_max is None else n_max)
        x = np.zeros((len(th), n_max, len(FEATURE_NAMES) + 1), dtype=np.float32)
        start = 0
        for i, (hm, mo, xo, co, sm, sx, sc, rng) in enumerate(rows):
            k = len(mo)
            pz = pz_all[start:start + k]
            start += k
            f = self._features(hm, pz, mo, xo, co, sm, sx, sc)
            if k > n_max:
                f = f[np.sort(rng.choice(k, n_max, replace=False))]
            x[i, :len(f), :-1] = f
            x[i, :len(f), -1] = 1.0
        return (x, counts) if return_counts else x


def _erf(x):
    from scipy.special import erf

    return erf(x)

"""SDSS-like galaxy spectra and WISE W1-W4 fluxes from physical parameters (papers.md section 4).

The simulator behind notebook ``09_optical_ir`` (Jespersen et al., "The optical and
infrared are connected"). Every galaxy has physical parameters

    z, log10 M*, age, tau (delayed burst: young fraction exp(-age/tau)), log10 Z/Zsun,
    A_V, SFR, AGN strength, PAH fraction q_PAH,

and gets

- an observed-frame optical spectrum (3800-9200 A on a log-lambda grid, flux in
  1e-17 erg/s/cm2/A): stellar continuum (old + young populations, 4000 A break,
  dust), Balmer lines, [O II], [N II], [S II] with Halpha proportional to the SFR,
  Ca II H&K / Sr II 4077 / Fe I 4383 / Fe 5270 / Ca II triplet absorption with depth
  growing with age x metallicity, AGN lines ([O III], [Ne III], broad Halpha)
  proportional to the AGN strength, Gaussian noise, masked sky pixels, and one
  **decoy** emission line (rest 6000 A) whose strength is drawn independently of
  every parameter;
- WISE W1-W4 fluxes [mJy]: stellar Rayleigh-Jeans tail (mass-to-light from age and
  Z) + dust emission proportional to the SFR + PAH emission in W3 (q_PAH x SFR,
  fading with redshift as the 11.3/12.7 um features leave the band) + AGN torus,
  with a known per-object Gaussian sigma.

The continuum colour is nearly degenerate in age, metallicity and dust; the lines
break the degeneracy and carry the SFR, AGN and PAH information. The IR is
therefore predictable from the full spectrum but not from continuum colours alone
(the "separable SED" baseline). q_PAH follows the metallicity (as observed),
which the [N II]/Halpha ratio and the metal absorption lines encode.

Example
-------
>>> from astrolab.sim.spectra import simulate_optical_ir
>>> sim = simulate_optical_ir(500, seed=1)
>>> sim.spectra            # SpectrumSet (500, 768)
>>> sim.wise_flux.shape    # (500, 4) mJy, with sim.wise_sigma
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from astrolab.errors import invalid

__all__ = ["OpticalIRSim", "simulate_optical_ir", "observed_grid", "line_catalog", "continuum_windows",
           "continuum_colours", "INFORMATIVE_LINES", "DECOY_LINE", "WISE_BANDS", "WISE_WAVELENGTH_UM",
           "wise_fluxes", "noise_free_spectra", "q_pah_of_metallicity"]

WISE_BANDS = ("W1", "W2", "W3", "W4")
WISE_WAVELENGTH_UM = (3.4, 4.6, 12.0, 22.0)

#: Planted lines that carry information on the parameters: name -> rest wavelength [A] (vacuum-ish).
INFORMATIVE_LINES = {
    "[O II] 3727": 3727.4,
    "[Ne III] 3869": 3869.0,
    "Ca II K": 3933.7,
    "Ca II H": 3968.5,
    "Sr II 4077": 4077.7,
    "Hdelta": 4101.7,
    "Hgamma": 4340.5,
    "Fe I 4383": 4383.5,
    "Hbeta": 4861.3,
    "[O III] 4959": 4958.9,
    "[O III] 5007": 5006.8,
    "Fe 5270": 5270.0,
    "[N II] 6548": 6548.0,
    "Halpha": 6562.8,
    "[N II] 6584": 6583.5,
    "[S II] 6717": 6716.4,
    "[S II] 6731": 6730.8,
    "Ca II 8498": 8498.0,
    "Ca II 8542": 8542.1,
    "Ca II 8662": 8662.1,
}
#: The decoy emission line: (name, rest wavelength [A]); its strength is independent of every parameter.
DECOY_LINE = ("decoy 6000", 6000.0)

_SKY_LINES = (5577.3, 5889.9, 5895.9, 6300.3, 6363.8, 7340.0, 7794.0, 8344.6, 8399.2, 8827.1)
_TELLURIC = ((7594.0, 7684.0), (6867.0, 6884.0))
_C_KMS = 299792.458
_SDSS_DLOGLAM = 1e-4  # SDSS pixel size in log10(lambda / A): the pixel the S/N figures refer to


def observed_grid(dloglam: float = 5e-4, lo: float = 3800.0, hi: float = 9200.0) -> np.ndarray:
    """Observed-frame log-lambda wavelength grid (SDSS-like; SDSS itself uses ``dloglam = 1e-4``).

    Parameters
    ----------
    dloglam : float
        Step in log10(lambda / A).
    lo, hi : float
        Range [A].

    Returns
    -------
    numpy.ndarray, shape (L,)
        Wavelengths [A].
    """
    if not (0 < dloglam < 0.01) or not (0 < lo < hi):
        raise invalid("observed_grid", f"dloglam={dloglam}, lo={lo}, hi={hi}", "pass 0 < dloglam < 0.01 and 0 < lo < hi")
    n = int(np.floor(np.log10(hi / lo) / dloglam)) + 1
    return 10 ** (np.log10(lo) + dloglam * np.arange(n))


def line_catalog() -> dict:
    """Planted lines by role.

    Returns
    -------
    dict
        ``{"informative": {name: rest A}, "decoy": {name: rest A}, "star_forming": [...],
        "agn": [...], "absorption": [...]}``.
    """
    return {
        "informative": dict(INFORMATIVE_LINES),
        "decoy": {DECOY_LINE[0]: DECOY_LINE[1]},
        "star_forming": ["[O II] 3727", "Hdelta", "Hgamma", "Hbeta", "[N II] 6548", "Halpha", "[N II] 6584",
                         "[S II] 6717", "[S II] 6731"],
        "agn": ["[Ne III] 3869", "[O III] 4959", "[O III] 5007", "Halpha"],
        "absorption": ["Ca II K", "Ca II H", "Sr II 4077", "Fe I 4383", "Fe 5270", "Ca II 8498", "Ca II 8542",
                       "Ca II 8662"],
    }


#: Rest-frame continuum windows [A] free of planted lines (used by the separable-SED baseline).
_WINDOWS = ((3600, 3700), (4150, 4300), (4450, 4750), (5050, 5200), (5400, 5800), (6100, 6400),
            (6900, 7300), (7600, 8100), (8800, 9100))


def continuum_windows() -> np.ndarray:
    """Rest-frame continuum windows free of planted lines (and of the decoy).

    Returns
    -------
    numpy.ndarray, shape (K, 2)
        ``(lo, hi)`` rest wavelengths [A].
    """
    return np.array(_WINDOWS, dtype=float)


def continuum_colours(spectra, windows=None) -> tuple[np.ndarray, np.ndarray]:
    """Mean continuum flux in rest-frame windows: the "colours" seen by the separable-SED baseline.

    Parameters
    ----------
    spectra : SpectrumSet
        N spectra with redshifts.
    windows : array_like, shape (K, 2), optional
        Rest-frame windows [A]; default :func:`continuum_windows`.

    Returns
    -------
    flux : numpy.ndarray, shape (N, K)
        Mean unmasked flux per window in the spectra's flux unit (NaN when a window
        is outside the observed range or fully masked).
    covered : numpy.ndarray of bool, shape (N, K)
        True where the window had unmasked pixels.
    """
    if spectra.redshift is None:
        raise invalid("continuum_colours spectra", "has no redshifts", "pass a SpectrumSet with redshift=...")
    win = continuum_windows() if windows is None else np.asarray(windows, dtype=float)
    n = len(spectra)
    out = np.full((n, len(win)), np.nan)
    for i in range(n):
        rest = spectra.wavelength_of(i) / (1.0 + spectra.redshift[i])
        good = ~spectra.mask[i]
        for k, (a, b) in enumerate(win):
            sel = good & (rest >= a) & (rest < b)
            if sel.sum() >= 3:
                out[i, k] = spectra.flux[i, sel].mean()
    return out, np.isfinite(out)


@dataclass
class OpticalIRSim:
    """Output of :func:`simulate_optical_ir`.

    Attributes
    ----------
    spectra : SpectrumSet
        N observed-frame spectra (N, L), flux in 1e-17 erg/s/cm2/A, ivar, sky mask, redshift.
    wise_flux : numpy.ndarray, shape (N, 4)
        Observed (noisy) W1-W4 fluxes [mJy].
    wise_sigma : numpy.ndarray, shape (N, 4)
        Known 1-sigma noise of ``wise_flux`` [mJy].
    wise_true : numpy.ndarray, shape (N, 4)
        Noise-free W1-W4 fluxes [mJy].
    wise_components : dict of numpy.ndarray (N, 4)
        Noise-free ``"stellar"``, ``"dust"``, ``"pah"``, ``"agn"`` contributions [mJy].
    params : astropy.table.Table
        Truth per galaxy: ``z``, ``log_mass`` [log10 Msun], ``age_gyr``, ``tau_gyr``, ``young_frac``,
        ``log_z`` [log10 Z/Zsun], ``a_v`` [mag], ``sfr`` [Msun/yr], ``f_agn`` (AGN luminosity
        relative to the stellar normalisation), ``q_pah`` [%], ``decoy_amp`` (decoy line strength),
        ``norm`` (continuum flux scale at rest 5500 A, 1e-17 erg/s/cm2/A).
    line_flux : dict of numpy.ndarray (N,)
        Observed (dust-attenuated) emission-line fluxes [1e-17 erg/s/cm2] of ``Halpha``,
        ``Hbeta``, ``[O II] 3727``, ``[O III] 5007``, ``broad Halpha`` and the decoy.
    """

    spectra: object
    wise_flux: np.ndarray
    wise_sigma: np.ndarray
    wise_true: np.ndarray
    wise_components: dict
    params: object
    line_flux: dict

    def __len__(self) -> int:
        return len(self.wise_flux)

    def subset(self, idx) -> "OpticalIRSim":
        """Objects ``idx`` (index array or boolean mask) as a new :class:`OpticalIRSim`."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return OpticalIRSim(self.spectra[idx], self.wise_flux[idx], self.wise_sigma[idx], self.wise_true[idx],
                            {k: v[idx] for k, v in self.wise_components.items()}, self.params[idx],
                            {k: v[idx] for k, v in self.line_flux.items()})


def _dust_curve(lam_aa):
    """A_lambda / A_V for a Calzetti-like power law (dimensionless)."""
    return (np.asarray(lam_aa) / 5500.0) ** -0.9


def _continuum(rest, young, log_z, a_v, age_gyr):
    """Stellar continuum (N, L) at rest wavelengths (N, L) [A], 1 at 5500 A before dust."""
    x = rest / 5500.0
    step = 1.0 / (1.0 + np.exp(-(rest - 4000.0) / 40.0))           # 0 blue of the break, 1 red of it
    brk = (0.35 + 0.25 * log_z + 0.1 * np.log10(age_gyr))[:, None]  # 4000 A break depth of old stars
    old = x ** (0.9 + 0.6 * log_z[:, None]) * (1.0 - brk * (1.0 - step))
    yng = x ** -1.8 * (1.0 - 0.08 * (1.0 - step))
    f = (1.0 - young[:, None]) * old + young[:, None] * yng
    return f * 10 ** (-0.4 * a_v[:, None] * _dust_curve(rest))


def _gauss(rest, centre, sigma_aa):
    """Unit-area Gaussian profiles (N, L) [1/A] at rest wavelengths (N, L)."""
    s = np.asarray(sigma_aa)[..., None] if np.ndim(sigma_aa) else sigma_aa
    return np.exp(-0.5 * ((rest - centre) / s) ** 2) / (np.sqrt(2 * np.pi) * s)


def wise_fluxes(params_cols: dict) -> dict:
    """Noise-free WISE W1-W4 fluxes [mJy] and their components from physical parameters.

    Parameters
    ----------
    params_cols : dict of numpy.ndarray (N,)
        ``z``, ``norm`` (1e-17 erg/s/cm2/A at rest 5500 A), ``age_gyr``, ``young_frac``,
        ``log_z``, ``a_v``, ``sfr_rel`` (SFR per unit normalisation), ``f_agn``, ``q_pah`` [%].

    Returns
    -------
    dict of numpy.ndarray (N, 4)
        ``"stellar"``, ``"dust"``, ``"pah"``, ``"agn"`` and ``"total"`` [mJy].
    """
    p = {k: np.asarray(v, dtype=float) for k, v in params_cols.items()}
    z, n = p["z"], p["norm"]
    zz = z[:, None]
    ml = (1.0 - p["young_frac"]) * (p["age_gyr"] / 5.0) ** 0.25 * 10 ** (0.2 * p["log_z"]) + 0.35 * p["young_frac"]
    # attenuated optical light is re-emitted by cold dust: adds to W4 (energy balance, A_V visible in Balmer decrement)
    absorbed = 1.0 - 10 ** (-0.4 * p["a_v"])
    stellar = 0.01 * n[:, None] * ml[:, None] * np.array([1.0, 0.55, 0.12, 0.045]) * (1 + zz) ** np.array([-1.2, -1.0, -0.8, -0.8])
    dust = 0.01 * n[:, None] * (p["sfr_rel"][:, None] * np.array([0.02, 0.04, 0.45, 1.6])
                                + absorbed[:, None] * np.array([0.0, 0.0, 0.03, 0.12])) * (1 + zz) ** 0.8
    pah_z = np.exp(-0.5 * (z / 0.45) ** 2)
    pah = 0.01 * n[:, None] * (p["sfr_rel"] * (p["q_pah"] / 2.5) * 0.9 * pah_z)[:, None] * np.array([0.0, 0.0, 1.0, 0.08])
    agn = 0.01 * n[:, None] * p["f_agn"][:, None] * np.array([0.12, 0.3, 0.9, 1.4]) * (1 + zz) ** 0.5
    return {"stellar": stellar, "dust": dust, "pah": pah, "agn": agn, "total": stellar + dust + pah + agn}


def q_pah_of_metallicity(log_z):
    """Mean PAH fraction q_PAH [%] at metallicity ``log_z`` [log10 Z/Zsun] (the simulator's relation; scatter 0.05)."""
    return 2.6 + 2.2 * np.asarray(log_z, dtype=float)


def noise_free_spectra(lam, params_cols: dict, *, dloglam: float) -> tuple[np.ndarray, dict]:
    """The simulator's noise-free observed-frame spectra from physical parameters (its forward model).

    Parameters
    ----------
    lam : array_like, shape (L,)
        Observed wavelengths [A] (e.g. :func:`observed_grid`).
    params_cols : dict of numpy.ndarray (N,)
        ``z``, ``norm`` (1e-17 erg/s/cm2/A at rest 5500 A), ``age_gyr``, ``young_frac``,
        ``log_z``, ``a_v`` [mag], ``sfr_rel``, ``f_agn`` and ``decoy_amp``.
    dloglam : float
        Pixel size in log10(lambda / A) (sets the line widths: 1.3 pixels).

    Returns
    -------
    flux : numpy.ndarray, shape (N, L)
        Noise-free flux [1e-17 erg/s/cm2/A].
    line_flux : dict of numpy.ndarray (N,)
        Observed emission-line fluxes [1e-17 erg/s/cm2] (as :attr:`OpticalIRSim.line_flux`).
    """
    p = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in params_cols.items()}
    z, norm, age, young, log_z = p["z"], p["norm"], p["age_gyr"], p["young_frac"], p["log_z"]
    a_v, sfr_rel, f_agn, decoy = p["a_v"], p["sfr_rel"], p["f_agn"], p["decoy_amp"]
    lam = np.asarray(lam, dtype=float)
    rest = lam[None, :] / (1.0 + z[:, None])
    cont = _continuum(rest, young, log_z, a_v, age)
    # instrumental + intrinsic line width: 1.3 pixels in log lambda
    sig_ln = 1.3 * dloglam * np.log(10.0)
    spec = cont.copy()
    ab_depth = np.clip(0.11 * (1 - young) * (age / 5.0) ** 0.5 * 10 ** (0.8 * log_z), 0, 0.6)
    for name, w in [("Ca II K", 3933.7), ("Ca II H", 3968.5), ("Sr II 4077", 4077.7), ("Fe I 4383", 4383.5),
                    ("Fe 5270", 5270.0), ("Ca II 8498", 8498.0), ("Ca II 8542", 8542.1), ("Ca II 8662", 8662.1)]:
        width = 2.2 * sig_ln * w
        scale = 2.0 if name.startswith("Ca II") else 1.0
        spec = spec * (1.0 - scale * ab_depth[:, None] * np.exp(-0.5 * ((rest - w) / width) ** 2))
    # emission lines in units of continuum-normalisation x Angstrom (rest-frame equivalent-width scale)
    att = lambda w: 10 ** (-0.4 * 1.3 * a_v * _dust_curve(w))  # noqa: E731  extra attenuation of nebular lines
    ha = 60.0 * sfr_rel
    nii_ratio = 0.35 * 10 ** (0.6 * log_z)
    lines = {
        "[O II] 3727": (1.1 * ha / 2.86 * 10 ** (-0.3 * log_z) * 2.5, 3727.4, 1.0),
        "Hdelta": (ha / 2.86 * 0.26, 4101.7, 1.0),
        "Hgamma": (ha / 2.86 * 0.47, 4340.5, 1.0),
        "Hbeta": (ha / 2.86, 4861.3, 1.0),
        "Halpha": (ha, 6562.8, 1.0),
        "[N II] 6584": (ha * nii_ratio, 6583.5, 1.0),
        "[N II] 6548": (ha * nii_ratio / 3.0, 6548.0, 1.0),
        "[S II] 6717": (ha * 0.12, 6716.4, 1.0),
        "[S II] 6731": (ha * 0.09, 6730.8, 1.0),
        "[O III] 5007": (ha * 0.15 + 90.0 * f_agn, 5006.8, 1.0),
        "[O III] 4959": ((ha * 0.15 + 90.0 * f_agn) / 3.0, 4958.9, 1.0),
        "[Ne III] 3869": (18.0 * f_agn, 3869.0, 1.0),
        "broad Halpha": (120.0 * f_agn, 6562.8, 14.0),
        DECOY_LINE[0]: (60.0 * decoy * 0.3, DECOY_LINE[1], 1.0),
    }
    line_flux = {}
    for name, (amp, w, wfac) in lines.items():
        a_eff = amp * (att(w) if name != DECOY_LINE[0] else 1.0)
        prof = _gauss(rest, w, wfac * sig_ln * w)
        spec = spec + a_eff[:, None] * prof
        if name in ("Halpha", "Hbeta", "[O II] 3727", "[O III] 5007", "broad Halpha", DECOY_LINE[0]):
            line_flux[name] = a_eff * norm / (1.0 + z)   # observed flux 1e-17 erg/s/cm2

    return norm[:, None] * spec / (1.0 + z[:, None]), line_flux


def simulate_optical_ir(n: int, *, seed: int = 0, dloglam: float = 5e-4, z_range=(0.02, 0.5),
                        snr: float = 25.0, wise_frac_sigma=(0.06, 0.06, 0.08, 0.10),
                        bad_pixel_frac: float = 0.003) -> OpticalIRSim:
    """Simulate N galaxies: physical parameters -> observed spectrum + WISE fluxes with known sigma.

    Parameters
    ----------
    n : int
        Number of galaxies.
    seed : int
        Random seed.
    dloglam : float
        Spectral pixel size in log10(lambda/A) (SDSS: 1e-4; default 5e-4 keeps FAST runs small).
    z_range : (float, float)
        Uniform redshift range (<= 0.5).
    snr : float
        Median continuum signal-to-noise per SDSS pixel (1e-4 in log lambda; per-object scatter
        x0.7-1.4). A coarser grid bins SDSS pixels, so its per-pixel S/N is
        ``snr * sqrt(dloglam / 1e-4)`` and the spectra carry the same information at any grid.
    wise_frac_sigma : sequence of 4 float
        Typical fractional 1-sigma WISE noise in W1-W4; each object's sigma is this
        fraction x U(0.75, 1.3) x its noise-free flux (the sigma is returned, i.e. known).
    bad_pixel_frac : float
        Fraction of random bad pixels masked besides sky lines and telluric bands.

    Returns
    -------
    OpticalIRSim
    """
    from astropy.cosmology import Planck18
    from astropy.table import Table

    from astrolab.data import SpectrumSet

    if int(n) < 1:
        raise invalid("simulate_optical_ir n", f"is {n}", "pass a positive number of galaxies")
    if not (0 <= z_range[0] < z_range[1] <= 0.5):
        raise invalid("simulate_optical_ir z_range", f"is {z_range}", "use a range inside [0, 0.5]")
    n = int(n)
    rng = np.random.default_rng(seed)
    z = rng.uniform(*z_range, n)
    log_mass = rng.uniform(9.6, 11.4, n)
    age = 10 ** rng.uniform(0.0, np.log10(12.0), n)
    tau = 10 ** rng.uniform(np.log10(0.5), np.log10(20.0), n)
    young = np.exp(-age / tau)
    log_z = rng.uniform(-0.6, 0.3, n)
    a_v = rng.uniform(0.0, 1.2, n)
    sfr_rel = 10 ** rng.uniform(-1.7, 0.4, n)                 # SFR per unit stellar normalisation
    f_agn = np.where(rng.uniform(size=n) < 0.45, 0.0, 10 ** rng.uniform(-1.3, 0.0, n))
    q_pah = np.clip(q_pah_of_metallicity(log_z) + rng.normal(0, 0.05, n), 0.3, 5.0)
    decoy = 10 ** rng.uniform(-1.0, 0.5, n)                   # independent of everything

    d_ref = Planck18.luminosity_distance(0.1).value
    dl = Planck18.luminosity_distance(z).value
    norm = 25.0 * 10 ** (log_mass - 10.5) * (d_ref / dl) ** 2  # 1e-17 erg/s/cm2/A at rest 5500 A
    sfr = sfr_rel * 10 ** (log_mass - 10.0) * 2.0            # Msun/yr (arbitrary calibration)

    lam = observed_grid(dloglam)
    flux_true, line_flux = noise_free_spectra(lam, dict(z=z, norm=norm, age_gyr=age, young_frac=young, log_z=log_z,
                                                        a_v=a_v, sfr_rel=sfr_rel, f_agn=f_agn, decoy_amp=decoy),
                                              dloglam=dloglam)
    level = np.median(np.abs(flux_true), axis=1)
    # snr and the 2 % per-pixel floor refer to SDSS pixels (1e-4 in log lambda): a coarser grid bins
    # dloglam / 1e-4 of them, so its pixels carry sqrt(dloglam / 1e-4) times their S/N (same information)
    binning = np.sqrt(dloglam / _SDSS_DLOGLAM)
    obj_snr = snr * rng.uniform(0.7, 1.4, n) * binning
    sigma = np.sqrt((level / obj_snr)[:, None] ** 2 + (0.02 / binning * np.abs(flux_true)) ** 2)
    flux = flux_true + rng.normal(size=flux_true.shape) * sigma
    mask = rng.uniform(size=flux.shape) < bad_pixel_frac
    pix = lam * dloglam * np.log(10.0)                          # pixel width [A]
    for s in _SKY_LINES:
        mask |= (np.abs(lam - s) < np.maximum(5.0, 1.1 * pix))[None, :]
    for a, b in _TELLURIC:
        mask |= ((lam >= a) & (lam <= b))[None, :]
    # sky residuals in masked pixels (garbage the model must ignore)
    flux = np.where(mask, flux + rng.normal(0, 5.0, flux.shape) * level[:, None], flux)
    ivar = np.where(mask, 0.0, 1.0 / sigma**2)
    spectra = SpectrumSet(lam, flux, ivar=ivar, mask=mask, redshift=z, ids=np.arange(n))

    comps = wise_fluxes(dict(z=z, norm=norm, age_gyr=age, young_frac=young, log_z=log_z, a_v=a_v,
                             sfr_rel=sfr_rel, f_agn=f_agn, q_pah=q_pah))
    true = comps.pop("total")
    frac = np.asarray(wise_frac_sigma, dtype=float)
    if frac.shape != (4,) or np.any(frac <= 0):
        raise invalid("simulate_optical_ir wise_frac_sigma", f"is {wise_frac_sigma}", "pass 4 positive fractions")
    wsig = true * frac[None, :] * rng.uniform(0.75, 1.3, true.shape)
    wobs = true + rng.normal(size=true.shape) * wsig
    params = Table(dict(z=z, log_mass=log_mass, age_gyr=age, tau_gyr=tau, young_frac=young, log_z=log_z, a_v=a_v,
                        sfr=sfr, sfr_rel=sfr_rel, f_agn=f_agn, q_pah=q_pah, decoy_amp=decoy, norm=norm))
    params["age_gyr"].unit = "Gyr"
    params["tau_gyr"].unit = "Gyr"
    params["log_mass"].unit = "dex(Msun)"
    params["sfr"].unit = "Msun/yr"
    params["a_v"].unit = "mag"
    return OpticalIRSim(spectra, wobs, wsig, true, comps, params, line_flux)

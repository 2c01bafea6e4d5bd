"""Variable stars with one latent per star that drives light curve, spectrum and metadata.

The simulator follows the AstroM3 setting (``/work/shared/papers.md`` section 8): ten
ASAS-SN variability classes, each star described by one latent state (class, hidden
subclass, period, effective temperature, luminosity, amplitude, distance) from which three
modalities are generated:

- an ASAS-SN-like V-band light curve (:class:`~astrolab.data.LightCurveSet`, magnitudes):
  100-500 epochs over ~5 yr with seasonal gaps, heteroscedastic noise that grows with the
  apparent magnitude;
- a LAMOST-like low-resolution spectrum (:class:`~astrolab.data.SpectrumSet`, 3850-9000 A):
  Planck continuum at T_eff, Balmer absorption peaking near 9500 K, Ca II H&K, Mg b, Na D,
  the Ca triplet, TiO bands below ~4000 K, C2 Swan bands for carbon Miras, Balmer emission
  for Miras and Ca II emission cores for active rotators;
- Gaia/2MASS/WISE-like metadata with errors (astropy Table with units): parallax, proper
  motions, G/BP/RP, J/H/K, W1/W2 (blackbody colours plus dust excess for Miras/SRs).

Hidden subclasses that no label names:

- ``M`` (Mira): ``"M-O"`` oxygen-rich (P 120-280 d, V amplitude rises steeply with log P,
  TiO bands) and ``"M-C"`` carbon-rich (P 320-600 d, lower and flatter amplitude-period
  relation, cooler, C2 bands, redder and dustier, 0.4 mag fainter at fixed period);
- ``ROT``: ``"ROT-dwarf"`` (BY Dra-like, P 0.5-5 d, K dwarfs, faint) and ``"ROT-giant"``
  (RS CVn-like, P 15-60 d, cool subgiants/giants, 3 mag brighter, stronger activity).

The noise-free light curves (at the observed epochs) and noise-free spectra are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.table import Table

from astrolab.errors import invalid

__all__ = [
    "CLASSES",
    "HIDDEN_SUBCLASSES",
    "METADATA_COLUMNS",
    "SimulatedVariables",
    "simulate_variables",
    "light_curve_shape",
    "synthetic_spectrum",
    "asassn_epochs",
]

#: The ten AstroM3 variability classes (alphabetical, the order of integer labels).
CLASSES = ("DSCT", "EA", "EB", "EW", "HADS", "M", "ROT", "RRAB", "RRC", "SR")

#: Parent class -> its planted hidden subclasses (labels never name them).
HIDDEN_SUBCLASSES = {"M": ("M-O", "M-C"), "ROT": ("ROT-dwarf", "ROT-giant")}

#: Metadata feature columns (Gaia/2MASS/WISE-like) used as the metadata modality.
METADATA_COLUMNS = ("parallax", "parallax_error", "pmra", "pmdec", "phot_g_mean_mag", "bp_rp", "phot_bp_mean_mag",
                    "phot_rp_mean_mag", "j_mag", "h_mag", "k_mag", "w1_mag", "w2_mag", "j_k", "w1_w2",
                    "g_abs_mag")

# class -> (log10 P range [d], T_eff range [K], M_V range [mag], amplitude range [mag], tangential speed [km/s])
_CLASS_PARAMS = {
    "DSCT": ((-1.5, -0.9), (7000, 8500), (2.0, 3.0), (0.02, 0.09), 30),
    "EA": ((0.0, 1.0), (5500, 9500), (0.5, 3.0), (0.3, 1.0), 35),
    "EB": ((-0.3, 0.4), (6000, 9500), (0.5, 2.5), (0.3, 0.8), 35),
    "EW": ((-0.6, -0.25), (5000, 6500), (3.0, 4.5), (0.2, 0.7), 40),
    "HADS": ((-1.3, -0.7), (7000, 8000), (1.5, 2.5), (0.3, 0.8), 35),
    "M": ((2.08, 2.78), (2500, 3300), (-2.0, -0.5), (2.5, 7.0), 40),
    "ROT": ((-0.3, 0.7), (4000, 5300), (5.0, 7.0), (0.05, 0.25), 30),
    "RRAB": ((-0.35, -0.1), (6000, 6900), (0.4, 0.9), (0.6, 1.2), 180),
    "RRC": ((-0.6, -0.38), (7000, 7600), (0.4, 0.9), (0.25, 0.5), 180),
    "SR": ((1.5, 2.3), (3000, 3800), (-1.5, 0.0), (0.3, 1.5), 40),
}

_BALMER = (6562.8, 4861.3, 4340.5, 4101.7, 3970.1, 3889.1)
_TIO_HEADS = (4954.6, 5166.7, 5448.0, 5847.0, 6158.0, 6651.0, 7053.0, 7589.0, 8432.0)
_C2_HEADS = (4737.0, 5165.0, 5636.0, 6191.0)
# effective wavelengths [um] of the broad-band metadata magnitudes (blackbody colours)
_BAND_UM = {"V": 0.55, "G": 0.64, "BP": 0.51, "RP": 0.78, "J": 1.235, "H": 1.662, "K": 2.159, "W1": 3.35, "W2": 4.60}
_VEGA_T = 9600.0


@dataclass
class SimulatedVariables:
    """Output of :func:`simulate_variables`.

    Attributes
    ----------
    data : MultimodalSet
        ``catalog`` (metadata columns with units, ``label``, ``label_index``,
        and the catalogue ``period`` [d]: 1 % scatter, 5 % aliased or spurious), ``lightcurves``
        (V magnitudes, days) and ``spectra`` (3850-9000 A, normalised flux).
    truth : astropy.table.Table
        One row per star: ``object_id``, ``label``, ``label_index``, ``subclass``
        (hidden), ``period`` [d] (true), ``teff`` [K], ``abs_mag_v`` [mag], ``log_lum``
        [log10 L_sun], ``amplitude`` [mag], ``distance`` [pc], ``mean_vmag`` [mag].
    lightcurves_true : LightCurveSet
        Noise-free V magnitudes at the observed epochs (errors = the simulated sigmas).
    spectra_true : SpectrumSet
        Noise-free spectra on the same grid.
    """

    data: object
    truth: Table
    lightcurves_true: object
    spectra_true: object

    @property
    def labels(self) -> np.ndarray:
        """Integer class labels (N,) indexing :data:`CLASSES`."""
        return np.asarray(self.truth["label_index"])


# ------------------------------------------------------------------------------ light curves


def _sawtooth(phase, rise):
    """Brightness-profile magnitude offset in [-0.5, 0.5]: slow decline, fast rise of width ``rise``."""
    ph = np.mod(phase, 1.0)
    rise = np.asarray(rise)
    f = np.where(ph < 1 - rise, ph / (1 - rise), (1 - ph) / rise)  # 0 at maximum light, 1 at minimum
    return f - 0.5


def light_curve_shape(cls: str, phase, amplitude: float, params: dict | None = None, t=None, period=None):
    """Noise-free magnitude offsets of one star of class ``cls``.

    Parameters
    ----------
    cls : str
        One of :data:`CLASSES`.
    phase : array_like, shape (T,)
        Phase in cycles (fractional part used).
    amplitude : float
        Peak-to-peak amplitude [mag] (primary eclipse depth for EA).
    params : dict, optional
        Extra shape parameters (``secondary`` depth ratio, ``width`` of eclipses,
        ``rise`` fraction, ``ratio`` of DSCT mode periods, ``mod`` modulation arrays).
    t, period : array_like (T,), float, optional
        Times [d] and period [d] for multi-periodic / quasi-periodic classes.

    Returns
    -------
    numpy.ndarray, shape (T,)
        Magnitude offsets from the mean (positive = fainter).
    """
    p = params or {}
    ph = np.mod(np.asarray(phase, dtype=float), 1.0)
    two_pi = 2 * np.pi
    if cls == "EW":
        sec = p.get("secondary", 0.9)
        d = np.where(np.abs(ph - 0.5) < 0.25, sec, 1.0)
        return amplitude * d * 0.5 * (1 + np.cos(2 * two_pi * ph)) - amplitude / 2
    if cls == "EA":
        sec, w = p.get("secondary", 0.4), p.get("width", 0.04)
        dist = lambda c: np.minimum(np.abs(ph - c), 1 - np.abs(ph - c))  # noqa: E731
        return amplitude * (np.exp(-0.5 * (dist(0.0) / w) ** 2) + sec * np.exp(-0.5 * (dist(0.5) / w) ** 2))
    if cls == "EB":
        sec = p.get("secondary", 0.6)
        ell = 0.5 * (1 + np.cos(2 * two_pi * ph))
        dist = lambda c: np.minimum(np.abs(ph - c), 1 - np.abs(ph - c))  # noqa: E731
        dips = np.exp(-0.5 * (dist(0.0) / 0.08) ** 2) + sec * np.exp(-0.5 * (dist(0.5) / 0.08) ** 2)
        return amplitude * (0.45 * ell + 0.55 * dips) - 0.3 * amplitude
    if cls in ("RRAB", "HADS"):
        return amplitude * _sawtooth(ph, p.get("rise", 0.15 if cls == "RRAB" else 0.3))
    if cls == "RRC":
        return amplitude * (0.5 * np.cos(two_pi * ph) + 0.08 * np.cos(2 * two_pi * ph + 0.5))
    if cls == "DSCT":
        ratio = p.get("ratio", 0.77)
        tt = np.asarray(t if t is not None else ph, dtype=float)
        per = float(period if period is not None else 1.0)
        return amplitude * (0.4 * np.cos(two_pi * ph) + 0.2 * np.cos(two_pi * tt / (per / ratio) + 1.0))
    if cls == "M":
        return amplitude * (0.5 * np.cos(two_pi * ph) + 0.1 * np.cos(2 * two_pi * ph + 0.8))
    if cls in ("SR", "ROT"):
        mod = p.get("mod")  # multiplicative amplitude modulation per epoch (quasi-periodicity)
        base = 0.5 * np.cos(two_pi * ph + (p.get("phase_walk") if p.get("phase_walk") is not None else 0.0))
        if cls == "ROT":
            base = base + 0.15 * np.cos(2 * two_pi * ph + 0.3)
        return amplitude * base * (mod if mod is not None else 1.0)
    raise invalid("light_curve_shape(cls=...)", f"unknown class {cls!r}", f"use one of {CLASSES}")


def asassn_epochs(rng: np.random.Generator, n_epochs: int, baseline: float = 1800.0, season: float = 240.0,
                  t0: float = 57000.0) -> np.ndarray:
    """ASAS-SN-like irregular epochs with yearly seasonal gaps.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_epochs : int
        Number of epochs T.
    baseline : float
        Total time span [d].
    season : float
        Observable days per 365.25-d year (the rest is the seasonal gap).
    t0 : float
        First possible epoch [MJD].

    Returns
    -------
    numpy.ndarray, shape (T,)
        Sorted MJD [d].
    """
    n_years = int(np.ceil(baseline / 365.25))
    year = rng.integers(0, n_years, size=n_epochs)
    t = t0 + year * 365.25 + rng.uniform(0, season, size=n_epochs)
    # nightly cadence: clump into whole nights (ASAS-SN visits a field every few nights)
    t = np.floor(t) + rng.uniform(0.0, 0.3, size=n_epochs)
    t = np.unique(np.minimum(t, t0 + baseline))
    while t.size < n_epochs:  # duplicates removed: top up
        extra = t0 + rng.uniform(0, baseline, size=n_epochs - t.size)
        t = np.unique(np.concatenate([t, extra]))
    return np.sort(t)[:n_epochs]


# ------------------------------------------------------------------------------ spectra


def _planck_lambda(wave_aa, teff):
    """Planck B_lambda (arbitrary normalisation) at wavelengths [A] for temperatures (N,) [K] -> (N, L)."""
    lam = np.asarray(wave_aa, dtype=float)[None, :] * 1e-10
    t = np.asarray(teff, dtype=float)[:, None]
    x = 1.438776877e-2 / (lam * t)
    return 1.0 / (lam ** 5 * np.expm1(np.minimum(x, 700.0)))


def synthetic_spectrum(wave, teff, cls, subclass, log_g=None):
    """Noise-free normalised spectra from the latent state.

    Parameters
    ----------
    wave : array_like, shape (L,)
        Wavelength grid [A].
    teff : array_like, shape (N,)
        Effective temperature [K].
    cls : sequence of str, shape (N,)
        Variability class of each star (selects class features).
    subclass : sequence of str, shape (N,)
        Hidden subclass (``"M-C"`` gets C2 instead of TiO bands).
    log_g : array_like (N,), optional
        Surface gravity [dex] (broadens the Balmer lines of dwarfs; default 4).

    Returns
    -------
    numpy.ndarray, shape (N, L)
        Flux normalised to mean 1 over the grid (dimensionless).
    """
    wave = np.asarray(wave, dtype=float)
    teff = np.asarray(teff, dtype=float)
    cls = np.asarray(cls, dtype=str)
    subclass = np.asarray(subclass, dtype=str)
    n = teff.size
    logg = np.full(n, 4.0) if log_g is None else np.asarray(log_g, dtype=float)
    cont = _planck_lambda(wave, teff)
    cont /= cont.mean(axis=1, keepdims=True)
    absorb = np.zeros((n, wave.size))
    # Balmer lines: depth peaks near 9500 K; Lorentzian-ish width grows with log g
    balmer_depth = 0.55 * np.exp(-0.5 * ((np.log10(teff) - np.log10(9500.0)) / 0.09) ** 2)
    width = 4.0 + 4.0 * np.clip(logg - 2.0, 0, 3)
    for k, lc in enumerate(_BALMER):
        d = balmer_depth * (1.0 if k < 4 else 0.7)
        absorb += d[:, None] / (1 + ((wave[None, :] - lc) / width[:, None]) ** 2)
    # metal lines: stronger in cool stars
    cool = np.clip((7000.0 - teff) / 3000.0, 0, 1.2)
    for lc, s, w in ((3933.7, 0.6, 8.0), (3968.5, 0.5, 8.0), (5175.0, 0.25, 12.0), (5892.9, 0.3, 6.0),
                     (8498.0, 0.15, 4.0), (8542.1, 0.25, 4.0), (8662.1, 0.2, 4.0), (4300.0, 0.15, 15.0)):
        absorb += (s * cool)[:, None] * np.exp(-0.5 * ((wave[None, :] - lc) / w) ** 2)
    flux = cont * np.exp(-absorb)
    # molecular bands: sharp head, exponential recovery to the red (TiO) or to the blue (C2)
    tio = np.clip((4000.0 - teff) / 1200.0, 0, 1.0) * (subclass != "M-C")
    c2 = (subclass == "M-C") * 1.0
    band = np.zeros((n, wave.size))
    for head in _TIO_HEADS:
        dx = wave - head
        band += tio[:, None] * 0.5 * np.where(dx >= 0, np.exp(-dx / 120.0), 0.0)[None, :]
    for head in _C2_HEADS:
        dx = head - wave
        band += c2[:, None] * 0.45 * np.where(dx >= 0, np.exp(-dx / 150.0), 0.0)[None, :]
    flux = flux * np.exp(-band)
    # emission: Balmer emission in Miras (shock waves), Ca II H&K cores in active rotators
    emis = np.zeros((n, wave.size))
    mira = (cls == "M") * 1.0
    for lc in _BALMER[1:4]:
        emis += mira[:, None] * 0.8 * np.exp(-0.5 * ((wave[None, :] - lc) / 3.0) ** 2)
    act = np.where(subclass == "ROT-giant", 0.9, np.where(cls == "ROT", 0.5, 0.0))
    for lc in (3933.7, 3968.5, 6562.8):
        emis += act[:, None] * np.exp(-0.5 * ((wave[None, :] - lc) / 2.5) ** 2)
    flux = flux + emis * flux.mean(axis=1, keepdims=True) * 0.3
    return flux / flux.mean(axis=1, keepdims=True)


def _bb_mag(teff, band):
    """Blackbody colour term [mag] relative to a 9600 K (Vega-like) star in ``band`` vs V."""
    lam = np.array([_BAND_UM[band] * 1e4, _BAND_UM["V"] * 1e4])
    f = _planck_lambda(lam, teff)
    fv = _planck_lambda(lam, np.array([_VEGA_T]))
    return -2.5 * np.log10((f[:, 0] / f[:, 1]) / (fv[0, 0] / fv[0, 1]))


# ------------------------------------------------------------------------------ the population


def _draw_latents(rng, n, class_weights):
    labels = rng.choice(len(CLASSES), size=n, p=class_weights)
    cls = np.array(CLASSES)[labels]
    sub = cls.astype(object).copy()
    period = np.empty(n)
    teff = np.empty(n)
    absmag = np.empty(n)
    amp = np.empty(n)
    vt = np.empty(n)
    logg = np.empty(n)
    for c in CLASSES:
        m = cls == c
        k = int(m.sum())
        if not k:
            continue
        lp, tr, mr, ar, v = _CLASS_PARAMS[c]
        period[m] = 10 ** rng.uniform(*lp, size=k)
        teff[m] = rng.uniform(*tr, size=k)
        absmag[m] = rng.uniform(*mr, size=k)
        amp[m] = rng.uniform(*ar, size=k)
        vt[m] = v
        logg[m] = {"M": 0.5, "SR": 1.0, "RRAB": 2.7, "RRC": 2.9, "EA": 4.0, "EB": 3.8, "EW": 4.2,
                   "HADS": 3.8, "DSCT": 3.9, "ROT": 4.5}[c]
    # period-luminosity(-temperature) relations tie the light curve to the metadata and the spectrum
    lp_all = np.log10(period)
    for c, (slope, pivot, scatter) in {"DSCT": (-3.0, -1.2, 0.15), "HADS": (-3.0, -1.0, 0.15), "EW": (-4.4, -0.4, 0.2),
                                        "RRAB": (-1.0, -0.25, 0.1), "RRC": (-1.0, -0.5, 0.1), "SR": (-2.0, 1.9, 0.3)}.items():
        m = cls == c
        mid = np.mean(_CLASS_PARAMS[c][2])
        absmag[m] = mid + slope * (lp_all[m] - pivot) + rng.normal(0, scatter, int(m.sum()))
    for c, slope in {"RRAB": -2500.0, "RRC": -2500.0, "SR": -600.0, "DSCT": -1500.0, "HADS": -1500.0}.items():
        m = cls == c
        lo_t, hi_t = _CLASS_PARAMS[c][1]
        teff[m] = np.clip(0.5 * (lo_t + hi_t) + slope * (lp_all[m] - np.mean(_CLASS_PARAMS[c][0])) + rng.normal(0, 100, int(m.sum())),
                          lo_t - 300, hi_t + 300)
    # hidden Mira subtypes: different period ranges and period-amplitude relations
    mi = np.flatnonzero(cls == "M")
    is_c = rng.random(mi.size) < 0.5
    lp = np.where(is_c, rng.uniform(np.log10(320), np.log10(600), mi.size), rng.uniform(np.log10(120), np.log10(280), mi.size))
    period[mi] = 10 ** lp
    amp[mi] = np.where(is_c, 2.0 + 1.0 * (lp - 2.5), 3.0 + 6.0 * (lp - 2.2)) + rng.normal(0, 0.25, mi.size)
    teff[mi] = np.where(is_c, rng.uniform(2500, 2900, mi.size), rng.uniform(2800, 3300, mi.size))
    absmag[mi] = -1.2 - 2.5 * (lp - 2.4) + np.where(is_c, 0.4, 0.0) + rng.normal(0, 0.15, mi.size)
    sub[mi] = np.where(is_c, "M-C", "M-O")
    # hidden rotator groups: BY Dra dwarfs and RS CVn giants
    ri = np.flatnonzero(cls == "ROT")
    is_g = rng.random(ri.size) < 0.5
    period[ri] = np.where(is_g, 10 ** rng.uniform(np.log10(15), np.log10(60), ri.size), 10 ** rng.uniform(np.log10(0.5), np.log10(5), ri.size))
    teff[ri] = np.where(is_g, rng.uniform(4000, 4700, ri.size), rng.uniform(4300, 5300, ri.size))
    absmag[ri] = np.where(is_g, rng.uniform(2.0, 3.5, ri.size), rng.uniform(5.5, 7.0, ri.size))
    amp[ri] = np.where(is_g, rng.uniform(0.12, 0.3, ri.size), rng.uniform(0.04, 0.15, ri.size))
    logg[ri] = np.where(is_g, 3.0, 4.6)
    sub[ri] = np.where(is_g, "ROT-giant", "ROT-dwarf")
    return labels, cls, sub.astype(str), period, teff, absmag, amp, vt, logg


def simulate_variables(n_stars: int = 1000, *, n_epochs=(100, 500), baseline: float = 1800.0,
                       wave_step: float = 2.0, wave_range=(3850.0, 9000.0), spectrum_snr=(10.0, 60.0),
                       vmag_range=(9.0, 15.5), class_weights=None, seed: int = 0) -> SimulatedVariables:
    """Simulate a trimodal variable-star sample with known latents and hidden subclasses.

    Parameters
    ----------
    n_stars : int
        Number of stars N.
    n_epochs : (int, int)
        Range of light-curve epochs per star (uniform integer draw).
    baseline : float
        Light-curve time span [d].
    wave_step : float
        Spectral pixel size [A] (2 A gives the AstroM3 grid of 2575 pixels).
    wave_range : (float, float)
        Spectral range [A].
    spectrum_snr : (float, float)
        Range of the median signal-to-noise per pixel (log-uniform draw).
    vmag_range : (float, float)
        Range of mean apparent V magnitudes [mag]; distances follow.
    class_weights : array_like (10,), optional
        Class frequencies (default: equal).
    seed : int
        Random seed.

    Returns
    -------
    SimulatedVariables
        Observed data (``data``), latents (``truth``) and noise-free modalities.
    """
    from astrolab.data.containers import LightCurveSet, MultimodalSet, SpectrumSet

    if not isinstance(n_stars, (int, np.integer)) or n_stars < 1:
        raise invalid("simulate_variables(n_stars=...)", f"got {n_stars!r}", "pass a positive integer")
    lo, hi = int(n_epochs[0]), int(n_epochs[1])
    if not 3 <= lo <= hi:
        raise invalid("simulate_variables(n_epochs=...)", f"got {n_epochs!r}", "pass (min, max) with 3 <= min <= max")
    w = np.ones(len(CLASSES)) if class_weights is None else np.asarray(class_weights, dtype=float)
    if w.shape != (len(CLASSES),) or np.any(w < 0) or w.sum() <= 0:
        raise invalid("simulate_variables(class_weights=...)", f"got {class_weights!r}", f"pass {len(CLASSES)} non-negative weights")
    rng = np.random.default_rng(seed)
    n = int(n_stars)
    labels, cls, sub, period, teff, absmag, amp, vt, logg = _draw_latents(rng, n, w / w.sum())
    vmag = rng.uniform(*vmag_range, size=n)
    dist_pc = 10 ** ((vmag - absmag + 5.0) / 5.0)

    # ---- light curves
    times, vals, errs, vals_true = [], [], [], []
    for i in range(n):
        t = asassn_epochs(rng, int(rng.integers(lo, hi + 1)), baseline=baseline)
        phase = (t - t[0]) / period[i] + rng.random()
        params = {"secondary": rng.uniform(0.1, 0.7) if cls[i] == "EA" else rng.uniform(0.75, 0.95) if cls[i] == "EW" else rng.uniform(0.4, 0.8),
                  "width": rng.uniform(0.025, 0.06), "ratio": rng.uniform(0.75, 0.8)}
        if cls[i] in ("SR", "ROT"):
            # quasi-periodic: slowly varying amplitude and a phase random walk (coherence ~ few cycles)
            tau = period[i] * (3.0 if cls[i] == "SR" else 8.0)
            knots = np.arange(t[0] - tau, t[-1] + 2 * tau, tau)
            params["mod"] = np.interp(t, knots, rng.uniform(0.5, 1.3, knots.size))
            params["phase_walk"] = np.interp(t, knots, np.cumsum(rng.normal(0, 0.6, knots.size)))
        if cls[i] == "M":  # cycle-to-cycle mean-magnitude wander
            params_m = 0.15 * amp[i] * np.sin(2 * np.pi * t / (period[i] * rng.uniform(8, 15)))
        else:
            params_m = 0.0
        dm = light_curve_shape(cls[i], phase, amp[i], params, t=t, period=period[i]) + params_m
        m_true = vmag[i] + dm
        sigma = 0.008 + 0.02 * 10 ** (0.4 * (m_true - 14.0))
        sigma = np.minimum(sigma * rng.lognormal(0, 0.2, size=t.size), 1.0)
        times.append(t)
        vals_true.append(m_true)
        vals.append(m_true + sigma * rng.normal(size=t.size))
        errs.append(sigma)
    ids = np.arange(n, dtype=np.int64)
    lcs = LightCurveSet(times, vals, errs, bands="V", kind="mag", ids=ids)
    lcs_true = LightCurveSet(times, vals_true, errs, bands="V", kind="mag", ids=ids)

    # ---- spectra
    wave = np.arange(wave_range[0], wave_range[1] + 1e-9, wave_step)
    f_true = synthetic_spectrum(wave, teff, cls, sub, logg)
    snr = np.exp(rng.uniform(np.log(spectrum_snr[0]), np.log(spectrum_snr[1]), size=n))
    # blue end noisier (LAMOST throughput) and cool stars faint in the blue
    sig = (np.sqrt(np.maximum(f_true, 0.02)) / snr[:, None]) * (1.0 + 1.5 * np.exp(-(wave - wave[0]) / 400.0))[None, :]
    flux = f_true + sig * rng.normal(size=f_true.shape)
    spectra = SpectrumSet(wave, flux, ivar=1.0 / sig ** 2, ids=ids, flux_unit=u.dimensionless_unscaled)
    spectra_true = SpectrumSet(wave, f_true, ivar=1.0 / sig ** 2, ids=ids, flux_unit=u.dimensionless_unscaled)

    # ---- metadata (Gaia / 2MASS / WISE), mean magnitudes from blackbody colours
    mean_v = np.array([np.mean(v) for v in vals_true])  # mean of the noise-free curve
    plx = 1000.0 / dist_pc
    plx_err = 0.015 + 0.02 * 10 ** (0.2 * (vmag - 12.0))
    mags = {b: mean_v + _bb_mag(teff, b) for b in ("G", "BP", "RP", "J", "H", "K", "W1", "W2")}
    dusty = np.isin(cls, ["M", "SR"]) * 1.0 + (sub == "M-C") * 0.6
    mags["W1"] = mags["W1"] - 0.4 * dusty
    mags["W2"] = mags["W2"] - 0.8 * dusty
    pm_tot = vt / (4.74 * dist_pc / 1000.0)  # mas/yr
    ang = rng.uniform(0, 2 * np.pi, n)
    pm_scatter = rng.lognormal(0.0, 0.5, n)
    cat = Table()
    cat["object_id"] = ids
    cat["label"] = cls
    cat["label_index"] = labels.astype(np.int64)
    noisy = lambda x, s: x + s * rng.normal(size=n)  # noqa: E731
    cat["parallax"] = noisy(plx, plx_err) * u.mas
    cat["parallax_error"] = plx_err * u.mas
    cat["pmra"] = noisy(pm_tot * pm_scatter * np.cos(ang), 0.05) * u.mas / u.yr
    cat["pmdec"] = noisy(pm_tot * pm_scatter * np.sin(ang), 0.05) * u.mas / u.yr
    for col, b, s in (("phot_g_mean_mag", "G", 0.003), ("phot_bp_mean_mag", "BP", 0.01), ("phot_rp_mean_mag", "RP", 0.01),
                      ("j_mag", "J", 0.025), ("h_mag", "H", 0.03), ("k_mag", "K", 0.03), ("w1_mag", "W1", 0.03),
                      ("w2_mag", "W2", 0.03)):
        cat[col] = noisy(mags[b], s) * u.mag
        cat[col + "_error"] = np.full(n, s) * u.mag
    # ASAS-SN-catalogue-like photometric features: period with 1 % scatter, 5 % wrong (aliases / spurious)
    p_cat = period * rng.lognormal(0.0, 0.01, n)
    wrong = rng.random(n) < 0.05
    p_cat[wrong] = np.where(rng.random(int(wrong.sum())) < 0.5, p_cat[wrong] * rng.choice([0.5, 2.0], int(wrong.sum())),
                            10 ** rng.uniform(-1.5, 2.7, int(wrong.sum())))
    cat["period"] = p_cat * u.day
    cat["bp_rp"] = (cat["phot_bp_mean_mag"] - cat["phot_rp_mean_mag"])
    cat["j_k"] = cat["j_mag"] - cat["k_mag"]
    cat["w1_w2"] = cat["w1_mag"] - cat["w2_mag"]
    # absolute G from the observed parallax (NaN-free: floor the parallax at its error)
    cat["g_abs_mag"] = (np.asarray(cat["phot_g_mean_mag"]) + 5 * np.log10(np.maximum(np.asarray(cat["parallax"]), plx_err) / 100.0)) * u.mag
    data = MultimodalSet(cat, spectra=spectra, lightcurves=lcs)

    truth = Table()
    truth["object_id"] = ids
    truth["label"] = cls
    truth["label_index"] = labels.astype(np.int64)
    truth["subclass"] = sub
    truth["period"] = period * u.day
    truth["teff"] = teff * u.K
    truth["log_g"] = logg
    truth["abs_mag_v"] = absmag * u.mag
    truth["log_lum"] = (4.83 - absmag) / 2.5
    truth["amplitude"] = amp * u.mag
    truth["distance"] = dist_pc * u.pc
    truth["mean_vmag"] = mean_v * u.mag
    truth["spectrum_snr"] = snr
    return SimulatedVariables(data=data, truth=truth, lightcurves_true=lcs_true, spectra_true=spectra_true)

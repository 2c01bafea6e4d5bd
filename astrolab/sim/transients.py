"""Transient light curves (two-band Bazin model) and spectra (narrow lines, irregular grids), with truths.

Shen & Gagliano's daep tests (``/work/shared/papers.md`` section 2) reconstruct irregular
multi-band light curves; the truth here is the parametric curve (Bazin et al. 2009)::

    f_b(t) = A_b * exp(-(t - t0) / tau_fall_b) / (1 + exp(-(t - t0) / tau_rise)) + B

with class-dependent rise/decline times and colours (ratio A_g / A_r that evolves with
decline times longer in r): ``Ia`` (fast rise, ~30 d decline, blue then red), ``Ibc``
(faster, redder), ``II`` (slower rise, long plateau-like decline).

:func:`simulate_transient_spectra` gives toy spectra of the same three classes on per-object
irregular wavelength grids: a blackbody continuum (class-dependent temperature), three narrow
Gaussian lines per class of known centre, width and equivalent width (:data:`SPECTRAL_LINES`),
heteroscedastic noise and masked chunks, with the noise-free spectrum everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from astrolab.errors import invalid

__all__ = ["TRANSIENT_CLASSES", "bazin_flux", "SimulatedTransients", "simulate_transients", "SPECTRAL_LINES",
           "blackbody_continuum", "line_profile", "equivalent_width", "SimulatedTransientSpectra",
           "simulate_transient_spectra"]

TRANSIENT_CLASSES = ("Ia", "Ibc", "II")

# class -> (tau_rise range [d], tau_fall_r range [d], g/r peak ratio range, tau_fall_g / tau_fall_r range)
_PARAMS = {
    "Ia": ((1.5, 4.0), (25.0, 40.0), (1.0, 1.4), (0.55, 0.75)),
    "Ibc": ((1.0, 3.0), (12.0, 22.0), (0.6, 0.9), (0.7, 0.9)),
    "II": ((3.0, 8.0), (60.0, 120.0), (0.9, 1.3), (0.4, 0.6)),
}


def bazin_flux(t, amplitude, t0, tau_rise, tau_fall, baseline=0.0):
    """Bazin transient flux.

    Parameters
    ----------
    t : array_like (T,)
        Times [d].
    amplitude, t0, tau_rise, tau_fall, baseline : float
        Amplitude [flux units], reference time [d], rise and fall times [d] (> 0), constant [flux units].

    Returns
    -------
    numpy.ndarray (T,)
        Flux [flux units].
    """
    t = np.asarray(t, dtype=float)
    x = (t - t0)
    return amplitude * np.exp(-x / tau_fall - np.logaddexp(0.0, -x / tau_rise)) + baseline


@dataclass
class SimulatedTransients:
    """Output of :func:`simulate_transients`.

    Attributes
    ----------
    lightcurves : LightCurveSet
        Observed fluxes (bands "g", "r"; days).
    lightcurves_true : LightCurveSet
        Noise-free fluxes at the same epochs.
    params : astropy.table.Table
        One row per object: ``object_id``, ``label``, ``label_index``, ``t0`` [d], ``tau_rise`` [d],
        ``tau_fall_g``, ``tau_fall_r`` [d], ``amp_g``, ``amp_r`` [flux units].
    """

    lightcurves: object
    lightcurves_true: object
    params: Table

    def truth(self, i: int, t, band: str) -> np.ndarray:
        """Noise-free flux of object row ``i`` in ``band`` at times ``t`` [d] (any grid)."""
        p = self.params[i]
        return bazin_flux(t, p[f"amp_{band}"], p["t0"], p["tau_rise"], p[f"tau_fall_{band}"])


def simulate_transients(n: int = 500, *, n_epochs=(20, 60), span=(-30.0, 150.0), noise: float = 0.03,
                        class_weights=None, seed: int = 0) -> SimulatedTransients:
    """Simulate irregular two-band transient light curves (Bazin model) with their noise-free truth.

    Parameters
    ----------
    n : int
        Number of transients.
    n_epochs : (int, int)
        Range of epochs per band (nightly cadence with random gaps).
    span : (float, float)
        Observed window relative to t0 = 0 [d].
    noise : float
        Noise floor as a fraction of the peak flux (plus a Poisson-like term).
    class_weights : array_like (3,), optional
        Frequencies of :data:`TRANSIENT_CLASSES`.
    seed : int

    Returns
    -------
    SimulatedTransients
    """
    from astrolab.data.containers import LightCurveSet

    if not isinstance(n, (int, np.integer)) or n < 1:
        raise invalid("simulate_transients(n=...)", f"got {n!r}", "pass a positive integer")
    w = np.ones(3) if class_weights is None else np.asarray(class_weights, float)
    if w.shape != (3,) or np.any(w < 0) or w.sum() <= 0:
        raise invalid("simulate_transients(class_weights=...)", f"got {class_weights!r}", "pass 3 non-negative weights")
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=n, p=w / w.sum())
    rows, times, vals, errs, truths, bands = [], [], [], [], [], []
    for i in range(n):
        c = TRANSIENT_CLASSES[labels[i]]
        tr_rng, tf_rng, col_rng, ratio_rng = _PARAMS[c]
        tau_rise = rng.uniform(*tr_rng)
        tau_fall_r = rng.uniform(*tf_rng)
        tau_fall_g = tau_fall_r * rng.uniform(*ratio_rng)
        amp_r = 10 ** rng.uniform(0.0, 1.0)
        amp_g = amp_r * rng.uniform(*col_rng)
        t0 = rng.uniform(-5.0, 5.0)
        ts, ys, es, fs, bs = [], [], [], [], []
        for b, amp, tf in (("g", amp_g, tau_fall_g), ("r", amp_r, tau_fall_r)):
            k = int(rng.integers(n_epochs[0], n_epochs[1] + 1))
            t = np.sort(rng.uniform(*span, size=k))
            f = bazin_flux(t, amp, t0, tau_rise, tf)
            peak = max(amp_g, amp_r)
            sig = np.sqrt((noise * peak) ** 2 + 0.01 * peak * np.abs(f)) * rng.lognormal(0, 0.2, k)
            ts.append(t), fs.append(f), es.append(sig), ys.append(f + sig * rng.normal(size=k)), bs.append(np.full(k, b))
        t = np.concatenate(ts)
        order = np.argsort(t, kind="stable")
        times.append(t[order] + 59000.0)
        vals.append(np.concatenate(ys)[order])
        errs.append(np.concatenate(es)[order])
        truths.append(np.concatenate(fs)[order])
        bands.append(np.concatenate(bs)[order])
        rows.append((i, c, int(labels[i]), t0 + 59000.0, tau_rise, tau_fall_g, tau_fall_r, amp_g, amp_r))
    ids = np.arange(n, dtype=np.int64)
    lcs = LightCurveSet(times, vals, errs, bands=bands, kind="flux", ids=ids)
    lcs_true = LightCurveSet(times, truths, errs, bands=bands, kind="flux", ids=ids)
    params = Table(rows=rows, names=("object_id", "label", "label_index", "t0", "tau_rise", "tau_fall_g", "tau_fall_r",
                                     "amp_g", "amp_r"))
    for col in ("t0", "tau_rise", "tau_fall_g", "tau_fall_r"):
        params[col].unit = "d"
    return SimulatedTransients(lcs, lcs_true, params)


# ---------------------------------------------------------------------------------------------
# Spectra on irregular wavelength grids with known narrow lines and masked chunks
# ---------------------------------------------------------------------------------------------

#: Narrow lines of each class: (name, rest centre [Angstrom], kind). Emission lines add flux
#: ``h * C`` at the peak (h in [0.5, 1.5]); absorption lines remove a fraction d in [0.3, 0.7]
#: of the continuum at the centre. "He I 5876" is in absorption for Ibc, in emission for II.
SPECTRAL_LINES = {
    "Ia": (("Fe II 4924", 4924.0, "absorption"), ("S II 5454", 5454.0, "absorption"), ("Si II 6150", 6150.0, "absorption")),
    "Ibc": (("He I 5876", 5876.0, "absorption"), ("He I 6678", 6678.0, "absorption"), ("O I 7774", 7774.0, "absorption")),
    "II": (("H beta", 4861.0, "emission"), ("He I 5876", 5876.0, "emission"), ("H alpha", 6563.0, "emission")),
}

# class -> photospheric temperature range [K] of the blackbody continuum
_TEMPERATURE = {"Ia": (8000.0, 11000.0), "Ibc": (6000.0, 8500.0), "II": (10000.0, 16000.0)}
_SPEC_RANGE = (3900.0, 8100.0)


def blackbody_continuum(wavelength, temperature_k, amplitude=1.0, pivot_aa: float = 6000.0):
    """Planck B_lambda(T) continuum scaled to ``amplitude`` at ``pivot_aa``.

    Parameters
    ----------
    wavelength : array_like (L,)
        Wavelengths [Angstrom].
    temperature_k : float
        Temperature [K] (> 0).
    amplitude : float
        Flux density at ``pivot_aa`` [flux units].
    pivot_aa : float
        Normalisation wavelength [Angstrom].

    Returns
    -------
    numpy.ndarray (L,)
        Flux density [flux units].
    """
    hc_k = 1.438777e8  # h c / k_B [Angstrom K]
    lam = np.asarray(wavelength, dtype=float)

    def planck(x):
        return x ** -5 / np.expm1(hc_k / (x * temperature_k))

    return amplitude * planck(lam) / planck(pivot_aa)


def line_profile(wavelength, centre_aa, sigma_aa, ew_aa):
    """Fractional line profile ``ew * G(lambda)`` of a Gaussian line of equivalent width ``ew``.

    The spectrum is ``C(lambda) * (1 + sum of profiles)``, so that
    ``integral (F / C - 1) d lambda = ew`` for each isolated line.

    Parameters
    ----------
    wavelength : array_like (L,)
        Wavelengths [Angstrom].
    centre_aa, sigma_aa : float
        Line centre and Gaussian width [Angstrom].
    ew_aa : float
        Equivalent width [Angstrom]: > 0 emission, < 0 absorption.

    Returns
    -------
    numpy.ndarray (L,)
        Dimensionless fractional excess over the continuum.
    """
    lam = np.asarray(wavelength, dtype=float)
    return ew_aa * np.exp(-0.5 * ((lam - centre_aa) / sigma_aa) ** 2) / (np.sqrt(2 * np.pi) * sigma_aa)


def equivalent_width(wavelength, flux, continuum, lo: float, hi: float, mask=None) -> float:
    """Equivalent width ``integral_lo^hi (F / C - 1) d lambda`` [Angstrom] by the trapezoid rule.

    Parameters
    ----------
    wavelength : array_like (L,)
        Strictly increasing wavelengths [Angstrom] (any irregular grid).
    flux, continuum : array_like (L,)
        Flux density and continuum [same flux units]; continuum > 0.
    lo, hi : float
        Integration window [Angstrom].
    mask : array_like of bool (L,), optional
        True = pixel not used (the integral bridges it linearly).

    Returns
    -------
    float
        > 0 for emission, < 0 for absorption; NaN when fewer than 2 usable pixels fall in the window.
    """
    lam = np.asarray(wavelength, dtype=float)
    f, c = np.asarray(flux, dtype=float), np.asarray(continuum, dtype=float)
    if lam.ndim != 1 or f.shape != lam.shape or c.shape != lam.shape:
        raise invalid("equivalent_width", f"shapes {lam.shape}, {f.shape}, {c.shape} differ or are not (L,)",
                      "pass 1-D wavelength, flux and continuum of one spectrum")
    if np.any(c <= 0):
        raise invalid("equivalent_width(continuum=...)", "has values <= 0", "pass a positive continuum")
    use = (lam >= lo) & (lam <= hi)
    if mask is not None:
        use &= ~np.asarray(mask, dtype=bool)
    if use.sum() < 2:
        return float("nan")
    y = f[use] / c[use] - 1.0
    x = lam[use]
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


@dataclass
class SimulatedTransientSpectra:
    """Output of :func:`simulate_transient_spectra`.

    Attributes
    ----------
    spectra : SpectrumSet
        Observed spectra (N, L) on per-object irregular grids [Angstrom]; ``mask`` True inside the
        masked chunks (flux 0, ivar 0 there).
    spectra_true : SpectrumSet
        Noise-free spectra on the same grids, defined everywhere (no mask).
    params : astropy.table.Table
        One row per object: ``object_id``, ``label``, ``label_index``, ``temperature`` [K],
        ``amplitude`` (continuum at 6000 A) [flux units], ``snr`` (continuum S/N per pixel).
    lines : astropy.table.Table
        One row per line and object: ``object_id``, ``name``, ``kind``, ``centre`` [Angstrom],
        ``sigma`` [Angstrom], ``ew`` [Angstrom] (> 0 emission, < 0 absorption).
    chunks : astropy.table.Table
        One row per masked chunk: ``object_id``, ``lo``, ``hi`` [Angstrom].
    """

    spectra: object
    spectra_true: object
    params: Table
    lines: Table
    chunks: Table

    def _row(self, i: int):
        n = len(self.params)
        if not -n <= int(i) < n:
            raise invalid("SimulatedTransientSpectra", f"object row {i} out of range for {n} objects", f"pass 0 <= i < {n}")
        return self.params[int(i)]

    def continuum(self, i: int, wavelength) -> np.ndarray:
        """Noise-free continuum (L,) [flux units] of object row ``i`` at ``wavelength`` (L,) [Angstrom]."""
        p = self._row(i)
        return blackbody_continuum(wavelength, p["temperature"], p["amplitude"])

    def object_lines(self, i: int) -> Table:
        """Rows of :attr:`lines` of object row ``i``."""
        oid = self._row(i)["object_id"]
        return self.lines[self.lines["object_id"] == oid]

    def truth(self, i: int, wavelength) -> np.ndarray:
        """Noise-free flux (L,) [flux units] of object row ``i`` at ``wavelength`` (L,) [Angstrom] (any grid)."""
        lam = np.asarray(wavelength, dtype=float)
        frac = np.zeros_like(lam)
        for ln in self.object_lines(i):
            frac += line_profile(lam, ln["centre"], ln["sigma"], ln["ew"])
        return self.continuum(i, lam) * (1.0 + frac)


def simulate_transient_spectra(n: int = 500, *, n_pixels: int = 200, wave_range=_SPEC_RANGE, snr=(15.0, 40.0),
                               sigma_aa=(12.0, 25.0), n_chunks=(1, 2), chunk_width_aa=(150.0, 400.0),
                               class_weights=None, seed: int = 0) -> SimulatedTransientSpectra:
    """Simulate toy transient spectra on irregular wavelength grids with known narrow lines and masked chunks.

    Each object gets a blackbody continuum (class-dependent temperature, random amplitude), the three
    narrow Gaussian lines of its class (:data:`SPECTRAL_LINES`; centres jittered by +-5 A, widths in
    ``sigma_aa``, emission peaks 0.5-1.5 x the continuum, absorption depths 0.3-0.7), a per-object
    irregular grid (random coverage, jittered pixels), heteroscedastic Gaussian noise and masked chunks.

    Parameters
    ----------
    n : int
        Number of spectra.
    n_pixels : int
        Pixels per spectrum L (the same for every object; the grids differ).
    wave_range : (float, float)
        Widest coverage [Angstrom]; each grid starts within the first 5 % and ends within the last 5 %.
    snr : (float, float)
        Range of the continuum signal-to-noise per pixel.
    sigma_aa : (float, float)
        Range of the Gaussian line widths [Angstrom].
    n_chunks : (int, int)
        Range of masked chunks per spectrum (inclusive).
    chunk_width_aa : (float, float)
        Range of chunk widths [Angstrom].
    class_weights : array_like (3,), optional
        Frequencies of :data:`TRANSIENT_CLASSES`.
    seed : int

    Returns
    -------
    SimulatedTransientSpectra
    """
    from astrolab.data.containers import SpectrumSet

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise invalid("simulate_transient_spectra(n=...)", f"got {n!r}", "pass a positive integer")
    if isinstance(n_pixels, bool) or not isinstance(n_pixels, (int, np.integer)) or n_pixels < 16:
        raise invalid("simulate_transient_spectra(n_pixels=...)", f"got {n_pixels!r}", "pass an integer >= 16")
    lo_w, hi_w = (float(v) for v in wave_range)
    if not (0 < lo_w < hi_w):
        raise invalid("simulate_transient_spectra(wave_range=...)", f"got {wave_range!r}", "pass (lo, hi) Angstrom with 0 < lo < hi")
    if not (0 < snr[0] <= snr[1]):
        raise invalid("simulate_transient_spectra(snr=...)", f"got {snr!r}", "pass (lo, hi) with 0 < lo <= hi")
    if not (0 < sigma_aa[0] <= sigma_aa[1]):
        raise invalid("simulate_transient_spectra(sigma_aa=...)", f"got {sigma_aa!r}", "pass (lo, hi) Angstrom with 0 < lo <= hi")
    if not (0 <= n_chunks[0] <= n_chunks[1]) or not (0 < chunk_width_aa[0] <= chunk_width_aa[1]):
        raise invalid("simulate_transient_spectra(n_chunks/chunk_width_aa=...)", f"got {n_chunks!r}, {chunk_width_aa!r}",
                      "pass 0 <= min <= max chunks and 0 < min <= max width")
    w = np.ones(3) if class_weights is None else np.asarray(class_weights, float)
    if w.shape != (3,) or np.any(w < 0) or w.sum() <= 0:
        raise invalid("simulate_transient_spectra(class_weights=...)", f"got {class_weights!r}", "pass 3 non-negative weights")
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=n, p=w / w.sum())
    span = hi_w - lo_w
    wl = np.zeros((n, n_pixels))
    flux, flux_true, ivar = np.zeros((n, n_pixels)), np.zeros((n, n_pixels)), np.zeros((n, n_pixels))
    mask = np.zeros((n, n_pixels), dtype=bool)
    rows, line_rows, chunk_rows = [], [], []
    for i in range(n):
        c = TRANSIENT_CLASSES[labels[i]]
        temp = rng.uniform(*_TEMPERATURE[c])
        amp = 10 ** rng.uniform(0.0, 1.0)
        s2n = rng.uniform(*snr)
        start = lo_w + rng.uniform(0, 0.05) * span
        stop = hi_w - rng.uniform(0, 0.05) * span
        base = np.linspace(start, stop, n_pixels)
        step = base[1] - base[0]
        jitter = rng.uniform(-0.45, 0.45, n_pixels)
        jitter[0], jitter[-1] = abs(jitter[0]), -abs(jitter[-1])  # the grid stays inside [start, stop]
        lam = base + jitter * step  # irregular, still strictly increasing
        wl[i] = lam
        cont = blackbody_continuum(lam, temp, amp)
        frac = np.zeros(n_pixels)
        for name, centre, kind in SPECTRAL_LINES[c]:
            sig = rng.uniform(*sigma_aa)
            norm = np.sqrt(2 * np.pi) * sig
            ew = rng.uniform(0.5, 1.5) * norm if kind == "emission" else -rng.uniform(0.3, 0.7) * norm
            cen = centre + rng.uniform(-5.0, 5.0)
            frac += line_profile(lam, cen, sig, ew)
            line_rows.append((i, name, kind, cen, sig, ew))
        f = cont * (1.0 + frac)
        err = np.sqrt((f / s2n) ** 2 + (0.02 * amp) ** 2) * rng.lognormal(0.0, 0.15, n_pixels)
        y = f + err * rng.normal(size=n_pixels)
        m = np.zeros(n_pixels, dtype=bool)
        for _ in range(int(rng.integers(n_chunks[0], n_chunks[1] + 1))):
            width = rng.uniform(*chunk_width_aa)
            a = rng.uniform(start, stop - width)
            m |= (lam >= a) & (lam <= a + width)
            chunk_rows.append((i, a, a + width))
        flux_true[i] = f
        flux[i] = np.where(m, 0.0, y)
        ivar[i] = np.where(m, 0.0, 1.0 / err ** 2)
        mask[i] = m
        rows.append((i, c, int(labels[i]), temp, amp, s2n))
    ids = np.arange(n, dtype=np.int64)
    spectra = SpectrumSet(wl, flux, ivar=ivar, mask=mask, ids=ids)
    spectra_true = SpectrumSet(wl, flux_true, ids=ids)
    params = Table(rows=rows, names=("object_id", "label", "label_index", "temperature", "amplitude", "snr"))
    params["temperature"].unit = "K"
    lines = Table(rows=line_rows, names=("object_id", "name", "kind", "centre", "sigma", "ew"),
                  dtype=(np.int64, "U16", "U10", float, float, float))
    chunks = Table(rows=chunk_rows, names=("object_id", "lo", "hi"), dtype=(np.int64, float, float)) if chunk_rows else \
        Table(names=("object_id", "lo", "hi"), dtype=(np.int64, float, float))
    for t, cols in ((lines, ("centre", "sigma", "ew")), (chunks, ("lo", "hi"))):
        for col in cols:
            t[col].unit = "Angstrom"
    return SimulatedTransientSpectra(spectra, spectra_true, params, lines, chunks)

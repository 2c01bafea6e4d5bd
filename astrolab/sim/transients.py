"""Two-band ZTF-like transient light curves from a Bazin model, with the noise-free truth.

Shen & Gagliano's daep tests (``/work/shared/papers.md`` section 2) reconstruct irregular
multi-band light curves; the truth here is the parametric curve (Bazin et al. 2009)::

    f_b(t) = A_b * exp(-(t - t0) / tau_fall_b) / (1 + exp(-(t - t0) / tau_rise)) + B

with class-dependent rise/decline times and colours (ratio A_g / A_r that evolves with
decline times longer in r): ``Ia`` (fast rise, ~30 d decline, blue then red), ``Ibc``
(faster, redder), ``II`` (slower rise, long plateau-like decline).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from astrolab.errors import invalid

__all__ = ["TRANSIENT_CLASSES", "bazin_flux", "SimulatedTransients", "simulate_transients"]

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

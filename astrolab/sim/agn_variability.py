"""AGN optical variability as a damped random walk (DRW), observed with survey cadence.

The DRW (Ornstein-Uhlenbeck process; Kelly et al. 2009, MacLeod et al. 2010)
has a damping time-scale ``tau`` (rest frame, days) and an asymptotic
structure function ``sf_inf`` (mag). Observed time-scales are stretched by
(1 + z). Bluer bands vary more (amplitude ratio ``band_amplitude``).
"""

from __future__ import annotations

import numpy as np

from astrolab.errors import invalid

__all__ = ["simulate_drw_lightcurves"]


def simulate_drw_lightcurves(redshift, mean_mag, *, bands=("g", "r"), band_amplitude=(1.0, 0.8),
                             tau_rest_days=None, sf_inf_mag=None, n_epochs=(60, 200), baseline_days=1500.0,
                             season_days=200.0, mag_err_floor=0.01, depth_mag=24.5, ids=None, seed=0,
                             return_truth=False):
    """Simulate multi-band AGN light curves with irregular, seasonal sampling.

    Parameters
    ----------
    redshift : array (N,)
        Redshifts (stretch the observed time-scales by 1 + z).
    mean_mag : array (N,) or (N, B)
        Mean magnitude per object (and band) [AB mag].
    bands : sequence of str
        Band names B.
    band_amplitude : sequence of float (B,)
        Variability amplitude of each band relative to the first.
    tau_rest_days : array (N,), optional
        Rest-frame damping time [days]; default log-normal around 200 d.
    sf_inf_mag : array (N,), optional
        Asymptotic structure function [mag]; default 0.15-0.35 mag, larger for fainter objects.
    n_epochs : (int, int)
        Range of the number of epochs per object (all bands together).
    baseline_days : float
        Survey duration [days]; observations start at MJD 59000.
    season_days : float
        Observable days per year (the rest is the seasonal gap).
    mag_err_floor, depth_mag : float
        Photometric error model: sqrt(floor^2 + (0.2 * 10**(0.4 (m - depth)))^2) [mag].
    ids : array (N,), optional
        Object ids (default 0..N-1).
    seed : int
        Random seed (deterministic output).
    return_truth : bool
        Also return the noise-free magnitudes, a list of N arrays.

    Returns
    -------
    astrolab.data.LightCurveSet
        ``kind="mag"``; times in MJD [days]; one band label per point.
    """
    from astrolab.data.containers import LightCurveSet

    z = np.atleast_1d(np.asarray(redshift, dtype=float))
    n = len(z)
    if np.any(~np.isfinite(z)) or np.any(z < 0):
        raise invalid("simulate_drw_lightcurves(redshift=...)", "NaN or negative redshift", "pass redshifts >= 0")
    mean = np.asarray(mean_mag, dtype=float)
    mean = np.repeat(mean[:, None], len(bands), axis=1) if mean.ndim == 1 else mean
    if mean.shape != (n, len(bands)) or not np.all(np.isfinite(mean)):
        raise invalid("simulate_drw_lightcurves(mean_mag=...)", f"shape {mean.shape} or non-finite values",
                      f"pass finite magnitudes of shape ({n},) or ({n}, {len(bands)})")
    rng = np.random.default_rng(seed)
    tau = (np.asarray(tau_rest_days, float) if tau_rest_days is not None
           else np.exp(rng.normal(np.log(200.0), 0.4, n)))
    sf = (np.asarray(sf_inf_mag, float) if sf_inf_mag is not None
          else np.clip(0.15 + 0.05 * (mean[:, 0] - 20.0) + rng.normal(0, 0.03, n), 0.08, 0.45))
    amp = np.asarray(band_amplitude, float)
    ids = np.arange(n) if ids is None else np.asarray(ids)
    times, values, errors, labels, truths = [], [], [], [], []
    for k in range(n):
        m = int(rng.integers(n_epochs[0], n_epochs[1] + 1))
        year = rng.integers(0, max(1, int(np.ceil(baseline_days / 365.25))), m)
        t = np.sort(59000.0 + year * 365.25 + rng.uniform(0, season_days, m))
        band_idx = rng.integers(0, len(bands), m)
        tau_obs = tau[k] * (1.0 + z[k])
        sigma = sf[k] / np.sqrt(2.0)  # stationary standard deviation of the DRW
        x = np.empty(m)
        x[0] = rng.normal(0.0, sigma)
        decay = np.exp(-np.diff(t) / tau_obs)
        for i in range(1, m):
            x[i] = x[i - 1] * decay[i - 1] + sigma * np.sqrt(1.0 - decay[i - 1] ** 2) * rng.normal()
        true_mag = mean[k, band_idx] + amp[band_idx] * x
        err = np.sqrt(mag_err_floor ** 2 + (0.2 * 10 ** (0.4 * (true_mag - depth_mag))) ** 2)
        times.append(t)
        values.append(true_mag + rng.normal(0.0, err))
        errors.append(err)
        labels.append(np.asarray(bands)[band_idx])
        truths.append(true_mag)
    lcs = LightCurveSet(times, values, errors, bands=labels, kind="mag", ids=ids)
    return (lcs, truths) if return_truth else lcs

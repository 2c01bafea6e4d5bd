"""Simulated open-cluster rotators with a known spin-down law (ground truth for gyrochronology).

:func:`simulate_clusters` returns an astropy Table in exactly the column schema
of ``astrolab.load_dataset("chronoflow")`` plus truth columns, so every
:class:`astrolab.gyro.GyroFlow` method runs unchanged on it and its answers can
be checked against the true ages.

The model (all periods in days, colours (BP-RP)_0 in mag, ages t in Myr):

- masses from a Kroupa-like power law ``dN/dM ~ M^-1.3`` on [0.2, 1.25] Msun,
  mapped to a true colour ``C`` (0.82 mag at 1 Msun, ~3 mag at 0.2 Msun);
- slow (converged) sequence ``P_slow = a (C - c0)^b t^n`` with ``a = 0.36``,
  ``c0 = 0.4``, ``b = 0.6``, ``n = 0.52`` (Barnes-like), log-normal scatter
  ``slow_scatter`` dex, and a floor of 0.8 d (young stars are not yet spun down);
- fast (unconverged) branch ``log10 P ~ N(log10(0.5 (t/100)^0.2), 0.2)``; a star
  is on it with probability ``1 / (1 + (t / t_conv(C))^3)``, with
  ``log10 t_conv = 1.6 + 1.1 (C - 0.6)`` (red stars converge later);
- members' periods are outliers (uniform in log10 P on [-1, 2]) with
  probability ``outlier_fraction`` (``3 x`` that for high-RUWE binaries);
- membership probabilities ``m`` are calibrated: each star is a true member
  with probability ``m``; non-members are field stars whose ages are
  log-uniform in 0.5-8 Gyr and whose periods follow the same law;
- observed colour ``C_obs = C + N(0, e)`` with ``e`` log-normal around 0.025 mag
  growing for faint stars; ``G_0`` from a rough main-sequence relation and a
  random distance modulus.
"""

from __future__ import annotations

import numpy as np

from astrolab.errors import invalid

__all__ = ["simulate_clusters", "spin_down_period", "fast_fraction", "DEFAULT_AGES_MYR"]

#: Default cluster ages [Myr] (roughly those of the ChronoFlow catalogue).
DEFAULT_AGES_MYR = (25.0, 40.0, 70.0, 120.0, 200.0, 300.0, 450.0, 700.0, 1000.0, 1600.0, 2500.0, 4000.0)

_A, _C0, _B, _N = 0.36, 0.4, 0.6, 0.52


def spin_down_period(colour, age_myr):
    """Period of the slow (converged) sequence.

    Parameters
    ----------
    colour : array_like, shape (N,)
        True (BP-RP)_0 [mag].
    age_myr : float or array_like, shape (N,)
        Age [Myr].

    Returns
    -------
    numpy.ndarray, shape (N,)
        ``P_slow`` [d] (at least 0.8 d).
    """
    c = np.clip(np.asarray(colour, dtype=float) - _C0, 0.05, None)
    return np.maximum(_A * c**_B * np.asarray(age_myr, dtype=float) ** _N, 0.8)


def fast_fraction(colour, age_myr):
    """Probability that a star is still on the fast branch.

    Parameters
    ----------
    colour : array_like, shape (N,)
        True (BP-RP)_0 [mag].
    age_myr : float or array_like
        Age [Myr].

    Returns
    -------
    numpy.ndarray, shape (N,)
        Fraction in [0, 1].
    """
    t_conv = 10 ** (1.6 + 1.1 * (np.asarray(colour, dtype=float) - 0.6))
    return 1.0 / (1.0 + (np.asarray(age_myr, dtype=float) / t_conv) ** 3)


def _colours(rng, n):
    u = rng.random(n)
    lo, hi, alpha = 0.2, 1.25, 1.3
    e = 1.0 - alpha
    mass = (lo**e + u * (hi**e - lo**e)) ** (1.0 / e)
    return np.where(mass < 1.0, 0.82 + 2.9 * np.clip(1.0 - mass, 0, None) ** 1.3, 0.82 - 1.5 * (mass - 1.0))


def _periods(rng, colour, age_myr, slow_scatter):
    n = colour.size
    slow = np.log10(spin_down_period(colour, age_myr)) + rng.normal(0.0, slow_scatter, n)
    fast = rng.normal(np.log10(0.5 * (np.asarray(age_myr, float) / 100.0) ** 0.2), 0.2, n)
    on_fast = rng.random(n) < fast_fraction(colour, age_myr)
    return np.where(on_fast, fast, slow), on_fast


def simulate_clusters(ages_myr=DEFAULT_AGES_MYR, n_stars=200, *, seed: int = 0, outlier_fraction: float = 0.05,
                      mean_membership: float = 0.85, slow_scatter: float = 0.05, names=None):
    """Simulate rotation-period catalogues of open clusters at known ages.

    Parameters
    ----------
    ages_myr : sequence of float, shape (K,)
        True cluster ages [Myr], 1 Myr to 13.8 Gyr.
    n_stars : int or sequence of int, shape (K,)
        Stars per cluster (members plus contaminants).
    seed : int
        Random seed.
    outlier_fraction : float
        Fraction of members whose period is an outlier (uniform in log10 P).
    mean_membership : float
        Mean membership probability in (0, 1]; about ``1 - mean_membership`` of
        the stars are field contaminants.
    slow_scatter : float
        Scatter of the slow sequence [dex].
    names : sequence of str, optional
        Cluster names (default ``SimCl00``, ``SimCl01``...).

    Returns
    -------
    astropy.table.Table
        One row per star with the columns of ``load_dataset("chronoflow")``
        (``Prot`` [d], ``BPRP_0``/``e_BPRP_0``/``G_0`` [mag],
        ``fiducial_age_Myr`` [Myr] = the true age, exclusion flags all 0...) and
        truth columns ``true_age_Myr`` [Myr], ``true_BPRP_0`` [mag],
        ``true_Prot`` [d] (noise-free period of the star's branch; ``true_age_Myr`` is the
        cluster age for members and a 0.5-8 Gyr field age for non-members),
        ``is_member``, ``is_outlier``, ``is_fast`` (bool).
    """
    from astropy import units as u
    from astropy.table import Table

    ages = np.atleast_1d(np.asarray(ages_myr, dtype=float))
    if ages.size == 0 or not np.all(np.isfinite(ages)) or np.any(ages < 1.0) or np.any(ages > 13800.0):
        raise invalid("simulate_clusters(ages_myr=...)", f"ages must be finite and in [1, 13800] Myr, got {ages}",
                      "pass ages in Myr, e.g. [50, 300, 1000]")
    counts = np.broadcast_to(np.asarray(n_stars, dtype=int), ages.shape)
    if np.any(counts < 1):
        raise invalid("simulate_clusters(n_stars=...)", "must be >= 1", "pass a positive number of stars")
    if not 0.0 < mean_membership <= 1.0 or not 0.0 <= outlier_fraction < 1.0:
        raise invalid("simulate_clusters", "mean_membership must be in (0, 1] and outlier_fraction in [0, 1)",
                      "use e.g. mean_membership=0.85, outlier_fraction=0.05")
    names = list(names) if names is not None else [f"SimCl{i:02d}" for i in range(ages.size)]
    rng = np.random.default_rng(seed)
    parts = []
    for k, (age, n, name) in enumerate(zip(ages, counts, names)):
        colour = _colours(rng, n)
        # calibrated membership: star is a member with probability m
        if mean_membership >= 1.0:
            m = np.ones(n)
        else:
            a = mean_membership / (1.0 - mean_membership)
            m = np.clip(rng.beta(a, 1.0, n), 0.01, 1.0)
        member = rng.random(n) < m
        star_age = np.where(member, age, 10 ** rng.uniform(np.log10(500.0), np.log10(8000.0), n))
        logp, on_fast = _periods(rng, colour, star_age, slow_scatter)
        true_p = np.where(on_fast, 0.5 * (star_age / 100.0) ** 0.2, spin_down_period(colour, star_age))
        ruwe = np.exp(rng.normal(0.0, 0.12, n)) + np.where(rng.random(n) < 0.08, rng.uniform(0.4, 2.0, n), 0.0)
        p_out = np.where(ruwe > 1.4, 3 * outlier_fraction, outlier_fraction)
        outlier = member & (rng.random(n) < p_out)
        logp = np.where(outlier, rng.uniform(-1.0, 2.0, n), logp)
        dm = rng.uniform(5.0, 9.0)
        g0 = 4.7 + 3.0 * (colour - 0.82) + dm + rng.normal(0, 0.3, n)
        err = np.exp(rng.normal(np.log(0.02), 0.35, n)) * (1.0 + 0.5 * np.clip(g0 - 14.0, 0, None))
        colour_obs = colour + rng.normal(0.0, err)
        ids = np.array([str(10**18 + 10**6 * k + i + int(seed) * 10**9) for i in range(n)])
        parts.append(dict(
            GaiaDR3_ID=ids, cluster=np.full(n, name), subgroup=np.full(n, name),
            data_catalog=np.full(n, "astrolab.sim.rotation"), Prot_source=np.full(n, "simulated"),
            Prot=10**logp, mem_prob_hdbscan=np.round(m, 3), mem_prob_source=np.round(m, 3),
            dr3_parallax_zpt_corrected=1000.0 / 10 ** (dm / 5 + 1) + rng.normal(0, 0.02, n),
            dr3_ruwe=ruwe, G_0=g0, BPRP_0=colour_obs, e_BPRP_0=err, dustmap=np.full(n, "none"),
            fiducial_age_Myr=np.full(n, age), cmd_exclude=np.zeros(n, int), dered_exclude=np.zeros(n, int),
            phot_exclude=np.zeros(n, int), true_age_Myr=star_age, true_BPRP_0=colour, true_Prot=true_p,
            is_member=member, is_outlier=outlier, is_fast=on_fast & ~outlier))
    cols = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    table = Table(cols)
    for col, unit in {"Prot": u.day, "dr3_parallax_zpt_corrected": u.mas, "G_0": u.mag, "BPRP_0": u.mag,
                      "e_BPRP_0": u.mag, "fiducial_age_Myr": u.Myr, "true_age_Myr": u.Myr,
                      "true_BPRP_0": u.mag, "true_Prot": u.day}.items():
        table[col].unit = unit
    table.meta["origin"] = f"astrolab.sim.rotation.simulate_clusters(seed={seed}) -- simulated, known truth"
    return table

"""Physics tests of the CIGaRS-style SN Ia + host simulator (astrolab.sim.supernovae)."""

from __future__ import annotations

import numpy as np
import pytest

from astrolab.errors import DataValidationError
from astrolab.sim import supernovae as sn


@pytest.fixture(scope="module")
def sim():
    return sn.CigarsSimulator(n_hosts=6000, seed=3, photoz_hosts=6000)


def _theta(**kw):
    return {**sn.TRUTHS, **kw}


def test_distance_modulus_matches_astropy():
    from astropy.cosmology import FlatLambdaCDM

    z = np.array([0.01, 0.05, 0.2, 0.5, 0.83, 1.2])
    for om in (0.12, 0.3, 0.47):
        ref = FlatLambdaCDM(H0=70, Om0=om).distmod(z).value
        assert np.max(np.abs(sn.distance_modulus(z, om) - ref)) < 1e-3
    # matter slows the expansion: at fixed z, more matter -> closer -> smaller mu
    assert sn.distance_modulus(0.8, 0.5) < sn.distance_modulus(0.8, 0.2) - 0.1
    with pytest.raises(DataValidationError, match="distance_modulus"):
        sn.distance_modulus(3.0, 0.3)


def test_dtd_bin_average_is_the_exact_mean():
    lo, hi = 0.3, 2.5
    t = np.linspace(lo, hi, 200001)
    for s in (-1.8, -1.34, -1.0, -0.5):
        numeric = np.trapezoid(t ** s, t) / (hi - lo)
        assert abs(sn.dtd_bin_average(lo, hi, s) - numeric) < 1e-6 * numeric
    # continuous through s = -1 and zero for empty bins
    assert abs(sn.dtd_bin_average(lo, hi, -1 + 1e-9) - np.log(hi / lo) / (hi - lo)) < 1e-7
    assert sn.dtd_bin_average(1.0, 1.0, -1.3) == 0.0


def test_host_bank_physics(sim):
    b = sim.bank
    assert len(b) == 6000 and b.z.max() <= 1.0
    # mass-metallicity relation: massive hosts are metal rich
    assert np.corrcoef(b.log_mstar, b.log_z)[0, 1] > 0.5
    # every kept host is brighter than the LSST depths; SFH bins sum to the formed mass
    from astropy.cosmology import Planck18

    app = b.abs_mag + Planck18.distmod(b.z).value[:, None]
    assert np.all(app < sn.HOST_DEPTHS)
    assert np.allclose(b.mass_formed.sum(1), 10 ** b.log_mstar / 0.65, rtol=1e-6)
    # bins never extend beyond the age of the universe
    assert np.all(b.edges[:, -1] < 13.8)


def test_dtd_slope_moves_sns_to_young_populations(sim):
    steep = sim.simulate(_theta(s=-1.9, A=-11.3), seed=1)
    shallow = sim.simulate(_theta(s=-0.7, A=-11.3), seed=1)
    assert len(steep) > 300 and len(shallow) > 300
    # a steeper DTD makes more SNe from young progenitors and in younger (star-forming) hosts
    assert np.median(steep["progenitor_age"]) < 0.6 * np.median(shallow["progenitor_age"])
    age_mw = sim.bank.age_mw
    assert age_mw[steep["host"]].mean() < age_mw[shallow["host"]].mean() - 0.1
    # the expected count scales exactly as 10^A
    r1 = sim.expected_rates(-12.15, -1.34).sum()
    r2 = sim.expected_rates(-11.85, -1.34).sum()
    assert r2 / r1 == pytest.approx(10 ** 0.3, rel=1e-9)


def test_metallicity_alone_makes_an_apparent_mass_step(sim):
    from astrolab.sbi_cigars import mass_step

    t = sim.simulate(_theta(delta_step=0.0, gamma_age=0.0, gamma_Z=-0.5, A=-11.6), seed=2)
    step, err = mass_step(t["log_mstar"], t["delta_m"], loc=10.0)
    assert step < -0.04 and step / err < -4  # massive (metal-rich) hosts host brighter SNe
    t0 = sim.simulate(_theta(delta_step=0.0, gamma_age=0.0, gamma_Z=0.0), seed=2)
    assert np.all(np.asarray(t0["delta_m"]) == 0.0)
    # an explicit step is recovered exactly in the noise-free delta_m
    ts = sim.simulate(_theta(delta_step=-0.1, gamma_age=0.0, gamma_Z=0.0), seed=2)
    assert mass_step(ts["log_mstar"], ts["delta_m"])[0] == pytest.approx(-0.1)


def test_selection_cuts_faint_sns(sim):
    t = sim.simulate(_theta(A=-11.5), seed=4)
    m = np.asarray(t["m_obs"])
    det = np.asarray(t["detected"])
    assert det[m < sim.m_lim - 0.5].mean() > 0.99
    assert det[m > sim.m_lim + 0.5].mean() < 0.01
    # detected SNe are at lower redshift than all SNe
    assert np.median(t["redshift"][det]) < np.median(t["redshift"]) - 0.03


def test_standardisation_recovered_from_low_z_sample(sim):
    t = sim.simulate(_theta(A=-11.4), seed=5)
    sel = np.asarray(t["detected"]) & (np.asarray(t["redshift"]) < 0.6)
    resid = np.asarray(t["m_obs"] - t["mu"])[sel]
    X = np.column_stack([np.ones(sel.sum()), np.asarray(t["x_obs"])[sel], np.asarray(t["c_obs"])[sel]])
    coef = np.linalg.lstsq(X, resid, rcond=None)[0]
    assert coef[1] == pytest.approx(sn.TRUTHS["alpha"], abs=0.03)
    assert 1.8 < coef[2] < 4.2  # beta, pushed towards R_V + 1 by host dust


def test_simulate_sets_and_features(sim):
    theta = sn.prior_sample(5, 0)
    x, counts = sim.simulate_sets(theta, seed=7, return_counts=True)
    assert x.shape[0] == 5 and x.shape[2] == len(sn.FEATURE_NAMES) + 1
    assert np.array_equal(x[..., -1].sum(1).astype(int), counts)
    assert np.all(x[x[..., -1] == 0] == 0)
    x2 = sim.simulate_sets(theta, seed=7, n_max=x.shape[1])
    assert np.array_equal(x, x2)  # reproducible
    t = sim.simulate(seed=9)
    f = sim.features(t)
    assert f.shape == (int(t["detected"].sum()), len(sn.FEATURE_NAMES))
    with pytest.raises(DataValidationError, match="theta"):
        sim.simulate_sets(np.zeros((2, 3)))


def test_host_photoz_scatter(sim):
    from astrolab.metrics.photoz import nmad

    t = sim.simulate(_theta(A=-11.6), seed=6, detected_only=True)
    assert nmad(t["photo_z"], t["redshift"]) < 0.05


def test_priors():
    th = sn.prior_sample(20000, 1)
    assert th.shape == (20000, 10)
    j = sn.PARAM_NAMES.index("s")
    assert th[:, j].mean() == pytest.approx(-1.34, abs=0.01) and th[:, j].std() == pytest.approx(0.2, abs=0.01)
    assert np.all(np.isfinite(sn.prior_log_prob(th)))
    bad = th[:1].copy()
    bad[0, sn.PARAM_NAMES.index("beta")] = 5.0
    assert sn.prior_log_prob(bad)[0] == -np.inf

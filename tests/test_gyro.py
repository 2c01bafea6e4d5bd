"""Tests of GyroFlow (ChronoFlow-style gyrochronology) on simulated clusters."""

from __future__ import annotations

import numpy as np
import pytest

from astrolab.errors import CheckpointError, DataValidationError
from astrolab.sim.rotation import simulate_clusters

TRAIN_AGES = (30.0, 50.0, 80.0, 120.0, 180.0, 260.0, 400.0, 600.0, 900.0, 1400.0, 2200.0, 3500.0)


@pytest.fixture(scope="module")
def train_table():
    return simulate_clusters(TRAIN_AGES, 60, seed=11)


@pytest.fixture(scope="module")
def fitted(train_table):
    import torch

    torch.set_num_threads(1)
    from astrolab.gyro import GyroFlow

    return GyroFlow(epochs=80, batch_size=256, seed=0).fit(train_table)


def test_flow_learns(fitted, train_table):
    from astrolab.gyro import GyroFlow

    held_out = simulate_clusters(TRAIN_AGES, 40, seed=12)
    barely = GyroFlow(epochs=1, batch_size=256, seed=0).fit(train_table)
    nll_1, nll_40 = barely.mean_nll(held_out), fitted.mean_nll(held_out)  # 1 vs 80 epochs
    assert np.isfinite(nll_1) and np.isfinite(nll_40)
    assert nll_40 < nll_1 - 0.3  # nats per star on unseen stars
    # the uniform-outlier mixture alone gives log(4.25) = 1.45 nats; the flow must beat it clearly
    assert nll_40 < 1.0


def test_cluster_age_recovered(fitted):
    from astrolab.gyro import ClusterAge

    for age, seed in ((330.0, 21), (1100.0, 22)):
        test = simulate_clusters([age], 150, seed=seed)
        res = fitted.cluster_age(test)
        assert isinstance(res, ClusterAge)
        lo, hi = res.interval_myr(0.95)
        assert lo <= age <= hi, (res, age)
        assert abs(np.log10(res.median_myr / age)) < 0.1
        lo68, hi68 = res.interval_myr(0.68)
        assert lo < lo68 < res.median_myr < hi68 < hi
        assert np.trapezoid(res.posterior, res.log_age_grid) == pytest.approx(1.0, abs=1e-6)
        assert "Myr" in repr(res) and "SimCl00" in repr(res)


def test_star_ages(fitted):
    test = simulate_clusters([500.0], 40, seed=31)
    grid = np.linspace(0.0, 4.0, 81)
    ages = fitted.star_age(test, log_age_grid=grid)
    assert ages.posterior.shape == (40, 81)
    assert np.allclose(np.trapezoid(ages.posterior, grid, axis=1), 1.0)
    med = ages.median_myr
    assert med.shape == (40,) and np.all((med >= 1.0) & (med <= 1e4))
    lo, hi = ages.interval_myr(0.68)
    assert np.all(lo <= med) and np.all(med <= hi)
    # single stars are poor clocks, but their median log age is in the right decade
    assert abs(np.median(np.log10(med)) - np.log10(500.0)) < 0.5
    assert ages.ids is not None and len(ages.ids) == 40


def test_density_and_membership_weighting(fitted):
    colour, logp, dens = fitted.density(700.0)
    assert dens.shape == (logp.size, colour.size)
    # integrates to ~1 over log P at a mid colour (density per dex)
    j = np.argmin(np.abs(colour - 1.2))
    assert np.trapezoid(dens[:, j], logp) == pytest.approx(1.0, abs=0.05)
    # a certain non-member carries (almost) no age information
    test = simulate_clusters([500.0], 20, seed=41)
    test["mem_prob_hdbscan"] = 0.0
    ll = fitted.log_likelihood(test, np.array([1.5, 2.5, 3.5]))
    assert np.allclose(ll, -np.log(4.25), atol=1e-4)


def test_save_load_roundtrip(fitted, tmp_path):
    import torch

    from astrolab.gyro import GyroFlow

    test = simulate_clusters([250.0], 30, seed=51)
    grid = np.linspace(1.0, 3.5, 11)
    path = fitted.save(tmp_path / "gyro.pt")
    payload = torch.load(path, weights_only=True)
    assert payload["kind"] == "GyroFlow" and "astrolab_version" in payload
    assert len(payload["scalers"]["loc"]) == 4
    again = GyroFlow.load(path)
    assert np.array_equal(fitted.log_likelihood(test, grid), again.log_likelihood(test, grid))
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt.pt.*Fix"):
        GyroFlow.load(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        GyroFlow.load(tmp_path / "missing.pt")


def test_bad_input(fitted, train_table):
    from astrolab.gyro import GyroFlow

    test = simulate_clusters([250.0], 10, seed=61)
    nan_p = test.copy()
    nan_p["Prot"][3] = np.nan
    with pytest.raises(DataValidationError, match="'Prot'.*NaN.*Fix"):
        fitted.star_age(nan_p)
    neg = test.copy()
    neg["Prot"][0] = -2.0
    with pytest.raises(DataValidationError, match="'Prot'.*<= 0"):
        fitted.cluster_age(neg)
    missing = test.copy()
    missing.remove_column("e_BPRP_0")
    with pytest.raises(DataValidationError, match="'e_BPRP_0'.*missing"):
        fitted.star_age(missing)
    with pytest.raises(DataValidationError, match="empty"):
        fitted.cluster_age(test[:0])
    no_age = train_table.copy()
    no_age.remove_column("fiducial_age_Myr")
    with pytest.raises(DataValidationError, match="fiducial_age_Myr"):
        GyroFlow(epochs=1).fit(no_age)
    with pytest.raises(DataValidationError, match="not fitted"):
        GyroFlow().star_age(test)


def test_workflow_helpers_and_plots(fitted, train_table):
    import holoviews as hv

    from astrolab.gyro import apply_cuts, cluster_ages
    from astrolab.viz import gyro as gviz

    sub = apply_cuts(train_table, ruwe_max=1.4)
    assert 0 < len(sub) < len(train_table)
    assert np.all(np.asarray(sub["dr3_ruwe"]) < 1.4)
    tab, res = cluster_ages(fitted, train_table, ["SimCl05", "SimCl09"])
    assert list(tab["cluster"]) == ["SimCl05", "SimCl09"]
    assert np.all(np.abs(tab["dlog_age"]) < 0.15)
    overlay = gviz.rotation_diagram(train_table["BPRP_0"], train_table["Prot"], train_table["mem_prob_hdbscan"],
                                    density=fitted.density(260.0), title="test")
    assert isinstance(overlay, hv.Overlay)
    assert isinstance(gviz.age_comparison(tab["fiducial_Myr"], tab["median_Myr"], tab["lo_Myr"], tab["hi_Myr"],
                                          tab["cluster"]), hv.Overlay)
    r = res["SimCl05"]
    assert isinstance(gviz.age_posteriors(r.log_age_grid, r.posterior, truth_myr=260.0), hv.Overlay)
    assert isinstance(gviz.systematics_bars(["a", "b"], [0.01, -0.02]), hv.Bars)
    hv.render(overlay, backend="bokeh")


def _gaussian_cluster_age(mu, sigma, name=""):
    """A ClusterAge whose log-likelihood is an exact Gaussian in log age (no flow needed)."""
    from astrolab.gyro import ClusterAge, _normalise

    grid = np.linspace(mu - 12 * sigma, mu + 12 * sigma, 481)
    ll = -0.5 * ((grid - mu) / sigma) ** 2
    return ClusterAge(grid, _normalise(grid, ll), 100, name, ll)


def test_tempered_and_widened_posteriors():
    from scipy.stats import norm

    r = _gaussian_cluster_age(2.5, 0.02)
    assert r.sigma_dex() == pytest.approx(0.02, rel=0.01)
    assert r.log_density_at([2.5])[0] == pytest.approx(norm.logpdf(0, scale=0.02), abs=0.01)
    t = r.tempered(1.5)
    assert t.sigma_dex() == pytest.approx(0.03, rel=0.01) and t.width_scale == 1.5
    w = r.widened(0.04)
    assert w.sigma_dex() == pytest.approx(np.hypot(0.02, 0.04), rel=0.02)
    assert w.log_age_median == pytest.approx(2.5, abs=1e-3)
    assert np.trapezoid(w.posterior, w.log_age_grid) == pytest.approx(1.0, abs=1e-6)
    both = r.calibrated(2.0, 0.03)
    assert both.sigma_dex() == pytest.approx(np.hypot(0.04, 0.03), rel=0.02)
    assert both.width_scale == 2.0 and both.systematic_dex == pytest.approx(0.03)
    assert "systematic" in repr(both)
    assert r.calibrated(1.0, 0.0) is r
    with pytest.raises(DataValidationError, match="width_scale"):
        r.tempered(0.5)
    with pytest.raises(DataValidationError, match="systematic_dex"):
        r.widened(-0.1)
    with pytest.raises(DataValidationError, match="temper first"):
        w.tempered(1.2)


def _planted_clusters(n, k, s, seed):
    """n Gaussian posteriors whose truths scatter by sqrt((k sigma)^2 + s^2) about their medians."""
    rng = np.random.default_rng(seed)
    sig = rng.uniform(0.01, 0.05, n)
    truth = rng.uniform(1.5, 3.5, n)
    mu = truth + rng.normal(0.0, np.sqrt((k * sig) ** 2 + s**2))
    return [_gaussian_cluster_age(m, sg, f"C{i}") for i, (m, sg) in enumerate(zip(mu, sig))], 10**truth


def test_fit_age_calibration_recovers_planted_miscalibration():
    from astrolab.gyro import fit_age_calibration

    results, truth = _planted_clusters(300, 1.6, 0.03, seed=1)
    cal = fit_age_calibration(results, truth)
    assert cal["width_scale"] == pytest.approx(1.6, abs=0.3)
    assert cal["systematic_dex"] == pytest.approx(0.03, abs=0.012)
    assert cal["n_clusters"] == 300
    # already calibrated posteriors need (almost) nothing
    good, truth_good = _planted_clusters(300, 1.0, 0.0, seed=2)
    cal0 = fit_age_calibration(good, truth_good)
    assert cal0["width_scale"] < 1.2 and cal0["systematic_dex"] < 0.01
    # the calibration transfers: fresh clusters from the same process are covered at the nominal rate
    fresh, truth_fresh = _planted_clusters(400, 1.6, 0.03, seed=3)
    covered_stat, covered_cal = [], []
    for r, t in zip(fresh, truth_fresh):
        lo, hi = r.interval_myr(0.68)
        covered_stat.append(lo <= t <= hi)
        lo, hi = r.calibrated(cal["width_scale"], cal["systematic_dex"]).interval_myr(0.68)
        covered_cal.append(lo <= t <= hi)
    assert np.mean(covered_stat) < 0.55  # the planted posteriors are overconfident
    assert abs(np.mean(covered_cal) - 0.68) < 0.06  # binomial 1 sigma is 0.023
    with pytest.raises(DataValidationError, match="matching"):
        fit_age_calibration(results, truth[:-1])


def test_leave_one_out_calibration():
    from astrolab.gyro import leave_one_out_calibration

    results, truth = _planted_clusters(60, 2.0, 0.0, seed=4)
    post = {r.name: r for r in results}
    tab, summary = leave_one_out_calibration(post, truth)
    assert len(tab) == 60 and set(summary) == {"coverage", "coverage_statistical", "calibration_all"}
    assert summary["coverage_statistical"][0.68] < 0.5
    assert abs(summary["coverage"][0.68] - 0.68) < 0.13  # 60 clusters: binomial 1 sigma 0.06
    assert summary["coverage"][0.95] > 0.85
    assert np.all(tab["sigma_dex"] > tab["sigma_stat_dex"])
    assert summary["calibration_all"]["width_scale"] == pytest.approx(2.0, abs=0.45)
    with pytest.raises(DataValidationError, match="at least 3"):
        leave_one_out_calibration(dict(list(post.items())[:2]), truth[:2])


def test_cluster_age_width_scale_on_the_flow(fitted):
    test = simulate_clusters([700.0], 150, seed=71)
    stat = fitted.cluster_age(test)
    wide = fitted.cluster_age(test, width_scale=2.0, systematic_dex=0.05)
    # the refined grid leaves room for tempering: twice as wide, then 0.05 dex added in quadrature
    assert wide.sigma_dex() == pytest.approx(np.hypot(2 * stat.sigma_dex(), 0.05), rel=0.1)
    assert wide.log_age_median == pytest.approx(stat.log_age_median, abs=0.02)

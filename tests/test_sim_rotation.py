"""Tests of the simulated rotator catalogues (astrolab.sim.rotation)."""

from __future__ import annotations

import numpy as np
import pytest

from astrolab.errors import DataValidationError
from astrolab.sim.rotation import fast_fraction, simulate_clusters, spin_down_period

TRUTH = ["true_age_Myr", "true_BPRP_0", "true_Prot", "is_member", "is_outlier", "is_fast"]


def test_schema_matches_real_catalogue():
    import astrolab

    real = astrolab.load_dataset("chronoflow", clusters="NGC752")
    sim = simulate_clusters([100.0, 1000.0], 50, seed=3)
    assert sim.colnames == real.colnames + TRUTH
    for col in real.colnames:
        assert sim[col].unit == real[col].unit, col
        assert sim[col].dtype.kind == real[col].dtype.kind, col
    assert len(sim) == 100
    assert sorted(set(sim["cluster"])) == ["SimCl00", "SimCl01"]
    assert np.all(np.asarray(sim["Prot"]) > 0)
    assert np.allclose(np.asarray(sim["fiducial_age_Myr"])[:50], 100.0)


def test_spin_down_law_and_branches():
    # slow sequence: P grows with age as t^0.52 and with colour
    p1, p2 = spin_down_period([1.0, 1.0], [500.0, 2000.0])
    assert p2 / p1 == pytest.approx(4.0**0.52, rel=1e-6)
    assert spin_down_period([2.0], [700.0])[0] > spin_down_period([1.0], [700.0])[0]
    assert spin_down_period([1.0], [700.0])[0] == pytest.approx(0.36 * 0.6**0.6 * 700**0.52, rel=1e-6)
    # red stars stay on the fast branch longer
    assert fast_fraction(2.5, 300.0) > 0.9 > 0.1 > fast_fraction(1.0, 300.0)

    sim = simulate_clusters([700.0], 3000, seed=1, mean_membership=1.0, outlier_fraction=0.0)
    slow = ~np.asarray(sim["is_fast"])
    resid = np.log10(np.asarray(sim["Prot"])[slow]) - np.log10(np.asarray(sim["true_Prot"])[slow])
    assert abs(np.median(resid)) < 0.01
    assert np.std(resid) == pytest.approx(0.05, abs=0.01)  # planted scatter [dex]


def test_membership_is_calibrated_and_outlier_rate():
    sim = simulate_clusters([300.0] * 4, 1500, seed=7, mean_membership=0.8, outlier_fraction=0.05)
    m = np.asarray(sim["mem_prob_hdbscan"])
    member = np.asarray(sim["is_member"])
    assert member.mean() == pytest.approx(m.mean(), abs=0.02)
    assert m.mean() == pytest.approx(0.8, abs=0.02)
    # members with high m are members more often than those with low m
    assert member[m > 0.9].mean() > member[m < 0.5].mean() + 0.3
    # non-members carry field ages, members the cluster age
    assert np.all(np.asarray(sim["true_age_Myr"])[member] == 300.0)
    assert np.all(np.asarray(sim["true_age_Myr"])[~member] >= 500.0)
    out_rate = np.asarray(sim["is_outlier"])[member].mean()
    assert 0.04 < out_rate < 0.09  # 5 % plus 15 % for the ~8 % high-RUWE binaries
    err = np.asarray(sim["e_BPRP_0"])
    pull = (np.asarray(sim["BPRP_0"]) - np.asarray(sim["true_BPRP_0"])) / err
    assert np.std(pull) == pytest.approx(1.0, abs=0.05)


def test_reproducible_and_bad_input():
    a = simulate_clusters([50.0], 30, seed=5)
    b = simulate_clusters([50.0], 30, seed=5)
    assert np.array_equal(np.asarray(a["Prot"]), np.asarray(b["Prot"]))
    c = simulate_clusters([50.0], 30, seed=6)
    assert not np.array_equal(np.asarray(a["Prot"]), np.asarray(c["Prot"]))
    with pytest.raises(DataValidationError, match="ages_myr"):
        simulate_clusters([0.1], 10)
    with pytest.raises(DataValidationError, match="n_stars"):
        simulate_clusters([100.0], 0)

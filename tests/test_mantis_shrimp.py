"""Tests of the Mantis Shrimp workflow: Galactic foreground dust, fusion inputs, late fusion, band ablation, PIT."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from astrolab.errors import DataValidationError
from astrolab.metrics import RedshiftPDF, pit_ks
from astrolab.models.photoz_images import BinnedRedshiftTask, ImageZCNN, LateFusionCNN
from astrolab.photoz.images import (MANTIS_BANDS, ablation_result, band_ablation, fused_imageset, fusion_inputs,
                                    train_redshift_network)
from astrolab.photoz.recalibration import PITRecalibrator
from astrolab.sim import dust
from astrolab.sim.images import simulate_multisurvey

BANDS9 = ["galex_fuv", "galex_nuv"] + [f"panstarrs_{b}" for b in "grizy"] + ["wise_w1", "wise_w2"]
STAMPS = {"panstarrs": 12, "galex": 5, "wise": 3}


@pytest.fixture(scope="module")
def ms():
    return simulate_multisurvey(240, surveys=("panstarrs", "galex", "wise"), seed=3, missing={"galex": 0.1},
                                stamps=STAMPS, z_max=1.6, redshift_distribution="uniform",
                                foreground_ebv="high_latitude")


# ----------------------------------------------------------------------------------------- foreground dust
def test_extinction_law_matches_published_coefficients():
    assert dust.milky_way_extinction(5500.0) == pytest.approx(3.1, abs=0.03)  # A_V / E(B-V) = R_V
    r = dust.band_extinction_coefficients(BANDS9)
    assert r["galex_fuv"] == pytest.approx(8.24, abs=0.3) and r["galex_nuv"] == pytest.approx(8.2, abs=0.4)  # Wyder+07
    assert r["wise_w1"] == pytest.approx(0.18, abs=0.03)
    ps = [r[f"panstarrs_{b}"] for b in "grizy"]
    assert all(a > b for a, b in zip(ps, ps[1:])) and 3.2 < ps[0] < 3.9 and 1.0 < ps[-1] < 1.5
    # continuous at the CCM89 segment boundaries (x = 1.1, 3.3, 8 per micron)
    for x in (1.1, 3.3, 8.0):
        lo, hi = dust.milky_way_extinction(1e4 / np.array([x - 1e-4, x + 1e-4]))
        assert lo == pytest.approx(hi, abs=0.01)


def test_simulated_foreground_is_a_truth_and_reddens_every_band(ms):
    from astrolab.sim.galaxies import simulate_galaxies

    ebv = np.asarray(ms.catalog["ebv_mw"])
    assert ms.catalog["ebv_mw"].unit == "mag" and np.all(ebv > 0)
    assert 0.02 < np.median(ebv) < 0.045 and np.quantile(ebv, 0.95) < 0.15
    # the same galaxies (no flux limit) with and without a 0.1 mag foreground
    kw = dict(survey="panstarrs", bands=BANDS9, seed=11, z_max=1.6, selection_limit=40.0)
    clean = simulate_galaxies(300, **kw)
    red = simulate_galaxies(300, foreground_ebv=0.1, **kw)
    assert "ebv_mw" not in clean.colnames and np.allclose(red["ebv_mw"], 0.1)
    np.testing.assert_allclose(red["redshift"], clean["redshift"])
    r = dust.band_extinction_coefficients(BANDS9)
    for b in ("panstarrs_g", "panstarrs_i", "panstarrs_y", "wise_w1"):
        dm = np.asarray(red[f"{b}_true"]) - np.asarray(clean[f"{b}_true"])
        assert np.median(dm) == pytest.approx(0.1 * r[b], rel=0.05), b
    dm_nuv = np.asarray(red["galex_nuv_true"]) - np.asarray(clean["galex_nuv_true"])
    assert 0.6 < np.median(dm_nuv) < 0.9  # ~8 E(B-V): the UV is hit ~40x harder than W1
    # dereddening with the flat-spectrum coefficients undoes it to ~1 % in the optical
    der = dust.deredden_table(red, BANDS9)
    for b in ("panstarrs_g", "panstarrs_z"):
        f_red = 10 ** (-0.4 * (np.asarray(red[f"{b}_true"]) - 31.4)) * 10 ** (0.4 * r[b] * 0.1)
        f_clean = 10 ** (-0.4 * (np.asarray(clean[f"{b}_true"]) - 31.4))
        assert np.median(np.abs(f_red / f_clean - 1)) < 0.01
        np.testing.assert_allclose(der[f"{b}_flux"], red[f"{b}_flux"] * 10 ** (0.4 * r[b] * 0.1))


def test_images_carry_the_reddened_fluxes():
    from astrolab.sim.images import render_images

    kw = dict(surveys=("panstarrs", "galex", "wise"), seed=4, stamps={"panstarrs": 24, "galex": 9, "wise": 7},
              selection_limit=40.0, noise=False)
    a = simulate_multisurvey(60, **kw)
    b = simulate_multisurvey(60, foreground_ebv=0.2, **kw)
    r = dust.band_extinction_coefficients(["panstarrs_r", "wise_w1"])
    ratio = b["images_panstarrs"].images[:, 1].sum(axis=(1, 2)) / a["images_panstarrs"].images[:, 1].sum(axis=(1, 2))
    assert np.median(ratio) == pytest.approx(10 ** (-0.4 * 0.2 * r["panstarrs_r"]), rel=0.02)
    assert render_images(b.catalog, "wise", stamp=7, noise=False).images.sum() > 0


# ----------------------------------------------------------------------------------------- fusion inputs
def test_fusion_inputs_shapes_missing_galex_and_drops(ms):
    n = len(ms)
    x, f, e = fusion_inputs(ms, "early")
    assert x.shape == (n, 9, 12, 12) and f.shape == (n, 0) and e.shape == (n, 1)
    np.testing.assert_allclose(e[:, 0], np.asarray(ms.catalog["ebv_mw"]), rtol=1e-6)
    late = fusion_inputs(ms, "late")
    assert [a.shape[1:] for a in late[:3]] == [(2, 5, 5), (5, 12, 12), (2, 3, 3)] and late[3].shape == (n, 1)
    gone = ~np.asarray(ms.catalog["has_galex"])
    assert 0 < gone.sum() < 0.2 * n
    assert np.all(late[0][gone] == 0) and np.all(x[gone, :2] == 0) and np.abs(late[0][~gone]).sum() > 0
    assert fusion_inputs(ms, "early", drop=("galex",))[0].shape[1] == 7
    assert len(fusion_inputs(ms, "late", drop=("wise",))) == 3
    zeroed = fusion_inputs(ms, "late", drop=("wise",), drop_mode="zero")
    assert zeroed[2].shape == late[2].shape and not zeroed[2].any()
    fused = fused_imageset(ms)
    assert fused.bands == BANDS9 and fused.images.shape == (n, 9, 12, 12)
    assert fused.mask[gone, :2].all() and not fused.mask[~gone].any()
    assert fused.pixel_scale == pytest.approx(0.25)


# ----------------------------------------------------------------------------------------- late fusion
def _two_survey_toy(n, seed):
    """Survey A (2 bands, 8x8) blobs brighter with z; survey B (1 band, 3x3) a noisy z-dependent level."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.0, 2.0, n)
    c = np.arange(8) - 3.5
    blob = np.exp(-0.5 * (c[:, None] ** 2 + c[None, :] ** 2) / 2.0)
    a = (1 + z)[:, None, None, None] * blob[None, None] * np.array([1.0, 0.5])[None, :, None, None]
    a = a + rng.normal(0, 0.1, a.shape)
    b = (z[:, None, None, None] + rng.normal(0, 0.3, (n, 1, 1, 1))) * np.ones((1, 1, 3, 3))
    ebv = rng.uniform(0, 0.1, (n, 1))
    return a.astype(np.float32), b.astype(np.float32), ebv.astype(np.float32), z


def test_late_fusion_shapes_dropout_and_learning():
    net = LateFusionCNN({"opt": 2, "ir": 1}, 40, channels={"opt": (8, 8), "ir": (4,)}, hidden=24, extra=1,
                        survey_dropout=0.5)
    a, b, e, z = _two_survey_toy(400, 0)
    out = net(torch.as_tensor(a[:7]), torch.as_tensor(b[:7]), torch.as_tensor(e[:7]))
    assert out.shape == (7, 40) and net.surveys == ["opt", "ir"]
    assert net.features(torch.as_tensor(a[:3]), torch.as_tensor(b[:3]), torch.as_tensor(e[:3])).shape == (3, 8 * 4 + 4 * 4 + 1)
    with pytest.raises(ValueError, match="expects 2 image tensors"):
        net(torch.as_tensor(a[:3]), torch.as_tensor(e[:3]))
    net.eval()  # no survey dropout at evaluation: deterministic
    x = (torch.as_tensor(a[:5]), torch.as_tensor(b[:5]), torch.as_tensor(e[:5]))
    assert torch.equal(net(*x), net(*x))
    edges = np.linspace(0, 2.0, 41)
    task = BinnedRedshiftTask(LateFusionCNN([2, 1], 40, channels=(8,), hidden=32, extra=1, batch_norm=True), edges)
    av, bv, ev, zv = _two_survey_toy(200, 1)
    res = train_redshift_network(task, (a, b, e), z, (av, bv, ev), zv, max_epochs=8, lr=5e-3, batch_size=64,
                                 device="cpu", seed=0)
    hist = res.history.frame
    assert hist["train_loss"].iloc[-1] < 0.8 * hist["train_loss"].iloc[0]
    pdf = task.predict_pdf((av, bv, ev))
    err = np.abs(pdf.mean() - zv)
    assert np.median(err) < 0.4 * np.median(np.abs(zv - np.median(z)))  # far better than a constant
    assert np.median(err) < np.median(np.abs(bv[:, 0, 1, 1] - zv))  # better than survey B alone


# ----------------------------------------------------------------------------------------- band ablation
def _ablation_toy(n, seed):
    """'uv' measures z only below z = 1, 'ir' only above; 'opt' is a coarse estimate everywhere."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.0, 2.0, n)
    noise = lambda s: rng.normal(0, s, (n, 1, 3, 3))  # noqa: E731
    uv = np.minimum(z, 1.0)[:, None, None, None] + noise(0.03)
    ir = np.maximum(z - 1.0, 0.0)[:, None, None, None] + noise(0.03)
    opt = z[:, None, None, None] + noise(0.25)
    return {"uv": uv.astype(np.float32), "opt": opt.astype(np.float32), "ir": ir.astype(np.float32)}, z


def test_band_ablation_finds_the_known_answer():
    data, z = _ablation_toy(1500, 0)
    order = np.random.default_rng(1).permutation(len(z))
    test, val, train = order[:500], order[500:700], order[700:]
    edges = np.linspace(0, 2.0, 41)
    names = ("uv", "opt", "ir")

    def make_task(dropped):
        keep = [s for s in names if s not in dropped]
        return BinnedRedshiftTask(LateFusionCNN({s: 1 for s in keep}, 40, channels=(8,), hidden=32), edges)

    def make_inputs(dropped):
        return tuple(data[s] for s in names if s not in dropped)

    res = band_ablation(make_task, make_inputs, z, train, val, test, {"no UV": ("uv",), "no IR": ("ir",)},
                        bins=[0, 1, 2], fit_kwargs=dict(max_epochs=10, lr=5e-3, batch_size=64, device="cpu"))
    assert set(res.pdfs) == {"all surveys", "no UV", "no IR"} and set(res.fit_results) == set(res.pdfs)
    d = res.degradation("nmad", relative=True)
    assert list(d.columns) == ["z_lo", "z_hi", "n", "no UV", "no IR"]
    assert d["no UV"].iloc[0] > 0.5 and d["no UV"].iloc[0] > d["no UV"].iloc[1] + 0.3  # UV hurts at low z
    assert d["no IR"].iloc[1] > 0.5 and d["no IR"].iloc[1] > d["no IR"].iloc[0] + 0.3  # IR hurts at high z
    assert res.most_hurt_bin("no UV") == (0.0, 1.0) and res.most_hurt_bin("no IR") == (1.0, 2.0)
    crps = res.degradation("crps")
    assert crps["no UV"].iloc[0] > 0 and crps["no IR"].iloc[1] > 0
    assert res.summary.loc["no UV", "dropped"] == "uv"
    # the comparison itself works on PDFs from anywhere (e.g. the oracle with fewer bands)
    again = ablation_result(res.pdfs, z[test], [0, 1, 2], variants=res.variants, mode="oracle")
    np.testing.assert_allclose(again.degradation("nmad")["no IR"], res.degradation("nmad")["no IR"])
    assert set(res.tasks) == set(res.pdfs)


def test_zero_mode_measures_use_by_a_network_trained_with_survey_dropout():
    data, z = _ablation_toy(1500, 2)
    order = np.random.default_rng(3).permutation(len(z))
    test, val, train = order[:500], order[500:700], order[700:]
    names = ("uv", "opt", "ir")
    edges = np.linspace(0, 2.0, 41)
    task = BinnedRedshiftTask(LateFusionCNN({s: 1 for s in names}, 40, channels=(8,), hidden=32,
                                            survey_dropout=0.3), edges)
    inputs = tuple(data[s] for s in names)
    train_redshift_network(task, tuple(x[train] for x in inputs), z[train], tuple(x[val] for x in inputs), z[val],
                           max_epochs=10, lr=5e-3, batch_size=64, device="cpu", seed=0)

    def zeroed(dropped):
        return tuple(np.zeros_like(data[s]) if s in dropped else data[s] for s in names)

    res = band_ablation(None, zeroed, z, train, val, test, {"no UV": ("uv",), "no IR": ("ir",)}, bins=[0, 1, 2],
                        mode="zero", trained={"all surveys": task})
    assert res.mode == "zero" and not res.fit_results and res.tasks["no UV"] is task
    d = res.degradation("nmad", relative=True)
    assert d["no UV"].iloc[0] > d["no UV"].iloc[1] and d["no IR"].iloc[1] > d["no IR"].iloc[0]
    assert res.most_hurt_bin("no UV") == (0.0, 1.0) and res.most_hurt_bin("no IR") == (1.0, 2.0)
    with pytest.raises(DataValidationError, match="trained reference"):
        band_ablation(None, zeroed, z, train, val, test, {"no UV": ("uv",)}, bins=[0, 1, 2], mode="zero")


# ----------------------------------------------------------------------------------------- recalibration
def test_pit_recalibration_fitted_on_validation_improves_test_pit():
    rng = np.random.default_rng(0)
    grid = np.linspace(0, 1.6, 161)
    z = rng.uniform(0.1, 1.4, 3000)
    centre = z + rng.normal(0, 0.08, z.size) + 0.03  # biased and wider than the PDFs say: over-confident
    logits = -0.5 * ((grid[None, :] - centre[:, None]) / 0.04) ** 2
    pdf = RedshiftPDF.from_logits(logits, grid)
    val, test = np.arange(1000), np.arange(1000, 3000)
    raw = pit_ks(pdf[test].pit(z[test])).statistic
    recal = PITRecalibrator(n_knots=20).fit(pdf[val], z[val])
    new = pit_ks(recal.transform(pdf[test]).pit(z[test])).statistic
    assert raw > 0.15 and new < 0.05 and new < raw / 3


# ----------------------------------------------------------------------------------------- bad input
def test_bad_input_names_the_fix(ms):
    with pytest.raises(DataValidationError, match="'early' or 'late'"):
        fusion_inputs(ms, "middle")
    with pytest.raises(DataValidationError, match="foreground_ebv"):
        fusion_inputs(ms, extra_columns=("ebv_sfd",))
    with pytest.raises(DataValidationError, match="not among"):
        fusion_inputs(ms, drop=("sdss",))
    with pytest.raises(DataValidationError, match="pick bands"):
        fusion_inputs(ms, bands={"wise": ("w5",)})
    with pytest.raises(DataValidationError, match="images_hsc"):
        fusion_inputs(ms, surveys=("hsc",))
    with pytest.raises(DataValidationError, match="Angstrom"):
        dust.milky_way_extinction([-1.0])
    with pytest.raises(DataValidationError, match="foreground_ebv"):
        dust.deredden_table(ms.catalog[["object_id", "panstarrs_g_flux", "panstarrs_g_flux_err"]], ["panstarrs_g"])
    with pytest.raises(DataValidationError, match="high_latitude"):
        simulate_multisurvey(20, surveys=("panstarrs",), foreground_ebv="planck")
    z = np.linspace(0.1, 1.0, 30)
    idx = np.arange(30)
    with pytest.raises(DataValidationError, match="disjoint"):
        band_ablation(None, lambda d: (np.zeros((30, 1)),), z, idx[:20], idx[15:25], idx[25:], {"x": ("a",)},
                      bins=[0, 1])
    with pytest.raises(DataValidationError, match="strictly increasing"):
        band_ablation(None, lambda d: (np.zeros((30, 1)),), z, idx[:10], idx[10:20], idx[20:], {"x": ("a",)},
                      bins=[1, 0])
    with pytest.raises(DataValidationError, match="reference"):
        ablation_result({"no UV": RedshiftPDF(np.linspace(0, 2, 5), np.ones((3, 5)))}, [0.1, 0.2, 0.3], [0, 2])
    assert set(MANTIS_BANDS) == {"galex", "panstarrs", "wise"} and MANTIS_BANDS["wise"] == ("w1", "w2")

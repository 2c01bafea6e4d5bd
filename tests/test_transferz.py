"""TransferZ: two label sources, transfer learning (init_from / freeze / fine_tune), improvement factors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from astrolab import PhotometricRedshift
from astrolab.errors import DataValidationError
from astrolab.metrics import compare_photoz, photoz_summary
from astrolab.photoz.transfer import LSST_REQUIREMENTS, fine_tune, improvement_factors, requirement_check
from astrolab.sim.labels import combine_label_sources, simulate_label_sources

BANDS = ["g", "r", "i", "z", "y"]
SETTINGS = dict(bands=BANDS, hidden=(128, 128, 128), n_bins=120, z_max=4.0, loss="hsc", batch_size=256, lr=2e-3,
                patience=None, progress=False, seed=0, device="cpu")


def split(tab, name):
    return tab[tab["split"] == name]


def dz(tab):
    zt = np.asarray(tab["redshift_true"], float)
    return (np.asarray(tab["redshift"], float) - zt) / (1.0 + zt)


@pytest.fixture(scope="module")
def sources():
    return simulate_label_sources(4000, 1500, seed=0)


# -- label sources ------------------------------------------------------------------------------------------------

def test_source_a_has_the_stated_noise_and_catastrophic_fraction(sources):
    a, _ = sources
    cat = np.asarray(a["label_catastrophic"])
    d = dz(a)
    assert len(a) == 4000
    assert cat.sum() == round(0.03 * 4000) and a.meta["label_catastrophic_fraction"] == pytest.approx(0.03)
    # Gaussian part: sigma 0.03 (1 + z), no offset (standard error of the std ~ 0.03 / sqrt(2 * 3880) = 0.0003)
    assert np.std(d[~cat]) == pytest.approx(0.03, abs=0.0015)
    assert abs(np.mean(d[~cat])) < 0.002
    # catastrophic labels are far off and clustered in colour (a template failure hits similar galaxies)
    assert np.all(np.abs(d[cat]) > 0.15)
    colour = np.asarray(a["g_true"] - a["r_true"], float), np.asarray(a["r_true"] - a["i_true"], float)
    spread_cat = np.nanmean([np.nanstd(c[cat]) for c in colour])
    spread_all = np.nanmean([np.nanstd(c) for c in colour])
    assert spread_cat < spread_all
    np.testing.assert_allclose(np.asarray(a["redshift_err"]), 0.03 * (1 + np.asarray(a["redshift_true"])))


def test_source_b_is_bright_colour_selected_and_near_exact(sources):
    a, b = sources
    d = dz(b)
    assert len(b) == 1500 and not np.asarray(b["label_catastrophic"]).any()
    assert np.std(d) == pytest.approx(0.001, rel=0.1)
    assert np.all(np.asarray(b["i"]) < 22.5)
    assert np.all(np.asarray(b["g"] - b["i"]) < 2.0)
    # B is brighter and lower-z than the representative A: a covariate shift
    assert np.nanmedian(np.asarray(b["i"])) < np.nanmedian(np.asarray(a["i"])) - 0.7
    assert np.median(np.asarray(b["redshift_true"])) < np.median(np.asarray(a["redshift_true"]))
    assert np.nanmean(np.asarray(a["i"]) >= 22.5) > 0.5


def test_duplicates_share_photometry_and_split_and_combine_keeps_spec_z(sources):
    a, b = sources
    ids_a, ids_b = np.asarray(a["object_id"]), np.asarray(b["object_id"])
    dup = np.intersect1d(ids_a, ids_b)
    assert dup.size == round(0.05 * 1500) == b.meta["overlap_with_a"]
    ia = {v: k for k, v in enumerate(ids_a)}
    ib = {v: k for k, v in enumerate(ids_b)}
    for oid in dup[:20]:
        ra, rb = a[ia[oid]], b[ib[oid]]
        assert ra["i"] == rb["i"] and ra["split"] == rb["split"] and ra["redshift_true"] == rb["redshift_true"]
    comb = combine_label_sources(a, b)
    assert len(comb) == len(a) + len(b) - dup.size and comb.meta["n_duplicates"] == dup.size
    assert np.unique(np.asarray(comb["object_id"])).size == len(comb)
    kept = comb[np.isin(np.asarray(comb["object_id"]), dup)]
    assert set(kept["label_source"]) == {"B"}
    comb_a = combine_label_sources(a, b, prefer="A")
    assert set(comb_a[np.isin(np.asarray(comb_a["object_id"]), dup)]["label_source"]) == {"A"}
    # per-object splits: test objects never appear in any training split
    train_ids = np.asarray(comb["object_id"])[np.asarray(comb["split"]) == "train"]
    test_ids = np.concatenate([ids_a[np.asarray(a["split"]) == "test"], ids_b[np.asarray(b["split"]) == "test"]])
    assert not np.intersect1d(train_ids, test_ids).size


def test_same_seed_same_sources_and_random_catastrophic_option():
    a1, b1 = simulate_label_sources(300, 100, seed=3, catastrophic_clusters_a=0, catastrophic_a=0.1)
    a2, _ = simulate_label_sources(300, 100, seed=3, catastrophic_clusters_a=0, catastrophic_a=0.1)
    assert np.array_equal(np.asarray(a1["redshift"]), np.asarray(a2["redshift"]))
    cat = np.asarray(a1["label_catastrophic"])
    assert cat.sum() == 30 and np.all(np.abs(dz(a1)[cat]) > 0.15)


@pytest.mark.parametrize("kwargs, words", [
    ({"n_a": 5}, "n_a"),
    ({"sigma_a": -0.1}, "sigma_a"),
    ({"catastrophic_a": 0.9}, "catastrophic_a"),
    ({"b_selection_band": "u"}, "'u'"),
    ({"b_mag_limit": 15.0}, "B selection"),
])
def test_bad_source_settings_name_the_setting(kwargs, words):
    args = {"n_a": 200, "n_b": 50, **kwargs}
    with pytest.raises(DataValidationError, match="Fix:") as err:
        simulate_label_sources(args.pop("n_a"), args.pop("n_b"), **args)
    assert words in str(err.value)


def test_combine_rejects_missing_key_and_repeated_ids(sources):
    a, b = sources
    with pytest.raises(DataValidationError, match="no column 'uid'"):
        combine_label_sources(a, b, key="uid")
    from astropy.table import vstack

    with pytest.raises(DataValidationError, match="repeated ids"):
        combine_label_sources(vstack([a[:5], a[:5]]), b)
    with pytest.raises(DataValidationError, match="'A' or 'B'"):
        combine_label_sources(a, b, prefer="C")


# -- transfer learning ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(sources):
    """Baseline on noisy A, transfer learning A -> B (small lr, and frozen first layers), combined A ∪ B."""
    a, b = sources
    base = PhotometricRedshift(epochs=20, **SETTINGS).fit(split(a, "train"), val_table=split(a, "val"))
    tl = fine_tune(base, split(b, "train"), lr=3e-4, epochs=15, val_table=split(b, "val"))
    frozen = fine_tune(base, split(b, "train"), lr=1e-3, epochs=8, freeze=("net.body.0", "net.body.2"),
                       val_table=split(b, "val"))
    comb = combine_label_sources(a, b)
    combined = PhotometricRedshift(epochs=20, **SETTINGS).fit(split(comb, "train"), val_table=split(comb, "val"))
    return {"baseline (A)": base, "transfer A→B": tl, "transfer, frozen": frozen, "combined A∪B": combined}


def test_baseline_learns_from_noisy_labels(trained, sources):
    a, _ = sources
    base = trained["baseline (A)"]
    frame = base.history_.frame
    assert frame["train_loss"].iloc[-1] < 0.8 * frame["train_loss"].iloc[0]
    test = split(a, "test")
    zt = np.asarray(test["redshift_true"])
    trivial = photoz_summary(np.full(zt.size, np.median(np.asarray(split(a, "train")["redshift"]))), zt)
    got = photoz_summary(base.predict(test), zt)
    assert got["nmad"] < 0.4 * trivial["nmad"] and got["outlier_rate"] < 0.5 * trivial["outlier_rate"]


def test_init_from_copies_weights_and_keeps_feature_scaling(trained, sources):
    a, b = sources
    base = trained["baseline (A)"]
    before = {k: v.clone() for k, v in base.module_.state_dict().items()}
    one_epoch = PhotometricRedshift(**{**SETTINGS, "epochs": 1, "lr": 1e-12})
    one_epoch.fit(split(b, "train"), init_from=base)
    # the pre-trained model is untouched, the copy starts from its weights (lr ~ 0: still equal) ...
    for k, v in base.module_.state_dict().items():
        assert torch.equal(v, before[k])
        assert torch.allclose(one_epoch.module_.state_dict()[k], v, atol=1e-6)
    # ... and keeps its feature scaling instead of refitting it on B (whose magnitudes are brighter)
    x = split(b, "test")
    np.testing.assert_array_equal(one_epoch.features_.transform(x), base.features_.transform(x))
    refit = PhotometricRedshift(**{**SETTINGS, "epochs": 1}).fit(split(b, "train"))
    assert not np.allclose(refit.features_.transform(x), base.features_.transform(x))
    assert trained["transfer A→B"].lr == pytest.approx(3e-4)


def test_freeze_keeps_frozen_weights_and_trains_the_rest(trained):
    base, frozen = trained["baseline (A)"], trained["transfer, frozen"]
    assert frozen.frozen_ == ["net.body.0.weight", "net.body.0.bias", "net.body.2.weight", "net.body.2.bias"]
    sb, sf = base.module_.state_dict(), frozen.module_.state_dict()
    for name in frozen.frozen_:
        assert torch.equal(sf[name], sb[name]), name
    assert not torch.allclose(sf["net.head.weight"], sb["net.head.weight"])
    assert not torch.allclose(sf["net.body.4.weight"], sb["net.body.4.weight"])
    assert trained["transfer A→B"].frozen_ == []


def test_transfer_and_combined_beat_the_noisy_baseline_on_spec_z(trained, sources):
    """The TransferZ result at FAST scale: on the spec-z (B) test set both approaches beat the A-only baseline."""
    a, b = sources
    test_b = split(b, "test")
    zt = np.asarray(test_b["redshift_true"])
    summary = compare_photoz({n: m.predict_pdf(test_b) for n, m in trained.items()}, zt)
    factors = improvement_factors(summary, "baseline (A)", metrics=("bias", "rms", "nmad", "outlier_rate"))
    # At FAST scale (1,000 spec-z training objects, 294 test objects) only the scatter gain is stable across
    # seeds and machines; the bias, RMS and outlier factors are quoted by notebook 02, not asserted here.
    for model in ("transfer A→B", "combined A∪B"):
        assert factors.loc[model, "nmad"] > 1.2, factors


def test_fine_tune_refuses_bad_input(trained, sources):
    _, b = sources
    base = trained["baseline (A)"]
    with pytest.raises(DataValidationError, match="fitted PhotometricRedshift"):
        fine_tune(PhotometricRedshift(bands=BANDS), split(b, "train"))
    with pytest.raises(DataValidationError, match="shape"):
        fine_tune(base, split(b, "train"), hidden=(64,))
    with pytest.raises(DataValidationError, match="unknown setting"):
        fine_tune(base, split(b, "train"), learning_rate=1e-3)
    with pytest.raises(DataValidationError, match="positive learning rate"):
        fine_tune(base, split(b, "train"), lr=0.0)
    with pytest.raises(DataValidationError, match="net.body.0"):
        fine_tune(base, split(b, "train"), freeze=("net.nothing",), epochs=1)
    with pytest.raises(DataValidationError, match="differs in n_bins"):
        PhotometricRedshift(**{**SETTINGS, "n_bins": 60, "epochs": 1}).fit(split(b, "train"), init_from=base)
    with pytest.raises(DataValidationError, match="init_from"):
        PhotometricRedshift(**{**SETTINGS, "epochs": 1}).fit(split(b, "train"), init_from="model.pt")


# -- improvement factors and requirements --------------------------------------------------------------------------

def test_improvement_factors_and_requirement_check_compute_ratios():
    summary = pd.DataFrame({"bias": [-0.02, 0.004, 0.0], "rms": [0.3, 0.15, 0.2], "nmad": [0.06, 0.03, 0.01],
                            "outlier_rate": [0.12, 0.06, 0.0]}, index=["base", "tl", "perfect"])
    f = improvement_factors(summary, "base")
    assert list(f.index) == ["tl", "perfect"]
    assert f.loc["tl", "bias"] == pytest.approx(5.0) and f.loc["tl", "rms"] == pytest.approx(2.0)
    assert f.loc["perfect", "outlier_rate"] == pytest.approx(0.12 / 1e-4)
    req = requirement_check(summary)
    assert req["all"].tolist() == [False, False, True]
    assert req[f"nmad < {LSST_REQUIREMENTS['nmad']}"].tolist() == [False, True, True]
    with pytest.raises(DataValidationError, match="baseline 'nope'"):
        improvement_factors(summary, "nope")
    with pytest.raises(DataValidationError, match="crps"):
        improvement_factors(summary, "base", metrics=("crps",))
    with pytest.raises(DataValidationError, match="outlier_rate"):
        requirement_check(summary[["bias"]])


def test_transferz_plots_render(sources):
    import holoviews as hv

    from astrolab.viz.photoz_plots import improvement_bars, requirement_band, source_colour_colour

    a, b = sources
    cc = source_colour_colour({"A": a, "B": b}, max_points=200)
    assert len(cc) == 2 and {len(e) for e in cc} == {200}
    band = requirement_band("bias", 0.003)
    assert (band.data if hasattr(band, "data") else None) is not None
    f = pd.DataFrame({"bias": [5.0], "rms": [1.5]}, index=["tl"])
    bars = improvement_bars({"spec-z": f, "A-like": f / 2})
    hv.render(bars, backend="bokeh")
    hv.render(cc, backend="bokeh")
    with pytest.raises(DataValidationError, match="band column"):
        source_colour_colour({"A": a[["g", "r"]]})
    with pytest.raises(DataValidationError, match="no finite factor"):
        improvement_bars({"spec-z": f * np.nan})

"""PhotometricRedshift: learns, beats trivial baselines, handles bad rows, saves/loads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from astrolab import PhotometricRedshift
from astrolab.errors import CheckpointError, DataValidationError
from astrolab.metrics.photoz import nmad, outlier_rate
from astrolab.sim.galaxies import simulate_galaxies

BANDS = ["g", "r", "i", "z", "y"]


@pytest.fixture(scope="module")
def survey():
    train = simulate_galaxies(6000, survey="hsc", seed=11)
    test = simulate_galaxies(1500, survey="hsc", seed=12)
    return train, test


@pytest.fixture(scope="module")
def fitted(survey, tmp_path_factory):
    train, _ = survey
    model = PhotometricRedshift(bands=BANDS, hidden=(128, 128), n_bins=100, epochs=25, batch_size=256,
                                lr=2e-3, patience=None, progress=False, seed=0, device="cpu")
    return model.fit(train, z="redshift", run_dir=tmp_path_factory.mktemp("run"))


def test_loss_falls_and_beats_mean_baseline(fitted, survey):
    _, test = survey
    frame = fitted.history_.frame
    assert len(frame) == 25
    assert frame["train_loss"].iloc[-1] < 0.6 * frame["train_loss"].iloc[0]
    z_true = np.asarray(test["redshift"])
    z_hat = fitted.predict(test)
    baseline = np.full_like(z_true, np.asarray(survey[0]["redshift"]).mean())
    assert nmad(z_hat, z_true) < 0.35 * nmad(baseline, z_true)
    assert outlier_rate(z_hat, z_true) < 0.5 * outlier_rate(baseline, z_true)


def test_pdfs_are_densities_and_roughly_calibrated(fitted, survey):
    _, test = survey
    pdf = fitted.predict_pdf(test)
    assert len(pdf) == len(test)
    integral = np.trapezoid(pdf.pdf, pdf.z_grid, axis=1)
    assert np.allclose(integral, 1.0, atol=1e-3)
    pit = pdf.pit(np.asarray(test["redshift"]))
    from astrolab.metrics.pdf import pit_ks

    assert pit_ks(pit).statistic < 0.15
    assert np.array_equal(pdf.ids, np.asarray(test["object_id"]))


def test_nan_and_non_detections_are_handled_not_dropped(fitted, survey):
    _, test = survey
    bad = test[:20].copy()
    bad["g"][:5] = np.nan
    bad["y"][5:10] = np.inf
    for band in BANDS:
        bad[band][10] = np.nan
    z = fitted.predict(bad)
    assert z.shape == (20,) and np.all(np.isfinite(z))


def test_missing_band_column_names_the_band(fitted, survey):
    _, test = survey
    with pytest.raises(DataValidationError, match="y"):
        fitted.predict(test[["g", "r", "i", "z", "object_id"]])


def test_bad_training_redshifts_rejected(survey):
    train, _ = survey
    bad = train[:200].copy()
    bad["redshift"][3] = -0.5
    with pytest.raises(DataValidationError, match="Fix:"):
        PhotometricRedshift(bands=BANDS, epochs=1, progress=False).fit(bad)


def test_save_load_roundtrip_weights_only(fitted, survey, tmp_path):
    _, test = survey
    path = fitted.save(tmp_path / "pz.pt")
    torch.load(path, weights_only=True)  # plain tensors and Python values only
    again = PhotometricRedshift.load(path)
    assert np.allclose(again.predict(test[:50]), fitted.predict(test[:50]))
    (tmp_path / "broken.pt").write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="Fix:"):
        PhotometricRedshift.load(tmp_path / "broken.pt")


def test_params_and_param_space(fitted):
    params = fitted.get_params()
    assert params["bands"] == BANDS and params["n_bins"] == 100
    space = fitted.param_space()
    assert space["loss"][0] == "choice" and "lr" in space
    clone = PhotometricRedshift(**params).set_params(width=64, depth=3)
    assert clone.hidden == (64, 64, 64)
    with pytest.raises(DataValidationError):
        clone.set_params(nonsense=1)

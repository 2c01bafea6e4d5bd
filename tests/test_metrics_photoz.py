"""Tests of astrolab.metrics.photoz against hand-computed and analytic values."""

import numpy as np
import pytest

from astrolab.errors import DataValidationError
from astrolab.metrics import photoz as pz


def test_delta_z_and_outlier_rate_hand_example():
    z_true = np.array([0.0, 1.0, 1.0, 0.5, 2.0])
    z_pred = np.array([0.1, 1.2, 1.5, 0.5, 1.7])
    dz = pz.delta_z(z_pred, z_true)
    np.testing.assert_allclose(dz, [0.1, 0.1, 0.25, 0.0, -0.1])
    assert pz.outlier_rate(z_pred, z_true) == pytest.approx(1 / 5)  # only 0.25 > 0.15
    assert pz.outlier_rate(z_pred, z_true, threshold=0.05) == pytest.approx(4 / 5)
    assert pz.rms(z_pred, z_true) == pytest.approx(np.sqrt((0.01 * 3 + 0.0625) / 5))
    expected_hsc = np.mean(1 - 1 / (1 + (dz / 0.15) ** 2))
    assert pz.hsc_loss(z_pred, z_true) == pytest.approx(expected_hsc)


def test_bias_kinds():
    z_true = np.zeros(5)
    z_pred = np.array([-0.1, 0.0, 0.01, 0.02, 1.0])
    assert pz.bias(z_pred, z_true) == pytest.approx(0.186)
    assert pz.bias(z_pred, z_true, kind="median") == pytest.approx(0.01)
    bw = pz.bias(z_pred, z_true, kind="biweight")
    assert abs(bw - 0.01) < 0.02  # robust: ignores the 1.0 outlier
    with pytest.raises(DataValidationError, match="Fix:"):
        pz.bias(z_pred, z_true, kind="mode")


def test_nmad_of_normal_dz_equals_sigma():
    rng = np.random.default_rng(0)
    z_true = rng.uniform(0.1, 3.0, 20000)
    sigma = 0.03
    dz = rng.normal(0.01, sigma, z_true.size)
    z_pred = z_true + dz * (1 + z_true)
    assert pz.nmad(z_pred, z_true) == pytest.approx(sigma, rel=0.03)
    assert pz.bias(z_pred, z_true) == pytest.approx(0.01, abs=1e-3)


def test_summary_and_binned_counts():
    rng = np.random.default_rng(1)
    z_true = rng.uniform(0.0, 4.0, 3000)
    z_pred = np.clip(z_true + rng.normal(0, 0.05, z_true.size) * (1 + z_true), 0, None)
    s = pz.photoz_summary(z_pred, z_true)
    assert set(s) == {"n", "bias", "bias_median", "nmad", "outlier_rate", "rms", "hsc_loss"}
    assert s["n"] == 3000
    assert s["nmad"] == pytest.approx(pz.nmad(z_pred, z_true))
    df = pz.binned_photoz_metrics(z_pred, z_true)
    assert list(df.columns) == ["z_lo", "z_hi", "n", "bias", "bias_median", "nmad", "outlier_rate", "rms"]
    assert len(df) == 20
    assert df["n"].sum() == 3000
    np.testing.assert_allclose(df["z_lo"].to_numpy()[:3], [0.0, 0.2, 0.4])
    # z_true = 4.0 exactly belongs to the last (closed) bin; z outside is dropped
    df2 = pz.binned_photoz_metrics([4.0, 5.0, 0.1], [4.0, 5.0, 0.1], bins=[0, 2, 4])
    assert df2["n"].tolist() == [1, 1]
    df3 = pz.binned_photoz_metrics([0.1], [0.1], bins=[0, 1, 2])
    assert np.isnan(df3["nmad"].iloc[1]) and df3["n"].iloc[1] == 0


def test_mean_abs_binned_bias_sees_offsets_that_cancel_in_one_median():
    rng = np.random.default_rng(3)
    z_true = rng.uniform(0.1, 1.25, 20000)
    # regression to the mean: over-predicted at low z, under-predicted at high z, median offset 0 overall
    offset = -0.04 * (z_true - np.median(z_true))
    z_pred = z_true + (offset + rng.normal(0, 0.03, z_true.size)) * (1 + z_true)
    assert abs(pz.bias(z_pred, z_true, kind="median")) < 0.004
    b = pz.mean_abs_binned_bias(z_pred, z_true, z_range=(0.1, 1.25), width=0.2)
    # bins [0.1, 0.3), ..., [1.1, 1.25]: |offset| at the bin centres, averaged
    centres = np.array([0.2, 0.4, 0.6, 0.8, 1.0, 1.175])
    expected = np.mean(np.abs(-0.04 * (centres - np.median(z_true))))
    assert b == pytest.approx(expected, abs=0.002)
    unbiased = z_true + rng.normal(0, 0.03, z_true.size) * (1 + z_true)
    assert pz.mean_abs_binned_bias(unbiased, z_true) < 0.1 * b
    df = pz.binned_photoz_metrics(z_pred, z_true, bins=[0.1, 0.3, 1.1, 1.25])
    assert df["bias_median"].iloc[0] > 0 > df["bias_median"].iloc[2]
    with pytest.raises(Exception, match="z_range"):
        pz.mean_abs_binned_bias(z_pred, z_true, z_range=(1.0, 0.5))


def test_hsc_loss_torch_matches_numpy_and_has_gradient():
    torch = pytest.importorskip("torch")
    zt = torch.tensor([0.2, 1.0, 2.5, 0.7], dtype=torch.float64)
    zp = torch.tensor([0.25, 1.5, 2.4, 0.7], dtype=torch.float64, requires_grad=True)
    loss = pz.hsc_loss_torch(zp, zt)
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(pz.hsc_loss(zp.detach().numpy(), zt.numpy()))
    loss.backward()
    assert torch.all(torch.isfinite(zp.grad)) and zp.grad.abs().sum() > 0
    assert zp.grad[3].item() == 0.0  # perfect prediction: zero gradient


@pytest.mark.parametrize(
    "z_pred, z_true, word",
    [
        ([0.1, 0.2], [0.1], "different lengths"),
        ([], [], "empty"),
        ([0.1, np.nan], [0.1, 0.2], "non-finite"),
        ([0.1, 0.2], [0.1, -1.0], "z_true"),
    ],
)
def test_validation_errors_name_argument_and_fix(z_pred, z_true, word):
    with pytest.raises(DataValidationError) as exc:
        pz.photoz_summary(z_pred, z_true)
    assert word in str(exc.value)
    assert "Fix:" in str(exc.value)

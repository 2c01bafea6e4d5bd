"""Tests of astrolab.metrics regression, classification and clustering metrics."""

import subprocess
import sys

import numpy as np
import pytest

from astrolab.errors import DataValidationError
from astrolab.metrics import classification as cl
from astrolab.metrics import clustering as cu
from astrolab.metrics import regression as rg


def test_chi2_n_per_band():
    obs = np.zeros((4, 2))
    pred = np.array([[1.0, 2.0], [1.0, 0.0], [-1.0, 2.0], [1.0, 0.0]])
    sigma = np.array([1.0, 2.0])
    np.testing.assert_allclose(rg.chi2_n(pred, obs, sigma), [1.0, 0.5])
    assert rg.chi2_n(pred, obs, sigma, axis=None) == pytest.approx(0.75)
    rng = np.random.default_rng(0)
    s = rng.uniform(0.5, 2.0, (5000, 3))
    o = rng.normal(0, s)
    np.testing.assert_allclose(rg.chi2_n(np.zeros_like(o), o, s), 1.0, atol=0.06)
    with pytest.raises(DataValidationError, match="Fix:"):
        rg.chi2_n(pred, obs, [1.0, 0.0])


def test_sigma_mad_and_outliers():
    rng = np.random.default_rng(2)
    d = rng.normal(0, 0.2, 20000)
    assert rg.sigma_mad(d) == pytest.approx(0.2, rel=0.03)
    d = np.array([0.0, 0.1, -0.1, 0.1, -0.1, 5.0])
    s = 1.4826 * 0.1
    assert rg.sigma_mad(d) == pytest.approx(s)
    assert rg.outlier_fraction_sigma(d, k=3) == pytest.approx(1 / 6)
    with pytest.raises(DataValidationError, match="Fix:"):
        rg.sigma_mad([np.nan, 1.0])


def test_classification_hand_example():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    cm = cl.confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(cm, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_allclose(cl.confusion_matrix(y_true, y_pred, normalize="true")[0], [2 / 3, 1 / 3, 0])
    assert cl.accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    assert cl.balanced_accuracy(y_true, y_pred) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    # F1: class0 P=1 R=2/3 -> 0.8; class1 P=1/2 R=1/2 -> 0.5; class2 P=1/2 R=1 -> 2/3
    assert cl.macro_f1(y_true, y_pred) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    s = cl.classification_summary(y_true, y_pred)
    assert s["n"] == 6 and s["accuracy"] == pytest.approx(4 / 6)
    np.testing.assert_array_equal(s["confusion_matrix"], cm)
    with pytest.raises(DataValidationError, match="Fix:"):
        cl.accuracy([0, 1], [0])


def test_clustering_identical_and_kmeans():
    a = np.array([0, 0, 1, 1, 2, 2])
    b = np.array([5, 5, 3, 3, 9, 9])  # same partition, other names
    assert cu.nmi(a, b) == pytest.approx(1.0)
    assert cu.ari(a, b) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 50)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    latents = centres[labels] + rng.normal(0, 0.5, (150, 2))
    s = cu.kmeans_scores(latents, labels, seed=0)
    assert s == {"nmi": pytest.approx(1.0), "ari": pytest.approx(1.0)}
    with pytest.raises(DataValidationError, match="Fix:"):
        cu.nmi([0, 1], [0, 1, 2])


def test_metrics_import_does_not_import_torch():
    code = "import sys, astrolab.metrics as m; m.RedshiftPDF; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

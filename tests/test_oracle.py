"""The template-fitting oracle: accuracy, calibration, priors, robustness to missing data."""

from __future__ import annotations

import numpy as np
import pytest

from astrolab.errors import DataValidationError
from astrolab.metrics import nmad, outlier_rate
from astrolab.metrics.pdf import RedshiftPDF, pit_ks
from astrolab.photoz.oracle import TemplateFitter
from astrolab.sim.galaxies import simulate_galaxies
from astrolab.sim.sed import TemplateLibrary


@pytest.fixture(scope="module")
def sample():
    t = simulate_galaxies(1100, survey="hsc", seed=21)
    return t[np.asarray(t["i"]) < 25][:1000]  # NaN (non-detected) i drops out too


@pytest.fixture(scope="module")
def oracle():
    return TemplateFitter(survey="hsc")


@pytest.fixture(scope="module")
def pdf(sample, oracle):
    return oracle.predict_pdf(sample)


def test_grid_oracle_is_accurate_and_calibrated(sample, pdf):
    z = np.asarray(sample["redshift"])
    assert len(sample) == 1000 and isinstance(pdf, RedshiftPDF) and pdf.pdf.shape == (1000, 300)
    z_hat = pdf.median()
    assert nmad(z_hat, z) < 0.05
    assert outlier_rate(z_hat, z) < 0.1
    baseline = np.full_like(z, z.mean())
    assert nmad(z_hat, z) < 0.15 * nmad(baseline, z)
    assert outlier_rate(z_hat, z) < 0.3 * outlier_rate(baseline, z)
    assert pit_ks(pdf.pit(z)).statistic < 0.1
    bright = np.asarray(sample["i"]) < 23.5
    assert nmad(z_hat[bright], z[bright]) < nmad(z_hat[~bright], z[~bright])  # degrades with magnitude
    assert np.array_equal(pdf.ids, np.asarray(sample["object_id"]))


def test_predict_is_the_posterior_median(sample, oracle, pdf):
    sub = sample[:50]
    assert np.allclose(oracle.predict(sub), pdf.median()[:50])
    assert np.allclose(oracle.predict(sub, kind="mode"), pdf.mode()[:50])


def test_priors_and_custom_library(sample):
    sub = sample[:200]
    z = np.asarray(sub["redshift"])
    flat = TemplateFitter(survey="hsc", prior="flat").predict(sub)
    assert nmad(flat, z) < 0.08
    zg = np.linspace(0.005, 3.0, 150)
    custom = TemplateFitter(survey="hsc", z_grid=zg, prior=lambda x: x**2 * np.exp(-x)).predict_pdf(sub)
    assert custom.pdf.shape == (200, 150)
    small = TemplateLibrary.default(grid={"age": (0.3, 3.0), "metallicity": (0.0,)})
    fit = TemplateFitter(survey="hsc", library=small, prior="flat")
    assert fit.models.shape == (len(small), 300, 5)
    assert nmad(fit.predict(sub), z) < 0.3 * nmad(np.full_like(z, z.mean()), z)
    with pytest.raises(DataValidationError, match="prior"):
        TemplateFitter(prior="cosmic")


def test_population_method(sample):
    sub = sample[:300]
    z = np.asarray(sub["redshift"])
    pdf = TemplateFitter(survey="hsc", method="population", library_size=6000).predict_pdf(sub)
    assert nmad(pdf.median(), z) < 0.05


def test_missing_and_nan_bands(sample, oracle):
    with pytest.raises(DataValidationError, match=r"\['y'\].*Fix"):
        oracle.predict(sample[[c for c in sample.colnames if not c.startswith("y")]])
    bad = sample[:40].copy()
    bad["g_flux"][:20] = np.nan  # g missing for half of the objects
    z_hat = oracle.predict(bad)
    assert np.all(np.isfinite(z_hat))
    z = np.asarray(bad["redshift"])
    assert nmad(z_hat, z) < 0.1
    # dropping g for an object is the same as fitting it with a g-less fitter
    no_g = TemplateFitter(survey="hsc", bands=["r", "i", "z", "y"]).predict(bad[:20])
    assert np.allclose(z_hat[:20], no_g, atol=1e-3)  # float32 sums
    for b in "grizy":
        bad[f"{b}_flux"][25] = np.nan
    with pytest.raises(DataValidationError, match=str(bad["object_id"][25])):
        oracle.predict(bad)

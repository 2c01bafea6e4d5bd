"""The template-fitting oracle: accuracy, calibration, robustness to missing data."""

from __future__ import annotations

import numpy as np
import pytest

from astrolab.errors import DataValidationError
from astrolab.metrics import nmad, outlier_rate
from astrolab.metrics.pdf import pit_ks
from astrolab.photoz.oracle import TemplateFitter
from astrolab.sim.galaxies import simulate_galaxies


@pytest.fixture(scope="module")
def sample():
    return simulate_galaxies(1000, survey="hsc", seed=21)


@pytest.fixture(scope="module")
def oracle():
    return TemplateFitter(survey="hsc", library_size=12000)


def test_population_oracle_is_accurate_and_calibrated(sample, oracle):
    z = np.asarray(sample["redshift"])
    pdf = oracle.predict_pdf(sample)
    z_hat = pdf.median()
    assert nmad(z_hat, z) < 0.04
    assert outlier_rate(z_hat, z) < 0.12
    baseline = np.full_like(z, z.mean())
    assert nmad(z_hat, z) < 0.15 * nmad(baseline, z)
    assert pit_ks(pdf.pit(z)).statistic < 0.1
    bright = np.asarray(sample["i"]) < 23
    assert nmad(z_hat[bright], z[bright]) < nmad(z_hat[~bright], z[~bright])
    assert np.array_equal(pdf.ids, np.asarray(sample["object_id"]))


def test_grid_method_runs_and_beats_the_mean(sample):
    z = np.asarray(sample["redshift"])[:300]
    z_hat = TemplateFitter(survey="hsc", method="grid").predict(sample[:300])
    assert nmad(z_hat, z) < 0.5 * nmad(np.full_like(z, z.mean()), z)


def test_missing_and_nan_bands(sample, oracle):
    with pytest.raises(DataValidationError, match="y"):
        oracle.predict(sample[[c for c in sample.colnames if not c.startswith("y")]])
    bad = sample[:20].copy()
    bad["g_flux"][:5] = np.nan
    for b in "grizy":
        bad[f"{b}_flux"][5] = np.nan
    z_hat = oracle.predict(bad)
    assert np.all(np.isfinite(z_hat))

"""Bazin-model transient simulator (astrolab.sim.transients)."""

import numpy as np
import pytest
from scipy.optimize import curve_fit

from astrolab.errors import DataValidationError
from astrolab.sim.transients import bazin_flux, simulate_transients


def test_bazin_shape():
    t = np.linspace(-20, 100, 2000)
    f = bazin_flux(t, 2.0, 0.0, 3.0, 30.0)
    tpeak = t[np.argmax(f)]
    assert tpeak == pytest.approx(3.0 * np.log(30.0 / 3.0 - 1.0), abs=0.1)  # analytic peak time
    assert f[-1] < 0.1 * f.max() and f[0] < 0.01 * f.max()


def test_truth_noise_and_class_timescales():
    s = simulate_transients(150, seed=2)
    lcs, p = s.lightcurves, s.params
    assert set(lcs.bands) == {"g", "r"}
    z = (lcs.value - s.lightcurves_true.value) / lcs.error
    assert 0.9 < z.std() < 1.1
    # the truth function matches the stored noise-free points
    a, b = lcs.offsets[0], lcs.offsets[1]
    m = lcs.band[a:b] == "r"
    assert np.allclose(s.truth(0, lcs.time[a:b][m], "r"), s.lightcurves_true.value[a:b][m])
    lab = np.asarray(p["label"])
    assert np.median(p["tau_fall_r"][lab == "II"]) > 2 * np.median(p["tau_fall_r"][lab == "Ia"])
    # a Bazin fit to the noisy r band of a type II recovers its decline time within 30 %
    i = int(np.flatnonzero(lab == "II")[0])
    a, b = lcs.offsets[i], lcs.offsets[i + 1]
    m = lcs.band[a:b] == "r"
    t, y, e = lcs.time[a:b][m], lcs.value[a:b][m], lcs.error[a:b][m]
    popt, _ = curve_fit(lambda t, A, t0, tr, tf: bazin_flux(t, A, t0, tr, tf), t, y, sigma=e,
                        p0=[y.max(), t[np.argmax(y)] - 5, 5.0, 50.0], bounds=([0, t.min() - 50, 0.1, 1], [np.inf, t.max(), 50, 500]))
    assert popt[3] == pytest.approx(float(p["tau_fall_r"][i]), rel=0.3)
    with pytest.raises(DataValidationError):
        simulate_transients(0)

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


# ---- spectra on irregular grids with known narrow lines and masked chunks ----------------------

from astrolab.sim.transients import (SPECTRAL_LINES, TRANSIENT_CLASSES, equivalent_width,  # noqa: E402
                                     simulate_transient_spectra)


@pytest.fixture(scope="module")
def spec():
    return simulate_transient_spectra(60, seed=3, n_pixels=200)


def test_spectra_irregular_grids_and_noise(spec):
    s = spec.spectra
    assert s.shape == (60, 200) and not s.shared_grid
    wl = s.wavelength
    assert np.all(np.diff(wl, axis=1) > 0)
    assert wl.min() >= 3900 and wl.max() <= 8100
    # grids differ between objects and are irregular within an object
    assert np.abs(wl[0] - wl[1]).max() > 5.0
    d = np.diff(wl, axis=1)
    assert np.median(d.std(1) / d.mean(1)) > 0.2
    # the noise-free truth: finite everywhere, equals truth() on the stored grid, and the noise has unit pull
    assert np.isfinite(spec.spectra_true.flux).all() and not spec.spectra_true.mask.any()
    assert np.allclose(spec.truth(7, wl[7]), spec.spectra_true.flux[7])
    ok = ~s.mask
    pull = (s.flux - spec.spectra_true.flux)[ok] * np.sqrt(s.ivar[ok])
    assert 0.95 < pull.std() < 1.05 and abs(pull.mean()) < 0.05
    assert (spec.spectra_true.flux > 0).all()  # absorption never goes below zero flux


def test_spectra_masked_chunks_exactly_where_stored(spec):
    s, ch = spec.spectra, spec.chunks
    assert 0.03 < s.mask.mean() < 0.3
    for i in range(len(s)):
        lam = s.wavelength_of(i)
        expect = np.zeros(lam.size, bool)
        rows = ch[ch["object_id"] == i]
        assert 1 <= len(rows) <= 2
        for r in rows:
            expect |= (lam >= r["lo"]) & (lam <= r["hi"])
        assert np.array_equal(s.mask[i], expect)
    assert np.all(s.flux[s.mask] == 0) and np.all(s.ivar[s.mask] == 0)


def test_spectra_lines_class_dependent_and_ew_recoverable(spec):
    labels = np.asarray(spec.params["label"])
    grid_err = []
    for i in range(len(labels)):
        lines = spec.object_lines(i)
        assert list(lines["name"]) == [ln[0] for ln in SPECTRAL_LINES[labels[i]]]
        grid = spec.spectra_true.wavelength_of(i)
        dense = np.linspace(3800, 8200, 40000)
        for ln in lines:
            assert (ln["ew"] > 0) == (ln["kind"] == "emission")
            lo, hi = ln["centre"] - 5 * ln["sigma"], ln["centre"] + 5 * ln["sigma"]
            # exact from the noise-free truth on a dense grid
            ew_dense = equivalent_width(dense, spec.truth(i, dense), spec.continuum(i, dense), lo, hi)
            assert ew_dense == pytest.approx(ln["ew"], rel=0.01)
            # and from the stored noise-free pixels of the irregular grid when the window is covered
            if grid[0] < lo and grid[-1] > hi:
                ew_grid = equivalent_width(grid, spec.spectra_true.flux[i], spec.continuum(i, grid), lo, hi)
                grid_err.append(abs(ew_grid / ln["ew"] - 1.0))
    # the ~20 A irregular pixels barely resolve sigma = 12-25 A lines: the trapezoid is good on the
    # median, within 25 % for the worst (most undersampled) lines
    grid_err = np.asarray(grid_err)
    assert grid_err.size > 100
    assert np.median(grid_err) < 0.05 and grid_err.max() < 0.25
    # classes differ in their line sets: type II has Balmer emission, Ia Si II absorption
    assert {"H alpha", "H beta"} <= set(n for n, _, _ in SPECTRAL_LINES["II"])
    assert set(spec.params["label"]) == set(TRANSIENT_CLASSES)


def test_spectra_bad_input():
    with pytest.raises(DataValidationError):
        simulate_transient_spectra(0)
    with pytest.raises(DataValidationError):
        simulate_transient_spectra(5, n_pixels=4)
    with pytest.raises(DataValidationError):
        simulate_transient_spectra(5, snr=(0.0, 10.0))
    with pytest.raises(DataValidationError):
        simulate_transient_spectra(5, wave_range=(8000.0, 4000.0))
    with pytest.raises(DataValidationError):
        equivalent_width(np.arange(5.0), np.ones(4), np.ones(5), 0, 4)
    with pytest.raises(DataValidationError):
        equivalent_width(np.arange(5.0), np.ones(5), np.zeros(5), 0, 4)

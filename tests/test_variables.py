"""Physics of the variable-star simulator (astrolab.sim.variables)."""

import astropy.units as u
import numpy as np
import pytest
from astropy.timeseries import LombScargle

from astrolab.data.containers import LightCurveSet, MultimodalSet, SpectrumSet
from astrolab.errors import DataValidationError
from astrolab.sim.variables import CLASSES, METADATA_COLUMNS, simulate_variables


@pytest.fixture(scope="module")
def sim():
    return simulate_variables(300, seed=3, wave_step=4.0, n_epochs=(150, 300))


def test_containers_units_and_sampling(sim):
    mm = sim.data
    assert isinstance(mm, MultimodalSet) and isinstance(mm.lightcurves, LightCurveSet) and isinstance(mm.spectra, SpectrumSet)
    assert len(mm) == 300 and set(np.unique(mm.catalog["label"])) <= set(CLASSES)
    assert mm.catalog["parallax"].unit == u.mas and mm.catalog["phot_g_mean_mag"].unit == u.mag
    assert all(c in mm.catalog.colnames for c in METADATA_COLUMNS)
    assert "subclass" not in mm.catalog.colnames  # hidden subclasses are never labelled
    npts = mm.lightcurves.n_points
    assert npts.min() >= 150 and npts.max() <= 300
    # seasonal gaps: every light curve has a gap longer than 60 d
    t = mm.lightcurves.time[mm.lightcurves.offsets[0]:mm.lightcurves.offsets[1]]
    assert np.diff(t).max() > 60
    w = mm.spectra.wavelength
    assert w[0] == pytest.approx(3850) and w[-1] > 8990
    # noise-free truth: residuals are consistent with the quoted (heteroscedastic) errors
    z = (mm.lightcurves.value - sim.lightcurves_true.value) / mm.lightcurves.error
    assert 0.9 < np.std(z) < 1.1
    assert np.ptp(mm.lightcurves.error) > 0.01  # heteroscedastic
    zs = (mm.spectra.flux - sim.spectra_true.flux) * np.sqrt(mm.spectra.ivar)
    assert 0.9 < np.std(zs) < 1.1


def _recovered(t, y, dy, p_true, lo, hi):
    """Lomb-Scargle peak on a regular grid over the class's frequency range; True if P, P/2 or 2P."""
    f = np.arange(1.0 / (2 * hi), 2.2 / lo, 1.0 / (5 * (t[-1] - t[0])))
    power = LombScargle(t, y, dy).power(f, method="fast", assume_regular_frequency=True)
    p = 1.0 / f[np.argmax(power)]
    return any(abs(p / (k * p_true) - 1) < 0.02 for k in (1.0, 0.5, 2.0))


@pytest.mark.parametrize("cls,lo,hi", [("RRAB", 0.4, 0.85), ("RRC", 0.24, 0.43), ("EW", 0.24, 0.58), ("M", 110, 620)])
def test_periods_recoverable_by_lomb_scargle(cls, lo, hi):
    s = simulate_variables(16, seed=11, wave_step=20.0, n_epochs=(200, 400),
                           class_weights=[1.0 if c == cls else 0.0 for c in CLASSES])
    lcs, truth = s.data.lightcurves, s.truth
    ok = []
    for i in range(16):
        a, b = lcs.offsets[i], lcs.offsets[i + 1]
        ok.append(_recovered(lcs.time[a:b], lcs.value[a:b], lcs.error[a:b], float(truth["period"][i]), lo, hi))
    assert np.mean(ok) >= 0.8, f"{cls}: period recovered for only {np.mean(ok):.2f} of the stars"


def test_spectra_follow_teff(sim):
    w = sim.spectra_true.wavelength
    f = sim.spectra_true.flux
    blue = f[:, (w > 4500) & (w < 5000)].mean(1)
    red = f[:, (w > 8000) & (w < 8400)].mean(1)
    teff = np.asarray(sim.truth["teff"])
    from scipy.stats import spearmanr

    assert spearmanr(np.log(blue / red), teff).statistic > 0.9
    # Balmer (H-delta) absorption: deep in A/F pulsators, shallow in cool giants
    hd = 1 - f[:, np.abs(w - 4101.7) < 4].mean(1) / f[:, (np.abs(w - 4101.7) > 40) & (np.abs(w - 4101.7) < 60)].mean(1)
    lab = np.asarray(sim.truth["label"])
    assert hd[np.isin(lab, ["DSCT", "HADS"])].mean() > hd[lab == "ROT"].mean() + 0.1
    # TiO bands in O-rich Miras, not in carbon Miras: flux just red of the 7053 A head vs just blue of it
    sub = np.asarray(sim.truth["subclass"])
    tio = f[:, (w > 7060) & (w < 7120)].mean(1) / f[:, (w > 6980) & (w < 7040)].mean(1)
    assert tio[sub == "M-O"].mean() < tio[sub == "M-C"].mean() - 0.1


def test_hidden_subclasses_differ_in_period_amplitude():
    s = simulate_variables(400, seed=5, wave_step=20.0, n_epochs=(150, 250),
                           class_weights=[1.0 if c in ("M", "ROT") else 0.0 for c in CLASSES])
    lcs, cat, sub = s.data.lightcurves, s.data.catalog, np.asarray(s.truth["subclass"])
    # observed amplitude (5-95 % range of the light curve) against the catalogue period
    amp = np.array([np.ptp(np.percentile(lcs.value[lcs.offsets[i]:lcs.offsets[i + 1]], [5, 95])) for i in range(len(lcs))])
    logp = np.log10(np.asarray(cat["period"]))
    good = np.asarray(s.truth["period"]) / np.asarray(cat["period"])
    good = np.abs(good - 1) < 0.05  # drop the 5 % aliased catalogue periods
    slopes = {}
    for name in ("M-O", "M-C"):
        m = (sub == name) & good
        slopes[name] = np.polyfit(logp[m], amp[m], 1)[0]
    assert slopes["M-O"] > slopes["M-C"] + 2.0, slopes
    # the two rotator groups: periods and absolute magnitudes separate
    pd, pg = (np.median(np.asarray(s.truth["period"])[sub == k]) for k in ("ROT-dwarf", "ROT-giant"))
    assert pg > 4 * pd
    ga = np.asarray(s.truth["abs_mag_v"])
    assert ga[sub == "ROT-dwarf"].mean() > ga[sub == "ROT-giant"].mean() + 2


def test_bad_input():
    with pytest.raises(DataValidationError, match="n_stars"):
        simulate_variables(0)
    with pytest.raises(DataValidationError, match="class_weights"):
        simulate_variables(10, class_weights=[1, 2])

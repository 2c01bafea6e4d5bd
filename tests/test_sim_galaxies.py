"""The galaxy simulator: determinism, schema, units, physics of colours, noise model."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u

from astrolab.errors import DataValidationError
from astrolab.sim.galaxies import simulate_galaxies
from astrolab.sim.sed import WAVE, sed_shape


@pytest.fixture(scope="module")
def hsc():
    return simulate_galaxies(3000, survey="hsc", seed=3)


def test_deterministic_by_seed():
    a = simulate_galaxies(200, seed=1)
    b = simulate_galaxies(200, seed=1)
    c = simulate_galaxies(200, seed=2)
    assert np.array_equal(np.asarray(a["i_flux"]), np.asarray(b["i_flux"]))
    assert not np.array_equal(np.asarray(a["i_flux"]), np.asarray(c["i_flux"]))


def test_schema_and_units(hsc):
    for col in ("object_id", "redshift", "log_mstar", "sfr", "age", "metallicity", "ebv", "agn_frac"):
        assert col in hsc.colnames
    for b in "grizy":
        for suffix, unit in (("", u.mag), ("_err", u.mag), ("_flux", u.nJy), ("_flux_err", u.nJy), ("_true", u.mag)):
            assert hsc[b + suffix].unit == unit
    assert hsc["sfr"].unit == u.Msun / u.yr and hsc["age"].unit == u.Gyr
    assert len(np.unique(hsc["object_id"])) == len(hsc)
    assert np.all(np.asarray(hsc["redshift"]) > 0) and np.asarray(hsc["redshift"]).max() <= 3.0


def test_magnitudes_match_fluxes(hsc):
    mag = np.asarray(hsc["r"], float)
    flux = np.asarray(hsc["r_flux"], float)
    ok = np.isfinite(mag)
    assert np.allclose(mag[ok], 31.4 - 2.5 * np.log10(flux[ok]), atol=1e-9)


def test_noise_matches_depth(hsc):
    flux = np.asarray(hsc["i_flux"], float)
    err = np.asarray(hsc["i_flux_err"], float)
    true = 10 ** (-0.4 * (np.asarray(hsc["i_true"], float) - 31.4))
    pull = (flux - true) / err
    assert abs(np.std(pull) - 1.0) < 0.05 and abs(np.mean(pull)) < 0.06
    sigma_floor = 10 ** (-0.4 * (hsc.meta["depth_5sigma"]["i"] - 31.4)) / 5
    assert np.min(err) >= sigma_floor * 0.999


def test_non_detections_are_nan_magnitudes_with_finite_fluxes():
    deep_cut = simulate_galaxies(1500, survey="hsc", seed=4, depth={"g": 24.0})
    mag = np.asarray(deep_cut["g"], float)
    assert np.isnan(mag).any()
    nd = np.isnan(mag)
    assert np.all(np.isfinite(np.asarray(deep_cut["g_flux"])[nd]))
    ratio = np.asarray(deep_cut["g_flux"])[nd] / np.asarray(deep_cut["g_flux_err"])[nd]
    assert np.all(ratio <= 1.0)


def test_colour_tracks_the_4000A_break(hsc):
    z = np.asarray(hsc["redshift"])
    r_z = np.asarray(hsc["r_true"] - hsc["z_true"])
    med = [np.median(r_z[(z > lo) & (z < lo + 0.2)]) for lo in (0.2, 0.5, 0.8)]
    # the break moves from g/r (z~0.2) through r/i (z~0.5) into i/z (z~0.9): r - z reddens
    assert med[0] < med[1] < med[2]


def test_sed_breaks_and_lines():
    young, old = sed_shape([0.1, 8.0], [0.0, 0.0], [-8.8, -12.0], [0.0, 0.0])
    blue = (WAVE > 3700) & (WAVE < 3950)
    red = (WAVE > 4050) & (WAVE < 4250)
    d4000 = lambda s: s[red].mean() / s[blue].mean()  # noqa: E731
    assert d4000(old) > d4000(young) + 0.4
    ha = np.argmin(np.abs(WAVE - 6562.8))
    cont = np.median(young[(WAVE > 6300) & (WAVE < 6450)])
    assert young[ha] > 1.5 * cont  # a star-forming galaxy shows H-alpha
    assert np.all(young[WAVE < 900] < 0.05 * young[np.argmin(np.abs(WAVE - 1500))])  # Lyman break


def test_multi_survey_columns_and_errors():
    t = simulate_galaxies(100, survey="hsc", bands=["hsc_g", "hsc_i", "wise_w1", "galex_nuv"], seed=0)
    assert {"hsc_g", "wise_w1_flux", "galex_nuv_err"} <= set(t.colnames)
    with pytest.raises(DataValidationError, match="Fix:"):
        simulate_galaxies(10, survey="hsc", bands=["q"])
    with pytest.raises(DataValidationError, match="survey"):
        simulate_galaxies(10, survey="euclid")

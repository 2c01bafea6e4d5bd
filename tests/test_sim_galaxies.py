"""The galaxy simulator: determinism, schema, units, synthetic photometry, physics of colours, noise model."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u

from astrolab.errors import DataValidationError
from astrolab.sim.filters import SURVEYS, band_names, flux_err_from_depth, get_filters
from astrolab.sim.galaxies import resolve_bands, simulate_galaxies
from astrolab.sim.sed import (WAVE, TemplateLibrary, band_fluxes, luminosity_5500, observed_fnu, sed_flambda,
                              sed_shape)


@pytest.fixture(scope="module")
def hsc():
    return simulate_galaxies(3000, survey="hsc", seed=3)


def test_deterministic_by_seed():
    a = simulate_galaxies(200, seed=1)
    b = simulate_galaxies(200, seed=1)
    c = simulate_galaxies(200, seed=2)
    for col in ("redshift", "log_mstar", "i_flux", "g", "template_index"):
        assert np.array_equal(np.asarray(a[col]), np.asarray(b[col]), equal_nan=True)
    assert not np.array_equal(np.asarray(a["i_flux"]), np.asarray(c["i_flux"]))
    assert not np.array_equal(np.asarray(a["redshift"]), np.asarray(c["redshift"]))


def test_schema_and_units(hsc):
    units = {"redshift": u.dimensionless_unscaled, "log_mstar": u.dex(u.Msun), "sfr": u.Msun / u.yr, "age": u.Gyr,
             "metallicity": u.dex, "ebv": u.mag, "agn_frac": u.dimensionless_unscaled}
    for col, unit in units.items():
        assert hsc[col].unit == unit, col
    for b in "grizy":
        for suffix, unit in (("", u.mag), ("_err", u.mag), ("_flux", u.nJy), ("_flux_err", u.nJy), ("_true", u.mag)):
            assert hsc[b + suffix].unit == unit
    assert hsc["object_id"].dtype == np.int64 and len(np.unique(hsc["object_id"])) == len(hsc)
    z = np.asarray(hsc["redshift"])
    assert z.min() > 0 and z.max() <= 3.0 and 0.8 < np.median(z) < 1.4  # GalaxiesML-like, mode ~1
    ti = np.asarray(hsc["template_index"])
    assert ti.min() >= 0 and ti.max() < TemplateLibrary.default().n_templates
    assert np.all(np.asarray(hsc["age"]) <= 13.8) and np.all(np.asarray(hsc["sfr"]) > 0)
    assert np.all(np.asarray(hsc["i_true"]) < 24.9)  # the default flux limit: 1 mag above the i depth


def test_magnitudes_match_fluxes(hsc):
    mag = np.asarray(hsc["r"], float)
    flux = np.asarray(hsc["r_flux"], float)
    ok = np.isfinite(mag)
    assert ok.mean() > 0.95
    assert np.allclose(mag[ok], 31.4 - 2.5 * np.log10(flux[ok]), atol=1e-9)
    err = np.asarray(hsc["r_err"], float)[ok]
    assert np.allclose(err, 1.0857362 * np.asarray(hsc["r_flux_err"], float)[ok] / flux[ok], rtol=1e-6)


def test_photometry_matches_speclite():
    """Band fluxes from the fast log-grid integration agree with speclite on the same spectra."""
    rng = np.random.default_rng(5)
    n = 12
    p = dict(age=rng.uniform(0.1, 8, n), metallicity=rng.uniform(-0.8, 0.3, n), log_ssfr=rng.uniform(-12, -8.6, n),
             ebv=rng.uniform(0, 0.4, n), agn_frac=np.where(np.arange(n) % 3 == 0, 0.5, 0.0), log_mstar=np.full(n, 10.5))
    z = rng.uniform(0.05, 2.5, n)
    bl = resolve_bands("hsc", ["hsc_g", "hsc_i", "hsc_y", "galex_nuv", "wise_w1", "wise_w3"])
    fl = band_fluxes(sed_shape(p["age"], p["metallicity"], p["log_ssfr"], p["ebv"], p["agn_frac"]), z,
                     luminosity_5500(p["log_mstar"], p["age"]), bl)
    wave = np.geomspace(1200, 3e5, 40000)
    flam = observed_fnu(p, z, wave) * 1e-32 * 2.998e18 / wave**2  # nJy -> erg/s/cm2/A
    filt = get_filters("hsc", [c for c, _, _ in bl])
    ref = filt.get_ab_magnitudes(flam * u.erg / u.s / u.cm**2 / u.AA, wave * u.AA)
    ref = np.column_stack([np.asarray(ref[c]) for c in ref.colnames])
    ok = ref < 30
    assert ok.mean() > 0.8
    assert np.max(np.abs((31.4 - 2.5 * np.log10(fl))[ok] - ref[ok])) < 0.03
    # sed_flambda integrates to the stellar normalisation: L_lambda(5500) of a dust-free old galaxy
    lam = sed_flambda(dict(age=5.0, metallicity=0.0, log_ssfr=-12.0, ebv=0.0, log_mstar=10.0), [5500.0])
    assert lam[0, 0] == pytest.approx(float(luminosity_5500(10.0, 5.0)), rel=0.02)


def test_noise_matches_depth(hsc):
    flux = np.asarray(hsc["i_flux"], float)
    err = np.asarray(hsc["i_flux_err"], float)
    true = 10 ** (-0.4 * (np.asarray(hsc["i_true"], float) - 31.4))
    pull = (flux - true) / err
    assert abs(np.std(pull) - 1.0) < 0.05 and abs(np.mean(pull)) < 0.06
    sigma_floor = flux_err_from_depth(hsc.meta["depth_5sigma"]["i"])
    assert sigma_floor == pytest.approx(10 ** (-0.4 * (25.9 - 31.4)) / 5)
    assert np.min(err) >= sigma_floor * 0.999
    faint = true < 3 * sigma_floor  # background-dominated: error = the depth's 1-sigma
    assert np.allclose(err[faint], sigma_floor, rtol=0.01)


def test_depth_options():
    t1 = simulate_galaxies(300, seed=7, depth=24.0)
    t2 = simulate_galaxies(300, seed=7, depth={"g": 24.0})
    def expected(t, b, depth):  # sigma^2 = (f_5sigma / 5)^2 + (0.01 f_true)^2
        f_true = 10 ** (-0.4 * (np.asarray(t[f"{b}_true"], float) - 31.4))
        return np.hypot(flux_err_from_depth(depth), 0.01 * f_true)

    for b in "grizy":
        assert np.allclose(np.asarray(t1[f"{b}_flux_err"]), expected(t1, b, 24.0), rtol=1e-9)
    assert np.allclose(np.asarray(t2["g_flux_err"]), expected(t2, "g", 24.0), rtol=1e-9)
    assert np.allclose(np.asarray(t2["r_flux_err"]), expected(t2, "r", 26.1), rtol=1e-9)
    with pytest.raises(DataValidationError, match="q"):
        simulate_galaxies(10, depth={"q": 24.0})


def test_non_detections_are_nan_magnitudes_with_finite_fluxes():
    shallow = simulate_galaxies(1500, survey="hsc", seed=4, depth={"g": 24.0})
    mag = np.asarray(shallow["g"], float)
    nd = np.isnan(mag)
    assert 0.01 < nd.mean() < 0.9
    flux, err = np.asarray(shallow["g_flux"]), np.asarray(shallow["g_flux_err"])
    assert np.all(np.isfinite(flux)) and np.all(np.isfinite(err))
    assert np.all(flux[nd] / err[nd] <= 1.0) and np.all(flux[~nd] / err[~nd] > 1.0)
    assert np.all(np.isnan(np.asarray(shallow["g_err"])[nd]))
    assert np.all(np.isfinite(np.asarray(shallow["g_true"])))


def test_colours_track_the_4000A_break(hsc):
    z = np.asarray(hsc["redshift"])
    g_i = np.asarray(hsc["g_true"] - hsc["i_true"])
    r_z = np.asarray(hsc["r_true"] - hsc["z_true"])
    # the break leaves g (z ~ 0.2) then r: g - i reddens from z ~ 0 to 0.7
    med = [np.median(g_i[(z > lo) & (z < lo + 0.2)]) for lo in (0.05, 0.25, 0.45)]
    assert med[0] < med[1] < med[2] and med[2] - med[0] > 0.2
    # quiescent galaxies (strong break): g - i keeps reddening to z ~ 1.4
    q = np.asarray(hsc["quiescent"])
    med_q = [np.median(g_i[q & (z > lo) & (z < lo + 0.3)]) for lo in (0.2, 0.5, 0.8, 1.1)]
    assert np.all(np.diff(med_q) > 0) and med_q[-1] - med_q[0] > 1.0
    # r - z reddens as the break moves from r/i (z ~ 0.3) into i/z (z ~ 0.9)
    med = [np.median(r_z[(z > lo) & (z < lo + 0.2)]) for lo in (0.1, 0.45, 0.8)]
    assert med[0] < med[1] < med[2]


def test_sed_breaks_lines_dust_and_agn():
    young, old = sed_shape([0.1, 8.0], [0.0, 0.0], [-8.8, -12.0], [0.0, 0.0])
    blue = (WAVE > 3700) & (WAVE < 3950)
    red = (WAVE > 4050) & (WAVE < 4250)
    d4000 = lambda s: s[red].mean() / s[blue].mean()  # noqa: E731
    assert d4000(old) > d4000(young) + 0.4
    ha = np.argmin(np.abs(WAVE - 6562.8))
    cont = np.median(young[(WAVE > 6300) & (WAVE < 6450)])
    assert young[ha] > 1.5 * cont  # a star-forming galaxy shows H-alpha
    assert np.all(young[WAVE < 900] < 0.05 * young[np.argmin(np.abs(WAVE - 1500))])  # Lyman break
    # mid-IR dust emission grows with SFR (WISE W3), an AGN torus reddens W1 - W2
    bl = resolve_bands("wise", None)
    shapes = sed_shape([2.0, 2.0, 2.0], [0.0, 0.0, 0.0], [-11.0, -9.0, -11.0], [0.2, 0.2, 0.2], [0.0, 0.0, 0.6])
    f = band_fluxes(shapes, np.full(3, 0.1), 1e40, bl)
    w1_w3 = -2.5 * np.log10(f[:, 0] / f[:, 2])
    w1_w2 = -2.5 * np.log10(f[:, 0] / f[:, 1])
    assert w1_w3[1] > w1_w3[0] + 1.0
    assert w1_w2[2] > w1_w2[0] + 0.3


def test_template_library():
    lib = TemplateLibrary.default()
    assert 100 <= lib.n_templates <= 1000 and len(TemplateLibrary.default(include_agn=True)) > lib.n_templates
    assert np.array_equal(lib.nearest(lib.params), np.arange(lib.n_templates))
    z = np.array([0.3, 1.0, 2.5])
    bl = resolve_bands("hsc", None)
    fl = lib.fluxes(z, bl)
    assert fl.shape == (lib.n_templates, 3, 5)
    direct = band_fluxes(np.repeat(lib.shapes[:4], 3, axis=0), np.tile(z, 4), 1e40, bl).reshape(4, 3, 5)
    assert np.allclose(fl[:4], direct, rtol=1e-9)
    assert not lib.allowed(z)[np.argmax(lib.params["age"]), 2]  # 9 Gyr is older than the universe at z = 2.5


def test_multi_survey_columns_and_errors():
    t = simulate_galaxies(100, survey="hsc", bands=["hsc_g", "hsc_i", "wise_w1", "galex_nuv"], seed=0, agn_fraction=0.3)
    assert {"hsc_g", "wise_w1_flux", "galex_nuv_err", "hsc_i_true"} <= set(t.colnames)
    assert t.meta["selection_band"] == "hsc_i"
    assert 0.1 < np.mean(np.asarray(t["agn_frac"]) > 0) < 0.5
    assert band_names("wise") == ["w1", "w2", "w3", "w4"] and SURVEYS["hsc"].pixel_scale == 0.168
    assert get_filters("hsc", ["g", "wise_w1"]).names == ["hsc2017-g", "wise2010-W1"]
    with pytest.raises(DataValidationError, match=r"'q'.*Fix: use one of \['g'"):
        simulate_galaxies(10, survey="hsc", bands=["q"])
    with pytest.raises(DataValidationError, match="euclid.*Fix: use one of"):
        simulate_galaxies(10, survey="euclid")
    with pytest.raises(DataValidationError, match="z_max"):
        simulate_galaxies(10, z_max=20)

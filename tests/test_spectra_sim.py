"""astrolab.sim.spectra: the simulator carries the planted physics (optical lines, WISE components, decoy)."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from astrolab.errors import DataValidationError
from astrolab.sim.spectra import (DECOY_LINE, continuum_colours, line_catalog, observed_grid,
                                  simulate_optical_ir, wise_fluxes)


@pytest.fixture(scope="module")
def sim():
    return simulate_optical_ir(1500, seed=3, dloglam=1e-3)


def _line_flux(sim, rest_w, half=30.0, cont=(60.0, 120.0), ew=False):
    """Continuum-subtracted flux in +-half A (rest) around rest_w, measured on the noisy spectra."""
    s = sim.spectra
    out = np.full(len(s), np.nan)
    for i in range(len(s)):
        rest = s.wavelength / (1 + s.redshift[i])
        good = ~s.mask[i]
        win = good & (np.abs(rest - rest_w) < half)
        side = good & (np.abs(rest - rest_w) > cont[0]) & (np.abs(rest - rest_w) < cont[1])
        if win.sum() < 3 or side.sum() < 4:
            continue
        c = np.median(s.flux[i, side])
        dl = np.gradient(s.wavelength)[win]
        out[i] = np.sum((s.flux[i, win] - c) * dl) / (c if ew else 1.0)
    return out


def test_shapes_units_and_container(sim):
    s = sim.spectra
    assert s.shape == (1500, observed_grid(1e-3).size)
    assert s.wavelength[0] == pytest.approx(3800.0) and s.wavelength[-1] <= 9200.0
    assert np.all(s.redshift <= 0.5) and np.all(s.redshift >= 0.02)
    assert sim.wise_flux.shape == sim.wise_sigma.shape == (1500, 4)
    assert np.all(sim.wise_sigma > 0) and np.all(sim.wise_true > 0)
    assert set(sim.params.colnames) >= {"z", "age_gyr", "tau_gyr", "log_z", "a_v", "sfr", "f_agn", "q_pah", "decoy_amp"}
    sub = sim.subset(np.arange(10))
    assert len(sub) == 10 and sub.spectra.shape[0] == 10


def test_known_sigma_is_the_noise(sim):
    r = (sim.wise_flux - sim.wise_true) / sim.wise_sigma
    assert np.allclose(r.std(axis=0), 1.0, atol=0.06)
    assert np.all(np.abs(r.mean(axis=0)) < 0.08)


def test_sky_pixels_masked(sim):
    s = sim.spectra
    sky = np.argmin(np.abs(s.wavelength - 5577.3))
    assert s.mask[:, sky].all() and s.mask[:, sky - 3].mean() < 0.05
    assert np.all(s.ivar[s.mask] == 0)
    assert 0.01 < s.mask.mean() < 0.1


def test_halpha_scales_with_sfr(sim):
    p = sim.params
    sel = (np.asarray(p["z"]) < 0.35) & (np.asarray(p["f_agn"]) == 0)
    meas = _line_flux(sim, 6563.0)[sel]
    truth = sim.line_flux["Halpha"][sel]
    ok = np.isfinite(meas) & (meas > 0) & (truth > 0.2 * np.median(truth))
    slope = np.polyfit(np.log10(truth[ok]), np.log10(meas[ok]), 1)[0]
    assert 0.85 < slope < 1.15  # Halpha (+[N II] blend) flux ~ SFR x attenuation, measured from the noisy pixels
    ew = meas[ok] * (1 + np.asarray(p["z"])[sel][ok]) / np.asarray(p["norm"])[sel][ok]   # rest equivalent width [A]
    assert spearmanr(np.asarray(p["sfr_rel"])[sel][ok], ew).statistic > 0.8


def test_calcium_absorption_grows_with_age_and_metallicity():
    sim = simulate_optical_ir(800, seed=5, dloglam=2.5e-4)   # finer pixels to resolve Ca II K from H
    p = sim.params
    k = -_line_flux(sim, 3933.7, half=10.0, cont=(18.0, 30.0), ew=True)  # observed-frame EW of Ca II K [A]
    strength = (1 - np.asarray(p["young_frac"])) * np.sqrt(np.asarray(p["age_gyr"])) * 10 ** (0.8 * np.asarray(p["log_z"]))
    ok = np.isfinite(k)
    assert ok.sum() > 600
    assert spearmanr(strength[ok], k[ok]).statistic > 0.6


def test_wise_components_follow_parameters(sim):
    p = sim.params
    c = sim.wise_components
    # W3 PAH part proportional to q_PAH x SFR
    rel = c["pah"][:, 2] / np.asarray(p["norm"]) / np.asarray(p["sfr_rel"])
    assert spearmanr(rel * np.exp(0.5 * (np.asarray(p["z"]) / 0.45) ** 2), p["q_pah"]).statistic > 0.999
    # AGN torus reddens W1-W2
    w12 = -2.5 * np.log10(sim.wise_true[:, 0] / sim.wise_true[:, 1])
    assert spearmanr(p["f_agn"], w12).statistic > 0.5
    # dust in W4 tracks the SFR
    assert spearmanr(np.asarray(p["sfr_rel"]), sim.wise_true[:, 3] / np.asarray(p["norm"])).statistic > 0.8
    tot = wise_fluxes(dict(z=[0.1], norm=[10.0], age_gyr=[5.0], young_frac=[0.0], log_z=[0.0], a_v=[0.0],
                           sfr_rel=[0.0], f_agn=[0.0], q_pah=[2.0]))
    assert tot["dust"][0, 3] == 0 and tot["agn"].sum() == 0 and tot["stellar"][0, 0] > tot["stellar"][0, 3]


def test_decoy_is_uncorrelated_with_every_parameter(sim):
    p = sim.params
    assert DECOY_LINE[0] in line_catalog()["decoy"]
    for name in ("z", "log_mass", "age_gyr", "tau_gyr", "log_z", "a_v", "sfr", "f_agn", "q_pah"):
        assert abs(spearmanr(p["decoy_amp"], p[name]).statistic) < 0.08, name
    for b in range(4):
        assert abs(spearmanr(p["decoy_amp"], sim.wise_true[:, b] / np.asarray(p["norm"])).statistic) < 0.08
    # but the decoy is a real, visible line in the spectra
    meas = _line_flux(sim, DECOY_LINE[1]) / (np.asarray(p["norm"]) / (1 + np.asarray(p["z"])))
    ok = np.isfinite(meas)
    assert spearmanr(p["decoy_amp"][ok], meas[ok]).statistic > 0.6


def test_continuum_colours_and_validation(sim):
    col, cov = continuum_colours(sim.spectra[:50])
    assert col.shape == (50, 9) and cov[:, 1:6].all()
    with pytest.raises(DataValidationError, match="z_range"):
        simulate_optical_ir(10, z_range=(0.0, 0.8))
    with pytest.raises(DataValidationError):
        simulate_optical_ir(0)


def test_spectral_snr_refers_to_sdss_pixels_at_any_grid():
    """Coarser grids bin SDSS pixels: per-pixel S/N grows as sqrt(dloglam / 1e-4), so information is kept."""
    import numpy as np

    from astrolab.sim.spectra import simulate_optical_ir

    def median_snr(dl):
        s = simulate_optical_ir(200, seed=4, dloglam=dl).spectra
        good = ~s.mask
        return float(np.median((s.flux * np.sqrt(s.ivar))[good]))

    ratio = median_snr(2e-3) / median_snr(5e-4)
    assert 1.7 < ratio < 2.3, ratio          # sqrt(4) = 2


def test_simulator_oracle_recovers_parameters_and_wise_fluxes():
    """Fitting the simulator's own forward model recovers A_V and SFR and predicts W1-W4 near the noise."""
    import numpy as np

    from astrolab.optical_ir import SimulatorOracle, wise_chi2
    from astrolab.sim.spectra import noise_free_spectra, observed_grid, simulate_optical_ir

    sim = simulate_optical_ir(40, seed=2, dloglam=1e-3)
    # the forward model is the one the simulator used: noise-free spectra reproduce its noise-free line fluxes
    p = sim.params
    lam = observed_grid(1e-3)
    flux, lines = noise_free_spectra(lam, {k: np.asarray(p[k]) for k in
                                           ("z", "norm", "age_gyr", "young_frac", "log_z", "a_v", "sfr_rel", "f_agn")}
                                     | {"decoy_amp": np.asarray(p["decoy_amp"])}, dloglam=1e-3)
    assert np.allclose(lines["Halpha"], sim.line_flux["Halpha"])
    pred, fits = SimulatorOracle(n_starts=2).predict(sim.spectra)
    red = np.median([f["chi2"] / f["n_pix"] for f in fits])
    assert 0.8 < red < 1.2, red                                  # the fits reach the spectral noise
    a_v = np.array([f["theta"]["a_v"] for f in fits])
    assert np.sqrt(np.mean((a_v - np.asarray(p["a_v"])) ** 2)) < 0.1
    chi = wise_chi2(pred, sim.wise_flux, sim.wise_sigma)
    const = wise_chi2(np.median(sim.wise_flux, 0) * np.ones_like(sim.wise_flux), sim.wise_flux, sim.wise_sigma)
    assert np.all(chi < 10) and np.all(chi < 0.01 * const), (chi, const)
    with pytest.raises(Exception, match="n_starts"):
        SimulatorOracle(n_starts=0)

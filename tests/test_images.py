"""Tests of astrolab.sim.images: the images carry the simulated physics (flux, size, colour gradient, depth)."""

import numpy as np
import pytest

from astrolab.sim import filters
from astrolab.sim.images import (add_morphology, angular_diameter_distance_kpc, render_images, sersic_mog,
                                 simulate_multisurvey)


@pytest.fixture(scope="module")
def hsc_set():
    return simulate_multisurvey(400, surveys=("hsc",), seed=3, agn_fraction=0.3)


@pytest.mark.parametrize("n", [1.0, 4.0])
def test_sersic_mixture_half_light_radius(n):
    amp, sig = sersic_mog(n)
    assert abs(amp.sum() - 1) < 1e-9
    inside = np.sum(amp * (1 - np.exp(-0.5 / sig ** 2)))  # flux fraction inside R_e = 1
    assert abs(inside - 0.5) < 0.04


def test_angular_size_follows_angular_diameter_distance(hsc_set):
    cat = hsc_set.catalog
    da = angular_diameter_distance_kpc(np.asarray(cat["redshift"]))
    kpc = np.asarray(cat["r_disk_arcsec"]) / 206264.806 * da
    np.testing.assert_allclose(kpc, np.asarray(cat["r_disk_kpc"]), rtol=1e-6)
    # D_A turns over near z ~ 1.6: a fixed size looks smallest there
    d = angular_diameter_distance_kpc([0.3, 1.6, 4.0])
    assert d[1] > d[0] and d[1] > d[2]
    assert 0.85e6 < d[0] < 1.05e6  # ~0.95 Gpc at z = 0.3 (Planck18)


def test_noise_free_images_conserve_catalog_flux(hsc_set):
    cat = hsc_set.catalog[:60]
    ims = render_images(cat, "hsc", stamp=96, noise=False)
    total = ims.images.sum(axis=(2, 3))
    for j, b in enumerate("grizy"):
        f_true = 10 ** (-0.4 * (np.asarray(cat[f"hsc_{b}_true"]) - 31.4))
        ratio = total[:, j] / f_true
        assert np.median(ratio) == pytest.approx(1.0, abs=0.03)
        assert np.percentile(ratio, 5) > 0.85


def test_bulges_are_redder_than_disks(hsc_set):
    cat = hsc_set.catalog
    sf = (~np.asarray(cat["quiescent"])) & (np.asarray(cat["bulge_to_total"]) > 0.15) & (np.asarray(cat["agn_frac"]) == 0)
    assert sf.sum() > 10
    g_share = np.asarray(cat["hsc_g_bulge_share"])[sf]
    y_share = np.asarray(cat["hsc_y_bulge_share"])[sf]
    assert np.median(y_share - g_share) > 0.05


def test_agn_point_source_concentrates_light(hsc_set):
    cat = hsc_set.catalog
    agn = np.asarray(cat["agn_frac"]) > 0
    share = np.asarray(cat["hsc_i_agn_share"])
    assert np.all(share[~agn] == 0) and np.all((share[agn] > 0) & (share[agn] < 1))
    ims = render_images(cat, "hsc", stamp=32, noise=False)
    img = ims.images[:, 2]
    conc = img[:, 14:18, 14:18].sum(axis=(1, 2)) / img.sum(axis=(1, 2))
    strong = agn & (share > 0.6)
    assert strong.sum() >= 5
    assert np.median(conc[strong]) > np.median(conc[~agn]) + 0.05


def test_pixel_noise_gives_survey_depth(hsc_set):
    s = filters.get_survey("hsc")
    ims = hsc_set.images_hsc
    # PSF-fit flux error from the per-pixel sigma and the PSF profile equals the 5-sigma depth / 5
    fwhm = ims.psf_fwhm[0]
    var = (fwhm / 2.3548) ** 2 + s.pixel_scale ** 2 / 12
    x = (np.arange(64) - 31.5) * s.pixel_scale
    psf = np.exp(-0.5 * (x[:, None] ** 2 + x[None, :] ** 2) / var)
    psf /= psf.sum()
    for j in range(5):
        sig_pix = 1 / np.sqrt(ims.ivar[0, j, 0, 0])
        err_fit = sig_pix / np.sqrt((psf ** 2).sum())
        assert err_fit == pytest.approx(filters.flux_err_from_depth(s.depth[j]), rel=0.03)
    # and the pixels scatter around the noise-free model with that sigma
    clean = render_images(hsc_set.catalog, "hsc", noise=False)
    resid = ims.images - clean.images
    np.testing.assert_allclose(resid.std(axis=(0, 2, 3)), 1 / np.sqrt(ims.ivar[0, :, 0, 0]), rtol=0.03)


def test_multisurvey_same_objects_and_missing_galex():
    mm = simulate_multisurvey(300, surveys=("panstarrs", "galex", "wise"), seed=5, missing={"galex": 0.1})
    assert set(mm.modalities) >= {"images_panstarrs", "images_galex", "images_wise"}
    for name in ("images_panstarrs", "images_galex", "images_wise"):
        np.testing.assert_array_equal(mm[name].ids, mm.ids)
    assert mm["images_panstarrs"].pixel_scale == 0.25 and mm["images_galex"].pixel_scale == 1.5
    assert mm["images_panstarrs"].shape[2:] == (24, 24) and mm["images_wise"].shape[2:] == (8, 8)
    has = np.asarray(mm.catalog["has_galex"])
    assert 0.05 < 1 - has.mean() < 0.16
    assert np.all(mm["images_galex"].mask[~has]) and not mm["images_galex"].mask[has].any()
    assert np.all(np.isnan(np.asarray(mm.catalog["galex_nuv"])[~has]))
    # bright galaxies: mean flux in the PanSTARRS stamp tracks the catalog
    ps = mm["images_panstarrs"].images[:, 1].sum(axis=(1, 2))
    f_r = 10 ** (-0.4 * (np.asarray(mm.catalog["panstarrs_r_true"]) - 31.4))
    assert np.corrcoef(np.log10(np.clip(ps, 1, None)), np.log10(f_r))[0, 1] > 0.8


def test_bad_input_messages():
    from astrolab.errors import DataValidationError
    from astrolab.sim.galaxies import simulate_galaxies

    cat = simulate_galaxies(20, survey="hsc", seed=1)
    with pytest.raises(DataValidationError, match="wise"):
        render_images(add_morphology(cat), "wise")
    with pytest.raises(DataValidationError, match="missing_fraction"):
        render_images(cat, "hsc", missing_fraction=1.5)

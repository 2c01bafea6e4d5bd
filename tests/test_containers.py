"""Tests of the canonical data containers (astrolab.data.containers)."""

from __future__ import annotations

import pickle
import subprocess
import sys

import astropy.units as u
import h5py
import numpy as np
import pytest
from astropy.table import Table

import astrolab.data.containers as containers
from astrolab.data import ImageSet, LightCurveSet, MultimodalSet, SpectrumSet, load_container
from astrolab.errors import AstrolabError, DataValidationError


def _raises(match_obj, fn, *args, **kwargs):
    """Call fn, assert a DataValidationError naming ``match_obj`` and a fix."""
    with pytest.raises(DataValidationError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert match_obj in msg, msg
    assert "Fix:" in msg, msg
    return msg


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def imgs(rng):
    data = rng.normal(size=(4, 3, 5, 6)).astype(np.float32)
    mask = np.zeros(data.shape, dtype=bool)
    data[1, 2, 0, 0] = np.nan
    mask[1, 2, 0, 0] = True
    return ImageSet(
        data,
        ["g", "r", "z"],
        0.262 * u.arcsec,
        psf_fwhm=[1.2, 1.1, 1.0],
        ivar=np.full(data.shape, 4.0),
        mask=mask,
        ids=[10, 11, 12, 13],
        survey="DECaLS",
    )


@pytest.fixture
def spec(rng):
    wl = np.linspace(4000.0, 5000.0, 11)
    flux = rng.normal(size=(3, 11)) + 5
    return SpectrumSet(wl, flux, ivar=np.full((3, 11), 9.0), ids=[11, 13, 14], redshift=[0.1, 0.5, 1.2])


@pytest.fixture
def lcs():
    times = [[3.0, 1.0, 2.0], [], [5.0, 4.0]]
    values = [[30.0, 10.0, 20.0], [], [50.0, 40.0]]
    errors = [[0.3, 0.1, 0.2], [], [0.5, 0.4]]
    bands = [["r", "g", "g"], [], "i"]
    return LightCurveSet(times, values, errors, bands=bands, kind="flux", ids=[10, 12, 14], flux_unit="uJy")


@pytest.fixture
def catalog():
    return Table(
        {
            "object_id": [10, 11, 12, 13, 14],
            "ra": [1.0, 2.0, 3.0, 4.0, 5.0] * u.deg,
            "z": [0.0, 0.1, 0.2, 0.5, 1.2],
            "name": ["a", "b", "c", "d", "é"],
        }
    )


@pytest.fixture
def mm(catalog, imgs, spec, lcs):
    return MultimodalSet(catalog, images=imgs, spectra=spec, lightcurves=lcs)


# ------------------------------------------------------------------------------ import


def test_import_is_light():
    code = "import sys, astrolab.data; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- ImageSet


def test_imageset_basics(imgs):
    assert len(imgs) == 4
    assert imgs.shape == (4, 3, 5, 6)
    assert imgs.bands == ["g", "r", "z"]
    assert imgs.band_index("z") == 2
    assert imgs.pixel_scale == pytest.approx(0.262)
    np.testing.assert_allclose(imgs.psf_fwhm, [1.2, 1.1, 1.0])
    assert "N=4" in repr(imgs) and "['g', 'r', 'z']" in repr(imgs) and "5x6" in repr(imgs)
    default = ImageSet(np.zeros((2, 1, 3, 3)), ["r"], 0.2)
    np.testing.assert_array_equal(default.ids, [0, 1])
    assert default.ids.dtype == np.int64
    assert default.psf_fwhm is None


def test_imageset_units_converted():
    im = ImageSet(np.zeros((1, 2, 3, 3)), ["g", "r"], 0.5 * u.arcsec / u.pixel, psf_fwhm=1.0 * u.arcmin / 60)
    assert im.pixel_scale == pytest.approx(0.5)
    np.testing.assert_allclose(im.psf_fwhm, [1.0, 1.0])
    im2 = ImageSet(np.zeros((1, 1, 3, 3)), ["g"], (0.1 * u.arcsec).to(u.deg))
    assert im2.pixel_scale == pytest.approx(0.1)


def test_imageset_indexing(imgs):
    one = imgs[2]
    assert isinstance(one, ImageSet) and one.ids.tolist() == [12]
    np.testing.assert_array_equal(one.images[0], imgs.images[2])
    assert imgs[1:3].ids.tolist() == [11, 12]
    assert imgs[np.array([3, 0])].ids.tolist() == [13, 10]
    sub = imgs[np.array([True, False, True, False])]
    assert sub.ids.tolist() == [10, 12]
    np.testing.assert_array_equal(sub.ivar, imgs.ivar[[0, 2]])
    sel = imgs.select_ids([13, 11])
    np.testing.assert_array_equal(sel.images, imgs.images[[3, 1]])
    np.testing.assert_array_equal(sel.mask, imgs.mask[[3, 1]])
    assert imgs[-1].ids.tolist() == [13]
    with pytest.raises(IndexError):
        imgs[4]
    msg = _raises("ImageSet.select_ids", imgs.select_ids, [10, 99, 98])
    assert "99" in msg and "98" in msg
    _raises("ImageSet.ids", imgs.__getitem__, np.array([0, 0]))


def test_imageset_with_bands(imgs):
    sub = imgs.with_bands(["z", "g"])
    assert sub.bands == ["z", "g"]
    np.testing.assert_array_equal(sub.images, imgs.images[:, [2, 0]])
    np.testing.assert_allclose(sub.psf_fwhm, [1.0, 1.2])
    assert sub.mask[1, 0, 0, 0]  # the masked NaN pixel followed band z
    msg = _raises("ImageSet", imgs.with_bands, ["g", "y"])
    assert "'y'" in msg and "'g', 'r', 'z'" in msg
    msg = _raises("ImageSet.bands", imgs.band_index, "u")
    assert "'u'" in msg


@pytest.mark.parametrize(
    "kwargs, obj",
    [
        (dict(images=np.zeros((2, 3, 3))), "ImageSet.images"),  # wrong ndim
        (dict(bands=["g", "r"]), "ImageSet.bands"),  # band count mismatch
        (dict(bands=["g", "g", "r"]), "ImageSet.bands"),  # duplicate band
        (dict(pixel_scale=-1.0), "ImageSet.pixel_scale"),
        (dict(pixel_scale=0.2 * u.s), "ImageSet.pixel_scale"),  # bad unit
        (dict(psf_fwhm=[1.0, 2.0]), "ImageSet.psf_fwhm"),
        (dict(psf_fwhm=1.0 * u.kg), "ImageSet.psf_fwhm"),
        (dict(psf_fwhm=0.0), "ImageSet.psf_fwhm"),
        (dict(ivar=-np.ones((2, 3, 4, 4))), "ImageSet.ivar"),  # negative ivar
        (dict(ivar=np.ones((2, 3, 4, 5))), "ImageSet.ivar"),
        (dict(mask=np.zeros((2, 3, 4, 5), bool)), "ImageSet.mask"),
        (dict(ids=[1, 1]), "ImageSet.ids"),  # duplicate ids
        (dict(ids=[1, 2, 3]), "ImageSet.ids"),
    ],
)
def test_imageset_validation(kwargs, obj):
    base = dict(images=np.ones((2, 3, 4, 4)), bands=["g", "r", "i"], pixel_scale=0.2)
    base.update(kwargs)
    _raises(obj, ImageSet, **base)


def test_imageset_nan_needs_mask():
    data = np.ones((2, 1, 3, 3))
    data[1, 0, 2, 2] = np.nan
    msg = _raises("ImageSet.images", ImageSet, data, ["r"], 0.2)
    assert "mask=~np.isfinite(images)" in msg
    ok = ImageSet(data, ["r"], 0.2, mask=~np.isfinite(data))
    assert ok.mask.sum() == 1


def test_imageset_duplicate_ids_message():
    msg = _raises("ImageSet.ids", ImageSet, np.ones((3, 1, 2, 2)), ["r"], 0.2, ids=["a", "b", "a"])
    assert "'a'" in msg


def test_imageset_roundtrip(tmp_path, imgs):
    path = imgs.save(tmp_path / "sub" / "imgs.h5")
    back = ImageSet.load(path)
    np.testing.assert_array_equal(back.images, imgs.images)  # NaN at the masked pixel too
    assert back.images.dtype == np.float32
    np.testing.assert_array_equal(back.ivar, imgs.ivar)
    np.testing.assert_array_equal(back.mask, imgs.mask)
    np.testing.assert_array_equal(back.ids, imgs.ids)
    np.testing.assert_allclose(back.psf_fwhm, imgs.psf_fwhm)
    assert back.bands == imgs.bands and back.pixel_scale == imgs.pixel_scale and back.survey == "DECaLS"
    with h5py.File(path, "r") as f:
        assert f.attrs["astrolab_kind"] == "ImageSet"
        assert f.attrs["astrolab_format_version"] == containers.FORMAT_VERSION
    assert isinstance(load_container(path), ImageSet)


def test_imageset_torch(imgs):
    import torch

    ds = imgs.to_torch_dataset()
    assert isinstance(ds, torch.utils.data.Dataset) and len(ds) == 4
    item = ds[1]
    assert set(item) == {"image", "mask", "ivar", "index"}
    assert item["image"].shape == (3, 5, 6) and item["image"].dtype == torch.float32
    assert item["mask"].dtype == torch.float32 and item["mask"][2, 0, 0] == 1.0
    assert item["image"][2, 0, 0] == 0.0  # masked NaN replaced by 0
    assert torch.isfinite(item["image"]).all()
    assert item["ivar"][2, 0, 0] == 0.0 and item["ivar"][0, 0, 0] == 4.0
    assert item["index"].dtype == torch.int64 and item["index"].ndim == 0 and int(item["index"]) == 1
    np.testing.assert_allclose(item["image"][0].numpy(), imgs.images[1, 0])
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["image"].shape == (4, 3, 5, 6) and batch["index"].tolist() == [0, 1, 2, 3]
    ds2 = pickle.loads(pickle.dumps(ds))  # DataLoader workers need picklable datasets
    assert torch.equal(ds2[0]["image"], ds[0]["image"])


# -------------------------------------------------------------------------- SpectrumSet


def test_spectrumset_basics(spec):
    assert len(spec) == 3 and spec.shape == (3, 11) and spec.shared_grid
    np.testing.assert_allclose(spec.wavelength_of(2), np.linspace(4000, 5000, 11))
    assert spec.flux_unit == u.Unit("1e-17 erg/(s cm2 Angstrom)")
    assert "N=3" in repr(spec) and "L=11" in repr(spec)
    sub = spec.select_ids([14, 11])
    np.testing.assert_array_equal(sub.flux, spec.flux[[2, 0]])
    np.testing.assert_allclose(sub.redshift, [1.2, 0.1])
    assert spec[::2].ids.tolist() == [11, 14]


def test_spectrumset_units():
    wl = np.linspace(400.0, 500.0, 5) * u.nm
    flux = np.ones((2, 5)) * 1e-17 * u.erg / u.s / u.cm**2 / u.AA
    s = SpectrumSet(wl, flux)
    np.testing.assert_allclose(s.wavelength, np.linspace(4000, 5000, 5))
    np.testing.assert_allclose(s.flux, 1.0)
    # f_nu converts to f_lambda through the wavelength: 1 Jy at 5000 A
    s2 = SpectrumSet([5000.0], [[1.0]] * u.Jy, flux_unit="erg/(s cm2 Angstrom)")
    assert s2.flux[0, 0] == pytest.approx((1 * u.Jy).to_value(u.erg / u.s / u.cm**2 / u.AA, u.spectral_density(5000 * u.AA)))
    _raises("SpectrumSet.wavelength", SpectrumSet, [1.0, 2.0] * u.s, np.ones((1, 2)))
    _raises("SpectrumSet.flux", SpectrumSet, [1.0, 2.0], np.ones((1, 2)) * u.kg)
    _raises("SpectrumSet.flux_unit", SpectrumSet, [1.0, 2.0], np.ones((1, 2)), flux_unit="not a unit")


def test_spectrumset_per_object_grid_roundtrip(tmp_path, rng):
    wl = np.linspace(3800.0, 9000.0, 20)[None, :] * (1 + np.array([0.0, 0.1, 0.2]))[:, None]
    flux = rng.normal(size=(3, 20))
    mask = np.zeros((3, 20), bool)
    flux[2, 5] = np.inf
    mask[2, 5] = True
    s = SpectrumSet(wl, flux, mask=mask, ids=["x", "y", "z"], flux_unit=u.Jy)
    assert not s.shared_grid
    np.testing.assert_allclose(s.wavelength_of(1), wl[1])
    back = SpectrumSet.load(s.save(tmp_path / "s.h5"))
    np.testing.assert_array_equal(back.wavelength, wl)
    np.testing.assert_array_equal(back.flux, flux)
    np.testing.assert_array_equal(back.mask, mask)
    assert back.ids.tolist() == ["x", "y", "z"] and back.ids.dtype.kind == "U"
    assert back.flux_unit == u.Jy and back.ivar is None and back.redshift is None
    sub = back.select_ids(["z", "x"])
    np.testing.assert_array_equal(sub.wavelength, wl[[2, 0]])


def test_spectrumset_roundtrip_shared(tmp_path, spec):
    back = load_container(spec.save(tmp_path / "s.h5"))
    assert isinstance(back, SpectrumSet) and back.shared_grid
    for name in ("wavelength", "flux", "ivar", "mask", "redshift", "ids"):
        np.testing.assert_array_equal(getattr(back, name), getattr(spec, name))
    assert back.flux_unit == spec.flux_unit


@pytest.mark.parametrize(
    "kwargs, obj",
    [
        (dict(flux=np.ones(5)), "SpectrumSet.flux"),  # wrong ndim
        (dict(wavelength=np.arange(1.0, 5.0)), "SpectrumSet.wavelength"),  # length mismatch
        (dict(wavelength=np.array([1.0, 2.0, 2.0, 3.0, 4.0])), "SpectrumSet.wavelength"),  # not increasing
        (dict(wavelength=np.ones((3, 5))), "SpectrumSet.wavelength"),  # per-object shape mismatch
        (dict(ivar=-np.ones((2, 5))), "SpectrumSet.ivar"),  # negative ivar
        (dict(ivar=np.full((2, 5), np.nan)), "SpectrumSet.ivar"),
        (dict(mask=np.ones((2, 4), bool)), "SpectrumSet.mask"),
        (dict(redshift=[0.1, -0.2]), "SpectrumSet.redshift"),
        (dict(redshift=[0.1]), "SpectrumSet.redshift"),
        (dict(ids=["a", "a"]), "SpectrumSet.ids"),
    ],
)
def test_spectrumset_validation(kwargs, obj):
    base = dict(wavelength=np.linspace(4000, 5000, 5), flux=np.ones((2, 5)))
    base.update(kwargs)
    _raises(obj, SpectrumSet, **base)


def test_spectrumset_nan_needs_mask():
    flux = np.ones((2, 4))
    flux[0, 1] = np.nan
    msg = _raises("SpectrumSet.flux", SpectrumSet, [1.0, 2.0, 3.0, 4.0], flux)
    assert "mask=~np.isfinite(flux)" in msg
    assert SpectrumSet([1.0, 2.0, 3.0, 4.0], flux, mask=np.isnan(flux)).mask[0, 1]


def test_spectrumset_resample():
    wl = np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0]])
    flux = np.array([[10.0, 20.0, 30.0, 40.0], [1.0, 2.0, 3.0, 4.0]])
    mask = np.zeros((2, 4), bool)
    mask[1, 3] = True  # last pixel of object 1 is bad
    s = SpectrumSet(wl, flux, ivar=np.full((2, 4), 4.0), mask=mask)
    r = s.resample([0.5, 1.5, 2.0, 3.5, 4.5])
    assert r.shared_grid and r.shape == (2, 5)
    np.testing.assert_allclose(r.flux[0], [0.0, 15.0, 20.0, 35.0, 0.0])
    np.testing.assert_array_equal(r.mask[0], [True, False, False, False, True])
    np.testing.assert_array_equal(r.mask[1], [True, True, False, False, True])
    np.testing.assert_allclose(r.flux[1, 2:4], [1.0, 2.5])
    # ivar at a midpoint: 1 / (0.25/4 + 0.25/4) = 8; on a pixel: unchanged
    np.testing.assert_allclose(r.ivar[0], [0.0, 8.0, 4.0, 8.0, 0.0])
    assert r.ivar[1, 4] == 0.0
    _raises("SpectrumSet.resample.new_grid", s.resample, [3.0, 2.0])


def test_spectrumset_torch(spec):
    import torch

    ds = spec.to_torch_dataset()
    item = ds[2]
    assert set(item) == {"wavelength", "flux", "mask", "ivar", "redshift", "index"}
    for key in ("wavelength", "flux", "mask", "ivar"):
        assert item[key].shape == (11,) and item[key].dtype == torch.float32
    assert item["redshift"].shape == () and item["redshift"].item() == pytest.approx(1.2)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch["flux"].shape == (3, 11) and batch["redshift"].shape == (3,)


# ------------------------------------------------------------------------ LightCurveSet


def test_lightcurves_basics(lcs):
    assert len(lcs) == 3
    np.testing.assert_array_equal(lcs.n_points, [3, 0, 2])
    np.testing.assert_array_equal(lcs.offsets, [0, 3, 3, 5])
    assert lcs.bands == ["g", "i", "r"]
    tab = lcs.object(0)  # sorted by time on construction
    assert tab.colnames == ["mjd", "value", "error", "band"]
    np.testing.assert_allclose(tab["mjd"], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(tab["value"], [10.0, 20.0, 30.0])
    assert tab["band"].tolist() == ["g", "g", "r"]
    assert tab["mjd"].unit == u.day and tab["value"].unit == u.uJy and tab.meta["object_id"] == 10
    assert len(lcs.object(1)) == 0
    assert "N=3" in repr(lcs) and "points=5" in repr(lcs)


def test_lightcurves_indexing(lcs):
    sub = lcs[[2, 0]]
    assert sub.ids.tolist() == [14, 10]
    np.testing.assert_array_equal(sub.n_points, [2, 3])
    np.testing.assert_allclose(sub.time, [4.0, 5.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(sub.object(1)["value"], [10.0, 20.0, 30.0])
    sel = lcs.select_ids([12, 14])
    np.testing.assert_array_equal(sel.n_points, [0, 2])
    assert lcs[np.array([False, False, True])].object(0)["band"].tolist() == ["i", "i"]
    assert len(lcs[:0]) == 0 and lcs[:0].time.size == 0


def test_lightcurves_padded(lcs):
    p = lcs.to_padded()
    assert p["time"].shape == (3, 3) and p["band_index"].dtype == np.int64 and p["mask"].dtype == bool
    np.testing.assert_array_equal(p["mask"], [[True, True, True], [False, False, False], [True, True, False]])
    np.testing.assert_allclose(p["time"][0], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(p["value"][2], [40.0, 50.0, 0.0])
    np.testing.assert_allclose(p["error"][2], [0.4, 0.5, 1.0])  # padding error is 1
    np.testing.assert_array_equal(p["band_index"][0], [0, 0, 2])  # g, g, r in ['g', 'i', 'r']
    assert p["bands"].tolist() == ["g", "i", "r"]
    short = lcs.to_padded(max_len=2, bands=["r", "g"])  # drops band i, keeps first points by time
    assert short["time"].shape == (3, 2)
    np.testing.assert_allclose(short["time"][0], [1.0, 2.0])
    np.testing.assert_array_equal(short["band_index"][0], [1, 1])
    assert not short["mask"][2].any()


def test_lightcurves_from_table_and_roundtrip(tmp_path):
    import pandas as pd

    df = pd.DataFrame(
        {
            "object_id": ["b", "a", "b", "a", "b"],
            "mjd": [3.0, 1.0, 1.0, 2.0, 2.0],
            "mag": [18.3, 17.1, 18.1, 17.2, 18.2],
            "mag_err": [0.03, 0.01, 0.01, 0.02, 0.02],
            "filter": ["r", "g", "g", "r", "g"],
        }
    )
    lc = LightCurveSet.from_table(df, band_col="filter", kind="mag")
    assert lc.ids.tolist() == ["b", "a"] and lc.kind == "mag"
    np.testing.assert_allclose(lc.object(0)["value"], [18.1, 18.2, 18.3])
    assert lc.object(1)["band"].tolist() == ["g", "r"]
    assert lc.object(0)["value"].unit == u.mag
    back = LightCurveSet.load(lc.save(tmp_path / "lc.h5"))
    for name in ("time", "value", "error", "band", "offsets", "ids"):
        np.testing.assert_array_equal(getattr(back, name), getattr(lc, name))
    assert back.kind == "mag" and back.flux_unit is None


def test_lightcurves_from_table_units():
    t = Table({"object_id": [1, 1, 2], "mjd": [1.0, 2.0, 3.0] * u.day, "flux": [1.0, 2.0, 3.0] * u.mJy, "flux_err": [0.1, 0.1, 0.1] * u.mJy})
    lc = LightCurveSet.from_table(t)
    assert lc.flux_unit == u.mJy and lc.ids.tolist() == [1, 2] and lc.bands == ["V"]
    _raises("LightCurveSet.from_table", LightCurveSet.from_table, t, value_col="nope")


@pytest.mark.parametrize(
    "kwargs, obj",
    [
        (dict(errors=[[0.1, 0.0], [0.1]]), "LightCurveSet.errors[object 8]"),  # zero error
        (dict(errors=[[0.1, -0.1], [0.1]]), "LightCurveSet.errors[object 8]"),  # negative error
        (dict(values=[[1.0, 2.0], [np.nan]]), "LightCurveSet.values[object 9]"),  # NaN value
        (dict(times=[[np.nan, 1.0], [2.0]]), "LightCurveSet.times[object 8]"),  # NaN time
        (dict(values=[[1.0], [2.0]]), "LightCurveSet.values[object 8]"),  # length mismatch
        (dict(values=[[1.0, 2.0]]), "LightCurveSet.values"),  # object count mismatch
        (dict(bands=[["g"], ["r"]]), "LightCurveSet.bands[object 8]"),
        (dict(kind="counts"), "LightCurveSet.kind"),
        (dict(ids=[8, 8]), "LightCurveSet.ids"),
        (dict(times=[[1.0, 2.0] * u.kg, [1.0]]), "LightCurveSet.times[object 8]"),  # bad unit
        (dict(kind="mag", flux_unit="Jy"), "LightCurveSet.flux_unit"),
    ],
)
def test_lightcurves_validation(kwargs, obj):
    base = dict(times=[[1.0, 2.0], [3.0]], values=[[1.0, 2.0], [3.0]], errors=[[0.1, 0.1], [0.1]], ids=[8, 9])
    base.update(kwargs)
    _raises(obj, LightCurveSet, **base)


def test_lightcurves_time_units():
    from astropy.time import Time

    lc = LightCurveSet([[1.0, 2.0] * u.hour, Time([59000.0, 59001.0], format="mjd")], [[1, 2], [3, 4]], [[1, 1], [1, 1]])
    np.testing.assert_allclose(lc.object(0)["mjd"], [1 / 24, 2 / 24])
    np.testing.assert_allclose(lc.object(1)["mjd"], [59000.0, 59001.0])


def test_lightcurves_torch(lcs):
    import torch

    ds = lcs.to_torch_dataset(max_len=4)
    item = ds[2]
    assert item["time"].shape == (4,) and item["time"].dtype == torch.float32
    assert item["band_index"].dtype == torch.int64
    assert item["mask"].tolist() == [1.0, 1.0, 0.0, 0.0]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch["value"].shape == (3, 4) and batch["mask"].sum().item() == 5


# ------------------------------------------------------------------------ MultimodalSet


def test_multimodal_basics(mm):
    assert len(mm) == 5 and mm.modalities == ["images", "spectra", "lightcurves"]
    np.testing.assert_array_equal(mm.has("images"), [True, True, True, True, False])
    np.testing.assert_array_equal(mm.has("spectra"), [False, True, False, True, True])
    np.testing.assert_array_equal(mm.has("lightcurves"), [True, False, True, False, True])
    one = mm.get("spectra", 13)
    assert isinstance(one, SpectrumSet) and one.ids.tolist() == [13]
    np.testing.assert_array_equal(one.flux[0], mm.spectra.flux[1])
    assert mm["images"] is mm.images
    _raises("MultimodalSet.images", mm.get, "images", 14)  # object without images
    _raises("MultimodalSet", mm.get, "sed", 10)
    _raises("MultimodalSet.select_ids", mm.get, "images", 99)
    assert "N=5" in repr(mm) and "spectra: 3" in repr(mm)


def test_multimodal_slicing_consistent(mm):
    sub = mm[[4, 1, 0]]
    assert sub.ids.tolist() == [14, 11, 10]
    assert sub.catalog["object_id"].tolist() == [14, 11, 10]
    assert sub.images.ids.tolist() == [11, 10]  # follows catalog order, 14 has no image
    assert sub.spectra.ids.tolist() == [14, 11]
    assert sub.lightcurves.ids.tolist() == [14, 10]
    np.testing.assert_array_equal(sub.has("images"), [False, True, True])
    np.testing.assert_array_equal(sub.get("images", 10).images, mm.images.images[[0]])
    by_ids = mm.select_ids([14, 11, 10])
    for name in mm.modalities:
        np.testing.assert_array_equal(by_ids[name].ids, sub[name].ids)
        np.testing.assert_array_equal(by_ids.has(name), sub.has(name))
    masked = mm[np.array([True, False, False, True, False])]
    assert masked.ids.tolist() == [10, 13] and masked.spectra.ids.tolist() == [13]
    assert mm[1:3].lightcurves.ids.tolist() == [12]


def test_multimodal_validation(catalog, imgs):
    bad = ImageSet(np.zeros((2, 1, 2, 2)), ["r"], 0.2, ids=[10, 99])
    msg = _raises("MultimodalSet.images.ids", MultimodalSet, catalog, images=bad)
    assert "99" in msg
    _raises("MultimodalSet.catalog", MultimodalSet, Table({"id": [1, 2]}))
    dup = Table({"object_id": [1, 1]})
    _raises("MultimodalSet.catalog", MultimodalSet, dup)
    _raises("MultimodalSet.other", MultimodalSet, catalog, other=np.zeros(3))
    str_ids = ImageSet(np.zeros((1, 1, 2, 2)), ["r"], 0.2, ids=["10"])
    _raises("MultimodalSet.images.ids", MultimodalSet, catalog, images=str_ids)


def test_multimodal_extra_and_partial(catalog, imgs):
    hsc = ImageSet(np.ones((2, 1, 3, 3)), ["i"], 0.168, ids=[14, 12])
    m = MultimodalSet(catalog, images=imgs, images_hsc=hsc)
    assert m.modalities == ["images", "images_hsc"] and m.images_hsc is hsc
    assert m.spectra is None and not m.has("spectra").any()
    np.testing.assert_array_equal(m.has("images_hsc"), [False, False, True, False, True])


def test_multimodal_roundtrip(tmp_path, mm):
    path = mm.save(tmp_path / "mm.h5")
    back = MultimodalSet.load(path)
    assert back.modalities == mm.modalities
    assert back.catalog.colnames == mm.catalog.colnames
    assert back.catalog["ra"].unit == u.deg  # units survive
    np.testing.assert_allclose(back.catalog["ra"], mm.catalog["ra"])
    assert back.catalog["name"].tolist() == ["a", "b", "c", "d", "é"]
    np.testing.assert_array_equal(back.ids, mm.ids)
    np.testing.assert_array_equal(back.images.images, mm.images.images)
    np.testing.assert_array_equal(back.spectra.flux, mm.spectra.flux)
    np.testing.assert_array_equal(back.lightcurves.time, mm.lightcurves.time)
    assert back.lightcurves.flux_unit == u.uJy
    for name in mm.modalities:
        np.testing.assert_array_equal(back.has(name), mm.has(name))
    assert isinstance(load_container(path), MultimodalSet)


def test_multimodal_str_ids_roundtrip(tmp_path):
    cat = Table({"object_id": ["obj-1", "obj-2"], "mag_r": [20.0, 21.0] * u.mag})
    spec = SpectrumSet([4000.0, 4001.0], np.ones((1, 2)), ids=["obj-2"])
    m = MultimodalSet(cat, spectra=spec)
    back = MultimodalSet.load(m.save(tmp_path / "m.h5"))
    assert back.ids.tolist() == ["obj-1", "obj-2"]
    assert back.get("spectra", "obj-2").ids.tolist() == ["obj-2"]
    assert back.catalog["mag_r"].unit == u.mag


def test_multimodal_torch(mm):
    import torch

    ds = mm.to_torch_dataset(columns=["z", "ra"], max_len=4)
    item = ds[4]  # object 14: spectrum and light curve, no image
    assert item["features"].tolist() == pytest.approx([1.2, 5.0])
    assert item["has_images"].item() == 0.0 and item["has_spectra"].item() == 1.0
    assert item["images"]["image"].shape == (3, 5, 6) and float(item["images"]["image"].abs().sum()) == 0.0
    assert item["spectra"]["flux"].shape == (11,) and item["lightcurves"]["time"].shape == (4,)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=5)))
    assert batch["images"]["image"].shape == (5, 3, 5, 6)
    assert batch["has_spectra"].tolist() == [0.0, 1.0, 0.0, 1.0, 1.0]
    _raises("MultimodalSet.to_torch_dataset", mm.to_torch_dataset, columns=["nope"])


# ------------------------------------------------------------------------- persistence


@pytest.mark.parametrize("fixture", ["imgs", "spec", "lcs", "mm"])
def test_load_truncated_and_corrupt(tmp_path, request, fixture):
    cont = request.getfixturevalue(fixture)
    cls = type(cont)
    path = cont.save(tmp_path / "c.h5")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    msg = _raises(f"{cls.__name__}.load", cls.load, path)
    assert str(path) in msg
    path.write_bytes(b"this is not an HDF5 file" * 100)
    msg = _raises(f"{cls.__name__}.load", cls.load, path)
    assert str(path) in msg
    msg = _raises(f"{cls.__name__}.load", cls.load, tmp_path / "missing.h5")
    assert "missing.h5" in msg and "not found" in msg


def test_load_wrong_kind_and_damaged_content(tmp_path, spec, imgs):
    path = spec.save(tmp_path / "s.h5")
    msg = _raises("ImageSet.load", ImageSet.load, path)
    assert "SpectrumSet" in msg
    with h5py.File(path, "a") as f:  # valid HDF5, damaged content
        del f["flux"]
    msg = _raises("SpectrumSet.load", SpectrumSet.load, path)
    assert "flux" in msg
    p2 = imgs.save(tmp_path / "i.h5")
    with h5py.File(p2, "a") as f:
        f.attrs["astrolab_format_version"] = 99
    _raises("ImageSet.load", ImageSet.load, p2)
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["x"] = [1, 2]
    _raises("load_container", load_container, tmp_path / "plain.h5")
    assert issubclass(DataValidationError, AstrolabError)


def test_failed_save_leaves_nothing(tmp_path, monkeypatch, imgs, mm):
    def boom(self, group):
        group.create_dataset("partial", data=np.zeros(10))
        raise RuntimeError("disk full")

    monkeypatch.setattr(ImageSet, "_write", boom)
    target = tmp_path / "out.h5"
    with pytest.raises(RuntimeError, match="disk full"):
        imgs.save(target)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="disk full"):  # nested modality fails mid-file
        mm.save(target)
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_existing_file(tmp_path, monkeypatch, spec):
    target = spec.save(tmp_path / "s.h5")
    before = target.read_bytes()

    def boom(self, group):
        raise OSError("interrupted")

    monkeypatch.setattr(SpectrumSet, "_write", boom)
    with pytest.raises(OSError):
        spec[:1].save(target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.h5"]


def test_catalog_with_object_column_fails_cleanly(tmp_path):
    cat = Table({"object_id": [1, 2], "obj": np.array([{"a": 1}, None], dtype=object)})
    m = MultimodalSet(cat)
    _raises("MultimodalSet.catalog", m.save, tmp_path / "m.h5")
    assert list(tmp_path.iterdir()) == []


def test_index_errors(imgs):
    _raises("ImageSet[...]", imgs.__getitem__, np.array([True, False]))
    _raises("ImageSet[...]", imgs.__getitem__, 1.5)
    _raises("ImageSet.select_ids", imgs.select_ids, ["10"])


def test_torch_datasets_picklable(mm, lcs, spec):
    import torch

    for ds in (mm.to_torch_dataset(columns=["z"]), lcs.to_torch_dataset(), spec.to_torch_dataset()):
        back = pickle.loads(pickle.dumps(ds))
        assert isinstance(back, torch.utils.data.Dataset) and len(back) == len(ds)
        a, b = ds[len(ds) - 1], back[len(ds) - 1]
        assert a.keys() == b.keys() and int(b["index"]) == len(ds) - 1
    m2 = pickle.loads(pickle.dumps(mm))
    assert m2.modalities == mm.modalities and m2.spectra.ids.tolist() == [11, 13, 14]


def test_padded_bad_max_len(lcs):
    _raises("LightCurveSet.to_padded.max_len", lcs.to_padded, max_len=0)
    _raises("LightCurveSet.to_padded.max_len", lcs.to_padded, max_len=2.5)

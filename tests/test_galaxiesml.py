"""The GalaxiesML loader reads a small file written in the public layout."""

import h5py
import numpy as np
import pytest

from astrolab.data.galaxiesml import load_galaxiesml
from astrolab.errors import DataValidationError


def _write(path, n=12, channels_last=False):
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        img = rng.normal(size=(n, 5, 16, 16)).astype(np.float32)
        img[0, 0, 0, 0] = np.nan
        f["image"] = np.transpose(img, (0, 2, 3, 1)) if channels_last else img
        f["specz_redshift"] = rng.uniform(0.01, 3, n)
        f["object_id"] = np.arange(1000, 1000 + n)
        for b in "grizy":
            f[f"{b}_cmodel_mag"] = rng.uniform(19, 25, n)
            f[f"{b}_cmodel_magerr"] = rng.uniform(0.01, 0.2, n)
        f["ra"] = rng.uniform(0, 360, n)
        f["i_sdssshape_shape11"] = rng.uniform(0, 5, n)
    return img


def test_reads_catalog_and_images(tmp_path):
    p = tmp_path / "5x16x16_testing.hdf5"
    img = _write(p)
    mm = load_galaxiesml(p)
    cat = mm.catalog
    assert len(mm) == 12 and list(cat["object_id"][:2]) == [1000, 1001]
    for c in ["redshift", "g", "y", "g_err", "ra", "i_sdssshape_shape11"]:
        assert c in cat.colnames
    assert str(cat["g"].unit) == "mag"
    assert mm.images.shape == (12, 5, 16, 16) and mm.images.pixel_scale == 0.168
    assert mm.images.mask[0, 0, 0, 0] and mm.images.images[0, 0, 0, 0] == 0
    np.testing.assert_allclose(mm.images.images[1], img[1])
    sub = load_galaxiesml(p, n=5, start=3, images=False)
    assert len(sub) == 5 and sub.images is None and sub.catalog["object_id"][0] == 1003


def test_channels_last_and_errors(tmp_path):
    p = tmp_path / "cl.hdf5"
    img = _write(p, channels_last=True)
    np.testing.assert_allclose(load_galaxiesml(p).images.images[2], img[2])
    with h5py.File(p, "a") as f:
        del f["specz_redshift"]
    with pytest.raises(DataValidationError, match="specz_redshift"):
        load_galaxiesml(p)
    with pytest.raises(DataValidationError, match="does not exist"):
        load_galaxiesml(tmp_path / "nope.hdf5")

"""SDSS spec-*.fits loader: files written in the SDSS layout by the test, read back into a SpectrumSet."""

import numpy as np
import pytest

from astrolab.data.sdss_spectra import read_sdss_spec, read_sdss_spectra, sdss_loglam_grid, write_sdss_spec
from astrolab.errors import DataValidationError


def _write(tmp_path, name, lo, n, z, fiber, bad=()):
    loglam = lo + 1e-4 * np.arange(n)
    wl = 10**loglam
    flux = 5.0 + 0.001 * (wl - 5000.0) + 20.0 * np.exp(-0.5 * ((wl - 6562.8 * (1 + z)) / 3.0) ** 2)
    ivar = np.full(n, 4.0)
    andm = np.zeros(n, int)
    for i in bad:
        andm[i] = 1 << 23
    return write_sdss_spec(tmp_path / name, loglam, flux, ivar, z, plate=1234, mjd=56789, fiberid=fiber,
                           and_mask=andm), wl, flux


def test_read_one_file_round_trip(tmp_path):
    path, wl, flux = _write(tmp_path, "spec-1234-56789-0001.fits", 3.58, 3000, 0.1, 1, bad=(10, 11))
    rec = read_sdss_spec(path)
    assert rec["id"] == "1234-56789-0001"
    assert rec["z"] == pytest.approx(0.1, abs=1e-6)
    np.testing.assert_allclose(rec["wavelength"], wl, rtol=1e-6)
    good = ~rec["mask"]
    np.testing.assert_allclose(rec["flux"][good], flux[good], rtol=1e-6)
    assert rec["mask"].sum() == 2 and rec["mask"][10] and rec["mask"][11]
    assert np.all(rec["ivar"][rec["mask"]] == 0)


def test_read_many_on_shared_grid(tmp_path):
    _write(tmp_path, "spec-1234-56789-0001.fits", 3.58, 3000, 0.10, 1)
    _write(tmp_path, "spec-1234-56789-0002.fits", 3.60, 3200, 0.25, 2)
    s = read_sdss_spectra(tmp_path)
    grid = 10 ** sdss_loglam_grid()
    assert s.shape == (2, grid.size)
    np.testing.assert_allclose(s.redshift, [0.10, 0.25], atol=1e-6)
    assert list(s.ids) == ["1234-56789-0001", "1234-56789-0002"]
    # outside each file's range: masked; inside: the Halpha line is where z puts it
    assert s.mask[1, 0] and not s.mask[1, 500]
    for i, z in enumerate((0.10, 0.25)):
        peak = s.wavelength[np.argmax(np.where(s.mask[i], 0, s.flux[i]))]
        assert peak == pytest.approx(6562.8 * (1 + z), abs=3.0)
    assert np.all(s.ivar[~s.mask] > 0)


def test_native_grid_and_errors(tmp_path):
    _write(tmp_path, "spec-1234-56789-0001.fits", 3.58, 1000, 0.1, 1)
    p2, _, _ = _write(tmp_path, "spec-1234-56789-0002.fits", 3.58, 1000, 0.2, 2)
    s = read_sdss_spectra(sorted(tmp_path.glob("spec-*.fits")), loglam_grid="native")
    assert s.shape == (2, 1000)
    with pytest.raises(DataValidationError, match="does not exist"):
        read_sdss_spec(tmp_path / "nope.fits")
    with pytest.raises(DataValidationError, match="min_z"):
        read_sdss_spectra(p2, min_z=0.5)

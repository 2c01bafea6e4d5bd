"""Read SDSS/BOSS ``spec-PLATE-MJD-FIBER.fits`` files into a :class:`~astrolab.data.SpectrumSet`.

Layout (SDSS DR8+ "spec" files): HDU 1 ``COADD`` is a binary table with columns
``loglam`` (log10 vacuum wavelength [A]), ``flux`` [1e-17 erg/s/cm2/A], ``ivar``
(inverse variance of flux) and optionally ``and_mask`` (bad-pixel bits); HDU 2
``SPECOBJ`` is a one-row table with the pipeline redshift ``Z`` (and ``PLATE``,
``MJD``, ``FIBERID``, ``ZWARNING``...).

Each file has its own pixel range; :func:`read_sdss_spectra` resamples every
spectrum onto one shared log-lambda grid (default: the SDSS grid from 3.5798 to
3.9720 in steps of 1e-4, i.e. 3800-9375 A), masking pixels outside a spectrum's
range, with ``ivar == 0`` or a non-zero ``and_mask``.

:func:`write_sdss_spec` writes a file in the same layout (used by the tests and to
export simulated spectra).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from astrolab.errors import invalid

__all__ = ["read_sdss_spec", "read_sdss_spectra", "write_sdss_spec", "sdss_loglam_grid"]


def sdss_loglam_grid(lo: float = 3.5798, hi: float = 3.9720, step: float = 1e-4) -> np.ndarray:
    """SDSS log-lambda grid.

    Parameters
    ----------
    lo, hi : float
        First and last log10(lambda / A).
    step : float
        Step in log10(lambda / A) (SDSS: 1e-4, i.e. 69 km/s pixels).

    Returns
    -------
    numpy.ndarray, shape (L,)
        log10 wavelength [log10 A].
    """
    n = int(round((hi - lo) / step)) + 1
    return lo + step * np.arange(n)


def read_sdss_spec(path) -> dict:
    """Read one SDSS ``spec-*.fits`` file.

    Parameters
    ----------
    path : path-like
        File in the SDSS spec layout (HDU 1 COADD: loglam, flux, ivar[, and_mask]; HDU 2 SPECOBJ: Z).

    Returns
    -------
    dict
        ``wavelength`` (L,) [A], ``flux`` (L,) [1e-17 erg/s/cm2/A], ``ivar`` (L,),
        ``mask`` (L,) bool (ivar == 0, non-finite values or and_mask != 0), ``z`` (float),
        ``id`` (str: PLATE-MJD-FIBERID when present, else the file stem).
    """
    from astropy.io import fits

    p = Path(path)
    if not p.exists():
        raise invalid(f"SDSS spectrum {p}", "does not exist", "check the path (files are named spec-PLATE-MJD-FIBER.fits)")
    try:
        with fits.open(p, memmap=False) as hdul:
            if len(hdul) < 3:
                raise invalid(f"SDSS spectrum {p.name}", f"has {len(hdul)} HDUs",
                              "pass an SDSS spec file with HDU1 COADD and HDU2 SPECOBJ")
            coadd = hdul[1].data
            names = [n.lower() for n in coadd.columns.names]
            for col in ("loglam", "flux", "ivar"):
                if col not in names:
                    raise invalid(f"SDSS spectrum {p.name} HDU1", f"has no {col!r} column (columns: {names})",
                                  "pass an SDSS spec file (COADD table with loglam, flux, ivar)")
            get = {n.lower(): n for n in coadd.columns.names}
            loglam = np.asarray(coadd[get["loglam"]], dtype=np.float64)
            flux = np.asarray(coadd[get["flux"]], dtype=np.float64)
            ivar = np.asarray(coadd[get["ivar"]], dtype=np.float64)
            andm = np.asarray(coadd[get["and_mask"]]) if "and_mask" in get else np.zeros(len(flux), int)
            spo = hdul[2].data
            snames = {n.upper(): n for n in spo.columns.names}
            if "Z" not in snames:
                raise invalid(f"SDSS spectrum {p.name} HDU2", "has no 'Z' column", "pass an SDSS spec file (SPECOBJ with Z)")
            z = float(spo[snames["Z"]][0])
            if all(k in snames for k in ("PLATE", "MJD", "FIBERID")):
                oid = f"{int(spo[snames['PLATE']][0]):04d}-{int(spo[snames['MJD']][0])}-{int(spo[snames['FIBERID']][0]):04d}"
            else:
                oid = p.stem.replace("spec-", "")
    except OSError as exc:
        raise invalid(f"SDSS spectrum {p.name}", f"is not a readable FITS file ({exc})",
                      "re-download the file") from None
    bad = ~np.isfinite(flux) | ~np.isfinite(ivar) | (ivar <= 0) | (andm != 0)
    order = np.argsort(loglam)
    return {"wavelength": 10 ** loglam[order], "flux": np.where(bad, 0.0, flux)[order],
            "ivar": np.where(bad, 0.0, ivar)[order], "mask": bad[order], "z": z, "id": oid}


def read_sdss_spectra(paths, loglam_grid=None, min_z: float = 0.0):
    """Read SDSS spec files into one :class:`~astrolab.data.SpectrumSet` on a shared grid.

    Parameters
    ----------
    paths : path-like or sequence of path-like
        Files, or a folder (all ``spec-*.fits`` in it, sorted).
    loglam_grid : array_like (L,), optional
        Shared log10 wavelength grid [log10 A]; default :func:`sdss_loglam_grid`.
        Pass ``"native"`` to keep the first file's grid (all files must share it).
    min_z : float
        Objects with ``Z < min_z`` (e.g. stars with Z ~ 0 or negative) are dropped.

    Returns
    -------
    SpectrumSet
        Flux [1e-17 erg/s/cm2/A] (N, L), ivar, mask, redshift, ids ``PLATE-MJD-FIBER``.
    """
    from astrolab.data import SpectrumSet

    if isinstance(paths, (str, Path)) and Path(paths).is_dir():
        files = sorted(Path(paths).glob("spec-*.fits"))
        if not files:
            raise invalid(f"SDSS folder {paths}", "holds no spec-*.fits files", "point to the folder with the downloaded spectra")
    elif isinstance(paths, (str, Path)):
        files = [Path(paths)]
    else:
        files = [Path(p) for p in paths]
    if not files:
        raise invalid("read_sdss_spectra paths", "is empty", "pass at least one spec-*.fits file")
    recs = [read_sdss_spec(f) for f in files]
    recs = [r for r in recs if np.isfinite(r["z"]) and r["z"] >= min_z]
    if not recs:
        raise invalid("read_sdss_spectra", f"no spectrum has Z >= {min_z}", "lower min_z")
    if isinstance(loglam_grid, str) and loglam_grid == "native":
        wl = recs[0]["wavelength"]
        for r in recs[1:]:
            if r["wavelength"].shape != wl.shape or not np.allclose(r["wavelength"], wl):
                raise invalid("read_sdss_spectra(loglam_grid='native')", "files have different pixel grids",
                              "use the default shared grid (resampling)")
        return SpectrumSet(wl, np.stack([r["flux"] for r in recs]), ivar=np.stack([r["ivar"] for r in recs]),
                           mask=np.stack([r["mask"] for r in recs]), ids=[r["id"] for r in recs],
                           redshift=[r["z"] for r in recs])
    grid = 10 ** np.asarray(sdss_loglam_grid() if loglam_grid is None else loglam_grid, dtype=np.float64)
    flux, ivar, mask = [], [], []
    for r in recs:
        one = SpectrumSet(r["wavelength"], r["flux"][None], ivar=r["ivar"][None], mask=r["mask"][None])
        res = one.resample(grid)
        flux.append(res.flux[0])
        ivar.append(res.ivar[0])
        mask.append(res.mask[0])
    return SpectrumSet(grid, np.stack(flux), ivar=np.stack(ivar), mask=np.stack(mask), ids=[r["id"] for r in recs],
                       redshift=[r["z"] for r in recs])


def write_sdss_spec(path, loglam, flux, ivar, z: float, *, plate: int = 0, mjd: int = 0, fiberid: int = 0,
                    and_mask=None) -> Path:
    """Write one spectrum in the SDSS ``spec-*.fits`` layout (atomic).

    Parameters
    ----------
    path : path-like
        Output file.
    loglam, flux, ivar : array_like, shape (L,)
        log10 wavelength [log10 A], flux [1e-17 erg/s/cm2/A], inverse variance.
    z : float
        Redshift (SPECOBJ ``Z``).
    plate, mjd, fiberid : int
        Identifiers stored in SPECOBJ.
    and_mask : array_like of int (L,), optional
        Bad-pixel bits (0 = good).

    Returns
    -------
    pathlib.Path
    """
    from astropy.io import fits

    from astrolab.utils import atomic_path

    loglam = np.asarray(loglam, dtype=np.float32)
    n = loglam.size
    andm = np.zeros(n, np.int32) if and_mask is None else np.asarray(and_mask, np.int32)
    coadd = fits.BinTableHDU.from_columns([
        fits.Column("flux", "E", array=np.asarray(flux, np.float32)),
        fits.Column("loglam", "E", array=loglam),
        fits.Column("ivar", "E", array=np.asarray(ivar, np.float32)),
        fits.Column("and_mask", "J", array=andm),
    ], name="COADD")
    specobj = fits.BinTableHDU.from_columns([
        fits.Column("PLATE", "J", array=np.array([plate], np.int32)),
        fits.Column("MJD", "J", array=np.array([mjd], np.int32)),
        fits.Column("FIBERID", "J", array=np.array([fiberid], np.int32)),
        fits.Column("Z", "E", array=np.array([z], np.float32)),
    ], name="SPECOBJ")
    hdul = fits.HDUList([fits.PrimaryHDU(), coadd, specobj])
    out = Path(path)
    with atomic_path(out) as tmp:
        hdul.writeto(tmp, overwrite=True)
    return out

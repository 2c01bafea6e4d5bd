"""SDSS: photometry and any SQL through SkyServer, spectra and image cutouts from the SAS.

All calls go through ``astroquery.sdss.SDSS`` (SkyServer SQL search, CSV
replies; the same requests session downloads spectra and imaging frames).
"""

from __future__ import annotations

import numpy as np
import astropy.units as u
from astropy.table import Table

from astrolab.errors import invalid

from astrolab.data.remote._cache import ArchiveCache
from astrolab.data.remote._core import (DEFAULT_TIMEOUT, cached_fetch, ids_for, pos_label, positions, radius_deg,
                                        read_fits_bytes)
from astrolab.data.remote._tables import canonical, find_col, to_float, to_str

__all__ = ["sdss_sql", "sdss_photometry", "sdss_spectra", "sdss_cutouts", "SDSS_BANDS"]

ARCHIVE = "SDSS"
#: SDSS imaging bands, blue to red.
SDSS_BANDS = ("u", "g", "r", "i", "z")
_MAG_TYPES = {"model": ("modelMag_{b}", "modelMagErr_{b}"), "psf": ("psfMag_{b}", "psfMagErr_{b}"),
              "petro": ("petroMag_{b}", "petroMagErr_{b}"), "cmodel": ("cModelMag_{b}", "cModelMagErr_{b}")}
_PIXEL_SCALE = 0.396  # arcsec / pixel of the SDSS imaging camera
_SDSS_FLUX_UNIT = "1e-17 erg/(s cm2 Angstrom)"


def _client(timeout: float):
    from astroquery.sdss import SDSSClass

    from astrolab.data.remote._core import with_timeout

    client = SDSSClass()
    with_timeout(client._session, timeout)
    return client


def _run_sql(sql: str, data_release: int, timeout: float, client=None) -> Table | None:
    """SkyServer SQL through astroquery; HTTP errors raise (SkyServer error pages are not parsed as CSV)."""
    client = client or _client(timeout)
    response = client.query_sql_async(sql, data_release=int(data_release), timeout=timeout, cache=False)
    response.raise_for_status()
    return client._parse_result(response)


def _check_dr(data_release) -> int:
    dr = int(data_release)
    if dr < 8 or dr > 19:
        raise invalid("SDSS data_release", f"{data_release!r} is not a SkyServer release with these tables (8-19)",
                      "use e.g. data_release=17")
    return dr


def sdss_sql(sql: str, *, data_release: int = 17, offline: bool | None = None, refresh: bool = False,
             timeout: float = DEFAULT_TIMEOUT) -> Table:
    """Run an SQL query on SkyServer (cached).

    Parameters
    ----------
    sql : str
        SkyServer SQL (e.g. ``"SELECT TOP 10 objID, ra, dec FROM PhotoObj"``).
    data_release : int
        SDSS data release (default DR17).
    offline : bool, optional
        Serve only from the cache (default: ``ASTROLAB_OFFLINE``).
    refresh : bool
        Fetch again even when cached.
    timeout : float
        Seconds allowed for the archive to answer.

    Returns
    -------
    astropy.table.Table
        The rows as SkyServer returns them (no units; 0 rows when nothing matched).

    Raises
    ------
    astrolab.errors.ArchiveError
        SkyServer did not answer, answered an error page or a truncated CSV,
        or offline and not cached.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise invalid("sdss_sql(sql=...)", "empty query", "pass a SkyServer SQL string")
    dr = _check_dr(data_release)
    query = {"sql": " ".join(sql.split()), "data_release": dr}
    entry = ArchiveCache().entry(ARCHIVE, "sql", query, label=f"dr{dr}")

    def fetch():
        table = _run_sql(sql, dr, timeout)
        table = Table() if table is None else Table(table)
        table.meta.update({"archive": ARCHIVE, "data_release": dr})
        return table

    return cached_fetch(entry, fetch, offline=offline, refresh=refresh)


def sdss_photometry(ra, dec, radius=10 * u.arcsec, *, mag_type: str = "model", data_release: int = 17,
                    limit: int = 1000, offline: bool | None = None, refresh: bool = False,
                    timeout: float = DEFAULT_TIMEOUT) -> Table:
    """ugriz photometry of SDSS objects in a cone, with spectroscopic redshifts when measured.

    Parameters
    ----------
    ra, dec : float or Quantity
        Cone centre [deg, ICRS].
    radius : Quantity or float
        Cone radius (plain numbers are arcsec; at most 1 deg).
    mag_type : {"model", "psf", "petro", "cmodel"}
        Which SDSS magnitude (asinh AB-like magnitudes).
    data_release : int
        SDSS data release (default 17).
    limit : int
        Most rows returned (nearest first).
    offline, refresh, timeout
        See :func:`sdss_sql`.

    Returns
    -------
    astropy.table.Table
        ``object_id`` (int64 objID), ``ra``, ``dec`` [deg], ``u g r i z`` [mag],
        ``u_err ... z_err`` [mag], ``extinction_u ... _z`` [mag], ``type``
        (3 galaxy, 6 star), ``distance`` [arcmin], ``redshift`` (spectroscopic
        z of the best spectrum, NaN without one), ``spec_class``. Ready for
        :class:`astrolab.PhotometricRedshift` with ``bands=list("ugriz")``.

    Raises
    ------
    astrolab.errors.ArchiveError
        See :func:`sdss_sql`.
    """
    if mag_type not in _MAG_TYPES:
        raise invalid("sdss_photometry(mag_type=...)", f"unknown magnitude type {mag_type!r}",
                      f"use one of {sorted(_MAG_TYPES)}")
    r, d = positions(ra, dec, "sdss_photometry")
    if r.size != 1:
        raise invalid("sdss_photometry(ra, dec)", f"{r.size} positions given", "query one cone at a time")
    rad = radius_deg(radius, "sdss_photometry")
    limit = int(limit)
    if limit < 1:
        raise invalid("sdss_photometry(limit=...)", f"{limit} < 1", "ask for at least one row")
    dr = _check_dr(data_release)
    mag, err = _MAG_TYPES[mag_type]
    cols = ", ".join([f"p.{mag.format(b=b)}" for b in SDSS_BANDS] + [f"p.{err.format(b=b)}" for b in SDSS_BANDS]
                     + [f"p.extinction_{b}" for b in SDSS_BANDS])
    sql = (f"SELECT TOP {limit} p.objID AS objid, p.ra, p.dec, p.type, {cols}, n.distance, "
           f"s.z AS specz, s.class AS spec_class "
           f"FROM PhotoObj AS p JOIN dbo.fGetNearbyObjEq({r[0]:.7f}, {d[0]:.7f}, {rad * 60:.6f}) AS n "
           f"ON n.objID = p.objID LEFT OUTER JOIN SpecObj AS s ON s.bestObjID = p.objID ORDER BY n.distance")
    query = {"ra": round(float(r[0]), 7), "dec": round(float(d[0]), 7), "radius_deg": rad, "mag_type": mag_type,
             "data_release": dr, "limit": limit}
    entry = ArchiveCache().entry(ARCHIVE, "photometry", query, label=pos_label(r[0], d[0]))

    def fetch():
        raw = _run_sql(sql, dr, timeout)
        if raw is None:  # astroquery: no rows
            raw = Table({"objid": np.zeros(0, np.int64), "ra": np.zeros(0), "dec": np.zeros(0)})
        table = canonical(
            raw, id_col="objid", ra_col="ra", dec_col="dec",
            mags={b: mag.format(b=b) for b in SDSS_BANDS}, errs={b: err.format(b=b) for b in SDSS_BANDS},
            extra={**{f"extinction_{b}": (f"extinction_{b}", u.mag, "float") for b in SDSS_BANDS},
                   "type": ("type", None, "int"), "distance": ("distance", u.arcmin, "float"),
                   "redshift": ("specz", None, "float"), "spec_class": ("spec_class", None, "str")},
            meta={"archive": ARCHIVE, "data_release": dr, "mag_type": mag_type, "sql": sql})
        return table

    return cached_fetch(entry, fetch, offline=offline, refresh=refresh)


# ---------------------------------------------------------------------------- spectra


def _spectrum_from_fits(hdul, sid: str):
    """One SDSS spec/spec-lite file -> (loglam index (L,), flux, ivar, mask, z or nan)."""
    coadd = hdul["COADD"] if "COADD" in hdul else hdul[1]
    data = coadd.data
    names = {n.lower(): n for n in data.columns.names}
    for need in ("flux", "loglam", "ivar"):
        if need not in names:
            raise KeyError(f"spectrum {sid}: column {need!r} missing from the COADD table")
    loglam = np.asarray(data[names["loglam"]], dtype=np.float64)
    flux = np.asarray(data[names["flux"]], dtype=np.float64)
    ivar = np.asarray(data[names["ivar"]], dtype=np.float64)
    if loglam.size == 0:
        raise ValueError(f"spectrum {sid}: no pixels")
    idx = np.rint(loglam * 1e4).astype(np.int64)
    bad = ~np.isfinite(flux) | ~np.isfinite(ivar) | (ivar <= 0)
    if "and_mask" in names:
        bad |= np.asarray(data[names["and_mask"]]) != 0
    z = np.nan
    for hdu in hdul[2:3]:
        cols = {n.lower(): n for n in getattr(getattr(hdu, "data", None), "columns", type("c", (), {"names": []})).names}
        if "z" in cols and len(hdu.data):
            z = float(hdu.data[cols["z"]][0])
    return idx, np.where(bad, 0.0, flux), np.where(bad, 0.0, ivar), bad, z


def _combine_spectra(parts, ids):
    """Put spectra on the union SDSS log-lambda grid (1e-4 dex); uncovered pixels masked."""
    from astrolab.data.containers import SpectrumSet

    lo = min(int(p[0].min()) for p in parts)
    hi = max(int(p[0].max()) for p in parts)
    length = hi - lo + 1
    n = len(parts)
    flux = np.zeros((n, length))
    ivar = np.zeros((n, length))
    mask = np.ones((n, length), dtype=bool)
    z = np.full(n, np.nan)
    for k, (idx, f, iv, bad, zk) in enumerate(parts):
        flux[k, idx - lo] = f
        ivar[k, idx - lo] = iv
        mask[k, idx - lo] = bad
        z[k] = zk
    wave = 10 ** (np.arange(lo, hi + 1) / 1e4)
    # stars have tiny negative redshifts from their radial velocity; clip those to 0
    z = np.where((z < 0) & (z > -0.01), 0.0, z)
    redshift = z if np.all(np.isfinite(z) & (z >= 0)) else None
    return SpectrumSet(wave, flux, ivar=ivar, mask=mask, ids=ids, flux_unit=_SDSS_FLUX_UNIT, redshift=redshift)


def sdss_spectra(plate, mjd, fiber, *, run2d=None, data_release: int = 17, offline: bool | None = None,
                 refresh: bool = False, timeout: float = DEFAULT_TIMEOUT):
    """Optical spectra (coadds from the SAS spec files) of SDSS/BOSS fibres, as one :class:`SpectrumSet`.

    Parameters
    ----------
    plate, mjd, fiber : int or array of int, shape (N,)
        Plate, MJD and fibre of each spectrum.
    run2d : str or sequence of str, optional
        Reduction version of each spectrum (``"26"``, ``"v5_13_2"``); looked up
        in SpecObj when not given.
    data_release : int
        SDSS data release (default 17).
    offline, refresh, timeout
        See :func:`sdss_sql`. Each spectrum is cached separately.

    Returns
    -------
    astrolab.data.SpectrumSet
        N spectra on the union log-lambda grid (L,) [Angstrom] in
        ``1e-17 erg/(s cm2 Angstrom)``, ``ivar``, ``mask`` (True where the
        pixel is outside the spectrum, has ivar = 0 or a non-zero AND mask),
        ids ``"plate-mjd-fiber"`` and the pipeline redshifts (``None`` if one
        is missing or clearly negative).
    """
    plates = np.atleast_1d(np.asarray(plate))
    mjds = np.atleast_1d(np.asarray(mjd))
    fibers = np.atleast_1d(np.asarray(fiber))
    if not (plates.shape == mjds.shape == fibers.shape) or plates.ndim != 1 or plates.size == 0:
        raise invalid("sdss_spectra(plate, mjd, fiber)", f"shapes {plates.shape}, {mjds.shape}, {fibers.shape}",
                      "pass three 1-D arrays of the same length (one entry per spectrum)")
    for name, arr in (("plate", plates), ("mjd", mjds), ("fiber", fibers)):
        if arr.dtype.kind not in "iu" or np.any(arr <= 0):
            raise invalid(f"sdss_spectra({name}=...)", f"expected positive integers, got {arr[:5].tolist()}",
                          "pass plate/mjd/fiber numbers from SpecObj")
    if run2d is not None:
        run2ds = [str(run2d)] * plates.size if isinstance(run2d, str) else [str(v) for v in run2d]
        if len(run2ds) != plates.size:
            raise invalid("sdss_spectra(run2d=...)", f"{len(run2ds)} values for {plates.size} spectra",
                          "pass one run2d per spectrum, or None to look them up")
    else:
        run2ds = [None] * plates.size
    dr = _check_dr(data_release)
    ids = np.array([f"{p}-{m}-{f}" for p, m, f in zip(plates, mjds, fibers)])
    if np.unique(ids).size != ids.size:
        raise invalid("sdss_spectra", "the same spectrum is requested twice", "pass each (plate, mjd, fiber) once")
    cache = ArchiveCache()
    parts = []
    for sid, p, m, f, rv in zip(ids, plates, mjds, fibers, run2ds):
        query = {"plate": int(p), "mjd": int(m), "fiber": int(f), "run2d": rv, "data_release": dr}
        entry = cache.entry(ARCHIVE, "spectrum", query, label=sid, ext=".h5")

        def fetch(p=int(p), m=int(m), f=int(f), rv=rv, sid=sid):
            client = _client(timeout)
            z_db = np.nan
            if rv is None:
                found = _run_sql(
                    f"SELECT TOP 1 run2d, plate, mjd, fiberID, z FROM SpecObjAll WHERE plate = {p} AND mjd = {m} "
                    f"AND fiberID = {f}", dr, timeout, client)
                if found is None or len(found) == 0:
                    raise LookupError(f"no SpecObj row for plate {p}, mjd {m}, fiber {f} in DR{dr}")
                rv = to_str(found[find_col(found, "run2d")])[0]
                if find_col(found, "z"):
                    z_db = float(to_float(found[find_col(found, "z")])[0])
            matches = Table({"run2d": [rv], "plate": [p], "mjd": [m], "fiberID": [f]})
            link = client.get_spectra_async(matches=matches, data_release=dr, cache=False, timeout=timeout,
                                            show_progress=False)[0]._target
            response = client._request("GET", link, timeout=timeout, cache=False)
            response.raise_for_status()
            hdul = read_fits_bytes(response.content, f"SDSS spectrum {sid}")
            idx, fl, iv, bad, z = _spectrum_from_fits(hdul, sid)
            if not np.isfinite(z):
                z = z_db
            return _combine_spectra([(idx, fl, iv, bad, z)], np.array([sid]))

        single = cached_fetch(entry, fetch, offline=offline, refresh=refresh, cache=cache)
        idx = np.rint(np.log10(single.wavelength) * 1e4).astype(np.int64)
        zk = float(single.redshift[0]) if single.redshift is not None else np.nan
        parts.append((idx, single.flux[0], single.ivar[0], single.mask[0], zk))
    return _combine_spectra(parts, ids)


# ---------------------------------------------------------------------------- images


def sdss_cutouts(ra, dec, size: int = 64, *, bands=SDSS_BANDS, ids=None, data_release: int = 17,
                 offline: bool | None = None, refresh: bool = False, timeout: float = DEFAULT_TIMEOUT):
    """Image cutouts from SDSS corrected frames (nanomaggies), as an :class:`ImageSet`.

    For each position the nearest photometric object's field (run, rerun,
    camcol, field) is found with SQL, the ``frame-<band>-...fits.bz2`` files
    are downloaded and a ``size`` x ``size`` pixel cutout is cut with the
    frame's WCS (pixels beyond the frame edge are masked).

    Parameters
    ----------
    ra, dec : float or array (N,) [deg]
        Cutout centres.
    size : int
        Cutout side in pixels (0.396 arcsec each), 8 to 1024.
    bands : sequence of str
        Subset of ``ugriz``.
    ids : array (N,), optional
        Object ids (default ``arange(N)``); also used in cache file names
        (sanitised).
    data_release, offline, refresh, timeout
        See :func:`sdss_sql`. Each object is cached separately.

    Returns
    -------
    astrolab.data.ImageSet
        images (N, B, size, size) in nanomaggies, mask (True = off the frame),
        ``pixel_scale`` 0.396 arcsec, ``survey="SDSS DR<dr>"``.
    """
    from astrolab.data.containers import ImageSet

    r, d = positions(ra, dec, "sdss_cutouts")
    size = int(size)
    if not 8 <= size <= 1024:
        raise invalid("sdss_cutouts(size=...)", f"{size} pixels", "use 8 to 1024 pixels")
    bands = [bands] if isinstance(bands, str) and len(bands) == 1 else list(bands)
    unknown = [b for b in bands if b not in SDSS_BANDS]
    if unknown or not bands:
        raise invalid("sdss_cutouts(bands=...)", f"unknown band(s) {unknown or bands}", "use a subset of 'ugriz'")
    dr = _check_dr(data_release)
    obj_ids = ids_for(ids, r.size, "sdss_cutouts")
    cache = ArchiveCache()
    images = np.zeros((r.size, len(bands), size, size), dtype=np.float32)
    masks = np.ones_like(images, dtype=bool)
    for k in range(r.size):
        query = {"ra": round(float(r[k]), 7), "dec": round(float(d[k]), 7), "size": size, "bands": "".join(bands),
                 "data_release": dr}
        entry = cache.entry(ARCHIVE, "cutout", query, label=f"{obj_ids[k]}_{pos_label(r[k], d[k])}", ext=".h5")

        def fetch(ra_k=float(r[k]), dec_k=float(d[k])):
            from astroquery.sdss import conf as sdss_conf

            client = _client(timeout)
            field = _run_sql(
                "SELECT TOP 1 p.run, p.rerun, p.camcol, p.field FROM PhotoObj AS p JOIN "
                f"dbo.fGetNearbyObjEq({ra_k:.7f}, {dec_k:.7f}, 1.0) AS n ON n.objID = p.objID ORDER BY n.distance",
                dr, timeout, client)
            if field is None or len(field) == 0:
                raise LookupError(f"no SDSS imaging field within 1 arcmin of ({ra_k:.5f}, {dec_k:.5f})")
            row = {c.lower(): int(to_float(field[c])[0]) for c in field.colnames}
            cube = np.zeros((len(bands), size, size), dtype=np.float32)
            bad = np.ones_like(cube, dtype=bool)
            for b, band in enumerate(bands):
                url = client.IMAGING_URL_SUFFIX.format(
                    base=sdss_conf.sas_baseurl, dr=dr, instrument="eboss", rerun=row["rerun"], run=row["run"],
                    camcol=row["camcol"], field=row["field"], band=band)
                response = client._request("GET", url, timeout=timeout, cache=False)
                response.raise_for_status()
                hdul = read_fits_bytes(response.content, f"SDSS frame {url.rsplit('/', 1)[-1]}")
                cube[b], bad[b] = _cut(hdul[0].data, hdul[0].header, ra_k, dec_k, size)
            return ImageSet(cube[None], bands=bands, pixel_scale=_PIXEL_SCALE, mask=bad[None],
                            survey=f"SDSS DR{dr}")

        one = cached_fetch(entry, fetch, offline=offline, refresh=refresh, cache=cache)
        images[k] = one.images[0]
        masks[k] = one.mask[0]
    return ImageSet(images, bands=bands, pixel_scale=_PIXEL_SCALE, mask=masks, ids=obj_ids, survey=f"SDSS DR{dr}")


def _cut(data, header, ra: float, dec: float, size: int):
    """size x size cutout centred on (ra, dec) with the header's WCS; (image, mask True = no data)."""
    import warnings

    from astropy.coordinates import SkyCoord
    from astropy.nddata import Cutout2D
    from astropy.wcs import WCS, FITSFixedWarning

    if data is None or np.ndim(data) != 2:
        raise ValueError(f"frame has no 2-D image (shape {np.shape(data)})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header)
    try:
        cut = Cutout2D(np.asarray(data, dtype=np.float64), SkyCoord(ra, dec, unit="deg"), (size, size), wcs=wcs,
                       mode="partial", fill_value=np.nan)
    except Exception as exc:  # NoOverlapError and friends
        raise LookupError(f"position ({ra:.5f}, {dec:.5f}) is not on the frame ({exc})") from None
    img = np.asarray(cut.data, dtype=np.float64)
    bad = ~np.isfinite(img)
    return np.where(bad, 0.0, img).astype(np.float32), bad

"""MAST: Pan-STARRS1 DR2 and GALEX catalogs through ``astroquery.mast.Catalogs`` (JSON replies)."""

from __future__ import annotations

import astropy.units as u
from astropy.table import Table

from astrolab.errors import invalid

from astrolab.data.remote._cache import ArchiveCache
from astrolab.data.remote._core import DEFAULT_TIMEOUT, cached_fetch, pos_label, positions, radius_deg, with_timeout
from astrolab.data.remote._tables import canonical

__all__ = ["mast_catalog", "panstarrs", "galex", "PS1_BANDS"]

ARCHIVE = "MAST"
#: Pan-STARRS1 bands, blue to red.
PS1_BANDS = ("g", "r", "i", "z", "y")


def _catalogs(timeout: float):
    from astroquery.mast import CatalogsClass

    client = CatalogsClass()
    for conn in (client, getattr(client, "_portal_api_connection", None), getattr(client, "_service_api_connection", None)):
        if conn is not None and getattr(conn, "_session", None) is not None:
            with_timeout(conn._session, timeout)
    return client


def mast_catalog(ra, dec, radius=10 * u.arcsec, *, catalog: str = "Panstarrs", offline: bool | None = None,
                 refresh: bool = False, timeout: float = DEFAULT_TIMEOUT, **criteria) -> Table:
    """Cone search of a MAST catalog (raw columns), cached.

    Parameters
    ----------
    ra, dec : float or Quantity
        Cone centre [deg, ICRS].
    radius : Quantity or float
        Cone radius (plain numbers are arcsec; at most 1 deg).
    catalog : str
        ``"Panstarrs"`` (add ``data_release="dr2"``, ``table="mean"``),
        ``"Galex"`` or another ``astroquery.mast.Catalogs`` name.
    offline, refresh, timeout
        Cache-only mode, forced refetch, seconds allowed per request.
    **criteria
        Passed to ``Catalogs.query_region`` (e.g. ``nDetections=[("gte", 2)]``).

    Returns
    -------
    astropy.table.Table
        As MAST returns it.

    Raises
    ------
    astrolab.errors.ArchiveError
        MAST did not answer, answered an HTTP error, an error status or
        truncated JSON, or offline and not cached.
    """
    r, d = positions(ra, dec, "mast_catalog")
    if r.size != 1:
        raise invalid("mast_catalog(ra, dec)", f"{r.size} positions given", "query one cone at a time")
    rad = radius_deg(radius, "mast_catalog")
    query = {"ra": round(float(r[0]), 7), "dec": round(float(d[0]), 7), "radius_deg": rad, "catalog": catalog,
             **{k: v for k, v in sorted(criteria.items())}}
    entry = ArchiveCache().entry(ARCHIVE, str(catalog), query, label=pos_label(r[0], d[0]))

    def fetch():
        from astropy.coordinates import SkyCoord

        client = _catalogs(timeout)
        table = client.query_region(SkyCoord(r[0], d[0], unit="deg"), radius=rad * u.deg, catalog=catalog,
                                    **criteria)
        table = Table(table)
        table.meta = {"archive": ARCHIVE, "catalog": catalog}
        return table

    return cached_fetch(entry, fetch, offline=offline, refresh=refresh)


def panstarrs(ra, dec, radius=10 * u.arcsec, *, min_detections: int = 1, **kwargs) -> Table:
    """Pan-STARRS1 DR2 mean-object PSF photometry in a cone.

    Parameters
    ----------
    ra, dec, radius
        Cone (deg; radius Quantity or arcsec).
    min_detections : int
        Keep objects with at least this many detections (``nDetections``).
    **kwargs
        ``offline``, ``refresh``, ``timeout`` (see :func:`mast_catalog`).

    Returns
    -------
    astropy.table.Table
        ``object_id`` (int64 objID), ``ra``, ``dec`` [deg], ``g r i z y`` [AB
        mag, mean PSF], ``g_err ... y_err`` [mag], ``g_kron ... y_kron`` [mag],
        ``n_detections``; -999 sentinels become NaN.
    """
    raw = mast_catalog(ra, dec, radius, catalog="Panstarrs", data_release="dr2", table="mean",
                       nDetections=[("gte", int(min_detections))], **kwargs)
    return canonical(raw, id_col="objID", ra_col="raMean", dec_col="decMean",
                     mags={b: f"{b}MeanPSFMag" for b in PS1_BANDS}, errs={b: f"{b}MeanPSFMagErr" for b in PS1_BANDS},
                     extra={**{f"{b}_kron": (f"{b}MeanKronMag", u.mag, "float") for b in PS1_BANDS},
                            "n_detections": ("nDetections", None, "int")},
                     meta={"archive": ARCHIVE, "catalog": "Pan-STARRS1 DR2 mean", "mag_system": "AB"})


def galex(ra, dec, radius=10 * u.arcsec, **kwargs) -> Table:
    """GALEX (GR6/7) sources in a cone: FUV and NUV magnitudes.

    Parameters
    ----------
    ra, dec, radius
        Cone (deg; radius Quantity or arcsec).
    **kwargs
        ``offline``, ``refresh``, ``timeout`` (see :func:`mast_catalog`).

    Returns
    -------
    astropy.table.Table
        ``object_id`` (int64 objid), ``ra``, ``dec`` [deg], ``FUV``, ``NUV``
        [AB mag] and ``FUV_err``, ``NUV_err`` [mag], ``distance`` [arcmin].
    """
    raw = mast_catalog(ra, dec, radius, catalog="Galex", **kwargs)
    return canonical(raw, id_col="objid", ra_col="ra", dec_col="dec",
                     mags={"FUV": "fuv_mag", "NUV": "nuv_mag"}, errs={"FUV": "fuv_magerr", "NUV": "nuv_magerr"},
                     extra={"distance": ("distance_arcmin", u.arcmin, "float")},
                     meta={"archive": ARCHIVE, "catalog": "GALEX", "mag_system": "AB"})

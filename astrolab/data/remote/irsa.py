"""IRSA: AllWISE and unWISE source catalogs through ``astroquery.ipac.irsa`` (TAP, VOTable replies)."""

from __future__ import annotations

import numpy as np
import astropy.units as u
from astropy.table import Table

from astrolab.errors import invalid

from astrolab.data.remote._cache import ArchiveCache
from astrolab.data.remote._core import DEFAULT_TIMEOUT, cached_fetch, pos_label, positions, radius_deg, with_timeout
from astrolab.data.remote._tables import canonical, find_col, to_float

__all__ = ["irsa_catalog", "allwise", "unwise"]

ARCHIVE = "IRSA"
_ALLWISE = "allwise_p3as_psd"
_UNWISE = "unwise_2019"


def irsa_catalog(ra, dec, radius=10 * u.arcsec, *, catalog: str = _ALLWISE, columns: str = "*",
                 offline: bool | None = None, refresh: bool = False, timeout: float = DEFAULT_TIMEOUT) -> Table:
    """Cone search of any IRSA catalog (raw columns, VOTable units), cached.

    Parameters
    ----------
    ra, dec : float or Quantity
        Cone centre [deg, ICRS].
    radius : Quantity or float
        Cone radius (plain numbers are arcsec; at most 1 deg).
    catalog : str
        IRSA TAP table, e.g. ``"allwise_p3as_psd"``, ``"unwise_2019"``.
    columns : str
        Comma-separated column list, or ``"*"``.
    offline : bool, optional
        Serve only from the cache (default: ``ASTROLAB_OFFLINE``).
    refresh : bool
        Fetch again even when cached.
    timeout : float
        Seconds allowed for the archive to answer.

    Returns
    -------
    astropy.table.Table
        As IRSA returns it (units from the VOTable).

    Raises
    ------
    astrolab.errors.ArchiveError
        IRSA did not answer, answered an HTTP error or a truncated/invalid
        VOTable, or offline and not cached.
    """
    r, d = positions(ra, dec, "irsa_catalog")
    if r.size != 1:
        raise invalid("irsa_catalog(ra, dec)", f"{r.size} positions given", "query one cone at a time")
    rad = radius_deg(radius, "irsa_catalog")
    if not isinstance(catalog, str) or not catalog.replace("_", "").replace(".", "").isalnum():
        raise invalid("irsa_catalog(catalog=...)", f"{catalog!r} is not a catalog name", "use e.g. 'allwise_p3as_psd'")
    query = {"ra": round(float(r[0]), 7), "dec": round(float(d[0]), 7), "radius_deg": rad, "catalog": catalog,
             "columns": columns}
    entry = ArchiveCache().entry(ARCHIVE, catalog, query, label=pos_label(r[0], d[0]))

    def fetch():
        from astropy.coordinates import SkyCoord
        from astroquery.ipac.irsa import IrsaClass

        client = IrsaClass()
        with_timeout(client._session, timeout)
        table = client.query_region(SkyCoord(r[0], d[0], unit="deg"), catalog=catalog, spatial="Cone",
                                    radius=rad * u.deg, columns=columns)
        table = Table(table, masked=False) if not table.has_masked_columns else Table(table)
        table.meta = {"archive": ARCHIVE, "catalog": catalog}
        return table

    return cached_fetch(entry, fetch, offline=offline, refresh=refresh)


def allwise(ra, dec, radius=10 * u.arcsec, **kwargs) -> Table:
    """AllWISE sources in a cone: W1-W4 profile-fit magnitudes (Vega).

    Parameters
    ----------
    ra, dec, radius
        Cone (deg; radius Quantity or arcsec).
    **kwargs
        ``offline``, ``refresh``, ``timeout`` (see :func:`irsa_catalog`).

    Returns
    -------
    astropy.table.Table
        ``object_id`` (str designation), ``ra``, ``dec`` [deg], ``W1 W2 W3 W4``
        [mag, Vega], ``W1_err ... W4_err`` [mag], ``cc_flags``, ``ext_flg``;
        NaN where not measured.
    """
    cols = "designation,ra,dec,w1mpro,w1sigmpro,w2mpro,w2sigmpro,w3mpro,w3sigmpro,w4mpro,w4sigmpro,cc_flags,ext_flg"
    raw = irsa_catalog(ra, dec, radius, catalog=_ALLWISE, columns=cols, **kwargs)
    return canonical(raw, id_col="designation", ra_col="ra", dec_col="dec",
                     mags={f"W{k}": f"w{k}mpro" for k in range(1, 5)},
                     errs={f"W{k}": f"w{k}sigmpro" for k in range(1, 5)},
                     extra={"cc_flags": ("cc_flags", None, "str"), "ext_flg": ("ext_flg", None, "int")},
                     meta={"archive": ARCHIVE, "catalog": _ALLWISE, "mag_system": "Vega"})


def unwise(ra, dec, radius=10 * u.arcsec, **kwargs) -> Table:
    """unWISE catalog (Schlafly et al. 2019) sources in a cone: W1/W2 fluxes and Vega magnitudes.

    Parameters
    ----------
    ra, dec, radius
        Cone (deg; radius Quantity or arcsec).
    **kwargs
        ``offline``, ``refresh``, ``timeout`` (see :func:`irsa_catalog`).

    Returns
    -------
    astropy.table.Table
        ``object_id`` (str unwise_objid), ``ra``, ``dec`` [deg], ``flux_W1``,
        ``flux_W2`` and ``flux_W1_err``, ``flux_W2_err`` [nanomaggies, Vega
        zero point 22.5], ``W1``, ``W2`` [mag, Vega] and ``W1_err``,
        ``W2_err`` [mag] (NaN for non-positive flux).
    """
    cols = "unwise_objid,ra,dec,flux_1,dflux_1,flux_2,dflux_2"
    raw = irsa_catalog(ra, dec, radius, catalog=_UNWISE, columns=cols, **kwargs)
    out = canonical(raw, id_col="unwise_objid", ra_col="ra", dec_col="dec", mags={}, errs={},
                    meta={"archive": ARCHIVE, "catalog": _UNWISE, "mag_system": "Vega"})
    for k in (1, 2):
        f = to_float(raw[find_col(raw, f"flux_{k}")]) if find_col(raw, f"flux_{k}") else np.full(len(raw), np.nan)
        df = to_float(raw[find_col(raw, f"dflux_{k}")]) if find_col(raw, f"dflux_{k}") else np.full(len(raw), np.nan)
        df[df < 0] = np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            mag = np.where(f > 0, 22.5 - 2.5 * np.log10(np.where(f > 0, f, 1.0)), np.nan)
            err = np.where(f > 0, 2.5 / np.log(10) * df / np.where(f > 0, f, 1.0), np.nan)
        out[f"flux_W{k}"] = f
        out[f"flux_W{k}"].unit = u.nmgy
        out[f"flux_W{k}_err"] = df
        out[f"flux_W{k}_err"].unit = u.nmgy
        out[f"W{k}"] = mag
        out[f"W{k}"].unit = u.mag
        out[f"W{k}_err"] = err
        out[f"W{k}_err"].unit = u.mag
    return out

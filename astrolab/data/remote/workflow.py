"""Helpers for notebooks: real data when an archive answers, the cache or a simulator when not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from astrolab.errors import ArchiveError, invalid

__all__ = ["Sourced", "fetch_or_fallback", "crossmatch"]


@dataclass
class Sourced:
    """A dataset with where it came from.

    Attributes
    ----------
    data : object
        The Table or container.
    source : str
        ``"archive"`` (fetched or served from the archive cache) or ``"fallback"``.
    label : str
        Human-readable origin (e.g. ``"SDSS DR17 SkyServer"`` or ``"simulated (astrolab.sim.galaxies)"``).
    error : str or None
        The :class:`ArchiveError` message that caused the fallback.
    """

    data: Any
    source: str
    label: str
    error: str | None = None

    def __repr__(self) -> str:
        why = f", because: {self.error[:120]}..." if self.error else ""
        return f"Sourced({self.label}, source={self.source!r}{why})"


def fetch_or_fallback(fetch: Callable[[], Any], fallback: Callable[[], Any], *, archive_label: str,
                      fallback_label: str, verbose: bool = True) -> Sourced:
    """Run ``fetch()``; on :class:`ArchiveError` (offline and not cached, time-out, HTTP error,
    truncated reply) run ``fallback()`` instead.

    Parameters
    ----------
    fetch : callable
        Calls an :mod:`astrolab.data.remote` fetcher (which serves its cache first).
    fallback : callable
        Returns a substitute (a simulator, a bundled dataset).
    archive_label, fallback_label : str
        Names of the two origins, for display.
    verbose : bool
        Print one line saying which origin was used (and why).

    Returns
    -------
    Sourced
        Only :class:`ArchiveError` triggers the fallback; bad arguments
        (``DataValidationError``) still raise.
    """
    if not callable(fetch) or not callable(fallback):
        raise invalid("fetch_or_fallback", "fetch and fallback must be callables", "pass lambda: remote.xxx(...)")
    try:
        out = Sourced(fetch(), "archive", archive_label)
    except ArchiveError as exc:
        out = Sourced(fallback(), "fallback", fallback_label, str(exc))
    if verbose:
        reason = f" (archive unavailable: {out.error.split('. Query:')[0]})" if out.error else ""
        print(f"using {out.label}{reason}")
    return out


def crossmatch(left, right, radius=1.0, *, suffix: str = "_2", ra="ra", dec="dec"):
    """Nearest-neighbour sky cross-match of two catalogs (left join).

    Parameters
    ----------
    left, right : astropy.table.Table
        Catalogs with ``ra``/``dec`` columns [deg].
    radius : float or Quantity
        Match radius (plain numbers are arcsec).
    suffix : str
        Appended to ``right``'s column names that clash with ``left``'s.

    Returns
    -------
    astropy.table.Table
        ``left`` plus ``right``'s columns for the nearest ``right`` source within
        ``radius`` (NaN / empty / -1 when none), and ``sep_arcsec`` (NaN when unmatched).
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    for name, t in (("left", left), ("right", right)):
        if not isinstance(t, Table) or ra not in t.colnames or dec not in t.colnames:
            raise invalid(f"crossmatch({name}=...)", f"needs an astropy Table with {ra!r} and {dec!r} columns",
                          "pass catalogs from astrolab.data.remote")
    rad = radius.to_value(u.arcsec) if isinstance(radius, u.Quantity) else float(radius)
    if not rad > 0:
        raise invalid("crossmatch(radius=...)", f"{radius!r}", "pass a positive radius (arcsec)")
    out = left.copy()
    out["sep_arcsec"] = np.full(len(left), np.nan)
    out["sep_arcsec"].unit = u.arcsec
    if len(left) == 0:
        return out
    hit = np.zeros(len(left), dtype=bool)
    idx = np.zeros(len(left), dtype=int)
    if len(right):
        c1 = SkyCoord(np.asarray(left[ra], float), np.asarray(left[dec], float), unit="deg")
        c2 = SkyCoord(np.asarray(right[ra], float), np.asarray(right[dec], float), unit="deg")
        idx, sep, _ = c1.match_to_catalog_sky(c2)
        hit = sep.arcsec <= rad
        out["sep_arcsec"][hit] = sep.arcsec[hit]
    for col in right.colnames:
        if col in (ra, dec):
            continue
        name = col + suffix if col in out.colnames else col
        src = right[col]
        if src.dtype.kind == "f":
            vals = np.full(len(left), np.nan)
        elif src.dtype.kind in "iu":
            vals = np.full(len(left), -1, dtype=np.int64)
        elif src.dtype.kind == "b":
            vals = np.zeros(len(left), dtype=bool)
        else:
            vals = np.full(len(left), "", dtype=f"<U{max(1, max((len(str(v)) for v in src), default=1))}")
        if len(right):
            vals[hit] = np.asarray(src)[idx[hit]]
        out[name] = vals
        if getattr(src, "unit", None) is not None:
            out[name].unit = src.unit
    return out

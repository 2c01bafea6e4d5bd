"""Turning archive tables into astrolab's canonical catalogs (names, units, NaN for missing)."""

from __future__ import annotations

import numpy as np
import astropy.units as u
from astropy.table import Table

_NULL_STRINGS = {"", "null", "none", "nan", "--", "n/a"}


def to_float(col, sentinels=()) -> np.ndarray:
    """Column -> float64 array (N,), NaN where masked, non-numeric, non-finite or a sentinel."""
    data = np.ma.asarray(getattr(col, "value", col) if isinstance(col, u.Quantity) else col)
    mask = np.ma.getmaskarray(data)
    if data.dtype.kind in "fiub":
        out = np.asarray(data.filled(0) if np.ma.isMaskedArray(data) else data, dtype=np.float64).copy()
    else:
        out = np.full(len(data), np.nan)
        for i, v in enumerate(np.asarray(data, dtype=object)):
            s = v.decode() if isinstance(v, bytes) else str(v)
            if s.strip().lower() in _NULL_STRINGS:
                continue
            try:
                out[i] = float(s)
            except ValueError:
                pass
    out[mask] = np.nan
    out[~np.isfinite(out)] = np.nan
    for s in sentinels:
        out[out == s] = np.nan
    return out


def to_str(col) -> np.ndarray:
    """Column -> str array (N,), '' where masked."""
    data = np.ma.asarray(col)
    vals = [("" if m else (v.decode() if isinstance(v, bytes) else str(v)))
            for v, m in zip(np.asarray(data, dtype=object), np.ma.getmaskarray(data))]
    return np.asarray(vals, dtype=str) if vals else np.zeros(0, dtype="<U1")


def find_col(table: Table, name: str):
    """Column name in ``table`` matching ``name`` case-insensitively, or None."""
    low = {c.lower(): c for c in table.colnames}
    return low.get(name.lower())


def canonical(raw: Table, *, id_col: str, ra_col: str, dec_col: str, mags: dict, errs: dict | None = None,
              mag_unit=u.mag, sentinels=(-999.0, -9999.0, -99.0, 99.0, 999.0), extra: dict | None = None,
              meta: dict | None = None) -> Table:
    """Build a canonical catalog from an archive table.

    Parameters
    ----------
    raw : astropy.table.Table
        As returned by the archive (any column-name case).
    id_col, ra_col, dec_col : str
        Archive column names of the object id and the position (deg).
    mags, errs : dict
        Canonical band name -> archive column of the magnitude / its error.
    mag_unit : astropy unit
        Unit given to magnitude and error columns (``u.mag``; ``u.nmgy`` for fluxes).
    extra : dict, optional
        Canonical name -> (archive column, unit or None, "float"|"str"|"int").
    meta : dict, optional
        Stored in ``table.meta`` (archive, query, release).

    Returns
    -------
    astropy.table.Table
        ``object_id`` (int64 or str), ``ra``, ``dec`` [deg], one column per band
        [``mag_unit``], ``<band>_err``, then ``extra``; missing values are NaN.
    """
    out = Table()
    n = len(raw)
    name = find_col(raw, id_col)
    if name is None:
        raise KeyError(f"column {id_col!r} missing from the archive table (columns: {raw.colnames[:20]})")
    ids = np.ma.asarray(raw[name])
    if ids.dtype.kind in "iu":
        out["object_id"] = np.asarray(ids.filled(-1) if np.ma.isMaskedArray(ids) else ids).astype(np.int64)
    else:
        out["object_id"] = to_str(raw[name])
    for canon, col in (("ra", ra_col), ("dec", dec_col)):
        cname = find_col(raw, col)
        if cname is None:
            raise KeyError(f"column {col!r} missing from the archive table (columns: {raw.colnames[:20]})")
        out[canon] = to_float(raw[cname]) * u.deg
        out[canon] = out[canon]  # Quantity column in a Table becomes a Column with unit
    for kind, mapping in (("mag", mags), ("err", errs or {})):
        for band, col in mapping.items():
            cname = find_col(raw, col)
            key = band if kind == "mag" else f"{band}_err"
            values = to_float(raw[cname], sentinels) if cname is not None else np.full(n, np.nan)
            if kind == "err":
                values[values < 0] = np.nan
            out[key] = values
            out[key].unit = mag_unit
    for canon, (col, unit, kind) in (extra or {}).items():
        cname = find_col(raw, col)
        if kind == "str":
            out[canon] = to_str(raw[cname]) if cname is not None else np.full(n, "", dtype="<U1")
        elif kind == "int":
            out[canon] = (np.nan_to_num(to_float(raw[cname]), nan=-1).astype(np.int64) if cname is not None
                          else np.full(n, -1, dtype=np.int64))
        else:
            out[canon] = to_float(raw[cname]) if cname is not None else np.full(n, np.nan)
            if unit is not None:
                out[canon].unit = unit
    for c in ("ra", "dec"):
        out[c] = np.asarray(out[c], dtype=np.float64)
        out[c].unit = u.deg
    out.meta.update(meta or {})
    return out

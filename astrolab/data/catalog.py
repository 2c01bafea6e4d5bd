"""Validation helpers for astropy catalogs (one row per object).

- :func:`validate_catalog` -- required columns, non-empty, unique ids;
- :func:`require_units` -- attach or convert column units;
- :func:`magnitude_columns` -- (N, B) magnitudes and errors for a list of bands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import astropy.units as u
import numpy as np
from astropy.table import Column, MaskedColumn, Table

from astrolab.errors import invalid

__all__ = ["validate_catalog", "require_units", "magnitude_columns"]

#: Column-name patterns tried (in order) by :func:`magnitude_columns`.
MAG_PATTERNS = ("{band}", "mag_{band}", "{band}_mag", "{band}mag", "MAG_{band}")
ERR_PATTERNS = (
    "{band}_err",
    "magerr_{band}",
    "{band}_magerr",
    "{band}_mag_err",
    "err_{band}",
    "e_{band}",
    "{band}err",
    "MAGERR_{band}",
)


def _available(table: Table, limit: int = 30) -> str:
    names = list(table.colnames)
    text = ", ".join(names[:limit])
    if len(names) > limit:
        text += f", ... ({len(names)} in all)"
    return f"[{text}]"


def validate_catalog(table, required: Sequence[str] = (), name: str = "catalog", id_col: str | None = "object_id") -> Table:
    """Check a catalog and return it as an astropy Table.

    Parameters
    ----------
    table : astropy.table.Table or pandas.DataFrame
        The catalog, one row per object. A DataFrame is converted with
        ``Table.from_pandas`` (a named index becomes a column).
    required : sequence of str
        Columns that must be present (``id_col`` is always required when given).
    name : str
        Name used in error messages (e.g. ``"MultimodalSet.catalog"``).
    id_col : str or None
        Column of unique object ids; ``None`` skips the id checks.

    Returns
    -------
    astropy.table.Table
        The same Table (not copied) when ``table`` already is one.

    Raises
    ------
    DataValidationError
        Not a table, missing columns (the message lists them and the
        available ones), no rows, missing or duplicate ids.
    """
    if not isinstance(table, Table):
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas is a dependency
            pd = None
        if pd is not None and isinstance(table, pd.DataFrame):
            df = table
            if df.index.name is not None and df.index.name not in df.columns:
                df = df.reset_index()
            try:
                table = Table.from_pandas(df)
            except Exception as exc:
                raise invalid(name, f"cannot convert the DataFrame to an astropy Table ({exc})", "use columns of plain numeric or str dtype") from None
        else:
            raise invalid(name, f"expected an astropy Table or a pandas DataFrame, got {type(table).__name__}", "wrap the data with astropy.table.Table(...)")
    if isinstance(required, str):
        required = [required]
    need = list(required)
    if id_col is not None and id_col not in need:
        need.insert(0, id_col)
    missing = [c for c in need if c not in table.colnames]
    if missing:
        raise invalid(name, f"missing column(s) {missing}; available columns are {_available(table)}", "add or rename those columns")
    if len(table) == 0:
        raise invalid(name, "the table has no rows", "pass a catalog with at least one object")
    if id_col is not None:
        col = table[id_col]
        if getattr(col, "ndim", 1) != 1:
            raise invalid(f"{name}[{id_col!r}]", f"must be 1-D, got shape {col.shape}", "use one id per row")
        if np.any(np.ma.getmaskarray(col)):
            raise invalid(f"{name}[{id_col!r}]", f"{int(np.sum(np.ma.getmaskarray(col)))} missing (masked) id(s)", "give every row an id")
        ids = np.asarray(col)
        if ids.dtype.kind == "f" and not np.all(np.isfinite(ids)):
            raise invalid(f"{name}[{id_col!r}]", "contains NaN ids", "give every row a finite id")
        uniq, counts = np.unique(ids, return_counts=True)
        if np.any(counts > 1):
            dups = uniq[counts > 1]
            shown = ", ".join(repr(d.item() if isinstance(d, np.generic) else d) for d in dups[:5])
            raise invalid(f"{name}[{id_col!r}]", f"{dups.size} duplicate id(s), e.g. [{shown}]", "make object ids unique (drop or merge duplicate rows)")
    return table


def _unit(unit, obj):
    if isinstance(unit, u.UnitBase):
        return unit
    try:
        return u.Unit(unit)
    except (ValueError, TypeError) as exc:
        raise invalid(obj, f"cannot parse unit {unit!r} ({exc})", "pass an astropy unit or a valid unit string") from None


def require_units(table: Table, units: Mapping[str, object], equivalencies=None) -> Table:
    """Make sure columns carry the given units, in place.

    A column without a unit gets the unit (values unchanged); a column in a
    compatible unit is converted (e.g. nm -> Angstrom); an incompatible unit
    raises.

    Parameters
    ----------
    table : astropy.table.Table or QTable
        Modified in place.
    units : mapping of str to unit or str
        Column name -> required unit (e.g. ``{"ra": "deg", "wave": u.AA}``).
    equivalencies : list, optional
        Astropy equivalencies for the conversion (e.g. ``u.spectral()``).

    Returns
    -------
    astropy.table.Table
        ``table`` itself.

    Raises
    ------
    DataValidationError
        Missing column or incompatible unit (the message names the column).
    """
    if not isinstance(table, Table):
        raise invalid("require_units", f"expected an astropy Table, got {type(table).__name__}", "convert with validate_catalog() first")
    missing = [c for c in units if c not in table.colnames]
    if missing:
        raise invalid("require_units", f"missing column(s) {missing}; available columns are {_available(table)}", "add or rename those columns")
    for colname, unit in units.items():
        obj = f"table[{colname!r}]"
        target = _unit(unit, obj)
        col = table[colname]
        have = getattr(col, "unit", None)
        if have is None or have == u.dimensionless_unscaled and not target.is_equivalent(u.dimensionless_unscaled):
            if isinstance(col, u.Quantity):
                table[colname] = col.value * target
            else:
                col.unit = target
            continue
        if have == target:
            continue
        try:
            values = u.Quantity(np.asarray(col), have).to_value(target, equivalencies=equivalencies or [])
        except u.UnitsError:
            raise invalid(obj, f"unit {have} cannot be converted to {target}", f"store the column in {target} (or a compatible unit)") from None
        if isinstance(col, u.Quantity):
            table[colname] = values * target
        elif isinstance(col, MaskedColumn):
            table[colname] = MaskedColumn(values, mask=col.mask, unit=target, name=colname, description=col.description, meta=col.meta)
        else:
            table[colname] = Column(values, unit=target, name=colname, description=col.description, meta=col.meta)
    return table


def _find(table: Table, band: str, patterns, given):
    if given is not None:
        name = given.format(band=band)
        return name if name in table.colnames else None
    for pattern in patterns:
        name = pattern.format(band=band)
        if name in table.colnames:
            return name
    return None


def _is_mag_unit(unit) -> bool:
    return unit is None or unit == u.mag or unit == u.dimensionless_unscaled or isinstance(unit, u.MagUnit)


def magnitude_columns(
    table: Table,
    bands: Sequence[str],
    mag_col: str | None = None,
    err_col: str | None = None,
    missing_values: Sequence[float] = (-99.0, 99.0, -999.0, 999.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Gather magnitudes and their errors for a list of bands.

    Parameters
    ----------
    table : astropy.table.Table or pandas.DataFrame
        Catalog with one magnitude column per band.
    bands : sequence of str, length B
        Band names, e.g. ``["g", "r", "i", "z", "y"]``.
    mag_col, err_col : str, optional
        Column-name patterns with ``{band}`` (e.g. ``"mag_{band}"``,
        ``"magerr_{band}"``). Default: try :data:`MAG_PATTERNS` and
        :data:`ERR_PATTERNS` in order (``"g"``, ``"mag_g"``, ``"g_mag"``...;
        ``"g_err"``, ``"magerr_g"``...).
    missing_values : sequence of float
        Sentinel values meaning "no measurement" (set to NaN).

    Returns
    -------
    mags : numpy.ndarray, shape (N, B), float64, AB magnitudes as stored
    errors : numpy.ndarray, shape (N, B), float64
        NaN where a value is masked, non-finite, a sentinel, or where the band
        has no error column.

    Raises
    ------
    DataValidationError
        A band has no magnitude column (the message names it and lists the
        available columns), or a column has a non-magnitude unit.
    """
    table = validate_catalog(table, name="magnitude_columns.table", id_col=None) if not isinstance(table, Table) else table
    if isinstance(bands, str):
        bands = [bands]
    bands = [str(b) for b in bands]
    if not bands:
        raise invalid("magnitude_columns.bands", "no band given", "pass band names, e.g. ['g', 'r', 'i']")
    missing = [b for b in bands if _find(table, b, MAG_PATTERNS, mag_col) is None]
    if missing:
        tried = mag_col or " / ".join(MAG_PATTERNS)
        raise invalid(
            "magnitude_columns",
            f"no magnitude column for band(s) {missing} (tried {tried}); available columns are {_available(table)}",
            "rename the columns or pass mag_col='<pattern with {band}>'",
        )
    n = len(table)
    mags = np.full((n, len(bands)), np.nan)
    errs = np.full((n, len(bands)), np.nan)
    sentinels = np.asarray(list(missing_values), dtype=np.float64)

    def values(name):
        col = table[name]
        unit = getattr(col, "unit", None)
        if not _is_mag_unit(unit):
            raise invalid(f"magnitude_columns[{name!r}]", f"unit {unit} is not a magnitude", "convert fluxes to AB magnitudes first")
        try:
            arr = np.ma.filled(np.ma.asarray(getattr(col, "value", col) if isinstance(col, u.Quantity) else col, dtype=np.float64), np.nan)
        except (TypeError, ValueError):
            raise invalid(f"magnitude_columns[{name!r}]", f"not numeric (dtype {col.dtype})", "store magnitudes as numbers") from None
        arr = np.array(arr, dtype=np.float64).reshape(n)
        arr[~np.isfinite(arr) | np.isin(arr, sentinels)] = np.nan
        return arr

    for k, band in enumerate(bands):
        mags[:, k] = values(_find(table, band, MAG_PATTERNS, mag_col))
        ename = _find(table, band, ERR_PATTERNS, err_col)
        if ename is not None:
            e = values(ename)
            e[e < 0] = np.nan
            errs[:, k] = e
    errs[np.isnan(mags)] = np.nan
    return mags, errs

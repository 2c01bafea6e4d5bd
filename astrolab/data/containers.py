"""Canonical data containers: images, spectra, light curves and their union.

Every loader and simulator of astrolab produces one of these containers:

- :class:`ImageSet` -- multi-band image cutouts, shape (N, B, H, W);
- :class:`SpectrumSet` -- 1-D spectra on a shared (L,) or per-object (N, L) grid;
- :class:`LightCurveSet` -- ragged multi-band time series;
- :class:`MultimodalSet` -- an astropy catalog tying the three together.

Common behaviour
----------------
``ids``
    1-D numpy array (N,) of unique object ids, int64 or str (default ``np.arange(N)``).
``len(c)``, ``c[key]``
    ``key`` may be an int (gives a length-1 container of the same type), a
    slice, an integer index array or a boolean mask (N,).
``c.select_ids(ids)``
    Container restricted to ``ids``, in that order.
``c.save(path)`` / ``Cls.load(path)``
    One HDF5 file, written atomically; the root attributes ``astrolab_kind`` and
    ``astrolab_format_version`` identify it. :func:`load_container` reads any kind.
``c.to_torch_dataset()``
    A ``torch.utils.data.Dataset`` whose items are dicts of float32 tensors plus
    ``"index"`` (int64 position in the container).

Masks follow one rule across containers: ``mask`` True means *bad* pixel. The
only exception is the padding mask returned by :meth:`LightCurveSet.to_padded`,
where True means *valid* (a real observation), as attention layers expect.

Bad input raises :class:`astrolab.errors.DataValidationError` whose message
names the object and attribute (``"ImageSet.images"``) and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import astropy.units as u
import h5py
import numpy as np
from astropy.table import Table

from astrolab.errors import AstrolabError, DataValidationError, invalid
from astrolab.utils import atomic_path

__all__ = [
    "ImageSet",
    "SpectrumSet",
    "LightCurveSet",
    "MultimodalSet",
    "load_container",
    "FORMAT_VERSION",
]

#: Version of the HDF5 layout written by ``save``; ``load`` refuses newer files.
FORMAT_VERSION = 1

_KIND_ATTR = "astrolab_kind"
_VERSION_ATTR = "astrolab_format_version"
_STR = h5py.string_dtype(encoding="utf-8")
_GZIP = dict(compression="gzip", compression_opts=1, shuffle=True)  # light: fast to write


# --------------------------------------------------------------------------- helpers


def _fmt_list(values, limit: int = 8) -> str:
    values = list(values)
    shown = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in values[:limit])
    if len(values) > limit:
        shown += f", ... ({len(values)} in all)"
    return f"[{shown}]"


def _as_ids(ids, n: int, obj: str) -> np.ndarray:
    """Validate object ids: (n,) int64 or str, unique. ``None`` -> ``arange(n)``."""
    if ids is None:
        return np.arange(n, dtype=np.int64)
    if isinstance(ids, (str, bytes)) or np.ndim(ids) == 0:
        raise invalid(obj, f"expected a 1-D sequence of {n} ids, got the scalar {ids!r}", "pass one id per object")
    if hasattr(ids, "mask") and np.any(np.ma.getmaskarray(ids)):
        raise invalid(obj, "some ids are masked (missing)", "give every object an id")
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise invalid(obj, f"expected a 1-D array of ids, got shape {arr.shape}", "pass a flat sequence of ids")
    if arr.shape[0] != n:
        raise invalid(obj, f"expected {n} ids (one per object), got {arr.shape[0]}", "pass one id per object")
    if arr.dtype.kind in "iu":
        if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise invalid(obj, "ids do not fit in int64", "use string ids")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "S":
        arr = np.char.decode(arr, "utf-8").astype(str)
    elif arr.dtype.kind == "U":
        arr = arr.astype(str)
    elif arr.dtype.kind == "O" and all(isinstance(v, str) for v in arr):
        arr = arr.astype(str)
    elif arr.dtype.kind == "O" and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr):
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    elif arr.size == 0:
        arr = arr.astype(np.int64)
    else:
        raise invalid(obj, f"ids must be integers or strings, got dtype {arr.dtype}", "pass int or str ids")
    uniq, counts = np.unique(arr, return_counts=True)
    if np.any(counts > 1):
        dup = uniq[counts > 1]
        raise invalid(obj, f"{dup.size} duplicate id(s), e.g. {_fmt_list(dup, 5)}", "make object ids unique")
    return arr


def _normalise_key(key, n: int, obj: str) -> np.ndarray:
    """Turn an int, slice, integer array or boolean mask into an int64 index array."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        k = int(key)
        if not -n <= k < n:
            raise IndexError(f"{obj}: index {k} out of range for {n} objects")
        return np.array([k % n], dtype=np.int64)
    if isinstance(key, slice):
        return np.arange(n, dtype=np.int64)[key]
    arr = np.asarray(key)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise invalid(obj, f"boolean mask has shape {arr.shape}, expected ({n},)", "pass one boolean per object")
        return np.flatnonzero(arr).astype(np.int64)
    if arr.dtype.kind in "iu" or arr.size == 0:
        arr = arr.astype(np.int64).ravel() if arr.ndim <= 1 else None
        if arr is None:
            raise invalid(obj, "index arrays must be 1-D", "pass a flat integer array")
        if arr.size and (arr.min() < -n or arr.max() >= n):
            raise IndexError(f"{obj}: index out of range for {n} objects")
        return arr % n if n else arr
    raise invalid(
        obj,
        f"cannot index with {type(key).__name__} of dtype {getattr(arr, 'dtype', None)}",
        "use an int, a slice, an integer array, a boolean mask, or select_ids() for ids",
    )


def _float_array(x, obj: str, dtype=None) -> np.ndarray:
    """Convert to a floating numpy array (keeps float32/float64, ints -> float64)."""
    if isinstance(x, u.Quantity):
        x = x.value
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists etc.
        raise invalid(obj, f"could not convert to an array ({exc})", "pass a rectangular numeric array") from None
    if arr.dtype.kind not in "fiub":
        raise invalid(obj, f"expected numbers, got dtype {arr.dtype}", "pass a numeric array")
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


def _to_unit(x, unit: u.UnitBase, obj: str, alt_units: Sequence[u.UnitBase] = ()) -> np.ndarray:
    """Return plain float values of ``x`` in ``unit`` (plain numbers are taken as ``unit``)."""
    if isinstance(x, u.Quantity):
        for target in (unit, *alt_units):
            try:
                return np.asarray(x.to_value(target), dtype=np.float64)
            except u.UnitsError:
                continue
        raise invalid(
            obj,
            f"unit {x.unit} cannot be converted to {unit}",
            f"pass a Quantity in {unit} (or a compatible unit), or plain numbers in {unit}",
        )
    return _float_array(x, obj, dtype=np.float64)


def _parse_unit(unit, obj: str):
    if unit is None or isinstance(unit, u.UnitBase):
        return unit
    try:
        return u.Unit(unit)
    except (ValueError, TypeError) as exc:
        raise invalid(obj, f"cannot parse unit {unit!r} ({exc})", "pass an astropy unit or a valid unit string") from None


def _check_mask(mask, shape, obj: str) -> np.ndarray:
    if mask is None:
        return np.zeros(shape, dtype=bool)
    arr = np.asarray(mask)
    if arr.shape != tuple(shape):
        raise invalid(obj, f"shape {arr.shape} differs from the data shape {tuple(shape)}", "pass a mask of the same shape")
    if arr.dtype != bool:
        if arr.dtype.kind in "iuf" and np.all(np.isin(arr, (0, 1))):
            arr = arr.astype(bool)
        else:
            raise invalid(obj, f"expected booleans (True = bad), got dtype {arr.dtype}", "pass a boolean array")
    return arr


def _check_ivar(ivar, shape, obj: str) -> np.ndarray | None:
    if ivar is None:
        return None
    arr = _float_array(ivar, obj)
    if arr.shape != tuple(shape):
        raise invalid(obj, f"shape {arr.shape} differs from the data shape {tuple(shape)}", "pass ivar of the same shape")
    if not np.all(np.isfinite(arr)):
        raise invalid(obj, f"{int(np.sum(~np.isfinite(arr)))} non-finite value(s)", "set ivar = 0 where unknown")
    if np.any(arr < 0):
        raise invalid(
            obj, f"{int(np.sum(arr < 0))} negative value(s) (min {arr.min():.3g})", "ivar is 1/sigma^2 >= 0; use 0 for bad pixels"
        )
    return arr


def _check_finite(data, mask, obj: str) -> None:
    bad = ~np.isfinite(data) & ~mask
    if np.any(bad):
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise invalid(
            obj,
            f"{int(bad.sum())} non-finite value(s) not masked (first at index {first})",
            f"mask them, e.g. mask=~np.isfinite({obj.split('.')[-1]})",
        )


def _write_ids(group: h5py.Group, ids: np.ndarray) -> None:
    if ids.dtype.kind == "U":
        group.create_dataset("ids", data=ids.astype(object), dtype=_STR)
    else:
        group.create_dataset("ids", data=ids)


def _read_ids(group: h5py.Group) -> np.ndarray:
    ds = group["ids"]
    if h5py.check_string_dtype(ds.dtype) is not None:
        return np.array(ds.asstr()[()], dtype=str)
    return np.asarray(ds[()])


def _write_str_array(group: h5py.Group, name: str, values: np.ndarray) -> None:
    group.create_dataset(name, data=np.asarray(values, dtype=str).astype(object), dtype=_STR)


def _read_str_array(group: h5py.Group, name: str) -> np.ndarray:
    return np.array(group[name].asstr()[()], dtype=str).reshape(group[name].shape)


def _opt(group: h5py.Group, name: str):
    return np.asarray(group[name][()]) if name in group else None


def _torch_dataset(container, make_item):
    """Build the picklable torch Dataset wrapper (torch imported here, lazily)."""
    cls = globals().get("_ContainerDataset") or __getattr__("_ContainerDataset")
    return cls(container, make_item)


def __getattr__(name: str):
    # PEP 562: the torch Dataset class is created on first use so that importing
    # this module does not import torch, yet stays picklable (DataLoader workers).
    if name == "_ContainerDataset":
        from torch.utils.data import Dataset

        class _ContainerDataset(Dataset):
            """Torch view of an astrolab container; items are dicts of tensors."""

            def __init__(self, container, make_item):
                self.container = container
                self.make_item = make_item

            def __len__(self):
                return len(self.container)

            def __getitem__(self, i):
                import torch

                n = len(self.container)
                if not -n <= int(i) < n:
                    raise IndexError(f"index {i} out of range for {n} objects")
                i = int(i) % n
                item = _to_tensors(self.make_item(self.container, i))
                item["index"] = torch.tensor(i, dtype=torch.int64)
                return item

            def __repr__(self):
                return f"<torch Dataset over {self.container!r}>"

        _ContainerDataset.__module__ = __name__
        _ContainerDataset.__qualname__ = "_ContainerDataset"
        globals()["_ContainerDataset"] = _ContainerDataset
        return _ContainerDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _to_tensors(item: dict) -> dict:
    import torch

    out = {}
    for key, value in item.items():
        if isinstance(value, dict):
            out[key] = _to_tensors(value)
        else:
            arr = np.asarray(value)
            if arr.dtype.kind in "iu":
                out[key] = torch.from_numpy(np.array(arr, dtype=np.int64))
            else:
                out[key] = torch.from_numpy(np.array(arr, dtype=np.float32))
    return out


# ------------------------------------------------------------------------ base class


class _Container:
    """Behaviour shared by every container (indexing, ids, HDF5 persistence)."""

    _kind = "Container"
    ids: np.ndarray

    def __len__(self) -> int:
        """Number of objects N."""
        return int(self.ids.shape[0])

    def __getitem__(self, key):
        """Sub-container of the same type.

        Parameters
        ----------
        key : int, slice, integer array (K,) or boolean mask (N,)
            Positions to keep. An int gives a length-1 container.
        """
        return self._take(_normalise_key(key, len(self), f"{self._kind}[...]"))

    def _take(self, idx: np.ndarray):  # pragma: no cover - abstract
        raise NotImplementedError

    def index_of(self, ids) -> np.ndarray:
        """Positions (int64, shape (K,)) of the given object ids.

        Parameters
        ----------
        ids : sequence of int or str, shape (K,)
            Object ids, all present in ``self.ids``.

        Raises
        ------
        DataValidationError
            If some ids are unknown (the message lists them).
        """
        obj = f"{self._kind}.select_ids"
        if isinstance(ids, (str, bytes)) or np.ndim(ids) == 0:
            ids = [ids]
        want = np.asarray(ids)
        if want.dtype.kind == "S":
            want = np.char.decode(want, "utf-8")
        if want.size == 0:
            return np.zeros(0, dtype=np.int64)
        have = self.ids
        if (want.dtype.kind in "iu") != (have.dtype.kind in "iu"):
            raise invalid(
                obj,
                f"ids of dtype {want.dtype} cannot match this container's ids of dtype {have.dtype}",
                "pass ids of the same type as .ids",
            )
        order = np.argsort(have, kind="stable")
        sorted_have = have[order]
        pos = np.searchsorted(sorted_have, want)
        pos_c = np.clip(pos, 0, max(len(have) - 1, 0))
        found = (pos < len(have)) & (sorted_have[pos_c] == want) if len(have) else np.zeros(want.shape, bool)
        if not np.all(found):
            raise invalid(
                obj,
                f"{int((~found).sum())} unknown id(s): {_fmt_list(want[~found], 8)}",
                "pass ids present in .ids",
            )
        return order[pos_c].astype(np.int64)

    def select_ids(self, ids):
        """Container restricted to ``ids``, in the given order.

        Parameters
        ----------
        ids : sequence of int or str, shape (K,)
            Object ids; each must be in ``self.ids``.

        Returns
        -------
        same type as ``self``, with K objects.
        """
        return self._take(self.index_of(ids))

    # -- persistence ---------------------------------------------------------------

    def _write(self, group: h5py.Group) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def _read(cls, group: h5py.Group):  # pragma: no cover - abstract
        raise NotImplementedError

    def save(self, path: str | os.PathLike) -> Path:
        """Write the container to one HDF5 file, atomically.

        Parameters
        ----------
        path : path-like
            Destination (``.h5``). Parent folders are created; on failure no file
            is left behind and an existing file is untouched.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        path = Path(path)
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as f:
                _write_header(f, self._kind)
                self._write(f)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike):
        """Read a container written by :meth:`save`.

        Parameters
        ----------
        path : path-like
            HDF5 file written by ``save`` of this class.

        Raises
        ------
        DataValidationError
            If the file is missing, truncated, corrupt, of another container
            kind, or from a newer astrolab format.
        """
        with _open_for_read(path, f"{cls.__name__}.load") as f:
            _check_header(f, cls._kind, path, f"{cls.__name__}.load")
            return _read_guarded(cls, f, path)


def _write_header(group: h5py.Group, kind: str) -> None:
    from astrolab import __version__

    group.attrs[_KIND_ATTR] = kind
    group.attrs[_VERSION_ATTR] = FORMAT_VERSION
    group.attrs["astrolab_version"] = __version__


class _open_for_read:
    """Context manager opening an HDF5 file with astrolab-style errors."""

    def __init__(self, path, obj):
        self.path = Path(path)
        self.obj = obj
        self.file = None

    def __enter__(self) -> h5py.File:
        if not self.path.exists():
            raise invalid(f"{self.obj}('{self.path}')", "file not found", "check the path, or create it with .save()")
        if self.path.is_dir():
            raise invalid(f"{self.obj}('{self.path}')", "is a folder, not a file", "pass the path of an .h5 file")
        try:
            self.file = h5py.File(self.path, "r")
        except OSError as exc:
            raise invalid(
                f"{self.obj}('{self.path}')",
                f"not a readable HDF5 file, it is truncated or corrupt ({exc})",
                "re-create it with .save() (or re-download it)",
            ) from None
        return self.file

    def __exit__(self, *exc):
        if self.file is not None:
            try:
                self.file.close()
            except Exception:  # pragma: no cover - closing a broken file
                pass
        return False


def _attr_str(group, name):
    value = group.attrs.get(name)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value


def _check_header(group, kind, path, obj):
    where = f"{obj}('{path}')"
    try:
        found = _attr_str(group, _KIND_ATTR)
        version = group.attrs.get(_VERSION_ATTR)
    except Exception as exc:
        raise invalid(where, f"cannot read the file header ({exc}); it is corrupt", "re-create it with .save()") from None
    if found is None:
        raise invalid(where, "not an astrolab container file (no astrolab_kind attribute)", "load a file written by .save()")
    if kind is not None and found != kind:
        raise invalid(where, f"holds a {found}, not a {kind}", f"use {found}.load() or astrolab.data.load_container()")
    if version is None or int(version) > FORMAT_VERSION:
        raise invalid(
            where,
            f"format version {version} is not supported (this astrolab reads <= {FORMAT_VERSION})",
            "upgrade astrolab, or re-create the file with this version",
        )
    return found


def _read_guarded(cls, group, path):
    try:
        return cls._read(group)
    except DataValidationError as exc:
        raise invalid(
            f"{cls.__name__}.load('{path}')", f"content failed validation ({exc})", "re-create the file with .save()"
        ) from None
    except AstrolabError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
        raise invalid(
            f"{cls.__name__}.load('{path}')",
            f"cannot read the content, the file is truncated or corrupt ({type(exc).__name__}: {exc})",
            "re-create it with .save() (or re-download it)",
        ) from None


def load_container(path: str | os.PathLike):
    """Load any astrolab container file, dispatching on its ``astrolab_kind``.

    Parameters
    ----------
    path : path-like
        File written by ``ImageSet.save``, ``SpectrumSet.save``,
        ``LightCurveSet.save`` or ``MultimodalSet.save``.

    Returns
    -------
    ImageSet or SpectrumSet or LightCurveSet or MultimodalSet
    """
    with _open_for_read(path, "load_container") as f:
        kind = _check_header(f, None, path, "load_container")
        if kind not in _KINDS:
            raise invalid(f"load_container('{path}')", f"unknown container kind {kind!r}", "upgrade astrolab")
        return _read_guarded(_KINDS[kind], f, path)


# --------------------------------------------------------------------------- ImageSet


class ImageSet(_Container):
    """Multi-band image cutouts of N objects.

    Parameters
    ----------
    images : array_like, shape (N, B, H, W)
        Pixel values (float; integer input is converted to float64). Units are
        the survey's (e.g. nanomaggies); they are not converted (the unit of a
        Quantity is dropped).
    bands : sequence of str, length B
        Unique band names, in the order of axis 1 (e.g. ``["g", "r", "z"]``).
    pixel_scale : float or Quantity
        Pixel scale in arcsec/pixel (> 0). Quantities in angle or angle/pixel
        units are converted.
    psf_fwhm : float, array_like (B,) or Quantity, optional
        PSF full width at half maximum per band, in arcsec (> 0). A scalar is
        broadcast to every band. ``None``: unknown.
    ivar : array_like, shape (N, B, H, W), optional
        Inverse variance per pixel (>= 0, finite; 0 = no information).
    mask : array_like of bool, shape (N, B, H, W), optional
        True marks a bad pixel. Non-finite pixels must be masked.
    ids : array_like (N,), optional
        Unique object ids (int or str); default ``arange(N)``.
    survey : str, optional
        Name of the survey/instrument (free text).

    Attributes
    ----------
    images : numpy.ndarray (N, B, H, W)
    bands : list of str (B,)
    pixel_scale : float, arcsec/pixel
    psf_fwhm : numpy.ndarray (B,) in arcsec, or None
    ivar : numpy.ndarray (N, B, H, W) or None
    mask : numpy.ndarray of bool (N, B, H, W)
    ids : numpy.ndarray (N,)
    survey : str or None

    Raises
    ------
    DataValidationError
        On wrong shapes, band count mismatch, duplicate bands or ids,
        unmasked non-finite pixels, negative ivar, bad units.
    """

    _kind = "ImageSet"

    def __init__(self, images, bands, pixel_scale, psf_fwhm=None, ivar=None, mask=None, ids=None, survey=None):
        images = _float_array(images, "ImageSet.images")
        if images.ndim != 4:
            raise invalid(
                "ImageSet.images",
                f"expected 4 dimensions (N, B, H, W), got shape {images.shape}",
                "add the missing axes, e.g. images[:, None] for a single band",
            )
        n, b, h, w = images.shape
        if isinstance(bands, str):
            bands = [bands]
        bands = [str(x) for x in bands]
        if len(bands) != b:
            raise invalid("ImageSet.bands", f"{len(bands)} band name(s) {bands} for {b} band plane(s) in images", "pass one name per image band (axis 1)")
        if len(set(bands)) != len(bands):
            raise invalid("ImageSet.bands", f"duplicate band names in {bands}", "give each band a unique name")
        scale = _to_unit(pixel_scale, u.arcsec, "ImageSet.pixel_scale", alt_units=(u.arcsec / u.pixel,))
        if scale.ndim != 0 or not np.isfinite(scale) or scale <= 0:
            raise invalid("ImageSet.pixel_scale", f"expected one finite value > 0 (arcsec/pixel), got {pixel_scale!r}", "pass e.g. 0.262 or 0.262*u.arcsec")
        if psf_fwhm is not None:
            psf = _to_unit(psf_fwhm, u.arcsec, "ImageSet.psf_fwhm")
            if psf.ndim == 0:
                psf = np.full(b, float(psf))
            if psf.shape != (b,):
                raise invalid("ImageSet.psf_fwhm", f"expected shape ({b},) (one per band), got {psf.shape}", "pass a scalar or one FWHM per band in arcsec")
            if not np.all(np.isfinite(psf)) or np.any(psf <= 0):
                raise invalid("ImageSet.psf_fwhm", f"values must be finite and > 0 arcsec, got {psf.tolist()}", "pass positive FWHMs in arcsec, or None if unknown")
            psf_fwhm = psf
        mask = _check_mask(mask, images.shape, "ImageSet.mask")
        ivar = _check_ivar(ivar, images.shape, "ImageSet.ivar")
        _check_finite(images, mask, "ImageSet.images")
        self.images = images
        self._bands = bands
        self.pixel_scale = float(scale)
        self.psf_fwhm = psf_fwhm
        self.ivar = ivar
        self.mask = mask
        self.ids = _as_ids(ids, n, "ImageSet.ids")
        self.survey = None if survey is None else str(survey)

    @property
    def bands(self) -> list[str]:
        """Band names (list of B str, the order of axis 1)."""
        return list(self._bands)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(N, B, H, W)``."""
        return tuple(self.images.shape)

    def band_index(self, name: str) -> int:
        """Position of band ``name`` on axis 1.

        Parameters
        ----------
        name : str
            Band name.

        Returns
        -------
        int

        Raises
        ------
        DataValidationError
            If the band is absent (the message lists the available bands).
        """
        try:
            return self._bands.index(str(name))
        except ValueError:
            raise invalid("ImageSet.bands", f"no band {name!r}; available bands are {self._bands}", "pick one of the available bands") from None

    def with_bands(self, bands: Sequence[str]) -> "ImageSet":
        """ImageSet restricted to (and reordered as) ``bands``.

        Parameters
        ----------
        bands : sequence of str, length B'
            Band names, each present in :attr:`bands`.

        Returns
        -------
        ImageSet with images of shape (N, B', H, W).
        """
        if isinstance(bands, str):
            bands = [bands]
        missing = [b for b in bands if str(b) not in self._bands]
        if missing:
            raise invalid("ImageSet.with_bands", f"unknown band(s) {missing}; available bands are {self._bands}", "pick bands among the available ones")
        idx = [self._bands.index(str(b)) for b in bands]
        return self._new(
            self.images[:, idx],
            [self._bands[i] for i in idx],
            None if self.psf_fwhm is None else self.psf_fwhm[idx],
            None if self.ivar is None else self.ivar[:, idx],
            self.mask[:, idx],
            self.ids,
        )

    def _new(self, images, bands, psf, ivar, mask, ids):
        out = object.__new__(ImageSet)
        out.images, out._bands, out.pixel_scale, out.psf_fwhm = images, list(bands), self.pixel_scale, psf
        out.ivar, out.mask, out.ids, out.survey = ivar, mask, ids, self.survey
        if len(set(ids.tolist())) != len(ids):
            _as_ids(ids, len(ids), "ImageSet.ids")  # raises the duplicate-id error
        return out

    def _take(self, idx):
        return self._new(
            self.images[idx], self._bands, self.psf_fwhm, None if self.ivar is None else self.ivar[idx], self.mask[idx], self.ids[idx]
        )

    def __repr__(self) -> str:
        n, b, h, w = self.shape
        extra = f", survey={self.survey!r}" if self.survey else ""
        return f"ImageSet(N={n}, bands={self._bands}, {h}x{w} px, pixel_scale={self.pixel_scale:g}\"{extra})"

    def _write(self, g):
        g.create_dataset("images", data=self.images, **_GZIP)
        _write_str_array(g, "bands", np.array(self._bands))
        g.attrs["pixel_scale_arcsec"] = self.pixel_scale
        if self.psf_fwhm is not None:
            g.create_dataset("psf_fwhm_arcsec", data=self.psf_fwhm)
        if self.ivar is not None:
            g.create_dataset("ivar", data=self.ivar, **_GZIP)
        if self.mask.any():
            g.create_dataset("mask", data=self.mask, **_GZIP)
        _write_ids(g, self.ids)
        if self.survey is not None:
            g.attrs["survey"] = self.survey

    @classmethod
    def _read(cls, g):
        return cls(
            images=g["images"][()],
            bands=list(_read_str_array(g, "bands")),
            pixel_scale=float(g.attrs["pixel_scale_arcsec"]),
            psf_fwhm=_opt(g, "psf_fwhm_arcsec"),
            ivar=_opt(g, "ivar"),
            mask=_opt(g, "mask"),
            ids=_read_ids(g),
            survey=_attr_str(g, "survey"),
        )

    def to_torch_dataset(self):
        """Torch ``Dataset`` view; torch is imported here.

        Items are dicts: ``"image"`` float32 (B, H, W) with masked pixels set to
        0; ``"mask"`` float32 (B, H, W), 1.0 = bad pixel; ``"ivar"`` float32
        (B, H, W) if present (0 on masked pixels); ``"index"`` int64 scalar.
        """
        return _torch_dataset(self, _image_item)


def _image_item(c: ImageSet, i: int) -> dict:
    m = c.mask[i]
    item = {"image": np.where(m, 0.0, c.images[i]), "mask": m.astype(np.float32)}
    if c.ivar is not None:
        item["ivar"] = np.where(m, 0.0, c.ivar[i])
    return item


# ------------------------------------------------------------------------ SpectrumSet


class SpectrumSet(_Container):
    """1-D spectra of N objects on a shared or per-object wavelength grid.

    Parameters
    ----------
    wavelength : array_like or Quantity, shape (L,) or (N, L)
        Wavelength in Angstrom (Quantities in length units are converted),
        strictly increasing along the last axis, finite. (L,) is a grid shared
        by every object; (N, L) gives one grid per object.
    flux : array_like or Quantity, shape (N, L)
        Flux density in ``flux_unit``. A Quantity is converted to
        ``flux_unit`` (f_nu <-> f_lambda conversions allowed).
    ivar : array_like, shape (N, L), optional
        Inverse variance of ``flux`` (>= 0, finite; 0 = no information).
    mask : array_like of bool, shape (N, L), optional
        True marks a bad pixel. Non-finite flux must be masked.
    ids : array_like (N,), optional
        Unique object ids (int or str); default ``arange(N)``.
    flux_unit : str or astropy unit
        Unit of ``flux`` (default SDSS-like ``1e-17 erg/(s cm2 Angstrom)``).
    redshift : array_like (N,), optional
        Redshift of each object (finite, >= 0).

    Attributes
    ----------
    wavelength : numpy.ndarray (L,) or (N, L), Angstrom
    flux, ivar, mask : numpy.ndarray (N, L)
    flux_unit : astropy.units.UnitBase
    redshift : numpy.ndarray (N,) or None
    ids : numpy.ndarray (N,)
    """

    _kind = "SpectrumSet"

    def __init__(self, wavelength, flux, ivar=None, mask=None, ids=None, flux_unit="1e-17 erg/(s cm2 Angstrom)", redshift=None):
        wl = _to_unit(wavelength, u.AA, "SpectrumSet.wavelength")
        unit = _parse_unit(flux_unit, "SpectrumSet.flux_unit")
        if unit is None:
            unit = u.dimensionless_unscaled
        if isinstance(flux, u.Quantity):
            try:
                flux = flux.to_value(unit, equivalencies=u.spectral_density(wl * u.AA))
            except u.UnitsError:
                raise invalid(
                    "SpectrumSet.flux", f"unit {flux.unit} cannot be converted to flux_unit {unit}", "pass flux in a flux-density unit, or set flux_unit to match"
                ) from None
            except ValueError:
                raise invalid("SpectrumSet.flux", "flux and wavelength shapes do not broadcast", "pass flux (N, L) and wavelength (L,) or (N, L)") from None
        flux = _float_array(flux, "SpectrumSet.flux")
        if flux.ndim != 2:
            raise invalid("SpectrumSet.flux", f"expected 2 dimensions (N, L), got shape {flux.shape}", "use flux[None] for a single spectrum")
        n, length = flux.shape
        if wl.ndim == 1:
            if wl.shape[0] != length:
                raise invalid("SpectrumSet.wavelength", f"{wl.shape[0]} wavelengths for {length} flux pixels", "pass one wavelength per flux pixel")
        elif wl.ndim == 2:
            if wl.shape != (n, length):
                raise invalid("SpectrumSet.wavelength", f"per-object grid shape {wl.shape} differs from flux shape {flux.shape}", "pass wavelength (L,) or (N, L) matching flux")
        else:
            raise invalid("SpectrumSet.wavelength", f"expected shape (L,) or (N, L), got {wl.shape}", "pass a 1-D shared grid or a 2-D per-object grid")
        if not np.all(np.isfinite(wl)):
            raise invalid("SpectrumSet.wavelength", "contains non-finite values", "pass finite wavelengths (mask bad pixels instead)")
        if length > 1 and np.any(np.diff(wl, axis=-1) <= 0):
            rows = "" if wl.ndim == 1 else f" (object rows {_fmt_list(np.flatnonzero(np.any(np.diff(wl, axis=-1) <= 0, axis=-1)), 5)})"
            raise invalid("SpectrumSet.wavelength", f"not strictly increasing{rows}", "sort each spectrum by wavelength and drop repeated wavelengths")
        if np.any(wl <= 0):
            raise invalid("SpectrumSet.wavelength", "contains values <= 0 Angstrom", "pass wavelengths in Angstrom (> 0)")
        mask = _check_mask(mask, flux.shape, "SpectrumSet.mask")
        ivar = _check_ivar(ivar, flux.shape, "SpectrumSet.ivar")
        _check_finite(flux, mask, "SpectrumSet.flux")
        if redshift is not None:
            z = _float_array(redshift, "SpectrumSet.redshift", dtype=np.float64)
            if z.ndim == 0:
                z = np.full(n, float(z))
            if z.shape != (n,):
                raise invalid("SpectrumSet.redshift", f"expected shape ({n},), got {z.shape}", "pass one redshift per spectrum")
            if not np.all(np.isfinite(z)) or np.any(z < 0):
                raise invalid("SpectrumSet.redshift", "values must be finite and >= 0", "fix or drop objects with unknown or negative redshift")
            redshift = z
        self.wavelength = wl
        self.flux = flux
        self.ivar = ivar
        self.mask = mask
        self.flux_unit = unit
        self.redshift = redshift
        self.ids = _as_ids(ids, n, "SpectrumSet.ids")

    @property
    def shared_grid(self) -> bool:
        """True when all objects share one (L,) wavelength grid."""
        return self.wavelength.ndim == 1

    @property
    def shape(self) -> tuple[int, int]:
        """``(N, L)``."""
        return tuple(self.flux.shape)

    def wavelength_of(self, i: int) -> np.ndarray:
        """Wavelength grid (L,) in Angstrom of the object at position ``i``."""
        n = len(self)
        if not -n <= int(i) < n:
            raise IndexError(f"SpectrumSet.wavelength_of: index {i} out of range for {n} objects")
        return self.wavelength if self.shared_grid else self.wavelength[int(i)]

    def resample(self, new_grid) -> "SpectrumSet":
        """Linearly interpolate every spectrum onto one shared grid.

        Parameters
        ----------
        new_grid : array_like or Quantity, shape (M,)
            Strictly increasing wavelengths in Angstrom.

        Returns
        -------
        SpectrumSet
            Flux (N, M) on ``new_grid``. A new pixel is masked when it lies
            outside the object's original grid or when either bracketing
            original pixel is masked; masked pixels get flux 0 and ivar 0.
            Ivar is propagated as ``1 / ((1-t)^2 / ivar0 + t^2 / ivar1)``
            (neighbour covariance ignored).
        """
        grid = _to_unit(new_grid, u.AA, "SpectrumSet.resample.new_grid")
        if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(np.diff(grid) <= 0):
            raise invalid("SpectrumSet.resample.new_grid", "must be a non-empty, finite, strictly increasing 1-D grid", "pass e.g. np.linspace(3800, 9000, 2000)")
        n, length = self.shape
        if length < 2:
            raise invalid("SpectrumSet.resample", "needs at least 2 pixels per spectrum", "resample spectra with >= 2 pixels")
        m = grid.size
        flux = np.zeros((n, m))
        mask = np.ones((n, m), dtype=bool)
        ivar = None if self.ivar is None else np.zeros((n, m))
        for i in range(n):
            wl = self.wavelength_of(i)
            j = np.clip(np.searchsorted(wl, grid, side="right") - 1, 0, length - 2)
            t = (grid - wl[j]) / (wl[j + 1] - wl[j])
            inside = (grid >= wl[0]) & (grid <= wl[-1])
            # exact hit on a pixel: do not depend on the neighbour
            f0, f1 = self.flux[i, j], self.flux[i, j + 1]
            m0, m1 = self.mask[i, j], self.mask[i, j + 1]
            bad = ~inside | (m0 & (t < 1)) | (m1 & (t > 0))
            with np.errstate(invalid="ignore", over="ignore"):
                val = np.where(t <= 0, f0, np.where(t >= 1, f1, (1 - t) * f0 + t * f1))
                bad |= ~np.isfinite(val)
                flux[i] = np.where(bad, 0.0, val)
                mask[i] = bad
                if ivar is not None:
                    with np.errstate(divide="ignore"):
                        v0 = np.where(self.ivar[i, j] > 0, 1.0 / self.ivar[i, j], np.inf)
                        v1 = np.where(self.ivar[i, j + 1] > 0, 1.0 / self.ivar[i, j + 1], np.inf)
                        var = np.where(t <= 0, v0, np.where(t >= 1, v1, (1 - t) ** 2 * v0 + t**2 * v1))
                        iv = np.where(np.isfinite(var) & (var > 0), 1.0 / var, 0.0)
                    ivar[i] = np.where(bad, 0.0, iv)
        return SpectrumSet(grid, flux.astype(self.flux.dtype), ivar=ivar, mask=mask, ids=self.ids, flux_unit=self.flux_unit, redshift=self.redshift)

    def _take(self, idx):
        out = object.__new__(SpectrumSet)
        out.wavelength = self.wavelength if self.shared_grid else self.wavelength[idx]
        out.flux = self.flux[idx]
        out.ivar = None if self.ivar is None else self.ivar[idx]
        out.mask = self.mask[idx]
        out.flux_unit = self.flux_unit
        out.redshift = None if self.redshift is None else self.redshift[idx]
        out.ids = self.ids[idx]
        if len(np.unique(out.ids)) != len(out.ids):
            _as_ids(out.ids, len(out.ids), "SpectrumSet.ids")
        return out

    def __repr__(self) -> str:
        n, length = self.shape
        if length:
            lo, hi = float(np.min(self.wavelength)), float(np.max(self.wavelength))
            rng = f", {lo:.0f}-{hi:.0f} A"
        else:
            rng = ""
        grid = "shared" if self.shared_grid else "per-object"
        return f"SpectrumSet(N={n}, L={length}{rng}, {grid} grid, flux_unit='{self.flux_unit}')"

    def _write(self, g):
        g.create_dataset("wavelength_AA", data=self.wavelength)
        g.create_dataset("flux", data=self.flux, **_GZIP)
        if self.ivar is not None:
            g.create_dataset("ivar", data=self.ivar, **_GZIP)
        if self.mask.any():
            g.create_dataset("mask", data=self.mask, **_GZIP)
        if self.redshift is not None:
            g.create_dataset("redshift", data=self.redshift)
        g.attrs["flux_unit"] = self.flux_unit.to_string()
        _write_ids(g, self.ids)

    @classmethod
    def _read(cls, g):
        return cls(
            wavelength=g["wavelength_AA"][()],
            flux=g["flux"][()],
            ivar=_opt(g, "ivar"),
            mask=_opt(g, "mask"),
            ids=_read_ids(g),
            flux_unit=_attr_str(g, "flux_unit"),
            redshift=_opt(g, "redshift"),
        )

    def to_torch_dataset(self):
        """Torch ``Dataset`` view; torch is imported here.

        Items are dicts: ``"wavelength"`` (L,) Angstrom, ``"flux"`` (L,) with
        masked pixels set to 0, ``"mask"`` (L,) 1.0 = bad, ``"ivar"`` (L,) if
        present (0 on masked pixels), ``"redshift"`` scalar if present -- all
        float32 -- and ``"index"`` int64 scalar.
        """
        return _torch_dataset(self, _spectrum_item)


def _spectrum_item(c: SpectrumSet, i: int) -> dict:
    m = c.mask[i]
    item = {"wavelength": c.wavelength_of(i), "flux": np.where(m, 0.0, c.flux[i]), "mask": m.astype(np.float32)}
    if c.ivar is not None:
        item["ivar"] = np.where(m, 0.0, c.ivar[i])
    if c.redshift is not None:
        item["redshift"] = np.float32(c.redshift[i])
    return item


# ---------------------------------------------------------------------- LightCurveSet

_LC_KINDS = ("flux", "mag")


class LightCurveSet(_Container):
    """Ragged multi-band time series (light curves) of N objects.

    Points are stored concatenated (object after object, each sorted by time)
    with an ``offsets`` array: object ``i`` owns points
    ``offsets[i]:offsets[i+1]``.

    Parameters
    ----------
    times : sequence of N array_like (n_i,)
        Observation times in MJD (days). Quantities in time units are converted
        to days; astropy ``Time`` objects are converted with ``.mjd``.
    values : sequence of N array_like (n_i,)
        Fluxes (``kind="flux"``, in ``flux_unit``) or magnitudes
        (``kind="mag"``). Must be finite.
    errors : sequence of N array_like (n_i,)
        1-sigma uncertainties of ``values`` (same unit), finite and > 0.
    bands : sequence of N (array_like of str (n_i,) or str), optional
        Band of each point; a single str per object applies to all its
        points. Default ``"V"`` for every point.
    kind : {"flux", "mag"}
        Meaning of ``values``.
    ids : array_like (N,), optional
        Unique object ids (int or str); default ``arange(N)``.
    flux_unit : str or astropy unit, optional
        Unit of flux values (only for ``kind="flux"``).

    Attributes
    ----------
    time, value, error : numpy.ndarray (P,) float64 -- all points concatenated
    band : numpy.ndarray of str (P,)
    offsets : numpy.ndarray int64 (N+1,)
    kind : str
    flux_unit : astropy unit or None
    ids : numpy.ndarray (N,)

    Notes
    -----
    Empty light curves (0 points) are allowed; see :attr:`n_points`.
    """

    _kind = "LightCurveSet"

    def __init__(self, times, values, errors, bands=None, kind="flux", ids=None, flux_unit=None):
        kind = self._check_kind(kind)
        times = self._as_list(times, "times")
        n = len(times)
        values = self._as_list(values, "values")
        errors = self._as_list(errors, "errors")
        for name, seq in (("values", values), ("errors", errors)):
            if len(seq) != n:
                raise invalid(f"LightCurveSet.{name}", f"{len(seq)} sequences for {n} objects in times", "pass one array per object")
        if bands is None:
            bands = ["V"] * n
        elif isinstance(bands, str):
            bands = [bands] * n
        else:
            bands = self._as_list(bands, "bands")
            if len(bands) != n:
                raise invalid("LightCurveSet.bands", f"{len(bands)} sequences for {n} objects", "pass one band array (or one band name) per object")
        ids_arr = _as_ids(ids, n, "LightCurveSet.ids")
        unit = self._check_flux_unit(kind, flux_unit)
        t_parts, v_parts, e_parts, b_parts = [], [], [], []
        lengths = np.zeros(n, dtype=np.int64)
        for i in range(n):
            oid = ids_arr[i].item()
            t = self._time_values(times[i], f"LightCurveSet.times[object {oid!r}]")
            v, unit = self._value_values(values[i], kind, unit, f"LightCurveSet.values[object {oid!r}]")
            e, _ = self._value_values(errors[i], kind, unit, f"LightCurveSet.errors[object {oid!r}]")
            k = t.shape[0]
            for name, arr in (("values", v), ("errors", e)):
                if arr.shape != (k,):
                    raise invalid(f"LightCurveSet.{name}[object {oid!r}]", f"shape {arr.shape} differs from times shape ({k},)", "pass one value per time")
            bi = bands[i]
            if isinstance(bi, (str, bytes)):
                bi = np.full(k, bi.decode() if isinstance(bi, bytes) else bi)
            else:
                bi = np.asarray(bi)
                if bi.dtype.kind == "S":
                    bi = np.char.decode(bi, "utf-8")
                bi = bi.astype(str)
                if bi.shape != (k,):
                    raise invalid(f"LightCurveSet.bands[object {oid!r}]", f"shape {bi.shape} differs from times shape ({k},)", "pass one band per point or one band name")
            t_parts.append(t)
            v_parts.append(v)
            e_parts.append(e)
            b_parts.append(bi)
            lengths[i] = k
        cat = lambda parts, dt: np.concatenate(parts).astype(dt, copy=False) if parts else np.zeros(0, dtype=dt)  # noqa: E731
        self._init_flat(cat(t_parts, np.float64), cat(v_parts, np.float64), cat(e_parts, np.float64), cat(b_parts, str), lengths, kind, ids_arr, unit)

    def _init_flat(self, time, value, error, band, lengths, kind, ids, unit):
        """Validate concatenated points (P,) of objects with ``lengths`` (N,), sort by time, store."""
        n = len(ids)
        obj = np.repeat(np.arange(n), lengths)

        def fail(bad, name, problem, fix):
            first = int(obj[np.flatnonzero(bad)[0]])
            n_obj = np.unique(obj[bad]).size
            others = f" ({n_obj} objects affected)" if n_obj > 1 else ""
            raise invalid(f"LightCurveSet.{name}[object {ids[first].item()!r}]", f"{int(bad.sum())} {problem}{others}", fix)

        bad = ~np.isfinite(time)
        if bad.any():
            fail(bad, "times", "NaN/inf time(s)", "drop points without a valid time")
        bad = ~np.isfinite(value)
        if bad.any():
            fail(bad, "values", "NaN/inf value(s)", "drop points without a valid measurement")
        bad = ~(np.isfinite(error) & (error > 0))
        if bad.any():
            fail(bad, "errors", "error(s) that are <= 0 or not finite", "errors must be finite and > 0; drop those points or give real uncertainties")
        order = np.lexsort((time, obj))  # by object, then time (stable for equal times)
        self.time = time[order]
        self.value = value[order]
        self.error = error[order]
        self.band = band[order]
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.kind = kind
        self.flux_unit = unit
        self.ids = ids

    # -- constructor helpers ----------------------------------------------------------

    @staticmethod
    def _check_kind(kind):
        if kind not in _LC_KINDS:
            raise invalid("LightCurveSet.kind", f"must be 'flux' or 'mag', got {kind!r}", "pass kind='flux' or kind='mag'")
        return str(kind)

    @staticmethod
    def _check_flux_unit(kind, flux_unit):
        unit = _parse_unit(flux_unit, "LightCurveSet.flux_unit")
        if kind == "mag":
            if unit is not None and unit != u.mag and not isinstance(unit, u.MagUnit):
                raise invalid("LightCurveSet.flux_unit", f"given ({unit}) with kind='mag'", "leave flux_unit=None for magnitudes")
            return None
        return unit

    @staticmethod
    def _as_list(seq, name):
        if isinstance(seq, np.ndarray) and seq.ndim == 2 and seq.dtype != object:
            return list(seq)
        if isinstance(seq, (str, bytes)) or not isinstance(seq, (Sequence, np.ndarray)):
            raise invalid(f"LightCurveSet.{name}", f"expected a sequence of per-object arrays, got {type(seq).__name__}", "pass a list with one 1-D array per object (or use LightCurveSet.from_table)")
        return list(seq)

    @staticmethod
    def _time_values(t, obj):
        from astropy.time import Time

        if isinstance(t, Time):
            return np.atleast_1d(np.asarray(t.mjd, dtype=np.float64))
        arr = _to_unit(t, u.day, obj)
        if arr.ndim != 1:
            raise invalid(obj, f"expected a 1-D array, got shape {arr.shape}", "pass one 1-D array of MJD per object")
        return arr

    @staticmethod
    def _value_values(v, kind, unit, obj):
        """Plain float64 (n,) values of ``v``; returns (values, flux unit)."""
        if isinstance(v, u.Quantity):
            if kind == "mag":
                if isinstance(v.unit, u.MagUnit) or v.unit in (u.mag, u.dimensionless_unscaled):
                    v = v.value
                else:
                    raise invalid(obj, f"unit {v.unit} is not a magnitude", "pass magnitudes, or use kind='flux'")
            elif unit is None:
                unit, v = v.unit, v.value
            else:
                try:
                    v = v.to_value(unit)
                except u.UnitsError:
                    raise invalid(obj, f"unit {v.unit} cannot be converted to flux_unit {unit}", "pass fluxes in compatible units") from None
        arr = _float_array(v, obj, dtype=np.float64)
        if arr.ndim != 1:
            raise invalid(obj, f"expected a 1-D array, got shape {arr.shape}", "pass one 1-D array per object")
        return arr, unit

    @classmethod
    def from_table(cls, table, id_col="object_id", time_col="mjd", value_col=None, error_col=None, band_col=None, kind="flux", flux_unit=None):
        """Build from a long table with one row per observation.

        Parameters
        ----------
        table : astropy.table.Table or pandas.DataFrame
            Long-format observations, P rows.
        id_col, time_col : str
            Columns of object ids and times (MJD days, or any time unit).
        value_col, error_col : str, optional
            Value and 1-sigma error columns. Defaults: ``"flux"``/``"mag"``
            (per ``kind``) and ``value_col + "_err"``.
        band_col : str, optional
            Column of band names; ``None`` -> every point in band ``"V"``.
        kind : {"flux", "mag"}
            Meaning of the values.
        flux_unit : str or unit, optional
            Flux unit; default the value column's unit, if any. Value and error
            columns with units are converted to it.

        Returns
        -------
        LightCurveSet
            One light curve per distinct id, in order of first appearance.
        """
        from astrolab.data.catalog import validate_catalog

        kind = cls._check_kind(kind)
        value_col = value_col or kind
        error_col = error_col or f"{value_col}_err"
        required = [id_col, time_col, value_col, error_col] + ([band_col] if band_col else [])
        tab = validate_catalog(table, required=required, name="LightCurveSet.from_table", id_col=None)

        def col(name):
            c = tab[name]
            if np.any(np.ma.getmaskarray(c)):
                raise invalid(f"LightCurveSet.from_table[{name!r}]", f"{int(np.sum(np.ma.getmaskarray(c)))} masked (missing) entries", "drop rows with missing values first")
            unit = getattr(c, "unit", None)
            data = np.asarray(getattr(c, "value", c) if isinstance(c, u.Quantity) else c)
            return u.Quantity(data, unit) if unit is not None and data.dtype.kind in "iuf" else data

        raw_ids = col(id_col)
        ids_flat = np.asarray(raw_ids)
        if ids_flat.dtype.kind == "O":
            ids_flat = ids_flat.astype(str)
        uniq, first, inverse = np.unique(ids_flat, return_index=True, return_inverse=True)
        appearance = np.argsort(first, kind="stable")
        rank = np.empty(len(uniq), dtype=np.int64)
        rank[appearance] = np.arange(len(uniq))
        obj_of_row = rank[inverse.ravel()]
        ids = _as_ids(uniq[appearance], len(uniq), f"LightCurveSet.from_table[{id_col!r}]")
        unit = cls._check_flux_unit(kind, flux_unit)
        t = cls._time_values(col(time_col), f"LightCurveSet.from_table[{time_col!r}]")
        v, unit = cls._value_values(col(value_col), kind, unit, f"LightCurveSet.from_table[{value_col!r}]")
        e, _ = cls._value_values(col(error_col), kind, unit, f"LightCurveSet.from_table[{error_col!r}]")
        b = np.asarray(col(band_col)) if band_col else np.full(len(tab), "V")
        b = np.char.decode(b, "utf-8") if b.dtype.kind == "S" else b.astype(str)
        order = np.argsort(obj_of_row, kind="stable")
        out = cls.__new__(cls)
        out._init_flat(t[order], v[order], e[order], b[order], np.bincount(obj_of_row, minlength=len(uniq)), kind, ids, unit)
        return out

    # -- accessors --------------------------------------------------------------------

    @property
    def n_points(self) -> np.ndarray:
        """Number of points per object, int64 array (N,) (0 for empty curves)."""
        return np.diff(self.offsets)

    @property
    def bands(self) -> list[str]:
        """Sorted unique band names over all points."""
        return sorted(set(np.unique(self.band).tolist()))

    def _slice(self, i):
        n = len(self)
        if not -n <= int(i) < n:
            raise IndexError(f"LightCurveSet: index {i} out of range for {n} objects")
        i = int(i) % n
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))

    def object(self, i: int) -> Table:
        """Light curve of the object at position ``i`` as an astropy Table.

        Returns
        -------
        astropy.table.Table
            Columns ``mjd`` (d), ``value`` (flux_unit or mag), ``error`` (same
            unit) and ``band`` (str), sorted by time; ``meta["object_id"]`` and
            ``meta["kind"]`` are set.
        """
        s = self._slice(i)
        vunit = u.mag if self.kind == "mag" else self.flux_unit
        tab = Table(
            [self.time[s], self.value[s], self.error[s], self.band[s]],
            names=("mjd", "value", "error", "band"),
            units=(u.day, vunit, vunit, None),
        )
        tab.meta["object_id"] = self.ids[int(i)].item()
        tab.meta["kind"] = self.kind
        return tab

    def to_padded(self, max_len=None, bands=None) -> dict:
        """Pad the ragged light curves into rectangular arrays.

        Parameters
        ----------
        max_len : int, optional
            Length T of the time axis. Default: the longest light curve. Longer
            series keep their first ``max_len`` points (by time).
        bands : sequence of str, optional
            Band vocabulary used for ``band_index`` (default :attr:`bands`).
            Points in bands not listed are dropped before truncation.

        Returns
        -------
        dict of numpy.ndarray
            ``time`` (N, T) float64 MJD, ``value`` (N, T), ``error`` (N, T),
            ``band_index`` (N, T) int64 into ``bands``, ``mask`` (N, T) bool
            **True = valid observation** (False = padding), ``bands`` (B,) str.
            Padding entries hold time 0, value 0, error 1 and band_index 0, so
            that ``value / error`` stays finite.
        """
        vocab = list(self.bands) if bands is None else [str(b) for b in ([bands] if isinstance(bands, str) else bands)]
        if len(set(vocab)) != len(vocab):
            raise invalid("LightCurveSet.to_padded.bands", f"duplicate band names in {vocab}", "give each band once")
        keep = np.isin(self.band, vocab)
        obj_of_point = np.repeat(np.arange(len(self)), self.n_points)
        obj_k = obj_of_point[keep]
        counts = np.bincount(obj_k, minlength=len(self))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(self) else np.zeros(0, dtype=np.int64)
        pos = np.arange(obj_k.size) - np.repeat(starts, counts)
        if max_len is not None and (not isinstance(max_len, (int, np.integer)) or isinstance(max_len, bool) or max_len < 1):
            raise invalid("LightCurveSet.to_padded.max_len", f"must be a positive int, got {max_len!r}", "pass e.g. max_len=200")
        T = int(max_len) if max_len is not None else (int(counts.max()) if len(self) else 0)
        n = len(self)
        out = {
            "time": np.zeros((n, T)),
            "value": np.zeros((n, T)),
            "error": np.ones((n, T)),
            "band_index": np.zeros((n, T), dtype=np.int64),
            "mask": np.zeros((n, T), dtype=bool),
        }
        sel = pos < T
        rows, cols = obj_k[sel], pos[sel]
        out["time"][rows, cols] = self.time[keep][sel]
        out["value"][rows, cols] = self.value[keep][sel]
        out["error"][rows, cols] = self.error[keep][sel]
        band_k = self.band[keep][sel]
        if band_k.size:
            vocab_arr = np.array(vocab, dtype=str)
            srt = np.argsort(vocab_arr)
            out["band_index"][rows, cols] = srt[np.searchsorted(vocab_arr[srt], band_k)]
        out["mask"][rows, cols] = True
        out["bands"] = np.array(vocab, dtype=str)
        return out

    def _take(self, idx):
        counts = self.n_points[idx]
        starts = self.offsets[:-1][idx]
        gather = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(idx) else starts, counts) + np.arange(int(counts.sum()))
        out = object.__new__(LightCurveSet)
        out.time, out.value, out.error, out.band = self.time[gather], self.value[gather], self.error[gather], self.band[gather]
        out.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        out.kind, out.flux_unit = self.kind, self.flux_unit
        out.ids = self.ids[idx]
        if len(np.unique(out.ids)) != len(out.ids):
            _as_ids(out.ids, len(out.ids), "LightCurveSet.ids")
        return out

    def __repr__(self) -> str:
        npts = self.n_points
        med = int(np.median(npts)) if npts.size else 0
        unit = f", unit='{self.flux_unit}'" if self.flux_unit is not None else ""
        return f"LightCurveSet(N={len(self)}, kind={self.kind!r}, bands={self.bands}, points={int(npts.sum())} (median {med}/object){unit})"

    def _write(self, g):
        for name in ("time", "value", "error", "offsets"):
            g.create_dataset(name, data=getattr(self, name), **_GZIP)
        # bands are stored as codes into a small table of names (fast for millions of points)
        names, codes = np.unique(self.band, return_inverse=True)
        _write_str_array(g, "band_names", names)
        g.create_dataset("band_code", data=codes.astype(np.int32).ravel(), **_GZIP)
        g.attrs["kind"] = self.kind
        if self.flux_unit is not None:
            g.attrs["flux_unit"] = self.flux_unit.to_string()
        _write_ids(g, self.ids)

    @classmethod
    def _read(cls, g):
        offsets = np.asarray(g["offsets"][()], dtype=np.int64)
        time, value, error = (np.asarray(g[k][()], dtype=np.float64) for k in ("time", "value", "error"))
        names = _read_str_array(g, "band_names")
        codes = np.asarray(g["band_code"][()], dtype=np.int64)
        if offsets.ndim != 1 or offsets.size < 1 or offsets[0] != 0 or np.any(np.diff(offsets) < 0) or offsets[-1] != time.size:
            raise ValueError("inconsistent offsets array")
        if not (value.shape == error.shape == codes.shape == time.shape) or (codes.size and (codes.min() < 0 or codes.max() >= names.size)):
            raise ValueError("inconsistent point arrays")
        kind = cls._check_kind(_attr_str(g, "kind"))
        out = cls.__new__(cls)
        ids = _as_ids(_read_ids(g), offsets.size - 1, "LightCurveSet.ids")
        band = names[codes] if names.size else np.zeros(0, dtype=str)
        out._init_flat(time, value, error, band, np.diff(offsets), kind, ids, cls._check_flux_unit(kind, _attr_str(g, "flux_unit")))
        return out

    def to_torch_dataset(self, max_len=None, bands=None):
        """Torch ``Dataset`` of padded light curves; torch is imported here.

        Parameters
        ----------
        max_len, bands
            Passed to :meth:`to_padded` (T = ``max_len``, default the longest curve).

        Returns
        -------
        torch.utils.data.Dataset
            Items are dicts: ``"time"``, ``"value"``, ``"error"`` float32 (T,),
            ``"band_index"`` int64 (T,), ``"mask"`` float32 (T,) **1.0 = valid
            observation**, ``"index"`` int64 scalar.
        """
        padded = self.to_padded(max_len=max_len, bands=bands)
        padded.pop("bands")
        return _torch_dataset(_PaddedView(padded, len(self), repr(self)), _padded_item)


class _PaddedView:
    """Picklable holder of padded arrays for the torch dataset."""

    def __init__(self, arrays, n, text):
        self.arrays, self.n, self.text = arrays, n, text

    def __len__(self):
        return self.n

    def __repr__(self):
        return self.text


def _padded_item(c: _PaddedView, i: int) -> dict:
    item = {k: v[i] for k, v in c.arrays.items()}
    item["mask"] = item["mask"].astype(np.float32)
    return item


# ---------------------------------------------------------------------- MultimodalSet

_STANDARD_MODALITIES = ("images", "spectra", "lightcurves")


class MultimodalSet(_Container):
    """A catalog of objects tied to their images, spectra and light curves.

    Parameters
    ----------
    catalog : astropy.table.Table or pandas.DataFrame
        One row per object, with a unique ``object_id`` column (int or str).
        Units on columns are kept (and survive save/load).
    images : ImageSet, optional
    spectra : SpectrumSet, optional
    lightcurves : LightCurveSet, optional
    **extra : container
        Further modalities by name (e.g. ``images_hsc=ImageSet(...)``), each an
        ImageSet, SpectrumSet or LightCurveSet.

    Every container's ``ids`` must be object ids of the catalog; an object
    may lack a modality (see :meth:`has`). Containers keep their own order;
    slicing the set returns containers re-ordered to follow the catalog rows.

    Attributes
    ----------
    catalog : astropy.table.Table (N rows)
    ids : numpy.ndarray (N,) -- the catalog's ``object_id``
    images, spectra, lightcurves : container or None
    """

    _kind = "MultimodalSet"

    def __init__(self, catalog, images=None, spectra=None, lightcurves=None, **extra):
        from astrolab.data.catalog import validate_catalog

        cat = validate_catalog(catalog, name="MultimodalSet.catalog", id_col="object_id")
        self.catalog = cat
        self.ids = _as_ids(np.asarray(cat["object_id"]), len(cat), "MultimodalSet.catalog['object_id']")
        mods = {"images": images, "spectra": spectra, "lightcurves": lightcurves, **extra}
        self._modalities: dict[str, _Container] = {}
        self._rows: dict[str, np.ndarray] = {}
        for name, cont in mods.items():
            if cont is None:
                continue
            if not name.isidentifier() or "/" in name:
                raise invalid(f"MultimodalSet.{name}", "modality names must be Python identifiers", "rename the keyword argument")
            if not isinstance(cont, (ImageSet, SpectrumSet, LightCurveSet)):
                raise invalid(f"MultimodalSet.{name}", f"expected an ImageSet, SpectrumSet or LightCurveSet, got {type(cont).__name__}", "wrap the data in an astrolab container")
            self._modalities[name] = cont
            self._rows[name] = self._match(name, cont)

    def _match(self, name, cont) -> np.ndarray:
        """Position in ``cont`` of each catalog row's object (-1 if absent)."""
        cids, mids = cont.ids, self.ids
        if len(cids) and (cids.dtype.kind in "iu") != (mids.dtype.kind in "iu"):
            raise invalid(f"MultimodalSet.{name}.ids", f"dtype {cids.dtype} differs from catalog object_id dtype {mids.dtype}", "use the same id type in the catalog and the containers")
        present = np.isin(cids, mids)
        if not np.all(present):
            raise invalid(
                f"MultimodalSet.{name}.ids",
                f"{int((~present).sum())} id(s) not in the catalog: {_fmt_list(cids[~present], 8)}",
                "add those objects to the catalog or drop them from the container (select_ids)",
            )
        rows = np.full(len(mids), -1, dtype=np.int64)
        if len(cids):
            order = np.argsort(cids, kind="stable")
            pos = np.clip(np.searchsorted(cids[order], mids), 0, len(cids) - 1)
            hit = cids[order][pos] == mids
            rows[hit] = order[pos[hit]]
        return rows

    @property
    def modalities(self) -> list[str]:
        """Names of the modalities present (e.g. ``["images", "spectra"]``)."""
        return list(self._modalities)

    def __getattr__(self, name):
        if name in _STANDARD_MODALITIES:
            return self.__dict__.get("_modalities", {}).get(name)
        mods = self.__dict__.get("_modalities", {})
        if name in mods:
            return mods[name]
        raise AttributeError(f"'MultimodalSet' object has no attribute {name!r}")

    def _check_modality(self, modality):
        if modality not in self._modalities:
            raise invalid("MultimodalSet", f"no modality {modality!r}; available modalities are {self.modalities}", "pick one of the available modalities")

    def has(self, modality: str) -> np.ndarray:
        """Boolean mask (N,) over catalog rows: True where the object has ``modality``.

        Unknown-but-standard modalities (``"images"``, ``"spectra"``,
        ``"lightcurves"``) give an all-False mask.
        """
        if modality not in self._modalities and modality in _STANDARD_MODALITIES:
            return np.zeros(len(self), dtype=bool)
        self._check_modality(modality)
        return self._rows[modality] >= 0

    def get(self, modality: str, object_id):
        """The data of one object in one modality, as a length-1 container.

        Parameters
        ----------
        modality : str
            One of :attr:`modalities`.
        object_id : int or str
            A catalog ``object_id``.

        Raises
        ------
        DataValidationError
            If the modality is absent, the id unknown, or the object lacks
            that modality.
        """
        self._check_modality(modality)
        row = self.index_of([object_id])[0]
        pos = self._rows[modality][row]
        if pos < 0:
            raise invalid(f"MultimodalSet.{modality}", f"object {object_id!r} has no {modality}", f"check .has({modality!r}) first")
        return self._modalities[modality][int(pos)]

    def _take(self, idx):
        ids = self.ids[idx]
        if len(np.unique(ids)) != len(ids):
            _as_ids(ids, len(ids), "MultimodalSet.ids")
        out = object.__new__(MultimodalSet)
        out.catalog = self.catalog[idx]
        out.ids = ids
        out._modalities, out._rows = {}, {}
        for name, cont in self._modalities.items():
            rows = self._rows[name][idx]
            sub = cont._take(rows[rows >= 0])
            out._modalities[name] = sub
            new_rows = np.full(len(idx), -1, dtype=np.int64)
            new_rows[rows >= 0] = np.arange(int((rows >= 0).sum()))
            out._rows[name] = new_rows
        return out

    def __getitem__(self, key):
        if isinstance(key, str):
            self._check_modality(key)
            return self._modalities[key]
        return super().__getitem__(key)

    def __repr__(self) -> str:
        parts = [f"{name}: {int(self.has(name).sum())}" for name in self._modalities]
        return f"MultimodalSet(N={len(self)}, columns={len(self.catalog.colnames)}, modalities={{{', '.join(parts)}}})"

    def _write(self, g):
        from astropy.io.misc.hdf5 import write_table_hdf5

        unicode_cols = [c for c in self.catalog.colnames if getattr(self.catalog[c], "dtype", None) is not None and self.catalog[c].dtype.kind == "U"]
        try:
            write_table_hdf5(self.catalog, g, path="catalog", serialize_meta=True)
        except (TypeError, ValueError) as exc:
            bad = [c for c in self.catalog.colnames if getattr(self.catalog[c], "dtype", None) is not None and self.catalog[c].dtype.kind == "O"]
            raise invalid(
                "MultimodalSet.catalog",
                f"cannot be written to HDF5 ({exc}); object-dtype column(s): {bad}",
                "convert those columns to numbers or str, e.g. table[col] = table[col].astype(str)",
            ) from None
        g.attrs["unicode_columns"] = ",".join(unicode_cols)
        mods = g.create_group("modalities")
        names = list(self._modalities)
        g.attrs["modalities"] = ",".join(names)
        for name in names:
            sub = mods.create_group(name)
            _write_header(sub, self._modalities[name]._kind)
            self._modalities[name]._write(sub)

    @classmethod
    def _read(cls, g):
        from astropy.io.misc.hdf5 import read_table_hdf5

        catalog = read_table_hdf5(g, path="catalog")
        # astropy stores str columns as UTF-8 bytes: decode those that were str
        for name in [x for x in (_attr_str(g, "unicode_columns") or "").split(",") if x]:
            col = catalog[name]
            if col.dtype.kind == "S":
                data = np.char.decode(np.asarray(col), "utf-8")
                if hasattr(col, "mask"):
                    data = np.ma.MaskedArray(data, mask=np.ma.getmaskarray(col))
                catalog[name] = data
                catalog[name].info.description = col.info.description
                catalog[name].info.meta = col.info.meta
        names = [x for x in (_attr_str(g, "modalities") or "").split(",") if x]
        mods = {}
        for name in names:
            sub = g["modalities"][name]
            kind = _check_header(sub, None, f"{g.file.filename}:/modalities/{name}", "MultimodalSet.load")
            mods[name] = _KINDS[kind]._read(sub)
        return cls(catalog, **mods)

    def to_torch_dataset(self, columns: Sequence[str] = (), max_len=None):
        """Torch ``Dataset`` over catalog rows; torch is imported here.

        Parameters
        ----------
        columns : sequence of str
            Numeric catalog columns stacked into ``"features"`` (F,) float32.
        max_len : int, optional
            Padding length of light curves (see :meth:`LightCurveSet.to_padded`).

        Returns
        -------
        torch.utils.data.Dataset
            Items are dicts with ``"index"`` (int64), ``"features"`` (F,) if
            ``columns``, and for each modality ``m`` a nested dict ``item[m]``
            (the modality's own item, zeros when absent) plus ``"has_" + m``
            float32 (1.0 present, 0.0 absent).
        """
        cols = list(columns)
        missing = [c for c in cols if c not in self.catalog.colnames]
        if missing:
            raise invalid("MultimodalSet.to_torch_dataset", f"unknown column(s) {missing}; available columns are {self.catalog.colnames}", "pick catalog columns")
        feats = None
        if cols:
            try:
                feats = np.stack([np.ma.filled(np.ma.asarray(self.catalog[c], dtype=np.float64), np.nan) for c in cols], axis=1)
            except (TypeError, ValueError):
                raise invalid("MultimodalSet.to_torch_dataset", f"columns {cols} are not all numeric", "pass numeric columns only") from None
        views = {}
        for name, cont in self._modalities.items():
            if isinstance(cont, LightCurveSet):
                padded = cont.to_padded(max_len=max_len)
                padded.pop("bands")
                views[name] = (_PaddedView(padded, len(cont), repr(cont)), _padded_item)
            else:
                views[name] = (cont, _image_item if isinstance(cont, ImageSet) else _spectrum_item)
        return _torch_dataset(_MultimodalView(self, feats, views), _multimodal_item)


class _MultimodalView:
    def __init__(self, mm, feats, views):
        self.n, self.text, self.rows, self.feats, self.views = len(mm), repr(mm), dict(mm._rows), feats, views
        self.templates = {}
        for name, (cont, fn) in views.items():
            if len(cont):
                self.templates[name] = {k: np.zeros_like(np.asarray(v)) for k, v in fn(cont, 0).items()}
            else:
                self.templates[name] = {}

    def __len__(self):
        return self.n

    def __repr__(self):
        return self.text


def _multimodal_item(c: _MultimodalView, i: int) -> dict:
    item: dict[str, Any] = {}
    if c.feats is not None:
        item["features"] = c.feats[i]
    for name, (cont, fn) in c.views.items():
        pos = c.rows[name][i]
        item[name] = fn(cont, int(pos)) if pos >= 0 else dict(c.templates[name])
        item[f"has_{name}"] = np.float32(pos >= 0)
    return item


_KINDS = {cls._kind: cls for cls in (ImageSet, SpectrumSet, LightCurveSet, MultimodalSet)}

"""One selection model shared by every linked view.

A :class:`Selection` is a named, observable set of object ids. Linked views
(the panels of :mod:`astrolab.widgets`) hold a reference to the *same*
``Selection``; when one view changes it, every observer is notified and
re-draws. The class is pure Python (NumPy only), usable from scripts and
tests without any widget.

Ids are stored as a sorted, duplicate-free NumPy array (:attr:`Selection.array`),
so that selections of 10^5-10^6 ids stay cheap; :attr:`Selection.ids` gives the
same ids as a ``frozenset`` of Python scalars.

Examples
--------
>>> sel = Selection(name="outliers")
>>> seen = []
>>> sel.observe(lambda ev: seen.append(len(ev.ids)))
>>> sel.set([3, 1, 2])
>>> sorted(sel.ids), seen
([1, 2, 3], [3])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from astrolab.errors import invalid

__all__ = ["Selection", "SelectionEvent", "IdIndex", "link"]


@dataclass(frozen=True)
class SelectionEvent:
    """What an observer of a :class:`Selection` receives.

    Attributes
    ----------
    selection : Selection
        The selection that changed.
    ids : numpy.ndarray, shape (K,)
        New ids, sorted and unique.
    old : numpy.ndarray, shape (K_old,)
        Previous ids.
    source : object or None
        Who made the change (a view passes itself so that it can skip its
        own echo), ``None`` for programmatic changes.
    """

    selection: "Selection"
    ids: np.ndarray
    old: np.ndarray
    source: Any = None


def _as_id_array(ids: Any, name: str = "Selection.ids") -> np.ndarray:
    """Convert ids (iterable, array, Selection, None) to a sorted unique 1-D array."""
    if ids is None:
        return np.empty(0, dtype=np.int64)
    if isinstance(ids, Selection):
        return ids.array
    if isinstance(ids, (set, frozenset)):
        ids = list(ids)
    elif isinstance(ids, (str, bytes)) or np.isscalar(ids):
        ids = [ids]
    arr = np.asarray(ids)
    if arr.dtype == object:
        try:
            arr = arr.astype(str)
        except Exception as exc:  # pragma: no cover - exotic ids
            raise invalid(name, f"ids of type {type(ids).__name__} cannot be turned into an array ({exc})",
                          "pass integers or strings") from exc
    if arr.ndim != 1:
        arr = arr.ravel()
    if arr.size == 0:
        return np.empty(0, dtype=arr.dtype if arr.dtype != np.float64 else np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise invalid(name, "ids are non-integer floats", "pass integer or string object ids")
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "b":
        raise invalid(name, "got a boolean array", "use Selection.from_predicate(catalog, mask) for masks")
    if arr.dtype.kind in "iu" and arr.size > 1 and bool(np.all(arr[1:] > arr[:-1])):
        return arr.copy()  # already sorted and unique (the common case of a view's selection): skip the sort
    return np.unique(arr)


def _catalog_ids(catalog: Any, id_column: str = "object_id") -> np.ndarray:
    """Object ids of a catalog (astropy Table, pandas/dask DataFrame, dict, container)."""
    if hasattr(catalog, "colnames"):  # astropy Table
        if id_column in catalog.colnames:
            return np.asarray(catalog[id_column])
        return np.arange(len(catalog))
    if hasattr(catalog, "columns") and hasattr(catalog, "index"):  # pandas / dask
        if id_column in catalog.columns:
            col = catalog[id_column]
            if hasattr(col, "compute"):
                col = col.compute()
            return np.asarray(col)
        if hasattr(catalog, "compute"):
            return np.asarray(catalog.index.compute())
        return np.asarray(catalog.index)
    if isinstance(catalog, dict) and id_column in catalog:
        return np.asarray(catalog[id_column])
    if hasattr(catalog, "ids") and catalog.ids is not None:
        return np.asarray(catalog.ids)
    raise invalid("catalog", f"no '{id_column}' column and no .ids",
                  f"pass an astropy Table or DataFrame with an '{id_column}' column")


class Selection:
    """A named, observable set of object ids shared by linked views.

    Parameters
    ----------
    ids : iterable of int or str, optional
        Initial object ids (duplicates are dropped, order is sorted).
    name : str
        Name shown in panel titles (default ``"selection"``).

    Notes
    -----
    Observers are called synchronously, in registration order, with a
    :class:`SelectionEvent`. An exception raised by one observer does not
    stop the others; it is kept in :attr:`errors` (last 20) so that a broken
    view never breaks the selection itself.
    """

    def __init__(self, ids: Iterable | None = None, name: str = "selection"):
        self.name = str(name)
        self._ids = _as_id_array(ids)
        self._frozen: frozenset | None = None
        self._observers: list[Callable[[SelectionEvent], Any]] = []
        self.errors: list[BaseException] = []
        self._busy = False

    # ---------------------------------------------------------------- state
    @property
    def array(self) -> np.ndarray:
        """Selected ids as a sorted, unique 1-D NumPy array, shape (K,) (read-only view)."""
        view = self._ids.view()
        view.flags.writeable = False
        return view

    @property
    def ids(self) -> frozenset:
        """Selected ids as a ``frozenset`` of Python ints/strs."""
        if self._frozen is None:
            self._frozen = frozenset(self._ids.tolist())
        return self._frozen

    def __len__(self) -> int:
        return int(self._ids.size)

    def __bool__(self) -> bool:
        return self._ids.size > 0

    def __contains__(self, item) -> bool:
        if self._ids.size == 0:
            return False
        try:
            i = np.searchsorted(self._ids, item)
        except TypeError:
            return False
        return bool(i < self._ids.size and self._ids[i] == item)

    def __iter__(self):
        return iter(self._ids.tolist())

    def __eq__(self, other) -> bool:
        if isinstance(other, Selection):
            return np.array_equal(self._ids, other._ids)
        if isinstance(other, (set, frozenset)):
            return self.ids == frozenset(other)
        return NotImplemented

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        head = ", ".join(map(repr, self._ids[:5].tolist()))
        more = ", ..." if self._ids.size > 5 else ""
        return f"Selection(name={self.name!r}, n={self._ids.size}, ids=[{head}{more}])"

    # ------------------------------------------------------------- changing
    def set(self, ids: Iterable | None, source: Any = None) -> None:
        """Replace the selected ids and notify observers (if they changed).

        Parameters
        ----------
        ids : iterable of int or str, numpy.ndarray, Selection or None
            New object ids; ``None`` or empty clears.
        source : object, optional
            The view making the change (passed on in :class:`SelectionEvent`).
        """
        new = _as_id_array(ids)
        if new.size == self._ids.size and np.array_equal(new, self._ids):
            return
        old = self._ids
        self._ids = new
        self._frozen = None
        self._notify(SelectionEvent(self, new, old, source))

    def clear(self, source: Any = None) -> None:
        """Select nothing (notifies observers)."""
        self.set(None, source=source)

    def observe(self, callback: Callable[[SelectionEvent], Any]) -> Callable:
        """Call ``callback(event)`` after every change; returns ``callback``."""
        if not callable(callback):
            raise invalid("Selection.observe", f"{callback!r} is not callable", "pass a function taking one event")
        if callback not in self._observers:
            self._observers.append(callback)
        return callback

    def unobserve(self, callback: Callable) -> None:
        """Stop calling ``callback`` (no error if it was not registered)."""
        try:
            self._observers.remove(callback)
        except ValueError:
            pass

    def _notify(self, event: SelectionEvent) -> None:
        for cb in list(self._observers):
            try:
                cb(event)
            except Exception as exc:  # a broken view must not break the others
                self.errors.append(exc)
                del self.errors[:-20]

    # -------------------------------------------------------------- algebra
    def _other(self, other) -> np.ndarray:
        return _as_id_array(other)

    def __or__(self, other) -> "Selection":
        return Selection(np.union1d(self._ids, self._other(other)), name=f"({self.name} | {_name(other)})")

    def __and__(self, other) -> "Selection":
        return Selection(np.intersect1d(self._ids, self._other(other), assume_unique=True),
                         name=f"({self.name} & {_name(other)})")

    def __sub__(self, other) -> "Selection":
        return Selection(np.setdiff1d(self._ids, self._other(other), assume_unique=True),
                         name=f"({self.name} - {_name(other)})")

    def __xor__(self, other) -> "Selection":
        return Selection(np.setxor1d(self._ids, self._other(other), assume_unique=True),
                         name=f"({self.name} ^ {_name(other)})")

    def union(self, *others, name: str | None = None) -> "Selection":
        """Ids in this selection or in any of ``others`` (a new, named Selection).

        Parameters
        ----------
        *others : Selection or iterable of ids
            Selections (or id collections) to combine.
        name : str, optional
            Name of the result (default ``"(a | b | ...)"``).
        """
        return self._combine(others, "|", name)

    def intersection(self, *others, name: str | None = None) -> "Selection":
        """Ids in this selection and in every one of ``others`` (a new, named Selection)."""
        return self._combine(others, "&", name)

    def difference(self, *others, name: str | None = None) -> "Selection":
        """Ids in this selection and in none of ``others`` (a new, named Selection)."""
        return self._combine(others, "-", name)

    def symmetric_difference(self, other, name: str | None = None) -> "Selection":
        """Ids in exactly one of this selection and ``other`` (a new, named Selection)."""
        out = self ^ other
        if name is not None:
            out.name = str(name)
        return out

    def _combine(self, others, op: str, name: str | None) -> "Selection":
        out = self
        if not others:
            out = self.copy()
        for other in others:
            out = {"|": Selection.__or__, "&": Selection.__and__, "-": Selection.__sub__}[op](out, other)
        if name is not None:
            out.name = str(name)
        elif len(others) > 1:
            out.name = "(" + f" {op} ".join([self.name, *map(_name, others)]) + ")"
        return out

    def copy(self, name: str | None = None) -> "Selection":
        """A new, unobserved Selection with the same ids."""
        return Selection(self._ids.copy(), name=name or self.name)

    def rename(self, name: str) -> "Selection":
        """Set :attr:`name` in place and return ``self`` (for chaining)."""
        self.name = str(name)
        return self

    # ------------------------------------------------------------ as data
    def to_dict(self) -> dict:
        """JSON-able description ``{"name", "id_kind", "ids", "sha256"}`` (see :meth:`from_dict`).

        ``id_kind`` is ``"int"`` or ``"str"``; ``sha256`` is :meth:`fingerprint`.
        """
        kind = "int" if self._ids.dtype.kind in "iu" else "str"
        ids = [int(v) for v in self._ids.tolist()] if kind == "int" else [str(v) for v in self._ids.tolist()]
        return {"name": self.name, "id_kind": kind, "ids": ids, "sha256": self.fingerprint()}

    @classmethod
    def from_dict(cls, data: dict) -> "Selection":
        """Rebuild a selection written by :meth:`to_dict` (checks its ``sha256`` when present).

        Raises
        ------
        astrolab.errors.DataValidationError
            If the dict is malformed or its ids do not match their checksum.
        """
        if not isinstance(data, dict) or "ids" not in data:
            raise invalid("Selection.from_dict", f"got {type(data).__name__} without 'ids'",
                          "pass a dict written by Selection.to_dict()")
        ids = data["ids"]
        if data.get("id_kind") == "int":
            arr = np.asarray(ids, dtype=np.int64)
        else:
            arr = np.asarray(ids, dtype=str) if len(ids) else np.empty(0, dtype=str)
        out = cls(arr, name=data.get("name", "selection"))
        want = data.get("sha256")
        if want and out.fingerprint() != want:
            raise invalid(f"Selection {out.name!r}", "its ids do not match the stored checksum (edited or corrupt)",
                          "re-save the selection, or remove its 'sha256' entry if the edit was deliberate")
        return out

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the sorted ids (independent of the name); equal ids give equal fingerprints."""
        import hashlib

        h = hashlib.sha256()
        if self._ids.dtype.kind in "iu":
            h.update(b"int:")
            h.update(np.ascontiguousarray(self._ids, dtype="<i8").tobytes())
        else:
            h.update(b"str:")
            h.update("\x1f".join(map(str, self._ids.tolist())).encode("utf-8"))
        return h.hexdigest()

    # ---------------------------------------------------------- conversions
    @classmethod
    def from_predicate(cls, catalog: Any, fn_or_mask: Any, name: str = "selection",
                       id_column: str = "object_id") -> "Selection":
        """Select the catalog rows where a predicate holds.

        Parameters
        ----------
        catalog : astropy.table.Table, pandas.DataFrame or dict of arrays
            Catalog with an ``id_column`` column (else row numbers are the ids).
        fn_or_mask : callable or array_like of bool, shape (N,)
            Boolean mask, or a function ``fn(catalog) -> mask``.
        name : str
            Name of the new selection.
        id_column : str
            Column holding the object ids.

        Returns
        -------
        Selection
        """
        ids = _catalog_ids(catalog, id_column)
        mask = fn_or_mask(catalog) if callable(fn_or_mask) else fn_or_mask
        if hasattr(mask, "compute"):
            mask = mask.compute()
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != ids.shape:
            raise invalid("Selection.from_predicate", f"mask has dtype {mask.dtype} and shape {mask.shape}, "
                          f"catalog has {ids.size} rows", "return one boolean per catalog row")
        return cls(ids[mask], name=name)

    @classmethod
    def where(cls, catalog: Any, mask_or_callable: Any, name: str = "selection",
              id_column: str = "object_id") -> "Selection":
        """Select the rows of ``catalog`` where a Python predicate holds (alias of :meth:`from_predicate`).

        Parameters
        ----------
        catalog : astropy.table.Table, pandas.DataFrame, dict of arrays or MultimodalSet
            N rows with an ``id_column`` column (a ``MultimodalSet`` uses its ``catalog``).
        mask_or_callable : array_like of bool, shape (N,), or callable
            Boolean mask or ``fn(catalog) -> mask``.
        name : str
            Name of the selection.
        id_column : str
            Column holding the object ids.

        Returns
        -------
        Selection

        Examples
        --------
        >>> from astropy.table import Table
        >>> cat = Table({"object_id": [1, 2, 3], "mag": [20.0, 23.0, 21.0]})
        >>> Selection.where(cat, lambda t: t["mag"] < 22, name="bright").array.tolist()
        [1, 3]
        """
        if hasattr(catalog, "catalog") and hasattr(catalog, "ids") and not hasattr(catalog, "colnames"):
            catalog = catalog.catalog
        return cls.from_predicate(catalog, mask_or_callable, name=name, id_column=id_column)

    def indices_in(self, ids_of_dataset: Any) -> np.ndarray:
        """Row positions (int64, sorted) of the selected ids inside ``ids_of_dataset`` (shape (N,)).

        Ids that are not in ``ids_of_dataset`` are skipped.
        """
        ref = np.asarray(ids_of_dataset)
        if self._ids.size == 0 or ref.size == 0:
            return np.empty(0, dtype=np.int64)
        try:
            return np.flatnonzero(np.isin(ref, self._ids))
        except TypeError:  # mixed id types
            return np.flatnonzero(np.isin(ref.astype(str), self._ids.astype(str)))

    def to_table(self, catalog: Any, id_column: str = "object_id"):
        """Catalog rows of the selected objects, as an astropy Table (catalog order).

        Parameters
        ----------
        catalog : astropy.table.Table or pandas.DataFrame
            Catalog with an ``id_column`` column.
        id_column : str
            Column holding the object ids.

        Returns
        -------
        astropy.table.Table
        """
        from astropy.table import Table

        rows = self.indices_in(_catalog_ids(catalog, id_column))
        if hasattr(catalog, "colnames"):
            return catalog[rows]
        if hasattr(catalog, "iloc"):
            frame = catalog.compute() if hasattr(catalog, "compute") else catalog
            return Table.from_pandas(frame.iloc[rows].reset_index(drop=id_column in frame.columns))
        if isinstance(catalog, dict):
            return Table({k: np.asarray(v)[rows] for k, v in catalog.items()})
        raise invalid("Selection.to_table", f"cannot take rows of {type(catalog).__name__}",
                      "pass an astropy Table or a pandas DataFrame")

    def to_subset(self, dataset: Any, ids_of_dataset: Any = None):
        """A ``torch.utils.data.Subset`` of ``dataset`` holding the selected objects.

        Parameters
        ----------
        dataset : torch.utils.data.Dataset
            Map-style dataset, item ``i`` being object ``ids_of_dataset[i]``.
        ids_of_dataset : array_like, shape (len(dataset),), optional
            Object id of each item; defaults to ``dataset.ids``.

        Returns
        -------
        torch.utils.data.Subset
        """
        from torch.utils.data import Subset

        if ids_of_dataset is None:
            ids_of_dataset = getattr(dataset, "ids", None)
            if ids_of_dataset is None:
                raise invalid("Selection.to_subset", "the dataset has no .ids",
                              "pass ids_of_dataset=<object id of every item>")
        ids_of_dataset = np.asarray(ids_of_dataset)
        if len(ids_of_dataset) != len(dataset):
            raise invalid("Selection.to_subset", f"{len(ids_of_dataset)} ids for {len(dataset)} items",
                          "pass one object id per dataset item")
        return Subset(dataset, self.indices_in(ids_of_dataset).tolist())


    def to_multimodal(self, dataset: Any, missing: str = "skip"):
        """The slice of a :class:`~astrolab.data.containers.MultimodalSet` (or any container) holding the selection.

        Parameters
        ----------
        dataset : MultimodalSet, ImageSet, SpectrumSet or LightCurveSet
            Container with ``.ids`` and position indexing (``dataset[int_array]``).
        missing : {"skip", "raise"}
            What to do with selected ids that the container lacks.

        Returns
        -------
        same type as ``dataset``
            Objects in the container's order (every modality sliced alike).
        """
        ids = getattr(dataset, "ids", None)
        if ids is None:
            raise invalid("Selection.to_multimodal", f"{type(dataset).__name__} has no .ids",
                          "pass an astrolab container (MultimodalSet, ImageSet, ...)")
        rows = self.indices_in(ids)
        if missing == "raise" and rows.size != self._ids.size:
            lost = np.setdiff1d(self._ids, np.asarray(ids))
            raise invalid(f"Selection {self.name!r}", f"{lost.size} id(s) are not in the dataset, e.g. "
                          f"{lost[:5].tolist()}", "select objects of this dataset, or use missing='skip'")
        return dataset[rows]


def _name(obj) -> str:
    return obj.name if isinstance(obj, Selection) else "ids"


def link(*panels: Any, selection: Selection | None = None) -> Selection:
    """Make panels share one :class:`Selection` (the first panel's, unless given).

    Parameters
    ----------
    *panels : objects with a ``selection_model`` attribute
        Typically the panels of :mod:`astrolab.widgets`.
    selection : Selection, optional
        The selection to share; defaults to the first panel's.

    Returns
    -------
    Selection
        The shared selection model.
    """
    if not panels and selection is None:
        raise invalid("link", "no panels given", "pass two or more panels")
    for p in panels:
        if not hasattr(p, "selection_model"):
            raise invalid("link", f"{type(p).__name__} has no selection_model", "pass astrolab panels")
    shared = selection if selection is not None else panels[0].selection_model
    current = shared.array
    for p in panels:
        if p.selection_model is not shared:
            p.selection_model = shared  # panels re-subscribe in their property setter
    if current.size:
        shared._notify(SelectionEvent(shared, current, current, None))
    return shared


class IdIndex:
    """Fast lookup of row positions from object ids (pure NumPy/pandas).

    Parameters
    ----------
    ids : array_like, shape (N,)
        Object id of every row (unique).

    Notes
    -----
    When the ids are the integers ``offset .. offset+N-1`` in order, lookups are
    plain arithmetic; otherwise a hash index (``pandas.Index``) is built once.
    """

    def __init__(self, ids: Any):
        self.ids = np.asarray(ids)
        self.n = self.ids.size
        self._offset = None
        self._index = None
        if self.n and self.ids.dtype.kind in "iu":
            first = int(self.ids[0])
            if int(self.ids[-1]) - first == self.n - 1 and np.all(np.diff(self.ids) == 1):
                self._offset = first

    def positions(self, ids: Any) -> np.ndarray:
        """Row positions (int64, shape (K',)) of those ``ids`` that are present, in the order given."""
        q = np.asarray(ids)
        if q.size == 0 or self.n == 0:
            return np.empty(0, dtype=np.int64)
        if self._offset is not None:
            if q.dtype.kind not in "iu":
                return np.empty(0, dtype=np.int64)
            pos = q.astype(np.int64) - self._offset
            return pos[(pos >= 0) & (pos < self.n)]
        if self._index is None:
            import pandas as pd

            self._index = pd.Index(self.ids)
        try:
            pos = self._index.get_indexer(q)
        except Exception:  # mixed types
            pos = self._index.get_indexer(q.astype(self.ids.dtype, copy=False))
        return pos[pos >= 0].astype(np.int64)

    def position(self, oid: Any) -> int | None:
        """Row position of one id, or ``None``."""
        pos = self.positions(np.asarray([oid]))
        return int(pos[0]) if pos.size else None

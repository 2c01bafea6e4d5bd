"""On-disk cache of archive answers, keyed by the query.

Layout (under ``astrolab.config.cache_dir() / "archives"``)::

    <archive>/<kind>/<label>-<key>.<ext>        the product (ECSV table or HDF5 container)
    <archive>/<kind>/<label>-<key>.json         metadata: query, sha256 and size of the product

``key`` is the first 24 hex digits of the SHA-256 of the canonical JSON of
``(archive, kind, query, CACHE_VERSION)``; ``label`` is a human-readable tag
built from object ids or positions and *sanitised* (only ``[A-Za-z0-9._-]``, no
leading dot, at most 48 characters), so that no id can ever name a path
outside the cache folder. Both files are written atomically
(:func:`astrolab.utils.atomic_path`), the metadata last: an interrupted write
leaves either the previous entry or no entry, never a half-written one that
is served. The SHA-256 recorded in the metadata is verified on every read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from astrolab.errors import ArchiveError

__all__ = ["ArchiveCache", "CacheEntry", "sanitize_id", "query_key", "is_offline", "CACHE_VERSION"]

#: Bump to invalidate every cached answer (changes every key).
CACHE_VERSION = 1

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sanitize_id(value: Any, max_len: int = 48) -> str:
    """Turn any object id into a safe file-name fragment.

    Parameters
    ----------
    value : object
        An object id, a position, a query label. ``str(value)`` is used.
    max_len : int
        Longest fragment returned (characters).

    Returns
    -------
    str
        Only ``A-Z a-z 0-9 . _ -``; path separators, ``..`` and control
        characters become ``_``; never empty, never starting with a dot.

    Examples
    --------
    >>> sanitize_id("../../etc/passwd")
    'etc_passwd'
    """
    text = _SAFE.sub("_", str(value))
    text = re.sub(r"\.{2,}", "_", text)        # no ".." anywhere
    text = re.sub(r"_+", "_", text).strip("._-")
    text = text[:max_len].strip("._-")
    return text or "x"


def query_key(archive: str, kind: str, query: dict) -> str:
    """SHA-256 (hex, 64 characters) of the canonical JSON of a query."""
    blob = json.dumps({"archive": archive, "kind": kind, "query": query, "v": CACHE_VERSION},
                      sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def is_offline(offline: bool | None = None) -> bool:
    """True when archives must not be contacted.

    Parameters
    ----------
    offline : bool, optional
        Explicit choice; ``None`` reads ``ASTROLAB_OFFLINE`` (1/true/yes/on).
    """
    if offline is not None:
        return bool(offline)
    return os.environ.get("ASTROLAB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class CacheEntry:
    """One cached archive answer: product file + metadata file.

    Attributes
    ----------
    archive, kind : str
        E.g. ``"SDSS"``, ``"photometry"``.
    query : dict
        The query (JSON-able) the key was computed from.
    path : pathlib.Path
        Product file (``.ecsv`` or ``.h5``).
    meta_path : pathlib.Path
        Metadata file (``.json``) holding the SHA-256 of ``path``.
    """

    archive: str
    kind: str
    query: dict
    path: Path
    meta_path: Path

    @property
    def describe(self) -> str:
        """Short text naming the query (for error messages)."""
        return json.dumps(self.query, sort_keys=True, default=str)

    def exists(self) -> bool:
        """True when both the product and its metadata are present."""
        return self.path.is_file() and self.meta_path.is_file()

    def verify(self) -> None:
        """Check the product against the SHA-256 in the metadata.

        Raises
        ------
        ArchiveError
            Missing metadata, unreadable metadata or checksum mismatch (the
            message names the file and says to delete it or refetch).
        """
        fix = "delete it (or call refresh=True / go online) so that it is fetched again"
        try:
            meta = json.loads(self.meta_path.read_text())
            want = meta["sha256"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ArchiveError(f"{self.archive} cache entry {self.meta_path}: metadata unreadable ({exc}). "
                               f"Fix: {fix}.") from None
        try:
            have = _sha256(self.path)
        except OSError as exc:
            raise ArchiveError(f"{self.archive} cache entry {self.path}: unreadable ({exc}). Fix: {fix}.") from None
        if have != want:
            raise ArchiveError(f"{self.archive} cache entry {self.path}: checksum mismatch (sha256 {have[:12]}... "
                               f"!= recorded {want[:12]}...), the file is corrupt or was modified. Fix: {fix}.")

    def load(self):
        """Verified product (astropy Table or astrolab container)."""
        self.verify()
        if self.path.suffix == ".ecsv":
            from astropy.table import Table

            return Table.read(self.path, format="ascii.ecsv")
        from astrolab.data.containers import load_container

        return load_container(self.path)

    def store(self, obj) -> None:
        """Write ``obj`` (Table, ImageSet, SpectrumSet) atomically with its checksum."""
        from astrolab.utils import atomic_path

        with atomic_path(self.path) as tmp:
            if self.path.suffix == ".ecsv":
                obj.write(tmp, format="ascii.ecsv", overwrite=True)
            else:
                obj.save(tmp)
            digest = _sha256(tmp)
            size = tmp.stat().st_size
        meta = {"archive": self.archive, "kind": self.kind, "query": self.query, "sha256": digest, "size": size,
                "file": self.path.name, "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "cache_version": CACHE_VERSION}
        with atomic_path(self.meta_path) as tmp:
            tmp.write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))

    def remove(self) -> None:
        """Delete the entry (both files); missing files are ignored."""
        for p in (self.meta_path, self.path):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


class ArchiveCache:
    """The archive cache folder (default ``cache_dir()/archives``).

    Parameters
    ----------
    root : path-like, optional
        Cache folder; default ``astrolab.config.cache_dir() / "archives"``.
    """

    def __init__(self, root=None):
        if root is None:
            from astrolab import config

            root = config.cache_dir() / "archives"
        self.root = Path(root).expanduser().resolve()

    def entry(self, archive: str, kind: str, query: dict, label: Any = "", ext: str = ".ecsv") -> CacheEntry:
        """The cache entry of a query (it may not exist yet).

        Parameters
        ----------
        archive, kind : str
            Archive name and product kind (sanitised into folder names).
        query : dict
            JSON-able description of the query; the key is its SHA-256.
        label : object
            Human-readable tag (an object id, a position); sanitised.
        ext : {".ecsv", ".h5"}
            Product format: ECSV for tables, HDF5 for astrolab containers.

        Raises
        ------
        ArchiveError
            If the resulting path would lie outside the cache folder (cannot
            happen with sanitised names; checked anyway).
        """
        key = query_key(archive, kind, query)[:24]
        folder = self.root / sanitize_id(archive.lower()) / sanitize_id(kind)
        stem = f"{sanitize_id(label)}-{key}" if str(label) else key
        path = (folder / f"{stem}{ext}").resolve()
        meta = (folder / f"{stem}.json").resolve()
        for p in (path, meta):
            if not p.is_relative_to(self.root):
                raise ArchiveError(f"{archive}: cache path {p} escapes the cache folder {self.root}. "
                                   "Fix: report this bug; use plain object ids.")
        return CacheEntry(archive, kind, dict(query), path, meta)

    def entries(self) -> list[Path]:
        """Metadata files of every cached answer (sorted)."""
        return sorted(self.root.rglob("*.json")) if self.root.exists() else []

    def get(self, entry: CacheEntry, offline: bool):
        """Serve ``entry`` from disk, or ``None`` on a miss.

        A corrupt entry is removed and treated as a miss when online (with a
        warning); offline it raises :class:`ArchiveError`.
        """
        if not entry.exists():
            return None
        try:
            return entry.load()
        except ArchiveError as exc:
            if offline:
                raise
            warnings.warn(f"{exc} Removing it and fetching again.", RuntimeWarning, stacklevel=3)
        except Exception as exc:  # unreadable despite a good checksum (format drift)
            if offline:
                raise ArchiveError(f"{entry.archive} cache entry {entry.path}: cannot be read "
                                   f"({type(exc).__name__}: {exc}). Fix: delete it and go online.") from None
            warnings.warn(f"{entry.path}: unreadable ({exc}); fetching again.", RuntimeWarning, stacklevel=3)
        entry.remove()
        return None

    def __repr__(self) -> str:
        return f"ArchiveCache({str(self.root)!r}, {len(self.entries())} entries)"

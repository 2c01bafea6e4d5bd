"""Shared machinery of the archive fetchers: cache-or-fetch, error wrapping, HTTP and FITS helpers."""

from __future__ import annotations

import io
import warnings
from typing import Callable

import numpy as np

from astrolab.errors import ArchiveError, AstrolabError, invalid

from astrolab.data.remote._cache import ArchiveCache, CacheEntry, is_offline

#: Default time limit (seconds) of one HTTP request to an archive.
DEFAULT_TIMEOUT = 60.0

_USER_AGENT = "astrolab (https://github.com/astrolab; astroquery)"


def _describe(entry: CacheEntry) -> str:
    return entry.describe if len(entry.describe) < 400 else entry.describe[:400] + "...}"


def archive_error(entry: CacheEntry, problem: str, fix: str | None = None) -> ArchiveError:
    """An :class:`ArchiveError` naming the archive, the query and the cache entry."""
    fix = fix or ("check the network and the archive's status page, retry later, or work offline "
                  "(ASTROLAB_OFFLINE=1) from the cache and the simulators")
    return ArchiveError(f"{entry.archive} ({entry.kind}): {problem}. Query: {_describe(entry)}. "
                        f"Cache: {entry.path} (not written). Fix: {fix}.")


def cached_fetch(entry: CacheEntry, fetch: Callable[[], object], *, offline: bool | None = None,
                 refresh: bool = False, cache: ArchiveCache | None = None):
    """Serve ``entry`` from the cache, else run ``fetch()`` and cache its product.

    Parameters
    ----------
    entry : CacheEntry
        Where the answer lives (from :meth:`ArchiveCache.entry`).
    fetch : callable
        Contacts the archive and returns the product (Table or container).
        Any exception it raises, except astrolab's own validation errors,
        becomes an :class:`ArchiveError` naming the archive, query and cache.
    offline : bool, optional
        Serve only from the cache (default: ``ASTROLAB_OFFLINE``).
    refresh : bool
        Ignore a cached answer and fetch again (not allowed offline).

    Raises
    ------
    ArchiveError
        Offline and not cached, cached entry corrupt while offline, or the
        archive did not answer / answered something unreadable.
    """
    cache = cache or ArchiveCache()
    off = is_offline(offline)
    if not refresh:
        hit = cache.get(entry, off)
        if hit is not None:
            return hit
    if off:
        raise ArchiveError(
            f"{entry.archive} ({entry.kind}): offline mode and this query is not in the cache. Query: "
            f"{_describe(entry)}. Cache: {entry.path} (missing). Fix: run once online (unset ASTROLAB_OFFLINE / "
            "offline=False) to fill the cache, or use astrolab's simulators instead.")
    try:
        product = fetch()
    except AstrolabError as exc:
        if isinstance(exc, ArchiveError) and "Query:" in str(exc):
            raise
        if isinstance(exc, ArchiveError):
            raise archive_error(entry, str(exc)) from exc
        raise
    except Exception as exc:  # timeouts, HTTP errors, truncated or malformed payloads
        raise archive_error(entry, _explain(exc)) from exc
    entry.store(product)
    return product


def _explain(exc: BaseException) -> str:
    import requests

    name = type(exc).__name__
    if isinstance(exc, requests.Timeout) or isinstance(exc, TimeoutError):
        return f"no answer in time ({name}: {exc})"
    if isinstance(exc, requests.HTTPError):
        code = getattr(getattr(exc, "response", None), "status_code", "?")
        return f"HTTP error {code} ({exc})"
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)) or \
            "IncompleteRead" in str(exc):
        return f"the reply was truncated or garbled in transit ({name}: {exc})"
    if isinstance(exc, requests.ConnectionError):
        return f"cannot connect ({name}: {exc})"
    return f"the archive's reply could not be read ({name}: {exc})"


# ----------------------------------------------------------------------------- HTTP


def with_timeout(session, timeout: float):
    """Give every request of a ``requests.Session`` a default ``timeout`` (seconds); returns the session."""
    if getattr(session, "_astrolab_timeout", None) == timeout:
        return session
    original = session.request

    def request(method, url, *args, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = timeout
        return original(method, url, *args, **kwargs)

    session.request = request
    session._astrolab_timeout = timeout
    return session


def http_get(url: str, params: dict | None = None, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """GET ``url`` and return the whole body; HTTP errors raise ``requests.HTTPError``."""
    import requests

    with requests.Session() as session:
        session.headers["User-Agent"] = _USER_AGENT
        response = session.get(url, params=params, timeout=timeout)
        response.raise_for_status()
        return response.content


def read_fits_bytes(content: bytes, what: str):
    """Open a FITS payload strictly: truncated or malformed files raise ``OSError``.

    Parameters
    ----------
    content : bytes
        The whole FITS file (possibly bzip2/gzip-compressed).
    what : str
        Name of the payload for messages.

    Returns
    -------
    astropy.io.fits.HDUList
        With every HDU's data loaded in memory.
    """
    import bz2
    import gzip

    from astropy.io import fits
    from astropy.utils.exceptions import AstropyUserWarning

    if content[:3] == b"BZh":
        try:
            content = bz2.decompress(content)
        except (OSError, EOFError, ValueError) as exc:
            raise OSError(f"{what}: bzip2 stream truncated or corrupt ({exc})") from None
    elif content[:2] == b"\x1f\x8b":
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError) as exc:
            raise OSError(f"{what}: gzip stream truncated or corrupt ({exc})") from None
    if not content.startswith(b"SIMPLE  ="):
        head = content[:60].decode("latin-1", "replace")
        raise OSError(f"{what}: not a FITS file (starts with {head!r})")
    if len(content) % 2880:
        raise OSError(f"{what}: {len(content)} bytes is not a whole number of 2880-byte FITS blocks (truncated)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", AstropyUserWarning)
        try:
            hdul = fits.open(io.BytesIO(content), memmap=False, lazy_load_hdus=False)
            for hdu in hdul:
                _ = hdu.data
        except (AstropyUserWarning, ValueError, TypeError, IndexError) as exc:
            raise OSError(f"{what}: malformed or truncated FITS ({type(exc).__name__}: {exc})") from None
    return hdul


# ------------------------------------------------------------------------- inputs


def positions(ra, dec, obj: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate sky positions: float arrays (N,) in degrees (Quantities converted)."""
    import astropy.units as u

    def deg(x, name):
        if isinstance(x, u.Quantity):
            try:
                x = x.to_value(u.deg)
            except u.UnitsError:
                raise invalid(f"{obj}({name}=...)", f"unit {x.unit} is not an angle", "pass degrees") from None
        try:
            arr = np.atleast_1d(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError):
            raise invalid(f"{obj}({name}=...)", f"not numbers: {x!r}", "pass positions in degrees") from None
        if arr.ndim != 1:
            raise invalid(f"{obj}({name}=...)", f"expected a scalar or 1-D array, got shape {arr.shape}",
                          "pass one value per object")
        if not np.all(np.isfinite(arr)):
            raise invalid(f"{obj}({name}=...)", "contains NaN or inf", "pass finite positions")
        return arr

    r, d = deg(ra, "ra"), deg(dec, "dec")
    if r.shape != d.shape:
        raise invalid(obj, f"ra has {r.size} values but dec has {d.size}", "pass one dec per ra")
    if r.size == 0:
        raise invalid(obj, "no position given", "pass at least one (ra, dec)")
    if np.any((d < -90) | (d > 90)):
        raise invalid(f"{obj}(dec=...)", "values outside [-90, 90] deg", "pass declinations in degrees")
    return np.mod(r, 360.0), d


def radius_deg(radius, obj: str, max_deg: float = 1.0) -> float:
    """Validate a search radius (Quantity or arcsec number) and return degrees."""
    import astropy.units as u

    if isinstance(radius, u.Quantity):
        try:
            value = float(radius.to_value(u.deg))
        except u.UnitsError:
            raise invalid(f"{obj}(radius=...)", f"unit {radius.unit} is not an angle", "pass e.g. 5 * u.arcsec") from None
    else:
        value = float(radius) / 3600.0
    if not np.isfinite(value) or value <= 0 or value > max_deg:
        raise invalid(f"{obj}(radius=...)", f"{value * 3600:.4g} arcsec is not in (0, {max_deg * 3600:.0f}] arcsec",
                      "pass a positive radius (plain numbers are arcsec)")
    return value


def pos_label(ra: float, dec: float) -> str:
    """File-name-friendly position tag, e.g. ``ra150.11921_dec+2.20584``."""
    return f"ra{ra:.5f}_dec{dec:+.5f}"


def ids_for(ids, n: int, obj: str) -> np.ndarray:
    """Validate user ids for N objects (default ``arange(N)``), unique."""
    from astrolab.data.containers import _as_ids

    return _as_ids(ids, n, f"{obj}(ids=...)")

"""astrolab.data.remote: fetch real archive data, cached on disk, usable offline.

Fetchers (each returns astrolab's canonical containers):

- SDSS (SkyServer via ``astroquery.sdss``): :func:`sdss_sql`, :func:`sdss_photometry`
  (ugriz + spec-z Table), :func:`sdss_spectra` (:class:`~astrolab.data.SpectrumSet`),
  :func:`sdss_cutouts` (:class:`~astrolab.data.ImageSet` from corrected frames);
- IRSA (TAP via ``astroquery.ipac.irsa``): :func:`irsa_catalog`, :func:`allwise`, :func:`unwise`;
- MAST (``astroquery.mast.Catalogs``): :func:`mast_catalog`, :func:`panstarrs` (PS1 DR2 mean),
  :func:`galex`;
- Legacy Surveys cutout service (HTTP FITS): :func:`legacy_cutouts`.

Every answer is cached under ``astrolab.config.cache_dir()/archives`` keyed by
the query (atomic writes, SHA-256 verified on read, sanitised file names; see
:mod:`astrolab.data.remote._cache`). ``ASTROLAB_OFFLINE=1`` (or ``offline=True``)
serves only from the cache. When an archive does not answer (time-out, HTTP
error, truncated or malformed reply) an :class:`astrolab.errors.ArchiveError`
names the archive, the query and the cache file; catch it to fall back to the
simulators (:func:`fetch_or_fallback` does exactly this)::

    from astrolab.errors import ArchiveError
    try:
        cat = remote.sdss_photometry(150.1, 2.2, radius=60)
    except ArchiveError as exc:
        print(exc); cat = load_dataset("galaxies_sim", survey="sdss")

:func:`crossmatch` joins catalogs from different archives by sky position.
"""

from __future__ import annotations

from astrolab.data.remote._cache import ArchiveCache, CacheEntry, is_offline, sanitize_id
from astrolab.data.remote.irsa import allwise, irsa_catalog, unwise
from astrolab.data.remote.legacy import legacy_cutouts
from astrolab.data.remote.mast import galex, mast_catalog, panstarrs
from astrolab.data.remote.sdss import sdss_cutouts, sdss_photometry, sdss_spectra, sdss_sql
from astrolab.data.remote.workflow import Sourced, crossmatch, fetch_or_fallback

__all__ = [
    "sdss_sql", "sdss_photometry", "sdss_spectra", "sdss_cutouts",
    "irsa_catalog", "allwise", "unwise",
    "mast_catalog", "panstarrs", "galex",
    "legacy_cutouts",
    "ArchiveCache", "CacheEntry", "is_offline", "sanitize_id",
    "fetch_or_fallback", "Sourced", "crossmatch",
]

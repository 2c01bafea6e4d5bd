"""DESI Legacy Imaging Surveys: FITS cutouts from the viewer's cutout service (HTTP)."""

from __future__ import annotations

import numpy as np

from astrolab.errors import invalid

from astrolab.data.remote._cache import ArchiveCache
from astrolab.data.remote._core import DEFAULT_TIMEOUT, cached_fetch, http_get, ids_for, pos_label, positions, read_fits_bytes

__all__ = ["legacy_cutouts", "LEGACY_CUTOUT_URL"]

ARCHIVE = "LegacySurvey"
#: The cutout service (FITS flavour).
LEGACY_CUTOUT_URL = "https://www.legacysurvey.org/viewer/fits-cutout"


def legacy_cutouts(ra, dec, size: int = 64, *, bands: str = "griz", layer: str = "ls-dr10", pixscale: float = 0.262,
                   ids=None, offline: bool | None = None, refresh: bool = False, timeout: float = DEFAULT_TIMEOUT):
    """Legacy Survey image cutouts (coadds in nanomaggies), as an :class:`ImageSet`.

    Parameters
    ----------
    ra, dec : float or array (N,) [deg]
        Cutout centres.
    size : int
        Side in pixels (8 to 512).
    bands : str
        Band letters, e.g. ``"griz"`` (DR10 south) or ``"grz"``.
    layer : str
        Viewer layer, e.g. ``"ls-dr10"``, ``"ls-dr9"``.
    pixscale : float
        Arcsec per pixel (0.262 is native).
    ids : array (N,), optional
        Object ids (default ``arange(N)``), used (sanitised) in cache names.
    offline, refresh, timeout
        Cache-only mode, forced refetch, seconds allowed per request. Each
        object is cached separately.

    Returns
    -------
    astrolab.data.ImageSet
        images (N, B, size, size) [nanomaggies], mask True where a band has no
        data (all-zero plane or non-finite pixel), ``pixel_scale`` = pixscale.

    Raises
    ------
    astrolab.errors.ArchiveError
        The service did not answer, answered an HTTP error or a file that is
        not a complete FITS cube of the requested shape, or offline and not cached.
    """
    from astrolab.data.containers import ImageSet

    r, d = positions(ra, dec, "legacy_cutouts")
    size = int(size)
    if not 8 <= size <= 512:
        raise invalid("legacy_cutouts(size=...)", f"{size} pixels", "use 8 to 512 pixels")
    if not isinstance(bands, str) or not bands or not set(bands) <= set("grizY") or len(set(bands)) != len(bands):
        raise invalid("legacy_cutouts(bands=...)", f"{bands!r}", "pass distinct letters from 'griz', e.g. 'griz'")
    pixscale = float(pixscale)
    if not 0.05 <= pixscale <= 10:
        raise invalid("legacy_cutouts(pixscale=...)", f"{pixscale} arcsec/pixel", "use 0.262 (native) or similar")
    obj_ids = ids_for(ids, r.size, "legacy_cutouts")
    cache = ArchiveCache()
    images = np.zeros((r.size, len(bands), size, size), dtype=np.float32)
    masks = np.ones_like(images, dtype=bool)
    for k in range(r.size):
        params = {"ra": f"{r[k]:.7f}", "dec": f"{d[k]:.7f}", "layer": layer, "pixscale": pixscale,
                  "bands": bands, "size": size}
        entry = cache.entry(ARCHIVE, layer, params, label=f"{obj_ids[k]}_{pos_label(r[k], d[k])}", ext=".h5")

        def fetch(params=params):
            hdul = read_fits_bytes(http_get(LEGACY_CUTOUT_URL, params=params, timeout=timeout),
                                   f"Legacy Survey cutout at ({params['ra']}, {params['dec']})")
            cube = np.asarray(hdul[0].data, dtype=np.float64)
            if cube.ndim == 2:
                cube = cube[None]
            if cube.shape != (len(bands), size, size):
                raise ValueError(f"cutout has shape {cube.shape}, expected {(len(bands), size, size)}")
            header = hdul[0].header
            got = [str(header.get(f"BAND{b}", bands[b])).strip() for b in range(len(bands))]
            if sorted(got) != sorted(bands):
                raise ValueError(f"cutout bands {got} differ from the requested {list(bands)}")
            cube = cube[[got.index(b) for b in bands]]
            bad = ~np.isfinite(cube) | np.all(cube == 0, axis=(1, 2), keepdims=True)
            return ImageSet(np.where(bad, 0.0, cube)[None].astype(np.float32), bands=list(bands),
                            pixel_scale=pixscale, mask=bad[None], survey=f"Legacy Surveys {layer}")

        one = cached_fetch(entry, fetch, offline=offline, refresh=refresh, cache=cache)
        images[k] = one.images[0]
        masks[k] = one.mask[0]
    return ImageSet(images, bands=list(bands), pixel_scale=pixscale, mask=masks, ids=obj_ids,
                    survey=f"Legacy Surveys {layer}")

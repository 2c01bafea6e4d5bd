"""Loader for the GalaxiesML HDF5 files (Do et al. 2024, Zenodo 10.5281/zenodo.11117528).

Expected layout (one file per split, e.g. ``5x64x64_training_with_morphology.hdf5``), all datasets
with the object axis first, N rows:

=========================  ===============  ==========================================
dataset                    shape / dtype    meaning
=========================  ===============  ==========================================
``image``                  (N, 5, H, W) f   HSC PDR2 cutouts g, r, i, z, y (0.168″/px),
                                            channels first, H = W = 64 or 127
``specz_redshift``         (N,) f           spectroscopic redshift (the label)
``<b>_cmodel_mag``         (N,) f           cmodel magnitude [AB mag], b in g r i z y
``<b>_cmodel_magerr``      (N,) f           its error [mag] (optional; also ``<b>_cmodel_magsigma``)
``object_id``              (N,) int         HSC object id (optional; default 0..N−1)
any other 1-D dataset      (N,)             kept as a catalog column (ra, dec, morphology ...)
=========================  ===============  ==========================================

The names follow the public files and ``astrodatalab/galaxiesml_examples``; pass
``columns=`` to map other names. Check a new file with ``h5py.File(path).keys()``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from astrolab.errors import invalid

__all__ = ["load_galaxiesml", "GALAXIESML_BANDS", "GALAXIESML_PIXEL_SCALE"]

GALAXIESML_BANDS = ("g", "r", "i", "z", "y")
GALAXIESML_PIXEL_SCALE = 0.168  #: HSC pixel scale [arcsec/pixel]


def load_galaxiesml(path, n: int | None = None, start: int = 0, images: bool = True, columns: dict | None = None):
    """Read a GalaxiesML HDF5 file into a :class:`~astrolab.data.MultimodalSet`.

    Parameters
    ----------
    path : path-like
        HDF5 file in the layout of the module docstring.
    n : int, optional
        Number of rows to read (default: all from ``start``).
    start : int
        First row.
    images : bool
        Read the cutouts (False: catalog only, much faster).
    columns : dict, optional
        Name overrides, e.g. ``{"image": "images", "specz_redshift": "z_spec"}`` (expected name -> name in file).

    Returns
    -------
    astrolab.data.MultimodalSet
        ``catalog`` (astropy Table): ``object_id``, ``redshift``, ``g`` ... ``y``
        [mag], ``g_err`` ... ``y_err`` [mag] when present, plus every other 1-D
        dataset; ``images``: :class:`~astrolab.data.ImageSet` (N, 5, H, W),
        bands g r i z y, pixel scale 0.168″, survey ``"hsc"``.

    Raises
    ------
    astrolab.errors.DataValidationError
        Missing file, missing required dataset (the message lists what the file holds), wrong shapes.
    """
    import h5py
    from astropy import units as u
    from astropy.table import Table

    from astrolab.data.containers import ImageSet, MultimodalSet

    path = Path(path)
    if not path.exists():
        raise invalid(f"GalaxiesML file {path}", "does not exist", "download it from Zenodo 10.5281/zenodo.11117528")
    names = {k: k for k in ["image", "specz_redshift", "object_id"]}
    names.update(columns or {})
    with h5py.File(path, "r") as f:
        keys = list(f.keys())

        def key(expected):
            return names.get(expected, expected)

        need = [key("specz_redshift")] + [key(f"{b}_cmodel_mag") for b in GALAXIESML_BANDS]
        if images:
            need.append(key("image"))
        missing = [k for k in need if k not in f]
        if missing:
            raise invalid(f"GalaxiesML file {path.name}", f"has no dataset(s) {missing}; it holds {keys[:30]}",
                          "pass columns={expected_name: name_in_file} or images=False")
        total = len(f[key("specz_redshift")])
        stop = total if n is None else min(total, int(start) + int(n))
        if not 0 <= start < max(stop, 1):
            raise invalid("load_galaxiesml(start=...)", f"start={start} for {total} rows", "pick a row inside the file")
        sl = slice(int(start), stop)
        cat = Table()
        ids = np.asarray(f[key("object_id")][sl]) if key("object_id") in f else np.arange(sl.start, sl.stop)
        cat["object_id"] = ids.astype(np.int64)
        cat["redshift"] = np.asarray(f[key("specz_redshift")][sl], float)
        for b in GALAXIESML_BANDS:
            cat[b] = np.asarray(f[key(f"{b}_cmodel_mag")][sl], float) * u.mag
            for err in (f"{b}_cmodel_magerr", f"{b}_cmodel_magsigma"):
                if key(err) in f:
                    cat[f"{b}_err"] = np.asarray(f[key(err)][sl], float) * u.mag
                    break
        used = set(need) | {key("object_id")} | {key(f"{b}_cmodel_mag{s}") for b in GALAXIESML_BANDS
                                                  for s in ("err", "sigma")}
        for k in keys:
            d = f[k]
            if k in used or not isinstance(d, h5py.Dataset) or d.ndim != 1 or len(d) != total:
                continue
            if d.dtype.kind in "biuf":
                cat[k] = np.asarray(d[sl])
        imgs = None
        if images:
            arr = np.asarray(f[key("image")][sl], dtype=np.float32)
            if arr.ndim != 4 or arr.shape[1] != 5:
                if arr.ndim == 4 and arr.shape[-1] == 5:
                    arr = np.transpose(arr, (0, 3, 1, 2))
                else:
                    raise invalid(f"GalaxiesML dataset {key('image')!r}", f"shape {arr.shape}",
                                  "expected (N, 5, H, W) cutouts in g r i z y")
            bad = ~np.isfinite(arr)
            imgs = ImageSet(np.where(bad, 0.0, arr), bands=list(GALAXIESML_BANDS), pixel_scale=GALAXIESML_PIXEL_SCALE,
                            mask=bad, ids=cat["object_id"].data.copy(), survey="hsc")
    cat.meta["origin"] = f"GalaxiesML ({path.name}), Do et al. 2024"
    return MultimodalSet(cat, images=imgs)

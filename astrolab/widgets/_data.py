"""Read-only adapters from astrolab containers (and plain tables) to arrays for the panels.

Duck-typed on the documented container API (``ImageSet``, ``SpectrumSet``,
``LightCurveSet``, ``MultimodalSet`` of :mod:`astrolab.data.containers`), so that the
panels also accept astropy Tables, pandas and dask DataFrames.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from astrolab.errors import invalid
from astrolab.selection import IdIndex

MODALITIES = ("images", "spectra", "lightcurves")


def _is_dask(obj) -> bool:
    return hasattr(obj, "dask") and hasattr(obj, "compute")


def to_frame(catalog: Any, where: str, id_column: str = "object_id"):
    """(pandas or dask DataFrame with an ``object_id`` column, ids array) from a catalog-like object."""
    import pandas as pd

    if catalog is None:
        return None, None
    if hasattr(catalog, "colnames"):  # astropy Table
        cols = [c for c in catalog.colnames if getattr(catalog[c], "ndim", 1) == 1]
        frame = catalog[cols].to_pandas(index=False)
    elif _is_dask(catalog):
        frame = catalog
    elif isinstance(catalog, pd.DataFrame):
        frame = catalog
    elif isinstance(catalog, dict):
        frame = pd.DataFrame({k: v for k, v in catalog.items() if np.ndim(v) == 1})
    else:
        raise invalid(where, f"got {type(catalog).__name__}",
                      "pass an astropy Table, a pandas/dask DataFrame or a dict of 1-D arrays")
    if id_column not in frame.columns:
        if _is_dask(frame):
            raise invalid(where, f"the dask DataFrame has no '{id_column}' column",
                          f"add an '{id_column}' column of unique ids")
        frame = frame.copy()
        frame.insert(0, id_column, np.arange(len(frame)))
    ids = frame[id_column]
    ids = np.asarray(ids.compute() if _is_dask(frame) else ids)
    return frame, ids


def container_ids(container: Any) -> np.ndarray:
    """Object ids of a container (``.ids``, else ``arange(len)``)."""
    ids = getattr(container, "ids", None)
    if ids is None:
        return np.arange(len(container))
    return np.asarray(ids)


def modality(dataset: Any, name: str):
    """The sub-container ``name`` ("images", "spectra", "lightcurves") of ``dataset``, or None."""
    kind = {"images": "ImageSet", "spectra": "SpectrumSet", "lightcurves": "LightCurveSet"}[name]
    if type(dataset).__name__ == kind or (name == "images" and hasattr(dataset, "images") and
                                          hasattr(dataset, "bands") and not hasattr(dataset, "catalog")
                                          and np.ndim(getattr(dataset, "images")) == 4):
        return dataset
    if name == "spectra" and hasattr(dataset, "wavelength") and hasattr(dataset, "flux"):
        return dataset
    if name == "lightcurves" and hasattr(dataset, "object") and hasattr(dataset, "n_points"):
        return dataset
    present = getattr(dataset, "modalities", None)
    if present is not None and name not in present:
        return None
    return getattr(dataset, name, None)


class ModalityReader:
    """Per-object access to images, spectra and light curves of a dataset.

    Parameters
    ----------
    dataset : MultimodalSet, ImageSet, SpectrumSet, LightCurveSet or None
    """

    def __init__(self, dataset: Any):
        self.parts = {m: modality(dataset, m) for m in MODALITIES} if dataset is not None else \
            dict.fromkeys(MODALITIES)
        self._index = {m: IdIndex(container_ids(c)) for m, c in self.parts.items() if c is not None}

    def available(self) -> list[str]:
        """Modalities present in the dataset."""
        return [m for m, c in self.parts.items() if c is not None]

    def position(self, name: str, oid: Any):
        idx = self._index.get(name)
        return None if idx is None else idx.position(oid)

    def images(self, oid: Any):
        """``(cube (B, H, W) float, bands list)`` of object ``oid``, or None."""
        c = self.parts["images"]
        i = self.position("images", oid)
        if c is None or i is None:
            return None
        cube = np.asarray(c.images[i], dtype=np.float64)
        if cube.ndim == 2:
            cube = cube[None]
        bands = list(getattr(c, "bands", None) or [str(b) for b in range(cube.shape[0])])
        return cube, [str(b) for b in bands]

    def spectrum(self, oid: Any):
        """``dict(wave (L,) Å, flux (L,), ivar (L,) or None, z)`` of object ``oid``, or None."""
        c = self.parts["spectra"]
        i = self.position("spectra", oid)
        if c is None or i is None:
            return None
        wave = np.asarray(c.wavelength, dtype=np.float64)
        if wave.ndim == 2:
            wave = wave[i]
        flux = np.asarray(c.flux[i], dtype=np.float64)
        ivar = getattr(c, "ivar", None)
        ivar = None if ivar is None else np.asarray(ivar[i], dtype=np.float64)
        mask = getattr(c, "mask", None)
        if mask is not None and ivar is not None:
            ivar = np.where(np.asarray(mask[i]).astype(bool), 0.0, ivar)
        z = getattr(c, "redshift", None)
        z = None if z is None else float(np.asarray(z)[i])
        return {"wave": wave, "flux": flux, "ivar": ivar, "z": z}

    def lightcurve(self, oid: Any):
        """``dict(t, y, err, band (M,) arrays, kind)`` of object ``oid``, or None (also when empty)."""
        c = self.parts["lightcurves"]
        i = self.position("lightcurves", oid)
        if c is None or i is None:
            return None
        return lightcurve_arrays(c, i)


def lightcurve_arrays(lcs: Any, i: int):
    """Arrays of the ``i``-th light curve of a ``LightCurveSet``-like object, or None when empty."""
    kind = getattr(lcs, "kind", "flux")
    if hasattr(lcs, "object"):
        tab = lcs.object(i)
        cols = tab.colnames if hasattr(tab, "colnames") else list(tab.columns)

        def col(*names):
            for n in names:
                if n in cols:
                    return np.asarray(tab[n])
            return None

        t = col("mjd", "time", "t")
        y = col("value", "flux", "mag")
        e = col("error", "err", "flux_err", "mag_err")
        b = col("band", "filter")
    else:
        t = np.asarray(lcs.times[i])
        y = np.asarray(lcs.values[i])
        e = None if getattr(lcs, "errors", None) is None else np.asarray(lcs.errors[i])
        b = None if getattr(lcs, "bands", None) is None else np.asarray(lcs.bands[i])
    if t is None or y is None or len(t) == 0:
        return None
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    e = np.zeros_like(y) if e is None else np.asarray(e, dtype=np.float64)
    b = np.full(t.shape, "all") if b is None or np.ndim(b) == 0 else np.asarray(b).astype(str)
    return {"t": t, "y": y, "err": e, "band": b, "kind": kind}

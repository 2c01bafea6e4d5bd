"""astrolab.data: canonical data containers and catalog helpers.

Every loader and simulator produces one of the containers below; see
:mod:`astrolab.data.containers` for the shared behaviour (ids, indexing,
``select_ids``, HDF5 ``save``/``load``, ``to_torch_dataset``).

This package imports numpy, astropy and h5py only; torch is imported inside
the ``to_torch_dataset`` methods.
"""

from __future__ import annotations

from astrolab.data.catalog import magnitude_columns, require_units, validate_catalog
from astrolab.data.containers import ImageSet, LightCurveSet, MultimodalSet, SpectrumSet, load_container

__all__ = [
    "ImageSet",
    "SpectrumSet",
    "LightCurveSet",
    "MultimodalSet",
    "load_container",
    "validate_catalog",
    "require_units",
    "magnitude_columns",
]

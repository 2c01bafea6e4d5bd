"""astrolab: explore astronomical data, train models and read results in Jupyter.

Heavy dependencies (torch, lightning, holoviews, umap) are imported lazily, so
``import astrolab`` stays fast. Public names:

- :func:`load_dataset`, :func:`list_datasets` -- bundled and simulated data;
- :class:`PhotometricRedshift` -- scikit-learn-style photo-z estimator;
- :mod:`astrolab.config` -- folders, device, seeds, FAST mode;
- the widget classes in :mod:`astrolab.widgets`.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access)
_LAZY = {
    "PhotometricRedshift": "astrolab.photoz.estimator",
    "GyroFlow": "astrolab.gyro",
    "TemplateFitter": "astrolab.photoz.oracle",
    "RedshiftPDF": "astrolab.metrics.pdf",
    "load_dataset": "astrolab.data.registry",
    "list_datasets": "astrolab.data.registry",
    "ImageSet": "astrolab.data.containers",
    "SpectrumSet": "astrolab.data.containers",
    "LightCurveSet": "astrolab.data.containers",
    "MultimodalSet": "astrolab.data.containers",
    "DataBrowser": "astrolab.widgets",
    "TrainingPanel": "astrolab.widgets",
    "PDFExplorer": "astrolab.widgets",
    "EmbeddingExplorer": "astrolab.widgets",
    "LightCurveViewer": "astrolab.widgets",
    "CalibrationDashboard": "astrolab.widgets",
    "save_session": "astrolab.session",
    "load_session": "astrolab.session",
    "CigarsInference": "astrolab.sbi_cigars",
}
_SUBMODULES = {"config", "errors", "data", "sim", "models", "train", "metrics", "photoz", "viz", "widgets", "cli",
               "gyro", "selection", "reproduce", "session", "export", "sbi_cigars", "trimodal", "autoencoders"}

__all__ = ["__version__", *_LAZY, *sorted(_SUBMODULES)]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"astrolab.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'astrolab' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

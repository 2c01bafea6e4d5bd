"""Plot builders for astrolab (holoviews + bokeh, datashader for large point sets).

- :mod:`astrolab.viz.compute` -- pure NumPy/astropy helpers (stretches, smoothing,
  phase folding, Lomb-Scargle, PCA/UMAP embeddings, selection geometry, rasterising);
- :mod:`astrolab.viz.plots` -- holoviews builders (``scatter_points``, ``pdf_curves``, ...);
- :mod:`astrolab.viz.live` -- bokeh figures updated in place, used by the panels.

:func:`enable_inline` makes holoviews/bokeh use inline resources (BokehJS from
the installed packages, never a CDN); every panel calls it on creation.
"""

from __future__ import annotations

import importlib
import os

__all__ = [
    "enable_inline",
    "scatter_points",
    "pdf_curves",
    "pit_histogram",
    "coverage_plot",
    "image_cutouts",
    "rgb_composite",
    "spectrum_plot",
    "lightcurve_plot",
    "phase_fold_plot",
    "periodogram_plot",
    "loss_curves",
    "DATASHADE_THRESHOLD",
    "compute",
    "live",
    "plots",
]

_INLINE_DONE = False


def enable_inline(notebook: bool | None = None) -> None:
    """Use inline BokehJS resources and the bokeh backend of holoviews (idempotent).

    Sets ``BOKEH_RESOURCES=inline`` (bokeh never fetches BokehJS from a CDN),
    selects holoviews' bokeh backend, and -- inside a Jupyter kernel -- loads
    the holoviews notebook extension with ``inline=True``. Widgets made by
    :mod:`astrolab.widgets` travel through ``jupyter_bokeh``, whose front-end
    bundles BokehJS, so they need no network either.

    Parameters
    ----------
    notebook : bool, optional
        Force (True) or skip (False) the notebook extension; default: only when
        running in an IPython kernel.
    """
    global _INLINE_DONE
    if _INLINE_DONE:
        return
    os.environ["BOKEH_RESOURCES"] = "inline"
    from bokeh.settings import settings

    settings.resources.set_value("inline")
    import holoviews as hv

    if notebook is None:
        try:
            from IPython import get_ipython

            ip = get_ipython()
            notebook = ip is not None and getattr(ip, "kernel", None) is not None
        except Exception:  # pragma: no cover
            notebook = False
    if notebook:
        try:
            hv.extension("bokeh", logo=False, inline=True)
        except Exception:  # pragma: no cover - never break a panel for the static extension
            pass
    else:
        import holoviews.plotting.bokeh  # noqa: F401  (registers the backend)

        hv.Store.set_current_backend("bokeh")
    _INLINE_DONE = True


_PLOTS = {"scatter_points", "pdf_curves", "pit_histogram", "coverage_plot", "image_cutouts", "rgb_composite",
          "spectrum_plot", "lightcurve_plot", "phase_fold_plot", "periodogram_plot", "loss_curves",
          "DATASHADE_THRESHOLD"}


def __getattr__(name):
    if name in _PLOTS:
        return getattr(importlib.import_module("astrolab.viz.plots"), name)
    if name in ("compute", "live", "plots"):
        return importlib.import_module(f"astrolab.viz.{name}")
    raise AttributeError(f"module 'astrolab.viz' has no attribute {name!r}")

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
    """Use inline BokehJS and panel resources and the bokeh backend of holoviews (idempotent).

    Sets ``BOKEH_RESOURCES=inline`` (bokeh never fetches BokehJS from a CDN),
    selects holoviews' bokeh backend, and -- inside a Jupyter kernel -- loads
    the holoviews notebook extension with ``inline=True``. Widgets made by
    :mod:`astrolab.widgets` travel through ``jupyter_bokeh``, whose front-end
    bundles BokehJS, so they need no network either.

    It also sets ``panel.config.inline = True`` and installs a panel
    preprocessing hook that swaps the stylesheets panel links from
    ``cdn.holoviz.org`` (``css/loading.css``, ``css/listpanel.css``,
    ``bundled/theme/default.css``, ``bundled/theme/native.css``) for inline
    copies from the installed panel package. Without it a holoviews object
    displayed as the last expression of a cell (holoviews' own display hook,
    which renders through panel but ignores ``inline``) makes the browser fetch
    those four files from the CDN -- and ``BOKEH_RESOURCES=inline`` is what
    makes panel pick the CDN for them. Offline machines (HPC nodes) need neither.

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
    _inline_panel_resources()
    if notebook:
        try:
            hv.extension("bokeh", logo=False, inline=True)
        except Exception:  # pragma: no cover - never break a panel for the static extension
            pass
    else:
        import holoviews.plotting.bokeh  # noqa: F401  (registers the backend)

        hv.Store.set_current_backend("bokeh")
    _INLINE_DONE = True


def _inline_panel_resources() -> None:
    """``panel.config.inline = True`` and the stylesheet hook (see :func:`enable_inline`)."""
    try:
        import panel as pn
        from panel.viewable import Viewable
    except Exception:  # pragma: no cover - panel comes with holoviews
        return
    pn.config.inline = True
    hooks = Viewable._preprocessing_hooks
    if _inline_stylesheets_hook not in hooks:
        hooks.append(_inline_stylesheets_hook)


def _inline_stylesheets_hook(viewable, root) -> None:
    """panel preprocessing hook: CDN stylesheets of ``root``'s models -> inline copies.

    Runs on every model panel renders (``get_root``: holoviews' notebook display,
    ``pn.panel``, panel's ipywidgets); does nothing unless ``panel.config.inline``.
    A stylesheet with no local copy is left as it is.
    """
    try:
        import panel as pn

        if not pn.config.inline:
            return
        from bokeh.models import UIElement
        from panel.io.notebook import patch_inline_stylesheets

        for model in root.select({"type": UIElement}):
            patch_inline_stylesheets(model)
    except Exception:  # pragma: no cover - never break a plot for its styling
        pass


_PLOTS = {"scatter_points", "pdf_curves", "pit_histogram", "coverage_plot", "image_cutouts", "rgb_composite",
          "spectrum_plot", "lightcurve_plot", "phase_fold_plot", "periodogram_plot", "loss_curves",
          "DATASHADE_THRESHOLD"}


def __getattr__(name):
    if name in _PLOTS:
        return getattr(importlib.import_module("astrolab.viz.plots"), name)
    if name in ("compute", "live", "plots"):
        return importlib.import_module(f"astrolab.viz.{name}")
    raise AttributeError(f"module 'astrolab.viz' has no attribute {name!r}")

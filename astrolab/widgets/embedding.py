"""EmbeddingExplorer: a 2-D map of latent vectors with box/lasso/tap selection."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import numpy as np

from astrolab.errors import invalid
from astrolab.selection import IdIndex, Selection
from astrolab.viz import compute
from astrolab.viz.live import RasterScatter
from astrolab.widgets._base import Panel, bokeh_widget, guarded
from astrolab.widgets._data import _is_dask, to_frame

__all__ = ["EmbeddingExplorer"]


def _as_array(latents, where):
    if hasattr(latents, "detach"):
        latents = latents.detach().cpu().numpy()
    try:
        arr = np.asarray(latents, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise invalid(where, f"cannot convert {type(latents).__name__} to a float array ({exc})",
                      "pass a (N, D) NumPy array or torch tensor of latent vectors") from exc
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] < 1:
        raise invalid(where, f"has shape {arr.shape}", "pass a (N, D) array with N >= 1 objects and D >= 1")
    return arr


class EmbeddingExplorer(Panel):
    """2-D map (PCA or UMAP) of latent vectors; box/lasso/tap selections feed linked views.

    Parameters
    ----------
    latents : array_like or torch.Tensor, shape (N, D), or tuple of two column names
        Latent vectors of N objects. With D == 2 they are drawn as they are; else
        projected with ``method`` (computed on request, cached by input hash,
        see :func:`astrolab.viz.compute.embed`). A tuple ``("x", "y")`` takes the
        coordinates from those columns of ``catalog`` (e.g. a dask DataFrame too
        large for memory: it is rasterised out of core by datashader).
    catalog : astropy.table.Table, pandas.DataFrame or dask.dataframe.DataFrame, optional
        N rows, same order as ``latents``, with an ``object_id`` column (row
        numbers otherwise).
    color_by : str, optional
        Catalog column colouring the points.
    method : {"pca", "umap"}
        Projection used when D > 2 (UMAP is only computed when asked, with the
        "Compute" button or :meth:`compute_embedding`; PCA initially).
    selection : astrolab.selection.Selection, optional
        Shared selection model.
    threshold : int
        Above this many points the map is rasterised server-side (datashader).
    width, height : int
        Plot size in screen pixels.

    Attributes
    ----------
    plot : astrolab.viz.live.RasterScatter
        The map; ``plot.source`` / ``plot.select_target`` are the bokeh sources.
    plot_widget : jupyter_bokeh.BokehModel
        The widget showing it (CSS class ``astrolab-plot-embedding``).
    coords : numpy.ndarray, shape (N, 2)
        Current 2-D coordinates.
    ids : numpy.ndarray, shape (N,)
        Object ids, row-aligned with ``coords``.
    """

    _css_name = "astrolab-embedding"

    def __init__(self, latents: Any, catalog: Any = None, color_by: str | None = None, *, method: str = "pca",
                 selection: Selection | None = None, threshold: int = 50_000, width: int = 560,
                 height: int = 460, title: str = "Embedding"):
        super().__init__(selection=selection, title=title)
        self._frame, ids = to_frame(catalog, "EmbeddingExplorer(catalog=...)")
        self._dask_coords = None
        if isinstance(latents, tuple) and len(latents) == 2 and all(isinstance(c, str) for c in latents):
            if self._frame is None:
                raise invalid("EmbeddingExplorer(latents=(x, y))", "column names given without a catalog",
                              "pass catalog=<DataFrame with those columns>")
            xcol, ycol = latents
            for c in (xcol, ycol):
                if c not in self._frame.columns:
                    raise invalid("EmbeddingExplorer(latents=...)", f"catalog has no column {c!r}",
                                  f"use columns among {list(self._frame.columns)[:10]}")
            xs, ys = self._frame[xcol], self._frame[ycol]
            if _is_dask(self._frame):
                import dask

                xs, ys = dask.compute(xs, ys)
                self._dask_coords = (xcol, ycol)
            self.latents = np.column_stack([np.asarray(xs), np.asarray(ys)]).astype(np.float32)
        else:
            self.latents = _as_array(latents, "EmbeddingExplorer(latents=...)")
        n = self.latents.shape[0]
        if ids is None:
            ids = np.arange(n)
        if len(ids) != n:
            raise invalid("EmbeddingExplorer(catalog=...)", f"has {len(ids)} rows but latents has {n}",
                          "pass one catalog row per latent vector, in the same order")
        if method not in ("pca", "umap"):
            raise invalid("EmbeddingExplorer(method=...)", f"unknown method {method!r}", "use 'pca' or 'umap'")
        if color_by is not None and (self._frame is None or color_by not in self._frame.columns):
            raise invalid("EmbeddingExplorer(color_by=...)", f"no catalog column {color_by!r}",
                          "pass the name of a catalog column, or color_by=None")
        self.ids = np.asarray(ids)
        self._index = IdIndex(self.ids)
        self.threshold = int(threshold)
        self._size = (int(width), int(height))
        self.color_by = color_by
        self.method = "identity" if self.latents.shape[1] <= 2 else "pca"

        self.method_dd = W.Dropdown(options=["pca", "umap"], value="pca" if method == "pca" else "umap",
                                    description="method", layout=W.Layout(width="160px"),
                                    disabled=self.latents.shape[1] <= 2)
        self.compute_btn = W.Button(description="Compute", tooltip="compute the selected projection",
                                    layout=W.Layout(width="90px"), disabled=self.latents.shape[1] <= 2)
        self.compute_btn.add_class("astrolab-compute")
        color_opts = [None] + ([] if self._frame is None else
                               [c for c in self._frame.columns if c != "object_id"])
        self.color_dd = W.Dropdown(options=color_opts, value=color_by, description="colour",
                                   layout=W.Layout(width="220px"))
        self.clear_btn = W.Button(description="Clear selection", layout=W.Layout(width="130px"))
        self.clear_btn.add_class("astrolab-clear")
        self.count = W.HTML("")
        self.count.add_class("astrolab-count")
        self.compute_btn.on_click(lambda _b: self.compute_embedding(self.method_dd.value))
        self.color_dd.observe(self._on_color, names="value")
        self.clear_btn.on_click(lambda _b: self._publish(None))
        self.plot_box = W.Box()
        self.children = [self.title, W.HBox([self.method_dd, self.compute_btn, self.color_dd, self.clear_btn]),
                         self.plot_box, W.HBox([self.count]), self.status]
        coords = compute.embed(self.latents, "pca") if self.latents.shape[1] > 2 else self.latents
        self._build(coords)
        self._ready = True
        self._on_selection(self.selection_model.array, None)

    # --------------------------------------------------------------- drawing
    def _color_values(self):
        if self.color_by is None or self._frame is None:
            return None
        col = self._frame[self.color_by]
        return np.asarray(col.compute() if _is_dask(self._frame) else col)

    def _build(self, coords):
        coords = np.asarray(coords, dtype=np.float64)
        if coords.shape[1] == 1:
            coords = np.column_stack([coords[:, 0], np.zeros(len(coords))])
        self.coords = coords
        x, y = coords[:, 0], coords[:, 1]
        finite = compute.finite_xy(x, y)
        frame = None
        if self._dask_coords is not None and self.method == "identity":
            frame = self._frame
        labels = {"identity": ("x", "y"), "pca": ("PC1", "PC2"), "umap": ("UMAP1", "UMAP2")}[self.method]
        self.plot = RasterScatter(x, y, frame=frame, x_col=self._dask_coords[0] if frame is not None else "x",
                                  y_col=self._dask_coords[1] if frame is not None else "y",
                                  color_by=self._color_values(), threshold=self.threshold,
                                  title=f"{self.method.upper()} map of {len(x):,} objects", x_label=labels[0],
                                  y_label=labels[1], width=self._size[0], height=self._size[1], ids=self.ids,
                                  tooltips=[("object", "@object_id")])
        self.plot.on_select(self._on_plot_select)
        self.plot_widget = bokeh_widget(self.plot.figure, "embedding")
        self.plot_box.children = [self.plot_widget]
        if not finite.any():
            self.show_message("No object has finite coordinates: nothing to draw. Check the latents for NaN.",
                              "error")
        elif not finite.all():
            self.show_message(f"{int((~finite).sum()):,} of {len(x):,} objects have NaN coordinates and are "
                              "not drawn.", "warning")
        else:
            self.clear_message()
        self.plot.show_selected(self._index.positions(self.selection_model.array))

    @property
    def rasterized(self) -> bool:
        """True when the map is datashaded (more than ``threshold`` points)."""
        return self.plot.rasterized

    @guarded
    def compute_embedding(self, method: str = "umap", **kwargs) -> np.ndarray:
        """Compute (or fetch from cache) the ``method`` projection and redraw.

        Parameters
        ----------
        method : {"pca", "umap"}
            Projection; see :func:`astrolab.viz.compute.embed`.
        **kwargs
            Passed to :func:`astrolab.viz.compute.embed` (e.g. ``n_neighbors``).

        Returns
        -------
        numpy.ndarray, shape (N, 2)
        """
        if self.latents.shape[1] <= 2:
            self.show_message("The latents are already 2-D; nothing to compute.", "info")
            return self.coords
        self.show_message(f"Computing {method.upper()} of {len(self.latents):,} vectors ...", "info")
        coords = compute.embed(self.latents, method, **kwargs)
        self.method = method
        self._build(coords)
        self.show_message(f"{method.upper()} map ready.", "ok")
        return coords

    @guarded
    def _on_color(self, change):
        self.color_by = change["new"]
        self._build(self.coords)

    # ------------------------------------------------------------- selection
    def _on_plot_select(self, idx):
        self._publish(self.ids[idx])

    def select_box(self, x0: float, x1: float, y0: float, y1: float):
        """Select the points inside a box (data units), as a box-select in the browser would."""
        return self.plot.select_geometry({"type": "rect", "x0": x0, "x1": x1, "y0": y0, "y1": y1})

    def select_lasso(self, xs, ys):
        """Select the points inside a polygon (data units), as a lasso in the browser would."""
        return self.plot.select_geometry({"type": "poly", "x": list(xs), "y": list(ys)})

    def _on_selection(self, ids, source):
        pos = self._index.positions(ids)
        if source is not self:
            self.plot.show_selected(pos)
        missing = len(ids) - pos.size
        text = f"{pos.size:,} selected" if len(ids) else "nothing selected (box, lasso or tap to select)"
        if missing > 0:
            text += f" ({missing:,} selected ids are not in this map)"
        self.count.value = f"<span>{text}</span>"

"""Bokeh figures that are updated in place (the plots inside the panels).

Each class here owns one bokeh figure (``.figure``) and its
``ColumnDataSource`` objects, and has an ``update(...)`` method that replaces
the sources' data. Panels wrap ``.figure`` in ``jupyter_bokeh.BokehModel`` once;
afterwards every ``update`` travels to the browser as a small document patch
over the Jupyter comm (no re-render, no bokeh server).

Why not re-render a holoviews element on every change? ``hv.render`` of an
overlay costs ~0.1-0.5 s, too slow for linked views; the holoviews builders
of :mod:`astrolab.viz.plots` are used for static figures and for users.

No widget library is imported here; science comes from
:mod:`astrolab.viz.compute`.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from astrolab.viz import compute

__all__ = ["PALETTE", "RasterScatter", "CurvesView", "LinesView", "HistView", "ErrorPointsView",
           "ImageGridView", "new_figure"]

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
SELECTED_COLOR = "#e6550d"


def new_figure(title: str = "", x_label: str = "", y_label: str = "", width: int = 420, height: int = 300,
               tools: str = "pan,wheel_zoom,box_zoom,reset,save", **kwargs):
    """A bokeh ``figure`` with astrolab defaults (sizes in screen pixels)."""
    from bokeh.plotting import figure

    fig = figure(title=title, width=width, height=height, tools=tools, **kwargs)
    fig.xaxis.axis_label = x_label
    fig.yaxis.axis_label = y_label
    fig.toolbar.logo = None
    return fig


class RasterScatter:
    """Scatter plot that switches to server-side datashader rasterisation above a threshold.

    Parameters
    ----------
    x, y : array_like, shape (N,)
        Coordinates (data units). NaN points are drawn nowhere and never selected.
    frame : pandas.DataFrame or dask.dataframe.DataFrame, optional
        Alternative source of the points for rasterisation (columns ``x_col``,
        ``y_col``); with dask the raster is aggregated out of core.
    color_by : array_like, shape (N,), optional
        Values colouring the points (numeric: mean per pixel; categorical: per class).
    threshold : int
        Above this many points the plot is an ``image_rgba`` recomputed by datashader
        whenever the plot's ranges change (:class:`bokeh.events.RangesUpdate`);
        at or below it, a plain ``scatter`` glyph.
    title, x_label, y_label : str
        Figure labels.
    width, height : int
        Figure size (screen pixels); the raster has the same size.
    overlay_max : int
        Selected points are drawn as a scatter overlay up to this many, as a
        rasterised overlay above.

    Attributes
    ----------
    figure : bokeh.plotting.figure
    rasterized : bool
        True when datashading is on.
    source : bokeh.models.ColumnDataSource
        The points (scatter mode) -- its ``selected.indices`` carries the browser
        selection -- or the image (raster mode).
    overlay_source : bokeh.models.ColumnDataSource
        Selected points drawn on top (scatter overlay).
    select_target : bokeh.models.ColumnDataSource
        The source the select tools act on (``source`` in scatter mode, an empty
        source in raster mode, where selection is resolved from the
        :class:`bokeh.events.SelectionGeometry` event server-side).
    """

    def __init__(self, x: Any, y: Any, *, frame: Any = None, x_col: str = "x", y_col: str = "y",
                 color_by: Any = None, threshold: int = 50_000, title: str = "", x_label: str = "x",
                 y_label: str = "y", width: int = 520, height: int = 420, overlay_max: int = 20_000,
                 point_size: float = 4.0, tooltips: Sequence | None = None, ids: Any = None):
        from bokeh.events import RangesUpdate, SelectionGeometry, Tap
        from bokeh.models import (BoxSelectTool, ColumnDataSource, HoverTool, LassoSelectTool, Range1d,
                                  TapTool)

        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        self.n = self.x.size
        self.frame = frame
        self.x_col, self.y_col = x_col, y_col
        self.color_by = None if color_by is None else np.asarray(color_by)
        self.threshold = int(threshold)
        self.overlay_max = int(overlay_max)
        self.width, self.height = int(width), int(height)
        self.rasterized = self.n > self.threshold or (frame is not None and hasattr(frame, "dask"))
        self._callbacks: list[Callable] = []
        self._quiet = False
        self.selected = np.empty(0, dtype=np.int64)
        self.n_renders = 0
        finite = compute.finite_xy(self.x, self.y) if self.n else np.zeros(0, bool)
        self.n_nan = int(self.n - finite.sum())
        if frame is not None and hasattr(frame, "dask"):
            xr, yr = compute._data_extent(frame, x_col, y_col)
        elif finite.any():
            xr, yr = compute._data_extent({"x": self.x[finite], "y": self.y[finite]}, "x", "y")
        else:
            xr, yr = (0.0, 1.0), (0.0, 1.0)
        self.full_range = (xr, yr)
        fig = new_figure(title, x_label, y_label, width, height,
                         tools="pan,wheel_zoom,box_zoom,reset,save",
                         x_range=Range1d(*xr), y_range=Range1d(*yr))
        self.figure = fig
        self.overlay_source = ColumnDataSource({"x": [], "y": [], "index": []})
        if self.rasterized:
            self.source = ColumnDataSource({"image": [np.zeros((1, 1), np.uint32)], "x": [xr[0]], "y": [yr[0]],
                                            "dw": [xr[1] - xr[0]], "dh": [yr[1] - yr[0]]})
            fig.image_rgba(image="image", x="x", y="y", dw="dw", dh="dh", source=self.source)
            self.sel_image_source = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []})
            fig.image_rgba(image="image", x="x", y="y", dw="dw", dh="dh", source=self.sel_image_source)
            self.select_target = ColumnDataSource({"x": [], "y": []})
            target = fig.scatter("x", "y", source=self.select_target, size=0, alpha=0)
            self._render_raster(xr, yr)
            fig.on_event(RangesUpdate, self._on_ranges)
            fig.on_event(SelectionGeometry, self._on_geometry)
            fig.on_event(Tap, self._on_tap)
        else:
            data = {"x": self.x, "y": self.y, "index": np.arange(self.n)}
            if ids is not None:
                data["object_id"] = np.asarray(ids)
            colors = self._point_colors()
            if colors is not None:
                data["color"] = colors
            self.source = ColumnDataSource(data)
            target = fig.scatter("x", "y", source=self.source, size=point_size,
                                 color="color" if colors is not None else PALETTE[0], alpha=0.6,
                                 selection_color=SELECTED_COLOR, selection_alpha=0.9,
                                 nonselection_alpha=0.25)
            self.select_target = self.source
            self.source.selected.on_change("indices", self._on_indices)
            if tooltips:
                fig.add_tools(HoverTool(renderers=[target], tooltips=list(tooltips)))
        fig.scatter("x", "y", source=self.overlay_source, size=point_size + 1, color=SELECTED_COLOR,
                    alpha=0.9)
        box = BoxSelectTool(renderers=[target])
        lasso = LassoSelectTool(renderers=[target])
        tap = TapTool(renderers=[target])
        fig.add_tools(box, lasso, tap)
        fig.toolbar.active_drag = box
        self.box_select, self.lasso_select, self.tap_tool = box, lasso, tap

    # ---------------------------------------------------------------- drawing
    def _point_colors(self):
        c = self.color_by
        if c is None:
            return None
        if c.dtype.kind in "fiu":
            v = c.astype(np.float64)
            lo, hi = np.nanpercentile(v, [1, 99]) if np.isfinite(v).any() else (0.0, 1.0)
            t = np.clip((v - lo) / ((hi - lo) or 1.0), 0, 1)
            t = np.where(np.isfinite(t), t, 0)
            pal = compute._VIRIDIS
            return np.asarray(pal)[np.round(t * (len(pal) - 1)).astype(int)]
        cats, inv = np.unique(c.astype(str), return_inverse=True)
        return np.asarray(PALETTE)[inv % len(PALETTE)]

    def _frame(self):
        if self.frame is not None:
            return self.frame
        import pandas as pd

        cols = {self.x_col: self.x, self.y_col: self.y}
        if self.color_by is not None:
            cols["_c"] = self.color_by if self.color_by.dtype.kind in "fiu" else \
                pd.Categorical(self.color_by.astype(str))
        self.frame = pd.DataFrame(cols)
        return self.frame

    def _render_raster(self, xr, yr):
        frame = self._frame()
        cb = "_c" if (self.color_by is not None and "_c" in getattr(frame, "columns", [])) else None
        rgba, xr, yr = compute.rasterize_points(frame, self.x_col, self.y_col, xr, yr, self.width,
                                                self.height, color_by=cb)
        self.source.data = {"image": [rgba], "x": [xr[0]], "y": [yr[0]], "dw": [xr[1] - xr[0]],
                            "dh": [yr[1] - yr[0]]}
        self._current_range = (xr, yr)
        self.n_renders += 1
        if self.selected.size > self.overlay_max:
            self._draw_selected_raster()

    def _draw_selected_raster(self):
        import pandas as pd

        xr, yr = self._current_range
        idx = self.selected
        sub = pd.DataFrame({"x": self.x[idx], "y": self.y[idx]})
        rgba, _, _ = compute.rasterize_points(sub, "x", "y", xr, yr, self.width, self.height,
                                              color=SELECTED_COLOR, how="linear")
        self.sel_image_source.data = {"image": [rgba], "x": [xr[0]], "y": [yr[0]], "dw": [xr[1] - xr[0]],
                                      "dh": [yr[1] - yr[0]]}

    def set_range(self, x_range, y_range) -> None:
        """Zoom to a data range (as a browser pan/zoom would) and re-rasterise."""
        self.figure.x_range.start, self.figure.x_range.end = map(float, x_range)
        self.figure.y_range.start, self.figure.y_range.end = map(float, y_range)
        if self.rasterized:
            self._render_raster(tuple(map(float, x_range)), tuple(map(float, y_range)))

    def _on_ranges(self, event):
        vals = (event.x0, event.x1, event.y0, event.y1)
        if any(v is None for v in vals):
            return
        self._render_raster((event.x0, event.x1), (event.y0, event.y1))

    # -------------------------------------------------------------- selection
    def on_select(self, callback: Callable[[np.ndarray], Any]) -> None:
        """Call ``callback(indices)`` (int64 row positions, shape (K,)) when the user selects."""
        self._callbacks.append(callback)

    def _emit(self, idx):
        for cb in list(self._callbacks):
            cb(np.asarray(idx, dtype=np.int64))

    def _on_indices(self, attr, old, new):
        if self._quiet:
            return
        idx = np.asarray(new, dtype=np.int64)
        self._draw_overlay(idx, from_source=True)
        self._emit(idx)

    def select_geometry(self, geometry: dict) -> np.ndarray:
        """Resolve a bokeh selection geometry server-side and emit the selection.

        Parameters
        ----------
        geometry : dict
            As in :class:`bokeh.events.SelectionGeometry`: ``{"type": "rect", "x0", "x1",
            "y0", "y1"}``, ``{"type": "poly", "x": [...], "y": [...]}`` or
            ``{"type": "point", "x", "y"}`` (data units).

        Returns
        -------
        numpy.ndarray, shape (K,)
            Selected row positions.
        """
        kind = geometry.get("type")
        if kind == "rect":
            idx = compute.points_in_box(self.x, self.y, geometry["x0"], geometry["x1"], geometry["y0"],
                                        geometry["y1"])
        elif kind == "poly":
            idx = compute.points_in_polygon(self.x, self.y, geometry["x"], geometry["y"])
        elif kind == "point":
            i = self._nearest(geometry["x"], geometry["y"])
            idx = np.empty(0, np.int64) if i is None else np.array([i], np.int64)
        else:
            return self.selected
        self._draw_overlay(idx)
        self._emit(idx)
        return idx

    def _nearest(self, px, py):
        xr, yr = getattr(self, "_current_range", self.full_range)
        sx = (xr[1] - xr[0]) / self.width
        sy = (yr[1] - yr[0]) / self.height
        return compute.nearest_point(self.x, self.y, px, py, sx, sy, max_distance=10.0)

    def _on_geometry(self, event):
        if not getattr(event, "final", True):
            return
        self.select_geometry(dict(event.geometry))

    def _on_tap(self, event):
        if event.x is None or event.y is None:
            return
        self.select_geometry({"type": "point", "x": event.x, "y": event.y})

    def show_selected(self, idx: Any) -> None:
        """Draw a selection made elsewhere (row positions, shape (K,)) without emitting."""
        self._draw_overlay(np.asarray(idx, dtype=np.int64))

    def _draw_overlay(self, idx, from_source=False):
        idx = np.asarray(idx, dtype=np.int64)
        self.selected = idx
        if not self.rasterized:
            if not from_source:
                self._quiet = True
                try:
                    self.source.selected.indices = idx.tolist()
                finally:
                    self._quiet = False
            return
        if idx.size <= self.overlay_max:
            self.overlay_source.data = {"x": self.x[idx], "y": self.y[idx], "index": idx}
            if len(self.sel_image_source.data["image"]):
                self.sel_image_source.data = {"image": [], "x": [], "y": [], "dw": [], "dh": []}
        else:
            if len(self.overlay_source.data["x"]):
                self.overlay_source.data = {"x": [], "y": [], "index": []}
            self._draw_selected_raster()


class CurvesView:
    """Several curves in one ``multi_line`` glyph plus vertical truth markers.

    Parameters
    ----------
    title, x_label, y_label : str
        Figure labels.
    width, height : int
        Screen pixels.

    Notes
    -----
    :meth:`update` takes ``xs`` (list of (M_k,) arrays), ``ys`` (same shapes),
    ``truths`` (list of float or None, one per curve) and ``labels``.
    """

    def __init__(self, title="", x_label="", y_label="", width=420, height=300):
        from bokeh.models import ColumnDataSource, HoverTool

        self.figure = new_figure(title, x_label, y_label, width, height)
        self.source = ColumnDataSource({"xs": [], "ys": [], "color": [], "label": []})
        self.truth_source = ColumnDataSource({"x": [], "y0": [], "y1": [], "color": []})
        r = self.figure.multi_line("xs", "ys", color="color", source=self.source, line_width=1.6)
        self.figure.segment("x", "y0", "x", "y1", color="color", source=self.truth_source, line_dash="dashed",
                            line_width=1.5)
        self.figure.add_tools(HoverTool(renderers=[r], tooltips=[("object", "@label")]))

    def update(self, xs, ys, truths=None, labels=None):
        """Replace the curves (see class notes); returns the number drawn."""
        n = len(xs)
        colors = [PALETTE[i % len(PALETTE)] for i in range(n)]
        labels = [str(v) for v in (labels if labels is not None else range(n))]
        self.source.data = {"xs": [np.asarray(v, float) for v in xs], "ys": [np.asarray(v, float) for v in ys],
                            "color": colors, "label": labels}
        tx, c = [], []
        top = max([float(np.nanmax(v)) for v in ys if np.size(v) and np.isfinite(v).any()] or [1.0])
        if truths is not None:
            for i, t in enumerate(truths):
                if t is not None and np.isfinite(t):
                    tx.append(float(t))
                    c.append(colors[i])
        self.truth_source.data = {"x": tx, "y0": [0.0] * len(tx), "y1": [top] * len(tx), "color": c}
        return n


class LinesView:
    """Named lines (loss curves, coverage, periodogram, spectrum) updated in place.

    Parameters
    ----------
    names : sequence of str
        Line names, in legend order (more are added on first update).
    title, x_label, y_label : str
        Figure labels.
    y_axis_type : {"linear", "log"}
        Y scale.
    """

    def __init__(self, names=(), title="", x_label="", y_label="", width=420, height=300,
                 y_axis_type="linear", dashed=(), legend=True):
        from bokeh.models import ColumnDataSource

        self.figure = new_figure(title, x_label, y_label, width, height, y_axis_type=y_axis_type)
        self._cds = ColumnDataSource
        self.sources: dict[str, Any] = {}
        self._dashed = set(dashed)
        self._legend = None
        if legend:
            # one Legend made here and given a new items list per line: bokeh's legend_label= appends to
            # the existing list in place, whose change notification iterates the list's owner set and
            # raised "Set changed size during iteration" while a linked view serialised the document
            from bokeh.models import Legend

            self._legend = Legend(items=[], location="top_right", click_policy="hide")
            self.figure.add_layout(self._legend)
        for name in names:
            self._add(name)

    def _add(self, name, color=None):
        src = self._cds({"x": [], "y": []})
        color = color or PALETTE[len(self.sources) % len(PALETTE)]
        renderer = self.figure.line("x", "y", source=src, color=color, line_width=2,
                                    line_dash="dashed" if name in self._dashed else "solid")
        if self._legend is not None:
            from bokeh.models import LegendItem

            self._legend.items = [*self._legend.items, LegendItem(label=str(name), renderers=[renderer])]
        self.sources[name] = src
        return src

    def update(self, name: str, x, y, color=None) -> None:
        """Replace the data of line ``name`` (created on first use); ``x``, ``y`` shape (M,)."""
        src = self.sources.get(name) or self._add(name, color)
        src.data = {"x": np.asarray(x, dtype=np.float64), "y": np.asarray(y, dtype=np.float64)}

    def data(self, name):
        """The (x, y) arrays of line ``name``."""
        d = self.sources[name].data
        return np.asarray(d["x"]), np.asarray(d["y"])


class HistView:
    """Step histograms (e.g. PIT of all objects vs of the selection), density-normalised.

    Parameters
    ----------
    names : sequence of str
        Histogram names (first drawn filled, the others as outlines).
    """

    def __init__(self, names=("all", "selection"), title="", x_label="", y_label="density", width=420,
                 height=300):
        from bokeh.models import ColumnDataSource

        self.figure = new_figure(title, x_label, y_label, width, height)
        self.sources = {}
        for i, name in enumerate(names):
            src = ColumnDataSource({"left": [], "right": [], "top": []})
            color = PALETTE[0] if i == 0 else SELECTED_COLOR
            self.figure.quad(left="left", right="right", bottom=0, top="top", source=src,
                             fill_alpha=0.35 if i == 0 else 0.0, fill_color=color, line_color=color,
                             line_width=1 if i == 0 else 2.5, legend_label=name)
            self.sources[name] = src
        self.figure.legend.location = "top_right"

    def update(self, name, edges, density) -> None:
        """Replace histogram ``name``: ``edges`` shape (B+1,), ``density`` shape (B,)."""
        edges = np.asarray(edges, dtype=np.float64)
        self.sources[name].data = {"left": edges[:-1], "right": edges[1:],
                                   "top": np.asarray(density, dtype=np.float64)}


class ErrorPointsView:
    """Points with vertical error bars, coloured by group (light curves per band).

    :meth:`update` takes ``x``, ``y``, ``err`` (shape (M,)) and ``group`` (shape
    (M,), str); ``invert_y`` for magnitudes.
    """

    def __init__(self, title="", x_label="", y_label="", width=520, height=300):
        from bokeh.models import ColumnDataSource, HoverTool

        self.figure = new_figure(title, x_label, y_label, width, height)
        self.source = ColumnDataSource({"x": [], "y": [], "lo": [], "hi": [], "group": [], "color": []})
        self.figure.segment("x", "lo", "x", "hi", color="color", source=self.source, alpha=0.6)
        r = self.figure.scatter("x", "y", color="color", source=self.source, size=5, legend_field="group")
        self.figure.add_tools(HoverTool(renderers=[r], tooltips=[("band", "@group"), ("x", "@x"), ("y", "@y")]))
        self.figure.legend.location = "top_right"

    def update(self, x, y, err=None, group=None, invert_y=False) -> None:
        """Replace the points (see class docstring)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        e = np.zeros_like(y) if err is None else np.asarray(err, dtype=np.float64)
        g = np.full(x.shape, "all") if group is None else np.asarray(group).astype(str)
        groups = sorted(set(g.tolist()))
        cmap = {b: PALETTE[i % len(PALETTE)] for i, b in enumerate(groups)}
        self.source.data = {"x": x, "y": y, "lo": y - e, "hi": y + e, "group": g,
                            "color": np.asarray([cmap[b] for b in g.tolist()], dtype=object)}
        self.figure.y_range.flipped = bool(invert_y)


class ImageGridView:
    """A row of images (bands and an RGB composite) in one figure.

    :meth:`update` takes a list of (H, W) float images in [0, 1] (grey) or
    (H, W, 3) uint8 (RGB), and their labels.
    """

    def __init__(self, title="", width=600, height=170):
        from bokeh.models import ColumnDataSource

        self.figure = new_figure(title, "", "", width, height, tools="pan,wheel_zoom,reset,save",
                                 match_aspect=True)
        self.figure.axis.visible = False
        self.figure.grid.visible = False
        self.source = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []})
        self.label_source = ColumnDataSource({"x": [], "y": [], "text": [], "top": []})
        self.figure.image_rgba(image="image", x="x", y="y", dw="dw", dh="dh", source=self.source)
        self.figure.text("x", "y", text="text", source=self.label_source, text_font_size="10pt",
                         text_color="#333333")
        # an invisible point above each label: the auto range covers anchors only, not the text height,
        # so without it the band names were clipped at the top of the figure
        self.figure.scatter("x", "top", source=self.label_source, alpha=0.0, size=1)

    @staticmethod
    def _to_rgba(img):
        img = np.asarray(img)
        if img.ndim == 2:
            v = np.nan_to_num(img, nan=0.0)
            g = np.clip(np.round(v * 255), 0, 255).astype(np.uint32)
            packed = g | (g << 8) | (g << 16) | (np.uint32(255) << 24)
        else:
            rgb = img.astype(np.uint32)
            packed = rgb[..., 0] | (rgb[..., 1] << 8) | (rgb[..., 2] << 16) | (np.uint32(255) << 24)
        return np.ascontiguousarray(packed[::-1].astype(np.uint32))  # bokeh rows go bottom-up

    def update(self, images, labels) -> None:
        """Replace the images (see class docstring)."""
        imgs, xs, ws, hs = [], [], [], []
        x = 0.0
        for img in images:
            h, w = np.asarray(img).shape[:2]
            imgs.append(self._to_rgba(img))
            xs.append(x)
            ws.append(float(w))
            hs.append(float(h))
            x += w * 1.08
        self.source.data = {"image": imgs, "x": xs, "y": [0.0] * len(imgs), "dw": ws, "dh": hs}
        self.label_source.data = {"x": xs, "y": [h + 1.0 for h in hs], "text": [str(s) for s in labels],
                                  "top": [1.25 * h + 2.0 for h in hs]}

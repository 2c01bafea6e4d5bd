"""DataBrowser: catalog table with filters, and the selected object's cutouts, spectrum and light curve."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import numpy as np

from astrolab.errors import invalid
from astrolab.selection import IdIndex, Selection
from astrolab.viz import compute
from astrolab.viz.live import ErrorPointsView, ImageGridView, LinesView
from astrolab.widgets._base import Panel, bokeh_widget, guarded, placeholder
from astrolab.widgets._data import MODALITIES, ModalityReader, _is_dask, container_ids, to_frame

__all__ = ["DataBrowser", "DEFAULT_LINES"]

#: Rest-frame wavelengths (Å) of common lines marked on spectra.
DEFAULT_LINES = {"Lyα": 1215.67, "C IV": 1549.06, "Mg II": 2798.75, "[O II]": 3727.09, "Hδ": 4101.74,
                 "Hγ": 4340.47, "Hβ": 4861.33, "[O III]": 5006.84, "Mg b": 5175.3, "Na D": 5892.9,
                 "Hα": 6562.80, "[S II]": 6716.44, "Ca K": 3933.66, "Ca H": 3968.47}


class DataBrowser(Panel):
    """Browse a catalog: filters, sort, id search; cutouts, spectrum and light curve of one object.

    Parameters
    ----------
    dataset : MultimodalSet, ImageSet, SpectrumSet, LightCurveSet, astropy.table.Table or pandas.DataFrame
        The objects. A ``MultimodalSet`` gives its catalog and modalities; a single
        container gives a catalog of its ids; a table gives the catalog alone.
    selection : astrolab.selection.Selection, optional
        Shared selection model. Clicking table rows selects those objects.
    max_rows : int
        Most rows shown in the table (filters and sort apply to all rows).
    max_filters : int
        Most numeric columns that get a range slider.

    Attributes
    ----------
    frame : pandas.DataFrame
        The full catalog (``object_id`` first).
    view_rows : numpy.ndarray, shape (K,)
        Catalog row positions shown in the table, in display order.
    table_source : bokeh.models.ColumnDataSource
        The table's data; ``table_source.selected.indices`` are the highlighted
        table rows (synced both ways with the browser).
    current_id : object id or None
        Object whose cutouts/spectrum/light curve are shown.
    """

    _css_name = "astrolab-databrowser"

    def __init__(self, dataset: Any, *, selection: Selection | None = None, max_rows: int = 500,
                 max_filters: int = 6, title: str = "Data browser"):
        super().__init__(selection=selection, title=title)
        catalog = getattr(dataset, "catalog", None)
        if catalog is None and (hasattr(dataset, "colnames") or hasattr(dataset, "columns")
                                or isinstance(dataset, dict)):
            catalog, dataset_parts = dataset, None
        else:
            dataset_parts = dataset
        if catalog is None:
            try:
                ids = container_ids(dataset)
            except TypeError as exc:
                raise invalid("DataBrowser(dataset=...)", f"got {type(dataset).__name__}",
                              "pass a MultimodalSet, an ImageSet/SpectrumSet/LightCurveSet or a catalog "
                              "table") from exc
            import pandas as pd

            catalog = pd.DataFrame({"object_id": ids})
        frame, ids = to_frame(catalog, "DataBrowser(dataset=...)")
        if _is_dask(frame):
            raise invalid("DataBrowser(dataset=...)", "a dask DataFrame cannot be browsed row by row",
                          "pass a pandas DataFrame (e.g. a filtered .compute()) or use EmbeddingExplorer")
        self.frame = frame.reset_index(drop=True)
        self.ids = np.asarray(ids)
        self._index = IdIndex(self.ids)
        self.reader = ModalityReader(dataset_parts) if dataset_parts is not None else ModalityReader(None)
        self.max_rows = int(max_rows)
        self.current_id = None
        self._quiet = False

        # ---- controls
        self.search = W.Text(placeholder="object id", description="find", layout=W.Layout(width="220px"),
                             continuous_update=False)
        self.search.add_class("astrolab-search")
        cols = list(self.frame.columns)
        self.sort_dd = W.Dropdown(options=cols, value="object_id", description="sort by",
                                  layout=W.Layout(width="220px"))
        self.sort_desc = W.ToggleButton(value=False, description="descending", layout=W.Layout(width="100px"))
        self.only_selected = W.Checkbox(value=False, description="only selected", indent=False)
        self.only_selected.add_class("astrolab-only-selected")
        self.filters: dict[str, W.Widget] = {}
        for c in cols:
            if c == "object_id" or len(self.filters) >= max_filters:
                continue
            col = self.frame[c]
            if col.dtype.kind in "fiu":
                v = col.to_numpy(dtype=np.float64)
                v = v[np.isfinite(v)]
                if v.size and v.min() < v.max():
                    lo, hi = float(v.min()), float(v.max())
                    self.filters[c] = W.FloatRangeSlider(value=(lo, hi), min=lo, max=hi, step=(hi - lo) / 200,
                                                         description=str(c), continuous_update=False,
                                                         readout_format=".3g", layout=W.Layout(width="360px"))
            elif col.dtype.kind in "OUSb" or str(col.dtype) == "category":
                cats = sorted(set(map(str, col.tolist())))
                if 1 < len(cats) <= 30:
                    self.filters[c] = W.SelectMultiple(options=cats, value=tuple(cats), description=str(c),
                                                       rows=min(4, len(cats)), layout=W.Layout(width="240px"))
        for w in self.filters.values():
            w.observe(lambda ch: self.refresh_table(), names="value")
            w.add_class("astrolab-filter")
        self.sort_dd.observe(lambda ch: self.refresh_table(), names="value")
        self.sort_desc.observe(lambda ch: self.refresh_table(), names="value")
        self.only_selected.observe(lambda ch: self.refresh_table(), names="value")
        self.search.observe(lambda ch: self.find(ch["new"]), names="value")

        # ---- table
        from bokeh.models import ColumnDataSource, DataTable, NumberFormatter, TableColumn

        self.table_source = ColumnDataSource({c: [] for c in cols})
        columns = [TableColumn(field=c, title=str(c), formatter=NumberFormatter(format="0.[0000]"))
                   if self.frame[c].dtype.kind == "f" else TableColumn(field=c, title=str(c)) for c in cols]
        self.table = DataTable(source=self.table_source, columns=columns, width=620, height=260,
                               selectable=True, index_position=None, sortable=True)
        self.table_source.selected.on_change("indices", self._on_table_select)
        self.table_info = W.HTML("")
        self.table_info.add_class("astrolab-table-info")

        # ---- detail views
        self.stretch = W.ToggleButtons(options=list(compute.STRETCHES), value="asinh", description="stretch")
        self.stretch.add_class("astrolab-stretch")
        self.smoothing = W.FloatSlider(value=0.0, min=0.0, max=10.0, step=0.5, description="smooth (px)",
                                       continuous_update=False)
        self.show_lines = W.Checkbox(value=True, description="line markers", indent=False)
        self.stretch.observe(lambda ch: self._draw_images(), names="value")
        self.smoothing.observe(lambda ch: self._draw_spectrum(), names="value")
        self.show_lines.observe(lambda ch: self._draw_spectrum(), names="value")
        self.image_view = ImageGridView("cutouts", 620, 170)
        self.spectrum_view = LinesView(("flux", "smoothed"), "spectrum", "observed wavelength (Å)", "flux",
                                       620, 260)
        from bokeh.models import ColumnDataSource as CDS

        self.line_source = CDS({"x": [], "y0": [], "y1": [], "name": []})
        self.spectrum_view.figure.segment("x", "y0", "x", "y1", source=self.line_source, color="gray",
                                          line_dash="dotted")
        self.spectrum_view.figure.text("x", "y1", text="name", source=self.line_source, text_font_size="8pt",
                                       angle=1.5708, text_color="gray")
        self.lc_view = ErrorPointsView("light curve", "MJD (days)", "value", 620, 240)
        self.header = W.HTML("")
        self.header.add_class("astrolab-current")
        self._boxes = {m: W.Box() for m in MODALITIES}
        self._plots = {"images": bokeh_widget(self.image_view.figure, "cutouts"),
                       "spectra": bokeh_widget(self.spectrum_view.figure, "spectrum"),
                       "lightcurves": bokeh_widget(self.lc_view.figure, "lightcurve")}
        filter_box = W.HBox(list(self.filters.values()), layout=W.Layout(flex_flow="row wrap"))
        self.children = [
            self.title,
            W.HBox([self.search, self.sort_dd, self.sort_desc, self.only_selected]),
            filter_box,
            bokeh_widget(self.table, "table"),
            self.table_info,
            self.header,
            W.HBox([self.stretch]),
            self._boxes["images"],
            W.HBox([self.smoothing, self.show_lines]),
            self._boxes["spectra"],
            self._boxes["lightcurves"],
            self.status,
        ]
        self._ready = True
        self.refresh_table()
        self._on_selection(self.selection_model.array, None)

    # ------------------------------------------------------------------ table
    def filtered_rows(self) -> np.ndarray:
        """Catalog row positions passing every filter, sorted as asked, shape (K,)."""
        mask = np.ones(len(self.frame), dtype=bool)
        for c, w in self.filters.items():
            col = self.frame[c]
            if isinstance(w, W.FloatRangeSlider):
                lo, hi = w.value
                if (lo, hi) != (w.min, w.max):
                    v = col.to_numpy(dtype=np.float64)
                    mask &= (v >= lo) & (v <= hi)
            else:
                if len(w.value) != len(w.options):
                    mask &= col.astype(str).isin(w.value).to_numpy()
        if self.only_selected.value:
            sel = np.zeros(len(self.frame), dtype=bool)
            sel[self._index.positions(self.selection_model.array)] = True
            mask &= sel
        rows = np.flatnonzero(mask)
        key = self.sort_dd.value
        if key and key != "object_id" or self.sort_desc.value:
            vals = self.frame[key].to_numpy()[rows]
            try:
                order = np.argsort(vals, kind="stable")
            except TypeError:
                order = np.argsort(vals.astype(str), kind="stable")
            if self.sort_desc.value:
                order = order[::-1]
            rows = rows[order]
        return rows

    @guarded
    def refresh_table(self) -> None:
        """Re-apply filters and sort, and redraw the table."""
        rows = self.filtered_rows()
        self.n_filtered = rows.size
        shown = rows[: self.max_rows]
        self.view_rows = shown
        sub = self.frame.iloc[shown]
        self._quiet = True
        try:
            self.table_source.data = {c: sub[c].to_numpy() for c in self.frame.columns}
            self._mark_selected()
        finally:
            self._quiet = False
        more = f" (first {shown.size:,} shown)" if rows.size > shown.size else ""
        self.table_info.value = f"<span>{rows.size:,} of {len(self.frame):,} objects pass the filters{more}</span>"
        if rows.size == 0:
            self.show_message("No object passes the filters: widen the ranges or untick 'only selected'.",
                              "warning")

    def _mark_selected(self):
        sel = self.selection_model.array
        if sel.size == 0 or self.view_rows.size == 0:
            idx = []
        else:
            shown_ids = self.ids[self.view_rows]
            try:  # sel is sorted: binary search, O(rows log K)
                pos = np.clip(np.searchsorted(sel, shown_ids), 0, sel.size - 1)
                idx = np.flatnonzero(sel[pos] == shown_ids).tolist()
            except TypeError:
                idx = np.flatnonzero(np.isin(shown_ids.astype(str), sel.astype(str))).tolist()
        was = self._quiet
        self._quiet = True
        try:
            if list(self.table_source.selected.indices) != idx:
                self.table_source.selected.indices = idx
        finally:
            self._quiet = was

    def _on_table_select(self, attr, old, new):
        if self._quiet:
            return
        rows = self.view_rows[np.asarray(new, dtype=np.int64)] if len(new) else np.empty(0, np.int64)
        if rows.size:
            self._pending_current = self.ids[rows[0]]
        self._publish(self.ids[rows])

    @guarded
    def find(self, text: str) -> None:
        """Select the object whose id is ``text`` (int ids are parsed)."""
        text = str(text).strip()
        if not text:
            return
        oid: Any = text
        if self.ids.dtype.kind in "iu":
            try:
                oid = int(text)
            except ValueError:
                self.show_message(f"'{text}' is not an integer object id.", "warning")
                return
        if self._index.position(oid) is None:
            self.show_message(f"No object with id {text} in this catalog.", "warning")
            return
        self._pending_current = oid
        self._publish([oid])

    # --------------------------------------------------------------- selection
    def _on_selection(self, ids, source):
        if self.only_selected.value:
            self.refresh_table()
        else:
            self._mark_selected()
        pending = getattr(self, "_pending_current", None)
        self._pending_current = None
        if len(ids) == 0:
            self.show_object(None)
            return
        if pending is not None and pending in self.selection_model:
            self.show_object(pending)
            return
        pos = self._index.positions(ids[:1000])
        if pos.size == 0:
            self.show_object(None)
            self.show_message(f"None of the {len(ids):,} selected objects is in this catalog.", "warning")
            return
        self.show_object(self.ids[int(pos.min()) if len(ids) <= 1000 else int(pos[0])])

    @guarded
    def show_object(self, oid: Any) -> None:
        """Show cutouts, spectrum and light curve of object ``oid`` (``None`` clears)."""
        self.current_id = oid
        if oid is None:
            self.header.value = "<i>Select an object (click a row, search an id, or select in a linked view).</i>"
            for m in MODALITIES:
                self._boxes[m].children = []
            self.clear_message()
            return
        row = self._index.position(oid)
        info = "" if row is None else ", ".join(
            f"{c}={_fmt(self.frame[c].iat[row])}" for c in list(self.frame.columns)[1:6])
        self.header.value = f"<b>object {oid}</b> <span>{info}</span>"
        missing = []
        for m, draw in (("images", self._draw_images), ("spectra", self._draw_spectrum),
                        ("lightcurves", self._draw_lc)):
            if not draw():
                missing.append({"images": "image", "spectra": "spectrum", "lightcurves": "light curve"}[m])
        if self.reader.available():
            if missing:
                self.show_message(f"Object {oid} has no {', '.join(missing)}.", "info")
            else:
                self.clear_message()
        else:
            self.show_message("This dataset is a catalog only: no images, spectra or light curves to show.", "info")

    def _set_box(self, name, ok, text=""):
        self._boxes[name].children = [self._plots[name]] if ok else ([placeholder(text, name)] if text else [])
        return ok

    @guarded
    def _draw_images(self):
        if self.current_id is None or self.reader.parts["images"] is None:
            return self._set_box("images", False)
        got = self.reader.images(self.current_id)
        if got is None:
            return self._set_box("images", False, f"No image cutouts for object {self.current_id}.")
        cube, bands = got
        st = self.stretch.value
        imgs = [compute.stretch_image(c, st) for c in cube]
        labels = list(bands)
        if cube.shape[0] >= 3:
            imgs.append(compute.rgb_image(cube[[-1, -2, -3]], st))
            labels.append(f"RGB {bands[-1]}{bands[-2]}{bands[-3]}")
        self.image_view.update(imgs, labels)
        return self._set_box("images", True)

    @guarded
    def _draw_spectrum(self):
        if self.current_id is None or self.reader.parts["spectra"] is None:
            return self._set_box("spectra", False)
        sp = self.reader.spectrum(self.current_id)
        if sp is None or not np.isfinite(sp["flux"]).any():
            return self._set_box("spectra", False, f"No spectrum for object {self.current_id}.")
        raw = compute.smooth_spectrum(sp["flux"], sp["ivar"], 0.0)
        self.spectrum_view.update("flux", sp["wave"], raw)
        w = self.smoothing.value
        if w > 0:
            self.spectrum_view.update("smoothed", sp["wave"], compute.smooth_spectrum(sp["flux"], sp["ivar"], w))
        else:
            self.spectrum_view.update("smoothed", [], [])
        z = sp["z"] if sp["z"] is not None and np.isfinite(sp["z"]) else None
        if self.show_lines.value and z is not None:
            lo, hi = np.nanmin(sp["wave"]), np.nanmax(sp["wave"])
            ymin, ymax = float(np.nanmin(raw)), float(np.nanmax(raw))
            xs, names = [], []
            for name, rest in DEFAULT_LINES.items():
                obs = rest * (1 + z)
                if lo <= obs <= hi:
                    xs.append(obs)
                    names.append(name)
            self.line_source.data = {"x": xs, "y0": [ymin] * len(xs), "y1": [ymax] * len(xs), "name": names}
        else:
            self.line_source.data = {"x": [], "y0": [], "y1": [], "name": []}
        self.spectrum_view.figure.title.text = "spectrum" + (f" (z = {z:.4f})" if z is not None else "")
        return self._set_box("spectra", True)

    def _draw_lc(self):
        if self.current_id is None or self.reader.parts["lightcurves"] is None:
            return self._set_box("lightcurves", False)
        lc = self.reader.lightcurve(self.current_id)
        if lc is None:
            return self._set_box("lightcurves", False, f"No light curve for object {self.current_id}.")
        good = np.isfinite(lc["t"]) & np.isfinite(lc["y"])
        self.lc_view.update(lc["t"][good], lc["y"][good], lc["err"][good], lc["band"][good],
                            invert_y=lc["kind"] == "mag")
        return self._set_box("lightcurves", True)


def _fmt(v):
    if isinstance(v, (float, np.floating)):
        return f"{v:.4g}"
    return str(v)

"""LightCurveViewer: multi-band light curves, raw and phase-folded, with a periodogram."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import numpy as np

from astrolab.errors import invalid
from astrolab.selection import IdIndex, Selection
from astrolab.viz import compute
from astrolab.viz.live import ErrorPointsView, LinesView
from astrolab.widgets._base import Panel, bokeh_widget, guarded
from astrolab.widgets._data import ModalityReader, container_ids

__all__ = ["LightCurveViewer"]


class LightCurveViewer(Panel):
    """Irregular multi-band light curves with errors, raw and phase-folded, linked to the selection.

    Parameters
    ----------
    lcs : LightCurveSet or MultimodalSet (with light curves)
        Light curves; ``object(i)`` gives a table with ``mjd`` (days), ``value``,
        ``error`` and ``band``.
    selection : astrolab.selection.Selection, optional
        Shared selection model; the viewer shows the first selected object that
        has a light curve (all objects are listed when nothing is selected).
    max_listed : int
        Most objects listed in the object dropdown.
    n_freq : int
        Frequencies of the Lomb-Scargle periodogram.

    Attributes
    ----------
    current_id : object id or None
        The object shown.
    period : float
        Folding period (days) of the period slider.
    best_period : float or None
        Highest periodogram peak of the current object (days).
    raw_view, folded_view, periodogram_view
        Live bokeh views (:mod:`astrolab.viz.live`).
    """

    _css_name = "astrolab-lightcurves"

    def __init__(self, lcs: Any, *, selection: Selection | None = None, max_listed: int = 200,
                 n_freq: int = 3000, title: str = "Light curves"):
        super().__init__(selection=selection, title=title)
        self.reader = ModalityReader(lcs)
        part = self.reader.parts["lightcurves"]
        if part is None:
            raise invalid("LightCurveViewer(lcs=...)", f"{type(lcs).__name__} holds no light curves",
                          "pass a LightCurveSet, or a MultimodalSet built with lightcurves=...")
        self.lcs = part
        self.ids = container_ids(part)
        self._index = IdIndex(self.ids)
        self.max_listed = int(max_listed)
        self.n_freq = int(n_freq)
        self.current_id = None
        self.best_period = None
        self._lc = None
        self.object_dd = W.Dropdown(options=[], description="object", layout=W.Layout(width="260px"))
        self.object_dd.add_class("astrolab-object")
        self.period_slider = W.FloatLogSlider(value=1.0, base=10, min=-1.5, max=3, step=0.001,
                                              description="period (d)", readout_format=".5g",
                                              continuous_update=False, layout=W.Layout(width="420px"))
        self.period_slider.add_class("astrolab-period")
        self.best_btn = W.Button(description="best period", layout=W.Layout(width="110px"))
        self.multiband = W.Checkbox(value=False, description="multi-band periodogram", indent=False)
        self.raw_view = ErrorPointsView("light curve", "MJD (days)", "value", 560, 260)
        self.folded_view = ErrorPointsView("phase-folded", "phase", "value", 560, 260)
        self.periodogram_view = LinesView(("power",), "Lomb-Scargle periodogram", "period (days)", "power",
                                          420, 260, legend=False)
        self.periodogram_view.figure.x_range.flipped = False
        self.object_dd.observe(lambda ch: self.show_object(ch["new"]) if ch["new"] is not None else None,
                               names="value")
        self.period_slider.observe(lambda ch: self._fold(), names="value")
        self.best_btn.on_click(lambda _b: self._use_best())
        self.multiband.observe(lambda ch: self.show_object(self.current_id), names="value")
        self.children = [
            self.title,
            W.HBox([self.object_dd, self.period_slider, self.best_btn, self.multiband]),
            W.HBox([bokeh_widget(self.raw_view.figure, "lightcurve"),
                    bokeh_widget(self.periodogram_view.figure, "periodogram")]),
            bokeh_widget(self.folded_view.figure, "folded"),
            self.status,
        ]
        self._ready = True
        self._on_selection(self.selection_model.array, None)

    @property
    def period(self) -> float:
        """Folding period (days)."""
        return float(self.period_slider.value)

    @period.setter
    def period(self, value: float) -> None:
        self.period_slider.value = float(value)

    def _on_selection(self, ids, source):
        if len(ids) == 0:
            listed = self.ids[: self.max_listed]
        else:
            listed = self.ids[np.sort(self._index.positions(ids))][: self.max_listed]
        opts = [str(i) for i in listed.tolist()]
        self._id_of = dict(zip(opts, listed.tolist()))
        if len(ids) and not opts:
            self.object_dd.options = []
            self._clear_plots()
            self.current_id = None
            self.show_message(f"None of the {len(ids):,} selected objects has a light curve.", "warning")
            return
        self.object_dd.options = opts
        if opts:
            if self.object_dd.value != opts[0]:
                self.object_dd.value = opts[0]  # triggers show_object
            else:
                self.show_object(opts[0])

    def _clear_plots(self):
        self.raw_view.update([], [])
        self.folded_view.update([], [])
        self.periodogram_view.update("power", [], [])

    @guarded
    def show_object(self, oid: Any) -> None:
        """Show the light curve, periodogram and folded curve of object ``oid``."""
        if oid is None:
            return
        oid = getattr(self, "_id_of", {}).get(oid, oid) if isinstance(oid, str) else oid
        lc = self.reader.lightcurve(oid)
        self.current_id = oid
        self._lc = lc
        if lc is None:
            self._clear_plots()
            self.best_period = None
            self.show_message(f"Object {oid} has no light curve (no points).", "warning")
            return
        good = np.isfinite(lc["t"]) & np.isfinite(lc["y"])
        mag = lc["kind"] == "mag"
        self.raw_view.figure.yaxis.axis_label = "magnitude" if mag else "flux"
        self.folded_view.figure.yaxis.axis_label = "magnitude" if mag else "flux"
        self.raw_view.update(lc["t"][good], lc["y"][good], lc["err"][good], lc["band"][good], invert_y=mag)
        try:
            freq, power, best = compute.lomb_scargle(lc["t"], lc["y"], lc["err"],
                                                     lc["band"] if self.multiband.value else None,
                                                     n_freq=self.n_freq)
        except Exception as exc:  # too few points etc.
            self.periodogram_view.update("power", [], [])
            self.best_period = None
            self.show_message(f"Object {oid}: no periodogram ({exc})", "warning")
            self._fold()
            return
        self.periodogram_view.update("power", 1.0 / freq, power)
        self.best_period = best
        lo, hi = np.log10(1.0 / freq[-1]), np.log10(1.0 / freq[0])
        self.period_slider.min, self.period_slider.max = min(lo, self.period_slider.min), max(hi, self.period_slider.max)
        n_bad = int((~good).sum())
        self.show_message(f"Object {oid}: {good.sum()} points in {len(set(lc['band'].tolist()))} band(s); "
                          f"best period {best:.5g} d" + (f"; {n_bad} NaN points dropped" if n_bad else ""), "ok")
        if abs(self.period_slider.value - best) > 1e-12:
            self.period_slider.value = best  # refolds
        else:
            self._fold()

    def _use_best(self):
        if self.best_period:
            self.period = self.best_period

    @guarded
    def _fold(self):
        lc = self._lc
        if lc is None:
            self.folded_view.update([], [])
            return
        good = np.isfinite(lc["t"]) & np.isfinite(lc["y"])
        ph = compute.phase_fold(lc["t"][good], self.period)
        y, e, b = lc["y"][good], lc["err"][good], lc["band"][good]
        self.folded_view.update(np.r_[ph, ph + 1], np.r_[y, y], np.r_[e, e], np.r_[b, b],
                                invert_y=lc["kind"] == "mag")
        self.folded_view.figure.title.text = f"phase-folded, P = {self.period:.6g} d"

"""CalibrationDashboard: PIT, PIT-QQ, CRPS, coverage, outliers and KS/CvM of redshift PDFs, brushable."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import numpy as np

from astrolab.errors import invalid
from astrolab.selection import IdIndex, Selection
from astrolab.viz.calibration_plots import (COVERAGE_LEVELS, EXPLANATIONS, BrushHistView, BrushLinesView,
                                            calibration_arrays, coverage_curve, crps_edges, pit_band, qq_points)
from astrolab.viz.live import CurvesView
from astrolab.widgets._base import Panel, bokeh_widget, guarded
from astrolab.widgets._data import to_frame
from astrolab.widgets.pdf_explorer import _as_pdf

__all__ = ["CalibrationDashboard"]


def _explain(key: str) -> W.HTML:
    w = W.HTML(f'<div class="astrolab-explain" style="font-size:85%;color:#555;max-width:320px;'
               f'line-height:1.25">{html.escape(EXPLANATIONS[key])}</div>')
    w.add_class("astrolab-explain")
    w.add_class(f"astrolab-explain-{key}")
    return w


class CalibrationDashboard(Panel):
    """Calibration of redshift PDFs at a glance, linked back to the objects.

    Shows the PIT histogram with its ±2σ uniform band, the PIT-QQ plot, the CRPS
    distribution, observed vs nominal coverage, the outlier rate and the KS and
    Cramér–von Mises distances of the PIT from uniform, each with a
    one-sentence explanation. Dragging a range (box select along x) on any plot
    selects those objects in every view linked to the same
    :class:`~astrolab.selection.Selection`:

    ========== ====================================================================
    plot       a brushed x range ``[lo, hi]`` selects objects with ...
    ========== ====================================================================
    PIT        ``lo <= PIT <= hi`` (brush ``[0.95, 1]`` for the upper tail)
    PIT-QQ     PIT rank quantile ``(rank + 0.5) / N`` in ``[lo, hi]``
    CRPS       ``lo <= CRPS <= hi`` (redshift units)
    coverage   ``lo <= |2 PIT - 1| <= hi``: truths first covered by the central
               intervals of levels between lo and hi (``[0.9, 1]``: the tails)
    ========== ====================================================================

    Buttons select the PIT tails, the worst-CRPS decile and the outliers.

    Parameters
    ----------
    pdf : astrolab.metrics.pdf.RedshiftPDF or (z_grid (G,), pdf (N, G)) tuple
        Predicted redshift PDFs of N objects.
    z_true : array_like, shape (N,)
        True redshifts (NaN: left out of every statistic).
    catalog : astropy.table.Table or pandas.DataFrame, optional
        N rows, same order, with ``object_id`` (else ``pdf.ids``).
    selection : astrolab.selection.Selection, optional
        Shared selection model (e.g. ``explorer.selection_model``).
    point : {"mode", "median", "mean"}
        Point estimate of the outlier rate.
    outlier_eta : float
        Outlier threshold η in ``|z_point - z_true| > η (1 + z_true)``.
    pit_bins, crps_bins : int
        Histogram bins.
    tail : float
        The "PIT tails" button selects ``PIT < tail`` or ``PIT > 1 - tail``.
    max_curves : int
        PDFs of the selection drawn at most.

    Attributes
    ----------
    arrays : dict
        Output of :func:`astrolab.viz.calibration_plots.calibration_arrays` (per-object ``pit``,
        ``crps``, ``required_level``, ``outlier``; summaries ``ks``, ``cvm``, ``outlier_rate``, ...).
    pit_view, crps_view : astrolab.viz.calibration_plots.BrushHistView
    qq_view, coverage_view : astrolab.viz.calibration_plots.BrushLinesView
    pdf_view : astrolab.viz.live.CurvesView
        PDFs of the first selected objects with their truths.
    figures : dict of str -> bokeh figure
        Every plot, by name (what :func:`astrolab.export.export_view` writes).
    summary : dict
        Scalar metrics of all objects and of the selection (``selection_*`` keys).
    """

    _css_name = "astrolab-calibration"

    def __init__(self, pdf: Any, z_true: Any, catalog: Any = None, selection: Selection | None = None, *,
                 point: str = "mode", outlier_eta: float = 0.15, pit_bins: int = 20, crps_bins: int = 30,
                 tail: float = 0.05, max_curves: int = 10, title: str = "PDF calibration"):
        super().__init__(selection=selection, title=title)
        self.pdfs = _as_pdf(pdf)
        n = len(self.pdfs)
        try:
            zt = np.asarray(z_true, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise invalid("CalibrationDashboard(z_true=...)", f"cannot convert to floats ({exc})",
                          "pass an array of true redshifts") from exc
        if zt.size != n:
            raise invalid("CalibrationDashboard(z_true=...)", f"has {zt.size} values for {n} PDFs",
                          "pass one true redshift per PDF, in the same order")
        frame, ids = to_frame(catalog, "CalibrationDashboard(catalog=...)")
        if ids is None:
            ids = np.asarray(getattr(self.pdfs, "ids", np.arange(n)))
        if len(ids) != n:
            raise invalid("CalibrationDashboard(catalog=...)", f"has {len(ids)} rows for {n} PDFs",
                          "pass one catalog row per PDF, in the same order")
        if not 0 < tail < 0.5:
            raise invalid("CalibrationDashboard(tail=...)", f"is {tail}", "pass a PIT tail width in (0, 0.5)")
        self.z_true = zt
        self.ids = np.asarray(ids)
        self._index = IdIndex(self.ids)
        self.catalog = frame
        self.tail = float(tail)
        self.pit_bins, self.crps_bins, self.max_curves = int(pit_bins), int(crps_bins), int(max_curves)
        self.arrays = a = calibration_arrays(self.pdfs, zt, point=point, outlier_eta=outlier_eta)
        good = a["good"]
        self._good_rows = np.flatnonzero(good)
        # QQ rank quantile of every object (NaN for missing truth)
        self.qq_quantile = np.full(n, np.nan)
        if self._good_rows.size:
            _, _, order = qq_points(a["pit"][good])
            q = np.empty(order.size)
            q[order] = (np.arange(order.size) + 0.5) / order.size
            self.qq_quantile[self._good_rows] = q
        self._pit_edges = np.linspace(0, 1, self.pit_bins + 1)
        self._crps_edges = crps_edges(a["crps"], self.crps_bins)

        # --- views
        self.pit_view = BrushHistView("PIT histogram", "PIT", "density", band=True)
        lo, hi = pit_band(a["n_good"], self.pit_bins)
        self.pit_view.set_band(0, 1, lo, hi)
        self.pit_view.update("all", self._pit_edges, self._density(a["pit"][good], self._pit_edges))
        self.qq_view = BrushLinesView(("all", "selection"), "PIT-QQ", "uniform quantile", "PIT quantile")
        qa, pa, _ = qq_points(a["pit"][good], max_points=1000)
        self.qq_view.update("all", qa, pa)
        self.crps_view = BrushHistView("CRPS distribution", "CRPS (redshift units)", "density")
        self.crps_view.update("all", self._crps_edges, self._density(a["crps"][good], self._crps_edges))
        self.coverage_view = BrushLinesView(("all", "selection"), "coverage", "nominal credible level",
                                            "fraction of truths covered")
        self.coverage_view.update("all", a["levels"], a["coverage"])
        self.pdf_view = CurvesView("PDFs of the selection", "z", "p(z)", 320, 250)
        self.figures = {"pit": self.pit_view.figure, "qq": self.qq_view.figure, "crps": self.crps_view.figure,
                        "coverage": self.coverage_view.figure, "pdfs": self.pdf_view.figure}
        self.pit_view.on_brush(lambda lo, hi: self._brushed("pit", lo, hi))
        self.qq_view.on_brush(lambda lo, hi: self._brushed("qq", lo, hi))
        self.crps_view.on_brush(lambda lo, hi: self._brushed("crps", lo, hi))
        self.coverage_view.on_brush(lambda lo, hi: self._brushed("coverage", lo, hi))
        self._brush_views = {"pit": self.pit_view, "qq": self.qq_view, "crps": self.crps_view,
                             "coverage": self.coverage_view}
        self.widgets = {k: bokeh_widget(f, f"calib-{k}") for k, f in self.figures.items()}

        # --- controls and numbers
        self.buttons = {
            "tails": W.Button(description=f"PIT tails (<{tail:g} or >{1 - tail:g})",
                              layout=W.Layout(width="auto")),
            "worst_crps": W.Button(description="worst-CRPS decile", layout=W.Layout(width="auto")),
            "outliers": W.Button(description="outliers", layout=W.Layout(width="auto")),
            "clear": W.Button(description="clear", layout=W.Layout(width="auto")),
        }
        for key, b in self.buttons.items():
            b.add_class(f"astrolab-calib-{key}")
            b.on_click(lambda _b, key=key: self.select_preset(key))
        self.summary_html = W.HTML("")
        self.summary_html.add_class("astrolab-calib-summary")
        self.summary: dict = {}

        def cell(key, expl):
            return W.VBox([self.widgets[key], _explain(expl)], layout=W.Layout(margin="0 6px 6px 0"))

        self.children = [
            self.title,
            W.HBox(list(self.buttons.values())),
            W.HBox([cell("pit", "pit"), cell("qq", "qq"), cell("crps", "crps")]),
            W.HBox([cell("coverage", "coverage"),
                    W.VBox([self.summary_html, _explain("outliers"), _explain("gof")],
                           layout=W.Layout(width="300px")),
                    self.widgets["pdfs"]]),
            self.status,
        ]
        self._ready = True
        self._data_note = ""
        if a["n_good"] == 0:
            self._data_note = "No object has a finite z_true: no calibration can be computed."
        elif a["n_good"] < n:
            self._data_note = f"{n - a['n_good']:,} objects have NaN z_true and are left out."
        self._on_selection(self.selection_model.array, None)

    # ---------------------------------------------------------------- display
    # ---------------------------------------------------------------- helpers
    def show_message(self, text: str, level: str = "info") -> None:
        """Show ``text`` in the status line, after any standing note about the data."""
        note = getattr(self, "_data_note", "")
        if note:
            text = f"{note} {text}".strip()
            level = "error" if level == "error" or note.startswith("No object") else "warning"
        super().show_message(text, level)

    @staticmethod
    def _density(values, edges):
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size == 0:
            return np.zeros(edges.size - 1)
        counts, _ = np.histogram(np.clip(v, edges[0], edges[-1]), edges)
        return counts / (v.size * np.diff(edges))

    def rows_in_range(self, view: str, lo: float, hi: float) -> np.ndarray:
        """Row positions (int64, sorted) of the objects a brush ``[lo, hi]`` on ``view`` selects.

        Parameters
        ----------
        view : {"pit", "qq", "crps", "coverage"}
            Which plot was brushed (see the class docstring for what the range means).
        lo, hi : float
            Range in the plot's x units.
        """
        key = {"pit": self.arrays["pit"], "qq": self.qq_quantile, "crps": self.arrays["crps"],
               "coverage": self.arrays["required_level"]}.get(view)
        if key is None:
            raise invalid("CalibrationDashboard.rows_in_range", f"unknown view {view!r}",
                          "use 'pit', 'qq', 'crps' or 'coverage'")
        lo, hi = sorted((float(lo), float(hi)))
        if view == "crps" and hi >= self._crps_edges[-1]:
            hi = np.inf  # the last bin holds the tail
        with np.errstate(invalid="ignore"):
            return np.flatnonzero((key >= lo) & (key <= hi))

    def brush(self, view: str, lo: float, hi: float) -> np.ndarray:
        """Brush ``[lo, hi]`` on ``view`` as a drag in the browser does; returns the selected ids."""
        if view not in self._brush_views:
            raise invalid("CalibrationDashboard.brush", f"unknown view {view!r}",
                          "use 'pit', 'qq', 'crps' or 'coverage'")
        self._brush_views[view].brush(lo, hi)
        return self.selection_model.array

    @guarded
    def _brushed(self, view: str, lo: float, hi: float) -> None:
        for k, v in self._brush_views.items():
            if k != view:
                v.show_brush(None)
        self._publish(self.ids[self.rows_in_range(view, lo, hi)])

    @guarded
    def select_preset(self, which: str) -> np.ndarray:
        """Select a preset group: ``"tails"`` (PIT tails), ``"worst_crps"`` (worst 10 % CRPS), ``"outliers"``, ``"clear"``.

        Returns
        -------
        numpy.ndarray
            The selected ids.
        """
        a = self.arrays
        with np.errstate(invalid="ignore"):
            if which == "tails":
                rows = np.flatnonzero((a["pit"] < self.tail) | (a["pit"] > 1 - self.tail))
            elif which == "worst_crps":
                c = a["crps"]
                cut = np.nanpercentile(c, 90) if np.isfinite(c).any() else np.inf
                rows = np.flatnonzero(c >= cut)
            elif which == "outliers":
                rows = np.flatnonzero(a["outlier"])
            elif which == "clear":
                rows = np.empty(0, np.int64)
            else:
                raise invalid("CalibrationDashboard.select_preset", f"unknown preset {which!r}",
                              "use 'tails', 'worst_crps', 'outliers' or 'clear'")
        for v in self._brush_views.values():
            v.show_brush(None)
        self._publish(self.ids[rows])
        return self.selection_model.array

    # -------------------------------------------------------------- selection
    def _on_selection(self, ids, source):
        a = self.arrays
        pos = self._index.positions(ids)
        if source is not self:
            for v in self._brush_views.values():
                v.show_brush(None)
        rows = pos[a["good"][pos]] if pos.size else pos
        pit_sel = a["pit"][rows]
        self.pit_view.update("selection", self._pit_edges, self._density(pit_sel, self._pit_edges))
        self.crps_view.update("selection", self._crps_edges, self._density(a["crps"][rows], self._crps_edges))
        if rows.size:
            q, p, _ = qq_points(pit_sel, max_points=1000)
            self.qq_view.update("selection", q, p)
            self.coverage_view.update("selection", a["levels"], coverage_curve(pit_sel, a["levels"]))
        else:
            self.qq_view.update("selection", [], [])
            self.coverage_view.update("selection", [], [])
        first = pos[: self.max_curves]
        if first.size:
            sub = self.pdfs[first]
            self.pdf_view.update([self.pdfs.z_grid] * len(first), list(np.asarray(sub.pdf)),
                                 truths=list(self.z_true[first]), labels=list(self.ids[first]))
        else:
            self.pdf_view.update([], [])
        self._update_summary(rows, len(ids), pos.size)

    def _update_summary(self, rows, n_ids, n_pos):
        from astrolab.metrics.pdf import pit_cvm, pit_ks

        a = self.arrays
        s = {"n": a["n_good"], "outlier_rate": a["outlier_rate"], "mean_crps": a["mean_crps"], "ks": a["ks"],
             "ks_p": a["ks_p"], "cvm": a["cvm"], "cvm_p": a["cvm_p"], "selection_n": int(rows.size)}
        if rows.size:
            s["selection_outlier_rate"] = float(a["outlier"][rows].mean())
            s["selection_mean_crps"] = float(np.mean(a["crps"][rows]))
            ks, cvm = pit_ks(a["pit"][rows]), pit_cvm(a["pit"][rows])
            s.update(selection_ks=ks.statistic, selection_ks_p=ks.pvalue, selection_cvm=cvm.statistic,
                     selection_cvm_p=cvm.pvalue)
        self.summary = s

        def row(label, key, fmt):
            sel = s.get(f"selection_{key}")
            v = s[key]
            return (f"<tr><td>{label}</td><td>{format(v, fmt)}</td>"
                    f"<td>{format(sel, fmt) if sel is not None else '–'}</td></tr>")

        self.summary_html.value = (
            '<table class="astrolab-calib-table" style="font-size:90%">'
            f"<tr><th></th><th>all ({s['n']:,})</th><th>selection ({s['selection_n']:,})</th></tr>"
            + row(f"outlier rate (η={a['outlier_eta']:g})", "outlier_rate", ".3f")
            + row("mean CRPS", "mean_crps", ".4f")
            + row("KS distance D", "ks", ".3f") + row("KS p-value", "ks_p", ".2g")
            + row("CvM ω²", "cvm", ".3f") + row("CvM p-value", "cvm_p", ".2g")
            + "</table>")
        if n_ids and n_pos == 0:
            self.show_message(f"None of the {n_ids:,} selected objects has a PDF here.", "info")
        elif n_pos > rows.size:
            self.show_message(f"{n_pos - rows.size:,} selected objects have NaN z_true (no PIT).", "warning")
        elif n_ids == 0:
            self.show_message("Nothing selected: drag a range on any plot (or press a button) to select "
                              "those objects in every linked view.", "info")
        else:
            self.clear_message()

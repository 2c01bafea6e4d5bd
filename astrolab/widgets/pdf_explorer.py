"""PDFExplorer: z_pred vs z_true with brushing into PDFs, cutouts, PIT and coverage."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import numpy as np

from astrolab.errors import invalid
from astrolab.selection import IdIndex, Selection
from astrolab.viz import compute
from astrolab.viz.live import CurvesView, HistView, ImageGridView, LinesView, RasterScatter
from astrolab.widgets._base import Panel, bokeh_widget, placeholder
from astrolab.widgets._data import ModalityReader, to_frame

__all__ = ["PDFExplorer"]

COVERAGE_LEVELS = np.round(np.linspace(0.05, 0.95, 19), 2)


def _as_pdf(pdfs):
    if hasattr(pdfs, "z_grid") and hasattr(pdfs, "pdf") and hasattr(pdfs, "pit"):
        return pdfs
    if isinstance(pdfs, tuple) and len(pdfs) == 2:
        from astrolab.metrics.pdf import RedshiftPDF

        return RedshiftPDF(*pdfs)
    raise invalid("PDFExplorer(pdfs=...)", f"got {type(pdfs).__name__}",
                  "pass an astrolab.metrics.pdf.RedshiftPDF or a (z_grid, pdf) tuple")


class PDFExplorer(Panel):
    """Redshift PDFs explorer: brush z_pred vs z_true, see PDFs, cutouts, PIT and coverage.

    Parameters
    ----------
    pdfs : astrolab.metrics.pdf.RedshiftPDF or (z_grid (G,), pdf (N, G)) tuple
        Predicted redshift PDFs of N objects.
    z_true : array_like, shape (N,)
        True (spectroscopic) redshifts; NaN objects are not drawn.
    catalog : astropy.table.Table or pandas.DataFrame, optional
        N rows in the same order, with ``object_id`` (else ``pdfs.ids``).
    images : ImageSet or MultimodalSet, optional
        Cutouts shown for the first selected objects.
    selection : astrolab.selection.Selection, optional
        Shared selection model.
    point : {"mode", "median", "mean"}
        Point estimate drawn as z_pred.
    threshold : int
        Above this many objects the scatter is datashaded.
    max_curves : int
        Most PDFs drawn at once.
    outlier_eta : float
        Outlier lines at ``|z_pred - z_true| = eta (1 + z_true)``.
    pit_bins : int
        Bins of the PIT histograms.
    coverage_max : int
        The coverage of a larger selection is computed on a fixed random subset of
        this many objects (statistical error < 0.4 %); PIT always uses all.

    Attributes
    ----------
    scatter : astrolab.viz.live.RasterScatter
        The z_pred-z_true plot (``scatter.source.selected.indices`` below threshold).
    pdf_view, pit_view, coverage_view, cutout_view
        Live views (:mod:`astrolab.viz.live`) of the selection.
    pit_all : numpy.ndarray, shape (N,)
        PIT of every object (from ``RedshiftPDF.pit``).
    """

    _css_name = "astrolab-pdfexplorer"

    def __init__(self, pdfs: Any, z_true: Any, catalog: Any = None, images: Any = None, *,
                 selection: Selection | None = None, point: str = "mode", threshold: int = 50_000,
                 max_curves: int = 12, outlier_eta: float = 0.15, pit_bins: int = 20, coverage_max: int = 20_000,
                 title: str = "Redshift PDFs"):
        super().__init__(selection=selection, title=title)
        self.pdfs = _as_pdf(pdfs)
        n = len(self.pdfs)
        try:
            zt = np.asarray(z_true, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise invalid("PDFExplorer(z_true=...)", f"cannot convert to floats ({exc})", "pass an array") from exc
        if zt.size != n:
            raise invalid("PDFExplorer(z_true=...)", f"has {zt.size} values for {n} PDFs",
                          "pass one true redshift per PDF, in the same order")
        self.z_true = zt
        frame, ids = to_frame(catalog, "PDFExplorer(catalog=...)")
        if ids is None:
            ids = np.asarray(getattr(self.pdfs, "ids", np.arange(n)))
        if len(ids) != n:
            raise invalid("PDFExplorer(catalog=...)", f"has {len(ids)} rows for {n} PDFs",
                          "pass one catalog row per PDF, in the same order")
        if point not in ("mode", "median", "mean"):
            raise invalid("PDFExplorer(point=...)", f"unknown point estimate {point!r}", "use mode, median or mean")
        self.ids = np.asarray(ids)
        self._index = IdIndex(self.ids)
        self.catalog = frame
        self.max_curves = int(max_curves)
        self.pit_bins = int(pit_bins)
        self.reader = ModalityReader(images) if images is not None else None
        self.z_pred = np.asarray(getattr(self.pdfs, point)(), dtype=np.float64)
        good = np.isfinite(self.z_true)
        self._good = good
        if hasattr(self.pdfs, "cdf"):
            self.pdfs.cdf()  # computed once and cached; slices of the selection reuse it
        self.pit_all = np.full(n, np.nan)
        if good.any():
            self.pit_all[good] = self.pdfs[np.flatnonzero(good)].pit(self.z_true[good])
        self.coverage_max = 10**9
        self.coverage_all = self._coverage(np.flatnonzero(good))
        self.coverage_max = int(coverage_max)
        self.outlier_eta = float(outlier_eta)

        # --- plots
        self.scatter = RasterScatter(self.z_true, self.z_pred, threshold=threshold, title="z_pred vs z_true",
                                     x_label="z_true", y_label=f"z_pred ({point})", width=440, height=400,
                                     ids=self.ids, tooltips=[("object", "@object_id")])
        zmax = float(np.nanmax(np.r_[self.pdfs.z_grid, 0.1]))
        zz = np.linspace(0, zmax, 50)
        fig = self.scatter.figure
        fig.line(zz, zz, color="black", line_dash="dashed")
        fig.line(zz, zz + self.outlier_eta * (1 + zz), color="gray", line_dash="dotted")
        fig.line(zz, zz - self.outlier_eta * (1 + zz), color="gray", line_dash="dotted")
        self.scatter.on_select(lambda idx: self._publish(self.ids[idx]))
        self.pdf_view = CurvesView("PDFs of the selection", "z", "p(z)", 440, 300)
        self.pit_view = HistView(("all", "selection"), "PIT", "PIT", "density", 360, 260)
        self.coverage_view = LinesView(("ideal", "all", "selection"), "coverage", "credible level",
                                       "fraction covered", 360, 260, dashed=("ideal",))
        self.coverage_view.update("ideal", [0, 1], [0, 1], color="black")
        self.coverage_view.update("all", COVERAGE_LEVELS, self.coverage_all)
        edges = np.linspace(0, 1, self.pit_bins + 1)
        self.pit_view.update("all", edges, self._pit_density(self.pit_all[good], edges))
        self.cutout_view = ImageGridView("cutouts of the first selected objects", 440, 150)
        self.stats = W.HTML("")
        self.stats.add_class("astrolab-stats")
        self._cutout_box = W.Box([placeholder("No images given.", "cutouts")])
        if self.reader is not None and "images" in self.reader.available():
            self._cutout_box.children = [bokeh_widget(self.cutout_view.figure, "cutouts")]
        self.widgets = {
            "scatter": bokeh_widget(self.scatter.figure, "zscatter"),
            "pdfs": bokeh_widget(self.pdf_view.figure, "pdfs"),
            "pit": bokeh_widget(self.pit_view.figure, "pit"),
            "coverage": bokeh_widget(self.coverage_view.figure, "coverage"),
        }
        outl = np.abs(self.z_pred - self.z_true) > self.outlier_eta * (1 + self.z_true)
        n_good = int(good.sum())
        self.outlier_fraction = float(outl[good].mean()) if n_good else float("nan")
        self.children = [
            self.title,
            W.HBox([self.widgets["scatter"], W.VBox([self.widgets["pdfs"], self._cutout_box])]),
            W.HBox([self.widgets["pit"], self.widgets["coverage"]]),
            self.stats, self.status,
        ]
        self._ready = True
        self._data_note = ""
        if n_good == 0:
            self._data_note = "No object has a finite z_true: PIT and coverage cannot be computed."
        elif n_good < n:
            self._data_note = f"{n - n_good:,} objects have NaN z_true and are left out."
        self._on_selection(self.selection_model.array, None)

    def show_message(self, text: str, level: str = "info") -> None:
        """Show ``text`` in the status line, after any standing note about the data (e.g. NaN z_true)."""
        note = getattr(self, "_data_note", "")
        if note:
            text = f"{note} {text}".strip()
            level = "error" if level == "error" or note.startswith("No object") else "warning"
        super().show_message(text, level)

    # ---------------------------------------------------------------- science
    @staticmethod
    def _pit_density(pit, edges):
        pit = pit[np.isfinite(pit)]
        if pit.size == 0:
            return np.zeros(edges.size - 1)
        counts, _ = np.histogram(pit, edges)
        return counts / (pit.size * np.diff(edges))

    def _coverage(self, rows, max_objects: int | None = None):
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.full(COVERAGE_LEVELS.size, np.nan)
        max_objects = self.coverage_max if max_objects is None else max_objects
        if rows.size > max_objects:
            rows = np.sort(np.random.default_rng(0).choice(rows, max_objects, replace=False))
        cov = self.pdfs[rows].coverage(self.z_true[rows], tuple(COVERAGE_LEVELS))
        if isinstance(cov, dict):
            return np.asarray([cov[k] for k in sorted(cov)], dtype=np.float64)
        return np.asarray(cov, dtype=np.float64)

    # -------------------------------------------------------------- selection
    def _on_selection(self, ids, source):
        pos = self._index.positions(ids)
        if source is not self:
            self.scatter.show_selected(pos)
        edges = np.linspace(0, 1, self.pit_bins + 1)
        rows = pos[self._good[pos]] if pos.size else pos
        if pos.size == 0:
            self.pdf_view.update([], [])
            self.pit_view.update("selection", edges, np.zeros(self.pit_bins))
            self.coverage_view.update("selection", [], [])
            self.cutout_view.update([], [])
            self.stats.value = ""
            self.show_message("Nothing selected: brush a region of the z_pred-z_true plot (box or lasso) "
                              "to see the PDFs of those objects." if len(ids) == 0 else
                              f"None of the {len(ids):,} selected objects has a PDF here.", "info")
            return
        first = pos[: self.max_curves]
        z = self.pdfs.z_grid
        sub = self.pdfs[first]
        self.pdf_view.update([z] * len(first), list(np.asarray(sub.pdf)), truths=list(self.z_true[first]),
                             labels=list(self.ids[first]))
        self.pit_view.update("selection", edges, self._pit_density(self.pit_all[rows], edges))
        self.coverage_view.update("selection", COVERAGE_LEVELS, self._coverage(rows))
        self._draw_cutouts(first[:4])
        pit_sel = self.pit_all[rows]
        frac_out = np.mean(np.abs(self.z_pred[rows] - self.z_true[rows]) > self.outlier_eta *
                           (1 + self.z_true[rows])) if rows.size else float("nan")
        self.stats.value = (f"<span>{pos.size:,} selected; showing {len(first)} PDFs; "
                            f"outlier fraction {frac_out:.3f} (all: {self.outlier_fraction:.3f}); "
                            f"mean PIT {np.nanmean(pit_sel) if rows.size else float('nan'):.3f}</span>")
        if rows.size < pos.size:
            self.show_message(f"{pos.size - rows.size:,} selected objects have NaN z_true (no PIT).", "warning")
        else:
            self.clear_message()

    def _draw_cutouts(self, rows):
        if self.reader is None or "images" not in self.reader.available():
            return
        imgs, labels = [], []
        for r in rows:
            got = self.reader.images(self.ids[r])
            if got is None:
                continue
            cube, bands = got
            if cube.shape[0] >= 3:
                imgs.append(compute.rgb_image(cube[[-1, -2, -3]], "asinh"))
            else:
                imgs.append(compute.stretch_image(cube[0], "asinh"))
            labels.append(str(self.ids[r]))
        self.cutout_view.update(imgs, labels)

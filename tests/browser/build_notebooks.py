"""Write the test notebooks of tests/browser/notebooks/ from the sources below.

The ``.ipynb`` files are committed; edit the cells here and run
``python tests/browser/build_notebooks.py`` to regenerate them (no outputs,
kernelspec ``python3``).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent / "notebooks"

BASELINE = [
    # 0: plain ipywidgets
    """\
import ipywidgets as widgets
slider = widgets.IntSlider(value=3, min=0, max=10, description="baseline")
display(slider)""",
    # 1: holoviews with inline BokehJS, displayed through panel
    """\
import numpy as np
import holoviews as hv
import panel as pn
hv.extension("bokeh", inline=True)
# hv.extension(inline=True) inlines BokehJS but NOT panel's per-model stylesheets
# (css/loading.css, css/listpanel.css, theme/*.css): an hv object displayed by
# holoviews' own display hook requests them from cdn.holoviz.org. pn.panel(...)
# with pn.config.inline=True inlines them.
pn.config.inline = True
x = np.linspace(0, 6, 50)
pn.panel(hv.Curve((x, np.sin(x)), "x", "sin(x)").opts(width=400, height=250, title="hv inline"))""",
    # 2: jupyter_bokeh widget around a bokeh figure
    """\
from bokeh.plotting import figure
from jupyter_bokeh import BokehModel
fig = figure(width=400, height=250, title="BokehModel")
fig.scatter(np.arange(20), np.arange(20) ** 0.5, size=8)
BokehModel(fig)""",
    # 3: probe, re-run by the test
    """\
# PROBE_BASELINE
print("SLIDER_VALUE=", slider.value)""",
]

# Panels: small simulated data built with numpy and astrolab's containers, so
# the notebooks do not depend on the simulators. 240 objects, all linked
# through one astrolab.selection.Selection.
PANELS_DATA = """\
# PANELS_DATA
import numpy as np
import pandas as pd
from IPython.display import display
from astrolab.data.containers import ImageSet, SpectrumSet, LightCurveSet, MultimodalSet
from astrolab.metrics.pdf import RedshiftPDF
from astrolab.widgets import (DataBrowser, TrainingPanel, PDFExplorer, EmbeddingExplorer,
                              LightCurveViewer, Selection)

rng = np.random.default_rng(0)
N = 240
ids = np.arange(1000, 1000 + N)
z = rng.uniform(0.05, 1.5, N)
kind = rng.choice(["star", "galaxy", "qso"], N)
catalog = pd.DataFrame({"object_id": ids, "z": z, "mag_r": rng.normal(21, 1, N),
                        "g_r": rng.normal(0.6, 0.2, N), "kind": kind})

# images: 3 bands, 16x16 Gaussian blobs + noise
yy, xx = np.mgrid[:16, :16]
blob = np.exp(-((xx - 7.5) ** 2 + (yy - 7.5) ** 2) / (2 * 2.0 ** 2))
images = ImageSet(blob[None, None] * rng.uniform(1, 5, (N, 3, 1, 1)) + rng.normal(0, 0.05, (N, 3, 16, 16)),
                  bands=["g", "r", "i"], pixel_scale=0.17, ids=ids)
# spectra: continuum + H-alpha at the object's redshift
wave = np.linspace(3800, 9200, 400)
flux = 1 + 0.2 * rng.normal(size=(N, wave.size)) + 5 * np.exp(
    -0.5 * ((wave[None] - 6562.8 * (1 + z[:, None])) / 8.0) ** 2)
spectra = SpectrumSet(wave, flux, ivar=np.full(flux.shape, 25.0), ids=ids, redshift=z)
# light curves: two bands, sinusoids with periods 0.5-20 d
times, values, errors, bands = [], [], [], []
for i in range(N):
    t = np.sort(rng.uniform(59000, 59300, 60))
    period = 10 ** rng.uniform(np.log10(0.5), np.log10(20))
    b = np.where(np.arange(60) % 2 == 0, "g", "r")
    times.append(t)
    values.append(10 + np.sin(2 * np.pi * t / period) + rng.normal(0, 0.1, 60))
    errors.append(np.full(60, 0.1))
    bands.append(b)
lcs = LightCurveSet(times, values, errors, bands=bands, ids=ids)
dataset = MultimodalSet(catalog, images=images, spectra=spectra, lightcurves=lcs)

# latents: three clusters in 8-D
centers = rng.normal(0, 4, (3, 8))
latents = centers[rng.integers(0, 3, N)] + rng.normal(0, 1, (N, 8))
# redshift PDFs: Gaussians around a noisy estimate
z_grid = np.linspace(0, 2, 201)
z_est = z + rng.normal(0, 0.05, N)
pdf = np.exp(-0.5 * ((z_grid[None] - z_est[:, None]) / 0.08) ** 2)
pdfs = RedshiftPDF(z_grid, pdf / np.trapezoid(pdf, z_grid, axis=1)[:, None], ids=ids)
shared = Selection()
print("DATA_READY", N)"""

PANELS = [
    PANELS_DATA,
    """\
# PANEL_EMBEDDING
explorer = EmbeddingExplorer(latents, catalog, color_by="z", selection=shared, width=520, height=420)
display(explorer)""",
    """\
# PANEL_DATABROWSER
browser = DataBrowser(dataset, selection=shared)
display(browser)""",
    """\
# PANEL_PDF
pdf_explorer = PDFExplorer(pdfs, z, catalog=catalog, images=dataset, selection=shared)
display(pdf_explorer)""",
    """\
# PANEL_LIGHTCURVES
lc_viewer = LightCurveViewer(dataset, selection=shared)
display(lc_viewer)""",
    """\
# PROBE_SELECTION
print(f"SELECTED={len(explorer.selection)} BROWSER={len(browser.selection)} "
      f"PDF={len(pdf_explorer.selection)} LC={len(lc_viewer.selection)} "
      f"CURRENT={browser.current_id} LC_CURRENT={lc_viewer.current_id}")""",
]

# TrainingPanel with a small duck-typed estimator (get_params / param_space /
# set_params / fit(..., history=, stop_event=)): each epoch takes ~0.4 s, so
# the test can watch the progress and press Stop mid-run.
TRAINING = [
    """\
# TRAINING_SETUP
import time
import numpy as np
from IPython.display import display
from astrolab.widgets import TrainingPanel


class SlowToyEstimator:
    \"\"\"Fits y = a x by gradient descent, one epoch every ~0.4 s.\"\"\"

    def __init__(self, epochs=40, lr=0.05):
        self.epochs, self.lr = epochs, lr
        self.fitted_epochs = 0

    def get_params(self):
        return {"epochs": self.epochs, "lr": self.lr}

    def set_params(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)
        return self

    def param_space(self):
        return {"epochs": ("int", 5, 200), "lr": ("log", 1e-3, 1.0)}

    def fit(self, data, run_dir=None, history=None, stop_event=None, resume=False, device=None, **kw):
        x, y = data
        a = 0.0
        for epoch in range(int(self.epochs)):
            if stop_event is not None and stop_event.is_set():
                break
            time.sleep(0.4)
            grad = -2 * np.mean((y - a * x) * x)
            a -= self.lr * grad
            loss = float(np.mean((y - a * x) ** 2))
            history.append({"epoch": epoch, "train_loss": loss, "val_loss": 1.1 * loss + 1e-3})
            self.fitted_epochs = epoch + 1
        return self


rng = np.random.default_rng(0)
x = rng.normal(size=200)
data = (x, 3 * x + rng.normal(0, 0.1, 200))
panel = TrainingPanel(SlowToyEstimator(), data, metric="val_loss")
display(panel)""",
    """\
# PROBE_TRAINING
print(f"RUNNING={panel.is_running} EPOCHS={len(panel.history)} "
      f"STATUS={panel.runs[-1]['status'] if panel.runs else None} ERROR={panel.last_error!r}")
print("TRACEBACK", panel.last_traceback)""",
]

# TrainingPanel with astrolab's real estimator on simulated HSC galaxies. An epoch takes ~0.05-0.2 s,
# so the test presses Stop as soon as the second epoch is shown.
TRAINING_PHOTOZ = [
    """\
# TRAINING_PHOTOZ_SETUP
from IPython.display import display
import astrolab
from astrolab.sim.galaxies import simulate_galaxies
from astrolab.widgets import TrainingPanel

table = simulate_galaxies(1500, survey="hsc", seed=0)
estimator = astrolab.PhotometricRedshift(bands=["g", "r", "i", "z", "y"], hidden=(32,), n_bins=50, epochs=300,
                                         progress=False)
panel = TrainingPanel(estimator, table)
display(panel)""",
    """\
# PROBE_TRAINING
curve = panel.curves.sources.get("train_loss")
print(f"RUNNING={panel.is_running} EPOCHS={len(panel.history)} "
      f"STATUS={panel.runs[-1]['status'] if panel.runs else None} "
      f"CURVE_POINTS={0 if curve is None else len(curve.data['x'])} HIDDEN={estimator.hidden} "
      f"ERROR={panel.last_error!r}")
plot = [c for c in panel.children if "astrolab-plot-curves" in c._dom_classes][0]
print(f"VIEWS={plot._view_count} REFRESHES={plot.n_bundle_refreshes} SOURCES={sorted(panel.curves.sources)}")
print("TRACEBACK", panel.last_traceback)""",
]

# Bare holoviews elements from astrolab.viz as the last expression of a cell (holoviews' own display
# hook), after astrolab.viz.enable_inline() only: nothing may be loaded from a CDN.
VIZ_INLINE = [
    """\
# VIZ_INLINE_SETUP
import numpy as np
import pandas as pd
import astrolab.viz as viz
viz.enable_inline()
rng = np.random.default_rng(0)""",
    """\
# VIZ_SCATTER
viz.scatter_points(rng.normal(size=400), rng.normal(size=400), color_by=rng.uniform(0, 2, 400),
                   x_label="x", y_label="y", title="scatter_points")""",
    """\
# VIZ_PIT
viz.pit_histogram(rng.uniform(size=1000))""",
    """\
# VIZ_LOSS
epochs = np.arange(20)
viz.loss_curves(pd.DataFrame({"epoch": epochs, "train_loss": 2.0 / (1 + epochs), "val_loss": 2.4 / (1 + epochs)}))""",
]


CALIBRATION = [
    """\
# PANEL_CALIBRATION
import numpy as np
from astrolab.metrics.pdf import RedshiftPDF
from astrolab.widgets import CalibrationDashboard, PDFExplorer, Selection

rng = np.random.default_rng(1)
n = 400
mu = rng.uniform(0.2, 1.8, n)
sig = 0.04 * (1 + mu)
z_true = mu + rng.normal(0, 1, n) * sig
pdfs = RedshiftPDF.from_gaussian_mixture(np.ones(n), mu, 0.5 * sig, np.linspace(0, 3, 301),
                                         ids=np.arange(1000, 1000 + n))  # over-confident PDFs
pit = pdfs.pit(z_true)
shared = Selection(name="calibration")
dash = CalibrationDashboard(pdfs, z_true, selection=shared)
display(dash)""",
    """\
# PANEL_PDF
pdf_explorer = PDFExplorer(pdfs, z_true, selection=shared)
display(pdf_explorer)""",
    """\
# PROBE_CALIBRATION
sel = shared.array
rows = np.isin(pdfs.ids, sel)
print(f"SELECTED={len(sel)} DASH={dash.summary['selection_n']} PDF={len(pdf_explorer.selection)} "
      f"MINPIT={pit[rows].min() if rows.any() else -1:.4f} MAXPIT={pit[rows].max() if rows.any() else -1:.4f} "
      f"BRUSH={dash.pit_view.brushed} ERROR={dash._last_exception}")""",
]


def notebook(cells: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    return nb


NOTEBOOKS: dict[str, list[str]] = {
    "baseline.ipynb": BASELINE,
    "panels.ipynb": PANELS,
    "training_panel.ipynb": TRAINING,
    "training_photoz.ipynb": TRAINING_PHOTOZ,
    "viz_inline.ipynb": VIZ_INLINE,
    "calibration.ipynb": CALIBRATION,
}


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        nb = notebook(cells)
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()

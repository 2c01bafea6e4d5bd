"""Interactive panels for JupyterLab (ipywidgets + jupyter_bokeh; no bokeh server).

Every panel is an ``ipywidgets.VBox`` (``display(panel)`` works in JupyterLab,
Notebook 7 and VS Code) whose plots are bokeh figures wrapped in
``jupyter_bokeh.BokehModel``: plot updates and browser selections travel over
the Jupyter comm channel, and BokehJS comes from the installed extension.

Panels
------
- :class:`DataBrowser` -- catalog table, filters, cutouts / spectrum / light curve;
- :class:`TrainingPanel` -- background training with live curves and a runs table;
- :class:`PDFExplorer` -- z_pred vs z_true brushing into PDFs, PIT and coverage;
- :class:`EmbeddingExplorer` -- PCA/UMAP map of latents, up to 10^6 points;
- :class:`LightCurveViewer` -- raw and folded light curves with a periodogram;
- :class:`CalibrationDashboard` -- PIT, PIT-QQ, CRPS, coverage, outliers, KS/CvM, brushable.

Importing this module starts :func:`astrolab.viz.compute.warm_up_rasterizer`
in a daemon thread (datashader's JIT compile, a few seconds of one core), so
the first large scatter renders at warm speed; ``ASTROLAB_WARMUP=0`` turns it off.

Linked views share one :class:`astrolab.selection.Selection`: pass
``selection=other.selection_model`` or call :func:`link`.
"""

from __future__ import annotations

from astrolab.selection import Selection, link
from astrolab.widgets._base import Panel
from astrolab.widgets.calibration import CalibrationDashboard
from astrolab.widgets.data_browser import DataBrowser
from astrolab.widgets.embedding import EmbeddingExplorer
from astrolab.widgets.lightcurves import LightCurveViewer
from astrolab.widgets.pdf_explorer import PDFExplorer
from astrolab.widgets.training import TrainingPanel

from astrolab.viz.compute import warm_up_rasterizer as _warm_up_rasterizer

_warm_up_rasterizer()

__all__ = ["DataBrowser", "TrainingPanel", "PDFExplorer", "EmbeddingExplorer", "LightCurveViewer", "CalibrationDashboard", "Panel",
           "Selection", "link"]

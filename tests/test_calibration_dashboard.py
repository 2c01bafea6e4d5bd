"""CalibrationDashboard: numbers agree with astrolab.metrics, brushing selects the right objects everywhere."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from astrolab.errors import DataValidationError
from astrolab.metrics.pdf import RedshiftPDF, pit_histogram, pit_ks
from astrolab.viz.calibration_plots import EXPLANATIONS, calibration_arrays, pit_histogram_band, pit_qq_plot


def _pdfs(n=1500, width_factor=1.0, seed=1):
    """Gaussian PDFs; truths drawn from them (width_factor=1: calibrated, <1: over-confident)."""
    rng = np.random.default_rng(seed)
    mu = rng.uniform(0.2, 1.8, n)
    sig = 0.04 * (1 + mu)
    zt = mu + rng.normal(0, 1, n) * sig
    grid = np.linspace(0, 3, 601)
    pdf = RedshiftPDF.from_gaussian_mixture(np.ones(n), mu, sig * width_factor, grid, ids=np.arange(5000, 5000 + n))
    return pdf, zt


@pytest.fixture(scope="module")
def overconfident():
    from astrolab.widgets import CalibrationDashboard

    pdf, zt = _pdfs(width_factor=0.5)
    return pdf, zt, CalibrationDashboard(pdf, zt)


def test_calibrated_vs_overconfident_numbers():
    good_pdf, zt = _pdfs(width_factor=1.0)
    bad_pdf, _ = _pdfs(width_factor=0.5)
    good = calibration_arrays(good_pdf, zt)
    bad = calibration_arrays(bad_pdf, zt)
    assert good["ks_p"] > 0.01 and good["ks"] < 0.05
    assert bad["ks"] > 0.15 and bad["ks_p"] < 1e-10 and bad["cvm"] > 10 * good["cvm"]
    # coverage: calibrated ~ nominal; over-confident far below at 68 %
    i68 = int(np.argmin(np.abs(good["levels"] - 0.65)))
    assert abs(good["coverage"][i68] - 0.65) < 0.04
    assert bad["coverage"][i68] < 0.45
    cov = bad_pdf.coverage(zt, (0.65,))
    assert bad["coverage"][i68] == pytest.approx(cov[0.65])
    np.testing.assert_allclose(bad["crps"], bad_pdf.crps(zt))
    assert bad["outlier_rate"] == pytest.approx(np.mean(np.abs(bad_pdf.mode() - zt) > 0.15 * (1 + zt)))


def test_views_match_metrics_and_have_explanations(overconfident):
    pdf, zt, d = overconfident
    pit = pdf.pit(zt)
    counts, edges, band = pit_histogram(pit, d.pit_bins)
    e, dens = d.pit_view.data("all")
    np.testing.assert_allclose(e, edges)
    np.testing.assert_allclose(dens, counts / (len(pit) * np.diff(edges)))
    b = d.pit_view.band.data
    scale = d.pit_bins / len(pit)
    assert b["bottom"][0] == pytest.approx(band[0] * scale) and b["top"][0] == pytest.approx(band[1] * scale)
    assert d.summary["ks"] == pytest.approx(pit_ks(pit).statistic)
    x, y = d.coverage_view.data("all")
    np.testing.assert_allclose(y, [np.mean(np.abs(2 * pit - 1) <= lev) for lev in x], atol=1e-12)
    text = " ".join(w.value for w in _all_widgets(d) if hasattr(w, "value") and isinstance(w.value, str))
    for key in ("pit", "qq", "crps", "coverage", "outliers", "gof"):
        assert EXPLANATIONS[key][:30] in text.replace("&#x27;", "'")
    assert "KS distance" in d.summary_html.value and "CvM" in d.summary_html.value


def _all_widgets(w):
    yield w
    for c in getattr(w, "children", ()) or ():
        yield from _all_widgets(c)


def test_brushing_selects_objects_in_every_linked_view(overconfident):
    from astrolab.widgets import PDFExplorer

    pdf, zt, d = overconfident
    ex = PDFExplorer(pdf, zt, selection=d.selection_model)
    pit = pdf.pit(zt)
    ids = d.brush("pit", 0.95, 1.0)
    want = pdf.ids[pit >= 0.95]
    assert ids.tolist() == sorted(want.tolist()) and len(want) > 50
    assert ex.selection == frozenset(want.tolist())  # the linked explorer sees it
    _, sel_dens = d.pit_view.data("selection")
    assert sel_dens[-1] > 0 and sel_dens[:-1].sum() == 0
    assert d.summary["selection_n"] == len(want)
    # a browser drag arrives as a SelectionGeometry event on the CRPS plot
    crps = pdf.crps(zt)
    d.crps_view._on_geometry(SimpleNamespace(final=True, geometry={"type": "rect", "x0": 0.2, "x1": 0.1,
                                                                   "y0": 0, "y1": 1}))
    assert d.selection_model.array.tolist() == sorted(pdf.ids[(crps >= 0.1) & (crps <= 0.2)].tolist())
    assert d.crps_view.brushed == (0.1, 0.2) and d.pit_view.brushed is None
    # coverage brush: truths outside the 90 % central interval
    d.brush("coverage", 0.9, 1.0)
    assert set(d.selection) == set(pdf.ids[np.abs(2 * pit - 1) >= 0.9].tolist())
    # QQ brush on the lowest decile of ranks = the 10 % lowest PIT values
    d.brush("qq", 0.0, 0.1)
    low = pdf.ids[np.argsort(pit)[: len(pit) // 10]]
    assert set(d.selection) == set(low.tolist())
    # a selection made elsewhere updates the dashboard and clears its brushes
    ex.selection = set(pdf.ids[:5].tolist())
    assert d.summary["selection_n"] == 5 and d.qq_view.brushed is None
    assert len(d.pdf_view.source.data["xs"]) == 5


def test_presets(overconfident):
    pdf, zt, d = overconfident
    pit, crps = pdf.pit(zt), pdf.crps(zt)
    d.buttons["tails"].click()
    assert set(d.selection) == set(pdf.ids[(pit < 0.05) | (pit > 0.95)].tolist())
    d.select_preset("worst_crps")
    sel = np.isin(pdf.ids, d.selection_model.array)
    assert abs(sel.mean() - 0.1) < 0.01 and crps[sel].min() >= crps[~sel].max()
    # worst CRPS decile has a higher outlier rate than all objects
    assert d.summary["selection_mean_crps"] > 2 * d.summary["mean_crps"]
    d.select_preset("clear")
    assert len(d.selection) == 0 and "Nothing selected" in d.message


def test_bad_input_and_nan_truths():
    from astrolab.widgets import CalibrationDashboard

    pdf, zt = _pdfs(n=200)
    with pytest.raises(DataValidationError, match="one true redshift per PDF"):
        CalibrationDashboard(pdf, zt[:10])
    zt2 = zt.copy()
    zt2[:20] = np.nan
    d = CalibrationDashboard(pdf, zt2)
    assert d.summary["n"] == 180 and "20 objects have NaN z_true" in d.message
    d.selection = set(pdf.ids[:30].tolist())
    assert d.summary["selection_n"] == 10 and d.message_level == "warning"
    d.select_preset("nonsense")  # a UI callback: message, not traceback
    assert d.message_level == "error" and "unknown preset" in d.message


def test_holoviews_builders():
    import holoviews as hv

    pdf, zt = _pdfs(n=300)
    pit = pdf.pit(zt)
    h = pit_histogram_band(pit)
    assert isinstance(h, hv.Overlay) and isinstance(pit_qq_plot(pit), hv.Overlay)
    fig = hv.render(h, backend="bokeh")
    assert fig.title.text == "PIT histogram"

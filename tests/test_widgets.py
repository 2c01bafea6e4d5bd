"""Python-side tests of the astrolab panels (no browser): building, linking, bad input, training."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from astrolab.errors import DataValidationError
from astrolab.selection import Selection
from astrolab.widgets import (DataBrowser, EmbeddingExplorer, LightCurveViewer, PDFExplorer, TrainingPanel,
                              link)

N = 60


# ------------------------------------------------------------------ fake containers (documented API)
class FakeImageSet:
    def __init__(self, images, bands, ids):
        self.images, self.bands, self.ids = images, bands, ids

    def __len__(self):
        return len(self.ids)


class FakeSpectrumSet:
    def __init__(self, wavelength, flux, ivar, ids, redshift):
        self.wavelength, self.flux, self.ivar, self.ids, self.redshift = wavelength, flux, ivar, ids, redshift
        self.mask = None

    def __len__(self):
        return len(self.ids)


class FakeLightCurveSet:
    kind = "mag"

    def __init__(self, curves, ids):
        self._curves, self.ids = curves, ids
        self.bands = ["g", "r"]

    def __len__(self):
        return len(self.ids)

    @property
    def n_points(self):
        return np.array([len(c) for c in self._curves])

    def object(self, i):
        return self._curves[i]


class FakeMultimodalSet:
    def __init__(self, catalog, images=None, spectra=None, lightcurves=None):
        self.catalog, self.images, self.spectra, self.lightcurves = catalog, images, spectra, lightcurves
        self.ids = np.asarray(catalog["object_id"])

    def has(self, modality):
        return getattr(self, modality) is not None

    def __len__(self):
        return len(self.ids)


def _lcset(rng, ids, periods):
    curves = []
    for k, p in zip(range(len(ids)), periods):
        if k == 1:  # object with an empty light curve
            curves.append(Table({"mjd": [], "value": [], "error": [], "band": np.array([], dtype=str)}))
            continue
        t = np.sort(rng.uniform(58000, 58100, 120))
        band = np.where(np.arange(t.size) % 2, "g", "r")
        mag = 18 + 0.3 * np.sin(2 * np.pi * t / p) + 0.02 * rng.normal(size=t.size)
        curves.append(Table({"mjd": t, "value": mag, "error": np.full(t.size, 0.02), "band": band}))
    return FakeLightCurveSet(curves, np.asarray(ids))


@pytest.fixture
def dataset(rng):
    ids = np.arange(1000, 1000 + N)
    cat = Table({"object_id": ids, "mag_r": rng.uniform(17, 24, N), "redshift": rng.uniform(0.05, 2.0, N),
                 "type": np.where(np.arange(N) % 3, "galaxy", "star")})
    imgs = FakeImageSet(rng.normal(size=(N // 2, 3, 16, 16)), ["g", "r", "i"], ids[: N // 2])  # half have images
    wave = np.linspace(3800, 9000, 300)
    spec = FakeSpectrumSet(wave, rng.normal(size=(N, 300)) + 5, np.ones((N, 300)), ids,
                           np.asarray(cat["redshift"]))
    lcs = _lcset(rng, ids[:10], rng.uniform(0.5, 5, 10))
    return FakeMultimodalSet(cat, imgs, spec, lcs)


def _pdfs(rng, n=N):
    from astrolab.metrics.pdf import RedshiftPDF

    z = np.linspace(0, 3, 120)
    zt = rng.uniform(0.1, 2.5, n)
    mu = zt + 0.05 * rng.normal(size=n)
    p = np.exp(-0.5 * ((z[None] - mu[:, None]) / 0.08) ** 2)
    return RedshiftPDF(z, p), zt


# ------------------------------------------------------------------------------------- building
def test_data_browser_builds_from_each_container(dataset):
    b = DataBrowser(dataset)
    assert b.table_source.data["object_id"].size == N
    assert "DataBrowser" not in b.message  # no error
    for single in (dataset.images, dataset.spectra, dataset.lightcurves, dataset.catalog,
                   dataset.catalog.to_pandas()):
        panel = DataBrowser(single)
        assert len(panel.table_source.data["object_id"]) == len(single)
    with pytest.raises(DataValidationError, match="Fix"):
        DataBrowser(42)
    with pytest.raises(DataValidationError):
        DataBrowser(dataset, selection="not a selection")


def test_data_browser_filters_sort_search(dataset):
    b = DataBrowser(dataset)
    b.filters["mag_r"].value = (17.0, 20.0)
    mags = np.asarray(dataset.catalog["mag_r"])
    assert b.n_filtered == int((mags <= 20.0).sum())
    b.filters["type"].value = ("star",)
    assert set(b.table_source.data["type"]) == {"star"}
    b.sort_dd.value = "mag_r"
    b.sort_desc.value = True
    shown = b.table_source.data["mag_r"]
    assert np.all(np.diff(shown) <= 0)
    b.search.value = "1005"
    assert b.selection == {1005} and b.current_id == 1005
    b.search.value = "99999"
    assert "No object with id 99999" in b.message


def test_data_browser_shows_modalities_and_missing_ones(dataset):
    b = DataBrowser(dataset)
    b.selection = {1002}  # has image, spectrum, light curve
    assert b.current_id == 1002
    assert len(b.image_view.source.data["image"]) == 4  # g, r, i + RGB
    assert len(b.spectrum_view.sources["flux"].data["x"]) == 300
    assert len(b.lc_view.source.data["x"]) == 120
    b.stretch.value = "zscale"
    b.smoothing.value = 3.0
    assert len(b.spectrum_view.sources["smoothed"].data["x"]) == 300
    b.selection = {1001}  # empty light curve
    assert "no light curve" in b.message
    b.selection = {1040}  # no image, no light curve
    assert "no image" in b.message and "light curve" in b.message
    b.selection = set()
    assert b.current_id is None


def test_embedding_explorer_small_and_nan(rng):
    lat = rng.normal(size=(500, 6))
    lat[3] = np.nan
    cat = pd.DataFrame({"object_id": np.arange(500), "z": rng.uniform(0, 2, 500)})
    e = EmbeddingExplorer(lat, cat, color_by="z")
    assert not e.rasterized and e.coords.shape == (500, 2)
    assert "1 of 500 objects have NaN coordinates" in e.message
    allnan = EmbeddingExplorer(np.full((10, 2), np.nan))
    assert "No object has finite coordinates" in allnan.message
    with pytest.raises(DataValidationError):
        EmbeddingExplorer(lat, cat.iloc[:10])
    with pytest.raises(DataValidationError):
        EmbeddingExplorer(lat, cat, color_by="nope")
    with pytest.raises(DataValidationError):
        EmbeddingExplorer("not an array")


def test_embedding_explorer_datashades_above_threshold(rng):
    lat = rng.normal(size=(3000, 2))
    e = EmbeddingExplorer(lat, threshold=1000, width=120, height=100)
    assert e.rasterized and e.plot.source.data["image"][0].shape == (100, 120)
    idx = e.select_box(0, 10, 0, 10)
    assert e.selection == set(np.flatnonzero((lat[:, 0] >= 0) & (lat[:, 1] >= 0)).tolist())
    assert len(e.plot.overlay_source.data["x"]) == idx.size
    lasso = e.select_lasso([-10, 10, -10], [-10, -10, 10])
    assert 0 < lasso.size < 3000


def test_embedding_from_dask_catalog(rng):
    import dask.dataframe as dd

    df = pd.DataFrame({"object_id": np.arange(4000), "x": rng.normal(size=4000), "y": rng.normal(size=4000)})
    e = EmbeddingExplorer(("x", "y"), dd.from_pandas(df, npartitions=4), threshold=100_000)
    assert e.rasterized  # dask frames are always rasterised out of core
    e.select_box(-0.5, 0.5, -0.5, 0.5)
    assert len(e.selection) == int(((df.x.abs() <= 0.5) & (df.y.abs() <= 0.5)).sum())


def test_pdf_explorer_builds_and_brushes(rng):
    pdfs, zt = _pdfs(rng)
    zt[0] = np.nan
    p = PDFExplorer(pdfs, zt, Table({"object_id": np.arange(N)}))
    assert "1 objects have NaN z_true" in p.message
    assert not p.scatter.rasterized
    assert "Nothing selected" in PDFExplorer(pdfs, np.where(np.isfinite(zt), zt, 1.0)).message
    p.scatter.source.selected.indices = [1, 2, 3, 4, 5]  # as a browser box-select would
    assert p.selection == {1, 2, 3, 4, 5}
    assert len(p.pdf_view.source.data["xs"]) == 5
    assert len(p.pdf_view.truth_source.data["x"]) == 5
    dens = np.asarray(p.pit_view.sources["selection"].data["top"])
    assert dens.sum() * (1 / p.pit_bins) == pytest.approx(1.0)
    cov = np.asarray(p.coverage_view.sources["selection"].data["y"])
    assert cov.shape == (19,) and np.all((cov >= 0) & (cov <= 1))
    big = PDFExplorer(pdfs, np.nan_to_num(zt, nan=1.0), threshold=10)
    assert big.scatter.rasterized
    with pytest.raises(DataValidationError):
        PDFExplorer(pdfs, zt[:5])
    with pytest.raises(DataValidationError):
        PDFExplorer("pdfs", zt)


def test_pdf_explorer_tuple_input_and_images(rng, dataset):
    pdfs, zt = _pdfs(rng)
    p = PDFExplorer((pdfs.z_grid, np.asarray(pdfs.pdf)), zt, dataset.catalog, images=dataset)
    p.selection = {1000, 1001, 1059}
    assert len(p.cutout_view.source.data["image"]) == 2  # 1059 has no image
    p.selection = {5}
    assert "None of the 1 selected objects" in p.message


def test_lightcurve_viewer(rng, dataset):
    v = LightCurveViewer(dataset.lightcurves)
    assert v.current_id == 1000
    true_period = None
    v.selection = {1003}
    assert v.current_id == 1003 and v.best_period is not None
    assert len(v.raw_view.source.data["x"]) == 120
    assert len(v.folded_view.source.data["x"]) == 240
    assert v.period == pytest.approx(v.best_period)
    v.period = 1.2345
    assert "1.2345" in v.folded_view.figure.title.text
    v.selection = {1001}
    assert "no light curve" in v.message and len(v.raw_view.source.data["x"]) == 0
    v.selection = {1050}  # outside the light-curve set
    assert "None of the 1 selected objects has a light curve" in v.message
    v2 = LightCurveViewer(dataset)  # from a MultimodalSet
    assert v2.current_id == 1000
    with pytest.raises(DataValidationError):
        LightCurveViewer(FakeMultimodalSet(dataset.catalog))


# ------------------------------------------------------------------------------------- linking
def test_selection_propagates_between_linked_panels(rng, dataset):
    lat = rng.normal(size=(N, 4))
    emb = EmbeddingExplorer(lat, dataset.catalog)
    browser = DataBrowser(dataset, selection=emb.selection_model)
    lcv = LightCurveViewer(dataset.lightcurves, selection=emb.selection_model)
    pdfs, zt = _pdfs(rng)
    pdfx = PDFExplorer(pdfs, zt, dataset.catalog)
    link(emb, pdfx)
    assert pdfx.selection_model is emb.selection_model

    # programmatic selection on one panel updates all
    emb.selection = {1004, 1007}
    assert browser.current_id == 1004
    assert sorted(browser.table_source.selected.indices) == [4, 7]
    assert lcv.current_id == 1004 and len(lcv.raw_view.source.data["x"]) == 120
    assert len(pdfx.pdf_view.source.data["xs"]) == 2
    assert sorted(emb.plot.source.selected.indices) == [4, 7]
    assert sorted(pdfx.scatter.source.selected.indices) == [4, 7]

    # a bokeh-side selection (what jupyter_bokeh applies from the browser) updates the model and the others
    emb.plot.source.selected.indices = [2, 3]
    assert emb.selection == {1002, 1003}
    assert browser.current_id == 1002 and lcv.current_id == 1002
    assert sorted(pdfx.scatter.source.selected.indices) == [2, 3]

    # a click in the browser's table
    browser.table_source.selected.indices = [9]
    assert emb.selection == {1009} and lcv.current_id == 1009
    assert emb.selection_model.errors == []

    # clearing
    emb.clear_btn.click()
    assert browser.current_id is None and len(pdfx.pdf_view.source.data["xs"]) == 0
    assert "Nothing selected" in pdfx.message


def test_jupyter_bokeh_message_path_updates_selection(rng):
    """The exact message jupyter_bokeh receives from BokehJS on a box-select reaches the Selection."""
    e = EmbeddingExplorer(rng.normal(size=(200, 2)))
    sel_model = e.plot.source.selected
    content = {"event": "jsevent", "kind": "ModelChanged", "model": {"id": sel_model.id}, "attr": "indices",
               "new": [1, 5, 7]}
    e.plot_widget._sync_model(e.plot_widget, content, [])
    assert e.selection == {1, 5, 7}


# ------------------------------------------------------------------------------------- training
class FakeEstimator:
    """Estimator with the documented surface; writes a checkpoint each epoch."""

    def __init__(self, epochs=50, lr=1e-3, hidden=32, loss="nll"):
        self.epochs, self.lr, self.hidden, self.loss = epochs, lr, hidden, loss

    def get_params(self):
        return {"epochs": self.epochs, "lr": self.lr, "hidden": self.hidden, "loss": self.loss}

    def set_params(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)
        return self

    def param_space(self):
        return {"epochs": ("int", 1, 200), "lr": ("log", 1e-5, 1e-1), "hidden": ("int", 16, 512),
                "loss": ("choice", ["hsc", "nll"])}

    def fit(self, table, run_dir=None, history=None, stop_event=None, resume=False, device="auto"):
        import torch

        ckpt = run_dir / "checkpoints" / "last.pt"
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        start = torch.load(ckpt, weights_only=True)["epoch"] + 1 if resume and ckpt.exists() else 0
        for epoch in range(start, self.epochs):
            if stop_event is not None and stop_event.is_set():
                break
            time.sleep(0.03)
            torch.save({"epoch": epoch}, ckpt)
            history.append({"epoch": epoch, "train_loss": 1.0 / (epoch + 1), "val_loss": 1.2 / (epoch + 1)})
        return self


def _wait_for(cond, timeout=10.0):
    t0 = time.time()
    while not cond() and time.time() - t0 < timeout:
        time.sleep(0.01)
    return cond()


def test_training_panel_keeps_settings_the_estimator_does_not_report(tmp_path):
    """A control for a derived setting (PhotometricRedshift's width/depth rebuild ``hidden``) starts at a
    guess; it must not overwrite the estimator's architecture unless the user moves it."""

    class Derived(FakeEstimator):
        def param_space(self):
            return {**super().param_space(), "width": ("int", 16, 1024)}

        def set_params(self, **kw):
            width = kw.pop("width", None)
            if width is not None:
                kw["hidden"] = int(width)
            return super().set_params(**kw)

    est = Derived(epochs=2, hidden=32)
    panel = TrainingPanel(est, data=Table({"a": [1.0]}), run_dir=tmp_path)
    assert panel.controls["width"].value == 16  # the guess
    assert "width" not in panel.fit_settings() and panel.fit_settings()["hidden"] == 32
    panel.start()
    assert panel.wait(60) and est.hidden == 32 and panel.runs[-1]["status"] == "finished"
    panel.controls["width"].value = 64  # the user asks for it
    panel.start()
    assert panel.wait(60) and est.hidden == 64 and panel.runs[-1]["settings"]["width"] == 64


def test_training_panel_controls_start_at_photometric_redshift_architecture():
    import astrolab

    est = astrolab.PhotometricRedshift(bands=["g", "r", "i"], hidden=(48, 48, 48), epochs=3)
    panel = TrainingPanel(est, data=Table({"a": [1.0]}))
    assert panel.controls["width"].value == 48 and panel.controls["depth"].value == 3
    assert panel.controls["epochs"].value == 3
    assert "width" not in panel.fit_settings()


def test_training_panel_writes_widgets_only_on_the_kernel_thread(tmp_path, monkeypatch):
    """Inside a running event loop (a Jupyter kernel) the training thread never writes a widget: Stop's
    status message and the run's end would otherwise race on the same widget state."""
    import asyncio

    import astrolab.widgets.training as training_module

    assert training_module._kernel_loop() is None  # plain Python: no kernel, widgets written at once
    monkeypatch.setattr(training_module, "_kernel_loop", asyncio.get_running_loop)  # as inside a kernel

    writers: dict[str, set] = {"progress": set(), "status": set(), "runs": set(), "stop": set()}

    async def main():
        panel = TrainingPanel(FakeEstimator(epochs=400), data=Table({"a": [1.0]}), run_dir=tmp_path)
        panel.progress.observe(lambda ch: writers["progress"].add(threading.current_thread().name), "value")
        panel.runs_html.observe(lambda ch: writers["runs"].add(threading.current_thread().name), "value")
        panel.status.observe(lambda ch: writers["status"].add(threading.current_thread().name), "value")
        panel.stop_button.observe(lambda ch: writers["stop"].add(threading.current_thread().name), "disabled")
        panel.start()
        while len(panel.history) < 5:
            await asyncio.sleep(0.01)
        panel.stop()
        while panel.is_running:
            await asyncio.sleep(0.01)
        for _ in range(5):  # the queued redraw and _finish run on the loop
            await asyncio.sleep(0.01)
        return panel

    panel = asyncio.run(main())
    main_name = threading.current_thread().name
    for name, threads in writers.items():
        assert threads == {main_name}, f"{name} written from {threads}"
    assert panel.last_error is None, panel.last_traceback
    assert panel.runs[-1]["status"] == "stopped"
    assert panel.progress.value == len(panel.history) >= 5
    assert "stopped" in panel.runs_html.value and "stopped after" in panel.status.value
    assert set(panel.curves.sources) == {"train_loss", "val_loss"}


def test_training_panel_compares_several_models_in_one_runs_table(tmp_path):
    a, b = FakeEstimator(epochs=3, hidden=32), FakeEstimator(epochs=4, hidden=64)
    panel = TrainingPanel({"mine": a, "built-in": b}, data=Table({"a": [1.0]}), run_dir=tmp_path)
    assert panel.model_dd.layout.display is None and panel.target is a
    assert panel.controls["hidden"].value == 32 and panel.progress.max == 3
    panel.start()
    assert panel.wait(60)
    panel.model_dd.value = "built-in"  # as the dropdown in the browser does
    assert panel.target is b and panel.controls["hidden"].value == 64 and panel.progress.max == 4
    panel.controls["lr"].value = 0.01
    panel.start()
    assert panel.wait(60)
    frame = panel.runs_frame()
    assert list(frame["model"]) == ["mine", "built-in"] and list(frame["epochs"]) == [3, 4]
    assert b.lr == pytest.approx(0.01) and a.lr == pytest.approx(1e-3)  # settings went to the selected model
    assert "<th>model</th>" in panel.runs_html.value and "built-in" in panel.runs_html.value
    panel.resume()  # resumes the selected model's last run, not the other's
    assert panel.wait(60) and len(panel.runs) == 2 and panel.runs[1]["status"] == "finished"
    with pytest.raises(DataValidationError, match="no such model"):
        panel.select_model("other")
    with pytest.raises(DataValidationError, match="empty"):
        TrainingPanel({}, data=Table({"a": [1.0]}))


def test_training_panel_start_stop_resume(tmp_path):
    est = FakeEstimator()
    panel = TrainingPanel(est, data=Table({"a": [1.0]}), run_dir=tmp_path)
    assert set(panel.controls) == {"epochs", "lr", "hidden", "loss"}
    assert panel.controls["lr"].value == pytest.approx(1e-3)
    assert "cpu" in panel.device_dd.options
    panel.controls["hidden"].value = 64
    panel.start_button.click()
    assert panel.is_running
    assert _wait_for(lambda: len(panel.history) >= 3)
    panel.stop_button.click()
    assert panel.wait(60)
    n_done = len(panel.history)
    assert 3 <= n_done < 50 and est.hidden == 64
    run = panel.runs[0]
    assert run["status"] == "stopped" and run["epochs"] == n_done
    assert run["best_metric"] == "val_loss" and run["best"] == pytest.approx(1.2 / n_done)
    assert run["checkpoint"] and "Last checkpoint kept" in panel.message
    assert "<td>stopped</td>" in panel.runs_html.value and panel.runs_frame().shape[0] == 1
    assert panel.progress.value == n_done
    assert len(panel.curves.sources["val_loss"].data["x"]) == n_done
    # resume continues from the checkpoint
    panel.controls["epochs"].value = n_done + 2
    panel.resume_button.click()
    assert panel.wait(60)
    assert panel.runs[0]["status"] == "finished" and len(panel.history) == n_done + 2
    assert panel.history["epoch"].tolist()[-1] == n_done + 1


def test_training_panel_errors_show_in_panel(tmp_path):
    class Broken(FakeEstimator):
        def fit(self, *a, **k):
            raise ValueError("bad table")

    panel = TrainingPanel(Broken(), data=[1], run_dir=tmp_path)
    panel.start()
    assert panel.wait(60)
    assert "bad table" in panel.message and panel.runs[0]["status"].startswith("error")
    panel.resume_button.click()  # resuming after an error is allowed and shows the same way
    assert panel.wait(60)
    with pytest.raises(DataValidationError):
        TrainingPanel(object(), data=[1])
    with pytest.raises(DataValidationError):
        TrainingPanel(FakeEstimator(), data=None)


def test_training_panel_torch_module(tmp_path):
    torch = pytest.importorskip("torch")
    train = pytest.importorskip("astrolab.train")
    if not hasattr(train, "fit"):
        pytest.skip("astrolab.train.fit not available yet")
    from torch.utils.data import TensorDataset

    x = torch.randn(64, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5])
    model = torch.nn.Linear(3, 1)

    def loss_fn(m, batch):
        xb, yb = batch
        return torch.nn.functional.mse_loss(m(xb).squeeze(-1), yb)

    panel = TrainingPanel(model, TensorDataset(x, y), val_data=TensorDataset(x, y), loss_fn=loss_fn,
                          run_dir=tmp_path, max_epochs=3)
    panel.controls["batch_size"].value = 32
    panel.start()
    assert panel.wait(60)
    assert panel.runs[0]["status"] == "finished", panel.message
    assert len(panel.history) == 3


# ------------------------------------------------------- bokeh widgets: updates before the view exists
# jupyter_bokeh serialises the document into ``render_bundle`` when the widget is created and sends later
# changes as patches, which the front-end applies only to views that already exist. These tests check what
# a view built later receives: the full state (comm open / request_state), the ``render_bundle`` update
# messages, or the patches.
def _bundle_source_data(bundle, source_id):
    """``data`` of model ``source_id`` in a render bundle (dict, or the JSON string sent over the comm)."""
    import json

    from bokeh.document import Document

    if isinstance(bundle, str):
        bundle = json.loads(bundle)
    (doc_json,) = bundle["docs_json"].values()
    model = Document.from_json(doc_json).get_model_by_id(source_id)
    return {k: np.asarray(v) for k, v in model.data.items()}


def _figure_with_source():
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    src = ColumnDataSource({"x": [], "y": []})
    fig = figure(width=200, height=150)
    fig.scatter("x", "y", source=src)
    return fig, src


class _Recorder:
    """Stands in for the comm's ``send``: keeps the messages the front-end would get."""

    def __init__(self, widget):
        self.msgs = []
        widget.comm.send = lambda data=None, metadata=None, buffers=None: self.msgs.append(data)

    def bundles(self):
        return [m["state"]["render_bundle"] for m in self.msgs
                if m.get("method") == "update" and "render_bundle" in m.get("state", {})]

    def patches(self):
        return [m for m in self.msgs if m.get("method") == "custom" and m["content"].get("msg") == "patch"]


def test_bokeh_widget_update_after_wrapping_reaches_a_later_view():
    from jupyter_bokeh import BokehModel

    from astrolab.widgets._base import bokeh_widget

    # the bug, with jupyter_bokeh alone: the bundle a view is built from keeps the empty source
    fig0, src0 = _figure_with_source()
    plain = BokehModel(fig0)
    src0.data = {"x": [1.0, 2.0], "y": [3.0, 4.0]}
    assert _bundle_source_data(plain.get_state()["render_bundle"], src0.id)["x"].size == 0

    fig, src = _figure_with_source()
    w = bokeh_widget(fig, "demo")
    assert w._view_count == 0  # the front-end is asked to report its views
    assert {"astrolab-plot", "astrolab-plot-demo"} <= set(w._dom_classes)
    src.data = {"x": np.arange(5.0), "y": np.arange(5.0) ** 2}
    assert not w.bundle_is_current
    got = _bundle_source_data(w.get_state()["render_bundle"], src.id)  # state sent to a new front-end model
    np.testing.assert_array_equal(got["y"], [0.0, 1.0, 4.0, 9.0, 16.0])
    assert w.bundle_is_current and w.n_bundle_refreshes == 1
    np.testing.assert_array_equal(_bundle_source_data(w.render_bundle, src.id)["x"], np.arange(5.0))
    # displaying the widget (or a panel holding it) refreshes first
    src.data = {"x": [7.0], "y": [8.0]}
    w._repr_mimebundle_()
    np.testing.assert_array_equal(_bundle_source_data(w.render_bundle, src.id)["x"], [7.0])
    w.close()


def test_bokeh_widget_refreshes_once_per_kernel_handler():
    """In a kernel (an asyncio loop runs the handlers), changes made without a view are coalesced into one
    ``render_bundle`` update sent when the handler returns -- also when they come from a worker thread."""
    import asyncio
    import threading

    from astrolab.widgets._base import bokeh_widget

    async def handler():
        fig, src = _figure_with_source()
        w = bokeh_widget(fig)
        rec = _Recorder(w)
        for k in range(1, 6):  # e.g. a panel drawing its first object in __init__
            src.data = {"x": np.arange(float(k)), "y": np.ones(k)}
        assert rec.bundles() == []  # not yet: one refresh at the end of the handler
        await asyncio.sleep(0)
        (bundle,) = rec.bundles()
        assert _bundle_source_data(bundle, src.id)["x"].size == 5
        assert w.n_bundle_refreshes == 1 and w.bundle_is_current

        # a worker thread (TrainingPanel's) hands the refresh over to the kernel loop
        th = threading.Thread(target=lambda: setattr(src, "data", {"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0]}))
        th.start()
        th.join()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(rec.bundles()) == 2:
                break
        assert len(rec.bundles()) == 2
        assert _bundle_source_data(rec.bundles()[-1], src.id)["x"].tolist() == [1.0, 2.0, 3.0]
        w.close()

    asyncio.run(handler())


def test_bokeh_widget_with_views_sends_patches_and_refreshes_for_a_new_view():
    from astrolab.widgets._base import bokeh_widget

    fig, src = _figure_with_source()
    w = bokeh_widget(fig)
    rec = _Recorder(w)
    w.set_state({"_view_count": 1})  # the front-end reports a displayed view
    assert w.has_views
    src.stream({"x": [1.0], "y": [2.0]})
    src.stream({"x": [2.0], "y": [3.0]})
    assert len(rec.patches()) >= 2 and rec.bundles() == []  # cheap patches, no re-render of the view
    assert not w.bundle_is_current
    w.set_state({"_view_count": 2})  # shown again: the new view was built from the old bundle
    (bundle,) = rec.bundles()
    assert _bundle_source_data(bundle, src.id)["x"].tolist() == [1.0, 2.0]
    # a view taken out of a box and put back later (DataBrowser's detail plots)
    w.set_state({"_view_count": 0})
    src.data = {"x": [5.0, 6.0, 7.0], "y": [0.0, 0.0, 0.0]}
    w.set_state({"_view_count": 1})
    assert _bundle_source_data(rec.bundles()[-1], src.id)["x"].tolist() == [5.0, 6.0, 7.0]
    w.close()


def _plot_widget(panel, name):
    from astrolab.widgets._bokeh import _iter_widgets

    (w,) = [w for w in _iter_widgets(panel) if f"astrolab-plot-{name}" in getattr(w, "_dom_classes", ())]
    return w


def test_panels_filled_before_display_send_their_data(dataset):
    """The panels of the browser bugs: a view built when the panel is displayed gets the data."""
    b = DataBrowser(dataset)
    table = _plot_widget(b, "table")
    b._repr_mimebundle_()  # display(browser)
    rows = _bundle_source_data(table.render_bundle, b.table_source.id)
    assert rows["object_id"].size == N and rows["object_id"][0] == 1000
    # a selection puts the detail plots on screen after updating them (a comm handler, no display call)
    b.selection = {1003}
    spectrum = b._plots["spectra"]
    assert b._boxes["spectra"].children == (spectrum,)
    state = spectrum.get_state()  # what the front-end model holds once the handler's refresh ran
    assert _bundle_source_data(state["render_bundle"], b.spectrum_view.sources["flux"].id)["x"].size == 300

    v = LightCurveViewer(dataset.lightcurves)
    v._repr_mimebundle_()
    for name, view in (("lightcurve", v.raw_view), ("folded", v.folded_view)):
        w = _plot_widget(v, name)
        assert w.bundle_is_current
        assert _bundle_source_data(w.render_bundle, view.source.id)["x"].size in (120, 240)


def test_every_panel_offers_a_static_png_where_no_widget_manager_runs(rng, dataset, monkeypatch):
    """Exported HTML / GitHub previews show the image/png a panel adds to its display bundle."""
    import base64

    from astrolab.export import read_provenance

    xy = rng.normal(size=(300, 2))
    cat = pd.DataFrame({"object_id": np.arange(300), "z": rng.uniform(0, 2, 300)})
    browser = DataBrowser(dataset)
    browser.selection = {1000}  # its plots show the selected object's cutouts, spectrum and light curve
    panels = [EmbeddingExplorer(xy, cat), browser, LightCurveViewer(dataset.lightcurves)]
    for panel in panels:
        plain = panel._repr_mimebundle_()
        assert "image/png" not in (plain[0] if isinstance(plain, tuple) else plain)
        bundle = panel._repr_mimebundle_(include=["image/png", "text/plain",
                                                  "application/vnd.jupyter.widget-view+json"])
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        png = base64.b64decode(data["image/png"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000, type(panel).__name__
        assert "application/vnd.jupyter.widget-view+json" in data  # the live widget is still there
    monkeypatch.setenv("ASTROLAB_STATIC_FALLBACK", "1")
    data = panels[0]._repr_mimebundle_()
    data = data[0] if isinstance(data, tuple) else data
    import tempfile, pathlib

    path = pathlib.Path(tempfile.mkdtemp()) / "fallback.png"
    path.write_bytes(base64.b64decode(data["image/png"]))
    assert "astrolab_version" in read_provenance(path)


def test_browser_events_and_panel_redraws_share_one_document_lock(rng):
    """ipykernel 7 applies browser events (jupyter_bokeh ``_sync_model``) on a subshell thread while cells and
    queued redraws run on the main thread; both must hold ``DOCUMENT_LOCK`` (a line added while the other
    thread applied an event raised "Set changed size during iteration" inside bokeh)."""
    import time

    from astrolab.widgets._bokeh import DOCUMENT_LOCK

    e = EmbeddingExplorer(rng.normal(size=(50, 2)))
    w = e.plot_widget
    held = threading.Event()

    def hold():
        with DOCUMENT_LOCK:
            held.set()
            time.sleep(0.4)

    for call in (lambda: w._sync_model(w, {"event": "not-a-jsevent"}, []),  # an incoming browser message
                 lambda: setattr(e, "selection", {1, 2})):                 # a selection redraw
        t = threading.Thread(target=hold)
        t.start()
        held.wait(5)
        t0 = time.perf_counter()
        call()
        waited = time.perf_counter() - t0
        t.join()
        assert waited > 0.25, f"ran without waiting for the document lock ({waited:.3f} s)"
    assert e.selection == {1, 2}


def test_browser_echoes_of_our_patches_do_not_undo_later_changes():
    """BokehJS reports back the changes it makes while applying a kernel patch; those echoes arrive late.

    The training panel adds several loss curves in one redraw: the echo of the first patch
    (``renderers = [line 1]``) used to detach the other lines, so only the first curve was drawn.
    """
    from bokeh.core.serialization import Serializer

    from astrolab.viz.live import LinesView
    from astrolab.widgets._base import bokeh_widget
    from astrolab.widgets._bokeh import value_fingerprint

    lines = LinesView((), "loss", "epoch", "value", y_axis_type="log")
    w = bokeh_widget(lines.figure)
    rec = _Recorder(w)
    w.set_state({"_view_count": 1})
    fig = lines.figure

    def browser_event(model, attr, value):
        """The jsevent BokehJS sends for ``model.attr = value`` (references by id, arrays encoded)."""
        refs = {m: m.ref for m in fig.document.models}
        new = Serializer(references=refs, deferred=False).encode(value)
        return {"event": "jsevent", "kind": "ModelChanged", "model": {"id": model.id}, "attr": attr, "new": new}

    echoes = []
    for name in ("train_loss", "val_loss", "val_nmad"):
        lines.update(name, [1.0], [2.0])
        src = lines.sources[name]
        echoes += [browser_event(fig, "renderers", list(fig.renderers)),
                   browser_event(src, "data", dict(src.data))]
    lines.update("train_loss", [1.0, 2.0], [2.0, 1.5])  # the next epoch, sent before the echoes arrive
    assert len(rec.patches()) > 0
    for content in echoes:  # the late echoes of the first redraw
        w._sync_model(w, content, [])
    assert len(fig.renderers) == 3, "an echo detached lines added after it"
    assert all(s.document is fig.document for s in lines.sources.values())
    assert lines.data("train_loss")[0].tolist() == [1.0, 2.0], "an echo rolled back newer data"
    # a genuine browser event (the y range BokehJS computed) is applied
    w._sync_model(w, browser_event(fig.y_range, "start", 0.25), [])
    assert fig.y_range.start == 0.25
    # an event about a model no longer in the document is dropped, not raised
    w._sync_model(w, {"event": "jsevent", "kind": "ModelChanged", "model": {"id": "p-gone"}, "attr": "data",
                      "new": {"type": "map", "entries": []}}, [])
    # the fingerprint is the same for a value and its round trip (list vs float64 array, models by id)
    assert value_fingerprint([1, 2]) == value_fingerprint(np.array([1.0, 2.0]))
    assert value_fingerprint({"x": [1.0]}) != value_fingerprint({"x": [2.0]})
    w.close()

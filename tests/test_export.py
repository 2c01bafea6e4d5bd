"""astrolab.export: PNG/SVG/PDF figures and ECSV/FITS data, with provenance read back from every file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import astrolab
from astrolab import export
from astrolab.errors import DataValidationError
from astrolab.metrics.pdf import RedshiftPDF
from astrolab.selection import Selection


@pytest.fixture(scope="module")
def dashboard():
    from astrolab.widgets import CalibrationDashboard

    rng = np.random.default_rng(2)
    n = 600
    mu = rng.uniform(0.2, 1.8, n)
    sig = 0.04 * (1 + mu)
    zt = mu + rng.normal(0, 1, n) * sig
    pdf = RedshiftPDF.from_gaussian_mixture(np.ones(n), mu, 0.6 * sig, np.linspace(0, 3, 301))
    d = CalibrationDashboard(pdf, zt)
    d.brush("pit", 0.9, 1.0)
    return d, pdf, zt


def test_export_view_all_formats_with_provenance(dashboard, tmp_path):
    from astropy.io import fits
    from astropy.table import Table
    from PIL import Image

    d, pdf, zt = dashboard
    sess = astrolab.save_session(tmp_path / "s.json", selections=[d.selection_model.copy(name="tail")],
                                 data={"pdf": pdf, "z_true": zt})
    s = astrolab.load_session(sess)
    out = export.export_view(d, tmp_path / "out", session=s, data={"pdf": pdf, "z_true": zt})
    assert set(out) == {"pit", "qq", "crps", "coverage", "pdfs"}
    want_data = export.provenance(data={"pdf": pdf, "z_true": zt})["data_hash"]
    for name, files in out.items():
        assert set(files) == {"png", "svg", "pdf", "ecsv", "fits"}
        for fmt, path in files.items():
            assert path.stat().st_size > 500, path
            rec = export.read_provenance(path)
            assert rec["session_hash"] == s.session_hash, (name, fmt)
            assert rec["data_hash"] == want_data and rec["astrolab_version"] == astrolab.__version__
            assert rec["versions"]["numpy"] == np.__version__ and rec["view"] == "CalibrationDashboard"
    pit = out["pit"]
    with Image.open(pit["png"]) as im:
        assert round(im.info["dpi"][0]) == 300 and im.size[0] >= 900
        assert im.text["astrolab:session_hash"] == s.session_hash
    root = ET.parse(pit["svg"]).getroot()
    assert root.tag.endswith("svg") and any(el.tag.endswith("path") for el in root.iter())
    raw = pit["pdf"].read_bytes()
    assert raw.startswith(b"%PDF") and f"session_hash={s.session_hash}".encode() in raw
    # the exported data are the plotted numbers
    t = Table.read(pit["ecsv"], format="ascii.ecsv")
    allrows = t[t["layer"] == "all"]
    edges, dens = d.pit_view.data("all")
    np.testing.assert_allclose(allrows["left"], edges[:-1])
    np.testing.assert_allclose(allrows["top"], dens)
    sel = t[t["layer"] == "selection"]
    assert sel["top"][-1] > 0 and np.all(sel["top"][:-2] == 0)
    with fits.open(pit["fits"]) as hdul:
        assert hdul[0].header["SESSHASH"] == s.session_hash and hdul[0].header["DATAHASH"] == want_data
        assert json.loads(hdul[0].header["PROVJSON"])["git_commit"] == s.git["commit"]
        np.testing.assert_allclose(hdul["ALL"].data["top"], dens)
        assert hdul["ALL"].header["KIND"] == "quad"
    cov = Table.read(out["coverage"]["ecsv"], format="ascii.ecsv")
    x, y = d.coverage_view.data("all")
    np.testing.assert_allclose(cov[cov["layer"] == "all"]["y"], y)
    assert cov.meta["astrolab_provenance"]["session_hash"] == s.session_hash


def test_export_figure_holoviews_and_live_view(tmp_path):
    from astrolab.viz.calibration_plots import pit_qq_plot
    from astrolab.viz.live import LinesView

    rng = np.random.default_rng(0)
    files = export.export_figure(pit_qq_plot(rng.uniform(size=300)), tmp_path / "qq", formats=("pdf", "ecsv"),
                                 session="abc123", data=np.arange(5))
    assert export.read_provenance(files["pdf"])["session_hash"] == "abc123"
    assert export.read_provenance(files["ecsv"])["data_hash"] == astrolab.session.data_hash(np.arange(5))
    lv = LinesView(("loss",), "training", "epoch", "loss")
    lv.update("loss", [1, 2, 3], [0.9, 0.5, 0.4])
    got = export.export_view(lv, tmp_path / "lv", formats=("ecsv", "png"), prefix="train")
    from astropy.table import Table

    t = Table.read(got["figure"]["ecsv"], format="ascii.ecsv")
    assert t["y"].tolist() == [0.9, 0.5, 0.4] and set(t["layer"]) == {"loss"}


def test_static_png_and_errors(dashboard, tmp_path):
    d, *_ = dashboard
    png = export.static_png(d)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    with pytest.raises(DataValidationError, match="unknown format"):
        export.export_figure(d.figures["pit"], tmp_path / "x", formats=("gif",))
    with pytest.raises(DataValidationError, match="holds no bokeh figure"):
        export.export_view(Selection([1]), tmp_path)
    (tmp_path / "plain.ecsv").write_text("# %ECSV 1.0\n# ---\n# datatype:\n# - {name: a, datatype: int64}\na\n1\n")
    with pytest.raises(DataValidationError, match="no astrolab provenance"):
        export.read_provenance(tmp_path / "plain.ecsv")


def test_dashboard_static_png_fallback_in_mimebundle(dashboard, monkeypatch):
    import base64

    d, *_ = dashboard
    plain = d._repr_mimebundle_()
    assert "image/png" not in plain and "application/vnd.jupyter.widget-view+json" in plain
    both = d._repr_mimebundle_(include=["image/png", "application/vnd.jupyter.widget-view+json"])
    png = base64.b64decode(both["image/png"])
    assert png[:4] == b"\x89PNG" and "application/vnd.jupyter.widget-view+json" in both
    monkeypatch.setenv("ASTROLAB_STATIC_FALLBACK", "1")
    assert "image/png" in d._repr_mimebundle_()

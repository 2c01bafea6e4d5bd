"""astrolab.config, the lazy top-level package and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

import astrolab
from astrolab import config
from astrolab.cli import main


def test_version_and_lazy_exports():
    assert astrolab.__version__ == "0.1.0"
    for name in ("PhotometricRedshift", "load_dataset", "RedshiftPDF", "ImageSet", "DataBrowser"):
        assert name in dir(astrolab)
    with pytest.raises(AttributeError):
        astrolab.does_not_exist


def test_import_is_light():
    code = ("import sys, time; t=time.perf_counter(); import astrolab; dt=time.perf_counter()-t; "
            "heavy=[m for m in ('torch','lightning','holoviews','umap','bokeh') if m in sys.modules]; "
            "print(dt, heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(" ", 1)
    assert out[1].strip() == "[]", f"import astrolab pulled heavy modules: {out[1]}"
    assert float(out[0]) < 1.0


def test_cache_dir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ASTROLAB_CACHE", str(tmp_path / "c"))
    assert config.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_fast_mode(monkeypatch):
    monkeypatch.setenv("ASTROLAB_FAST", "1")
    assert config.is_fast() and config.fast_or_full(1, 2) == 1
    monkeypatch.setenv("ASTROLAB_FAST", "0")
    assert not config.is_fast() and config.fast_or_full(1, 2) == 2


def test_device_and_seed(monkeypatch):
    import torch

    monkeypatch.delenv("ASTROLAB_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert config.device().type == expected
    assert config.device("cpu").type == "cpu"
    config.seed_everything(3)
    a = torch.rand(3)
    config.seed_everything(3)
    assert torch.equal(a, torch.rand(3))


def test_cli_help_and_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "reproduce" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == astrolab.__version__


def test_cli_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "astrolab", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "lab" in out.stdout


def test_cli_data_list_and_info(capsys):
    assert main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert "chronoflow" in listing and "galaxies_sim" in listing and "piczl_demo" in listing
    assert main(["data", "info", "chronoflow"]) == 0
    assert "MIT" in capsys.readouterr().out
    assert main(["data", "info", "nope"]) == 2
    assert "Fix:" in capsys.readouterr().err


def test_cli_lab_binds_localhost_with_token(capsys):
    assert main(["lab", "--dry-run", "--no-browser", "--port", "8899"]) == 0
    out = capsys.readouterr().out
    assert "--ip=127.0.0.1" in out and "--IdentityProvider.token=" in out
    token = out.split("token=")[1].split()[0]
    assert len(token) >= 32


def test_reproduce_report_lists_runtimes_metrics_and_headlines(tmp_path):
    import base64

    import nbformat

    from astrolab.reproduce import NotebookRun, write_report

    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 20).decode()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("plot()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png})]
    nb.cells.append(cell)
    executed = tmp_path / "07_chronoflow.ipynb"
    nbformat.write(nb, executed)
    runs = [NotebookRun("07_chronoflow", True, 123.4, executed, None,
                        {"metrics": {"loco": {"median_abs_dlog_age": 0.032}, "n": 4}, "context": {"epochs": 30}}),
            NotebookRun("99_broken", False, 5.0, None, None, {}, "CellExecutionError: boom")]
    path = write_report(runs, tmp_path, fast=True)
    text = path.read_text()
    assert "ChronoFlow" in text and "0.06 dex" in text            # the paper's headline beside
    assert "loco.median_abs_dlog_age" in text and "0.032" in text  # this run's metrics
    assert "123.4" in text and "128 s" in text and "met" in text   # runtimes and the 15-minute goal
    assert f"base64,{png}" in text and "07_chronoflow.html" in text
    assert "boom" in text and "failed" in text


def test_reproduce_param_overrides_the_parameters_cell(tmp_path):
    """``astrolab reproduce NAME -p N=...`` runs the notebook with the new value and records it."""
    import json

    import nbformat

    from astrolab.reproduce import parse_parameters

    assert parse_parameters(["N=10000", "DEVICE=cuda", "MEMBERS=[('crps', 3)]"]) == {
        "N": 10000, "DEVICE": "cuda", "MEMBERS": [("crps", 3)]}
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("N = 10\nSCALE = 2.0", metadata={"tags": ["parameters"]})
    body = nbformat.v4.new_code_cell(
        "from astrolab.reproduce import write_metrics\n"
        "write_metrics('98_params', {'n_times_scale': N * SCALE})")
    nb.cells = [params, body]
    folder = tmp_path / "nbs"
    folder.mkdir()
    nbformat.write(nb, folder / "98_params.ipynb")
    from astrolab.reproduce import reproduce

    runs = reproduce(["98_params"], out=tmp_path / "out", folder=folder, parameters={"N": 7})
    assert runs[0].ok, runs[0].error
    payload = json.loads((tmp_path / "out" / "98_params.metrics.json").read_text())
    assert payload["metrics"]["n_times_scale"] == 14.0
    assert payload["context"]["injected_parameters"] == {"N": 7}
    executed = nbformat.read(tmp_path / "out" / "98_params.ipynb", as_version=4)
    assert executed.cells[1].metadata["tags"] == ["injected-parameters"]
    # a name the parameters cell does not set is refused with the names it does set
    with pytest.raises(Exception, match="SCALE"):
        reproduce(["98_params"], out=tmp_path / "out2", folder=folder, parameters={"EPOCH": 3})
    with pytest.raises(Exception, match="NAME=VALUE"):
        parse_parameters(["EPOCHS"])
    from astrolab.cli import build_parser

    args = build_parser().parse_args(["reproduce", "04", "-p", "N=12000", "--param", "EPOCHS=20"])
    assert parse_parameters(args.param) == {"N": 12000, "EPOCHS": 20}

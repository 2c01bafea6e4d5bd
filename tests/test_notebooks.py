"""Every notebook is stored clean, has a tagged parameters cell, and runs headless in FAST mode.

The run goes through the real ``astrolab reproduce NAME --fast`` command, so
this also checks that the CLI writes the executed notebook, its HTML copy and
the metrics JSON.
"""

from __future__ import annotations

import json

import nbformat
import pytest

from astrolab import config
from astrolab.cli import main

NOTEBOOKS = sorted(config.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert any(p.stem == "00_tour" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_without_outputs_with_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "notebook has no code"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "strip outputs"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one code cell must be tagged 'parameters'"
    assert "FAST" in tagged[0].source and "DEVICE" in tagged[0].source


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_runs_headless_in_fast_mode(path, tmp_path, capsys):
    code = main(["reproduce", path.stem, "--fast", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert (tmp_path / path.name).exists()
    assert (tmp_path / f"{path.stem}.html").stat().st_size > 10_000
    report = (tmp_path / "report.html").read_text()
    assert path.stem in report and "runtime" in report.lower()
    payload = json.loads((tmp_path / f"{path.stem}.metrics.json").read_text())
    assert payload["fast"] is True and payload["metrics"]
    executed = nbformat.read(tmp_path / path.name, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors

"""Run the paper notebooks headless and collect their outputs.

Each notebook writes its metrics with :func:`write_metrics`; the runner sets
``ASTROLAB_OUTPUT_DIR`` so those files land next to the executed notebook and
its HTML copy.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from astrolab import config
from astrolab.errors import invalid
from astrolab.utils import atomic_path

__all__ = ["find_notebooks", "execute_notebook", "reproduce", "write_metrics", "output_dir", "NotebookRun"]


def output_dir() -> Path:
    """Folder where notebooks write metrics (``ASTROLAB_OUTPUT_DIR`` or ``<cache>/outputs``)."""
    env = os.environ.get("ASTROLAB_OUTPUT_DIR")
    path = Path(env) if env else config.cache_dir() / "outputs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _jsonable(value):
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and value != value:
        return None
    return value


def write_metrics(notebook: str, metrics: dict, extra: dict | None = None) -> Path:
    """Write a notebook's metrics as JSON (atomic) and return the path.

    Parameters
    ----------
    notebook : str
        Notebook name without extension (e.g. ``"00_tour"``).
    metrics : dict
        Metric name -> value (numbers, or nested dicts of numbers).
    extra : dict, optional
        Context stored beside the metrics (sizes, FAST flag, device...).
    """
    import astrolab

    payload = {
        "notebook": notebook,
        "astrolab_version": astrolab.__version__,
        "fast": config.is_fast(),
        "metrics": _jsonable(metrics),
        "context": _jsonable(extra or {}),
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    path = output_dir() / f"{notebook}.metrics.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, allow_nan=False))
    return path


def find_notebooks(names=None, folder=None) -> list[Path]:
    """Notebooks ``NN_*.ipynb`` in ``folder`` (default :func:`astrolab.config.notebooks_dir`).

    Parameters
    ----------
    names : list of str, optional
        Names or prefixes (``"00_tour"``, ``"00"``, ``"tour"``); all notebooks when empty.
    """
    folder = Path(folder) if folder else config.notebooks_dir()
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return found
    chosen = []
    for name in names:
        stem = Path(name).stem
        match = [p for p in found if p.stem == stem or p.stem.startswith(stem) or stem in p.stem]
        if not match:
            raise invalid(f"notebook {name!r}", f"not found in {folder}",
                          f"use one of {[p.stem for p in found]}")
        chosen.extend(m for m in match if m not in chosen)
    return chosen


@dataclass
class NotebookRun:
    """Outcome of one headless notebook execution."""

    name: str
    ok: bool
    seconds: float
    executed: Path | None = None
    html: Path | None = None
    metrics: dict = field(default_factory=dict)
    error: str | None = None


def execute_notebook(path, out_dir, fast: bool = True, timeout: int = 1800, kernel_name: str = "python3") -> NotebookRun:
    """Execute one notebook headless with nbclient; save ``.ipynb``, ``.html`` and metrics.

    Parameters
    ----------
    path : path
        Notebook to run (it is not modified).
    out_dir : path
        Output folder: ``<name>.ipynb`` (executed), ``<name>.html`` and ``<name>.metrics.json``.
    fast : bool
        Run in FAST mode (``ASTROLAB_FAST=1``).
    timeout : int
        Per-cell time limit in seconds.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    path = Path(path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(path, as_version=4)
    env_backup = {k: os.environ.get(k) for k in ("ASTROLAB_FAST", "ASTROLAB_OUTPUT_DIR")}
    os.environ["ASTROLAB_OUTPUT_DIR"] = str(out_dir.resolve())
    if fast:
        os.environ["ASTROLAB_FAST"] = "1"
    start = time.perf_counter()
    error = None
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                                resources={"metadata": {"path": str(path.parent.resolve())}})
        client.execute()
    except Exception as exc:  # keep the partial notebook for inspection
        error = f"{type(exc).__name__}: {str(exc)[-2000:]}"
    finally:
        for k, v in env_backup.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.perf_counter() - start
    executed = out_dir / path.name
    with atomic_path(executed) as tmp:
        nbformat.write(nb, str(tmp))
    html = out_dir / f"{path.stem}.html"
    body, _ = HTMLExporter().from_notebook_node(nb)
    with atomic_path(html) as tmp:
        tmp.write_text(body, encoding="utf-8")
    metrics_path = out_dir / f"{path.stem}.metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    if error is None and not metrics:
        error = f"the notebook ran but wrote no metrics file ({metrics_path.name})"
    return NotebookRun(path.stem, error is None, seconds, executed, html, metrics, error)


def reproduce(names=None, fast: bool = True, out="reproduce", folder=None, timeout: int = 1800) -> list[NotebookRun]:
    """Run notebooks headless and write ``summary.json`` in ``out``.

    Returns
    -------
    list of NotebookRun
    """
    out = Path(out)
    runs = []
    for nb in find_notebooks(names, folder):
        run = execute_notebook(nb, out, fast=fast, timeout=timeout)
        runs.append(run)
        status = "ok" if run.ok else f"FAILED: {run.error}"
        print(f"{run.name}: {run.seconds:.1f} s, {status}", flush=True)
    summary = [{"name": r.name, "ok": r.ok, "seconds": round(r.seconds, 2), "error": r.error,
                "metrics": r.metrics.get("metrics", {})} for r in runs]
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return runs

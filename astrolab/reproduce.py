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

__all__ = ["find_notebooks", "execute_notebook", "reproduce", "write_metrics", "write_report", "output_dir",
           "NotebookRun", "PAPER_HEADLINES", "FAST_BUDGET_S"]

#: Goal for all notebooks in FAST mode on 2 CPU cores [s].
FAST_BUDGET_S = 15 * 60

#: The paper behind each notebook (by number) and its headline numbers, for the report.
PAPER_HEADLINES = {
    "00": ("astrolab tour (GalaxiesML-style photometric redshifts)",
           "no paper: the network is compared with the template-fitting oracle (physical limit)"),
    "01": ("Do et al. - GalaxiesML: image vs photometry photo-z",
           "images reduce bias ~10x relative to photometry alone for 0.1 < z < 1.25"),
    "02": ("Soriano et al. - TransferZ: different ground truths and transfer learning",
           "transfer learning / combined training reduce bias ~5x, RMS ~1.5x, outliers ~1.3x vs the noisy-label baseline"),
    "03": ("Engel et al. - Mantis Shrimp: multi-survey CNN photo-z",
           "bias 1e-2, NMAD 2.44e-2, outliers 17.53 %; early fusion ~ late fusion; calibrated densities"),
    "04": ("Roster et al. - PICZL: image-based photo-z for AGN",
           "sigma_NMAD 4.5 %, outliers 5.6 % on 8,098 validation AGN"),
    "05": ("Rizhko & Bloom - AstroM3: trimodal CLIP",
           "photometry accuracy 84.6 % -> 91.5 % with CLIP pre-training; UMAP rediscovers Mira and ROT subclasses"),
    "06": ("Shen & Gagliano - daep: diffusion autoencoders with Perceivers",
           "daep: lower reconstruction error and more discriminative latents than VAE and maep"),
    "07": ("Van-Lane et al. - ChronoFlow: data-driven gyrochronology",
           "cluster ages to 0.06 dex statistical (+0.06 dex systematic); single stars 0.7 dex"),
    "08": ("Karchev, Trotta & Jimenez - CIGaRS: SBI from SNe Ia and host photometry",
           "photo-z scatter < 0.01; metallicity dependence mimics the 1e10 Msun mass step; calibrated posteriors"),
    "09": ("Jespersen et al. - The optical and infrared are connected",
           "chi2_N ~ 1 in all four WISE bands; key lines Ca II, Sr II, Fe I, [O II], H-alpha"),
    "10": ("Zhang et al. - Interpretable stellar mass: causal discovery + information decomposition",
           "images add information beyond photometry; optical images largely subsume WISE; X_in -> S -> Y"),
    "11": ("Real archives (SDSS, IRSA, MAST, Legacy Survey)", "no paper: fetchers, cache and offline fallbacks"),
    "12": ("Prototype your own model", "no paper: a user's network vs the built-in model and the oracle"),
}


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


def parse_parameters(items) -> dict:
    """Parse ``NAME=VALUE`` strings (the CLI's ``--param``) into a dict of Python literals.

    ``VALUE`` is read with :func:`ast.literal_eval` (``N=10000``, ``EPOCHS=30``,
    ``MEMBERS=[("crps", 3)]``, ``DEVICE='cuda'``); anything that is not a literal
    is kept as a string (``DEVICE=cuda``).

    Parameters
    ----------
    items : iterable of str

    Returns
    -------
    dict
    """
    import ast

    out = {}
    for item in items or ():
        name, sep, value = str(item).partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise invalid(f"parameter {item!r}", "is not NAME=VALUE with a Python identifier as NAME",
                          "write e.g. --param N=10000 or --param DEVICE=cuda")
        try:
            out[name] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[name] = value.strip()
    return out


def inject_parameters(nb, parameters: dict) -> None:
    """Insert a cell tagged ``injected-parameters`` after the ``parameters`` cell (papermill's convention).

    Parameters
    ----------
    nb : nbformat.NotebookNode
        Modified in place.
    parameters : dict
        Names the notebook's ``parameters`` cell assigns, with their new values.

    Raises
    ------
    DataValidationError
        When the notebook has no ``parameters`` cell or a name is not assigned in it.
    """
    import ast

    import nbformat

    if not parameters:
        return
    idx = next((i for i, c in enumerate(nb.cells)
                if c.cell_type == "code" and "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if idx is None:
        raise invalid("notebook", "has no cell tagged 'parameters'", "tag the notebook's parameter cell 'parameters'")
    assigned = set()
    for node in ast.walk(ast.parse(nb.cells[idx].source)):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                assigned |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    unknown = sorted(set(parameters) - assigned)
    if unknown:
        raise invalid(f"parameters {unknown}", "are not set in the notebook's parameters cell",
                      f"use one of {sorted(assigned)}")
    src = "# Injected parameters (astrolab reproduce --param)\n" + "".join(
        f"{k} = {v!r}\n" for k, v in parameters.items())
    cell = nbformat.v4.new_code_cell(src, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(idx + 1, cell)


def execute_notebook(path, out_dir, fast: bool = True, timeout: int = 1800, kernel_name: str = "python3",
                     parameters: dict | None = None) -> NotebookRun:
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
    parameters : dict, optional
        New values for names of the ``parameters`` cell (e.g. ``{"N": 10000}``), set in
        an injected cell after it; they are also written into the metrics file's ``context``.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    path = Path(path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(path, as_version=4)
    inject_parameters(nb, parameters or {})
    env_backup = {k: os.environ.get(k) for k in ("ASTROLAB_FAST", "ASTROLAB_OUTPUT_DIR", "ASTROLAB_STATIC_FALLBACK")}
    os.environ["ASTROLAB_OUTPUT_DIR"] = str(out_dir.resolve())
    # panels add a static PNG of their plots: the HTML copy and the report show them without a widget manager
    os.environ["ASTROLAB_STATIC_FALLBACK"] = "1"
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
    if metrics and parameters:
        metrics.setdefault("context", {})["injected_parameters"] = _jsonable(parameters)
        with atomic_path(metrics_path) as tmp:
            tmp.write_text(json.dumps(metrics, indent=2))
    if error is None and not metrics:
        error = f"the notebook ran but wrote no metrics file ({metrics_path.name})"
    return NotebookRun(path.stem, error is None, seconds, executed, html, metrics, error)


def reproduce(names=None, fast: bool = True, out="reproduce", folder=None, timeout: int = 1800,
              parameters: dict | None = None) -> list[NotebookRun]:
    """Run notebooks headless and write ``summary.json`` in ``out``.

    ``parameters`` (e.g. ``{"N": 10000, "EPOCHS": 30}``) overrides names of each
    notebook's ``parameters`` cell (see :func:`inject_parameters`): a run between
    FAST and full scale.

    Returns
    -------
    list of NotebookRun
    """
    out = Path(out)
    runs = []
    for nb in find_notebooks(names, folder):
        run = execute_notebook(nb, out, fast=fast, timeout=timeout, parameters=parameters)
        runs.append(run)
        status = "ok" if run.ok else f"FAILED: {run.error}"
        print(f"{run.name}: {run.seconds:.1f} s, {status}", flush=True)
    summary = [{"name": r.name, "ok": r.ok, "seconds": round(r.seconds, 2), "error": r.error,
                "metrics": r.metrics.get("metrics", {})} for r in runs]
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    report = write_report(runs, out, fast=fast)
    total = sum(r.seconds for r in runs)
    print(f"total {total:.0f} s for {len(runs)} notebook(s)"
          + (f" (FAST goal for all notebooks: {FAST_BUDGET_S} s)" if fast else "") + f"; report: {report}", flush=True)
    return runs


def _flatten(metrics, prefix: str = "") -> list[tuple[str, object]]:
    rows = []
    for key, value in (metrics or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(_flatten(value, name + "."))
        elif isinstance(value, (list, tuple)) and len(value) > 8:
            rows.append((name, f"[{len(value)} values]"))
        else:
            rows.append((name, value))
    return rows


def _fmt(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _key_figures(executed: Path | None, limit: int = 4) -> list[str]:
    """Base64 PNGs among the executed notebook's outputs (the static figures), at most ``limit``."""
    if executed is None or not Path(executed).exists():
        return []
    import nbformat

    pngs = []
    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {}) if isinstance(out, dict) else {}
            if "image/png" in data:
                pngs.append(data["image/png"].replace("\n", ""))
    return pngs[:limit]


def write_report(runs: list[NotebookRun], out, fast: bool = True) -> Path:
    """Write ``report.html`` in ``out``: per notebook its runtime, status, the paper's headline numbers
    beside the notebook's metrics (truth/oracle comparisons are among them where the notebook has
    them), its static figures and a link to the executed notebook's HTML copy.

    Parameters
    ----------
    runs : list of NotebookRun
        Results of :func:`execute_notebook`.
    out : path
        Output folder (the report links the HTML copies written there).
    fast : bool
        Whether the runs were in FAST mode (the 15-minute goal applies then).

    Returns
    -------
    pathlib.Path
        The report file.
    """
    import html as _html

    import astrolab

    out = Path(out)
    total = sum(r.seconds for r in runs)
    esc = _html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>astrolab reproduce report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;} table{border-collapse:collapse;}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px;} .ok{color:#2a7;}"
        ".bad{color:#c33;} img{max-width:520px;margin:4px;border:1px solid #eee;}</style></head><body>",
        f"<h1>astrolab reproduce report</h1><p>astrolab {esc(astrolab.__version__)}, "
        f"{'FAST' if fast else 'full'} mode, written {esc(time.strftime('%Y-%m-%d %H:%M:%S'))}. "
        f"Total runtime <b>{total:.0f} s</b> for {len(runs)} notebook(s)"
        + (f" (goal: all notebooks under {FAST_BUDGET_S} s on 2 CPU cores: "
           f"<b class='{'ok' if total <= FAST_BUDGET_S else 'bad'}'>"
           f"{'met' if total <= FAST_BUDGET_S else 'not met'}</b>)" if fast else "") + ".</p>",
        "<table><tr><th>notebook</th><th>status</th><th>runtime [s]</th><th>paper</th></tr>",
    ]
    for r in runs:
        paper = PAPER_HEADLINES.get(r.name[:2], ("", ""))[0]
        status = "<span class='ok'>ok</span>" if r.ok else "<span class='bad'>failed</span>"
        parts.append(f"<tr><td><a href='#{esc(r.name)}'>{esc(r.name)}</a></td><td>{status}</td>"
                     f"<td>{r.seconds:.1f}</td><td>{esc(paper)}</td></tr>")
    parts.append("</table>")
    for r in runs:
        paper, headline = PAPER_HEADLINES.get(r.name[:2], ("", ""))
        parts.append(f"<h2 id='{esc(r.name)}'>{esc(r.name)}</h2>")
        if paper:
            parts.append(f"<p><b>Paper:</b> {esc(paper)}<br><b>Paper's headline:</b> {esc(headline)}</p>")
        link = f"{r.name}.html"
        parts.append(f"<p>Runtime {r.seconds:.1f} s. Executed notebook: <a href='{esc(link)}'>{esc(link)}</a>"
                     f" (all figures, interactive).</p>")
        if r.error:
            parts.append(f"<pre class='bad'>{esc(r.error[-1500:])}</pre>")
        rows = _flatten(r.metrics.get("metrics", {}))
        if rows:
            parts.append("<table><tr><th>metric (this run)</th><th>value</th></tr>"
                         + "".join(f"<tr><td>{esc(k)}</td><td>{esc(_fmt(v))}</td></tr>" for k, v in rows)
                         + "</table>")
        context = r.metrics.get("context", {})
        if context:
            parts.append("<p><small>" + esc(", ".join(f"{k}={_fmt(v)}" for k, v in _flatten(context))) + "</small></p>")
        for png in _key_figures(r.executed):
            parts.append(f"<img alt='figure of {esc(r.name)}' src='data:image/png;base64,{png}'>")
    parts.append("</body></html>")
    path = out / "report.html"
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    return path

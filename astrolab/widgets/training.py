"""TrainingPanel: train an estimator or a torch module in the background with live curves."""

from __future__ import annotations

import asyncio
import html
import threading
import time
from pathlib import Path
from typing import Any, Callable

import ipywidgets as W
import numpy as np

from astrolab.errors import invalid
from astrolab.selection import Selection
from astrolab.viz.live import LinesView
from astrolab.widgets._base import Panel, bokeh_widget, guarded

__all__ = ["TrainingPanel", "SimpleHistory"]

# history columns kept out of the loss/metric curves (other scales; still in ``panel.history``)
_NOT_CURVES = frozenset({"epoch", "lr", "elapsed_s", "time_s", "step"})


class SimpleHistory:
    """Minimal metrics history used when :mod:`astrolab.train` is not importable.

    Same surface as ``astrolab.train.MetricsHistory``: ``append(row)``,
    ``subscribe(callback)``, ``rows`` and ``frame`` (pandas, one row per epoch).
    """

    def __init__(self):
        self.rows: list[dict] = []
        self._subs: list = []
        self._lock = threading.Lock()

    def subscribe(self, callback) -> None:
        """Call ``callback(row_dict)`` after every appended row."""
        self._subs.append(callback)

    def append(self, row: dict) -> None:
        """Record one epoch's metrics and notify subscribers."""
        with self._lock:
            self.rows.append(dict(row))
        for cb in list(self._subs):
            cb(dict(row))

    log = append

    @property
    def frame(self):
        """pandas.DataFrame of the rows."""
        import pandas as pd

        return pd.DataFrame(self.rows)


def _new_history():
    try:
        from astrolab.train import MetricsHistory  # type: ignore

        return MetricsHistory()
    except Exception:  # engine not available (or not yet written)
        return SimpleHistory()


def _control_for(name: str, spec: Any, value: Any):
    """An ipywidget for a parameter spec ``("int"|"float"|"log", lo, hi)`` / ``("choice", options)``."""
    kind = spec[0] if isinstance(spec, (tuple, list)) and spec else None
    style = {"description_width": "110px"}
    layout = W.Layout(width="360px")
    if kind == "int":
        lo, hi = int(spec[1]), int(spec[2])
        v = int(np.clip(value if isinstance(value, (int, np.integer)) else lo, lo, hi))
        return W.IntSlider(value=v, min=lo, max=hi, description=name, style=style, layout=layout,
                           continuous_update=False)
    if kind == "float":
        lo, hi = float(spec[1]), float(spec[2])
        v = float(np.clip(value if isinstance(value, (int, float)) else lo, lo, hi))
        return W.FloatSlider(value=v, min=lo, max=hi, step=(hi - lo) / 100, description=name, style=style,
                             layout=layout, continuous_update=False)
    if kind == "log":
        lo, hi = np.log10(float(spec[1])), np.log10(float(spec[2]))
        v = float(value) if isinstance(value, (int, float)) and value > 0 else 10 ** ((lo + hi) / 2)
        return W.FloatLogSlider(value=float(np.clip(v, 10 ** lo, 10 ** hi)), base=10, min=lo, max=hi, step=0.01,
                                description=name, style=style, layout=layout, readout_format=".2e",
                                continuous_update=False)
    if kind == "choice":
        opts = list(spec[1])
        return W.Dropdown(options=opts, value=value if value in opts else opts[0], description=name,
                          style=style, layout=layout)
    # inferred from the current value
    if isinstance(value, bool):
        return W.Checkbox(value=value, description=name, style=style)
    if isinstance(value, (int, np.integer)):
        return W.IntText(value=int(value), description=name, style=style, layout=layout)
    if isinstance(value, (float, np.floating)):
        return W.FloatText(value=float(value), description=name, style=style, layout=layout)
    return None


def _kernel_loop():
    """The running asyncio loop of the IPython kernel this runs in, or None (plain Python, tests).

    Only a kernel's loop is trusted to run the callbacks the training thread queues: another library
    may leave a loop marked as running in the main thread without running it (Playwright's sync API).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except Exception:  # pragma: no cover - IPython is a dependency
        return None
    return loop if ip is not None and getattr(ip, "kernel", None) is not None else None


class TrainingPanel(Panel):
    """Train an estimator or a torch module in a background thread, with live curves and a runs table.

    Parameters
    ----------
    estimator_or_model : estimator, torch.nn.Module or dict of str -> estimator
        A dict puts several estimators in one panel (e.g. your own model beside
        the built-in one): a "model" dropdown picks the one Start trains, and the
        runs table compares all of them. Otherwise either an astrolab-style estimator (``get_params()``, ``fit(data, ...,
        run_dir=, history=, stop_event=, resume=, device=)``, optional
        ``param_space()``, ``param_values()`` and ``set_params(**kw)``), or a torch module trained with
        :func:`astrolab.train.fit` (then pass ``data`` as a torch Dataset and
        ``loss_fn`` unless the module defines ``loss``).
    data : table or torch.utils.data.Dataset
        Training data (what the estimator's ``fit`` takes, or the train Dataset).
    val_data : torch.utils.data.Dataset, optional
        Validation dataset (module mode).
    loss_fn : callable, optional
        Loss ``loss_fn(model, batch) -> scalar tensor`` (module mode; see the engine).
    fit_kwargs : dict, optional
        Extra keyword arguments for every ``fit`` call (e.g. ``{"z": "redshift"}``).
    run_dir : path, optional
        Parent folder of the runs (``run_<k>`` inside); default a ``runs`` folder in
        the astrolab cache.
    metric : str
        Metric column for "best" in the runs table (minimum); falls back to
        ``val_loss`` then ``train_loss``.
    selection : astrolab.selection.Selection, optional
        Accepted for symmetry with the other panels.

    Attributes
    ----------
    targets : dict of str -> estimator or module
        The models of this panel; ``target`` / ``target_name`` is the selected one.
    model_dd : ipywidgets.Dropdown
        Model choice (hidden when there is one model); see :meth:`select_model`.
    controls : dict of str -> ipywidgets.Widget
        Generated setting controls (regenerated when the model changes).
    start_button, stop_button, resume_button : ipywidgets.Button
    progress : ipywidgets.IntProgress
        Epochs done of the current run.
    curves : astrolab.viz.live.LinesView
        Loss/metric curves, one line per history column.
    runs : list of dict
        One entry per run of this session (settings, epochs, best metric, time, status, run_dir).
    history : pandas.DataFrame
        Metrics of the current/last run (one row per epoch).
    """

    _css_name = "astrolab-training"

    def __init__(self, estimator_or_model: Any, data: Any = None, *, val_data: Any = None, loss_fn: Any = None,
                 fit_kwargs: dict | None = None, run_dir: Any = None, metric: str = "val_loss",
                 max_epochs: int = 20, selection: Selection | None = None, title: str = "Training"):
        super().__init__(selection=selection, title=title)
        if isinstance(estimator_or_model, dict):
            if not estimator_or_model:
                raise invalid("TrainingPanel(estimator_or_model={...})", "the dict of models is empty",
                              "pass {'name': estimator, ...} with at least one estimator")
            self.targets = {str(k): v for k, v in estimator_or_model.items()}
        else:
            self.targets = {type(estimator_or_model).__name__: estimator_or_model}
        modes = {name: self._detect_mode(t) for name, t in self.targets.items()}
        if len(self.targets) > 1 and set(modes.values()) != {"estimator"}:
            raise invalid("TrainingPanel(estimator_or_model={...})", "a dict of models must hold estimators only",
                          "wrap each torch module in an estimator, or give each module its own TrainingPanel")
        self.target_name = next(iter(self.targets))
        self.target = self.targets[self.target_name]
        estimator_or_model = self.target
        self.mode = modes[self.target_name]
        self._max_epochs = int(max_epochs)
        if data is None:
            raise invalid("TrainingPanel(data=...)", "no training data given",
                          "pass the training table (estimator) or a torch Dataset (module)")
        if self.mode == "module" and loss_fn is None and not hasattr(estimator_or_model, "loss"):
            raise invalid("TrainingPanel(loss_fn=...)", "a torch module needs a loss",
                          "pass loss_fn=<callable(model, batch) -> loss> or give the module a .loss method")
        self.data, self.val_data, self.loss_fn = data, val_data, loss_fn
        self.fit_kwargs = dict(fit_kwargs or {})
        self.metric = metric
        self._run_root = Path(run_dir) if run_dir is not None else None
        self.runs: list[dict] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._rows: list[dict] = []
        self._lock = threading.Lock()
        # the kernel's event loop and its thread, where widgets and plots are written (see _on_kernel_thread)
        self._loop = _kernel_loop()
        self._loop_thread = threading.current_thread()
        self._draw_pending = False
        self.last_error: BaseException | None = None
        self.last_traceback: str = ""

        # ---- controls
        self.controls: dict[str, W.Widget] = {}
        self._touched: set = set()
        self.controls_box = W.VBox([], layout=W.Layout(flex_flow="row wrap", display="flex"))
        self._build_controls()
        self.model_dd = W.Dropdown(options=list(self.targets), value=self.target_name, description="model",
                                   layout=W.Layout(width="320px", display=None if len(self.targets) > 1 else "none"))
        self.model_dd.add_class("astrolab-model")
        self.model_dd.observe(lambda ch: self.select_model(ch["new"]), names="value")
        devices = ["auto", "cpu"]
        try:
            import torch

            if torch.cuda.is_available():
                devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        except Exception:  # pragma: no cover
            pass
        self.device_dd = W.Dropdown(options=devices, value="auto", description="device",
                                    layout=W.Layout(width="200px"))
        self.device_dd.add_class("astrolab-device")
        self.start_button = W.Button(description="Start", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.resume_button = W.Button(description="Resume", button_style="info", icon="repeat", disabled=True)
        for b, css in ((self.start_button, "start"), (self.stop_button, "stop"), (self.resume_button, "resume")):
            b.add_class(f"astrolab-{css}")
        self.start_button.on_click(lambda _b: self.start())
        self.stop_button.on_click(lambda _b: self.stop())
        self.resume_button.on_click(lambda _b: self.resume())
        self.progress = W.IntProgress(value=0, min=0, max=self._epochs(), description="epochs",
                                      bar_style="info", layout=W.Layout(width="420px"))
        self.progress.add_class("astrolab-progress")
        self.progress_label = W.HTML("")
        self.curves = LinesView((), "loss and metrics", "epoch", "value", 560, 300, y_axis_type="log")
        self.curves_widget = bokeh_widget(self.curves.figure, "curves")
        self.runs_html = W.HTML("")
        self.runs_html.add_class("astrolab-runs")
        self.children = [
            self.title,
            self.model_dd,
            self.controls_box,
            W.HBox([self.device_dd, self.start_button, self.stop_button, self.resume_button]),
            W.HBox([self.progress, self.progress_label]),
            self.curves_widget,
            self.runs_html,
            self.status,
        ]
        self._ready = True
        self._render_runs()

    # ------------------------------------------------------------------ setup
    def _build_controls(self) -> None:
        """(Re)generate the setting controls from the current target's configuration."""
        target = self.target
        self.controls = {}
        if self.mode == "estimator":
            params = dict(target.get_params())
            if callable(getattr(target, "param_values", None)):  # derived settings (width, depth)
                params.update(target.param_values())
            space = dict(target.param_space()) if hasattr(target, "param_space") else {}
            for name, spec in space.items():
                w = _control_for(name, spec, params.get(name))
                if w is not None:
                    self.controls[name] = w
            if not space:
                for name, value in params.items():
                    if name in ("device", "progress"):
                        continue
                    w = _control_for(name, None, value)
                    if w is not None:
                        self.controls[name] = w
        else:
            self.controls["max_epochs"] = _control_for("max_epochs", ("int", 1, 500), self._max_epochs)
            self.controls["batch_size"] = _control_for("batch_size", ("choice", [16, 32, 64, 128, 256, 512, 1024]),
                                                       64)
            self.controls["lr"] = _control_for("lr", ("log", 1e-5, 1e-1), 1e-3)
        for w in self.controls.values():
            w.add_class("astrolab-param")
        # Controls for settings the estimator does not report in get_params() (PhotometricRedshift's
        # width/depth, which rebuild ``hidden``) start at a guess: pass them on only once the user moved them.
        reported = set(target.get_params()) if self.mode == "estimator" else set(self.controls)
        self._touched = set(reported)
        for name, w in self.controls.items():
            if name not in reported:
                w.observe(lambda ch, name=name: self._touched.add(name), names="value")
        self.controls_box.children = list(self.controls.values())

    def select_model(self, name: str) -> None:
        """Make the model called ``name`` (a key of the dict given to the panel) the one Start trains."""
        if name not in self.targets:
            raise invalid(f"TrainingPanel.select_model({name!r})", "no such model",
                          f"use one of {list(self.targets)}")
        if self.is_running:
            self.show_message("Stop the running training before switching models.", "warning")
            self.model_dd.value = self.target_name
            return
        self.target_name, self.target = name, self.targets[name]
        if self.model_dd.value != name:
            self.model_dd.value = name
        self._build_controls()
        self.progress.max = self._epochs()
        self.resume_button.disabled = not any(r.get("model") == name for r in self.runs)

    @staticmethod
    def _detect_mode(obj) -> str:
        if hasattr(obj, "get_params") and hasattr(obj, "fit"):
            return "estimator"
        try:
            import torch

            if isinstance(obj, torch.nn.Module):
                return "module"
        except Exception:  # pragma: no cover
            pass
        raise invalid("TrainingPanel(estimator_or_model=...)", f"got {type(obj).__name__}",
                      "pass an estimator with get_params()/fit() (e.g. astrolab.PhotometricRedshift) or a "
                      "torch.nn.Module")

    def settings(self) -> dict:
        """Current values of the generated controls (name -> value)."""
        return {k: w.value for k, w in self.controls.items()}

    def fit_settings(self) -> dict:
        """The settings a run uses: controls of parameters the estimator reports, and any other control
        the user changed (e.g. ``width``/``depth`` of :class:`astrolab.PhotometricRedshift`)."""
        return {k: v for k, v in self.settings().items() if k in self._touched}

    def _epochs(self) -> int:
        s = self.settings()
        for key in ("epochs", "max_epochs"):
            if key in s:
                return max(1, int(s[key]))
        if self.mode == "estimator":
            return max(1, int(self.target.get_params().get("epochs", 10)))
        return 10

    @property
    def is_running(self) -> bool:
        """True while a training thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def history(self):
        """pandas.DataFrame of the current/last run's epochs."""
        import pandas as pd

        with self._lock:
            return pd.DataFrame(list(self._rows))

    # ---------------------------------------------------------------- actions
    @guarded
    def start(self, resume: bool = False) -> None:
        """Start a new run (or, with ``resume=True``, continue the last one) in a background thread."""
        if self.is_running:
            self.show_message("A run is already in progress; stop it first.", "warning")
            return
        mine = [r for r in self.runs if r.get("model") == self.target_name]
        if resume and not mine:
            self.show_message("Nothing to resume yet: press Start first.", "warning")
            return
        settings = self.fit_settings()
        if resume:
            run = mine[-1]
            run_dir = Path(run["run_dir"])
            run["status"] = "running"
        else:
            root = self._run_root
            if root is None:
                from astrolab import config

                root = config.cache_dir() / "runs"
            run_dir = Path(root) / f"run_{time.strftime('%Y%m%d-%H%M%S')}_{len(self.runs) + 1}"
            run = {"run": len(self.runs) + 1, "model": self.target_name, "settings": settings, "device": self.device_dd.value,
                   "epochs": 0, "best": float("nan"), "best_metric": "", "time_s": 0.0, "status": "running",
                   "run_dir": str(run_dir)}
            self.runs.append(run)
            with self._lock:
                self._rows = []
            for name in list(self.curves.sources):
                self.curves.update(name, [], [])
        self._stop = threading.Event()
        self.progress.max = self._epochs()
        self.progress.value = len(self._rows)
        self.progress.bar_style = "info"
        self.start_button.disabled = True
        self.resume_button.disabled = True
        self.stop_button.disabled = False
        self.model_dd.disabled = True
        self._t0 = time.perf_counter()
        self._t_before = run["time_s"]
        self.show_message(("Resuming" if resume else "Starting") + f" run {run['run']} on "
                          f"{self.device_dd.value} ...", "info")
        self._render_runs()
        self._draw_pending = False
        self._thread = threading.Thread(target=self._train, args=(self.target, run, run_dir, resume, settings),
                                        name=f"astrolab-train-{run['run']}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the running training to stop (the last checkpoint is kept)."""
        if self.is_running:
            self._stop.set()
            self.show_message("Stopping after the current step ...", "info")

    def resume(self) -> None:
        """Continue the last run from its last checkpoint."""
        self.start(resume=True)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run ends (or ``timeout`` seconds); True when it ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ----------------------------------------------------------------- worker
    def _train(self, target, run, run_dir, resume, settings):
        history = _new_history()
        history.subscribe(lambda row: self._on_epoch(run, row))
        status = "finished"
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            device = self.device_dd.value
            if self.mode == "estimator":
                if settings and hasattr(target, "set_params"):
                    target.set_params(**settings)
                target.fit(self.data, run_dir=run_dir, history=history, stop_event=self._stop,
                                resume=resume, device=device, **self.fit_kwargs)
            else:
                from astrolab.train import fit

                fit(target, self.data, self.val_data, loss_fn=self.loss_fn,
                    max_epochs=int(settings["max_epochs"]), batch_size=int(settings["batch_size"]),
                    lr=float(settings["lr"]), run_dir=run_dir, resume=resume, device=device, progress=False,
                    history=history, stop_event=self._stop, **self.fit_kwargs)
            if self._stop.is_set():
                status = "stopped"
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            self._record_error(exc)
            status = f"error: {type(exc).__name__}: {exc}"
        finally:
            run["time_s"] = self._t_before + time.perf_counter() - self._t0
            run["status"] = status
            ckpt = run_dir / "checkpoints" / "last.pt"
            run["checkpoint"] = str(ckpt) if ckpt.exists() else None
            self._on_kernel_thread(lambda: self._finish(run, status))

    def _on_epoch(self, run, row):
        """Training thread: record the epoch, then ask the kernel's thread to redraw."""
        row = {k: (float(v) if isinstance(v, (int, float, np.number)) and k != "epoch" else v)
               for k, v in dict(row).items()}
        with self._lock:
            self._rows.append(row)
            rows = list(self._rows)
        try:
            run["epochs"] = len(rows)
            key = next((k for k in (self.metric, "val_loss", "train_loss", "loss") if k in row), None)
            if key is not None:
                vals = np.asarray([r.get(key, np.nan) for r in rows], dtype=np.float64)
                if np.isfinite(vals).any():
                    run["best"] = float(np.nanmin(vals))
                    run["best_metric"] = key
            run["time_s"] = self._t_before + time.perf_counter() - self._t0
            self._request_display()
        except Exception as exc:  # never kill the training because of the display
            self._record_error(exc)

    def _record_error(self, exc: BaseException) -> None:
        """Keep ``exc`` and its formatted traceback (``last_error``, ``last_traceback``)."""
        import traceback

        self.last_error = exc
        self.last_traceback = "".join(traceback.format_exception(exc))

    def _on_kernel_thread(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the kernel's event loop thread (now, if this is that thread or there is no loop).

        Widgets and bokeh documents are not thread-safe: written from the training thread while the
        kernel's thread handles a click (Stop) or the browser's range updates, an ipywidget's pending
        state set or a bokeh document changed under iteration ("Set changed size during iteration")
        and new lines reached the browser broken. So the training thread only records data and asks;
        every widget and plot is written by the kernel's main thread, holding
        :data:`astrolab.widgets._bokeh.DOCUMENT_LOCK` against browser events applied on ipykernel's
        subshell thread.
        """
        loop = self._loop
        if loop is None or threading.current_thread() is self._loop_thread or loop.is_closed():
            fn()
            return

        def guarded_fn():
            try:
                fn()
            except Exception as exc:  # never break the kernel loop because of the display
                self._record_error(exc)

        try:
            loop.call_soon_threadsafe(guarded_fn)
        except RuntimeError:  # loop closed meanwhile
            fn()

    def _request_display(self):
        """Redraw curves, progress and the runs table on the kernel's thread (once per burst of epochs)."""
        if self._loop is not None and threading.current_thread() is not self._loop_thread:
            with self._lock:
                if self._draw_pending:
                    return
                self._draw_pending = True
        self._on_kernel_thread(self._draw_display)

    def _draw_display(self):
        from astrolab.widgets._bokeh import DOCUMENT_LOCK

        with DOCUMENT_LOCK:
            self._draw_display_locked()

    def _draw_display_locked(self):
        with self._lock:
            self._draw_pending = False
            rows = list(self._rows)
        if not rows:
            return
        try:
            last = rows[-1]
            cols = [k for k in last if k not in _NOT_CURVES and isinstance(last[k], float)]
            epochs = [r.get("epoch", i) for i, r in enumerate(rows)]
            for col in cols:
                self.curves.update(col, epochs, [r.get(col, np.nan) for r in rows])
            self.progress.value = min(len(rows), self.progress.max)
            self.progress_label.value = f"<span>epoch {len(rows)} / {self.progress.max}</span>"
            self._render_runs()
        except Exception as exc:  # never break the kernel loop because of the display
            self._record_error(exc)

    def _finish(self, run, status):
        from astrolab.widgets._bokeh import DOCUMENT_LOCK

        with DOCUMENT_LOCK:
            self._finish_locked(run, status)

    def _finish_locked(self, run, status):
        self.start_button.disabled = False
        self.stop_button.disabled = True
        self.resume_button.disabled = False
        self.model_dd.disabled = False
        self.progress.bar_style = "success" if status == "finished" else ("warning" if status == "stopped"
                                                                          else "danger")
        self._render_runs()
        if status.startswith("error"):
            self.show_message(f"Run {run['run']} failed: {status[7:]}", "error")
        else:
            kept = " Last checkpoint kept." if run.get("checkpoint") else ""
            self.show_message(f"Run {run['run']} {status} after {run['epochs']} epoch(s) in "
                              f"{run['time_s']:.1f} s.{kept}", "ok" if status == "finished" else "info")

    # ------------------------------------------------------------------ table
    def runs_frame(self):
        """pandas.DataFrame comparing the runs of this session (one row per run)."""
        import pandas as pd

        rows = []
        for r in self.runs:
            row = {"run": r["run"], **({"model": r.get("model")} if len(self.targets) > 1 else {}),
                   **{f"{k}": v for k, v in r["settings"].items()}, "device": r["device"],
                   "epochs": r["epochs"], f"best {r['best_metric'] or 'metric'}": r["best"],
                   "time (s)": round(r["time_s"], 2), "status": r["status"]}
            rows.append(row)
        return pd.DataFrame(rows)

    def _render_runs(self):
        if not self.runs:
            self.runs_html.value = "<i>No runs yet. Set the parameters and press Start.</i>"
            return
        several = len(self.targets) > 1
        head = "".join(f"<th>{html.escape(h)}</th>" for h in
                       ("run",) + (("model",) if several else ()) +
                       ("settings", "device", "epochs", "best", "time (s)", "status"))
        body = []
        for r in self.runs:
            settings = ", ".join(f"{k}={_short(v)}" for k, v in r["settings"].items())
            best = "" if not np.isfinite(r["best"]) else f"{r['best_metric']} = {r['best']:.4g}"
            cells = ((r["run"],) + ((r.get("model"),) if several else ()) +
                     (settings, r["device"], r["epochs"], best, f"{r['time_s']:.1f}", r["status"]))
            body.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
        self.runs_html.value = (f'<table class="astrolab-runs-table"><thead><tr>{head}</tr></thead>'
                                f"<tbody>{''.join(body)}</tbody></table>")


def _short(v):
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)

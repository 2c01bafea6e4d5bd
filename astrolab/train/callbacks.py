"""Lightning callbacks of the engine: history, atomic checkpoints, early stopping, stop event, progress bar.

:class:`EngineCallback` is the one place where :func:`astrolab.train.fit`
hooks into Lightning's loop. It is a ``Checkpoint`` callback, so Lightning
runs it after the LightningModule's own ``on_train_epoch_end`` (and sees the
epoch metrics logged there), and it never pickles anything: every file is a
plain dict written through :func:`astrolab.utils.atomic_path`.

Exact resume, the timeline of one epoch ``e`` (0-based)::

    on_train_epoch_start(e)   write the pending checkpoint of epoch e-1 (model, optimiser,
                              scheduler *after* its epoch step, RNG states now), or, first
                              epoch of a resumed call, restore the RNG states saved there;
                              then select the shuffling of epoch e (seed, e)
    ... training batches, validation ...
    on_train_epoch_end(e)     history row, best / early-stopping bookkeeping, mark pending
    (Lightning steps epoch-interval LR schedulers here)
    on_train_epoch_start(e+1) or on_train_end: write the pending checkpoint

"Write" means: copy the state (tensors to CPU) in the training thread, then
write the files in one background thread (at most one write in flight;
``on_train_end`` waits for it, and its errors are raised in the training
thread), so the disk time overlaps with the next epoch's steps.

Saving at the start of the next epoch (rather than at the end of this one)
puts the LR-scheduler state after its epoch step and the RNG states exactly
where the resumed run restores them, so a resumed run repeats the same
computations as an uninterrupted one on CPU.
"""

from __future__ import annotations

import csv
import json
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Checkpoint, TQDMProgressBar

from astrolab.errors import CheckpointError, invalid
from astrolab.train.checkpoint import (
    FORMAT_VERSION,
    copy_checkpoint,
    epoch_checkpoint_path,
    load_checkpoint,
    prune_epoch_checkpoints,
    restore_rng_state,
    rng_state,
    save_checkpoint,
)
from astrolab.utils import atomic_path

__all__ = ["EngineCallback", "ProgressBar", "infer_mode"]

_MAX_WORDS = ("acc", "auc", "r2", "f1", "precision", "recall", "score", "iou", "dice")


def infer_mode(metric: str) -> str:
    """``"max"`` for metrics that grow when better (accuracy, AUC, R², F1, ...), else ``"min"``.

    Parameters
    ----------
    metric : str
        Metric name, e.g. ``"val_loss"`` -> ``"min"``, ``"val_acc"`` -> ``"max"``.
    """
    name = metric.lower()
    if "loss" in name or "err" in name:
        return "min"
    return "max" if any(w in name for w in _MAX_WORDS) else "min"


def _better(value: float, best: float | None, mode: str) -> bool:
    if value != value:  # NaN never improves
        return False
    if best is None:
        return True
    return value < best if mode == "min" else value > best


def _scalar(value) -> float | None:
    if torch.is_tensor(value):
        if value.numel() != 1:
            return None
        return float(value.detach().float().cpu())
    if isinstance(value, (int, float)):
        return float(value)
    return None


class EngineCallback(Checkpoint):
    """History rows, per-epoch atomic checkpoints, early stopping, stop event and exact resume.

    Parameters
    ----------
    run_dir : pathlib.Path
        Run folder; checkpoints go to ``run_dir/checkpoints/``, the metrics to
        ``run_dir/history.csv``.
    history : MetricsHistory
        Receives one row per completed epoch.
    monitor : str
        Metric for ``best.pt`` and early stopping.
    mode : {"min", "max"}
        Direction of ``monitor``.
    patience : int or None
        Stop after this many epochs without improvement of ``monitor``.
    keep : int
        Number of ``epoch=NNNN.pt`` files kept (``last.pt``/``best.pt`` always kept).
    stop_event : threading.Event or None
        When set, training stops after the current batch.
    config, fit_settings : dict
        JSON-able dicts stored in every checkpoint.
    resume_state : dict or None
        The checkpoint a resumed call starts from.
    samplers : list
        Objects with ``use_epoch(epoch)`` selecting the shuffling of an epoch.
    generators : list of torch.Generator
        DataLoader generators re-seeded from ``(seed, epoch)`` at every epoch.
    seed : int
        Run seed.
    user_generators : list of torch.Generator
        Generators of user DataLoaders whose state is saved and restored.
    """

    def __init__(self, *, run_dir: Path, history, monitor: str, mode: str = "min", patience: int | None = None,
                 keep: int = 3, stop_event=None, config: dict | None = None, fit_settings: dict | None = None,
                 resume_state: dict | None = None, samplers=(), generators=(), seed: int = 0,
                 user_generators=()):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.history, self.monitor, self.mode = history, monitor, mode
        self.patience = int(patience) if patience else None
        self.keep, self.stop_event = int(keep), stop_event
        self.config, self.fit_settings = dict(config or {}), dict(fit_settings or {})
        self.samplers, self.generators, self.seed = list(samplers), list(generators), int(seed)
        self.user_generators = list(user_generators)
        self.resume_state = resume_state
        st = resume_state or {}
        self.start_epoch = int(st.get("epoch", 0))
        self.epochs_done = self.start_epoch
        self.elapsed_before = float(st.get("elapsed_s", 0.0))
        self.best_value, self.best_epoch, self.wait = None, None, 0
        for row in history.rows:  # replay the restored rows: best and patience survive a resume
            self._track(row)
        self.stopped_early = bool(self.patience and self.wait >= self.patience)
        self.interrupted = False
        self._partial = False
        self._pending: dict | None = None
        self._restore_rng = resume_state is not None and "rng" in st
        self._verified = False
        self._config_written = False
        self._writer: threading.Thread | None = None
        self._writer_error: BaseException | None = None
        self._epoch_lr: float | None = None
        self._warned_monitor = False
        self.best_path: Path | None = None
        self.last_path: Path | None = None
        self._t0 = time.perf_counter()

    # ----------------------------------------------------------------- bookkeeping
    def _track(self, row: dict) -> bool:
        value = row.get(self.monitor)
        if value is None:
            return False
        if _better(float(value), self.best_value, self.mode):
            self.best_value, self.best_epoch, self.wait = float(value), int(row.get("epoch", 0)), 0
            return True
        self.wait += 1
        return False

    @property
    def should_not_start(self) -> bool:
        """True when a resumed run had already met its early-stopping criterion."""
        return self.stopped_early

    # ----------------------------------------------------------------- hooks
    def on_train_start(self, trainer, pl_module):
        st = self.resume_state
        if st is None:
            return
        opt_states = st.get("optimizer_states") or []
        if opt_states and len(opt_states) != len(trainer.optimizers):
            raise CheckpointError(
                f"checkpoint {str(self.ckpt_dir / 'last.pt')!r}: holds {len(opt_states)} optimizer state(s) but the "
                f"model configures {len(trainer.optimizers)}. Fix: resume with the same model and optimizer "
                "settings, or start a fresh run (resume=False or another run_dir).")
        for opt, state in zip(trainer.optimizers, opt_states):
            opt.load_state_dict(state)
        for cfg, state in zip(trainer.lr_scheduler_configs, st.get("scheduler_states") or []):
            cfg.scheduler.load_state_dict(state)
        prec = st.get("precision_state")
        if prec:
            trainer.precision_plugin.load_state_dict(prec)

    def on_train_epoch_start(self, trainer, pl_module):
        if self._pending is not None:
            self._write_pending(trainer, pl_module)
        if self._restore_rng:
            self._restore_rng = False
            restore_rng_state(self.resume_state["rng"])
            for gen, state in zip(self.user_generators, self.resume_state["rng"].get("loaders", [])):
                gen.set_state(state)
        epoch = trainer.current_epoch
        for sampler in self.samplers:
            sampler.use_epoch(epoch)
        for gen in self.generators:
            gen.manual_seed(self.seed * 1_000_003 + 7919 * epoch + 17)
        self._partial = False
        self._epoch_lr = float(trainer.optimizers[0].param_groups[0]["lr"]) if trainer.optimizers else None
        if self._stop_requested(trainer):
            self.interrupted = self._partial = True
            trainer.should_stop = True

    def _stop_requested(self, trainer) -> bool:
        if self.stop_event is None:
            return False
        flag = self.stop_event.is_set()
        if trainer.world_size > 1:
            flag = trainer.strategy.reduce_boolean_decision(flag, all=False)
        return bool(flag)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.stop_event is not None and self._stop_requested(trainer):
            self.interrupted = True
            trainer.should_stop = True
            if batch_idx + 1 < trainer.num_training_batches:
                self._partial = True

    def on_train_epoch_end(self, trainer, pl_module):
        if self._partial:
            return  # a partial epoch is neither recorded nor checkpointed: last.pt keeps the last complete epoch
        epoch = trainer.current_epoch + 1  # 1-based count of completed epochs
        row: dict[str, Any] = {"epoch": epoch}
        for key, value in trainer.callback_metrics.items():
            v = _scalar(value)
            if v is not None:
                row[key] = v
        if self._epoch_lr is not None:
            row["lr"] = self._epoch_lr  # learning rate used during this epoch
        row["elapsed_s"] = self.elapsed_before + time.perf_counter() - self._t0
        if self.monitor not in row:
            if self.patience:
                raise invalid(f"fit(monitor={self.monitor!r})", "this metric is not logged (logged: "
                              f"{sorted(k for k in row if k not in ('epoch', 'elapsed_s'))})",
                              "pass one of the logged metrics as monitor, or log it from the model")
            if not self._warned_monitor:
                self._warned_monitor = True
                warnings.warn(f"astrolab.train.fit: monitor {self.monitor!r} is not logged; best.pt is not written.",
                              RuntimeWarning, stacklevel=2)
        improved = self._track(row)
        self.history.append(row)
        self.epochs_done = epoch
        if self.patience and self.wait >= self.patience:
            self.stopped_early = True
            trainer.should_stop = True
        self._pending = {"epoch": epoch, "improved": improved, "global_step": int(trainer.global_step),
                         "elapsed_s": row["elapsed_s"]}

    def on_train_end(self, trainer, pl_module):
        if self._pending is not None:
            self._write_pending(trainer, pl_module)
        self.wait_for_writes()

    def on_exception(self, trainer, pl_module, exception):
        try:
            self.wait_for_writes()
        except Exception:  # the original exception is the one to report
            pass

    # ----------------------------------------------------------------- writing
    def _payload(self, trainer, pl_module, pending: dict) -> dict:
        """The checkpoint dict, with every tensor copied (training goes on while it is written)."""
        import lightning

        import astrolab
        from astrolab.train.engine import TaskModule

        target = pl_module.net if isinstance(pl_module, TaskModule) else pl_module
        rng = rng_state()
        if self.user_generators:
            rng["loaders"] = [g.get_state() for g in self.user_generators]
        return _snapshot({
            "format_version": FORMAT_VERSION,
            "astrolab_version": astrolab.__version__,
            "torch_version": str(torch.__version__),
            "lightning_version": str(lightning.__version__),
            "model_class": f"{type(target).__module__}.{type(target).__qualname__}",
            "state_dict": target.state_dict(),
            "optimizer_states": [opt.state_dict() for opt in trainer.optimizers],
            "scheduler_states": [cfg.scheduler.state_dict() for cfg in trainer.lr_scheduler_configs],
            "precision_state": trainer.precision_plugin.state_dict(),
            "epoch": pending["epoch"],
            "global_step": pending["global_step"],
            "config": self.config,
            "fit_settings": self.fit_settings,
            "history": [dict(r) for r in self.history.rows],
            "rng": rng,
            "monitor": self.monitor,
            "mode": self.mode,
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "elapsed_s": pending["elapsed_s"],
        })

    def _write_pending(self, trainer, pl_module) -> None:
        """Snapshot the state now; write the files in a background thread (one write in flight at most)."""
        pending, self._pending = self._pending, None
        if not trainer.is_global_zero:
            return
        payload = self._payload(trainer, pl_module, pending)
        self.wait_for_writes()
        self._writer = threading.Thread(target=self._write_files, args=(payload, pending["improved"]),
                                        name="astrolab-checkpoint-writer", daemon=False)
        self._writer.start()

    def wait_for_writes(self) -> None:
        """Block until the checkpoint being written is on disk; re-raise its error, if any."""
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        if self._writer_error is not None:
            error, self._writer_error = self._writer_error, None
            raise error

    def _write_files(self, payload: dict, improved: bool) -> None:
        try:
            path = save_checkpoint(epoch_checkpoint_path(self.ckpt_dir, payload["epoch"]), payload)
            if not self._verified:  # fail at the first epoch, not at resume time, if something is not weights_only-safe
                self._verified = True
                load_checkpoint(path)
            self.last_path = copy_checkpoint(path, self.ckpt_dir / "last.pt")
            if improved:
                self.best_path = copy_checkpoint(path, self.ckpt_dir / "best.pt")
            if self.keep >= 0:
                prune_epoch_checkpoints(self.ckpt_dir, self.keep)
            self._write_history(payload["history"])
        except BaseException as exc:  # re-raised in the training thread by wait_for_writes()
            self._writer_error = exc

    def _write_history(self, rows: list[dict]) -> None:
        try:
            columns = list(dict.fromkeys(k for r in rows for k in r))
            with atomic_path(self.run_dir / "history.csv") as tmp, open(tmp, "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns, restval="")
                writer.writeheader()
                writer.writerows(rows)
            if not self._config_written:
                self._config_written = True
                with atomic_path(self.run_dir / "config.json") as tmp:
                    tmp.write_text(json.dumps({"config": self.config, "fit": self.fit_settings}, indent=1,
                                              default=str))
        except OSError as exc:  # a full disk must not lose the checkpoint that was just written
            warnings.warn(f"astrolab.train.fit: could not write history.csv/config.json ({exc})", RuntimeWarning,
                          stacklevel=2)


def _snapshot(obj):
    """Copy of a nest of dicts/lists/tuples with every tensor detached, copied and moved to the CPU."""
    if torch.is_tensor(obj):
        t = obj.detach()
        return t.to("cpu", copy=True) if t.device.type != "cpu" else t.clone()
    if isinstance(obj, dict):
        return {k: _snapshot(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_snapshot(v) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_snapshot(v) for v in obj)
    return obj


class ProgressBar(TQDMProgressBar):
    """tqdm progress bar redrawn at most every ``min_interval`` seconds.

    Lightning's bar redraws every ``refresh_rate`` batches; with fast steps that
    is hundreds of redraws per second (and, on GPU, a device sync each time to
    read the metrics). This bar redraws on a wall-clock budget instead, shows a
    running ``loss`` of the current epoch for :class:`~astrolab.train.TaskModule`,
    and keeps one bar for training (notebook output stays short).

    Parameters
    ----------
    min_interval : float
        Minimum time between redraws [s].
    """

    def __init__(self, min_interval: float = 0.5):
        super().__init__(refresh_rate=1, leave=False)
        self.min_interval = float(min_interval)
        self._last = 0.0

    def _should_update(self, current: int, total: int) -> bool:
        if not self.is_enabled:
            return False
        if current == total:
            return True
        now = time.monotonic()
        if now - self._last >= self.min_interval:
            self._last = now
            return True
        return False

    def get_metrics(self, trainer, pl_module):
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        running = getattr(pl_module, "running_loss", None)
        if callable(running):
            value = running()
            if value is not None:
                items["loss"] = value
        return items

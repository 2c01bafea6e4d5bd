"""The one training engine: :func:`fit` on PyTorch Lightning.

One CPU, one GPU, several GPUs (DDP) and several nodes run the same code
(``devices``, ``strategy``, ``num_nodes`` go to ``lightning.Trainer``).
astrolab adds: automatic device and mixed precision, an atomic plain-dict
checkpoint per epoch (loadable with ``weights_only=True``), an exact resume
(same weights as an uninterrupted run on CPU), early stopping that survives a
resume, a throttled tqdm progress bar, a live :class:`MetricsHistory`, a stop
event for widgets, and quiet Lightning logs. ``fit`` can run in a background
thread (Lightning only installs signal handlers from the main thread).

Run folder layout::

    run_dir/checkpoints/epoch=NNNN.pt   the K most recent epochs (NNNN = completed epochs, 1-based)
    run_dir/checkpoints/last.pt         the last completed epoch
    run_dir/checkpoints/best.pt         the best epoch by ``monitor``
    run_dir/history.csv, config.json    metrics so far and the run configuration
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import random
import secrets
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler, TensorDataset

import lightning as L

from astrolab import config as _cfg
from astrolab.errors import CheckpointError, invalid
from astrolab.train.callbacks import EngineCallback, ProgressBar, infer_mode
from astrolab.train.checkpoint import json_config, list_epoch_checkpoints, load_checkpoint
from astrolab.train.history import MetricsHistory

__all__ = ["fit", "FitResult", "TaskModule", "EpochSeededSampler"]

_OPTIMIZERS = ("adamw", "adam", "sgd")
# attributes of TaskModule that never hold parameters, buffers or modules (see TaskModule.__setattr__)
_PLAIN_ATTRS = frozenset({"_current_fx_name", "_t_losses", "_t_sizes", "_t_sum", "_t_n", "_v_losses", "_v_sizes",
                          "_v_metrics"})
_SCHEDULERS = ("none", "cosine")


# ---------------------------------------------------------------------------------- sampling


class EpochSeededSampler(Sampler):
    """Random permutation per epoch drawn from ``(seed, epoch)`` only: reproducible across resumes.

    Parameters
    ----------
    n : int
        Dataset length N; yields a permutation of ``range(N)`` each epoch.
    seed : int
        Run seed.
    """

    def __init__(self, n: int, seed: int = 0):
        self.n, self.seed, self.epoch = int(n), int(seed), 0

    def use_epoch(self, epoch: int) -> None:
        """Select the permutation of 0-based global epoch ``epoch``."""
        self.epoch = int(epoch)

    set_epoch = use_epoch  # the name Lightning and DistributedSampler use

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


class _TensorBatchSampler(Sampler):
    """Yield index tensors of ``batch_size`` (the last one shorter) in ``sampler``'s order or sequentially.

    A ``TensorDataset`` indexed with a LongTensor returns a whole batch in a
    few microseconds (no per-sample ``__getitem__``, no collate).
    """

    def __init__(self, n: int, batch_size: int, sampler: EpochSeededSampler | None = None):
        self.n, self.batch_size, self.sampler = int(n), int(batch_size), sampler

    def use_epoch(self, epoch: int) -> None:
        """Select the permutation of 0-based global epoch ``epoch``."""
        if self.sampler is not None:
            self.sampler.use_epoch(epoch)

    def __iter__(self):
        if self.sampler is None:
            order = torch.arange(self.n)
        else:
            g = torch.Generator().manual_seed(self.sampler.seed * 100_003 + self.sampler.epoch)
            order = torch.randperm(self.n, generator=g)
        return iter(order.split(self.batch_size))

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size


def _seed_worker(worker_id: int) -> None:  # pragma: no cover - runs in DataLoader workers
    """Seed NumPy and ``random`` in a DataLoader worker from its torch seed."""
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


# ---------------------------------------------------------------------------------- the module


class TaskModule(L.LightningModule):
    """LightningModule wrapping a plain ``nn.Module`` and its loss.

    Logs ``train_loss`` (mean over the epoch's samples), ``val_loss`` and
    ``val_<name>`` for every entry of ``net.metrics(batch)`` (sample-weighted
    means over the validation set). Losses are accumulated on the device
    without a host sync per step; the epoch means are logged once per epoch.

    Parameters
    ----------
    net : torch.nn.Module
        The model. Its loss is ``loss_fn(net, batch)`` or ``net.loss(batch)``
        (a scalar tensor); optional ``net.metrics(batch) -> dict[str, tensor]``
        (scalars) is logged on validation.
    loss_fn : callable, optional
        ``loss_fn(net, batch) -> scalar tensor``.
    lr : float
        Learning rate.
    weight_decay : float
        Decoupled (AdamW) or L2 (Adam, SGD) weight decay.
    optimizer : {"adamw", "adam", "sgd"} or callable
        Optimiser; SGD uses momentum 0.9. A callable is called as
        ``optimizer(params, lr=lr, weight_decay=weight_decay)`` (e.g. ``torch.optim.RAdam``).
    scheduler : {"none", "cosine"}
        Learning-rate schedule: cosine annealing over ``total_epochs`` (stepped per epoch).
    total_epochs : int
        Length of the cosine schedule [epochs].

    Notes
    -----
    The batch size used for weighting is the length of the batch's first
    tensor (``batch``, ``batch[0]`` or the first value of a dict batch).
    """

    def __init__(self, net: nn.Module, loss_fn: Callable | None = None, lr: float = 1e-3,
                 weight_decay: float = 0.0, optimizer: str | Callable = "adamw", scheduler: str = "none",
                 total_epochs: int = 1):
        super().__init__()
        if not isinstance(net, nn.Module):
            raise invalid("fit(model=...)", f"got {type(net).__name__}",
                          "pass a torch.nn.Module (with loss(batch) or a loss_fn) or a lightning.LightningModule")
        if loss_fn is not None and not callable(loss_fn):
            raise invalid("fit(loss_fn=...)", f"got {type(loss_fn).__name__}, not a callable",
                          "pass loss_fn=lambda model, batch: <scalar tensor>")
        if loss_fn is None and not callable(getattr(net, "loss", None)):
            raise invalid(f"model {type(net).__name__}", "model.loss(batch) not found and no loss_fn given",
                          "define `def loss(self, batch): ...` returning a scalar tensor, or pass "
                          "loss_fn=lambda model, batch: ...")
        if not callable(optimizer) and optimizer not in _OPTIMIZERS:
            raise invalid("fit(optimizer=...)", f"unknown optimizer {optimizer!r}",
                          "use 'adamw', 'adam', 'sgd' or a torch.optim class")
        if scheduler not in _SCHEDULERS:
            raise invalid("fit(scheduler=...)", f"unknown scheduler {scheduler!r}", "use 'none' or 'cosine'")
        self.net, self.loss_fn = net, loss_fn
        self.lr, self.weight_decay, self.optimizer_name = float(lr), float(weight_decay), optimizer
        self.scheduler_name, self.total_epochs = scheduler, max(1, int(total_epochs))
        self._metrics_fn = getattr(net, "metrics", None) if callable(getattr(net, "metrics", None)) else None
        self._reset_train()
        self._reset_val()

    def __setattr__(self, name, value):
        # Lightning sets ``_current_fx_name`` around every hook call (~40 times per step); nn.Module.__setattr__
        # costs several microseconds each (Parameter/Module/buffer checks) - plain attributes skip it
        if name in _PLAIN_ATTRS:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, *args, **kwargs):
        """Call the wrapped network."""
        return self.net(*args, **kwargs)

    # ---------------------------------------------------------------- helpers
    def _loss(self, batch):
        loss = self.loss_fn(self.net, batch) if self.loss_fn is not None else self.net.loss(batch)
        if not torch.is_tensor(loss) or loss.dim() != 0:
            raise invalid(f"model {type(self.net).__name__} loss",
                          f"returned {type(loss).__name__} {tuple(getattr(loss, 'shape', ()))}, not a scalar tensor",
                          "return a 0-d tensor (e.g. .mean() over the batch)")
        return loss

    @staticmethod
    def _batch_size(batch) -> int:
        if torch.is_tensor(batch):
            return len(batch)
        if isinstance(batch, dict):
            return TaskModule._batch_size(next(iter(batch.values())))
        if isinstance(batch, (list, tuple)) and batch:
            return TaskModule._batch_size(batch[0])
        return 1

    def _reset_train(self):
        self._t_losses: list = []
        self._t_sizes: list[int] = []
        self._t_sum = None
        self._t_n = 0

    def _fold_train(self):
        if self._t_losses:
            part = torch.stack(self._t_losses).float() @ torch.tensor(self._t_sizes, dtype=torch.float32,
                                                                     device=self._t_losses[0].device)
            self._t_sum = part if self._t_sum is None else self._t_sum + part
            self._t_n += sum(self._t_sizes)
            self._t_losses, self._t_sizes = [], []

    def _reset_val(self):
        self._v_losses: list = []
        self._v_sizes: list[int] = []
        self._v_metrics: dict[str, list] = {}

    def running_loss(self) -> float | None:
        """Mean training loss of the current epoch so far (syncs the device; for the progress bar)."""
        self._fold_train()
        if not self._t_n:
            return None
        return float(self._t_sum / self._t_n)

    # ---------------------------------------------------------------- training
    def on_train_epoch_start(self):
        self._reset_train()

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self._t_losses.append(loss.detach())
        self._t_sizes.append(self._batch_size(batch))
        if len(self._t_losses) >= 512:
            self._fold_train()
        return loss

    def on_train_epoch_end(self):
        self._fold_train()
        if self._t_n:
            self.log("train_loss", self._t_sum / self._t_n, prog_bar=True, sync_dist=self.trainer.world_size > 1)
        self._reset_train()

    # ---------------------------------------------------------------- validation
    def on_validation_epoch_start(self):
        self._reset_val()

    def validation_step(self, batch, batch_idx):
        n = self._batch_size(batch)
        self._v_losses.append(self._loss(batch).detach().float())
        self._v_sizes.append(n)
        if self._metrics_fn is not None:
            for key, value in self._metrics_fn(batch).items():
                self._v_metrics.setdefault(str(key), []).append(torch.as_tensor(value).detach().float().reshape(()))

    def on_validation_epoch_end(self):
        if not self._v_losses:
            return
        w = torch.tensor(self._v_sizes, dtype=torch.float32, device=self._v_losses[0].device)
        total = w.sum()
        sync = self.trainer.world_size > 1
        self.log("val_loss", torch.stack(self._v_losses) @ w / total, prog_bar=True, sync_dist=sync)
        for key, values in self._v_metrics.items():
            vals = torch.stack([v.to(w.device) for v in values])
            self.log(f"val_{key}", vals @ w[: len(vals)] / w[: len(vals)].sum(), sync_dist=sync)
        self._reset_val()

    # ---------------------------------------------------------------- optimiser
    def configure_optimizers(self):
        """AdamW (default), Adam or SGD(momentum=0.9) on ``net``'s parameters, optional cosine schedule.

        A network with a ``param_groups(lr)`` method (e.g. a classifier whose pre-trained encoder
        learns more slowly than its new head) supplies its own optimiser parameter groups.
        """
        if hasattr(self.net, "param_groups"):
            params = [g for g in self.net.param_groups(self.lr) if g["params"]]
        else:
            params = [p for p in self.net.parameters() if p.requires_grad]
        if callable(self.optimizer_name):
            opt = self.optimizer_name(params, lr=self.lr, weight_decay=self.weight_decay)
        elif self.optimizer_name == "sgd":
            opt = torch.optim.SGD(params, lr=self.lr, momentum=0.9, weight_decay=self.weight_decay)
        elif self.optimizer_name == "adam":
            opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        else:
            opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        if self.scheduler_name == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.total_epochs)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        return opt


# Lightning inspects the step's signature on every batch; a cached ``__signature__`` makes that a lookup
for _name in ("training_step", "validation_step"):
    _fn = getattr(TaskModule, _name)
    _fn.__signature__ = inspect.signature(_fn)
del _name, _fn


# ---------------------------------------------------------------------------------- result


@dataclass
class FitResult:
    """Outcome of :func:`fit`.

    Attributes
    ----------
    model : torch.nn.Module
        The trained network after the last step (the plain module passed in,
        or the LightningModule), on CPU or on the training device.
    history : MetricsHistory
        Per-epoch metrics; ``history.frame`` is a DataFrame with ``epoch``
        (1-based), ``train_loss``, ``val_loss``, ``val_<metric>``, ``lr`` and
        ``elapsed_s`` [s] columns.
    run_dir : pathlib.Path
        Run folder (``checkpoints/``, ``history.csv``, ``config.json``).
    best_checkpoint, last_checkpoint : pathlib.Path or None
        ``checkpoints/best.pt`` (by ``monitor``) and ``checkpoints/last.pt``.
    epochs_run : int
        Epochs completed in total, resumed ones included (= ``last.pt``'s ``epoch``).
    stopped_early : bool
        Early stopping triggered (now or in the run that was resumed).
    interrupted : bool
        The stop event ended training.
    elapsed_s : float
        Wall time of this call [s].
    device : str
        Device trained on, e.g. ``"cpu"`` or ``"cuda:0"``.
    precision : str
        Lightning precision used, e.g. ``"32-true"`` or ``"bf16-mixed"``.
    extra : dict
        ``global_step``, ``epochs_this_call``, ``start_epoch``, ``monitor``,
        ``best_value``, ``best_epoch``.
    """

    model: Any
    history: MetricsHistory
    run_dir: Path
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    epochs_run: int
    stopped_early: bool
    interrupted: bool
    elapsed_s: float
    device: str
    precision: str
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------- helpers

_QUIET_LOCK = threading.Lock()
_QUIET_DEPTH = 0
_QUIET_SAVED: dict[str, int] = {}
_QUIET_LOGGERS = ("lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric")
_NOISY_WARNINGS = (
    r".*does not have many workers.*",
    r".*GPU available but not used.*",
    r".*is smaller than the logging interval.*",
    r".*LeafSpec.*",
    r".*The `srun` command is available on your system but is not used.*",
)


@contextlib.contextmanager
def _quiet_lightning(enabled: bool):
    """Raise Lightning's loggers to WARNING while any quiet ``fit`` runs (re-entrant, thread-safe)."""
    global _QUIET_DEPTH
    if not enabled:
        yield
        return
    with _QUIET_LOCK:
        # targeted filters, left in place: warnings.catch_warnings() is not thread-safe
        # (filterwarnings replaces an identical filter instead of stacking it)
        for pattern in _NOISY_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        if _QUIET_DEPTH == 0:
            for name in _QUIET_LOGGERS:
                logger = logging.getLogger(name)
                _QUIET_SAVED[name] = logger.level
                logger.setLevel(logging.WARNING)
        _QUIET_DEPTH += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET_DEPTH -= 1
            if _QUIET_DEPTH == 0:
                for name, level in _QUIET_SAVED.items():
                    logging.getLogger(name).setLevel(level)
                _QUIET_SAVED.clear()


def _resolve_device(device, devices):
    """(accelerator, devices argument, device label) from ``fit``'s ``device``/``devices``."""
    wanted = str(_cfg.device() if device in (None, "auto") else device).lower()
    if wanted.startswith(("cuda", "gpu")):
        if not torch.cuda.is_available():
            raise invalid("fit(device=...)", f"{device!r} requested but CUDA is not available",
                          "use device='auto' or device='cpu'")
        _, _, index = wanted.partition(":")
        if index.strip().isdigit() and devices in (1, "1"):
            return "gpu", [int(index)], f"cuda:{int(index)}"
        return "gpu", devices, "cuda"
    if wanted.startswith("mps"):
        return "mps", devices, "mps"
    if wanted == "cpu":
        return "cpu", devices, "cpu"
    raise invalid("fit(device=...)", f"unknown device {device!r}", "use 'auto', 'cpu', 'cuda' or 'cuda:N'")


def _auto_precision(accelerator: str, precision: str) -> str:
    if precision not in (None, "auto"):
        return str(precision)
    if accelerator == "gpu":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def _loader(data, name: str, batch_size: int, shuffle: bool, seed: int, num_workers: int, pin: bool):
    """Wrap ``data`` in a DataLoader; return (loader, sampler or None, own generator or None, user generators)."""
    if isinstance(data, DataLoader):
        gens = []
        for g in (data.generator, getattr(data.sampler, "generator", None)):
            if isinstance(g, torch.Generator) and all(g is not h for h in gens):
                gens.append(g)
        return data, None, None, gens
    if isinstance(data, (tuple, list)) and data and all(torch.is_tensor(t) for t in data):
        data = TensorDataset(*data)
    if not isinstance(data, Dataset) and not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        raise invalid(f"fit({name}=...)", f"got {type(data).__name__}",
                      "pass a torch Dataset, a DataLoader or a tuple of tensors (e.g. container.to_torch_dataset())")
    gen = torch.Generator().manual_seed(int(seed))  # keeps DataLoader seeds off the global RNG
    common = dict(num_workers=num_workers, generator=gen, pin_memory=pin and num_workers > 0,
                  worker_init_fn=_seed_worker if num_workers > 0 else None)
    if isinstance(data, IterableDataset):
        return DataLoader(data, batch_size=batch_size, **common), None, gen, []
    if len(data) == 0:
        raise invalid(f"fit({name}=...)", "the dataset is empty", "pass at least one sample")
    sampler = EpochSeededSampler(len(data), seed) if shuffle else None
    if isinstance(data, TensorDataset):
        # index whole batches at once (tensor[indices]): no per-sample __getitem__ and collate
        batches = _TensorBatchSampler(len(data), batch_size, sampler)
        return DataLoader(data, sampler=batches, batch_size=None, **common), sampler, gen, []
    return DataLoader(data, batch_size=batch_size, sampler=sampler, shuffle=False, **common), sampler, gen, []


def _load_resume_state(ckpt_dir: Path) -> dict | None:
    """``last.pt``, or the newest readable ``epoch=NNNN.pt`` when ``last.pt`` is damaged."""
    last = ckpt_dir / "last.pt"
    if not last.exists():
        return None
    try:
        return load_checkpoint(last)
    except CheckpointError as first_error:
        for _, path in reversed(list_epoch_checkpoints(ckpt_dir)):
            try:
                state = load_checkpoint(path)
            except CheckpointError:
                continue
            warnings.warn(f"astrolab.train.fit: {first_error} -- resuming from {path.name} instead.",
                          RuntimeWarning, stacklevel=3)
            return state
        raise


def _clear_checkpoints(ckpt_dir: Path) -> None:
    """Remove a previous run's checkpoints so that a fresh run does not mix epochs with them."""
    for _, path in list_epoch_checkpoints(ckpt_dir):
        path.unlink(missing_ok=True)
    for name in ("last.pt", "best.pt"):
        (ckpt_dir / name).unlink(missing_ok=True)


def _restore_loop_counters(trainer, epochs_done: int, global_step: int) -> None:
    """Put Lightning's epoch and step counters where the checkpoint left them.

    ``trainer.current_epoch``, ``trainer.global_step``, the progress bar,
    epoch-indexed samplers and user hooks then see the global epoch, and the
    train DataLoader is re-created after the RNG restore of the first epoch.
    """
    loop = trainer.fit_loop
    for progress in (loop.epoch_progress.total, loop.epoch_progress.current):
        progress.ready = progress.started = progress.processed = progress.completed = int(epochs_done)
    epoch_loop = loop.epoch_loop
    for tracker in (epoch_loop.automatic_optimization.optim_progress.optimizer.step.total,
                    epoch_loop.manual_optimization.optim_step_progress.total):
        tracker.ready = tracker.completed = int(global_step)
    epoch_loop._batches_that_stepped = int(global_step)


def _settings_json(**kw) -> dict:
    out = {}
    for key, value in kw.items():
        if value is None or isinstance(value, (bool, int, float, str)):
            out[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (int, str)) for v in value):
            out[key] = list(value)
        else:
            out[key] = getattr(value, "__name__", None) or type(value).__name__
    return out


# ---------------------------------------------------------------------------------- fit


def fit(model, train_data, val_data=None, *, loss_fn=None, max_epochs: int = 10, batch_size: int = 256,
        lr: float = 1e-3, weight_decay: float = 0.0, optimizer="adamw", scheduler: str = "none", run_dir=None,
        resume: bool = True, patience: int | None = None, monitor: str = "val_loss", precision: str = "auto",
        device: str = "auto", devices=1, strategy="auto", num_nodes: int = 1, progress: bool = True,
        seed: int = 0, history: MetricsHistory | None = None, stop_event: threading.Event | None = None,
        num_workers: int = 0, callbacks=(), log_every_n_steps: int = 50, keep_checkpoints: int = 3,
        verbose: bool = False, config: dict | None = None) -> FitResult:
    """Train a model with astrolab's engine (PyTorch Lightning underneath).

    Parameters
    ----------
    model : torch.nn.Module or lightning.LightningModule
        A LightningModule is used as is. A plain module needs ``loss_fn`` or a
        ``loss(batch) -> scalar tensor`` method; optional ``metrics(batch) ->
        dict[str, scalar tensor]`` is logged on validation as ``val_<name>``
        (see :class:`TaskModule`).
    train_data, val_data : Dataset, DataLoader or tuple of tensors
        Training and optional validation data; batches are what the model's
        loss expects (a ``TensorDataset`` of (N, F) inputs and (N,) targets
        gives ``[x (B, F), y (B,)]``). Datasets are batched by ``batch_size``;
        training batches are shuffled from ``(seed, epoch)``.
    loss_fn : callable, optional
        ``loss_fn(model, batch) -> scalar tensor``.
    max_epochs : int
        Total epochs; a resumed run continues up to this number.
    batch_size : int
        Samples per batch (datasets only; a DataLoader keeps its own).
    lr : float
        Learning rate.
    weight_decay : float
        Weight decay.
    optimizer : {"adamw", "adam", "sgd"} or callable
        Optimiser of a plain module (ignored for a LightningModule).
    scheduler : {"none", "cosine"}
        Learning-rate schedule of a plain module (cosine over ``max_epochs``).
    run_dir : path-like, optional
        Run folder (default: a new ``<cache>/runs/<timestamp>-<hex>``).
    resume : bool
        Continue from ``run_dir/checkpoints/last.pt`` when it exists (model,
        optimiser, scheduler, epoch and step counters, RNG states, history,
        early-stopping state). ``False`` starts afresh and deletes that
        folder's previous ``epoch=*.pt``, ``last.pt`` and ``best.pt``.
    patience : int, optional
        Stop after this many epochs without improvement of ``monitor``.
    monitor : str
        Metric of ``best.pt`` and early stopping (``"val_loss"`` falls back to
        ``"train_loss"`` without validation data). Minimised unless its name
        says accuracy/AUC/R²/F1/score (then maximised).
    precision : str
        ``"auto"``: ``"bf16-mixed"`` on CUDA (``"16-mixed"`` without bf16
        support), ``"32-true"`` on CPU; or any Lightning precision string.
    device : str
        ``"auto"`` (CUDA when present; ``ASTROLAB_DEVICE`` overrides), ``"cpu"``,
        ``"cuda"``, ``"cuda:N"``.
    devices, strategy, num_nodes :
        Passed to ``lightning.Trainer`` (several GPUs, DDP, nodes).
    progress : bool
        tqdm progress bar (redrawn at most twice a second).
    seed : int
        Seeds the global RNGs (``astrolab.config.seed_everything``) and the shuffling.
    history : MetricsHistory, optional
        Receives one row per completed epoch (subscribers are called from the
        training thread). On resume, an empty history first receives the
        checkpoint's rows (without notifying subscribers).
    stop_event : threading.Event, optional
        When set, training stops after the current batch; ``last.pt`` keeps
        the last complete epoch, and ``fit(..., resume=True)`` (with the event
        cleared) continues from there.
    num_workers : int
        DataLoader worker processes for datasets.
    callbacks : sequence of lightning.Callback
        Extra callbacks.
    log_every_n_steps : int
        Passed to ``lightning.Trainer`` (for the model's own step logging).
    keep_checkpoints : int
        Number of ``epoch=NNNN.pt`` files kept (plus ``last.pt`` and ``best.pt``).
    verbose : bool
        Show Lightning's info logs and warnings (hidden by default).
    config : dict, optional
        JSON-able run configuration stored in every checkpoint.

    Returns
    -------
    FitResult

    Raises
    ------
    astrolab.errors.DataValidationError
        Bad model, data, device, optimiser or config.
    astrolab.errors.CheckpointError
        ``resume=True`` and the run's checkpoints cannot be read or do not fit the model.
    """
    t_start = time.perf_counter()
    if int(max_epochs) < 0:
        raise invalid("fit(max_epochs=...)", f"got {max_epochs}", "pass a number of epochs >= 1")
    if int(batch_size) < 1:
        raise invalid("fit(batch_size=...)", f"got {batch_size}", "pass a batch size >= 1")
    if patience is not None and int(patience) < 1:
        raise invalid("fit(patience=...)", f"got {patience}", "pass None (no early stopping) or an integer >= 1")
    user_config = json_config(config)
    import pandas  # noqa: F401 - MetricsHistory.frame needs it; imported here, not inside the first epoch
    accelerator, devices_arg, device_label = _resolve_device(device, devices)
    prec = _auto_precision(accelerator, precision)
    if isinstance(model, L.LightningModule):
        module, out_model = model, model
    else:
        if not isinstance(model, nn.Module):
            raise invalid("fit(model=...)", f"got {type(model).__name__}",
                          "pass a torch.nn.Module (with loss(batch) or a loss_fn) or a lightning.LightningModule")
        module = TaskModule(model, loss_fn, lr, weight_decay, optimizer, scheduler, max_epochs)
        out_model = model

    if run_dir is None:
        run_dir = _cfg.cache_dir() / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    run_dir = Path(run_dir).expanduser()
    ckpt_dir = run_dir / "checkpoints"
    run_dir.mkdir(parents=True, exist_ok=True)
    if resume:
        resume_state = _load_resume_state(ckpt_dir)
    else:
        resume_state = None
        _clear_checkpoints(ckpt_dir)

    history = history if history is not None else MetricsHistory()
    _cfg.seed_everything(seed)
    start_epoch, global_step = 0, 0
    if resume_state is not None:
        try:
            (module.net if isinstance(module, TaskModule) else module).load_state_dict(resume_state["state_dict"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(
                f"checkpoint in {str(ckpt_dir)!r}: its weights do not fit {type(out_model).__name__} "
                f"({str(exc).splitlines()[0][:300]}). Fix: build the model with the run's configuration "
                "(checkpoint['config']), or start a fresh run (resume=False or another run_dir).") from exc
        start_epoch = int(resume_state.get("epoch", 0))
        global_step = int(resume_state.get("global_step", 0))
        saved = [dict(r) for r in resume_state.get("history", []) if int(r.get("epoch", 0)) <= start_epoch]
        if not len(history):
            history.rows.extend(saved)
        else:  # the caller's history may hold rows of epochs that were never checkpointed
            history.rows[:] = [r for r in history.rows if int(r.get("epoch", 0)) <= start_epoch]

    pin = accelerator == "gpu"
    train_loader, sampler, gen, user_gens = _loader(train_data, "train_data", int(batch_size), True, seed,
                                                    int(num_workers), pin)
    val_loader, val_gen = None, None
    if val_data is not None:
        val_loader, _, val_gen, _ = _loader(val_data, "val_data", int(batch_size), False, seed, int(num_workers), pin)
    if val_loader is None and monitor == "val_loss":
        monitor = "train_loss"
    fit_settings = _settings_json(
        max_epochs=max_epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, optimizer=optimizer,
        scheduler=scheduler, patience=patience, monitor=monitor, precision=prec, accelerator=accelerator,
        devices=devices_arg if isinstance(devices_arg, (int, str, list)) else str(devices_arg),
        strategy=strategy if isinstance(strategy, str) else type(strategy).__name__, num_nodes=num_nodes,
        seed=seed, model_class=f"{type(out_model).__module__}.{type(out_model).__qualname__}")
    engine_cb = EngineCallback(
        run_dir=run_dir, history=history, monitor=monitor, mode=infer_mode(monitor), patience=patience,
        keep=keep_checkpoints, stop_event=stop_event, config=user_config, fit_settings=fit_settings,
        resume_state=resume_state, samplers=[sampler] if sampler is not None else [],
        generators=[g for g in (gen, val_gen) if g is not None], seed=seed, user_generators=user_gens)
    cbs = [engine_cb, *callbacks]
    if progress:
        cbs.append(ProgressBar())

    ran_device = device_label
    if start_epoch < max_epochs and not engine_cb.should_not_start:
        with _quiet_lightning(not verbose):
            trainer = L.Trainer(
                accelerator=accelerator, devices=devices_arg, strategy=strategy, num_nodes=num_nodes,
                precision=prec, max_epochs=int(max_epochs), logger=False, enable_checkpointing=True,
                enable_model_summary=verbose, enable_progress_bar=progress, callbacks=cbs,
                num_sanity_val_steps=0, log_every_n_steps=log_every_n_steps, default_root_dir=str(run_dir))
            if resume_state is not None:
                _restore_loop_counters(trainer, start_epoch, global_step)
            trainer.fit(module, train_loader, val_loader)
        ran_device = str(trainer.strategy.root_device)
        if ran_device.startswith("cuda") and device_label == "cuda" and trainer.num_devices > 1:
            ran_device = "cuda"
        global_step = int(trainer.global_step)

    last = ckpt_dir / "last.pt"
    best = ckpt_dir / "best.pt"
    return FitResult(
        model=out_model, history=history, run_dir=run_dir,
        best_checkpoint=best if best.exists() else None, last_checkpoint=last if last.exists() else None,
        epochs_run=engine_cb.epochs_done, stopped_early=engine_cb.stopped_early,
        interrupted=engine_cb.interrupted, elapsed_s=time.perf_counter() - t_start, device=ran_device,
        precision=prec,
        extra={"global_step": global_step, "start_epoch": start_epoch,
               "epochs_this_call": engine_cb.epochs_done - start_epoch, "monitor": monitor,
               "best_value": engine_cb.best_value, "best_epoch": engine_cb.best_epoch})

"""The one training engine: ``fit`` on PyTorch Lightning.

One GPU, several GPUs (DDP) and several nodes run the same code (``devices``,
``strategy``, ``num_nodes`` go to ``lightning.Trainer``). astrolab adds:
automatic device and precision, an atomic plain-dict checkpoint per epoch
(loadable with ``weights_only=True``), deterministic resume, early stopping,
a tqdm progress bar, a live :class:`MetricsHistory`, and a stop event for
widgets.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler, SequentialSampler, TensorDataset

import lightning as L
from lightning.pytorch.callbacks import Callback, EarlyStopping, TQDMProgressBar

from astrolab import config as _cfg
from astrolab.errors import invalid
from astrolab.train.checkpoint import load_checkpoint, restore_rng_state, rng_state, save_checkpoint
from astrolab.train.history import MetricsHistory

__all__ = ["fit", "FitResult", "TaskModule", "EpochSeededSampler"]


class EpochSeededSampler(Sampler):
    """Random permutation per epoch from ``seed + epoch``: reproducible across resumes."""

    def __init__(self, n: int, seed: int = 0):
        self.n, self.seed, self.epoch = int(n), int(seed), 0

    def use_epoch(self, epoch: int) -> None:
        """Select the permutation of global epoch ``epoch``."""
        self.epoch = int(epoch)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self):
        return self.n


class TaskModule(L.LightningModule):
    """Wrap a plain ``nn.Module`` and its loss for the engine.

    Parameters
    ----------
    net : torch.nn.Module
        The model. Its loss comes from ``loss_fn(net, batch)`` or ``net.loss(batch)``;
        optional ``net.metrics(batch) -> dict[str, tensor]`` is logged on validation.
    loss_fn : callable, optional
        ``loss_fn(net, batch) -> scalar tensor``.
    lr, weight_decay : float
        Optimiser settings.
    optimizer : {"adamw", "adam", "sgd"}
        Optimiser.
    """

    def __init__(self, net: nn.Module, loss_fn: Callable | None = None, lr: float = 1e-3,
                 weight_decay: float = 0.0, optimizer: str = "adamw", scheduler: str = "none",
                 total_epochs: int = 1):
        super().__init__()
        if loss_fn is None and not callable(getattr(net, "loss", None)):
            raise invalid(f"model {type(net).__name__}", "has no loss(batch) method and no loss_fn was given",
                          "define `def loss(self, batch): ...` returning a scalar tensor, or pass "
                          "loss_fn=lambda model, batch: ...")
        if optimizer not in ("adamw", "adam", "sgd"):
            raise invalid("fit(optimizer=...)", f"unknown optimizer {optimizer!r}", "use 'adamw', 'adam' or 'sgd'")
        if scheduler not in ("none", "cosine"):
            raise invalid("fit(scheduler=...)", f"unknown scheduler {scheduler!r}", "use 'none' or 'cosine'")
        self.net, self.loss_fn = net, loss_fn
        self.lr, self.weight_decay, self.optimizer_name = lr, weight_decay, optimizer
        self.scheduler_name, self.total_epochs = scheduler, max(1, int(total_epochs))
        self._optimizer_state = None

    def forward(self, *args, **kwargs):
        return self.net(*args, **kwargs)

    def _loss(self, batch):
        loss = self.loss_fn(self.net, batch) if self.loss_fn is not None else self.net.loss(batch)
        if not torch.is_tensor(loss) or loss.dim() != 0:
            raise invalid(f"model {type(self.net).__name__} loss", f"returned {type(loss).__name__} "
                          f"{getattr(loss, 'shape', '')}", "return a scalar tensor (e.g. .mean() over the batch)")
        return loss

    @staticmethod
    def _batch_size(batch) -> int:
        if torch.is_tensor(batch):
            return len(batch)
        if isinstance(batch, dict):
            return len(next(iter(batch.values())))
        return len(batch[0])

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=self._batch_size(batch))
        return loss

    def validation_step(self, batch, batch_idx):
        n = self._batch_size(batch)
        self.log("val_loss", self._loss(batch), on_epoch=True, prog_bar=True, batch_size=n)
        metrics = getattr(self.net, "metrics", None)
        if callable(metrics):
            for key, value in metrics(batch).items():
                self.log(f"val_{key}", value, on_epoch=True, batch_size=n)

    def configure_optimizers(self):
        params = self.net.parameters()
        if self.optimizer_name == "sgd":
            opt = torch.optim.SGD(params, lr=self.lr, momentum=0.9, weight_decay=self.weight_decay)
        elif self.optimizer_name == "adam":
            opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        else:
            opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        if self.scheduler_name == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.total_epochs)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        return opt


class _EngineCallback(Callback):
    """History rows, per-epoch atomic checkpoints, stop event and the global epoch counter."""

    def __init__(self, run_dir: Path, history: MetricsHistory, start_epoch: int, sampler, stop_event, keep: int,
                 monitor: str, cfg: dict, resume_state: dict | None):
        self.run_dir, self.history, self.start_epoch, self.sampler = run_dir, history, start_epoch, sampler
        self.stop_event, self.keep, self.monitor, self.cfg = stop_event, keep, monitor, cfg
        self.resume_state = resume_state
        self.interrupted = False
        self.t0 = time.perf_counter()
        self.elapsed_before = float(resume_state.get("elapsed_s", 0.0)) if resume_state else 0.0
        self.best = resume_state.get("best_value") if resume_state else None
        self.best_path = None
        self.last_path = None

    def global_epoch(self, trainer) -> int:
        return self.start_epoch + trainer.current_epoch

    def on_train_start(self, trainer, pl_module):
        if self.resume_state is not None:
            opt_state = self.resume_state.get("optimizer_states")
            if opt_state:
                for opt, st in zip(trainer.optimizers, opt_state):
                    opt.load_state_dict(st)
            for cfg, st in zip(trainer.lr_scheduler_configs, self.resume_state.get("scheduler_states") or []):
                cfg.scheduler.load_state_dict(st)
            restore_rng_state(self.resume_state["rng"])

    def on_train_epoch_start(self, trainer, pl_module):
        if self.sampler is not None:
            self.sampler.use_epoch(self.global_epoch(trainer))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.stop_event is not None and self.stop_event.is_set():
            self.interrupted = True
            trainer.should_stop = True

    def on_train_epoch_end(self, trainer, pl_module):
        if self.interrupted:
            return  # a partial epoch is not checkpointed: last.pt stays at the last complete epoch
        epoch = self.global_epoch(trainer)
        row = {"epoch": epoch + 1}
        for key, value in trainer.callback_metrics.items():
            row[key] = float(value.detach().cpu()) if torch.is_tensor(value) else float(value)
        row["elapsed_s"] = self.elapsed_before + time.perf_counter() - self.t0
        self.history.append(row)
        if trainer.global_rank != 0:
            return
        value = row.get(self.monitor, row.get("train_loss"))
        improved = value is not None and (self.best is None or value < self.best)
        if improved:
            self.best = value
        payload = {
            "state_dict": {k: v.detach().cpu() for k, v in pl_module.net.state_dict().items()},
            "optimizer_states": [opt.state_dict() for opt in trainer.optimizers],
            "scheduler_states": [cfg.scheduler.state_dict() for cfg in trainer.lr_scheduler_configs],
            "epoch": epoch + 1, "global_step": int(trainer.global_step), "config": self.cfg,
            "history": self.history.rows, "rng": rng_state(), "best_value": self.best,
            "monitor": self.monitor, "elapsed_s": row["elapsed_s"],
        }
        ckpt_dir = self.run_dir / "checkpoints"
        path = save_checkpoint(ckpt_dir / f"epoch={epoch + 1:04d}.pt", payload)
        self.last_path = save_checkpoint(ckpt_dir / "last.pt", payload)
        if improved:
            self.best_path = save_checkpoint(ckpt_dir / "best.pt", payload)
        old = sorted(ckpt_dir.glob("epoch=*.pt"))
        for stale in old[:-self.keep] if self.keep > 0 else []:
            if stale != path:
                stale.unlink(missing_ok=True)


@dataclass
class FitResult:
    """Outcome of :func:`fit`.

    Attributes
    ----------
    model : torch.nn.Module
        The trained network (the plain module passed in, or the LightningModule).
    history : MetricsHistory
        Per-epoch metrics (``history.frame`` is a DataFrame).
    run_dir : Path
        Folder holding ``checkpoints/``.
    best_checkpoint, last_checkpoint : Path or None
        ``best.pt`` (by ``monitor``) and ``last.pt``.
    epochs_run : int
        Epochs completed in total (including resumed ones).
    stopped_early, interrupted : bool
        Early stopping triggered; the stop event was set.
    elapsed_s : float
        Wall time of this call [s].
    device, precision : str
        What the engine chose.
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


def _auto_precision(accelerator: str, precision: str) -> str:
    if precision != "auto":
        return precision
    if accelerator == "gpu":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def _loader(data, batch_size, shuffle, seed, num_workers):
    if isinstance(data, DataLoader):
        return data, None
    if not isinstance(data, Dataset) and not hasattr(data, "__getitem__"):
        raise invalid("fit(train_data=...)", f"got {type(data).__name__}",
                      "pass a torch Dataset or DataLoader (e.g. container.to_torch_dataset())")
    if len(data) == 0:
        raise invalid("fit(train_data=...)", "the dataset is empty", "pass at least one sample")
    sampler = EpochSeededSampler(len(data), seed) if shuffle else None
    if isinstance(data, TensorDataset):
        # index whole batches at once (tensor[indices]): no per-sample __getitem__ and collate
        batches = BatchSampler(sampler if sampler is not None else SequentialSampler(data), batch_size, drop_last=False)
        return DataLoader(data, sampler=batches, batch_size=None, num_workers=num_workers,
                          persistent_workers=num_workers > 0), sampler
    return DataLoader(data, batch_size=batch_size, sampler=sampler, shuffle=False, num_workers=num_workers,
                      persistent_workers=num_workers > 0), sampler


def fit(model, train_data, val_data=None, *, loss_fn=None, max_epochs: int = 10, batch_size: int = 256,
        lr: float = 1e-3, weight_decay: float = 0.0, optimizer: str = "adamw", scheduler: str = "none", run_dir=None, resume: bool = True,
        patience: int | None = None, monitor: str = "val_loss", precision: str = "auto", device: str = "auto",
        devices: int | str = 1, strategy: str = "auto", num_nodes: int = 1, progress: bool = True, seed: int = 0,
        history: MetricsHistory | None = None, stop_event: threading.Event | None = None, num_workers: int = 0,
        callbacks=(), log_every_n_steps: int = 50, keep_checkpoints: int = 3,
        verbose: bool = False, config: dict | None = None) -> FitResult:
    """Train a model with astrolab's engine.

    Parameters
    ----------
    model : torch.nn.Module or lightning.LightningModule
        A LightningModule is used as is; a plain module needs ``loss_fn`` or a
        ``loss(batch)`` method (see :class:`TaskModule`).
    train_data, val_data : Dataset or DataLoader
        Training and optional validation data (batches as the model expects them).
    loss_fn : callable, optional
        ``loss_fn(model, batch) -> scalar tensor``.
    max_epochs : int
        Total epochs (a resumed run continues up to this number).
    batch_size, lr, weight_decay, optimizer : training settings
    scheduler : {"none", "cosine"}
        Learning-rate schedule (cosine annealing over ``max_epochs``; resumes exactly).
    run_dir : path, optional
        Folder for ``checkpoints/`` (default: a new folder under ``<cache>/runs``).
    resume : bool
        Continue from ``run_dir/checkpoints/last.pt`` when it exists.
    patience : int, optional
        Early stopping after this many epochs without improvement of ``monitor``.
    precision : str
        ``"auto"``: bf16/16 mixed on CUDA, 32-bit on CPU; or any Lightning precision.
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``/``"gpu"``.
    devices, strategy, num_nodes :
        Passed to ``lightning.Trainer`` (several GPUs, DDP, nodes).
    progress : bool
        tqdm progress bar.
    seed : int
        Seeds initialisation and the per-epoch shuffling.
    history : MetricsHistory, optional
        Receives one row per epoch (give one to stream into a widget).
    stop_event : threading.Event, optional
        When set, training stops after the current batch; ``last.pt`` keeps the last complete epoch.
    config : dict, optional
        JSON-able run configuration stored in every checkpoint.

    Returns
    -------
    FitResult
    """
    t_start = time.perf_counter()
    cfg = dict(config or {})
    if not verbose:
        for name in ("lightning.pytorch", "lightning.fabric", "lightning", "pytorch_lightning"):
            logging.getLogger(name).setLevel(logging.WARNING)
        for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda"):
            logging.getLogger(name).setLevel(logging.ERROR)
    wanted = device if device not in (None, "auto") else _cfg.device().type
    accelerator = "gpu" if str(wanted).startswith(("cuda", "gpu")) else "cpu"
    if accelerator == "gpu" and not torch.cuda.is_available():
        raise invalid("fit(device=...)", f"{device!r} requested but CUDA is not available", "use device='auto' or 'cpu'")
    prec = _auto_precision(accelerator, precision)
    if run_dir is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = _cfg.cache_dir() / "runs" / f"{stamp}-{np.random.default_rng().integers(1 << 30):08x}"
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    last = run_dir / "checkpoints" / "last.pt"
    resume_state = load_checkpoint(last) if (resume and last.exists()) else None

    _cfg.seed_everything(seed)
    if isinstance(model, L.LightningModule):
        module, net = model, model
    else:
        if not isinstance(model, nn.Module):
            raise invalid("fit(model=...)", f"got {type(model).__name__}", "pass a torch.nn.Module or LightningModule")
        module = TaskModule(model, loss_fn, lr, weight_decay, optimizer, scheduler, max_epochs)
        net = model
    start_epoch = 0
    history = history if history is not None else MetricsHistory()
    if resume_state is not None:
        target = module.net if isinstance(module, TaskModule) else module
        target.load_state_dict(resume_state["state_dict"])
        start_epoch = int(resume_state["epoch"])
        if not len(history):
            for row in resume_state.get("history", []):
                history.rows.append(dict(row))
    train_loader, sampler = _loader(train_data, batch_size, True, seed, num_workers)
    val_loader = _loader(val_data, batch_size, False, seed, num_workers)[0] if val_data is not None else None
    if val_loader is None and monitor == "val_loss":
        monitor = "train_loss"
    engine_cb = _EngineCallback(run_dir, history, start_epoch, sampler, stop_event, keep_checkpoints, monitor, cfg,
                                resume_state)
    cbs = [engine_cb, *callbacks]
    if progress:
        cbs.append(TQDMProgressBar(refresh_rate=max(1, len(train_loader) // 10)))
    early = None
    if patience:
        early = EarlyStopping(monitor=monitor, patience=int(patience), mode="min", check_finite=True)
        cbs.append(early)
    remaining = max_epochs - start_epoch
    if remaining > 0:
        trainer = L.Trainer(
            accelerator=accelerator, devices=devices if accelerator == "gpu" else 1, strategy=strategy,
            num_nodes=num_nodes, precision=prec, max_epochs=remaining, logger=False, enable_checkpointing=False,
            enable_model_summary=False, enable_progress_bar=progress, callbacks=cbs, num_sanity_val_steps=0,
            log_every_n_steps=log_every_n_steps, deterministic=False, use_distributed_sampler=accelerator == "gpu"
            and devices not in (1, "1"))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*LeafSpec.*")
            warnings.filterwarnings("ignore", category=UserWarning, module="lightning")
            trainer.fit(module, train_loader, val_loader)
        stopped_early = bool(early is not None and early.stopped_epoch > 0)
    else:
        stopped_early = False
    ckpt_dir = run_dir / "checkpoints"
    out_model = net if not isinstance(model, L.LightningModule) else module
    return FitResult(
        model=out_model, history=history, run_dir=run_dir,
        best_checkpoint=(ckpt_dir / "best.pt") if (ckpt_dir / "best.pt").exists() else None,
        last_checkpoint=last if last.exists() else None, epochs_run=len(history),
        stopped_early=stopped_early, interrupted=engine_cb.interrupted, elapsed_s=time.perf_counter() - t_start,
        device=accelerator if accelerator == "cpu" else "cuda", precision=prec)

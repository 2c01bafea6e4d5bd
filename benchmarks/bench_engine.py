"""Training-step throughput through ``astrolab.train.fit`` vs a bare PyTorch loop.

What is compared
    The same MLP (32 -> 512 -> 512 -> 512 -> 1, ReLU, ~0.55 M parameters),
    the same data (a ``TensorDataset`` of 16384 samples, batch 256, reshuffled
    every epoch and indexed a whole batch at a time in both cases), the same
    optimiser (AdamW, lr 1e-3), the same device (CPU unless ``device`` says
    otherwise) and the same number of threads.

    * engine: ``fit(model, dataset, max_epochs=E, progress=True, ...)`` with
      its defaults: per-epoch atomic checkpoints (written to a temporary
      folder), history, the (throttled) progress bar (drawn to a discarded
      stream);
    * bare: ``for idx in randperm(N).split(256): zero_grad; loss(x[idx],
      y[idx]).backward(); step``.

How it is timed
    Steady state, step by step, engine and bare *interleaved*. A single
    ``fit`` runs E epochs; a timing callback, at the start of every engine
    batch of epochs 1 .. E-1, (1) closes the engine cycle that began after
    the previous bare step, (2) runs and times one bare step on its own
    model, (3) opens the next engine cycle. An engine cycle thus spans
    everything the engine does between two batches - Lightning's loop and
    hooks, the step itself, loss accumulation, and at epoch boundaries the
    history row, the state copy of the per-epoch atomic checkpoint and the
    progress bar (the file writing runs in a background thread and competes
    for the same cores during the following cycles) - but not the bare step.
    Lightning's one-time set-up and the warm-up epoch 0 are excluded.

    Why interleave: the machine (2 cores) is shared, and a busy neighbour
    slows a 2-thread torch step several-fold in bursts lasting seconds. An
    engine cycle and a bare step measured within milliseconds of each other
    see the same load, so their ratio is stable where separate runs are not.

Figures
    ``engine_throughput`` and ``bare_throughput`` [samples/s] = steps x 256 /
    summed time; ``ratio`` = engine / bare (goal >= 0.9);
    ``ratio_median_step`` = median of the per-step ratios (ignores the rare
    epoch-boundary cycles); ``step_ms_bare``, ``step_ms_engine`` [ms, medians].

Run: ``python benchmarks/bench_engine.py [--quick]``; a driver calls :func:`run`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import tempfile
import time

import torch
from torch import nn
from torch.utils.data import TensorDataset

D_IN, WIDTH, BATCH = 32, 512, 256


class MLP(nn.Module):
    """MLP ``D_IN -> WIDTH x3 -> 1``; ``loss(batch)`` is the mean squared error. Shapes: x (B, D_IN) -> (B,)."""

    def __init__(self, d_in: int = D_IN, width: int = WIDTH):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(d_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                 nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)

    def loss(self, batch):
        return ((self(batch[0]) - batch[1]) ** 2).mean()


def _data(n: int) -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, D_IN, generator=g)
    return TensorDataset(x, torch.tanh(x[:, :4].sum(1)))


class _Bare:
    """A bare forward/backward/AdamW loop over the same data, one step at a time."""

    def __init__(self, data, device: str):
        self.dev = torch.device(device)
        self.model = MLP().to(self.dev)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-3)
        self.x, self.y = data.tensors
        self.g = torch.Generator().manual_seed(0)
        self.batches = iter(())

    def step(self) -> float:
        """One training step; returns its duration [s]."""
        t0 = time.perf_counter()
        idx = next(self.batches, None)
        if idx is None:
            self.batches = iter(torch.randperm(len(self.x), generator=self.g).split(BATCH))
            idx = next(self.batches)
        xb, yb = self.x[idx].to(self.dev, non_blocking=True), self.y[idx].to(self.dev, non_blocking=True)
        self.opt.zero_grad(set_to_none=True)
        loss = ((self.model(xb) - yb) ** 2).mean()
        loss.backward()
        self.opt.step()
        if self.dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0


def _interleaved(data, epochs: int, device: str) -> tuple[list[float], list[float]]:
    """Durations [s] of engine cycles and of the bare steps run between them (epochs 1 .. E-1)."""
    import lightning as L

    from astrolab.train import fit

    dev = "cuda" if device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    bare = _Bare(data, dev)
    for _ in range(len(data) // BATCH):  # warm-up epoch
        bare.step()

    class Timer(L.Callback):
        def __init__(self):
            self.engine, self.bare, self.t0 = [], [], None

        def _tick(self, trainer):
            if dev == "cuda":
                torch.cuda.synchronize()
            if self.t0 is not None:
                self.engine.append(time.perf_counter() - self.t0)
            if trainer.current_epoch >= 1:
                self.bare.append(bare.step())
                self.t0 = time.perf_counter()

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            self._tick(trainer)

        def on_train_end(self, trainer, pl_module):
            self._tick(trainer)

    timer = Timer()
    with tempfile.TemporaryDirectory() as run_dir, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        fit(MLP(), data, None, max_epochs=epochs, batch_size=BATCH, run_dir=run_dir, resume=False, device=dev,
            progress=True, callbacks=[timer])
    return timer.engine, timer.bare[: len(timer.engine)]


def run(quick: bool = False, device: str = "cpu", repeats: int = 1) -> dict:
    """Measure the engine's and the bare loop's training throughput.

    Parameters
    ----------
    quick : bool
        Fewer epochs (192 interleaved steps, about 2 x 2 s, instead of 448, about 2 x 5 s, on 2 CPU cores).
    device : str
        ``"cpu"`` (default, comparable everywhere) or ``"auto"``/``"cuda"``.
    repeats : int
        Number of ``fit`` runs whose steps are pooled.

    Returns
    -------
    dict
        ``engine_throughput``, ``bare_throughput`` [samples/s], ``ratio``
        (engine / bare), ``ratio_median_step``, ``step_ms_engine``,
        ``step_ms_bare`` [ms], ``steps``, ``goal_ratio``.
    """
    n, epochs = (16_384, 4) if quick else (16_384, 8)
    data = _data(n)
    engines, bares = [], []
    for _ in range(max(1, int(repeats))):
        e, b = _interleaved(data, epochs, device)
        engines += e
        bares += b
    eng = len(engines) * BATCH / sum(engines)
    bare = len(bares) * BATCH / sum(bares)
    return {
        "engine_throughput": eng,
        "bare_throughput": bare,
        "ratio": eng / bare,
        "ratio_median_step": statistics.median(b / e for e, b in zip(engines, bares)),
        "step_ms_engine": 1e3 * statistics.median(engines),
        "step_ms_bare": 1e3 * statistics.median(bares),
        "steps": len(engines),
        "goal_ratio": 0.9,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--device", default="cpu", help="cpu (default), auto or cuda")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    for key, value in run(args.quick, args.device, args.repeats).items():
        print(f"{key:20s} {value:.3f}" if isinstance(value, float) else f"{key:20s} {value}")

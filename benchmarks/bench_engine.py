"""Training-step throughput through ``astrolab.train.fit`` vs a bare PyTorch loop.

Same model (MLP 32 -> 512 -> 512 -> 512 -> 1), same batches (256), same
optimiser (AdamW), CPU. Both are timed on steady-state epochs only: the engine
run is timed from the start of its second epoch to the end of its last
(a callback records the times), so Lightning's one-time set-up is excluded;
the bare loop is timed over the same number of steps after one warm-up epoch.
Goal: ratio engine / bare >= 0.9.

Run: ``python benchmarks/bench_engine.py [--quick]``.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class MLP(nn.Module):
    def __init__(self, d_in=32, width=512):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(d_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                 nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)

    def loss(self, batch):
        return ((self(batch[0]) - batch[1]) ** 2).mean()


def _data(n):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 32, generator=g)
    return TensorDataset(x, x[:, :4].sum(1))


def run(quick: bool = False) -> dict:
    """Return samples/s through the engine and the bare loop, and their ratio."""
    import lightning as L

    from astrolab.train import fit

    n, epochs, batch = (8192, 3, 256) if quick else (16384, 4, 256)
    data = _data(n)
    steps_per_epoch = n // batch

    class Timer(L.Callback):
        def __init__(self):
            self.marks = []

        def on_train_epoch_start(self, trainer, pl_module):
            self.marks.append(time.perf_counter())

        def on_train_epoch_end(self, trainer, pl_module):
            self.marks.append(time.perf_counter())

    timer = Timer()
    loader = DataLoader(data, batch_size=batch, shuffle=True, drop_last=True)
    fit(MLP(), loader, None, max_epochs=epochs, progress=False, callbacks=[timer], resume=False,
        device="cpu", keep_checkpoints=1)
    # steady state: epochs 2..N (start of epoch 2 to end of epoch N), checkpoint writes included
    engine_s = timer.marks[-1] - timer.marks[2]
    engine_tp = (epochs - 1) * steps_per_epoch * batch / engine_s

    model = MLP()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def bare_epoch():
        for xb, yb in DataLoader(data, batch_size=batch, shuffle=True, drop_last=True):
            opt.zero_grad(set_to_none=True)
            loss = ((model(xb) - yb) ** 2).mean()
            loss.backward()
            opt.step()

    bare_epoch()  # warm-up
    t0 = time.perf_counter()
    for _ in range(epochs - 1):
        bare_epoch()
    bare_s = time.perf_counter() - t0
    bare_tp = (epochs - 1) * steps_per_epoch * batch / bare_s
    return {"engine_samples_per_s": engine_tp, "bare_samples_per_s": bare_tp, "ratio": engine_tp / bare_tp,
            "goal_ratio": 0.9}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    for key, value in run(parser.parse_args().quick).items():
        print(f"{key:22s} {value:.3f}" if isinstance(value, float) else f"{key:22s} {value}")

"""A training run killed with SIGKILL mid-epoch resumes from its last checkpoint and ends where an
uninterrupted run with the same seed ends (CPU, exact).

Each run is a separate Python process executing ``astrolab.train.fit`` with per-epoch checkpoints. The
killed runs send themselves SIGKILL from inside a training batch (a Lightning callback calling
``os.kill(os.getpid(), SIGKILL)``), so nothing gets a chance to clean up: no ``finally``, no atexit, no
flush -- exactly what the OOM killer or a pulled plug does. The background checkpoint writer may be in
the middle of a write at that moment; atomic writes guarantee ``last.pt`` is the previous complete epoch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

CHILD = textwrap.dedent(r'''
    import json, os, signal, sys, time
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset
    import lightning as L

    torch.set_num_threads(1)
    from astrolab.train import fit

    run_dir, out, kill_at = sys.argv[1], sys.argv[2], sys.argv[3]

    g = torch.Generator().manual_seed(0)
    x = torch.randn(640, 8, generator=g)
    w = torch.randn(8, generator=g)
    y = torch.sin(0.5 * x @ w / w.norm()) + 0.05 * torch.randn(640, generator=g)
    train, val = TensorDataset(x[:512], y[:512]), TensorDataset(x[512:], y[512:])

    class Regressor(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(3)
            self.body = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Dropout(0.2), nn.Linear(64, 1))
        def forward(self, x):
            return self.body(x).squeeze(1)
        def loss(self, batch):
            return ((self(batch[0]) - batch[1]) ** 2).mean()
        def metrics(self, batch):
            return {"mae": (self(batch[0]) - batch[1]).abs().mean()}

    class Killer(L.Callback):
        """SIGKILL this process at (0-based epoch, batch index)."""
        def __init__(self, epoch, batch):
            self.at = (epoch, batch)
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if (trainer.current_epoch, batch_idx) == self.at:
                with open(out + ".killed", "w") as fh:
                    fh.write(f"{trainer.current_epoch} {batch_idx}")
                os.kill(os.getpid(), signal.SIGKILL)

    callbacks = []
    if kill_at != "none":
        e, b = (int(v) for v in kill_at.split(":"))
        callbacks.append(Killer(e, b))
    res = fit(Regressor(), train, val, max_epochs=6, batch_size=32, lr=1e-2, scheduler="cosine",
              run_dir=run_dir, resume=True, progress=False, device="cpu", seed=7, callbacks=callbacks)
    torch.save({k: v.detach().cpu() for k, v in res.model.state_dict().items()}, out + ".pt")
    with open(out + ".json", "w") as fh:
        baseline = float(((y[512:] - y[:512].mean()) ** 2).mean())  # predict the mean: MSE = variance
        json.dump({"baseline_mse": baseline, "epochs_run": res.epochs_run, "start_epoch": res.extra["start_epoch"],
                   "global_step": res.extra["global_step"], "history": res.history.rows}, fh, default=float)
''')


def _run(script: Path, run_dir: Path, out: Path, kill_at: str, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), str(run_dir), str(out), kill_at], env=env,
                          capture_output=True, text=True, timeout=300)


def _last_epoch(run_dir: Path) -> int:
    from astrolab.train import load_checkpoint

    return int(load_checkpoint(run_dir)["epoch"])


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", ASTROLAB_DEVICE="cpu")

    straight = _run(script, tmp_path / "straight", tmp_path / "straight", "none", env)
    assert straight.returncode == 0, straight.stderr[-3000:]

    # 1st kill: in the middle of the 3rd epoch (0-based epoch 2, batch 7 of 16)
    run = tmp_path / "killed"
    first = _run(script, run, tmp_path / "k1", "2:7", env)
    assert first.returncode == -signal.SIGKILL, (first.returncode, first.stderr[-3000:])
    assert (tmp_path / "k1.killed").read_text() == "2 7" and not (tmp_path / "k1.json").exists()
    ckpt1 = _last_epoch(run)
    assert ckpt1 in (1, 2)  # epoch 2's checkpoint may still have been in flight when the process died

    # 2nd kill: resumed, then killed again mid-epoch (0-based epoch 4, batch 2)
    second = _run(script, run, tmp_path / "k2", "4:2", env)
    assert second.returncode == -signal.SIGKILL, (second.returncode, second.stderr[-3000:])
    ckpt2 = _last_epoch(run)
    assert ckpt2 in (3, 4)

    # final resume, no kill
    final = _run(script, run, tmp_path / "final", "none", env)
    assert final.returncode == 0, final.stderr[-3000:]
    a = json.loads((tmp_path / "straight.json").read_text())
    b = json.loads((tmp_path / "final.json").read_text())
    assert b["start_epoch"] == ckpt2, "the resumed run did not start from the last checkpoint"
    assert a["epochs_run"] == b["epochs_run"] == 6 and a["global_step"] == b["global_step"] == 6 * 16
    assert [r["epoch"] for r in b["history"]] == [1, 2, 3, 4, 5, 6]
    for ra, rb in zip(a["history"], b["history"]):      # same metrics, epoch by epoch, to float precision
        for key in ("train_loss", "val_loss", "val_mae", "lr"):
            assert rb[key] == pytest.approx(ra[key], rel=1e-6, abs=1e-9), (ra["epoch"], key, ra[key], rb[key])
    wa = torch.load(tmp_path / "straight.pt", weights_only=True)
    wb = torch.load(tmp_path / "final.pt", weights_only=True)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "final weights differ from the uninterrupted run"
    # the model learned something (so equality is not between two untrained nets): beats predicting the mean
    assert a["history"][-1]["val_loss"] < 0.5 * a["baseline_mse"], (a["history"][-1]["val_loss"], a["baseline_mse"])

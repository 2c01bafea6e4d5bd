"""The training engine: learning, checkpoints, resume, early stopping, stop event, threads."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from astrolab.errors import CheckpointError, DataValidationError
from astrolab.train import MetricsHistory, fit, load_checkpoint


def make_data(n=1200, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    w = torch.randn(8, generator=g)
    y = torch.sin(x @ w) + 0.05 * torch.randn(n, generator=g)
    cut = int(0.8 * n)
    return TensorDataset(x[:cut], y[:cut]), TensorDataset(x[cut:], y[cut:])


class Regressor(nn.Module):
    def __init__(self, seed=3):
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 1))

    def forward(self, x):
        return self.body(x).squeeze(1)

    def loss(self, batch):
        return ((self(batch[0]) - batch[1]) ** 2).mean()

    def metrics(self, batch):
        return {"mae": (self(batch[0]) - batch[1]).abs().mean()}


def test_learns_and_beats_mean_baseline(tmp_path):
    train, val = make_data()
    res = fit(Regressor(), train, val, max_epochs=15, batch_size=64, lr=3e-3, run_dir=tmp_path, progress=False)
    frame = res.history.frame
    assert len(frame) == 15 and res.epochs_run == 15
    assert frame["train_loss"].iloc[-1] < 0.5 * frame["train_loss"].iloc[0]
    y = val.tensors[1]
    baseline = ((y - y.mean()) ** 2).mean().item()
    assert frame["val_loss"].iloc[-1] < 0.3 * baseline
    assert "val_mae" in frame.columns and res.device == "cpu" and res.precision == "32-true"


def test_checkpoint_per_epoch_weights_only(tmp_path):
    train, val = make_data(400)
    res = fit(Regressor(), train, val, max_epochs=5, run_dir=tmp_path, progress=False, keep_checkpoints=3,
              config={"width": 64})
    files = sorted(p.name for p in (tmp_path / "checkpoints").glob("epoch=*.pt"))
    assert files == ["epoch=0003.pt", "epoch=0004.pt", "epoch=0005.pt"]
    raw = torch.load(res.last_checkpoint, weights_only=True)
    assert raw["epoch"] == 5 and raw["config"] == {"width": 64} and len(raw["history"]) == 5
    model = Regressor(seed=99)
    load_checkpoint(res.best_checkpoint, model)
    best = res.history.best("val_loss")
    assert best is not None and load_checkpoint(res.best_checkpoint)["best_value"] == pytest.approx(best["val_loss"])
    assert not list(tmp_path.rglob("*.tmp"))


def test_resume_reaches_the_same_weights(tmp_path):
    train, val = make_data(600)
    straight = fit(Regressor(), train, val, max_epochs=4, run_dir=tmp_path / "a", progress=False, seed=7)
    fit(Regressor(), train, val, max_epochs=2, run_dir=tmp_path / "b", progress=False, seed=7)
    resumed = fit(Regressor(), train, val, max_epochs=4, run_dir=tmp_path / "b", progress=False, seed=7)
    assert resumed.epochs_run == 4
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)
    assert resumed.history.frame["val_loss"].iloc[-1] == pytest.approx(straight.history.frame["val_loss"].iloc[-1],
                                                                       abs=1e-6)


def test_early_stopping(tmp_path):
    train, val = make_data(300)
    res = fit(Regressor(), train, val, max_epochs=200, lr=0.0, run_dir=tmp_path, progress=False, patience=2)
    assert res.stopped_early and res.epochs_run < 10


def test_stop_event_keeps_last_complete_epoch(tmp_path):
    train, val = make_data(2000)
    stop = threading.Event()
    history = MetricsHistory()
    history.subscribe(lambda row: stop.set() if row["epoch"] >= 2 else None)
    res = fit(Regressor(), train, val, max_epochs=50, batch_size=32, run_dir=tmp_path, progress=False,
              stop_event=stop, history=history)
    assert res.interrupted and 2 <= res.epochs_run < 50
    assert load_checkpoint(tmp_path / "checkpoints" / "last.pt")["epoch"] == res.epochs_run


def test_fit_in_a_thread_streams_history(tmp_path):
    train, val = make_data(400)
    rows, out = [], []
    history = MetricsHistory()
    history.subscribe(rows.append)
    thread = threading.Thread(target=lambda: out.append(fit(Regressor(), train, val, max_epochs=3, run_dir=tmp_path,
                                                            progress=False, history=history)))
    thread.start()
    thread.join(timeout=120)
    assert out and [r["epoch"] for r in rows] == [1, 2, 3]


def test_model_without_loss_is_a_clear_error(tmp_path):
    train, _ = make_data(100)
    with pytest.raises(DataValidationError, match="loss"):
        fit(nn.Linear(8, 1), train, run_dir=tmp_path, progress=False)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="Fix:"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")

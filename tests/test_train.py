"""The training engine: learning, checkpoints, exact resume, early stopping, stop event, threads, errors."""

from __future__ import annotations

import logging
import threading

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from astrolab.errors import CheckpointError, DataValidationError
from astrolab.train import FitResult, MetricsHistory, TaskModule, fit, load_checkpoint, save_checkpoint


def make_data(n=1200, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    w = torch.randn(8, generator=g)
    y = torch.sin(x @ w) + 0.05 * torch.randn(n, generator=g)
    cut = int(0.8 * n)
    return TensorDataset(x[:cut], y[:cut]), TensorDataset(x[cut:], y[cut:])


class Regressor(nn.Module):
    """Tiny MLP (8 -> 64 -> 1) with a loss and a validation metric."""

    def __init__(self, seed=3, dropout=0.0):
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Dropout(dropout), nn.Linear(64, 1))

    def forward(self, x):
        return self.body(x).squeeze(1)

    def loss(self, batch):
        return ((self(batch[0]) - batch[1]) ** 2).mean()

    def metrics(self, batch):
        return {"mae": (self(batch[0]) - batch[1]).abs().mean()}


def max_weight_diff(a: nn.Module, b: nn.Module) -> float:
    return max((x - y).abs().max().item() for x, y in zip(a.state_dict().values(), b.state_dict().values()))


class EpochSpy(L.Callback):
    """Records Lightning's epoch counter and optionally sets a stop event mid-epoch."""

    def __init__(self, stop=None, at=(None, None)):
        self.epochs, self.stop, self.at = [], stop, at

    def on_train_epoch_start(self, trainer, pl_module):
        self.epochs.append(trainer.current_epoch)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.stop is not None and (trainer.current_epoch, batch_idx) == self.at:
            self.stop.set()


# ---------------------------------------------------------------------------------- learning


def test_learns_and_beats_mean_baseline(tmp_path):
    train, val = make_data()
    res = fit(Regressor(), train, val, max_epochs=15, batch_size=64, lr=3e-3, run_dir=tmp_path, progress=False)
    assert isinstance(res, FitResult)
    frame = res.history.frame
    assert len(frame) == 15 and res.epochs_run == 15 and list(frame["epoch"]) == list(range(1, 16))
    assert frame["train_loss"].iloc[-1] < 0.5 * frame["train_loss"].iloc[0]
    y = val.tensors[1]
    baseline = ((y - y.mean()) ** 2).mean().item()
    assert frame["val_loss"].iloc[-1] < 0.3 * baseline
    # val_loss is the sample-weighted mean over the validation set: recompute it
    with torch.no_grad():
        direct = ((res.model(val.tensors[0]) - y) ** 2).mean().item()
    assert frame["val_loss"].iloc[-1] == pytest.approx(direct, rel=1e-5)
    assert {"val_mae", "lr", "elapsed_s"} <= set(frame.columns) and frame["elapsed_s"].is_monotonic_increasing
    assert res.device == "cpu" and res.precision == "32-true" and not res.interrupted and not res.stopped_early
    assert res.extra["global_step"] == 15 * 15  # 960 samples / 64 per batch = 15 steps per epoch
    assert (tmp_path / "history.csv").exists() and (tmp_path / "config.json").exists()


def test_loss_fn_and_tuple_data(tmp_path):
    train, _ = make_data(400)
    net = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
    res = fit(net, train.tensors, loss_fn=lambda m, b: ((m(b[0]).squeeze(1) - b[1]) ** 2).mean(), max_epochs=6,
              batch_size=32, lr=5e-3, run_dir=tmp_path, progress=False, optimizer="adam")
    frame = res.history.frame
    assert "val_loss" not in frame.columns and frame["train_loss"].iloc[-1] < 0.7 * frame["train_loss"].iloc[0]
    assert res.best_checkpoint is not None  # monitor falls back to train_loss without validation data
    assert res.history.best("train_loss")["train_loss"] == pytest.approx(frame["train_loss"].min())


def test_lightning_module_used_as_is(tmp_path):
    class Lit(L.LightningModule):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.lin = nn.Linear(8, 1)

        def training_step(self, batch, batch_idx):
            loss = ((self.lin(batch[0]).squeeze(1) - batch[1]) ** 2).mean()
            self.log("train_loss", loss, on_step=False, on_epoch=True)
            return loss

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.05)
            return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)}

    train, _ = make_data(300)
    res = fit(Lit(), train, max_epochs=3, batch_size=60, run_dir=tmp_path, progress=False)
    assert isinstance(res.model, Lit) and res.epochs_run == 3
    assert list(res.history.frame["lr"]) == pytest.approx([0.05, 0.025, 0.0125])
    raw = torch.load(res.last_checkpoint, weights_only=True)
    assert raw["scheduler_states"][0]["last_epoch"] == 3 and set(raw["state_dict"]) == {"lin.weight", "lin.bias"}


# ---------------------------------------------------------------------------------- checkpoints


def test_checkpoint_per_epoch_weights_only(tmp_path):
    train, val = make_data(400)
    res = fit(Regressor(), train, val, max_epochs=5, run_dir=tmp_path, progress=False, keep_checkpoints=3,
              config={"width": 64, "note": "test"})
    ckpt_dir = tmp_path / "checkpoints"
    files = sorted(p.name for p in ckpt_dir.glob("epoch=*.pt"))
    assert files == ["epoch=0003.pt", "epoch=0004.pt", "epoch=0005.pt"]
    assert res.last_checkpoint == ckpt_dir / "last.pt" and res.best_checkpoint == ckpt_dir / "best.pt"
    raw = torch.load(res.last_checkpoint, weights_only=True)  # plain dict: no pickled code
    assert raw["epoch"] == 5 and raw["global_step"] == 5 * 2 and raw["config"] == {"width": 64, "note": "test"}
    assert len(raw["history"]) == 5 and raw["format_version"] == 1 and isinstance(raw["astrolab_version"], str)
    assert raw["optimizer_states"][0]["state"] and raw["scheduler_states"] == []
    assert {"torch", "numpy", "python"} <= set(raw["rng"]) and raw["fit_settings"]["batch_size"] == 256
    for name in files:
        assert torch.load(ckpt_dir / name, weights_only=True)["epoch"] == int(name[6:10])
    model = Regressor(seed=99)
    load_checkpoint(res.last_checkpoint, model)
    assert max_weight_diff(model, res.model) == 0.0
    best = res.history.best("val_loss")
    assert load_checkpoint(res.best_checkpoint)["best_value"] == pytest.approx(best["val_loss"])
    assert load_checkpoint(res.best_checkpoint)["epoch"] == best["epoch"]
    assert not list(tmp_path.rglob("*.tmp"))


def test_save_checkpoint_roundtrip(tmp_path):
    net = Regressor()
    path = save_checkpoint(tmp_path / "x.pt", {"state_dict": net.state_dict(), "epoch": 2, "config": {"a": 1}})
    raw = torch.load(path, weights_only=True)
    assert raw["epoch"] == 2 and raw["format_version"] == 1 and "astrolab_version" in raw
    other = Regressor(seed=5)
    load_checkpoint(save_checkpoint(tmp_path / "y.pt", net), other)
    assert max_weight_diff(net, other) == 0.0


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="Fix:") as info:
        load_checkpoint(bad)
    assert str(bad) in str(info.value)
    with pytest.raises(CheckpointError, match="not found.*Fix:"):
        load_checkpoint(tmp_path / "missing.pt")
    good = save_checkpoint(tmp_path / "good.pt", Regressor())
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(CheckpointError, match="truncated.*Fix:"):
        load_checkpoint(truncated)
    with pytest.raises(CheckpointError, match="do not fit.*Fix:"):
        load_checkpoint(good, nn.Linear(3, 3))


def test_resume_falls_back_when_last_is_corrupt(tmp_path):
    train, val = make_data(300)
    fit(Regressor(), train, val, max_epochs=3, run_dir=tmp_path, progress=False)
    last = tmp_path / "checkpoints" / "last.pt"
    last.unlink()  # last.pt may be a hard link to epoch=0003.pt: replace the file rather than write into it
    last.write_bytes(b"\x00" * 100)
    with pytest.warns(RuntimeWarning, match="epoch=0003.pt"):
        res = fit(Regressor(), train, val, max_epochs=4, run_dir=tmp_path, progress=False)
    assert res.epochs_run == 4 and res.extra["start_epoch"] == 3


# ---------------------------------------------------------------------------------- resume


def test_resume_reaches_the_same_weights(tmp_path):
    """4 epochs straight == 2 epochs, then a fresh fit call resuming to 4 (dropout: the RNG is restored too)."""
    train, val = make_data(600)
    kw = dict(batch_size=64, progress=False, seed=7)
    straight = fit(Regressor(dropout=0.2), train, val, max_epochs=4, run_dir=tmp_path / "a", **kw)
    first = fit(Regressor(dropout=0.2), train, val, max_epochs=2, run_dir=tmp_path / "b", **kw)
    assert first.epochs_run == 2
    spy = EpochSpy()
    resumed = fit(Regressor(seed=11, dropout=0.2), train, val, max_epochs=4, run_dir=tmp_path / "b",
                  callbacks=[spy], **kw)
    assert resumed.epochs_run == 4 and resumed.extra["epochs_this_call"] == 2 and spy.epochs == [2, 3]
    assert max_weight_diff(straight.model, resumed.model) <= 1e-6
    a, b = straight.history.frame, resumed.history.frame
    assert list(b["epoch"]) == [1, 2, 3, 4]
    assert b["val_loss"].iloc[-1] == pytest.approx(a["val_loss"].iloc[-1], abs=1e-6)
    assert b["train_loss"].tolist() == pytest.approx(a["train_loss"].tolist(), abs=1e-6)
    assert resumed.extra["global_step"] == straight.extra["global_step"] == 4 * 8
    # a finished run resumed again trains nothing
    again = fit(Regressor(seed=11, dropout=0.2), train, val, max_epochs=4, run_dir=tmp_path / "b", **kw)
    assert again.extra["epochs_this_call"] == 0 and max_weight_diff(again.model, straight.model) <= 1e-6


def test_stopped_mid_epoch_then_resumed_matches(tmp_path):
    """Stop in the middle of epoch 3 (cosine schedule, user DataLoader), resume: same result as straight."""
    train, val = make_data(600)

    def loader():
        return DataLoader(train, batch_size=48, shuffle=True)

    kw = dict(max_epochs=4, progress=False, seed=3, scheduler="cosine")
    straight = fit(Regressor(dropout=0.1), loader(), val, run_dir=tmp_path / "a", **kw)
    stop = threading.Event()
    killed = fit(Regressor(dropout=0.1), loader(), val, run_dir=tmp_path / "b", stop_event=stop,
                 callbacks=[EpochSpy(stop, at=(2, 4))], **kw)
    assert killed.interrupted and killed.epochs_run == 2 and len(killed.history) == 2
    assert load_checkpoint(tmp_path / "b")["epoch"] == 2  # the partial epoch is not checkpointed
    resumed = fit(Regressor(dropout=0.1), loader(), val, run_dir=tmp_path / "b", **kw)
    assert resumed.epochs_run == 4 and not resumed.interrupted
    assert max_weight_diff(straight.model, resumed.model) <= 1e-6
    assert resumed.history.frame["lr"].tolist() == pytest.approx(straight.history.frame["lr"].tolist())


# ---------------------------------------------------------------------------------- stopping


def test_early_stopping(tmp_path):
    train, val = make_data(300)
    res = fit(Regressor(), train, val, max_epochs=200, lr=0.0, run_dir=tmp_path, progress=False, patience=2)
    # lr=0: val_loss is flat, never improves after epoch 1 -> stops after epoch 1 + patience
    assert res.stopped_early and res.epochs_run == 3
    assert load_checkpoint(res.last_checkpoint)["stopped_early"]
    again = fit(Regressor(), train, val, max_epochs=200, lr=0.0, run_dir=tmp_path, progress=False, patience=2)
    assert again.stopped_early and again.extra["epochs_this_call"] == 0


def test_stop_event_keeps_last_complete_epoch(tmp_path):
    train, val = make_data(2000)
    stop = threading.Event()
    history = MetricsHistory()
    history.subscribe(lambda row: stop.set() if row["epoch"] >= 2 else None)
    res = fit(Regressor(), train, val, max_epochs=50, batch_size=32, run_dir=tmp_path, progress=False,
              stop_event=stop, history=history)
    assert res.interrupted and res.epochs_run == 2 and len(history) == 2
    assert load_checkpoint(tmp_path / "checkpoints" / "last.pt")["epoch"] == res.epochs_run
    stop.clear()
    more = fit(Regressor(), train, val, max_epochs=3, batch_size=32, run_dir=tmp_path, progress=False,
               stop_event=stop, history=history)
    assert more.epochs_run == 3 and [r["epoch"] for r in history.rows] == [1, 2, 3]


# ---------------------------------------------------------------------------------- threads, history, errors


def test_fit_in_a_thread_streams_history(tmp_path):
    train, val = make_data(400)
    rows, out, errors, threads = [], [], [], []
    history = MetricsHistory()
    history.subscribe(lambda row: (rows.append(row), threads.append(threading.current_thread().name)))

    def work():
        try:
            out.append(fit(Regressor(), train, val, max_epochs=3, run_dir=tmp_path, history=history))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=work, name="trainer")
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive() and not errors and out
    assert [r["epoch"] for r in rows] == [1, 2, 3] and set(threads) == {"trainer"}
    assert len(history.frame) == 3 and out[0].epochs_run == 3


def test_history_rows_and_best():
    history = MetricsHistory()
    seen = []
    history.subscribe(seen.append)
    for epoch, loss in enumerate([3.0, 1.0, 2.0], start=1):
        history.append({"epoch": epoch, "val_loss": loss})
    assert [r["epoch"] for r in seen] == [1, 2, 3] and list(history.frame["val_loss"]) == [3.0, 1.0, 2.0]
    assert history.best("val_loss")["epoch"] == 2 and history.best("val_loss", mode="max")["epoch"] == 1


def test_lightning_info_logs_are_silenced(tmp_path, caplog):
    train, _ = make_data(200)
    before = logging.getLogger("lightning.pytorch").level
    with caplog.at_level(logging.INFO):
        fit(Regressor(), train, max_epochs=1, run_dir=tmp_path / "quiet", progress=False)
        assert not [r for r in caplog.records if "GPU available" in r.getMessage()]
        fit(Regressor(), train, max_epochs=1, run_dir=tmp_path / "loud", progress=False, verbose=True)
        assert [r for r in caplog.records if "GPU available" in r.getMessage()]
    assert logging.getLogger("lightning.pytorch").level == before  # restored after fit


def test_model_without_loss_is_a_clear_error(tmp_path):
    train, _ = make_data(100)
    with pytest.raises(DataValidationError, match=r"model\.loss\(batch\) not found and no loss_fn given.*Fix:"):
        fit(nn.Linear(8, 1), train, run_dir=tmp_path, progress=False)
    with pytest.raises(DataValidationError, match="scalar"):
        fit(nn.Linear(8, 1), train, loss_fn=lambda m, b: m(b[0]), max_epochs=1, run_dir=tmp_path, progress=False)
    with pytest.raises(DataValidationError, match="train_data"):
        fit(Regressor(), 42, run_dir=tmp_path, progress=False)
    with pytest.raises(DataValidationError, match="JSON"):
        fit(Regressor(), train, config={"bad": object()}, run_dir=tmp_path, progress=False)


def test_default_run_dir_is_under_the_cache(tmp_path):
    from astrolab import config

    train, _ = make_data(100)
    res = fit(Regressor(), train, max_epochs=1, progress=False)
    assert res.run_dir.parent == config.cache_dir() / "runs" and (res.run_dir / "checkpoints" / "last.pt").exists()
    assert isinstance(TaskModule(Regressor()), L.LightningModule)

"""daep / maep autoencoders (astrolab.models.diffusion) on Bazin transients."""

import numpy as np
import pytest
import torch

from astrolab.models.diffusion import DAEP, MAEP
from astrolab.sim.transients import simulate_transients


@pytest.fixture(scope="module")
def data():
    torch.set_num_threads(1)
    s = simulate_transients(160, seed=0, n_epochs=(15, 30))
    pad = s.lightcurves.to_padded(max_len=60, bands=["g", "r"])
    true = s.lightcurves_true.to_padded(max_len=60, bands=["g", "r"])
    scale = np.abs(pad["value"]).max(1, keepdims=True)
    b = {"time": torch.tensor((pad["time"] - 59000 + 30) / 180 * pad["mask"], dtype=torch.float32),
         "value": torch.tensor(pad["value"] / scale, dtype=torch.float32),
         "band": torch.tensor(pad["band_index"]), "mask": torch.tensor(pad["mask"])}
    return b, torch.tensor(true["value"] / scale, dtype=torch.float32)


def _train(model, b, epochs, n_train=130, bs=26):
    opt = torch.optim.AdamW(model.parameters(), 2e-3)
    losses = []
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        perm = torch.randperm(n_train, generator=g)
        for i in range(0, n_train, bs):
            idx = perm[i:i + bs]
            loss = model.loss({k: v[idx] for k, v in b.items()})
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def _mse(pred, truth, mask):
    w = mask.float()
    return float((((pred - truth) ** 2) * w).sum() / w.sum())


@pytest.mark.slow
def test_maep_reconstructs_better_than_zero(data):
    b, truth = data
    torch.manual_seed(0)
    m = MAEP(d_model=32, n_latents=8, n_blocks=2)
    losses = _train(m, b, 20)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    te = {k: v[130:] for k, v in b.items()}
    rec = m.reconstruct(te, te["time"], te["band"])
    assert rec.shape == te["value"].shape
    assert _mse(rec, truth[130:], te["mask"]) < 0.5 * _mse(torch.zeros_like(rec), truth[130:], te["mask"])
    assert m.latent_features(te).shape == (30, 8 * 32)


def test_daep_loss_falls_and_ddim_samples_are_finite(data):
    b, truth = data
    torch.manual_seed(0)
    m = DAEP(d_model=32, n_latents=8, n_blocks=2, n_steps=100)
    losses = _train(m, b, 15)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    te = {k: v[130:] for k, v in b.items()}
    rec = m.reconstruct(te, te["time"], te["band"], n_sample_steps=20, generator=torch.Generator().manual_seed(0))
    assert rec.shape == te["value"].shape and torch.isfinite(rec).all()
    assert rec.abs().max() <= 3.0 + 1e-4  # clipped DDIM stays in the data range


def test_autoencoder_workflow():
    from astrolab import autoencoders as ae

    s = simulate_transients(60, seed=4, n_epochs=(10, 20))
    b, truth, scale, t_first = ae.transient_batch(s, max_len=40)
    assert b["value"].shape == (60, 40) and b["mask"].dtype == torch.bool
    assert float(b["value"].abs().max()) == pytest.approx(1.0)
    # the truth in normalised units matches the Bazin function at the observed epochs
    i = 0
    m = (b["band"][i] == 1) & b["mask"][i]
    days = b["time"][i][m].numpy() * ae.TIME_SCALE + t_first[i]
    assert np.allclose(s.truth(i, days, "r") / scale[i], truth[i][m].numpy(), atol=1e-5)
    torch.manual_seed(0)
    model, res = ae.train_autoencoder(MAEP(d_model=16, n_latents=4, n_blocks=1), b, epochs=6, batch_size=20)
    h = res.history.frame["train_loss"]
    assert h.iloc[-1] < h.iloc[0]
    assert 0 < ae.reconstruction_mse(model, b, truth) < 1.0
    assert ae.latents(model, b).shape == (60, 4 * 16)

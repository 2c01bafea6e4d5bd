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


# ---- VAE baseline, spectra batches, probes, bad input ---------------------------------------------

from astrolab import autoencoders as ae  # noqa: E402
from astrolab.errors import DataValidationError  # noqa: E402
from astrolab.models.diffusion import VAE, gaussian_kl  # noqa: E402
from astrolab.sim.transients import simulate_transient_spectra  # noqa: E402


def test_gaussian_kl_matches_the_closed_form():
    assert float(gaussian_kl(torch.zeros(3), torch.zeros(3)).sum()) == 0.0
    mu, logvar = torch.tensor([1.0, -2.0]), torch.tensor([np.log(4.0), np.log(0.25)])
    var = torch.exp(logvar)
    expect = 0.5 * (mu ** 2 + var - 1 - torch.log(var))
    assert torch.allclose(gaussian_kl(mu, logvar), expect)
    # Monte Carlo estimate of E_q[log q - log p] agrees
    g = torch.Generator().manual_seed(0)
    z = 1.0 + 2.0 * torch.randn(200_000, generator=g)
    mc = (-0.5 * ((z - 1.0) / 2.0) ** 2 - np.log(2.0) + 0.5 * z ** 2).mean()
    assert float(mc) == pytest.approx(float(gaussian_kl(mu[:1], logvar[:1])), abs=0.02)


def test_vae_learns_and_its_kl_term_behaves(data):
    b, truth = data
    vs = ae.value_scale({k: v[:130] for k, v in b.items()})
    te = {k: v[130:] for k, v in b.items()}
    finals = {}
    for beta in (0.1, 5.0):
        torch.manual_seed(0)
        m = VAE(d_model=32, n_latents=8, n_blocks=2, beta=beta, value_scale=vs)
        with torch.no_grad():
            start = m.loss_terms({k: v[:130] for k, v in b.items()})
        losses = _train(m, b, 12)
        assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
        m.eval()
        with torch.no_grad():
            terms = m.loss_terms({k: v[:130] for k, v in b.items()})
        assert terms["kl"] >= 0 and terms["recon"] < start["recon"]
        assert terms["loss"] == pytest.approx(float(terms["recon"] + beta * terms["kl"]), rel=1e-5)
        finals[beta] = {k: float(v) for k, v in terms.items()}
        # reconstructions use the posterior mean: deterministic
        r1, r2 = m.reconstruct(te, te["time"], te["band"]), m.reconstruct(te, te["time"], te["band"])
        assert torch.equal(r1, r2) and r1.shape == te["value"].shape
        assert m.latent_features(te).shape == (30, 8 * 32)
        finals[beta]["mse"] = _mse(r1, truth[130:], te["mask"])
    # a heavier KL weight pulls q(z|x) toward the prior (smaller KL) and costs reconstruction accuracy
    assert finals[5.0]["kl"] < 0.5 * finals[0.1]["kl"]
    assert finals[5.0]["mse"] > finals[0.1]["mse"]
    assert finals[0.1]["mse"] < 0.5 * _mse(torch.zeros_like(r1), truth[130:], te["mask"])


def test_models_run_on_irregular_masked_spectra():
    sim = simulate_transient_spectra(48, seed=1, n_pixels=96)
    b, truth, scale, hidden = ae.spectrum_batch(sim)
    assert b["value"].shape == (48, 96) and (b["band"] == 0).all()
    assert torch.equal(b["mask"], ~hidden) and torch.equal(hidden, torch.tensor(sim.spectra.mask))
    i = 3
    lam = ae.position_to_wavelength(b["time"][i].numpy())
    assert np.allclose(lam, sim.spectra.wavelength_of(i), atol=1e-3)
    assert np.allclose(sim.truth(i, sim.spectra.wavelength_of(i)) / scale[i], truth[i].numpy(), rtol=1e-5)
    assert float(b["value"][b["mask"]].max()) == pytest.approx(1.0)
    vs = ae.value_scale(b)
    for model, kw in ((MAEP(d_model=16, n_latents=4, n_blocks=1, n_bands=1, value_scale=vs), {}),
                      (VAE(d_model=16, n_latents=4, n_blocks=1, n_bands=1, value_scale=vs), {}),
                      (DAEP(d_model=16, n_latents=4, n_blocks=1, n_bands=1, n_steps=50, prediction="x0", value_scale=vs),
                       {"n_sample_steps": 10, "generator": torch.Generator().manual_seed(0)})):
        torch.manual_seed(0)
        trained, res = ae.train_autoencoder(model, b, epochs=4, batch_size=16, val_batch=b)
        h = res.history.frame
        assert h["train_loss"].iloc[-1] < h["train_loss"].iloc[0]
        if isinstance(model, VAE):
            assert {"val_recon", "val_kl"} <= set(h.columns) and (h["val_kl"] >= 0).all()
        obs = ae.reconstruction_mse(trained, b, truth, **kw)
        inpaint = ae.reconstruction_mse(trained, b, truth, where=hidden, **{**kw, "generator": torch.Generator().manual_seed(0)}
                                        if kw else {})
        assert np.isfinite(obs) and np.isfinite(inpaint) and obs < 1.0


def test_daep_beats_the_vae_at_equal_budget(data):
    """daep (x0-parameterised DDPM) vs VAE (beta 0.1), same encoder, data, epochs, optimiser and seed.

    daep vs maep is too close at this scale to assert here (see notebook 06's metrics)."""
    b, truth = data
    vs = ae.value_scale({k: v[:130] for k, v in b.items()})
    te = {k: v[130:] for k, v in b.items()}
    err = {}
    for name, make in (("daep", lambda: DAEP(d_model=32, n_latents=8, n_blocks=2, n_steps=100, prediction="x0", value_scale=vs)),
                       ("vae", lambda: VAE(d_model=32, n_latents=8, n_blocks=2, beta=0.1, value_scale=vs))):
        torch.manual_seed(0)
        m = make()
        _train(m, b, 12)
        m.eval()
        kw = {"n_sample_steps": 20, "generator": torch.Generator().manual_seed(0)} if name == "daep" else {}
        err[name] = ae.reconstruction_mse(m, te, truth[130:], **kw)
    assert err["daep"] < err["vae"], err


def test_probe_latents_separable_vs_random():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 60)
    centres = rng.normal(size=(3, 10)) * 4
    z = centres[y] + rng.normal(size=(180, 10))
    tr, te = np.arange(180) % 3 != 0, np.arange(180) % 3 == 0
    out = ae.probe_latents(z[tr], y[tr], z[te], y[te], seeds=range(3))
    assert out["linear"]["accuracy"] > 0.95 and out["mlp"]["accuracy"] > 0.9
    assert out["linear"]["n_train"] == 36  # 30 % of 40 per class, three classes
    assert out["kmeans"]["nmi"] > 0.8 and out["kmeans"]["ari"] > 0.8
    noise = ae.probe_latents(rng.normal(size=(120, 10)), y[tr], rng.normal(size=(60, 10)), y[te], seeds=range(3))
    assert noise["linear"]["accuracy"] < 0.6 and noise["kmeans"]["nmi"] < 0.2


def test_bad_input_raises_data_validation_error(data):
    b, truth = data
    for make in (lambda: DAEP(prediction="score"), lambda: DAEP(n_steps=1), lambda: VAE(beta=-0.1),
                 lambda: MAEP(mask_ratio=1.5), lambda: MAEP(d_model=30, n_heads=4), lambda: VAE(value_scale=0.0)):
        with pytest.raises(DataValidationError):
            make()
    m = VAE(d_model=16, n_latents=2, n_blocks=1)
    with pytest.raises(DataValidationError, match="lacks"):
        m.loss({"time": b["time"], "value": b["value"]})
    with pytest.raises(DataValidationError):
        ae.reconstruction_mse(m, b, truth[:5])
    with pytest.raises(DataValidationError):
        ae.reconstruction_mse(m, b, truth, where=torch.zeros_like(b["mask"]))
    with pytest.raises(DataValidationError):
        ae.train_autoencoder(m, {"value": b["value"]})
    with pytest.raises(DataValidationError):
        DAEP(d_model=16, n_latents=2, n_blocks=1, n_steps=10).reconstruct(b, b["time"], b["band"], n_sample_steps=50)
    with pytest.raises(DataValidationError):
        ae.probe_latents(np.zeros((5, 3)), np.zeros(4), np.zeros((5, 3)), np.zeros(5))


class _Oracle:
    """Stand-in model whose reconstruction is the simulator's noise-free (or continuum-only) spectrum."""

    def __init__(self, sim, scale, rows, lines=True):
        self.sim, self.scale, self.rows, self.lines = sim, scale, list(rows), lines

    def reconstruct(self, batch, time, band):
        assert len(batch["value"]) == len(self.rows) == len(time)
        lam = ae.position_to_wavelength(time.numpy())
        f = self.sim.truth if self.lines else self.sim.continuum
        return torch.tensor(np.stack([f(i, lam[k]) / self.scale[i] for k, i in enumerate(self.rows)]))


def test_ew_recovery_is_exact_for_the_truth_and_zero_without_lines():
    sim = simulate_transient_spectra(12, seed=5, n_pixels=96)
    b, truth, scale, hidden = ae.spectrum_batch(sim)
    rows = [2, 5, 7, 11]
    pos = np.linspace(0, 1, 50)
    rec = ae.reconstruct_on_grid(_Oracle(sim, scale, rows), b, rows, pos)
    assert rec.shape == (4, 50)
    assert np.allclose(rec[1], sim.truth(5, ae.position_to_wavelength(pos)) / scale[5])
    t = ae.ew_recovery(_Oracle(sim, scale, rows), sim, b, rows, scale)
    assert len(t) > 6 and set(t["object_id"]) <= set(rows)
    assert np.allclose(t["ew_rec"], t["ew_true"], rtol=0.02)
    flat = ae.ew_recovery(_Oracle(sim, scale, rows, lines=False), sim, b, rows, scale)
    assert np.abs(flat["ew_rec"]).max() < 1e-6 * np.abs(flat["ew_true"]).min()
    # in_chunk flags exactly the lines whose +-4 sigma window overlaps a stored masked chunk
    for r in t:
        ch = sim.chunks[sim.chunks["object_id"] == r["object_id"]]
        ln = sim.lines[(sim.lines["object_id"] == r["object_id"]) & (sim.lines["name"] == r["name"])][0]
        lo, hi = ln["centre"] - 4 * ln["sigma"], ln["centre"] + 4 * ln["sigma"]
        assert r["in_chunk"] == bool(np.any((ch["lo"] < hi) & (ch["hi"] > lo)))

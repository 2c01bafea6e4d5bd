"""Tests of the image photo-z models, GMM ensembles, degeneracy flags, PIT recalibration and transfer helpers."""

import numpy as np
import pytest
import torch

from astrolab.metrics import RedshiftPDF, pit_ks
from astrolab.models.photoz import PhotoZMLP
from astrolab.models.photoz_images import (BinnedRedshiftTask, GMMHead, GMMRedshiftTask, ImageZCNN, MultiBranchGMM,
                                           predict_in_batches)
from astrolab.models.transfer import freeze, trainable_parameters, unfreeze
from astrolab.photoz.images import (GMMEnsemble, colour_images, degeneracy_class, early_fusion_stack, scale_images,
                                    train_redshift_network)
from astrolab.photoz.recalibration import PITRecalibrator


def _toy(n, seed, size=12):
    """Blobs whose size encodes z (images) and a noisy magnitude-like feature (tabular)."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.1, 2.0, n)
    r = 0.8 + 2.5 / (1 + z)  # pixels
    c = np.arange(size) - (size - 1) / 2
    rr = c[None, :, None] ** 2 + c[None, None, :] ** 2
    img = np.exp(-0.5 * rr / r[:, None, None] ** 2)[:, None].repeat(2, 1)
    img[:, 1] *= (1 + 0.3 * z)[:, None, None]
    img += rng.normal(0, 0.05, img.shape)
    tab = (z + rng.normal(0, 0.5, n))[:, None]
    return img.astype(np.float32), tab.astype(np.float32), z


@pytest.mark.slow
def test_image_cnn_learns_redshift_from_images():
    x, t, z = _toy(600, 0, size=8)
    xv, tv, zv = _toy(200, 1, size=8)
    edges = np.linspace(0, 2.2, 45)
    task = BinnedRedshiftTask(ImageZCNN(2, 1, 44, channels=(8,), hidden=32), edges)
    res = train_redshift_network(task, (x, t), z, (xv, tv), zv, max_epochs=8, lr=5e-3, batch_size=32,
                                 device="cpu", seed=0)
    hist = res.history.frame
    assert hist["train_loss"].iloc[-1] < 0.85 * hist["train_loss"].iloc[0]
    pdf = task.predict_pdf((xv, tv))
    assert isinstance(pdf, RedshiftPDF) and len(pdf) == 200
    err = np.abs(pdf.median() - zv)
    assert np.median(err) < 0.5 * np.median(np.abs(zv - np.median(z)))  # far better than a constant
    assert np.median(err) < np.median(np.abs(tv[:, 0] - zv))  # images beat the noisy tabular feature


def test_gmm_head_and_multibranch_shapes():
    net = MultiBranchGMM(4, 6, 5, n_components=3, channels=(8,), hidden=16)
    w, m, s = net(torch.randn(7, 4, 16, 16), torch.randn(7, 6, 16, 16), torch.randn(7, 5))
    assert w.shape == m.shape == s.shape == (7, 3)
    assert torch.allclose(w.sum(1), torch.ones(7)) and (m >= 0).all() and (s > 0).all()
    h = GMMHead(10, 4)
    assert h(torch.randn(2, 10))[0].shape == (2, 4)


@pytest.fixture(scope="module")
def bimodal_problem():
    """A degenerate problem: the feature gives z or 2.2 - z with equal chance for x < 0."""
    rng = np.random.default_rng(2)

    def draw(n):
        x = rng.uniform(-1, 1, n)
        z = 0.6 + 0.4 * np.abs(x) + rng.normal(0, 0.05, n)
        flip = (x < 0) & (rng.uniform(size=n) < 0.5)
        z = np.where(flip, 2.2 - z, z)
        return np.stack([x, np.abs(x)], 1).astype(np.float32), z
    return draw(1500), draw(400), draw(600)


def _mlp_gmm(k, seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(2, 24), torch.nn.GELU(), torch.nn.Linear(24, 24), torch.nn.GELU(),
                               GMMHead(24, k))


@pytest.fixture(scope="module")
def gmm_members(bimodal_problem):
    (x, z), (xv, zv), _ = bimodal_problem
    members = []
    for i, loss in enumerate(["crps", "nll", "crps"]):
        task = GMMRedshiftTask(_mlp_gmm(3, i), loss=loss)
        res = train_redshift_network(task, (x,), z, (xv,), zv, max_epochs=12, lr=1e-2, batch_size=128,
                                     device="cpu", seed=i)
        assert res.history.frame["train_loss"].iloc[-1] < res.history.frame["train_loss"].iloc[0]
        members.append(task)
    return members


@pytest.mark.slow
def test_gmm_ensemble_beats_single_model_and_flags_degeneracy(bimodal_problem, gmm_members):
    _, _, (xt, zt) = bimodal_problem
    grid = np.linspace(0, 2.5, 251)
    singles = [np.mean(m.predict_pdf((xt,), grid).crps(zt)) for m in gmm_members]
    ens = GMMEnsemble(gmm_members).predict_pdf((xt,), grid)
    # CRPS is convex in the forecast: the equal-weight mixture beats the members' average (and the worst member)
    assert np.mean(ens.crps(zt)) <= np.mean(singles) + 1e-9 < max(singles)
    assert np.mean(ens.crps(zt)) < 0.5 * np.mean(np.abs(zt - np.median(zt)))  # far better than a constant
    labels, second = degeneracy_class(ens)
    amb = xt[:, 0] < -0.3  # truly bimodal there (peaks 1.0-1.6 apart)
    clear = xt[:, 0] > 0.3
    assert np.mean(labels[amb] != "none") > 0.5
    assert np.mean(labels[clear] == "none") > 0.7
    assert np.mean(second[amb]) > np.mean(second[clear]) + 0.3
    lo_hi = ens.hpd_interval(0.68)
    assert lo_hi.shape[0] == len(zt)


def test_pit_recalibration_flattens_pit():
    rng = np.random.default_rng(4)
    zt = rng.uniform(0.3, 2.0, 4000)
    mu = zt + rng.normal(0, 0.1, zt.size) + 0.05  # biased and
    grid = np.linspace(0, 3, 301)
    pdf = RedshiftPDF.from_gaussian_mixture(np.ones(zt.size), mu, np.full(zt.size, 0.04), grid)  # overconfident
    cal, test = slice(0, 2000), slice(2000, None)
    before = pit_ks(pdf[test].pit(zt[test])).statistic
    rc = PITRecalibrator().fit(pdf[cal], zt[cal])
    after_pdf = rc.transform(pdf[test])
    after = pit_ks(after_pdf.pit(zt[test])).statistic
    assert before > 0.2 and after < 0.05
    assert np.mean(after_pdf.crps(zt[test])) < np.mean(pdf[test].crps(zt[test]))
    np.testing.assert_allclose(rc.transform_pit(pdf[test].pit(zt[test])), after_pdf.pit(zt[test]), atol=0.02)


def test_freeze_unfreeze_and_finetune_changes_only_head():
    task = BinnedRedshiftTask(PhotoZMLP(3, 10, hidden=(16, 16)), np.linspace(0, 2, 11))
    total = trainable_parameters(task)
    n = freeze(task, "net.body")
    assert trainable_parameters(task) == total - n > 0
    body0 = [p.detach().clone() for p in task.net.body.parameters()]
    head0 = task.net.head.weight.detach().clone()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 3)).astype(np.float32)
    train_redshift_network(task, (x,), np.abs(x[:, 0]), max_epochs=2, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(body0, task.net.body.parameters()))
    assert not torch.equal(head0, task.net.head.weight)
    unfreeze(task)
    assert trainable_parameters(task) == total
    with pytest.raises(ValueError, match="net.body"):
        freeze(task, "nonexistent")


def test_preprocessing_helpers():
    from astrolab.data import ImageSet

    rng = np.random.default_rng(0)
    img = rng.normal(0, 2.0, (50, 3, 10, 10))
    mask = np.zeros(img.shape, bool)
    mask[0] = True
    s = scale_images(ImageSet(img, ["g", "r", "i"], 0.2, mask=mask))
    assert s.dtype == np.float32 and np.all(s[0] == 0)
    # robust noise: unit-noise pixels land near asinh(x / 3)
    assert np.std(s[1:]) == pytest.approx(np.std(np.arcsinh(rng.normal(0, 1, 100000) / 3)), rel=0.1)
    assert colour_images(s).shape == (50, 3, 10, 10)
    fused = early_fusion_stack([s, s[:, :2, :5, :5]], 10)
    assert fused.shape == (50, 5, 10, 10)
    out = predict_in_batches(torch.nn.Flatten(), (s,), batch_size=7)
    assert out.shape == (50, 300)


def test_unit_free_inputs_for_sim_to_real():
    from astrolab.photoz.images import flux_normalised_images, magnitude_features

    rng = np.random.default_rng(1)
    img = rng.uniform(0, 5, (4, 3, 6, 6))
    a = flux_normalised_images(img)
    b = flux_normalised_images(img * 3631.0)  # nanomaggies -> nJy
    np.testing.assert_allclose(a, b, rtol=1e-5)
    f = np.array([[3631.0, 3631.0 * 10 ** -0.4]])
    m = magnitude_features(f)
    np.testing.assert_allclose(m, [[22.5, 23.5, -1.0]], atol=1e-4)
    np.testing.assert_allclose(magnitude_features(f / 3631.0, zero_point=22.5), m, atol=1e-4)

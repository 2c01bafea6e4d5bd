"""Tests of the SBI calibration metrics, the set embedding and CigarsInference (sbi NPE)."""

from __future__ import annotations

import numpy as np
import pytest

from astrolab.errors import DataValidationError
from astrolab.metrics import sbi as m


def _gaussian_problem(n_sims=2000, n_samples=400, scale=1.0, dim=1, seed=0):
    """theta ~ N(0, 1), x = theta + N(0, 1): exact posterior N(x/2, 1/2); ``scale`` shrinks its width."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(n_sims, dim))
    x = theta + rng.normal(size=(n_sims, dim))
    samples = x[None] / 2 + scale * np.sqrt(0.5) * rng.normal(size=(n_samples, n_sims, dim))
    return samples, theta


def test_coverage_on_analytic_gaussian():
    samples, theta = _gaussian_problem()
    cov = m.marginal_coverage(samples, theta, (0.68, 0.95))
    assert cov.shape == (2, 1)
    assert abs(cov[0, 0] - 0.68) < 0.035 and abs(cov[1, 0] - 0.95) < 0.02
    # overconfident (half-width) posteriors under-cover, underconfident ones over-cover
    over = m.marginal_coverage(*_gaussian_problem(scale=0.5), (0.68, 0.95))
    under = m.marginal_coverage(*_gaussian_problem(scale=2.0), (0.68, 0.95))
    assert over[0, 0] < 0.45 and over[1, 0] < 0.75
    assert under[0, 0] > 0.9 and under[1, 0] > 0.99
    # the analytic value for the half-width posterior: P(|Z| < z_l / 2)
    from scipy.stats import norm

    assert over[0, 0] == pytest.approx(2 * norm.cdf(norm.ppf(0.84) * 0.5) - 1, abs=0.035)


def test_sbc_ranks_and_tarp_on_gaussian():
    samples, theta = _gaussian_problem(dim=2, n_sims=1500)
    ranks = m.sbc_ranks(samples, theta)
    assert ranks.shape == (1500, 2) and ranks.min() >= 0 and ranks.max() <= 400
    assert np.all(m.sbc_ks_pvalues(ranks, 400) > 0.001)
    levels, ecp = m.tarp_coverage(samples, theta, seed=1)
    assert np.max(np.abs(ecp - levels)) < 0.06
    bad_ranks = m.sbc_ranks(*_gaussian_problem(dim=2, n_sims=1500, scale=0.5))
    assert np.all(m.sbc_ks_pvalues(bad_ranks, 400) < 1e-6)
    _, ecp_bad = m.tarp_coverage(*_gaussian_problem(dim=2, n_sims=1500, scale=0.5), seed=1)
    assert np.max(np.abs(ecp_bad - levels)) > 0.15
    summ = m.coverage_summary(samples, theta, names=["a", "b"])
    assert set(summ["per_parameter"]) == {"a", "b"} and summ["max_abs_error"] < 0.04
    with pytest.raises(DataValidationError, match="samples"):
        m.sbc_ranks(np.zeros((5, 3, 2)), np.zeros((4, 2)))


def test_set_embedding_is_permutation_and_padding_invariant():
    import torch

    from astrolab.models.set_embedding import SetEmbedding

    torch.manual_seed(0)
    x = torch.randn(3, 40, 6)
    x[..., -1] = 0
    x[0, :10, -1] = 1
    x[1, :25, -1] = 1
    x[2, :40, -1] = 1
    for pooling in ("mean", "attention"):
        net = SetEmbedding(5, output_dim=8, hidden=16, pooling=pooling).set_standardisation(x)
        out = net(x)
        assert out.shape == (3, 8)
        perm = torch.randperm(40)
        assert torch.allclose(net(x[:, perm]), out, atol=1e-5)
        wider = torch.cat([x, torch.zeros(3, 20, 6)], dim=1)
        assert torch.allclose(net(wider), out, atol=1e-5)
        garbage = x.clone()
        garbage[0, 10:, :-1] = 1e3  # padded slots are ignored whatever they hold
        assert torch.allclose(net(garbage), out, atol=1e-5)
    with pytest.raises(DataValidationError, match="pooling"):
        SetEmbedding(5, pooling="max")


@pytest.mark.slow
def test_posterior_contracts_and_beats_the_prior():
    from astrolab.sbi_cigars import CigarsInference
    from astrolab.sim import supernovae as sn

    simulator = sn.CigarsSimulator(n_hosts=5000, seed=5, photoz_hosts=5000)
    inf = CigarsInference(simulator, embed_dim=16, hidden=32, num_transforms=2, flow_hidden=32, device="cpu",
                          seed=1)
    inf.fit(n_sims=800, max_epochs=40, stop_after_epochs=6, batch_size=32, learning_rate=3e-3)
    assert inf.history_["val_loss"].min() < inf.history_["val_loss"].iloc[0] - 1.0
    theta, x = inf.simulate(40, seed=999)
    samples = inf.sample_batched(x, 300, seed=2)
    prior = sn.prior_sample(20000, 3)
    # the best-constrained parameters with ~25 SNe per survey: stretch slope and absolute magnitude
    for name in ("alpha", "M0"):
        j = sn.PARAM_NAMES.index(name)
        post_sd = samples[:, :, j].std(0).mean()
        assert post_sd < 0.8 * prior[:, j].std(), name
        err_post = np.sqrt(np.mean((samples[:, :, j].mean(0) - theta[:, j]) ** 2))
        err_prior = np.sqrt(np.mean((prior[:, j].mean() - theta[:, j]) ** 2))
        assert err_post < 0.8 * err_prior, name
    cov = m.marginal_coverage(samples, theta, (0.68, 0.95)).mean(1)
    assert abs(cov[0] - 0.68) < 0.15 and abs(cov[1] - 0.95) < 0.1

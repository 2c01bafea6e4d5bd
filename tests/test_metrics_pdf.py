"""Tests of astrolab.metrics.pdf against analytic values."""

import numpy as np
import pytest
from scipy import integrate, stats

from astrolab.errors import DataValidationError
from astrolab.metrics.pdf import (
    RedshiftPDF,
    crps_gaussian,
    crps_gaussian_mixture,
    crps_gaussian_mixture_torch,
    gaussian_mixture_nll_torch,
    pit_cvm,
    pit_histogram,
    pit_ks,
)

Z = np.linspace(0.0, 4.0, 801)  # spacing 0.005


@pytest.fixture(scope="module")
def calibrated():
    rng = np.random.default_rng(42)
    n = 5000
    mu = rng.uniform(1.0, 3.0, n)
    sigma = rng.uniform(0.05, 0.2, n)
    z_true = rng.normal(mu, sigma)
    pdf = RedshiftPDF.from_gaussian_mixture(np.ones(n), mu, sigma, Z)
    return pdf, mu, sigma, z_true


def _crps_numerical(cdf, y, lo, hi):
    left = integrate.quad(lambda z: cdf(z) ** 2, lo, y, limit=200)[0]
    right = integrate.quad(lambda z: (1 - cdf(z)) ** 2, y, hi, limit=200)[0]
    return left + right


def test_gaussian_crps_closed_form_numerical_and_binned_agree():
    mu, sigma = 1.3, 0.1
    ys = np.array([1.3, 1.25, 1.52, 0.9, 4.5])  # last one outside the grid
    closed = crps_gaussian(ys, mu, sigma)
    numerical = np.array([_crps_numerical(lambda z: stats.norm.cdf(z, mu, sigma), y, -2.0, 6.0) for y in ys])
    np.testing.assert_allclose(closed, numerical, atol=1e-6)
    pdf = RedshiftPDF.from_gaussian_mixture(np.ones(ys.size), np.full(ys.size, mu), np.full(ys.size, sigma), Z)
    binned = pdf.crps(ys)
    assert np.max(np.abs(binned - closed)) < 1e-3
    # at the mean the Gaussian CRPS is sigma (sqrt(2) - 1)/sqrt(pi)
    assert closed[0] == pytest.approx(sigma * (np.sqrt(2) - 1) / np.sqrt(np.pi))


def test_mixture_crps_single_component_and_two_components():
    rng = np.random.default_rng(0)
    y = rng.uniform(0.5, 2.0, 50)
    mu = rng.uniform(0.5, 2.0, 50)
    sig = rng.uniform(0.05, 0.3, 50)
    np.testing.assert_allclose(crps_gaussian_mixture(y, np.ones((50, 1)), mu[:, None], sig[:, None]),
                               crps_gaussian(y, mu, sig), rtol=1e-12, atol=1e-14)
    w, m, s = np.array([[0.3, 0.7]]), np.array([[0.8, 1.6]]), np.array([[0.1, 0.2]])
    cdf = lambda z: w[0, 0] * stats.norm.cdf(z, m[0, 0], s[0, 0]) + w[0, 1] * stats.norm.cdf(z, m[0, 1], s[0, 1])
    for yy in (0.8, 1.2, 2.0):
        num = _crps_numerical(cdf, yy, -3.0, 6.0)
        assert crps_gaussian_mixture([yy], w, m, s)[0] == pytest.approx(num, abs=1e-6)
        binned = RedshiftPDF.from_gaussian_mixture(w, m, s, Z).crps([yy])[0]
        assert binned == pytest.approx(num, abs=1e-3)


def test_mixture_crps_torch_matches_numpy_and_has_gradients():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    n, k = 64, 3
    y = rng.uniform(0.2, 2.5, n)
    w = rng.dirichlet(np.ones(k), n)
    m = rng.uniform(0.2, 2.5, (n, k))
    s = rng.uniform(0.05, 0.4, (n, k))
    ref = crps_gaussian_mixture(y, w, m, s)
    tw, tm, ts = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (w, m, s))
    out = crps_gaussian_mixture_torch(torch.tensor(y), tw, tm, ts)
    assert out.shape == (n,)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-10, atol=1e-12)
    out.sum().backward()
    for t in (tw, tm, ts):
        assert t.grad is not None and torch.all(torch.isfinite(t.grad)) and t.grad.abs().sum() > 0
    # gradient w.r.t. a single mean agrees with finite differences
    eps = 1e-6
    m2 = m.copy()
    m2[0, 0] += eps
    fd = (crps_gaussian_mixture(y[:1], w[:1], m2[:1], s[:1]) - ref[:1]) / eps
    assert tm.grad[0, 0].item() == pytest.approx(fd[0], rel=1e-4, abs=1e-8)
    assert crps_gaussian_mixture_torch(torch.tensor(y), tw, tm, ts, reduction="mean").item() == \
        pytest.approx(ref.mean())


def test_gaussian_mixture_nll_torch():
    torch = pytest.importorskip("torch")
    y = np.array([0.5, 1.0, 2.0])
    w = np.array([[0.2, 0.8]] * 3)
    m = np.array([[0.5, 1.5]] * 3)
    s = np.array([[0.1, 0.3]] * 3)
    ref = -np.log((w * stats.norm.pdf(y[:, None], m, s)).sum(axis=1))
    tm = torch.tensor(m, requires_grad=True)
    out = gaussian_mixture_nll_torch(torch.tensor(y), torch.tensor(w), tm, torch.tensor(s))
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-10)
    out.mean().backward()
    assert torch.all(torch.isfinite(tm.grad))


def test_pit_calibrated_uniform_overconfident_not(calibrated):
    pdf, mu, sigma, z_true = calibrated
    pit = pdf.pit(z_true)
    np.testing.assert_allclose(pit, stats.norm.cdf(z_true, mu, sigma), atol=5e-4)  # grid h/sigma <= 0.1
    assert pit_ks(pit).pvalue > 0.01
    assert pit_cvm(pit).pvalue > 0.01
    sharp = RedshiftPDF.from_gaussian_mixture(np.ones(len(mu)), mu, sigma / 3, Z)
    pit_sharp = sharp.pit(z_true)
    assert pit_ks(pit_sharp).pvalue < 1e-6
    assert pit_cvm(pit_sharp).pvalue < 1e-6
    counts, edges, band = pit_histogram(pit, bins=20)
    assert counts.sum() == 5000 and edges[0] == 0 and edges[-1] == 1
    np.testing.assert_allclose(band, 250 + np.array([-2, 2]) * np.sqrt(5000 * 0.05 * 0.95))
    # U-shaped for overconfident PDFs: the outer bins are far above the band
    c_sharp, _, _ = pit_histogram(pit_sharp, bins=20)
    assert c_sharp[0] > band[1] and c_sharp[-1] > band[1]


def test_coverage_calibrated(calibrated):
    pdf, _, _, z_true = calibrated
    cov = pdf.coverage(z_true, levels=(0.68, 0.95))
    assert cov[0.68] == pytest.approx(0.68, abs=0.02)
    assert cov[0.95] == pytest.approx(0.95, abs=0.01)
    hcov = pdf.hpd_coverage(z_true, levels=(0.68, 0.95))
    assert hcov[0.68] == pytest.approx(0.68, abs=0.02)
    assert hcov[0.95] == pytest.approx(0.95, abs=0.01)


def test_summaries_of_gaussians(calibrated):
    pdf, mu, sigma, _ = calibrated
    sub = pdf[:200]
    m, s = mu[:200], sigma[:200]
    np.testing.assert_allclose(sub.mean(), m, atol=1e-5)
    np.testing.assert_allclose(sub.std(), s, atol=1e-4)
    np.testing.assert_allclose(sub.median(), m, atol=1e-5)
    np.testing.assert_allclose(sub.mode(), m, atol=0.0025 + 1e-12)  # half a grid step
    np.testing.assert_allclose(sub.quantile(stats.norm.cdf(1.0)), m + s, atol=1e-4)
    q = sub.quantile([0.16, 0.5, 0.84])
    assert q.shape == (200, 3)
    np.testing.assert_allclose(sub.pit(sub.quantile(0.3)), 0.3, atol=1e-10)  # exact inverses
    np.testing.assert_allclose(sub.pdf_at(m), stats.norm.pdf(0, 0, s), rtol=3e-3)  # linear interpolation
    assert sub.pdf_at(-1.0)[0] == 0.0 and sub.pdf_at(9.0)[0] == 0.0
    np.testing.assert_allclose(sub.point_estimate("median"), sub.median())
    cdf = sub.cdf()
    assert cdf.shape == (200, Z.size)
    np.testing.assert_allclose(cdf[:, 0], 0)
    np.testing.assert_allclose(cdf[:, -1], 1)
    draws = sub[:3].sample(20000, rng=np.random.default_rng(0))
    assert draws.shape == (3, 20000)
    assert np.all(np.abs(draws.mean(axis=1) - m[:3]) < 4 * s[:3] / np.sqrt(20000))
    np.testing.assert_allclose(draws.std(axis=1), s[:3], rtol=0.02)
    # CDE loss: ∫p² = 1/(2σ√π), p(mu) = 1/(σ√(2π))
    expected = np.mean(1 / (2 * s * np.sqrt(np.pi)) - 2 / (s * np.sqrt(2 * np.pi)))
    assert sub.cde_loss(m) == pytest.approx(expected, rel=1e-3)


def test_hpd_interval_of_gaussian():
    mu = np.array([1.0, 2.2, 0.7])
    sigma = np.array([0.1, 0.15, 0.05])
    pdf = RedshiftPDF.from_gaussian_mixture(np.ones(3), mu, sigma, Z)
    half = stats.norm.ppf(0.84)  # 0.9945
    iv = pdf.hpd_interval(0.68)
    assert iv.shape == (3, 2)
    step = Z[1] - Z[0]
    np.testing.assert_allclose(iv[:, 0], mu - half * sigma, atol=step)
    np.testing.assert_allclose(iv[:, 1], mu + half * sigma, atol=step)
    np.testing.assert_array_equal(pdf.n_hpd_peaks(0.68), [1, 1, 1])
    mask = pdf.hpd_mask(0.95)
    assert mask.shape == (3, Z.size)
    width = mask.sum(axis=1) * step
    np.testing.assert_allclose(width, 2 * 1.96 * sigma, atol=2 * step)


def test_bimodal_pdf_has_two_hpd_peaks():
    pdf = RedshiftPDF.from_gaussian_mixture([[0.5, 0.5], [0.9, 0.1]], [[0.5, 2.0], [0.5, 2.0]],
                                            [[0.1, 0.1], [0.1, 0.1]], Z)
    np.testing.assert_array_equal(pdf.n_hpd_peaks(0.68), [2, 1])
    np.testing.assert_array_equal(pdf.n_hpd_peaks(0.95), [2, 2])
    iv = pdf.hpd_interval(0.68)
    assert iv[0, 0] < 0.5 < 2.0 < iv[0, 1]  # outer edges of the disjoint region
    # truth in the gap between modes is inside the central interval but not in the HPD region
    assert pdf[0].coverage([1.25], levels=(0.68,))[0.68] == 1.0
    assert pdf[0].hpd_coverage([1.25], levels=(0.68,))[0.68] == 0.0


def test_from_logits_and_from_samples():
    z = np.linspace(0.0, 3.0, 301)
    logits = stats.norm.logpdf(z, 1.2, 0.1)[None, :] + 3.0
    pdf = RedshiftPDF.from_logits(logits, z)
    assert pdf.median()[0] == pytest.approx(1.2, abs=1e-4)
    assert pdf.std()[0] == pytest.approx(0.1, rel=1e-3)
    rng = np.random.default_rng(3)
    samples = rng.normal([[0.8], [2.0]], [[0.1], [0.2]], size=(2, 4000))
    kde = RedshiftPDF.from_samples(samples, z)
    np.testing.assert_allclose(kde.mean(), [0.8, 2.0], atol=0.01)
    np.testing.assert_allclose(kde.std(), [0.1, 0.2], rtol=0.06)  # KDE widens slightly
    kde2 = RedshiftPDF.from_samples(samples, z, bandwidth=0.05)
    np.testing.assert_allclose(kde2.std(), np.sqrt(np.array([0.1, 0.2]) ** 2 + 0.05 ** 2), rtol=0.05)


def test_container_protocol_and_save_load(tmp_path):
    pdf = RedshiftPDF(Z, np.stack([stats.norm.pdf(Z, 1.0, 0.2), 2 * stats.norm.pdf(Z, 2.0, 0.3)]),
                      ids=np.array(["gal-a", "gal-b"]))
    assert pdf.n == len(pdf) == 2
    np.testing.assert_allclose(np.trapezoid(pdf.pdf, Z, axis=1), 1.0)  # renormalised
    one = pdf[1]
    assert isinstance(one, RedshiftPDF) and one.n == 1 and one.ids.tolist() == ["gal-b"]
    assert pdf[np.array([False, True])].ids.tolist() == ["gal-b"]
    assert pdf[::-1].ids.tolist() == ["gal-b", "gal-a"]
    path = pdf.save(tmp_path / "sub" / "pdfs.h5")
    back = RedshiftPDF.load(path)
    np.testing.assert_array_equal(back.pdf, pdf.pdf)
    np.testing.assert_array_equal(back.z_grid, Z)
    assert back.ids.tolist() == ["gal-a", "gal-b"]
    assert not list((tmp_path / "sub").glob("*.tmp"))
    empty = RedshiftPDF(Z, np.zeros((0, Z.size)))
    assert empty.n == 0 and empty.point_estimate("median").shape == (0,)


def test_validation_errors():
    good = stats.norm.pdf(Z, 1.0, 0.2)
    with pytest.raises(DataValidationError) as exc:
        RedshiftPDF(Z, np.stack([good, np.zeros_like(good), good]), ids=[10, 11, 12])
    assert "11" in str(exc.value) and "Fix:" in str(exc.value)
    with pytest.raises(DataValidationError, match="strictly increasing.*Fix:"):
        RedshiftPDF(Z[::-1], good)
    with pytest.raises(DataValidationError, match="negative.*Fix:"):
        RedshiftPDF(Z, -good)
    with pytest.raises(DataValidationError, match="non-finite.*Fix:"):
        RedshiftPDF(Z, np.where(Z > 1, np.nan, good))
    with pytest.raises(DataValidationError, match="shape.*Fix:"):
        RedshiftPDF(Z, good[:-1])
    pdf = RedshiftPDF(Z, good)
    with pytest.raises(DataValidationError, match="z_true.*Fix:"):
        pdf.pit([1.0, 2.0])
    with pytest.raises(DataValidationError, match="Fix:"):
        pdf.hpd_interval(1.5)
    with pytest.raises(DataValidationError, match="sigmas.*Fix:"):
        crps_gaussian_mixture([1.0], [[1.0]], [[1.0]], [[0.0]])

"""Bring your own model: a user's network in PhotometricRedshift, the protocol checks, embed, pdf_from_logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from astrolab import PhotometricRedshift
from astrolab.errors import CheckpointError, DataValidationError
from astrolab.metrics.photoz import nmad
from astrolab.protocols import check_photoz_network, embed, model_name, pdf_from_logits
from astrolab.sim.galaxies import simulate_galaxies

BANDS = ["g", "r", "i", "z", "y"]


class ResidualPhotoZ(nn.Module):
    """A user's model: input projection, two residual blocks with LayerNorm, logits over bins."""

    def __init__(self, n_features: int, n_bins: int, width: int = 64):
        super().__init__()
        self.inp = nn.Linear(n_features, width)
        self.blocks = nn.ModuleList([nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU())
                                     for _ in range(2)])
        self.out = nn.Linear(width, n_bins)

    def forward(self, x):
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


class WrongShape(nn.Module):
    def __init__(self, n_features, n_bins):
        super().__init__()
        self.lin = nn.Linear(n_features, 1)

    def forward(self, x):
        return self.lin(x)


@pytest.fixture(scope="module")
def survey():
    return simulate_galaxies(3000, survey="hsc", seed=21), simulate_galaxies(800, survey="hsc", seed=22)


def test_custom_network_learns_and_round_trips(survey, tmp_path):
    train, test = survey
    model = PhotometricRedshift(bands=BANDS, network=ResidualPhotoZ, n_bins=60, epochs=12, lr=3e-3, patience=None,
                                progress=False, device="cpu", seed=0).fit(train, run_dir=tmp_path / "run")
    assert isinstance(model.module_.net, ResidualPhotoZ)
    frame = model.history_.frame
    assert frame["train_loss"].iloc[-1] < 0.7 * frame["train_loss"].iloc[0]
    z_true = np.asarray(test["redshift"])
    z_hat = model.predict(test)
    baseline = np.full_like(z_true, np.asarray(train["redshift"]).mean())
    assert nmad(z_hat, z_true) < 0.4 * nmad(baseline, z_true)
    # the run config names the network (JSON-able), the file holds weights only
    path = model.save(tmp_path / "mine.pt")
    payload = torch.load(path, weights_only=True)
    assert payload["params"]["network"].endswith("ResidualPhotoZ")
    with pytest.raises(CheckpointError, match="network=<the same factory>"):
        PhotometricRedshift.load(path)
    back = PhotometricRedshift.load(path, network=ResidualPhotoZ)
    np.testing.assert_allclose(back.predict_pdf(test[:50]).pdf, model.predict_pdf(test[:50]).pdf, rtol=1e-5)
    with pytest.raises(CheckpointError, match="do not fit the network"):
        PhotometricRedshift.load(path, network=lambda f, b: ResidualPhotoZ(f, b, width=32))


def test_protocol_errors_say_what_is_missing(survey):
    train, _ = survey
    with pytest.raises(DataValidationError, match=r"shape \(3, 1\).*expected \(3, 40\)"):
        PhotometricRedshift(bands=BANDS, network=WrongShape, n_bins=40, epochs=1, progress=False).fit(train[:200])
    with pytest.raises(DataValidationError, match="not a callable"):
        PhotometricRedshift(bands=BANDS, network="mlp")
    with pytest.raises(DataValidationError, match=r"could not be called as network\(n_features="):
        PhotometricRedshift(bands=BANDS, network=lambda n: nn.Linear(n, 3), epochs=1,
                            progress=False).fit(train[:200])
    with pytest.raises(DataValidationError, match="not a torch.nn.Module"):
        check_photoz_network(lambda x: x, 19, 40)
    with pytest.raises(DataValidationError, match="failed on a features batch of shape"):
        check_photoz_network(nn.Linear(7, 40), 19, 40)
    check_photoz_network(ResidualPhotoZ(19, 40), 19, 40)  # passes
    assert model_name(ResidualPhotoZ).endswith("ResidualPhotoZ")
    assert model_name(ResidualPhotoZ(3, 4)).endswith("ResidualPhotoZ")


def test_embed_checks_shapes_and_runs_batches():
    enc = nn.Sequential(nn.Linear(6, 4))
    x = np.random.default_rng(0).normal(size=(2500, 6)).astype(np.float32)
    lat = embed(enc, x, batch_size=1000, device="cpu")
    assert lat.shape == (2500, 4) and lat.dtype == np.float32
    np.testing.assert_allclose(lat, enc(torch.from_numpy(x)).detach().numpy(), atol=1e-5)

    class Tokens(nn.Module):  # returns (batch, tokens, D): must be pooled first
        def forward(self, x):
            return x[:, None, :].repeat(1, 3, 1)

    with pytest.raises(DataValidationError, match=r"needs \(batch, D\).*pool or flatten"):
        embed(Tokens(), x[:10], device="cpu")

    class WithEncode(nn.Module):
        def forward(self, x):  # pragma: no cover - encode() is used
            raise AssertionError

        def encode(self, x):
            return x[:, :2] * 2

    ds = torch.utils.data.TensorDataset(torch.from_numpy(x[:7]), torch.zeros(7))
    np.testing.assert_allclose(embed(WithEncode(), ds, device="cpu"), x[:7, :2] * 2)


def test_pdf_from_logits_is_a_normalised_density():
    edges = np.linspace(0, 2, 21)
    logits = np.zeros((2, 20))
    logits[1, 5] = 50.0
    pdf = pdf_from_logits(torch.as_tensor(logits), edges, ids=[7, 8])
    np.testing.assert_allclose(pdf.pdf[0], pdf.pdf[0, 0])  # uniform
    np.testing.assert_allclose(np.trapezoid(pdf.pdf, pdf.z_grid, axis=1), 1.0)  # RedshiftPDF's normalisation
    np.testing.assert_allclose(pdf.z_grid, np.arange(0.05, 2.0, 0.1))
    assert abs(pdf.mean()[1] - 0.55) < 1e-6 and list(pdf.ids) == [7, 8]
    with pytest.raises(DataValidationError, match="does not match"):
        pdf_from_logits(logits, edges[:-1])


def test_compare_photoz_table_rows_and_calibration():
    from astrolab.metrics import compare_photoz

    rng = np.random.default_rng(3)
    z = rng.uniform(0.1, 2.0, 4000)
    edges = np.linspace(0, 3, 301)
    centres = 0.5 * (edges[1:] + edges[:-1])
    sigma = 0.05 * (1 + z)
    z_obs = z + rng.normal(0, sigma)
    calibrated = np.exp(-0.5 * ((centres[None, :] - z_obs[:, None]) / sigma[:, None]) ** 2)
    narrow = np.exp(-0.5 * ((centres[None, :] - z_obs[:, None]) / (0.3 * sigma[:, None])) ** 2)
    from astrolab.metrics.pdf import RedshiftPDF

    table = compare_photoz({"calibrated": RedshiftPDF(centres, calibrated), "over-confident": RedshiftPDF(centres, narrow),
                            "mean z": np.full_like(z, z.mean())}, z)
    assert list(table.index) == ["calibrated", "over-confident", "mean z"]
    assert abs(table.loc["calibrated", "coverage_68"] - 0.68) < 0.03
    assert table.loc["over-confident", "coverage_68"] < 0.4
    assert table.loc["calibrated", "pit_ks"] < 0.03 < table.loc["over-confident", "pit_ks"]
    assert abs(table.loc["calibrated", "nmad"] - 0.05) < 0.005
    assert np.isnan(table.loc["mean z", "crps"]) and table.loc["mean z", "nmad"] > 0.2
    with pytest.raises(DataValidationError, match="shape"):
        compare_photoz({"bad": z[:10]}, z)

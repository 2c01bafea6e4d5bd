"""Interpretable stellar mass (notebook 10): SCM simulator, PID, local correlation tests, PC cross-check,
binned-mass models and plots."""

from __future__ import annotations

import math

import numpy as np
import pytest

from astrolab.errors import DataValidationError
from astrolab.interpret import stellar_mass as ism
from astrolab.sim import stellar_mass as ssm

LN2 = math.log(2.0)


# -- simulator -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def catalog():
    return ssm.simulate_stellar_mass(20000, seed=3, images=False).catalog


def test_simulator_structure_and_units(catalog):
    s = ssm.simulate_stellar_mass(50, seed=1, stamp=12)
    cat, ims = s.catalog, s.images
    assert np.asarray(ims.images).shape == (50, 5, 12, 12)
    # the rendered flux (noise-free would equal the catalog) matches the true r-band flux within noise + stamp loss
    flux = np.asarray(ims.images)[:, 2].sum((1, 2))
    true = 10 ** (-0.4 * (np.asarray(cat["r_true"]) - 22.5))
    small = np.asarray(cat["r_e_arcsec"]) < 1.5
    assert np.median(flux[small] / true[small]) == pytest.approx(1.0, abs=0.1)
    assert str(cat["log_mstar"].unit) == "dex(solMass)" and str(cat["r_e_arcsec"].unit) == "arcsec"
    assert [tuple(e) for e in cat.meta["causal_dag"]] == list(ssm.CAUSAL_EDGES)
    g = ssm.causal_graph(cat.meta["causal_dag"])
    assert set(g.nodes) == set(ssm.PC_VARIABLES) and g.number_of_edges() == len(ssm.CAUSAL_EDGES)
    import networkx as nx

    assert nx.is_directed_acyclic_graph(g)
    assert ssm.tabular_matrix(cat).shape == (50, len(ssm.PC_VARIABLES))


def test_simulator_planted_independences(catalog):
    # exogenous inclination is independent of M*, but reddens the photometry; IR tracks M*
    m = np.asarray(catalog["log_mstar"])
    assert abs(np.corrcoef(m, catalog["cos_incl"])[0, 1]) < 0.03
    assert np.corrcoef(catalog["cos_incl"], catalog["colour_gi"])[0, 1] < -0.2
    w1 = np.asarray(catalog["w1_abs"])
    assert np.std(-(w1 + 21.3) / 2.5 - (m - 10.3)) == pytest.approx(0.15, rel=0.05)


def test_simulator_bad_input():
    with pytest.raises(DataValidationError, match="at least 2"):
        ssm.simulate_stellar_mass(1)
    with pytest.raises(DataValidationError, match="z_range"):
        ssm.simulate_stellar_mass(10, z_range=(0.3, 0.1))
    with pytest.raises(DataValidationError, match="misses column"):
        ssm.tabular_matrix(ssm.simulate_stellar_mass(5, images=False).catalog, columns=("nope",))


# -- PC cross-check ----------------------------------------------------------------------------------------------

def test_pc_skeleton_recovers_planted_dag(catalog):
    est = ism.pc_skeleton(ssm.tabular_matrix(catalog), ssm.PC_VARIABLES, alpha=0.01)
    sc = ism.skeleton_scores(est, ssm.CAUSAL_EDGES)
    assert sc["f1"] >= 0.8, sc
    # the planted non-edge: inclination and M* are never adjacent
    assert frozenset(("cos_incl", "log_mstar")) not in est


def test_skeleton_scores_counts():
    sc = ism.skeleton_scores([("a", "b"), ("c", "b"), ("a", "d")], [("a", "b"), ("b", "c"), ("c", "d")])
    assert sc["precision"] == pytest.approx(2 / 3) and sc["recall"] == pytest.approx(2 / 3)
    assert sc["missing"] == [("c", "d")] and sc["extra"] == [("a", "d")]
    with pytest.raises(DataValidationError, match="alpha"):
        ism.pc_skeleton(np.random.default_rng(0).normal(size=(50, 2)), ["a", "b"], alpha=2)


# -- PID -----------------------------------------------------------------------------------------------------------

def _dit_pid(name):
    import dit.pid

    d = dit.pid.distributions.bivariates[name]
    r = dit.pid.PID_MMI(d)
    return {"redundant": r.get_pi(((0,), (1,))), "unique_1": r.get_pi(((0,),)), "unique_2": r.get_pi(((1,),)),
            "synergy": r.get_pi(((0, 1),))}, d


def _sample(d, n, seed):
    outcomes = list(d.outcomes)
    p = np.asarray([d[o] for o in outcomes], float)
    idx = np.random.default_rng(seed).choice(len(outcomes), size=n, p=p / p.sum())
    arr = np.asarray([[int(c) for c in o] for o in outcomes])[idx]
    return arr[:, 0], arr[:, 1], arr[:, 2]


@pytest.mark.parametrize("name,term", [("synergy", "synergy"), ("redundant", "redundant")])
def test_pid_exact_toys_match_dit(name, term):
    exact, d = _dit_pid(name)  # bits
    assert exact[term] == pytest.approx(1.0)
    x1, x2, y = _sample(d, 20000, seed=1)
    h = ism.plugin_cross_entropy(np.zeros(len(y)), y)
    pid = ism.pointwise_pid(h, ism.plugin_cross_entropy(x1, y), ism.plugin_cross_entropy(x2, y),
                            ism.plugin_cross_entropy(np.c_[x1, x2], y))
    for mode in ("pointwise", "mmi"):
        got = ism.pid_summary(pid, redundancy=mode)["all"]
        for k, v in exact.items():
            assert got[k] / LN2 == pytest.approx(v, abs=0.02), (name, mode, k)
    # identities of the decomposition
    np.testing.assert_allclose(pid.redundant + pid.unique_1, pid.i_1)
    np.testing.assert_allclose(pid.redundant + pid.unique_1 + pid.unique_2 + pid.synergy, pid.i_12)


def test_pid_gaussian_matches_analytic():
    rng = np.random.default_rng(2)
    n = 200_000
    # Y = a X1 + b X2 + noise with correlated sources
    cov_x = np.array([[1.0, 0.3], [0.3, 1.0]])
    x = rng.multivariate_normal([0, 0], cov_x, n)
    a, b, s = 0.6, 0.4, 0.7
    y_raw = a * x[:, 0] + b * x[:, 1] + s * rng.normal(size=n)
    sd = math.sqrt(a * a + b * b + 2 * a * b * 0.3 + s * s)
    y = y_raw / sd
    rho1 = (a + 0.3 * b) / sd
    rho2 = (b + 0.3 * a) / sd
    exact = ism.gaussian_mmi_pid(rho1, rho2, 0.3)

    def nll(mu, var):  # -log N(y; mu, var) (bin widths cancel in I = h - CE)
        return 0.5 * np.log(2 * np.pi * var) + 0.5 * (y - mu) ** 2 / var

    h = nll(0.0, 1.0)
    ce1 = nll(rho1 * x[:, 0], 1 - rho1 ** 2)
    ce2 = nll(rho2 * x[:, 1], 1 - rho2 ** 2)
    ce12 = nll((a * x[:, 0] + b * x[:, 1]) / sd, s * s / sd ** 2)
    got = ism.pid_summary(ism.pointwise_pid(h, ce1, ce2, ce12), redundancy="mmi")["all"]
    for k in ("i_1", "i_2", "i_12", "redundant", "unique_1", "unique_2", "synergy"):
        assert got[k] == pytest.approx(exact[k], abs=0.02), k
    assert exact["synergy"] > 0.05 and exact["unique_2"] == 0.0
    # pointwise redundancy (the paper's per-galaxy min) can only be smaller than the MMI one (Jensen)
    pw = ism.pid_summary(ism.pointwise_pid(h, ce1, ce2, ce12))["all"]
    assert pw["redundant"] <= got["redundant"] + 1e-9
    with pytest.raises(DataValidationError, match="positive-definite"):
        ism.gaussian_mmi_pid(0.99, -0.99, 0.99)


def test_bin_surprisal_and_cross_entropy():
    edges = np.linspace(0, 1, 5)
    ref = np.array([0.1] * 6 + [0.6] * 2)
    h = ism.bin_surprisal([0.1, 0.6, 0.9], edges, ref, pseudo_count=0.0 + 1e-9)
    assert h[0] == pytest.approx(-math.log(0.75), abs=1e-6) and h[1] == pytest.approx(-math.log(0.25), abs=1e-6)
    probs = np.tile([0.1, 0.2, 0.3, 0.4], (2, 1))
    np.testing.assert_allclose(ism.bin_cross_entropy(probs, [0.05, 0.95], edges), -np.log([0.1, 0.4]))
    with pytest.raises(DataValidationError, match="one row per object"):
        ism.bin_cross_entropy(probs[:, :3], [0.05, 0.95], edges)
    with pytest.raises(DataValidationError, match="same N"):
        ism.pointwise_pid([1, 2], [1, 2], [1], [1, 2])
    with pytest.raises(DataValidationError, match="absent"):
        ism.plugin_cross_entropy([0, 1], [0, 1], x_train=[0, 1], y_train=[0, 0])


# -- local correlation tests -------------------------------------------------------------------------------------

def test_local_correlations_detect_leftover_information_and_conditioning():
    rng = np.random.default_rng(0)
    n = 4000
    s = rng.normal(size=n)            # what the latent knows
    c = rng.uniform(-1, 1, n)         # conditioner (redshift-like)
    q_free = rng.normal(size=n)       # query carrying information the latent lacks
    q_conf = c ** 2 + 0.1 * rng.normal(size=n)   # query related to y only through c (quadratic)
    y = s + 0.5 * q_free + 0.8 * c ** 2 + 0.1 * rng.normal(size=n)
    nb = ism.knn_neighbourhoods(s[:, None], k=80)
    assert nb.shape == (n, 80) and not np.any(nb == np.arange(n)[:, None])
    free = ism.local_correlations(y, q_free, nb, n_perm=20)
    assert np.median(free.original) > 0.3 and abs(np.median(free.permuted)) < 0.05
    assert np.mean(free.p_value < 0.05) > 0.8
    unc = ism.local_correlations(y, q_conf, nb, n_perm=20)
    cond = ism.local_correlations(y, q_conf, nb, conditioner=c, n_perm=20)
    assert np.median(unc.original) > 0.4
    assert abs(np.median(cond.original)) < 0.06 and np.std(cond.original) == pytest.approx(np.std(cond.permuted), rel=0.3)
    eff = ism.predictive_efficiency(y, c, nb)
    assert 0.2 < np.median(eff) < 1.0
    with pytest.raises(DataValidationError, match="knn_neighbourhoods"):
        ism.local_correlations(y, q_free, nb[:, :2])
    with pytest.raises(DataValidationError, match="k="):
        ism.knn_neighbourhoods(s[:10, None], k=20)


# -- binned-mass models ------------------------------------------------------------------------------------------

def test_binned_mass_model_learns_and_pid_shows_phot_morph_synergy():
    from astrolab.models.stellar_mass import make_mass_model, mass_bin_edges, mass_inputs, mass_metrics
    from astrolab.photoz.images import train_redshift_network

    mm = ssm.simulate_stellar_mass(4000, seed=0, images=False)
    y = np.asarray(mm.catalog["log_mstar"], float)
    tr, te = np.arange(3200), np.arange(3200, 4000)
    edges = mass_bin_edges(40)
    probs, sig = {}, {}
    for s in ("photometry", "morphology", "photometry+morphology"):
        x = mass_inputs(mm, s, reference=tr)
        task = make_mass_model(s, x, edges, hidden=(64, 64))
        res = train_redshift_network(task, tuple(a[tr] for a in x), y[tr], max_epochs=15, lr=3e-3, batch_size=128,
                                     device="cpu", seed=0)
        assert res.history.rows[-1]["train_loss"] < res.history.rows[0]["train_loss"]
        probs[s] = task.predict_probs(tuple(a[te] for a in x))
        sig[s] = mass_metrics(task.point_estimates(probs[s]), y[te])["sigma_mad"]
        assert task.latents(tuple(a[te] for a in x)).shape[0] == len(te)
    trivial = mass_metrics(np.full(len(te), np.median(y[tr])), y[te])["sigma_mad"]
    assert sig["photometry"] < 0.5 * trivial and sig["photometry+morphology"] < sig["photometry"]
    h = ism.bin_surprisal(y[te], edges, y[tr])
    ce = {k: ism.bin_cross_entropy(v, y[te], edges) for k, v in probs.items()}
    pid = ism.pid_summary(ism.pointwise_pid(h, ce["photometry"], ce["morphology"], ce["photometry+morphology"]))
    assert pid["all"]["synergy"] > 0
    with pytest.raises(DataValidationError, match="input_set"):
        mass_inputs(mm, "spectra")


def test_stellar_mass_plots_build_and_reject_bad_input():
    """The notebook's figures render to bokeh from the package's outputs; bad input names the fix."""
    import holoviews as hv

    from astrolab.viz import stellar_mass_plots as smp

    hv.extension("bokeh", logo=False)
    dag = smp.causal_dag_plot(ssm.CAUSAL_EDGES, recovered={frozenset(e) for e in ssm.CAUSAL_EDGES[:-1]}
                              | {frozenset(("mag_r", "w1_abs"))})
    labels = [e for e in dag if isinstance(e, hv.Labels)][0]
    assert set(labels.data["text"]) >= {"log_mstar", "w1_abs"}
    missed = [e for e in dag if isinstance(e, hv.Segments) and e.label == "planted, missed"][0]
    assert len(missed) == 1
    rng = np.random.default_rng(0)
    t = rng.uniform(9, 11.5, 200)
    fig = smp.mass_pred_vs_true(t + rng.normal(0, 0.1, 200), t, label="photometry",
                                metrics={"sigma_mad": 0.1, "eta": 0.02})
    assert "σ_MAD=0.100" in fig.opts.get().kwargs["title"]
    lc = ism.LocalCorrelations(rng.uniform(-1, 1, 50), rng.uniform(-1, 1, 50), rng.uniform(0, 1, 50))
    hists = smp.local_correlation_histograms({"M* vs q": lc})
    assert len(hists) == 1
    bars = smp.pid_bars({"all": {"redundant": 0.1, "unique_1": 0.2, "unique_2": 0.0, "synergy": 0.3, "n": 5}},
                        names=("phot", "morph"))
    assert sorted(bars.dimension_values("information [nats]").tolist()) == [0.0, 0.1, 0.2, 0.3]
    for obj in (dag, fig, hists, bars):
        hv.render(obj, backend="bokeh")
    with pytest.raises(DataValidationError, match="cause, effect"):
        smp.causal_dag_plot([])
    with pytest.raises(DataValidationError, match="pid_summary"):
        smp.pid_bars({})

"""Holoviews figures of the interpretable stellar-mass workflow (notebook ``10_stellar_mass``).

- :func:`causal_dag_plot`: the planted structural causal model (and, optionally, a recovered skeleton);
- :func:`mass_pred_vs_true`: predicted vs true log M* with σ_MAD and η in the title;
- :func:`local_correlation_histograms`: local correlations against their permutation null;
- :func:`pid_bars`: redundant / unique / synergistic information per galaxy class.

They hold no science: the numbers come from :mod:`astrolab.interpret.stellar_mass` and
:mod:`astrolab.models.stellar_mass`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from astrolab.errors import invalid

__all__ = ["causal_dag_plot", "mass_pred_vs_true", "local_correlation_histograms", "pid_bars"]


def _circle_layout(nodes) -> dict:
    angles = np.pi / 2 - 2 * np.pi * np.arange(len(nodes)) / max(len(nodes), 1)
    return {n: (float(np.cos(a)), float(np.sin(a))) for n, a in zip(nodes, angles)}


def causal_dag_plot(edges, recovered=None, *, title: str = "Planted causal DAG", width: int = 520,
                    height: int = 480):
    """The causal graph on a circle: one arrow per planted edge, optionally the recovered skeleton.

    Parameters
    ----------
    edges : sequence of (str, str)
        Directed planted edges (cause, effect), e.g. :data:`astrolab.sim.stellar_mass.CAUSAL_EDGES`.
    recovered : set of frozenset or sequence of (str, str), optional
        Undirected edges found by :func:`astrolab.interpret.pc_skeleton`; planted edges it misses are
        drawn dashed grey, extra ones in red.
    title : str
    width, height : int
        Figure size [px].

    Returns
    -------
    holoviews.Overlay
        Edges (segments), arrow heads (points at 85 % of each edge), nodes with labels. Axes are
        unitless layout coordinates and hidden.
    """
    from astrolab.viz.plots import _hv

    hv = _hv()
    edges = [tuple(e) for e in edges]
    if not edges or any(len(e) != 2 for e in edges):
        raise invalid("causal_dag_plot(edges)", "is empty or not (cause, effect) pairs",
                      "pass e.g. astrolab.sim.stellar_mass.CAUSAL_EDGES")
    nodes = list(dict.fromkeys([n for e in edges for n in e]))
    found = None if recovered is None else {frozenset(e) for e in recovered}
    if found is not None:
        nodes += [n for e in found for n in e if n not in nodes]
    pos = _circle_layout(nodes)

    def seg(pairs):
        return [(*pos[a], *pos[b]) for a, b in pairs]

    hit = [e for e in edges if found is None or frozenset(e) in found]
    missed = [e for e in edges if found is not None and frozenset(e) not in found]
    planted = {frozenset(e) for e in edges}
    extra = [tuple(e) for e in (found or ()) if e not in planted]
    kd = ["x0", "y0", "x1", "y1"]
    heads = [(0.15 * pos[a][0] + 0.85 * pos[b][0], 0.15 * pos[a][1] + 0.85 * pos[b][1]) for a, b in hit]
    layers = [hv.Segments(seg(hit), kd, label="planted" + (" and recovered" if found is not None else ""))
              .opts(color="#1f77b4", line_width=2),
              hv.Points(heads, label="arrow head").opts(color="#1f77b4", size=7, marker="triangle")]
    if found is not None:
        layers.append(hv.Segments(seg(missed), kd, label="planted, missed").opts(color="grey", line_dash="dashed"))
        layers.append(hv.Segments(seg(extra), kd, label="recovered, not planted").opts(color="#d62728"))
    xy = np.array([pos[n] for n in nodes])
    layers.append(hv.Points(xy, label="variables").opts(color="white", line_color="black", size=14))
    layers.append(hv.Labels({"x": xy[:, 0] * 1.13, "y": xy[:, 1] * 1.13, "text": nodes}, ["x", "y"], "text")
                  .opts(text_font_size="9pt"))
    return hv.Overlay(layers).opts(title=title, width=width, height=height, xaxis=None, yaxis=None,
                                   xlim=(-1.5, 1.5), ylim=(-1.35, 1.35), legend_position="bottom_left",
                                   show_grid=False)


def mass_pred_vs_true(log_m_pred, log_m_true, *, label: str = "", metrics: dict | None = None,
                      width: int = 360, height: int = 340):
    """Predicted vs true log M* with the 1:1 line; σ_MAD and η in the title when ``metrics`` is given.

    Parameters
    ----------
    log_m_pred, log_m_true : array_like (N,)
        log10 stellar masses [dex, M☉].
    label : str
        Input set name (title).
    metrics : dict, optional
        From :func:`astrolab.models.stellar_mass.mass_metrics` (``sigma_mad``, ``eta``).

    Returns
    -------
    holoviews.Overlay
    """
    from astrolab.viz.plots import _hv

    hv = _hv()
    p = np.asarray(log_m_pred, float)
    t = np.asarray(log_m_true, float)
    if p.shape != t.shape or p.ndim != 1:
        raise invalid("mass_pred_vs_true", f"shapes {p.shape} and {t.shape}", "pass two 1-D arrays of one length")
    lo, hi = float(np.nanmin(t)), float(np.nanmax(t))
    title = label
    if metrics:
        title += f"  σ_MAD={metrics['sigma_mad']:.3f} dex, η={metrics.get('eta', float('nan')):.3f}"
    return (hv.Points((t, p), ["true log M* [dex]", "predicted log M* [dex]"])
            .opts(size=3, alpha=0.35, color="#1f77b4")
            * hv.Curve([(lo, lo), (hi, hi)]).opts(color="black", line_dash="dashed")).opts(
        title=title, width=width, height=height)


def local_correlation_histograms(results: dict, *, bins: int = 30, title: str = "Local correlations",
                                 width: int = 420, height: int = 320):
    """Histograms of local correlations, each beside its permutation null.

    Parameters
    ----------
    results : dict of str -> astrolab.interpret.stellar_mass.LocalCorrelations
        Test name (e.g. "M* vs axis ratio | z") -> result with ``original`` and ``permuted`` (N,).
    bins : int
        Bins over [-1, 1].

    Returns
    -------
    holoviews.Layout
        One overlay per test: original (filled) and permuted (outline) densities of r.
    """
    from astrolab.viz.plots import _hv

    hv = _hv()
    if not results:
        raise invalid("local_correlation_histograms(results)", "is empty", "pass {name: LocalCorrelations}")
    edges = np.linspace(-1, 1, bins + 1)
    panels = []
    for name, res in results.items():
        h0, _ = np.histogram(np.asarray(res.original, float), edges, density=True)
        h1, _ = np.histogram(np.asarray(res.permuted, float), edges, density=True)
        frac = float(np.mean(np.asarray(res.p_value) < 0.05))
        panels.append((hv.Histogram((edges, h0), kdims=["local correlation r"], vdims=["density"], label="original")
                       .opts(alpha=0.5, color="#1f77b4")
                       * hv.Histogram((edges, h1), kdims=["local correlation r"], vdims=["density"], label="permuted (null)")
                       .opts(fill_alpha=0, line_color="#d62728", line_width=2))
                      .opts(title=f"{name}  (p<0.05: {frac:.0%})", width=width, height=height))
    return hv.Layout(panels).cols(2).opts(title=title)


def pid_bars(summary: dict, names=("X1", "X2"), *, title: str = "Information decomposition", width: int = 560,
             height: int = 320):
    """Grouped bars of the PID terms per galaxy class.

    Parameters
    ----------
    summary : dict
        From :func:`astrolab.interpret.pid_summary` (``{"all": {...}, class: {...}}``, terms in nats).
    names : (str, str)
        Names of the two sources (legend of the unique terms).

    Returns
    -------
    holoviews.Bars
        x: class, grouped by term (redundant, unique X1, unique X2, synergy) [nats].
    """
    from astrolab.viz.plots import _hv

    hv = _hv()
    keys = [("redundant", "redundant"), ("unique_1", f"unique {names[0]}"), ("unique_2", f"unique {names[1]}"),
            ("synergy", "synergy")]
    rows = [(str(group), lab, float(terms[k])) for group, terms in summary.items() for k, lab in keys
            if isinstance(terms, dict) and k in terms]
    if not rows:
        raise invalid("pid_bars(summary)", "has no PID terms", "pass the output of astrolab.interpret.pid_summary")
    return hv.Bars(rows, ["class", "term"], "information [nats]").opts(
        title=title, width=width, height=height, xrotation=0, tools=["hover"], multi_level=True)

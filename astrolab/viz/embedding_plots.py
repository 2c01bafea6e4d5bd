"""Holoviews builders for representation learning (AstroM3 / daep notebooks).

- :func:`accuracy_bars` -- test accuracy per modality, with vs without pre-training, per label fraction;
- :func:`confusion_heatmap` -- a confusion matrix with class names;
- :func:`embedding_scatter` -- a 2-D map of embeddings coloured by a category;
- :func:`folded_lightcurves` -- phase-folded light curves of a few objects side by side
  (similarity-search and anomaly examples).

Inputs are plain arrays / astropy Tables; nothing is trained here.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from astrolab.errors import invalid

__all__ = ["accuracy_bars", "confusion_heatmap", "embedding_scatter", "folded_lightcurves"]


def _hv():
    import holoviews as hv

    from astrolab.viz import enable_inline

    enable_inline()
    return hv


def accuracy_bars(table: Any, *, metric: str = "accuracy", title: str = "Test accuracy", width: int = 700,
                  height: int = 320):
    """Grouped bars of a metric per (modality, label fraction), CLIP-initialised vs from scratch.

    Parameters
    ----------
    table : astropy.table.Table or pandas.DataFrame
        Columns ``modality``, ``fraction``, ``init`` and ``metric`` (e.g. from
        :func:`astrolab.trimodal.finetune_grid`).
    metric : str
        Column plotted (a fraction in [0, 1], shown in percent).

    Returns
    -------
    holoviews.Bars
    """
    hv = _hv()
    cols = ("modality", "fraction", "init", metric)
    names = list(getattr(table, "colnames", None) or getattr(table, "columns", []))
    if any(c not in names for c in cols):
        raise invalid("accuracy_bars(table=...)", f"columns {names} lack some of {cols}", "pass finetune_grid's table")
    group = [f"{m} {int(round(100 * float(f)))}%" for m, f in zip(table["modality"], table["fraction"])]
    data = {"group": group, "init": [str(x) for x in table["init"]], "value": 100 * np.asarray(table[metric], float)}
    return hv.Bars(data, kdims=["group", "init"], vdims=["value"]).opts(
        width=width, height=height, title=title, xlabel="modality, label fraction", ylabel=f"{metric} [%]",
        tools=["hover"], xrotation=45, multi_level=False, color="init", cmap="Category10", show_legend=True)


def confusion_heatmap(matrix: Any, classes: Sequence[str], *, normalize: bool = True, title: str = "Confusion matrix",
                      width: int = 420, height: int = 380):
    """Heat map of a confusion matrix (rows = true class, columns = predicted class).

    Parameters
    ----------
    matrix : array_like (C, C)
        Counts.
    classes : sequence of str (C,)
    normalize : bool
        Show row fractions (recall per true class) instead of counts.

    Returns
    -------
    holoviews.HeatMap
    """
    hv = _hv()
    m = np.asarray(matrix, float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(classes):
        raise invalid("confusion_heatmap(matrix=...)", f"shape {m.shape} for {len(classes)} classes", "pass a (C, C) matrix")
    if normalize:
        m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    rows = [(str(classes[j]), str(classes[i]), m[i, j]) for i in range(len(classes)) for j in range(len(classes))]
    label = "fraction of true class" if normalize else "count"
    return hv.HeatMap(rows, kdims=["predicted class", "true class"], vdims=[label]).opts(
        width=width, height=height, title=title, cmap="Blues", colorbar=True, tools=["hover"], xrotation=45,
        invert_yaxis=True)


def embedding_scatter(coords: Any, labels: Any, *, title: str = "Embedding", label_name: str = "class",
                      xlabel: str = "UMAP 1", ylabel: str = "UMAP 2", width: int = 480, height: int = 400, size: float = 4):
    """2-D embedding map coloured by a categorical label.

    Parameters
    ----------
    coords : array_like (N, 2)
        Map coordinates (arbitrary units, e.g. UMAP or PCA).
    labels : array_like (N,)
        Category of each point (class, hidden subclass, cluster).

    Returns
    -------
    holoviews.Points
    """
    hv = _hv()
    xy = np.asarray(coords, float)
    lab = np.asarray(labels).astype(str)
    if xy.ndim != 2 or xy.shape[1] != 2 or lab.shape != (xy.shape[0],):
        raise invalid("embedding_scatter", f"coords {xy.shape}, labels {lab.shape}", "pass (N, 2) coords and (N,) labels")
    data = {xlabel: xy[:, 0], ylabel: xy[:, 1], label_name: lab}
    return hv.Points(data, kdims=[xlabel, ylabel], vdims=[label_name]).opts(
        color=label_name, cmap="Category20", size=size, alpha=0.8, tools=["hover"], width=width, height=height,
        title=title, legend_position="right")


def folded_lightcurves(lcs: Any, indices: Sequence[int], periods: Any, titles: Sequence[str] | None = None, *,
                       width: int = 220, height: int = 180, cols: int = 6):
    """Phase-folded light curves of a few objects (magnitudes, brighter up).

    Parameters
    ----------
    lcs : LightCurveSet
    indices : sequence of int
        Rows of ``lcs`` to show.
    periods : array_like (N,)
        Folding period of every row [d].
    titles : sequence of str, optional
        One title per shown object.

    Returns
    -------
    holoviews.Layout
    """
    hv = _hv()
    per = np.asarray(periods, float)
    panels = []
    for k, i in enumerate(indices):
        a, b = lcs.offsets[i], lcs.offsets[i + 1]
        t, y = lcs.time[a:b], lcs.value[a:b]
        ph = np.mod((t - t[0]) / per[i], 1.0) if per[i] > 0 else np.zeros_like(t)
        title = titles[k] if titles is not None else f"object {lcs.ids[i]}"
        panels.append(hv.Scatter({"phase": np.concatenate([ph, ph + 1]), "V [mag]": np.concatenate([y, y])},
                                 kdims=["phase"], vdims=["V [mag]"]).opts(
            size=2, color="black", width=width, height=height, title=title, invert_yaxis=True,
            xlabel="phase [cycles]", ylabel="V [mag]"))
    return hv.Layout(panels).cols(cols)

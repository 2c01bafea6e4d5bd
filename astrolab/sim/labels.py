"""Two photo-z training sets with different ground truths, drawn from one simulated population.

TransferZ (Soriano et al. 2024, ``papers.md`` §7) trains photometric-redshift
networks on two label sources that see the same sky differently:

- **A, "TransferZ-like"**: a representative, faint, all-colour sample whose
  labels are template-fitting photo-z (COSMOS2020-like): broad coverage,
  inaccurate labels;
- **B, "GalaxiesML-like"**: a bright, colour-selected spectroscopic subset with
  near-exact labels (spec-z): accurate labels, narrow coverage.

:func:`simulate_label_sources` draws one flux-limited population with
:func:`astrolab.sim.galaxies.simulate_galaxies` and observes it twice, so the
true redshift of every object is known and label noise, covariate shift and
model error can be told apart. :func:`combine_label_sources` builds the
union A ∪ B with a documented rule for objects present in both.

Schema of both tables (one row per object)
------------------------------------------
Every column of :func:`~astrolab.sim.galaxies.simulate_galaxies` (magnitudes
``<b>`` and ``<b>_err`` [mag], fluxes ``<b>_flux``/``<b>_flux_err`` [nJy],
noise-free magnitudes ``<b>_true`` [mag] and the physical truths), except that

- ``redshift`` is the **label** the source provides (dimensionless), what a
  network is trained on;
- ``redshift_true`` is the true redshift of the object. It is not called
  ``z_true`` because, in the simulator's schema, ``z_true`` already is the
  noise-free *z-band magnitude* [mag];
- ``redshift_err`` is the 1σ label uncertainty ``sigma (1 + z)`` (dimensionless);
- ``label_catastrophic`` (bool) flags labels drawn as catastrophic errors;
- ``label_source`` (str, ``"A"`` or ``"B"``) names the source;
- ``split`` (str, ``"train"``, ``"val"`` or ``"test"``) is a per-object split
  shared by both tables: an object in A and B is in the same split in both, so a
  duplicate never leaks from a training set into a test set.

``object_id`` is the id of the object in the parent population: the same id in
A and B is the same galaxy (same photometry), labelled twice.
"""

from __future__ import annotations

import numpy as np

from astrolab.errors import invalid

__all__ = ["simulate_label_sources", "combine_label_sources", "LABEL_COLUMNS"]

#: Columns added (or redefined) by :func:`simulate_label_sources`, with their meaning.
LABEL_COLUMNS = {
    "redshift": "label of the source (template photo-z for A, spec-z for B), dimensionless",
    "redshift_true": "true redshift, dimensionless",
    "redshift_err": "1-sigma label uncertainty sigma (1 + z_true), dimensionless",
    "label_catastrophic": "True where the label is a catastrophic error",
    "label_source": "'A' (TransferZ-like) or 'B' (GalaxiesML-like)",
    "split": "'train', 'val' or 'test' (shared by both sources per object)",
}


def _check_fraction(value, name, lo=0.0, hi=1.0):
    v = float(value)
    if not np.isfinite(v) or not lo <= v <= hi:
        raise invalid(f"simulate_label_sources({name}=...)", f"{value!r} is outside [{lo}, {hi}]",
                      f"pass a number in [{lo}, {hi}]")
    return v


def _noisy_labels(z: np.ndarray, sigma: float, catastrophic: float, rng, *, bias: float = 0.0,
                  colours: np.ndarray | None = None, n_clusters: int = 0):
    """Labels z + (1 + z) (bias + N(0, sigma)), a fraction ``catastrophic`` replaced by far-off redshifts.

    ``n_clusters = 0``: the catastrophic objects are a random subset and their
    labels other objects' redshifts of the same sample (label n(z) kept), redrawn
    until |label − z| / (1 + z) > 0.15. ``n_clusters > 0``: they are the nearest
    neighbours in ``colours`` (N, C) of ``n_clusters`` random objects (equal
    shares), and each cluster's labels are (1 + z) r_k − 1 with one factor r_k per
    cluster, drawn from U(1.35, 1.8) when the cluster's median z < 1, else from
    U(0.55, 0.75) (so |Δz|/(1+z) >= 0.25).
    Returns (labels (N,), catastrophic flags (N,) bool).
    """
    n = z.size
    labels = z + (1.0 + z) * (bias + rng.normal(size=n) * sigma)
    flag = np.zeros(n, bool)
    n_cat = int(round(catastrophic * n))
    if n_cat and n_clusters > 0:
        x = (colours - colours.mean(axis=0)) / np.where(colours.std(axis=0) > 0, colours.std(axis=0), 1.0)
        seeds = rng.choice(n, min(n_clusters, n_cat), replace=False)
        shares = np.diff(np.linspace(0, n_cat, seeds.size + 1).round().astype(int))
        for seed_row, share in zip(seeds, shares):
            d = np.sum((x - x[seed_row]) ** 2, axis=1)
            d[flag] = np.inf
            members = np.argsort(d)[:share]
            flag[members] = True
            ratio = rng.uniform(1.35, 1.8) if np.median(z[members]) < 1.0 else rng.uniform(0.55, 0.75)
            labels[members] = (1.0 + z[members]) * ratio - 1.0
    elif n_cat:
        idx = rng.choice(n, n_cat, replace=False)
        flag[idx] = True
        wrong = rng.choice(z, n_cat)
        for _ in range(50):
            close = np.abs(wrong - z[idx]) / (1.0 + z[idx]) <= 0.15
            if not close.any():
                break
            wrong[close] = rng.choice(z, int(close.sum()))
        close = np.abs(wrong - z[idx]) / (1.0 + z[idx]) <= 0.15  # rare: no far-off redshift drawn
        wrong[close] = np.where(z[idx][close] < 1.0, (1 + z[idx][close]) * 1.5 - 1, (1 + z[idx][close]) * 0.65 - 1)
        labels[idx] = wrong
    return np.clip(labels, 0.001, None), flag


def simulate_label_sources(n_a: int = 8000, n_b: int = 2000, *, survey: str = "hsc", bands=None, seed: int = 0,
                           z_max: float = 3.0, sigma_a: float = 0.03, catastrophic_a: float = 0.03,
                           bias_a: float = 0.0, catastrophic_clusters_a: int = 8, sigma_b: float = 0.001, catastrophic_b: float = 0.0, b_mag_limit: float = 22.5,
                           b_selection_band: str = "i", b_colour: tuple = ("g", "i"), b_colour_max: float = 2.0,
                           overlap: float = 0.05, val_fraction: float = 0.15, test_fraction: float = 0.2,
                           parent_factor: float = 5.0):
    """Simulate a TransferZ-like (A) and a GalaxiesML-like (B) label source of one galaxy population.

    One flux-limited population is simulated with
    :func:`astrolab.sim.galaxies.simulate_galaxies` (size ``n_a + parent_factor * n_b``).
    **A** is a random, hence representative, subset of it (faint objects and all
    colours) labelled with template-like photo-z:
    ``z_true + N(0, sigma_a (1 + z_true))``, and a fraction ``catastrophic_a`` of
    labels replaced by far-off redshifts (|Δz|/(1+z) > 0.15), optionally with a
    systematic offset ``bias_a (1 + z_true)``. Like template-fit failures (a missing
    template or a colour degeneracy fails all similar galaxies), the catastrophic
    labels cluster in colour space by default: they are the nearest neighbours, in
    noise-free adjacent colours, of ``catastrophic_clusters_a`` random objects of A,
    and each cluster's labels are ``(1 + z_true) r − 1`` with one factor r per
    cluster (r in [1.35, 1.8] for a cluster at median z < 1, else in [0.55, 0.75]),
    so a network trained on A learns them. **B** is drawn from
    the objects that pass a spectroscopic-target selection on *observed*
    magnitudes, ``b_selection_band < b_mag_limit`` and
    ``b_colour[0] − b_colour[1] < b_colour_max`` (bright, blue-cloud-like),
    labelled with ``z_true + N(0, sigma_b (1 + z_true))``. A fraction ``overlap``
    of B is chosen among the candidates that are also in A (duplicates, labelled
    by both sources; TransferZ/GalaxiesML share 557 such objects); the rest of B
    is not in A.

    Parameters
    ----------
    n_a, n_b : int
        Rows of A and B.
    survey, bands : str, list of str, optional
        Photometry, as in :func:`~astrolab.sim.galaxies.simulate_galaxies` (default HSC *grizy*).
    seed : int
        Random seed of the population, the labels, the selection and the split.
    z_max : float
        Largest true redshift.
    sigma_a, sigma_b : float
        Gaussian label scatter of A and B, in units of (1 + z_true) (dimensionless).
    catastrophic_a, catastrophic_b : float
        Fractions of catastrophic labels in A and B (exact: ``round(fraction * n)`` labels).
    bias_a : float
        Systematic label offset of A in units of (1 + z_true) (dimensionless; default 0).
    catastrophic_clusters_a : int
        Number of colour-space clusters of A's catastrophic labels; 0 draws them at
        random with labels taken from other objects' redshifts (label n(z) kept).
        B's catastrophic labels (if any) are always random.
    b_mag_limit : float
        Magnitude limit [AB mag] of B on the observed ``b_selection_band`` magnitude.
    b_selection_band : str
        Band column of the magnitude limit.
    b_colour : (str, str)
        Band columns of the colour cut of B.
    b_colour_max : float
        B keeps ``b_colour[0] − b_colour[1] < b_colour_max`` [mag] (``np.inf``: no colour cut).
    overlap : float
        Fraction of B that is also in A (same ``object_id``, same photometry).
    val_fraction, test_fraction : float
        Fractions of objects in the ``"val"`` and ``"test"`` splits.
    parent_factor : float
        Parent population = ``n_a + parent_factor * n_b`` galaxies; raise it if too
        few objects pass the B selection.

    Returns
    -------
    table_a, table_b : astropy.table.Table
        ``n_a`` and ``n_b`` rows with the schema of the module docstring; ``meta``
        records the label-noise settings, the B selection and the achieved
        catastrophic fractions.

    Raises
    ------
    astrolab.errors.DataValidationError
        Bad sizes or fractions, unknown band columns, or too few B candidates.

    Examples
    --------
    >>> a, b = simulate_label_sources(4000, 1000, seed=1)            # doctest: +SKIP
    >>> float(np.mean(a["label_catastrophic"]))                       # doctest: +SKIP
    0.03
    """
    from astrolab.sim.galaxies import simulate_galaxies

    for name, v in (("n_a", n_a), ("n_b", n_b)):
        if not isinstance(v, (int, np.integer)) or v < 10:
            raise invalid(f"simulate_label_sources({name}=...)", f"{v!r} is not an integer >= 10",
                          "ask for at least 10 objects per source")
    n_a, n_b = int(n_a), int(n_b)
    for name, v in (("sigma_a", sigma_a), ("sigma_b", sigma_b)):
        _check_fraction(v, name, 0.0, 1.0)
    bias_a = _check_fraction(bias_a, "bias_a", -0.5, 0.5)
    if not isinstance(catastrophic_clusters_a, (int, np.integer)) or catastrophic_clusters_a < 0:
        raise invalid("simulate_label_sources(catastrophic_clusters_a=...)",
                      f"{catastrophic_clusters_a!r} is not an integer >= 0", "pass e.g. 8 (or 0 for random errors)")
    catastrophic_a = _check_fraction(catastrophic_a, "catastrophic_a", 0.0, 0.5)
    catastrophic_b = _check_fraction(catastrophic_b, "catastrophic_b", 0.0, 0.5)
    overlap = _check_fraction(overlap, "overlap")
    val_fraction = _check_fraction(val_fraction, "val_fraction", 0.0, 0.5)
    test_fraction = _check_fraction(test_fraction, "test_fraction", 0.0, 0.5)
    if float(parent_factor) < 1.0:
        raise invalid("simulate_label_sources(parent_factor=...)", f"{parent_factor} < 1",
                      "pass a factor >= 1 (the parent needs more objects than B)")
    rng = np.random.default_rng([int(seed), 7])
    n_parent = n_a + int(np.ceil(float(parent_factor) * n_b))
    parent = simulate_galaxies(n_parent, survey=survey, bands=bands, seed=seed, z_max=z_max)
    cols = list(parent.meta["bands"])
    for name in (b_selection_band, *b_colour):
        if name not in cols:
            raise invalid(f"simulate_label_sources band {name!r}", "is not a simulated band column",
                          f"use one of {cols}")
    if len(b_colour) != 2:
        raise invalid("simulate_label_sources(b_colour=...)", f"{b_colour!r} is not a pair of bands",
                      "pass e.g. ('g', 'i')")
    z = np.asarray(parent["redshift"], float)
    mag = np.asarray(parent[b_selection_band], float)
    colour = np.asarray(parent[b_colour[0]], float) - np.asarray(parent[b_colour[1]], float)
    with np.errstate(invalid="ignore"):
        candidate = np.isfinite(mag) & (mag < b_mag_limit) & np.isfinite(colour) & (colour < b_colour_max)

    in_a = np.zeros(n_parent, bool)
    in_a[rng.choice(n_parent, n_a, replace=False)] = True
    n_dup = int(round(overlap * n_b))
    dup_pool, new_pool = np.flatnonzero(candidate & in_a), np.flatnonzero(candidate & ~in_a)
    if dup_pool.size < n_dup or new_pool.size < n_b - n_dup:
        raise invalid("simulate_label_sources B selection",
                      f"only {int(candidate.sum())} of {n_parent} simulated galaxies pass "
                      f"{b_selection_band} < {b_mag_limit} and {b_colour[0]}-{b_colour[1]} < {b_colour_max} "
                      f"({new_pool.size} outside A) for n_b={n_b}",
                      "raise parent_factor, loosen b_mag_limit/b_colour_max, or ask for a smaller n_b")
    b_rows = np.sort(np.concatenate([rng.choice(dup_pool, n_dup, replace=False),
                                     rng.choice(new_pool, n_b - n_dup, replace=False)]))
    a_rows = np.flatnonzero(in_a)

    u = rng.uniform(size=n_parent)  # per-object split, shared by A and B
    split = np.where(u < test_fraction, "test", np.where(u < test_fraction + val_fraction, "val", "train"))

    true_colours = np.column_stack([np.asarray(parent[f"{c1}_true"], float) - np.asarray(parent[f"{c2}_true"], float)
                                    for c1, c2 in zip(cols[:-1], cols[1:])])
    true_colours = np.clip(np.nan_to_num(true_colours, nan=0.0), -5.0, 5.0)  # IGM-erased bands: bounded colours

    def observe(rows, sigma, cat_frac, source, bias=0.0, clusters=0):
        tab = parent[rows]
        zt = z[rows]
        labels, flag = _noisy_labels(zt, float(sigma), cat_frac, rng, bias=float(bias),
                                     colours=true_colours[rows], n_clusters=int(clusters))
        tab["redshift_true"] = tab["redshift"]
        tab["redshift"] = labels
        tab["redshift"].unit = tab["redshift_true"].unit
        tab["redshift_err"] = float(sigma) * (1.0 + zt)
        tab["redshift_err"].unit = tab["redshift_true"].unit
        tab["label_catastrophic"] = flag
        tab["label_source"] = np.full(len(tab), source)
        tab["split"] = split[rows]
        order = ["object_id", "redshift", "redshift_true", "redshift_err", "label_catastrophic", "label_source",
                 "split"]
        tab = tab[order + [c for c in tab.colnames if c not in order]]
        tab.meta.update({"label_source": source, "label_sigma": float(sigma), "label_bias": float(bias),
                         "label_catastrophic_clusters": int(clusters),
                         "label_catastrophic_fraction": float(flag.mean()),
                         "parent_size": n_parent, "parent_seed": int(seed)})
        return tab

    table_a = observe(a_rows, sigma_a, catastrophic_a, "A", bias_a, catastrophic_clusters_a)
    table_a.meta["description"] = "TransferZ-like: representative, faint, template photo-z labels"
    table_b = observe(b_rows, sigma_b, catastrophic_b, "B")
    table_b.meta.update({"description": "GalaxiesML-like: bright, colour-selected, spec-z labels",
                         "selection": f"{b_selection_band} < {b_mag_limit} and "
                                      f"{b_colour[0]} - {b_colour[1]} < {b_colour_max}",
                         "overlap_with_a": int(n_dup)})
    return table_a, table_b


def combine_label_sources(table_a, table_b, *, prefer: str = "B", key: str = "object_id"):
    """Union A ∪ B of two label sources; an object present in both keeps one row.

    Rule for duplicates (same ``key``): the row of the source ``prefer`` is kept
    (default B, the spectroscopic label, as the TransferZ follow-up work does),
    the other source's row is dropped. Columns are those common to both tables.

    Parameters
    ----------
    table_a, table_b : astropy.table.Table
        Tables with a ``key`` column (e.g. from :func:`simulate_label_sources`;
        real catalogs work too).
    prefer : {"A", "B"}
        Source whose row a duplicate keeps.
    key : str
        Column identifying an object across both tables.

    Returns
    -------
    astropy.table.Table
        ``len(a) + len(b) − n_duplicates`` rows: the rows of ``table_a`` first,
        then those of ``table_b``. ``meta["n_duplicates"]`` counts the
        duplicates and ``meta["duplicate_rule"]`` states the rule.
    """
    from astropy.table import vstack

    if prefer not in ("A", "B"):
        raise invalid("combine_label_sources(prefer=...)", f"{prefer!r}", "use 'A' or 'B'")
    for name, tab in (("table_a", table_a), ("table_b", table_b)):
        if key not in getattr(tab, "colnames", ()):
            raise invalid(f"combine_label_sources({name}=...)", f"has no column {key!r}",
                          f"pass astropy Tables with an id column, or key=<id column>")
        ids = np.asarray(tab[key])
        if np.unique(ids).size != ids.size:
            raise invalid(f"combine_label_sources({name}=...)", f"column {key!r} has repeated ids",
                          "de-duplicate each source before combining")
    common = [c for c in table_a.colnames if c in table_b.colnames]
    dup = np.isin(np.asarray(table_a[key]), np.asarray(table_b[key]))
    if prefer == "B":
        parts = [table_a[common][~dup], table_b[common]]
    else:
        keep_b = ~np.isin(np.asarray(table_b[key]), np.asarray(table_a[key]))
        parts = [table_a[common], table_b[common][keep_b]]
    out = vstack(parts, metadata_conflicts="silent")
    out.meta = {"n_duplicates": int(dup.sum()), "duplicate_rule": f"duplicates keep the row of source {prefer}",
                "sources": ["A", "B"]}
    return out

"""Photometric photo-z NMAD of ``PhotometricRedshift`` vs the template-fitting oracle.

Both run on the same simulated HSC survey (train / test split from
:func:`astrolab.sim.galaxies.simulate_galaxies`). The oracle fits the
simulator's own template library with its noise model, so it is the physical
limit; the ratio NMAD(network) / NMAD(oracle) measures how close learning gets
(goal <= 1.15 in full mode).

Run: ``python benchmarks/bench_photoz.py [--full]`` (FAST sizes by default).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def run(full: bool = False, seed: int = 0) -> dict:
    """Train, predict and compare; returns a dict of figures."""
    from astrolab import PhotometricRedshift
    from astrolab.metrics.photoz import photoz_summary
    from astrolab.photoz.oracle import TemplateFitter
    from astrolab.sim.galaxies import simulate_galaxies

    n_train, n_test, epochs = (100_000, 10_000, 60) if full else (12_000, 2_000, 30)
    bands = ["g", "r", "i", "z", "y"]
    train = simulate_galaxies(n_train, survey="hsc", seed=seed + 1)
    test = simulate_galaxies(n_test, survey="hsc", seed=seed + 2)
    z_true = np.asarray(test["redshift"])
    t0 = time.perf_counter()
    model = PhotometricRedshift(bands=bands, epochs=epochs, progress=False, seed=seed,
                                patience=10).fit(train, z="redshift")
    t_train = time.perf_counter() - t0
    net = photoz_summary(model.predict(test), z_true)
    t0 = time.perf_counter()
    oracle = photoz_summary(TemplateFitter(survey="hsc", bands=bands).predict(test), z_true)
    t_oracle = time.perf_counter() - t0
    return {
        "mode": "full" if full else "fast",
        "n_train": n_train, "n_test": n_test, "epochs_run": int(model.fit_result_.epochs_run),
        "network_nmad": net["nmad"], "oracle_nmad": oracle["nmad"],
        "nmad_ratio": net["nmad"] / oracle["nmad"],
        "network_outlier_rate": net["outlier_rate"], "oracle_outlier_rate": oracle["outlier_rate"],
        "train_s": t_train, "oracle_s": t_oracle, "goal_ratio_full": 1.15,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true")
    res = run(full=parser.parse_args().full)
    for key, value in res.items():
        print(f"{key:22s} {value:.4f}" if isinstance(value, float) else f"{key:22s} {value}")

"""Coverage of GyroFlow's calibrated cluster-age intervals on simulated clusters, pooled over seeds.

Each seed runs :func:`astrolab.gyro.simulation_recovery`: train on simulated clusters,
fit the calibration (width scale + systematic) on separate simulated calibration clusters,
date fresh test clusters at unseen ages. Prints per-seed and pooled coverage (statistical
and calibrated) with binomial errors.

Usage::

    python scripts/gyro_sim_coverage.py                 # notebook 07's full-mode settings, seeds 0 1 2
    python scripts/gyro_sim_coverage.py --seeds 0 1 --train 16 --test 40 --stars 150 --epochs 30
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--train", type=int, default=30, help="simulated training clusters")
    ap.add_argument("--test", type=int, default=40, help="simulated test clusters per seed")
    ap.add_argument("--calibration", type=int, default=20, help="simulated calibration clusters")
    ap.add_argument("--stars", type=int, default=300, help="stars per cluster")
    ap.add_argument("--epochs", type=int, default=120)
    args = ap.parse_args(argv)

    from astrolab.gyro import simulation_recovery

    levels = (0.68, 0.95)
    pooled = {"stat": {lv: [] for lv in levels}, "cal": {lv: [] for lv in levels}}
    for seed in args.seeds:
        t0 = time.perf_counter()
        tab, cov = simulation_recovery(args.train, args.test, args.stars, n_calibration_clusters=args.calibration,
                                       seed=seed, epochs=args.epochs)
        cal = tab.meta["calibration"]
        for lv in levels:
            pooled["stat"][lv].extend(np.asarray(tab[f"covered_stat_{lv}"]))
            pooled["cal"][lv].extend(np.asarray(tab[f"covered_{lv}"]))
        print(f"seed {seed}: width scale {cal['width_scale']:.2f}, systematic {cal['systematic_dex']:.4f} dex | "
              f"coverage 68/95 statistical {tab.meta['coverage_statistical'][0.68]:.3f}/"
              f"{tab.meta['coverage_statistical'][0.95]:.3f}, calibrated {cov[0.68]:.3f}/{cov[0.95]:.3f} | "
              f"median |dlog age| {np.median(np.abs(tab['dlog_age'])):.4f} dex, median stat sigma "
              f"{np.median(tab['sigma_stat_dex']):.4f} dex | {time.perf_counter() - t0:.0f} s", flush=True)
    for kind in ("stat", "cal"):
        parts = []
        for lv in levels:
            v = np.asarray(pooled[kind][lv], dtype=float)
            parts.append(f"{lv:.2f}: {v.mean():.3f} +- {np.sqrt(lv * (1 - lv) / v.size):.3f}")
        name = "statistical" if kind == "stat" else "calibrated "
        print(f"pooled {name} coverage over {len(pooled[kind][levels[0]])} test clusters: " + ", ".join(parts))


if __name__ == "__main__":
    main()

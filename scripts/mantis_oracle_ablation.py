"""Band ablation of the Mantis Shrimp photometry with the oracle (template fit with the simulator's own SEDs).

The oracle has no training noise, so its per-bin sigma_NMAD change when a survey is left out measures
how much *information* that survey carries in each redshift bin (notebook 03's simulation: PanSTARRS
grizy + GALEX FUV/NUV + unWISE W1/W2, uniform z in [0.02, 1.6], i < 22.1, Milky-Way foreground).
``--galex-depth mis`` replaces GALEX AIS depths (FUV 20.0, NUV 20.8 AB, 5 sigma) by MIS-like ones
(22.6, 22.7). ``--selection sdss`` replaces the single i < 22.1 limit by a composite spectroscopic-survey-like
sample: 40 % with r < 17.77 (SDSS main galaxy sample), 30 % with i < 19.9 (BOSS-like depth) and 30 % with
i < 22.1, drawn from the same uniform parent n(z), so low-z galaxies are bright and GALEX detects them well.

Usage::

    python scripts/mantis_oracle_ablation.py                      # 3,000 galaxies, AIS depth
    python scripts/mantis_oracle_ablation.py --n 3000 --galex-depth mis
    python scripts/mantis_oracle_ablation.py --n 3000 --selection sdss
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv=None):
    from astrolab.photoz.images import MANTIS_BANDS, MANTIS_SURVEYS
    from astrolab.photoz.oracle import TemplateFitter
    from astrolab.sim.dust import deredden_table
    from astrolab.sim.galaxies import simulate_galaxies

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000, help="simulated galaxies")
    ap.add_argument("--galex-depth", choices=("ais", "mis"), default="ais")
    ap.add_argument("--selection", choices=("faint", "sdss"), default="faint",
                    help="faint: i < 22.1; sdss: composite r < 17.77 / i < 19.9 / i < 22.1 (40/30/30 %%)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    bands9 = [f"{s}_{b}" for s in MANTIS_SURVEYS for b in MANTIS_BANDS[s]]
    depth = {"galex_nuv": 22.7, "galex_fuv": 22.6} if args.galex_depth == "mis" else None
    t0 = time.time()
    common = dict(survey="panstarrs", bands=bands9, z_max=1.6, depth=depth, redshift_distribution="uniform",
                  foreground_ebv="high_latitude")
    if args.selection == "faint":
        cat = simulate_galaxies(args.n, seed=args.seed, **common)
    else:
        from astropy.table import vstack

        parts = []
        for k, (band, limit, share) in enumerate((("panstarrs_r", 17.77, 0.4), ("panstarrs_i", 19.9, 0.3),
                                                  ("panstarrs_i", 22.1, 0.3))):
            part = simulate_galaxies(int(share * args.n), seed=10 * (args.seed + 1) + k, selection_band=band,
                                     selection_limit=limit, **common)
            part.meta = {}
            parts.append(part)
        cat = vstack(parts)
        cat["object_id"] = np.arange(len(cat), dtype=np.int64)
    z = np.asarray(cat["redshift"])
    dered = deredden_table(cat, bands9)
    edges = [0.0, 0.1, 0.2, 0.35, 0.6, 0.9, 1.6]
    low = z < 0.1
    snr = np.asarray(cat["galex_nuv_flux"]) / np.asarray(cat["galex_nuv_flux_err"])
    print(f"GALEX depth {args.galex_depth}, selection {args.selection}: {low.sum()} galaxies at z < 0.1, median r {np.nanmedian(cat['panstarrs_r'][low]):.2f},"
          f" median NUV S/N {np.nanmedian(snr[low]):.1f}")
    nmad = {}
    for name, drop in {"all surveys": (), "no GALEX": ("galex",), "no unWISE": ("wise",)}.items():
        bands = [b for b in bands9 if b.split("_")[0] not in drop]
        pdf = TemplateFitter(survey="panstarrs", bands=bands, z_max=1.6, redshift_distribution="uniform").predict_pdf(dered)
        dz = (np.asarray(pdf.mean()) - z) / (1 + z)
        row = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            d = dz[(z >= lo) & (z < hi)]
            row.append(1.4826 * np.median(np.abs(d - np.median(d))) if d.size > 10 else np.nan)
        nmad[name] = np.array(row)
    bins = [f"{lo}-{hi}" for lo, hi in zip(edges[:-1], edges[1:])]
    print("z bin            " + " ".join(f"{b:>9}" for b in bins))
    for name, row in nmad.items():
        print(f"{name:16} " + " ".join(f"{v:9.4f}" for v in row))
    for name in ("no GALEX", "no unWISE"):
        rel = nmad[name] / nmad["all surveys"] - 1
        print(f"{name + ' change':16} " + " ".join(f"{100 * v:+8.1f}%" for v in rel))
    print(f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()

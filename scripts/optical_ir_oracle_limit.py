"""How well can the optical spectrum predict WISE W1-W4 at all? The simulator's own model fitted to its spectra.

Fits :class:`astrolab.optical_ir.SimulatorOracle` (the simulator's forward model, least squares with
restarts) to simulated test spectra and prints, per band, the fractional error of the oracle's
prediction against the noise-free WISE flux, the chi^2_N it reaches against the noisy fluxes with
their known sigma, and which fitted parameter's error drives the W1 error. This is the floor any
network (notebook 09) works against: chi^2_N ~ 1 + (fractional prediction error / fractional WISE sigma)^2.

Usage::

    python scripts/optical_ir_oracle_limit.py                 # 200 spectra at notebook 09's FAST grid
    python scripts/optical_ir_oracle_limit.py --n 300 --dloglam 1e-3
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv=None):
    from astrolab.optical_ir import SimulatorOracle, wise_chi2
    from astrolab.sim.spectra import WISE_BANDS, simulate_optical_ir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="test spectra")
    ap.add_argument("--dloglam", type=float, default=2e-3, help="pixel size in log10(lambda / A)")
    ap.add_argument("--starts", type=int, default=4, help="oracle restarts per spectrum")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    t0 = time.time()
    test = simulate_optical_ir(args.n, seed=args.seed, dloglam=args.dloglam)
    pred, fits = SimulatorOracle(n_starts=args.starts, seed=0).predict(test.spectra)
    frac = pred / test.wise_true - 1
    chi = wise_chi2(pred, test.wise_flux, test.wise_sigma)
    rel_sigma = np.median(test.wise_sigma / test.wise_true, axis=0)
    print(f"{args.n} spectra at dloglam {args.dloglam:g} ({time.time() - t0:.0f} s)")
    print("band  frac.err rms  frac.err NMAD  median sigma/flux  chi2_N oracle")
    for b, name in enumerate(WISE_BANDS):
        f = frac[:, b]
        print(f"{name:4}  {np.sqrt(np.mean(f**2)):12.3f}  {1.4826 * np.median(np.abs(f - np.median(f))):13.3f}"
              f"  {rel_sigma[b]:17.3f}  {chi[b]:13.2f}")
    p = test.params
    truth = {"log_age": np.log10(np.asarray(p["age_gyr"])), "log_z": np.asarray(p["log_z"]), "a_v": np.asarray(p["a_v"]),
             "young_frac": np.asarray(p["young_frac"]), "log_sfr_rel": np.log10(np.asarray(p["sfr_rel"]))}
    print("parameter    rms error  corr(error, W1 frac. error)")
    for k, v in truth.items():
        e = np.array([f["theta"][k] for f in fits]) - v
        print(f"{k:12} {np.sqrt(np.mean(e**2)):9.3f}  {np.corrcoef(e, frac[:, 0])[0, 1]:+.2f}")


if __name__ == "__main__":
    main()

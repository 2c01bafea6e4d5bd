"""daep against maep at equal training budget: light-curve reconstruction error against the noise-free truth.

Simulates N two-band Bazin transients (notebook 06's simulation and 80/20 split), trains maep and daep
(x0 prediction, notebook 06's settings) for the same epochs from the same seed, and prints the
mean squared error of their reconstructions at the observed epochs against the noise-free light
curves (normalised flux^2, as notebook 06's table). daep is scored with several DDIM step counts:
with x0 prediction and eta = 0, fewer steps stay closer to the posterior mean. This is the
measurement behind issue 5's daep-vs-maep figures.

Usage::

    python scripts/daep_vs_maep.py                          # notebook 06 FAST scale, seeds 0 and 1
    python scripts/daep_vs_maep.py --n 1500 --epochs 100 --seeds 0
"""

from __future__ import annotations

import argparse
import time


def main(argv=None):
    import torch

    from astrolab import autoencoders as ae
    from astrolab.models.diffusion import DAEP, MAEP
    from astrolab.sim.transients import simulate_transients

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="simulated light curves (80 %% train, 20 %% test)")
    ap.add_argument("--epochs", type=int, default=30, help="training epochs of both models")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--ddim-steps", type=int, nargs="+", default=[1, 3, 10, 30])
    ap.add_argument("--full-model", action="store_true", help="notebook 06's full-mode model and 1000 diffusion steps")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    model = dict(d_model=64, n_latents=16, n_blocks=4) if args.full_model else dict(d_model=32, n_latents=8, n_blocks=2)
    n_steps = 1000 if args.full_model else 100
    print(f"{args.n} light curves, {args.epochs} epochs, model {model}, {n_steps} diffusion steps")
    for seed in args.seeds:
        t0 = time.time()
        sim = simulate_transients(args.n, seed=seed)
        batch, truth, _, _ = ae.transient_batch(sim)
        n_tr = int(0.8 * args.n)
        train = {k: v[:n_tr] for k, v in batch.items()}
        test = {k: v[n_tr:] for k, v in batch.items()}
        kw = dict(model, n_bands=2, value_scale=ae.value_scale(train))
        torch.manual_seed(seed)
        maep, _ = ae.train_autoencoder(MAEP(**kw), train, epochs=args.epochs, seed=seed, device="cpu")
        torch.manual_seed(seed)
        daep, _ = ae.train_autoencoder(DAEP(n_steps=n_steps, prediction="x0", step_power=0.5, **kw), train,
                                       epochs=args.epochs, seed=seed, device="cpu")
        row = {"maep": ae.reconstruction_mse(maep, test, truth[n_tr:])}
        for steps in args.ddim_steps:
            row[f"daep {steps} DDIM steps"] = ae.reconstruction_mse(daep, test, truth[n_tr:], n_sample_steps=steps,
                                                                    generator=torch.Generator().manual_seed(0))
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.5f}" for k, v in row.items()) + f"  ({time.time() - t0:.0f} s)",
              flush=True)


if __name__ == "__main__":
    main()

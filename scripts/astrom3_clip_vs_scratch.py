"""Does CLIP pre-training help the light-curve classifier at few labels? One pre-training, several fine-tunes.

Simulates N variable stars (notebook 05's full-mode model and 70/15/15 split), pre-trains a trimodal
CLIP (optionally with light-curve subsampling ``--lc-keep`` and the lowest-validation-loss epoch),
prints its validation-loss curve and scikit-learn linear-probe accuracies of the frozen photometry
embedding, then fine-tunes photometry classifiers at ``--fraction`` labels from CLIP and from
scratch and prints each test accuracy. This is the measurement behind issue 5's closing notes.

Each variant is ``init:epochs:encoder_lr_scale:probe_epochs:seed:lr`` with init ``clip``,
``scratch`` or ``frozen`` (a head on the frozen CLIP encoder).

Usage::

    python scripts/astrom3_clip_vs_scratch.py --n 6000 --clip-epochs 30 --lc-keep 0.5 \\
        clip:30:0.3:10:0:1e-3 clip:30:0.3:10:1:1e-3 scratch:40:1:0:0:1e-3 scratch:40:1:0:1:1e-3
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv=None):
    import torch

    from astrolab import trimodal as tm
    from astrolab.data.astrom3 import label_subset, split_multimodal
    from astrolab.metrics.classification import classification_summary
    from astrolab.sim.variables import METADATA_COLUMNS, simulate_variables

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="*", default=["clip:30:0.3:10:0:1e-3", "scratch:40:1:0:0:1e-3"])
    ap.add_argument("--n", type=int, default=6000, help="simulated stars")
    ap.add_argument("--clip-epochs", type=int, default=30)
    ap.add_argument("--clip-batch", type=int, default=64)
    ap.add_argument("--clip-lr", type=float, default=2e-3)
    ap.add_argument("--lc-keep", type=float, default=0.5, help="kept fraction of light-curve epochs (1 = no augmentation)")
    ap.add_argument("--last-epoch", action="store_true", help="keep the last CLIP epoch instead of the best validation one")
    ap.add_argument("--fraction", type=float, default=0.1, help="labelled fraction of the training stars")
    ap.add_argument("--vmag-range", type=float, nargs=2, default=None, metavar=("BRIGHT", "FAINT"),
                    help="mean V range [mag] of the simulated stars (default: simulate_variables' own)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    model = dict(d_model=64, n_latents=32, n_blocks=2, embed_dim=128)
    sim_kw = {} if args.vmag_range is None else {"vmag_range": tuple(args.vmag_range)}
    mm = simulate_variables(args.n, seed=0, wave_step=2.0, **sim_kw).data
    _, tr, va, te = split_multimodal(mm, METADATA_COLUMNS, fractions=(0.7, 0.15), seed=0, max_len=200)  # notebook 05's split

    t0 = time.time()
    clip, res = tm.pretrain_clip(tr, va, epochs=args.clip_epochs, batch_size=args.clip_batch, lr=args.clip_lr, seed=0,
                                 device="cpu", restore_best=not args.last_epoch, lc_keep=args.lc_keep, **model)
    val = res.history.frame["val_loss"].to_numpy()
    print(f"CLIP pre-training {time.time() - t0:.0f} s; val loss per epoch [nats]: {np.round(val, 3).tolist()}")
    print(f"lowest val loss {val.min():.3f} at epoch index {int(np.argmin(val))}"
          f" ({'last' if args.last_epoch else 'best'} epoch kept)")
    e_tr, e_te = tm.embed(clip, tr, "photometry"), tm.embed(clip, te, "photometry")
    sub = label_subset(tr.labels, args.fraction, seed=0)
    print(f"frozen photometry embedding, logistic-regression probe: {args.fraction:.0%} labels "
          f"{tm.probe(e_tr[sub], tr.labels[sub], e_te, te.labels)['accuracy']:.3f}, "
          f"100% labels {tm.probe(e_tr, tr.labels, e_te, te.labels)['accuracy']:.3f}")
    acc_gbm = {frac: tm.probe(tr.aux[rows], tr.labels[rows], te.aux, te.labels, kind="trees")["accuracy"]
               for frac, rows in ((args.fraction, sub), (1.0, np.arange(len(tr))))}
    print(f"tabular baseline, gradient-boosted trees on the {tr.aux.shape[1]} light-curve summary features only "
          f"(log period, amplitude, log MAD, log span): {args.fraction:.0%} labels {acc_gbm[args.fraction]:.3f}, "
          f"100% labels {acc_gbm[1.0]:.3f}")
    print(f"photometry classifiers at {args.fraction:.0%} labels ({len(sub)} stars), test accuracy on {len(te)} stars:")
    for v in args.variants:
        init, epochs, scale, probe_epochs, seed, lr = v.split(":")
        t = time.time()
        clf, _ = tm.fine_tune(None if init == "scratch" else clip, tr, modality="photometry", label_fraction=args.fraction,
                              epochs=int(epochs), encoder_lr_scale=float(scale), probe_epochs=int(probe_epochs),
                              freeze=init == "frozen", seed=int(seed), lr=float(lr), device="cpu", **model)
        pred, _ = tm.predict(clf, te)
        acc = classification_summary(te.labels, pred, labels=np.arange(len(te.classes)))["accuracy"]
        print(f"  {v:28s} accuracy {acc:.3f}  ({time.time() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()

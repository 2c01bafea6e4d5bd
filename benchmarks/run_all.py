"""Run every benchmark and print its figures: ``python benchmarks/run_all.py [--full]``.

- import time of ``astrolab`` (goal < 1 s);
- training-step throughput through the engine vs a bare PyTorch loop (goal ratio >= 0.9);
- photo-z NMAD of PhotometricRedshift vs the template oracle (goal ratio <= 1.15 in full mode);
- linked-view latencies of the 10^6-point explorer (goals: selection < 150 ms, first render < 2 s);
- with ``--only reproduce``: all notebooks in FAST mode (goal < 15 min on 2 cores; not in the default set).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(name):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="astrolab benchmarks")
    parser.add_argument("--full", action="store_true", help="paper-scale sizes (GPU recommended)")
    parser.add_argument("--only", nargs="*", default=None, help="subset: import engine photoz linked_views reproduce")
    args = parser.parse_args(argv)
    wanted = args.only or ["import", "engine", "photoz", "linked_views"]
    for name in wanted:
        module = _load(f"bench_{name}")
        kwargs = {"full": True} if (args.full and name == "photoz") else {}
        result = module.run(**kwargs)
        print(f"== {name}")
        for key, value in result.items():
            print(f"  {key:28s} {value:.4f}" if isinstance(value, float) else f"  {key:28s} {value}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

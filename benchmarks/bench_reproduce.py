"""All notebooks in FAST mode, headless, one after the other: total runtime vs the 15-minute goal.

Runs ``astrolab reproduce --fast`` (the same runner the tests and users call) into a temporary
folder and prints each notebook's runtime, the total, and whether the goal (all notebooks under
15 minutes on 2 CPU cores) is met. The report itself (``report.html``) is written there too.

Run: ``python benchmarks/bench_reproduce.py [--out DIR] [NAMES ...]``; a driver calls :func:`run`.
"""

from __future__ import annotations

import argparse
import os
import tempfile


def run(names=None, out=None) -> dict:
    """Run the notebooks and return ``{name: seconds, ..., "total_s": s, "goal_s": 900, "all_ok": bool}``."""
    from astrolab.reproduce import FAST_BUDGET_S, reproduce

    out = out or tempfile.mkdtemp(prefix="astrolab-reproduce-")
    os.environ["ASTROLAB_FAST"] = "1"
    runs = reproduce(names, fast=True, out=out)
    result = {r.name: round(r.seconds, 1) for r in runs}
    result["total_s"] = round(sum(r.seconds for r in runs), 1)
    result["goal_s"] = FAST_BUDGET_S
    result["all_ok"] = all(r.ok for r in runs)
    result["report"] = os.path.join(out, "report.html")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    res = run(args.names or None, args.out)
    for key, value in res.items():
        print(f"  {key:28s} {value}")
    print(f"goal (FAST, 2 cores, all notebooks < {res['goal_s']} s): {'met' if res['total_s'] < res['goal_s'] else 'NOT met'}")
    return 0 if res["all_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Time of ``import astrolab`` in a fresh interpreter (goal < 1 s).

Run: ``python benchmarks/bench_import.py``. Prints the median of 5 runs.
"""

from __future__ import annotations

import statistics
import subprocess
import sys


def run(repeats: int = 5) -> dict:
    """Median wall time [s] of ``import astrolab`` over ``repeats`` fresh interpreters."""
    code = "import time; t=time.perf_counter(); import astrolab; print(time.perf_counter()-t)"
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
             for _ in range(repeats)]
    return {"import_astrolab_s": statistics.median(times), "goal_s": 1.0}


if __name__ == "__main__":
    res = run()
    print(f"import astrolab: {res['import_astrolab_s']:.3f} s (goal < {res['goal_s']} s)")

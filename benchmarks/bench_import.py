"""How long `import lab_utils` takes, against `import numpy` measured in the same run.

Each import runs in a fresh interpreter (a student's kernel start), repeated; medians are printed with
the ratio, and whether TensorFlow got imported (it must not). Run: .venv/bin/python -m benchmarks.bench_import
"""

from __future__ import annotations

import statistics
import subprocess
import sys

REPEATS = 7
PROBE = (
    "import sys, time; t = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - t, 'tensorflow' in sys.modules)"
)


def time_import(module: str) -> tuple[float, bool]:
    """Median seconds to import ``module`` in a fresh interpreter, and whether TensorFlow came along."""
    seconds, tensorflow_loaded = [], False
    for _ in range(REPEATS):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        seconds.append(float(out[0]))
        tensorflow_loaded |= out[1] == "True"
    return statistics.median(seconds), tensorflow_loaded


def main() -> None:
    numpy_s, _ = time_import("numpy")
    lab_s, tf_loaded = time_import("lab_utils")
    print(f"import numpy      {numpy_s * 1000:7.1f} ms (baseline)")
    print(
        f"import lab_utils  {lab_s * 1000:7.1f} ms  = {lab_s / numpy_s:.2f} x numpy; tensorflow imported: {tf_loaded}"
    )


if __name__ == "__main__":
    main()

"""Notebook 04 as a user runs it, against a bare script doing only its two 10-epoch trainings.

Both are measured in the same run, alternately, so the machine's current load affects both alike:

- *bare*: a fresh Python process that imports TensorFlow, makes the blobs and trains the obvious
  and the preferred model for 10 epochs each (``verbose=0``), nothing else. Wall time of the
  whole subprocess, interpreter start included.
- *notebook*: ``notebooks/04_obvious_vs_preferred.ipynb`` executed top to bottom by nbclient in a
  fresh kernel (a temporary copy; the committed notebook is not touched). Wall time from kernel
  start to the end of the last cell. Meanwhile the kernel's memory is sampled with psutil, and its
  peak resident set (``VmHWM`` on Linux) is read before the kernel shuts down.

The target (issue 6): notebook / bare <= 2, and the kernel's peak memory < 1 GB.

Usage: ``.venv/bin/python benchmarks/bench_training.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import copy
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "04_obvious_vs_preferred.ipynb"

# The two trainings of notebook 04, written as plainly as a script can (same layers, losses,
# optimizer, seed and epochs as the notebook's sections 2 and 3).
BARE_SCRIPT = """
import lab_utils   # sets TensorFlow's quiet environment, as the notebook does
import tensorflow as tf
from lab_utils.datasets import make_blob_data

keras = tf.keras
X, y = make_blob_data(n_samples=2000, seed=0)
losses = []
for activation, from_logits in (("softmax", False), (None, True)):
    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()
    model = keras.Sequential([
        keras.Input(shape=(2,)),
        keras.layers.Dense(25, activation="relu"),
        keras.layers.Dense(15, activation="relu"),
        keras.layers.Dense(4, activation=activation),
    ])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
                  optimizer=keras.optimizers.Adam(0.001))
    history = model.fit(X, y, epochs=10, verbose=0)
    losses.append(history.history["loss"][-1])
print(" ".join(f"{loss:.4f}" for loss in losses))
"""

GB = 1024**3


def time_bare() -> float:
    """Seconds for a fresh interpreter to run the two trainings (checked to finish cleanly)."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", BARE_SCRIPT], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"bare script failed:\n{result.stderr}")
    return elapsed


def _peak_rss_linux(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def time_notebook() -> tuple[float, int]:
    """Seconds for a fresh kernel to run the notebook, and the kernel's peak memory in bytes."""
    import nbformat
    import psutil
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        client = NotebookClient(copy.deepcopy(notebook), timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOK.parent)}},
                                store_widget_state=False)
        peak = 0
        done = threading.Event()

        def sample(process: psutil.Process) -> None:
            nonlocal peak
            while not done.is_set():
                try:
                    peak = max(peak, process.memory_info().rss)
                except psutil.Error:
                    return
                done.wait(0.05)

        start = time.perf_counter()
        with client.setup_kernel():
            pid = client.km.provisioner.process.pid
            process = psutil.Process(pid)
            sampler = threading.Thread(target=sample, args=(process,), daemon=True)
            sampler.start()
            for index, cell in enumerate(client.nb.cells):
                client.execute_cell(cell, index)
            elapsed = time.perf_counter() - start
            peak = max(peak, _peak_rss_linux(pid) or 0)
            done.set()
            sampler.join()
        nbformat.write(client.nb, Path(tmp) / "executed.ipynb")  # proves the run produced a notebook
    return elapsed, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, alternating")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")

    bare, notebook, peaks = [], [], []
    for _ in range(args.repeats):
        bare.append(time_bare())
        seconds, peak = time_notebook()
        notebook.append(seconds)
        peaks.append(peak)
    ratio = statistics.median(notebook) / statistics.median(bare)
    print(f"bare script (two 10-epoch trainings): median {statistics.median(bare):.1f} s  "
          f"runs {', '.join(f'{t:.1f}' for t in bare)}")
    print(f"notebook 04 in a fresh kernel:       median {statistics.median(notebook):.1f} s  "
          f"runs {', '.join(f'{t:.1f}' for t in notebook)}")
    print(f"ratio notebook / bare: {ratio:.2f}  (target <= 2)")
    print(f"kernel peak memory: {max(peaks) / GB:.2f} GB  (target < 1 GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

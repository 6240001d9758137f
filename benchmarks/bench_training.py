"""Notebook 04 as a user runs it, against a bare script doing only its two 10-epoch trainings.

Both are measured in the same run, alternately, so the machine's current load affects both alike:

- *bare*: a fresh Python process that imports TensorFlow, makes the blobs and trains the obvious
  and the preferred model for 10 epochs each (``verbose=0``), nothing else. Wall time of the
  whole subprocess, interpreter start included.
- *notebook*: ``notebooks/04_obvious_vs_preferred.ipynb`` executed top to bottom by nbclient in a
  fresh kernel (a temporary copy; the committed notebook is not touched). Wall time from kernel
  start to the end of the last cell. Meanwhile the kernel's memory is sampled with psutil, and its
  peak resident set (``VmHWM`` on Linux) is read before the kernel shuts down.

Wall time on a shared machine is noisy (other jobs only ever add to it), so the ratio is given for
the fastest run of each and for the medians, and also for CPU time (user + system of the bare
process, and of the kernel process from its start), which depends much less on the load.

The target (issue 6): notebook / bare <= 2, and the kernel's peak memory < 1 GB.

Usage: ``.venv/bin/python -m benchmarks.bench_training [--repeats 3]``
"""

from __future__ import annotations

import argparse
import copy
import os
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


def time_bare() -> tuple[float, float]:
    """Wall and CPU seconds for a fresh interpreter to run the two trainings (checked to succeed)."""
    before = os.times()
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", BARE_SCRIPT], cwd=ROOT, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    after = os.times()
    if result.returncode != 0:
        raise RuntimeError(f"bare script failed:\n{result.stderr}")
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return elapsed, cpu


def _peak_rss_linux(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def time_notebook() -> tuple[float, float, int]:
    """Wall and CPU seconds for a fresh kernel to run the notebook, and its peak memory in bytes."""
    import nbformat
    import psutil
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        client = NotebookClient(
            copy.deepcopy(notebook),
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
            store_widget_state=False,
        )
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
            times = process.cpu_times()
            cpu = times.user + times.system + times.children_user + times.children_system
            peak = max(peak, _peak_rss_linux(pid) or 0)
            done.set()
            sampler.join()
        nbformat.write(
            client.nb, Path(tmp) / "executed.ipynb"
        )  # proves the run produced a notebook
    return elapsed, cpu, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, alternating")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")

    bare, bare_cpu, notebook, notebook_cpu, peaks = [], [], [], [], []
    for _ in range(args.repeats):
        wall, cpu = time_bare()
        bare.append(wall)
        bare_cpu.append(cpu)
        wall, cpu, peak = time_notebook()
        notebook.append(wall)
        notebook_cpu.append(cpu)
        peaks.append(peak)
    median = statistics.median

    def runs(values):
        return ", ".join(f"{v:.1f}" for v in values)

    print(f"bare script (two 10-epoch trainings): wall s {runs(bare)}   cpu s {runs(bare_cpu)}")
    print(
        f"notebook 04 in a fresh kernel:       wall s {runs(notebook)}   cpu s {runs(notebook_cpu)}"
    )
    print(
        f"ratio notebook / bare (target <= 2): wall, fastest runs {min(notebook) / min(bare):.2f}; "
        f"wall, medians {median(notebook) / median(bare):.2f}; "
        f"cpu, medians {median(notebook_cpu) / median(bare_cpu):.2f}"
    )
    print(f"kernel peak memory: {max(peaks) / GB:.2f} GB  (target < 1 GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

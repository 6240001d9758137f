"""Speed and memory of lab_utils' softmax against SciPy, TensorFlow and the naive formula.

Run by hand: ``.venv/bin/python -m benchmarks.bench_softmax [--rows 1024] [--cols 32000]
[--repeats 15]``.

Machines are shared and noisy, so every figure is a RATIO to ``scipy.special.softmax`` measured in
the same run: the candidates take turns within each repeat (so a slow moment hits all of them) and
the median over repeats is reported. Memory is the peak of what NumPy reports to ``tracemalloc``
while one call runs, in units of the output's size (TensorFlow allocates outside Python's heap, so
it has no memory figure here). The issue's target: lab_utils.softmax at most 0.7x SciPy's time on a
float32 (1024, 32000) array, with no full-size temporary besides its output.

Also in the same run: one in-place ``np.exp`` over a copy of the same array (the copy is made before
the clock starts), the floor any softmax pays for its exponentials. Issue 16's target: softmax at
most 2.0x of it. Beside it, ``np.exp`` into a new array: the floor of any function that returns a
new array of that size, which pays the first touch of its freshly allocated pages as well; and
``blocked_softmax`` (the same blocked code) into a buffer it is given, which compares softmax's
arithmetic with the in-place exp on equal terms: neither allocates.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np
import scipy.special

import lab_utils
from lab_utils.numerics import blocked_softmax, naive_softmax, online_softmax, softmax


def peak_in_outputs(func, z: np.ndarray) -> float:
    """Peak bytes allocated (per tracemalloc) while ``func(z)`` runs, divided by the output size."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = func(z)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return peak / np.asarray(result).nbytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--cols", type=int, default=32000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-tensorflow", action="store_true", help="skip tf.nn.softmax")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    z = (rng.standard_normal((args.rows, args.cols), dtype=np.float32) * 4).astype(np.float32)

    reused = np.zeros_like(z)
    candidates = {
        "scipy.special.softmax": lambda x: scipy.special.softmax(x, axis=-1),
        "lab_utils.softmax": lambda x: softmax(x, axis=-1),
        "lab_utils.softmax (T=0.5)": lambda x: softmax(x, axis=-1, temperature=0.5),
        # The same blocked code writing into a buffer it is given (touched before the clock, as the
        # in-place exp's array is): softmax's arithmetic without the allocation of its output.
        "lab_utils.blocked_softmax(out=)": lambda x: blocked_softmax(x, out=reused),
        "lab_utils.online_softmax": lambda x: online_softmax(x, axis=-1),
        "naive exp/sum (no max)": lambda x: naive_softmax(x, axis=-1),
    }
    if not args.no_tensorflow:
        tf = lab_utils.environment.import_tensorflow()
        tf_z = tf.constant(z)
        # TensorFlow gets its input already as a tensor, and .numpy() so the work is finished.
        candidates["tf.nn.softmax"] = lambda x: tf.nn.softmax(tf_z, axis=-1).numpy()

    # Correctness first: a fast wrong answer is not a result.
    reference = scipy.special.softmax(z.astype(np.float64), axis=-1)
    for name, func in candidates.items():
        if "T=" in name or "naive" in name:
            continue
        err = np.max(np.abs(func(z) - reference) / np.maximum(reference, np.finfo(np.float32).tiny))
        assert err < 1e-4, f"{name} is wrong: max relative error {err:.2e}"

    scratch = np.empty_like(z)
    exp_name, new_name = "np.exp in place (floor)", "np.exp into a new array"
    times: dict[str, list[float]] = {name: [] for name in [*candidates, exp_name, new_name]}
    for func in candidates.values():  # warm-up: first-call costs are not what we measure
        func(z)
    for _ in range(args.repeats):
        for name, func in candidates.items():
            start = time.perf_counter()
            func(z)
            times[name].append(time.perf_counter() - start)
        np.copyto(scratch, z)  # fresh logits, outside the clock
        start = time.perf_counter()
        np.exp(scratch, out=scratch)
        times[exp_name].append(time.perf_counter() - start)
        start = time.perf_counter()
        np.exp(z)
        times[new_name].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in times.items()}
    base = median["scipy.special.softmax"]

    print(
        f"softmax over the last axis of float32 {z.shape} ({z.nbytes / 2**20:.0f} MiB), "
        f"median of {args.repeats} interleaved repeats"
    )
    print(f"{'candidate':28s} {'time / scipy':>12s} {'peak memory / output':>21s}")
    for name, func in candidates.items():
        memory = "n/a (not numpy)" if name.startswith("tf.") else f"{peak_in_outputs(func, z):.2f}"
        print(f"{name:28s} {median[name] / base:12.2f} {memory:>21s}")
    print(f"{exp_name:28s} {median[exp_name] / base:12.2f} {'0 (in place)':>21s}")
    print(f"{new_name:28s} {median[new_name] / base:12.2f} {'1.00':>21s}")
    if "tf.nn.softmax" in median:
        print(
            f"lab_utils.softmax / tf.nn.softmax: {median['lab_utils.softmax'] / median['tf.nn.softmax']:.2f}"
        )
    ratio = median["lab_utils.softmax"] / base
    print(
        f"target lab_utils.softmax <= 0.70 x scipy: {'met' if ratio <= 0.7 else 'NOT met'} ({ratio:.2f})"
    )
    floor = median["lab_utils.softmax"] / median[exp_name]
    print(
        f"target lab_utils.softmax <= 2.0 x in-place np.exp: {'met' if floor <= 2.0 else 'NOT met'} "
        f"({floor:.2f}; np.exp into a new array alone: "
        f"{median[new_name] / median[exp_name]:.2f})"
    )
    into = median["lab_utils.blocked_softmax(out=)"] / median[exp_name]
    print(
        f"without the allocation (blocked_softmax into a reused buffer, as the exp is in place): "
        f"{into:.2f} x in-place np.exp ({'within' if into <= 2.0 else 'NOT within'} 2.0)"
    )


if __name__ == "__main__":
    main()

"""How much kernel time one slider change of ``softmax_explorer`` costs, against a full redraw.

Run by hand (not a test: timings on a shared machine are noisy, so only ratios measured in the same
run are reported)::

    .venv/bin/python -m benchmarks.bench_explorers [--repeats 60]

What is measured
----------------
(a) *slider change*: ``explorer.controls["z0"].value = v``: the observer recomputes the numbers,
    sets bar heights and label texts in place and draws the frame. With ipympl the frame is sent
    to the browser from the callback itself: paste the saved background, draw the bars and
    labels, ``canvas.blit``, and the diff-PNG encoding (``get_diff_image``) of the pixels changed
    since the last full frame. The canvas is first told the browser is there (the
    ``initialized`` message) and sends its first, full frame, as in a live JupyterLab; the run
    then waits out the ``lab_utils.canvas.FULL_FRAME_GUARD_S`` (the frames right after a full frame
    are full ones). With Agg (``%matplotlib inline``, scripts) it is the blit plus the PNG sent to
    the ``ipywidgets.Image``.
(a') the same with the explorer's frame bridge live (``lab_utils.frames``, as in JupyterLab once
    the browser has installed it): after the blit, the changed rectangles are found and sent as
    raw pixels instead of a diff PNG.
(b) *full redraw*, the baseline (what the usual lab does per change): remove the bars and labels,
    make new ones with the same plotting code, and ``fig.canvas.draw()`` the whole figure (layout,
    axes, ticks, titles, everything), plus the same frame encoding as in (a). Same figure size,
    same backend, same run.

Each sample is timed twice: wall clock and this process's CPU time. The machine is shared, so the
CPU-time ratio (unaffected by other processes taking the cores) is the headline; the wall-clock
ratio is printed beside it. The goal is (a) / (b) <= 0.25. Also timed: ``import lab_utils`` plus creating an explorer in a fresh
interpreter (goal < 1 s), which must not import TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

IPYMPL = "module://ipympl.backend_nbagg"


def _median_ms(samples: list[float]) -> float:
    return 1000.0 * statistics.median(samples)


def _timed(fn, arg) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(arg)
    return time.perf_counter() - wall, time.process_time() - cpu


def _baseline_figure(use_ipympl: bool, logits):
    """The same two-panel figure as softmax_explorer, redrawn in full on every change."""
    import numpy as np
    from matplotlib.figure import Figure

    from lab_utils import numerics, plots, style
    from lab_utils.canvas import make_canvas
    from lab_utils.ipympl_canvas import ExplorerCanvas

    with style.style_context():
        fig = Figure(figsize=style.figure_size(2), layout="constrained")
        canvas = make_canvas(fig, use_ipympl)
        ax_z, ax_p = fig.subplots(1, 2)
        ax_z.set_title("logits z")
        ax_p.set_title("probabilities p = softmax(z)")
        plots.zero_line(ax_z)
        ax_z.set_xticks(range(len(logits)), [f"z{style.subscript(i)}" for i in range(len(logits))])
        ax_p.set_xticks(range(len(logits)), [f"p{style.subscript(i)}" for i in range(len(logits))])
    # Laid out once and frozen, as the explorer is: the baseline pays for drawing, not layout.
    fig.get_layout_engine().execute(fig)
    fig.set_layout_engine("none")
    state = {"charts": []}

    def change(values):
        with style.style_context():
            for chart in state["charts"]:
                for artist in chart.artists():
                    artist.remove()
            values = np.asarray(values)
            state["charts"] = [
                plots.bar_chart(
                    ax_z, values, color=style.ROLE["logits"], ylim=(-11, 11), fmt="{:.2f}"
                ),
                plots.bar_chart(
                    ax_p, numerics.softmax(values), color=style.ROLE["probs"], ylim=(0, 1.12)
                ),
            ]
            canvas.draw()

    if use_ipympl:
        assert isinstance(canvas, ExplorerCanvas)
    return fig, canvas, change


def _encode_png(canvas) -> bytes:
    """The PNG an Agg explorer sends to its ``ipywidgets.Image`` (the same encoder, RGB)."""
    import numpy as np

    from lab_utils import frames

    return frames.encode_png(np.asarray(canvas.buffer_rgba())[..., :3])


def bench_slider(use_ipympl: bool, repeats: int, patches: bool = False) -> dict:
    import matplotlib

    matplotlib.use(IPYMPL if use_ipympl else "Agg")
    from lab_utils import canvas as canvas_module
    from lab_utils import explorers

    explorer = explorers.softmax_explorer()
    canvas = explorer.canvas
    values = [3.0, -2.5]
    if use_ipympl:
        canvas._handle_message(canvas, {"type": "initialized"}, [])
        canvas.handle_event({"type": "draw"})  # the browser's first frame: a full draw
        time.sleep(canvas_module.FULL_FRAME_GUARD_S)
        sent = []
        send_binary = canvas.send_binary
        canvas.send_binary = lambda data: (sent.append(canvas.image_mode), send_binary(data))
        if patches:  # what frame_bridge.js answers once installed in a local JupyterLab
            canvas.bridge._on_browser_message(
                canvas.bridge, {"type": "ready", "ok": True, "local": True}, []
            )
            send = canvas.send
            canvas.send = lambda content, buffers=None: (
                sent.append("patch"),
                send(content, buffers=buffers),
            )

    def slider_change(v):
        # ipympl: blit, encode and send the frame; Agg: blit and PNG for the Image widget.
        explorer.controls["z0"].value = v

    for i in range(5):
        slider_change(values[i % 2])
    partial = [_timed(slider_change, values[i % 2] + 0.1 * (i % 7)) for i in range(repeats)]
    assert not explorer.errors, explorer.errors
    if use_ipympl:  # one diff frame (or patch) per change, none asked for
        assert len(sent) >= repeats and set(sent) == {"patch" if patches else "diff"}, sent
    blits = explorer.blitter.partial_draws

    fig, base_canvas, change = _baseline_figure(use_ipympl, explorer.state()["logits"])
    if use_ipympl:
        base_canvas._handle_message(base_canvas, {"type": "initialized"}, [])
    logits = explorer.state()["logits"].copy()

    def full_redraw(v):
        logits[0] = v
        change(logits)  # canvas.draw(): with ipympl this also encodes and sends the frame
        if not use_ipympl:
            _encode_png(base_canvas)

    for i in range(5):
        full_redraw(values[i % 2])
    full = [_timed(full_redraw, values[i % 2] + 0.1 * (i % 7)) for i in range(repeats)]
    result = {"backend": "ipympl" if use_ipympl else "agg", "patches": patches, "blits": blits}
    for column, clock in ((0, "wall"), (1, "cpu")):
        change_ms = _median_ms([sample[column] for sample in partial])
        full_ms = _median_ms([sample[column] for sample in full])
        result[f"slider_change_{clock}_ms"] = change_ms
        result[f"full_redraw_{clock}_ms"] = full_ms
        result[f"ratio_{clock}"] = change_ms / full_ms
    return result


def bench_import(repeats: int = 5) -> dict:
    code = (
        "import time, sys; t = time.perf_counter(); c = time.process_time(); import lab_utils; "
        "e = lab_utils.softmax_explorer(); t = time.perf_counter() - t; "
        "c = time.process_time() - c; print(t, c, 'tensorflow' in sys.modules)"
    )
    times, cpu_times, tf_loaded = [], [], False
    env = dict(os.environ, MPLBACKEND="Agg")
    for _ in range(repeats):  # the first run also warms the OS file cache
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        ).stdout.split()
        times.append(float(out[0]))
        cpu_times.append(float(out[1]))
        tf_loaded = tf_loaded or out[2] == "True"
    return {
        "import_and_create_wall_s": statistics.median(times),
        "import_and_create_cpu_s": statistics.median(cpu_times),
        "tensorflow_imported": tf_loaded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    results = {"load_average": os.getloadavg()[0], "cpu_count": os.cpu_count()}
    cases = (("ipympl+bridge", True, True), ("ipympl", True, False), ("agg", False, False))
    for name, use_ipympl, patches in cases:
        # Each backend in its own interpreter: the backend is chosen once per process.
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "import json; from benchmarks import bench_explorers as b; "
                f"print(json.dumps(b.bench_slider({use_ipympl}, {args.repeats}, {patches})))",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    results["import"] = bench_import()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"load average at start: {results['load_average']:.1f} on {results['cpu_count']} cores")
    for name, _, _ in cases:
        r = results[name]
        verdict = "ok" if r["ratio_cpu"] <= 0.25 else "ABOVE GOAL"
        print(
            f"{name:13s} one slider change {r['slider_change_cpu_ms']:6.2f} ms CPU "
            f"({r['slider_change_wall_ms']:6.2f} wall) | full redraw "
            f"{r['full_redraw_cpu_ms']:6.2f} ms CPU ({r['full_redraw_wall_ms']:6.2f} wall) | "
            f"ratio {r['ratio_cpu']:.3f} CPU, {r['ratio_wall']:.3f} wall "
            f"(goal <= 0.25: {verdict})"
        )
    r = results["import"]
    print(
        f"import lab_utils + softmax_explorer(): {r['import_and_create_wall_s']:.2f} s wall, "
        f"{r['import_and_create_cpu_s']:.2f} s CPU (goal < 1 s); "
        f"tensorflow imported: {r['tensorflow_imported']}"
    )


if __name__ == "__main__":
    main()

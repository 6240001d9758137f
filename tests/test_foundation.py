"""The skeleton every other part stands on: pins, Binder spec, lazy imports, quiet TensorFlow,
committed notebook outputs and the commands in the Makefile and README."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def requirement_lines(path: Path) -> list[str]:
    """The requirement lines of a pip requirements file, without comments and blank lines."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def run_python(code: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter of this environment, as a student's kernel would start."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-test.txt"])
def test_every_requirement_is_pinned_exactly(name):
    lines = requirement_lines(ROOT / name)
    assert lines, f"{name} lists no requirements"
    for line in lines:
        spec = line.split(";", 1)[0]
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][A-Za-z0-9.]*", spec.strip()), (
            f"{name}: {line!r} is not pinned with =="
        )


def test_runtime_stack_has_the_versions_the_lab_is_built_on():
    pins = {}
    for line in requirement_lines(ROOT / "requirements.txt"):
        name, version = line.split(";", 1)[0].strip().split("==")
        pins.setdefault(name.lower().replace("_", "-"), version)
    expected_prefixes = {
        # lab_utils/static/frame_bridge.js uses ipympl 0.10's canvas model and anywidget's
        # model.widget_manager: a new version of either must pass the browser tests first.
        "jupyterlab": "4.6.",
        "ipywidgets": "8.1.",
        "ipympl": "0.10.",
        "anywidget": "0.11.",
        "matplotlib": "3.11.",
        "scikit-learn": "1.9.",
        "tensorflow": "2.21.",
        "tensorflow-cpu": "2.21.",
    }
    for name, prefix in expected_prefixes.items():
        assert pins[name].startswith(prefix), f"{name}=={pins[name]} is not {prefix}x"
    assert {"numpy", "scipy"} <= set(pins)


def test_tensorflow_has_a_pin_for_every_platform():
    """tensorflow-cpu only where it exists and is smaller (Linux x86-64), tensorflow elsewhere."""
    markers = {
        line.split("==")[0]: line.split(";", 1)[1].strip()
        for line in requirement_lines(ROOT / "requirements.txt")
        if line.startswith("tensorflow")
    }
    from packaging.markers import Marker

    for platform, machine, expected in [
        ("linux", "x86_64", "tensorflow-cpu"),
        ("darwin", "arm64", "tensorflow"),
        ("win32", "AMD64", "tensorflow"),
        ("linux", "aarch64", "tensorflow"),
    ]:
        env = {"sys_platform": platform, "platform_machine": machine}
        chosen = [name for name, marker in markers.items() if Marker(marker).evaluate(env)]
        assert chosen == [expected], f"{platform}/{machine} would install {chosen}"


def test_binder_installs_exactly_the_pinned_stack():
    binder = requirement_lines(ROOT / "binder" / "requirements.txt")
    assert binder == requirement_lines(ROOT / "requirements.txt"), (
        "binder/requirements.txt has drifted from requirements.txt: run `make binder`"
    )


def test_binder_installs_lab_utils_and_uses_a_supported_python():
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert re.search(r"pip install .*-e \.", post_build), "postBuild must install lab_utils"
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.1[0-3]", runtime), runtime


def test_readme_binder_link_opens_the_first_notebook():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(
        r"https://mybinder\.org/v2/gh/[^/\s]+/[^/\s]+/HEAD\?urlpath=lab/tree/(\S+?\.ipynb)", readme
    )
    assert links, (
        "README has no Binder link of the form .../HEAD?urlpath=lab/tree/notebooks/01_...ipynb"
    )
    for path in links:
        assert (ROOT / path).is_file(), f"Binder link points at missing {path}"
        assert Path(path).name.startswith("01_")


def test_import_lab_utils_is_light():
    """The NumPy parts of the lab never pay for TensorFlow, scikit-learn or matplotlib."""
    result = run_python(
        "import sys, lab_utils\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'sklearn', 'matplotlib', 'ipywidgets',"
        " 'anywidget')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"import lab_utils imported {result.stdout.strip()}"
    assert result.stderr == ""


def test_lazy_names_resolve_and_unknown_names_fail_clearly():
    import lab_utils

    assert callable(lab_utils.softmax)
    assert "softmax_explorer" in dir(lab_utils)
    with pytest.raises(AttributeError, match="no attribute 'not_a_thing'"):
        lab_utils.not_a_thing  # noqa: B018


@pytest.mark.tensorflow
def test_tensorflow_is_silent_after_lab_utils():
    """Nothing TensorFlow or Keras prints at import, first op or a short fit reaches stderr."""
    result = run_python(
        "import lab_utils\n"
        "import numpy as np\n"
        "import tensorflow as tf, keras\n"
        "print(tf.nn.softmax([2.0, 1.0, 0.1]).numpy().round(4))\n"
        "model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])\n"
        "model.compile(optimizer='adam', loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))\n"
        "model.fit(np.zeros((8, 2)), np.zeros(8), epochs=1, verbose=0)\n",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0.659  0.2424 0.0986]"
    assert result.stderr == "", f"TensorFlow wrote to stderr:\n{result.stderr}"


def test_import_tensorflow_helper_is_lazy_and_quiet():
    result = run_python(
        "import sys, lab_utils\n"
        "assert 'tensorflow' not in sys.modules\n"
        "tf = lab_utils.import_tensorflow()\n"
        "print(tf.__name__, 'tensorflow' in sys.modules)",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["tensorflow", "True"]
    assert result.stderr == ""


def test_run_notebooks_executes_in_place_in_a_fresh_kernel(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import os\nx = 6 * 7"),
        nbformat.v4.new_code_cell("print(x, os.getcwd() == %r)" % str(tmp_path)),
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / "tiny.ipynb"
    nbformat.write(notebook, path)
    result = subprocess.run(
        [sys.executable, "-m", "lab_utils.run_notebooks", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    executed = nbformat.read(path, as_version=4)
    assert [c.execution_count for c in executed.cells] == [1, 2]
    assert executed.cells[1].outputs[0]["text"] == "42 True\n"


def test_run_notebooks_says_when_nothing_matches(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "lab_utils.run_notebooks", str(tmp_path / "none*.ipynb")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert "no notebooks match" in result.stderr


def test_the_six_notebooks_exist():
    names = [p.name for p in NOTEBOOKS]
    for prefix in ["01_", "02_", "03_", "04_", "05_", "06_"]:
        assert any(n.startswith(prefix) for n in names), f"no notebook {prefix}*.ipynb in {names}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_fully_executed_and_clean(path):
    """What nbval compares against must be a clean top-to-bottom run, not hand-edited outputs."""
    notebook = json.loads(path.read_text())
    code = [
        c for c in notebook["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()
    ]
    counts = [c.get("execution_count") for c in code]
    assert all(counts), f"{path.name}: cells without execution count (not fully executed)"
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: not one top-to-bottom run: {counts}"
    )
    for cell in code:
        for output in cell.get("outputs", []):
            where = f"{path.name}, cell starting {''.join(cell['source'])[:60]!r}"
            assert output["output_type"] != "error", f"error output in {where}"
            assert output.get("name") != "stderr", (
                f"stderr output in {where}: {output.get('text')!r}"
            )
            text = "".join(output.get("text", "")) + json.dumps(output.get("data", {}))
            assert "\x1b[" not in text and "\\u001b[" not in text, f"ANSI codes in {where}"
            assert not re.search(r" at 0x[0-9a-f]{6,}", text), f"memory address in {where}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_goals_navigation_summary_and_exercises(path):
    notebook = json.loads(path.read_text())
    markdown = "\n".join(
        "".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown"
    )
    first = "".join(notebook["cells"][0]["source"])
    assert first.lstrip().startswith("# "), f"{path.name} does not open with a title"
    heading = re.search(
        r"learning goals|you will learn|by the end|after this notebook", first, re.I
    )
    assert heading, f"{path.name}: the first cell does not state learning goals"
    goals = re.findall(r"^\s*(?:\d+\.|[-*]) ", first[heading.end() :], re.M)
    assert 3 <= len(goals) <= 6, f"{path.name}: 3-5 learning goals expected, found {len(goals)}"
    assert re.search(r"^#+ .*summary", markdown, re.I | re.M), f"{path.name}: no Summary section"
    assert re.search(r"^#+ .*exercises?", markdown, re.I | re.M), (
        f"{path.name}: no Exercises section"
    )
    linked = re.findall(r"\]\((\d\d_[A-Za-z0-9_]+\.ipynb)\)", markdown)
    assert linked, f"{path.name}: no navigation link to a neighbouring notebook"
    for target in linked:
        assert (ROOT / "notebooks" / target).is_file(), f"{path.name} links to missing {target}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_one_setup_cell_with_widget_backend(path):
    notebook = json.loads(path.read_text())
    code = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code and code[0].lstrip().startswith("%matplotlib widget"), (
        f"{path.name}: the first code cell must be the setup cell starting with %matplotlib widget"
    )
    assert "import lab_utils" in code[0] or "from lab_utils" in code[0]


def test_make_lab_serves_the_first_notebook():
    result = subprocess.run(["make", "-n", "lab"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert re.search(r"jupyter lab .*notebooks/01_\w+\.ipynb", result.stdout), result.stdout


def test_make_test_runs_pytest_and_nbval_in_one_parallel_run():
    result = subprocess.run(["make", "-n", "test"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    # One pytest run of the tests and notebooks, then the doctests and ruff; any failure fails it.
    [command] = [line for line in result.stdout.splitlines() if "--nbval" in line]
    assert re.search(r"-m pytest -n 2 (--\S+ )*tests .*--nbval .*notebooks \|\| status", command), (
        command
    )
    assert "--doctest-modules lab_utils" in result.stdout and "ruff check" in result.stdout
    assert "exit $status" in result.stdout
    serial = subprocess.run(
        ["make", "-n", "test", "PYTEST_WORKERS=0"], capture_output=True, text=True, cwd=ROOT
    )
    [command] = [line for line in serial.stdout.splitlines() if "--nbval" in line]
    assert re.search(r"-m pytest +(--\S+ )*tests --nbval .*notebooks \|\| status", command), command


def test_ci_script_installs_chromium_then_runs_make_test():
    script = (ROOT / ".ci" / "run").read_text()
    assert (ROOT / ".ci" / "run").stat().st_mode & 0o111
    assert script.index("apt-get update") < script.index("apt-get install")
    assert "chromium" in script and script.rstrip().endswith("make test")
    assert "CI=true" in script


@pytest.mark.parametrize(
    ("nodeid", "unit"),
    [
        ("notebooks/01_softmax_basics.ipynb::Cell 3", "notebooks/01_softmax_basics.ipynb"),
        ("tests/test_numerics.py::test_softmax[0-1]", "tests/test_numerics.py"),
        (
            "tests/browser/test_browser_notebooks.py::test_notebook_runs_clean[notebook7-02_temperature]",
            "tests/browser/test_browser_notebooks.py::notebook7",
        ),
        (
            "tests/browser/test_browser_explorers.py::test_cross_entropy_target_dropdown[jupyterlab]",
            "tests/browser/test_browser_explorers.py::jupyterlab",
        ),
        (
            "tests/browser/test_browser_explorers.py::test_x[softmax-explorer-jupyterlab]",
            "tests/browser/test_browser_explorers.py::jupyterlab",
        ),
    ],
)
def test_make_test_keeps_each_notebook_and_file_on_one_worker(nodeid, unit):
    assert _root_conftest().work_unit(nodeid) == unit


def _root_conftest():
    import importlib.util

    # By path: "conftest" in sys.modules may be any of the suite's conftest files.
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    return root_conftest


def test_the_longest_units_go_first_and_each_unit_stays_whole():
    from types import SimpleNamespace

    conftest = _root_conftest()
    for unit in conftest.LONGEST_FIRST:  # a renamed file must not drop out of the list unnoticed
        assert (ROOT / unit.split("::")[0]).is_file(), unit
    nodeids = [
        "notebooks/01_softmax_basics.ipynb::Cell 0",
        "tests/test_numerics.py::test_a",
        "tests/browser/test_browser_notebooks.py::test_notebook_runs_clean[jupyterlab-01_softmax_basics]",
        "tests/browser/test_browser_notebooks.py::test_notebook_runs_clean[notebook7-01_softmax_basics]",
        "tests/test_classroom.py::test_a",
        "tests/test_numerics.py::test_b",
        "tests/test_classroom.py::test_b",
    ]
    items = [SimpleNamespace(nodeid=n) for n in nodeids]
    conftest.pytest_collection_modifyitems(None, SimpleNamespace(), items)  # one process: unchanged
    assert [item.nodeid for item in items] == nodeids
    conftest.pytest_collection_modifyitems(None, SimpleNamespace(workerinput={}), items)
    assert [item.nodeid for item in items] == [nodeids[i] for i in (4, 6, 2, 3, 0, 1, 5)]

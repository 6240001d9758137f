"""Cheating submissions for notebook 01, one per kind of attack, each with the score an honest judge gives.

Every submission's ``my_softmax`` is the naive formula (no maximum subtracted): an honest judge
gives it ``values`` and ``batch`` (2 points) and nothing for ``extreme``. Around it, each
submission tries one way to change its grade or to harm the class. The solution cell is written
as a student would write it (``SOLUTION`` text replaces the whole cell).
"""

NAIVE = """
def my_softmax(z):
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)
"""

HONEST = {"my_softmax_values": 1.0, "my_softmax_batch": 1.0, "my_softmax_extreme": 0.0}
NOTHING = {"my_softmax_values": 0.0, "my_softmax_batch": 0.0, "my_softmax_extreme": 0.0}

#: name -> (solution cell source, expected points per grade cell, words the feedback must show)
CORPUS = {
    "patch_grade": (
        NAIVE
        + """
import lab_utils.checks
lab_utils.checks.grade = lambda *args, **kwargs: None
grade = lambda *args, **kwargs: None
""",
        HONEST,
        [],
    ),
    "patch_every_lab_function": (
        NAIVE
        + """
import sys, types
for _name, _module in list(sys.modules.items()):
    if _name.startswith("lab_utils") and isinstance(_module, types.ModuleType):
        for _attr, _value in list(vars(_module).items()):
            if callable(_value) and not isinstance(_value, type):
                try:
                    setattr(_module, _attr, lambda *args, **kwargs: None)
                except Exception:
                    pass
""",
        HONEST,
        [],
    ),
    "patch_numpy": (
        NAIVE
        + """
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
""",
        HONEST,
        [],
    ),
    "hide_tracebacks": (
        NAIVE
        + """
import sys
ip = get_ipython()
ip.showtraceback = lambda *args, **kwargs: None
ip._showtraceback = lambda *args, **kwargs: None
sys.excepthook = lambda *args: None
""",
        HONEST,
        [],
    ),
    # Looks each input up in the lab's case table during the call: the grader's inputs are
    # shuffled with a secret seed, so the lookup misses and the naive code is graded.
    "read_expected_answers": (
        """
def my_softmax(z):
    from lab_utils import checks
    for part in checks.CASES["my_softmax"].values():
        for case in part:
            if np.shape(case.inputs[0][1]) == np.shape(z) and np.array_equal(case.inputs[0][1], z):
                return case.expected
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)
""",
        HONEST,
        [],
    ),
    "lookup_table": (
        """
from lab_utils.checks import CASES

_table = {}
for _cases in CASES["my_softmax"].values():
    for _case in _cases:
        _z = _case.inputs[0][1]
        _table[(_z.dtype.str, _z.shape, _z.tobytes())] = _case.expected

def my_softmax(z):
    z = np.asarray(z)
    key = (z.dtype.str, z.shape, z.tobytes())
    if key in _table:
        return _table[key]
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)
""",
        HONEST,
        [],
    ),
    "read_instructor_files": (
        NAIVE
        + """
import glob, os
_found = []
for _pattern in ("../../../source/*/*.ipynb", "../../../release/*/*.ipynb", "../../../gradebook.db",
                 os.path.join(os.path.dirname(__import__("lab_utils").__file__), "..", "notebooks", "*.ipynb")):
    _found += glob.glob(_pattern)
print("instructor files visible:", len(_found))
""",
        HONEST,
        [],
    ),
    "scipy_shortcut": (
        """
from scipy.special import softmax as _softmax

def my_softmax(z):
    return _softmax(z, axis=-1)
""",
        NOTHING,
        ["scipy.special"],
    ),
    "lab_utils_shortcut": (
        """
import lab_utils

def my_softmax(z):
    return lab_utils.softmax(z)
""",
        NOTHING,
        ["lab_utils.numerics.softmax"],
    ),
    "exits": (
        NAIVE
        + """
import os
os._exit(0)
""",
        NOTHING,
        ["kernel stopped"],
    ),
    "infinite_loop": (
        """
def my_softmax(z):
    while np.max(np.abs(z)) > 100:
        pass
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)
""",
        {"my_softmax_values": 1.0, "my_softmax_batch": 0.0, "my_softmax_extreme": 0.0},
        ["time limit"],
    ),
    "memory_bomb": (
        """
def my_softmax(z):
    if np.max(np.abs(z)) > 100:
        hoard = []
        while True:
            hoard.append(np.ones(2**27))
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)
""",
        {"my_softmax_values": 1.0, "my_softmax_batch": 0.0, "my_softmax_extreme": 0.0},
        ["MemoryError"],
    ),
    "vandal": (
        NAIVE
        + """
import glob, os
for _path in ["../../../gradebook.db", *glob.glob("../../../submitted/*/*/*.ipynb"),
              *glob.glob("../../*/*/*.ipynb"), *glob.glob("../../../source/*/*.ipynb")]:
    try:
        with open(_path, "w") as _handle:
            _handle.write("")
    except OSError:
        pass
""",
        HONEST,
        [],
    ),
    "network": (
        NAIVE
        + """
import os, socket
try:
    socket.create_connection(("127.0.0.1", TEST_PORT), timeout=2)
    print("connected")
except OSError as error:
    print("no network:", type(error).__name__)
""",
        HONEST,
        [],
    ),
}

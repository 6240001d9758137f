"""lab_utils.runner: plain data both ways, and the call monitor that spots library shortcuts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lab_utils import runner
from lab_utils.exercises.base import Opaque

arrays = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.int64, np.bool_]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
)


@given(arrays)
def test_arrays_come_back_bit_for_bit_through_json(array):
    back = runner.decode(json.loads(json.dumps(runner.encode(array))))
    assert isinstance(back, np.ndarray) and back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == array.tobytes()


def test_nested_values_and_non_finite_floats_round_trip():
    value = (1.5, float("nan"), [np.float64(np.inf), None, "text", True], {"w": np.eye(2)})
    back = runner.decode(json.loads(json.dumps(runner.encode(value))))
    assert (
        back[0] == 1.5
        and np.isnan(back[1])
        and back[2][0] == np.inf
        and back[2][1:] == [None, "text", True]
    )
    np.testing.assert_array_equal(back[3]["w"], np.eye(2))


def test_objects_are_described_never_pickled():
    class Weird:
        def __repr__(self):
            return "<weird>"

    assert runner.decode(runner.encode(Weird()), Opaque) == Opaque("Weird", "<weird>")
    assert runner.encode(np.array([object()], dtype=object))["__opaque__"] == "ndarray"
    with pytest.raises(ValueError, match="refusing"):
        runner.decode({"__ndarray__": "", "dtype": "|O", "shape": [0]})


def test_a_call_reaching_scipy_or_lab_utils_is_named():
    from scipy import special

    import lab_utils

    z = np.array([1.0, 2.0])
    assert runner.call(lambda v: special.softmax(v), [z], watch=True)["forbidden"] == [
        "scipy.special._logsumexp.softmax"
    ]
    assert runner.call(lambda v: lab_utils.softmax(v), [z], watch=True)["forbidden"] == [
        "lab_utils.numerics.softmax"
    ]
    assert runner.call(lambda v: np.exp(v) / np.exp(v).sum(), [z], watch=True)["status"] == "ok"


def test_allowed_lab_modules_are_not_shortcuts():
    from lab_utils import datasets

    outcome = runner.call(
        lambda: datasets.make_blob_data(n_samples=8, seed=0),
        [],
        watch=True,
        allowed=("lab_utils.datasets",),
    )
    assert outcome["status"] == "ok"


def test_switching_the_monitor_off_is_itself_reported():
    import sys

    def sneaky(v):
        sys.setprofile(None)
        return v

    assert "switched off" in runner.call(sneaky, [np.zeros(2)], watch=True)["forbidden"][0]


def test_a_call_gets_fresh_copies_and_reports_what_it_raised():
    z = np.ones(3)

    def scribble(v):
        v[:] = 7
        raise ValueError("bad shape")

    outcome = runner.call(scribble, [z])
    assert outcome["status"] == "error" and outcome["error"] == "raised ValueError: bad shape"
    np.testing.assert_array_equal(z, np.ones(3))
    assert (
        runner.call(lambda: (_ for _ in ()).throw(NotImplementedError()), [])["status"]
        == "not_written"
    )

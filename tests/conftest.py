"""Fixtures shared by every test module (pytest finds this file itself; nothing imports it)."""

from __future__ import annotations

import warnings

import pytest


@pytest.fixture
def no_warnings():
    """Turn every warning into an error inside the test (on top of pyproject's RuntimeWarning rule):
    a warning is a line of noise in a student's notebook."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield

"""Softmax Lab's tests (a package, so that shared helpers import as ``tests.…``: the browser helpers
in :mod:`tests.browser.browser_support` are also used by ``benchmarks/browser_latency.py``)."""

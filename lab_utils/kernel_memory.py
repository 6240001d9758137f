"""Hand memory a cell freed back to the operating system, so a kernel holds no more than it uses.

glibc's allocator keeps freed memory for later reuse instead of returning it; after a TensorFlow
training cell a kernel can sit on tens of MB it no longer needs, counted against a student's memory
limit until the kernel stops. Loaded as an IPython extension (``binder/ipython_kernel_config.py``,
installed by ``binder/postBuild`` for Binder and hubs built from ``binder/``), it calls
``malloc_trim(0)`` after every executed cell. Elsewhere (macOS, Windows, musl) it does nothing.
benchmarks/student_memory.py measures the difference.
"""

from __future__ import annotations

import ctypes
import sys


def _malloc_trim():
    """glibc's ``malloc_trim``, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    return trim


def load_ipython_extension(ipython) -> None:
    """Register the trim after each cell (``%load_ext lab_utils.kernel_memory``).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> registered = []
    >>> shell = SimpleNamespace(events=SimpleNamespace(register=lambda event, f: registered.append(event)))
    >>> load_ipython_extension(shell)
    >>> registered == (["post_execute"] if _malloc_trim() is not None else [])
    True
    """
    trim = _malloc_trim()
    if trim is not None:
        ipython.events.register("post_execute", lambda: trim(0))

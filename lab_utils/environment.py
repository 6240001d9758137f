"""The one place where TensorFlow is told to be quiet, and the lazy way to import it.

TensorFlow reads its logging settings from the environment when it is first imported, so they are set
here, when ``lab_utils`` is imported, without importing TensorFlow itself (that costs seconds and
hundreds of MB, and the NumPy parts of the lab never need it).

Examples
--------
>>> configure_tensorflow_environment()          # done by ``import lab_utils`` already
>>> os.environ["KERAS_BACKEND"]
'tensorflow'
>>> import sys
>>> "tensorflow" in sys.modules                 # set up, but not imported
False
"""

from __future__ import annotations

import logging
import os
import types
import warnings

# Values are set only when the user has not chosen their own (``setdefault``).
TENSORFLOW_ENVIRONMENT = {
    # Hide the C++ INFO/WARNING lines TensorFlow prints at start-up and on first use of each op.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    # oneDNN custom ops announce themselves on stderr and reorder float sums between runs; turning
    # them off keeps notebook outputs clean and bit-for-bit repeatable on a CPU.
    "TF_ENABLE_ONEDNN_OPTS": "0",
    # Keras 3 runs on TensorFlow in this lab.
    "KERAS_BACKEND": "tensorflow",
}


def configure_tensorflow_environment() -> None:
    """Set TensorFlow's logging environment variables, unless already set. Cheap; imports nothing."""
    for name, value in TENSORFLOW_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def import_tensorflow() -> types.ModuleType:
    """Import TensorFlow quietly and return the module.

    Use this (or a plain ``import tensorflow as tf`` after ``import lab_utils``) where a model is
    built; it is never called when ``lab_utils`` is imported.

    Returns
    -------
    module
        The ``tensorflow`` module, with its Python logger and Keras' progress warnings turned down.
    """
    configure_tensorflow_environment()
    with warnings.catch_warnings():
        # Some TensorFlow and Keras submodules warn about deprecations of their own dependencies
        # while importing; students cannot act on those.
        warnings.simplefilter("ignore")
        import tensorflow as tf
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    tf.autograph.set_verbosity(0)
    return tf

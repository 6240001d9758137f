"""``python -m lab_utils.grading autograde``: only runs :func:`.parallel.main` (see its example)."""

import sys

from .parallel import main

if __name__ == "__main__":
    if sys.argv[1:2] != ["autograde"]:
        print(
            "usage: python -m lab_utils.grading autograde ASSIGNMENT [--workers W] [--force]",
            file=sys.stderr,
        )
        sys.exit(2)
    sys.exit(main(sys.argv[2:]))

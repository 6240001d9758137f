"""Start a grading kernel under resource limits, optionally as an unprivileged user.

Run as a script (not imported through lab_utils, so it loads nothing else) by the sandbox, inside
bubblewrap or, where bubblewrap is missing, directly:

    python launch.py --cpu 1800 --memory 6442450944 --nproc 512 [--uid 65534 --gid 65534] -- CMD...

It sets RLIMIT_CPU (seconds of CPU), RLIMIT_AS (bytes of address space) and RLIMIT_NPROC (processes
and threads of the user), drops to ``uid``/``gid`` when given (only root can), and then replaces
itself with CMD, the kernel.

Examples
--------
>>> import subprocess
>>> show = ("import resource as r; cpu, memory = r.getrlimit(r.RLIMIT_CPU), r.getrlimit(r.RLIMIT_AS);"
...         " print(cpu[0] <= 60, cpu[1] <= 65, memory[0] <= 2**31)")
>>> limits = ["--cpu", "60", "--memory", str(2**31), "--nproc", "4096"]
>>> child = subprocess.run(
...     [sys.executable, __file__, *limits, "--", sys.executable, "-c", show],
...     capture_output=True, text=True, check=True,
... )
>>> print(child.stdout, end="")   # CPU limits 60 s (SIGXCPU) and 65 s (SIGKILL), 2 GiB at most
True True True
"""

import argparse
import os
import resource
import sys


def _limit(which: int, soft: int, hard: int | None = None) -> None:
    hard = soft if hard is None else hard
    current_soft, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(which, (soft, hard))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpu", type=int, required=True)
    parser.add_argument("--memory", type=int, required=True)
    parser.add_argument("--nproc", type=int, required=True)
    parser.add_argument("--uid", type=int)
    parser.add_argument("--gid", type=int)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    _limit(resource.RLIMIT_CPU, args.cpu, args.cpu + 5)  # SIGXCPU first, SIGKILL 5 s later
    _limit(resource.RLIMIT_AS, args.memory)
    _limit(resource.RLIMIT_CORE, 0)
    if args.gid is not None:
        os.setgroups([])
        os.setgid(args.gid)
    if args.uid is not None:
        os.setuid(args.uid)  # from root this also clears every capability
    # RLIMIT_NPROC counts the user's processes; set it once we are that user.
    _limit(resource.RLIMIT_NPROC, args.nproc)
    if os.environ.get("HOME"):
        os.makedirs(os.environ["HOME"], exist_ok=True)
    os.execvp(command[0], command)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

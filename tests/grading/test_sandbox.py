"""The sandbox's parts, fast: the bubblewrap command, the resource limits, what a sandboxed process can do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab_utils.grading import parallel, sandbox

LAUNCH = Path(sandbox.__file__).with_name("launch.py")


def _need_bwrap():
    if shutil.which("bwrap") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("bubblewrap (bwrap) is missing: .ci/run installs it")
        pytest.skip("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")


def _sandboxed(tmp_path: Path, code: str, hidden: list[str]) -> subprocess.CompletedProcess:
    staging = tmp_path / "staging"
    exchange, work = staging / "exchange", staging / "work"
    for folder in (exchange, work):
        folder.mkdir(parents=True)
    os.chmod(tmp_path, 0o755)
    os.chmod(staging, 0o755)
    user = sandbox.sandbox_user()
    if user is not None:
        for folder in (exchange, work):
            os.chown(folder, *user)
    command = sandbox.bwrap_command(
        [sys.executable, "-c", code],
        work_dir=str(tmp_path / "course" / "student"),
        work_copy=str(work),
        exchange_dir=str(exchange),
        hidden=hidden,
        env={"HOME": "/tmp/home", "PATH": "/usr/bin:/bin"},
        limits={
            "cpu": 60,
            "memory": 4 * 2**30,
            "nproc": 256 + sandbox.count_processes(user[0] if user else os.getuid()),
        },
        user=user,
    )
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_command_shares_nothing_writable_but_the_students_copy(tmp_path):
    _need_bwrap()
    command = sandbox.bwrap_command(
        ["python"],
        work_dir="/c/autograded/s/a",
        work_copy="/x/work",
        exchange_dir="/x/ex",
        hidden=[str(tmp_path)],
        env={"HOME": "/tmp/home"},
        limits={"cpu": 1, "memory": 2, "nproc": 3},
        user=None,
    )
    text = " ".join(command)
    for flag in (
        "--unshare-net",
        "--unshare-pid",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--ro-bind / /",
        "--tmpfs /tmp",
        f"--tmpfs {tmp_path}",
        "--bind /x/work /c/autograded/s/a",
    ):
        assert flag in text, flag
    assert [a for i, a in enumerate(command) if command[i - 1] == "--bind"] == ["/x/work", "/x/ex"]


def test_launch_sets_the_limits_before_running_the_kernel():
    code = "import resource as r; print(r.getrlimit(r.RLIMIT_CPU)[0], r.getrlimit(r.RLIMIT_AS)[0], r.getrlimit(r.RLIMIT_NPROC)[0])"
    nproc = 100000
    result = subprocess.run(
        [
            sys.executable,
            str(LAUNCH),
            "--cpu",
            "77",
            "--memory",
            str(3 * 2**30),
            "--nproc",
            str(nproc),
            "--",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    cpu, memory, processes = map(int, result.stdout.split())
    assert (cpu, memory) == (77, 3 * 2**30) and processes <= nproc


def test_a_sandboxed_process_sees_no_course_no_network_and_writes_only_its_copy(tmp_path):
    _need_bwrap()
    course = tmp_path / "course"
    (course / "student").mkdir(parents=True)
    (course / "gradebook.db").write_text("grades")
    code = """
import os, socket
print("course:", sorted(os.listdir("..")))
try:
    open("../gradebook.db").read(); print("gradebook: read")
except OSError:
    print("gradebook: hidden")
open("mine.txt", "w").write("ok"); print("own folder: written")
try:
    open("/usr/evil.txt", "w"); print("system: written")
except OSError:
    print("system: read-only")
s = socket.socket(); s.settimeout(2)
print("network:", "reached" if s.connect_ex(("1.1.1.1", 80)) == 0 else "none")
"""
    result = _sandboxed(tmp_path, code, hidden=[str(course)])
    assert result.returncode == 0, result.stderr
    assert "course: ['student']" in result.stdout
    assert "gradebook: hidden" in result.stdout and "own folder: written" in result.stdout
    assert "system: read-only" in result.stdout and "network: none" in result.stdout
    assert (tmp_path / "staging" / "work" / "mine.txt").read_text() == "ok"
    assert not (course / "student" / "mine.txt").exists()
    assert (course / "gradebook.db").read_text() == "grades"


def test_a_memory_bomb_meets_the_address_space_limit(tmp_path):
    _need_bwrap()
    code = "import numpy as np\ntry:\n    np.ones(2**33)\nexcept MemoryError:\n    print('MemoryError')"
    result = _sandboxed(tmp_path, code, hidden=[])
    assert "MemoryError" in result.stdout, result.stderr


def test_parallel_grading_refuses_a_bad_worker_count(capsys):
    with pytest.raises(SystemExit):
        parallel.main(["01_softmax_basics", "--workers", "0"])
    assert "--workers must be at least 1, got 0" in capsys.readouterr().err


def test_parallel_grading_finds_the_submitted_students(tmp_path):
    for student in ("bob", "alice"):
        (tmp_path / "submitted" / student / "01_softmax_basics").mkdir(parents=True)
    (tmp_path / "submitted" / "carol" / "02_temperature").mkdir(parents=True)
    assert parallel.submitted_students(tmp_path, "01_softmax_basics") == ["alice", "bob"]
    assert parallel.main(["03_cross_entropy", "--course", str(tmp_path)]) == 2

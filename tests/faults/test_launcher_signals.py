"""Operators stop the stack with signals: a repeated SIGTERM (a supervisor, an impatient
Ctrl-C) must not abort the stop half-way and leave the broker or a service running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from deploy.stack.launcher import SERVICES


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but was not reaped yet is a zombie: it runs nothing.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"


def test_a_second_sigterm_while_stopping_leaves_no_process_behind(tmp_path: Path) -> None:
    launcher = subprocess.Popen(
        [sys.executable, "-m", "deploy.cli", "up", "--free-ports", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert launcher.stdout is not None
    deadline = time.monotonic() + 120
    seen = []
    for line in launcher.stdout:  # ends when the launcher dies (the assertion below says why)
        seen.append(line)
        if "running; press Ctrl-C" in line or time.monotonic() > deadline:
            break
    assert "running; press Ctrl-C" in "".join(seen), "".join(seen)
    started = children(launcher.pid)
    assert len(started) == 1 + len(SERVICES), started  # the broker and every service

    launcher.send_signal(signal.SIGTERM)
    for line in launcher.stdout:  # "stopping": the stop has begun; the next signal lands in it
        if line.startswith("stopping"):
            break
    launcher.send_signal(signal.SIGTERM)
    launcher.wait(timeout=60)

    stop_by = time.monotonic() + 10
    while any(alive(pid) for pid in started) and time.monotonic() < stop_by:
        time.sleep(0.1)
    assert [pid for pid in started if alive(pid)] == []

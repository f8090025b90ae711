"""`skillbridge bench --profile`: py-spy samples each service while the run goes on and
writes a flame graph (SVG) per service next to the run's JSON figures."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

SAMPLES_PER_S = 100  # py-spy's default; low enough not to slow the services noticeably


def py_spy() -> str | None:
    """The py-spy executable (a dev dependency), beside this interpreter or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.is_file() else shutil.which("py-spy")


@contextmanager
def profiling(pids: Mapping[str, int], stem: Path) -> Iterator[dict[str, Path]]:
    """Sample each pid (name -> pid) into `<stem>-<name>.svg` until the block ends; yields
    the paths written (filled in once the block ends). Without py-spy, says so and samples
    nothing: a profile is an aid, the figures are the run."""
    written: dict[str, Path] = {}
    executable = py_spy()
    if executable is None:
        print("--profile: py-spy not found (pip install py-spy); no flame graphs")
        yield written
        return
    running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    for name, pid in pids.items():
        path = stem.with_name(f"{stem.name}-{name}.svg")
        path.parent.mkdir(parents=True, exist_ok=True)
        argv = [executable, "record", "--pid", str(pid), "--output", str(path)]
        argv += ["--format", "flamegraph", "--rate", str(SAMPLES_PER_S), "--nonblocking"]
        with path.with_suffix(".log").open("wb") as log:  # the child keeps its own handle
            running[name] = (subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT), path)
    try:
        yield written
    finally:
        for process, _ in running.values():
            process.send_signal(signal.SIGINT)  # py-spy writes the graph on Ctrl-C
        for name, (process, path) in running.items():
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
            if path.is_file():
                written[name] = path
                path.with_suffix(".log").unlink(missing_ok=True)
            else:
                print(f"--profile: no flame graph for {name}; see {path.with_suffix('.log')}")

"""CPU seconds of processes, read from /proc: the driver's share of what a run cost.

The throughput figure means something only if the driver (this process) was not the
bottleneck, so the bench prints how much of the CPU it used beside the services and broker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def parse_stat(line: str, ticks: int = TICKS) -> float:
    """User + system CPU seconds from a /proc/<pid>/stat line. The command name (field 2)
    may hold spaces and parentheses, so fields are counted after its closing one."""
    fields = line[line.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of the whole line
    return (utime + stime) / ticks


def cpu_seconds(pid: int) -> float | None:
    """The process's CPU seconds so far, or None when it is gone or /proc is absent."""
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class CpuMeter:
    """CPU used by the driver and by named processes between `start` and `stop`."""

    pids: Mapping[str, int]  # name -> pid (services, broker)
    started: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)  # name -> CPU seconds
    wall_s: float = 0.0
    _t0: float = 0.0

    def _now(self) -> dict[str, float]:
        now = {"driver": time.process_time()}
        for name, pid in self.pids.items():
            seconds = cpu_seconds(pid)
            if seconds is not None:
                now[name] = seconds
        return now

    def start(self) -> None:
        self.started = self._now()
        self._t0 = time.monotonic()

    def stop(self) -> None:
        self.wall_s = time.monotonic() - self._t0
        now = self._now()
        self.used = {k: now[k] - v for k, v in self.started.items() if k in now}

    def shares(self) -> dict[str, float]:
        """Each one's part of all the CPU the run used (0..1)."""
        total = sum(self.used.values())
        return {k: v / total for k, v in self.used.items()} if total > 0 else {}

    def of_machine(self, name: str) -> float:
        """Its CPU over the wall time and all cores (0..1)."""
        cores = os.cpu_count() or 1
        return self.used.get(name, 0.0) / max(self.wall_s * cores, 1e-9)

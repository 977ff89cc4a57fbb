"""How much CPU a sandbox's cell got, from the kernel's own accounting of the container's cgroup.

A cell that runs out of time on an overloaded host did not fail the way a slow solution
fails: it wanted the CPU and waited for it.  Two counters tell the cases apart:

* CPU time used by the container: ``cpuacct.usage`` (cgroup v1) or ``usage_usec`` in
  ``cpu.stat`` (cgroup v2), read from the cgroup the container's init belongs to;
* time its threads sat runnable in a run queue without a CPU: the second field of
  ``/proc/<tid>/schedstat`` summed over the cgroup's threads (``tasks`` / ``cgroup.threads``).

A cell that sleeps or waits for I/O uses little CPU and waits little; a starved one uses
little and waits a lot.  Where the wait cannot be read, the host's load average stands in.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# a timed-out cell is load-suspect when it got less than this share of the CPU it was promised ...
STARVED_SHARE = 0.5
# ... and its threads spent at least this share of the cell's wall time runnable but waiting
WAITED_SHARE = 0.25


@dataclass(frozen=True)
class CpuSample:
    usage: float  # CPU seconds used by the cgroup so far
    waited: float | None  # seconds its live threads have waited in a run queue (None: unreadable)
    at: float  # time.monotonic() of the sample


@dataclass(frozen=True)
class CellCpu:
    """The CPU a cell got over its wall time, and what it was promised (the sandbox's ``--cpus``)."""

    seconds: float
    wall: float
    promised: float
    waited: float | None = None
    host_load: float | None = None  # the host's 1-minute load average per core at the end

    @property
    def share(self) -> float:
        """CPUs the cell had on average (1.0 = one whole core)."""
        return self.seconds / self.wall if self.wall > 0 else 0.0

    def starved(self) -> bool:
        """Whether the cell got well under its promised CPU because the host gave it no more."""
        if self.wall <= 0 or self.share >= STARVED_SHARE * self.promised:
            return False
        if self.waited is not None:
            return self.waited >= WAITED_SHARE * self.wall
        return self.host_load is not None and self.host_load > 1.0

    def to_dict(self) -> dict[str, float | None]:
        return {"cpu_seconds": round(self.seconds, 3), "cpu_share": round(self.share, 3),
                "cpu_promised": self.promised, "cpu_waited": None if self.waited is None else round(self.waited, 3),
                "host_load": None if self.host_load is None else round(self.host_load, 2)}


def cgroup_dirs(pid: int) -> tuple[Path, Path] | None:
    """The CPU-accounting folder of the cgroup ``pid`` is in, and the file listing its threads."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "cpuacct" in controllers.split(","):
            for mount in ("cpuacct", "cpu,cpuacct", "cpuacct,cpu"):
                folder = CGROUP_ROOT / mount / path.lstrip("/")
                if (folder / "cpuacct.usage").is_file():
                    return folder, folder / "tasks"
    for line in lines:
        if line.startswith("0::"):
            folder = CGROUP_ROOT / line[3:].lstrip("/")
            if (folder / "cpu.stat").is_file():
                return folder, folder / "cgroup.threads"
    return None


def _read(path: Path | str) -> str:
    """A small kernel file's text, with plain system calls: a vector step samples many of them per cell."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 65536).decode()
    finally:
        os.close(fd)


def _usage(folder: Path) -> float:
    try:
        return int(_read(folder / "cpuacct.usage")) / 1e9
    except FileNotFoundError:
        pass
    for line in _read(folder / "cpu.stat").splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value) / 1e6
    raise OSError(f"no CPU usage in {folder}")


def _waited(threads: Path) -> float | None:
    try:
        tids = _read(threads).split()
    except OSError:
        return None
    total, seen = 0, 0
    for tid in tids:
        try:
            fields = _read(f"/proc/{tid}/schedstat").split()
        except OSError:
            continue  # ended meanwhile
        total += int(fields[1])
        seen += 1
    return total / 1e9 if seen else None


def sample(pid: int, found: tuple[Path, Path] | None = None) -> CpuSample | None:
    """The cgroup's counters now (None when they cannot be read here: another OS, no access).

    ``found``: ``cgroup_dirs(pid)`` looked up once by the caller (a sandbox's init never moves).
    """
    found = found or cgroup_dirs(pid)
    if found is None:
        return None
    folder, threads = found
    try:
        return CpuSample(_usage(folder), _waited(threads), time.monotonic())
    except (OSError, ValueError):
        return None


def between(before: CpuSample | None, after: CpuSample | None, promised: float) -> CellCpu | None:
    """What a cell got between two samples of its sandbox's cgroup."""
    if before is None or after is None:
        return None
    waited = None
    if before.waited is not None and after.waited is not None:
        waited = max(0.0, after.waited - before.waited)  # threads that ended take their wait with them
    try:
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:
        load = None
    return CellCpu(seconds=max(0.0, after.usage - before.usage), wall=after.at - before.at, promised=promised,
                   waited=waited, host_load=load)

"""Admission control: how many episodes this machine runs at once, and each sandbox's CPU share.

A score must not depend on how many episodes shared the machine.  So the runner compares
what was asked (``--concurrency``) with what fits: the host's cores and memory against what
one episode needs.  (On Ray, Ray's own accounting admits episodes: ``--ray-cpus`` each.)  A suite declares its needs in its
manifest (``"resources": {"cpus": 1, "memory": "3g", "cpu_heavy": true}``); otherwise its
sandbox image's defaults apply (``IMAGE_NEEDS``: the bio and predict images' work, and their official
counterparts', is CPU-heavy).  Asking for more than fits warns; CPU-heavy episodes are then held to what the
cores fit (the others still run at the asked concurrency: they mostly wait for a model)
unless ``overcommit``.  Each sandbox gets ``--cpus`` (default: the suite's ``cpus``, at most
the host's cores), a hard cap so one heavy episode cannot take the others' CPU.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GIB = 1 << 30
MEMORY_HEADROOM = 0.8  # share of the host's memory sandboxes may take together


@dataclass(frozen=True)
class Needs:
    """What one episode of a suite needs of the machine."""

    cpus: float = 1.0
    memory: str = "2g"  # Docker's units
    cpu_heavy: bool = False

    @property
    def memory_bytes(self) -> int:
        return parse_bytes(self.memory)


IMAGE_NEEDS = {"default": Needs(), "bio": Needs(1.0, "3g", True), "predict": Needs(1.0, "3g", True),
               "official-analysis": Needs(), "official-bio": Needs(1.0, "3g", True),
               "official-kaggle": Needs(1.0, "3g", True)}


@dataclass(frozen=True)
class Capacity:
    cores: float
    memory: int  # bytes
    source: str = "host"  # or "ray"


@dataclass
class Admission:
    """The runner's plan: how many episodes in flight, how many CPU-heavy ones, each sandbox's CPUs."""

    concurrency: int
    heavy_limit: int | None  # most CPU-heavy episodes in flight (None: no limit, --overcommit)
    cpus: float  # per sandbox
    capacity: Capacity
    fits: int  # episodes the machine runs at once without overcommitting
    overcommit: bool = False
    warnings: list[str] = field(default_factory=list)

    def conditions(self) -> dict[str, Any]:
        """What each record carries about the load it ran under."""
        return {"concurrency": self.concurrency, "host_cpus": self.capacity.cores, "sandbox_cpus": self.cpus,
                "heavy_limit": self.heavy_limit, "overcommit": self.overcommit}


def parse_bytes(size: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    text = str(size).strip().lower().rstrip("b")
    try:
        return int(float(text[:-1]) * units[text[-1]]) if text and text[-1] in units else int(text)
    except ValueError:
        raise ValueError(f"not a size: {size!r} (use Docker's units: 512m, 3g)") from None


def suite_needs(suite: Any) -> Needs:
    """A suite's declared ``resources``, over its image's defaults; a bad declaration is a clear error."""
    base = IMAGE_NEEDS.get(getattr(suite, "image", "default"), Needs())
    declared = getattr(suite, "resources", None) or {}
    unknown = set(declared) - {"cpus", "memory", "cpu_heavy"}
    if unknown:
        raise ValueError(f"suite {suite.name}: unknown resources {sorted(unknown)} (known: cpus, memory, cpu_heavy)")
    cpus = declared.get("cpus", base.cpus)
    if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or not cpus > 0:
        raise ValueError(f"suite {suite.name}: resources.cpus must be a positive number, not {cpus!r}")
    memory = str(declared.get("memory", base.memory))
    parse_bytes(memory)
    return Needs(float(cpus), memory, bool(declared.get("cpu_heavy", base.cpu_heavy)))


def host_capacity() -> Capacity:
    """The cores this process may use (its affinity, within a cgroup CPU quota) and the host's memory."""
    try:
        cores: float = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, quota)
    return Capacity(cores=float(cores), memory=_memory_total())


def plan(concurrency: int, needs: list[Needs], capacity: Capacity | None = None, *,
         cpus: float | None = None, overcommit: bool = False) -> Admission:
    """Compare the asked concurrency with what fits; the warnings say what happens instead."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if cpus is not None and not cpus > 0:
        raise ValueError(f"--cpus must be a positive number of CPUs per sandbox, not {cpus!r}")
    capacity = capacity or host_capacity()
    worst = Needs(max((n.cpus for n in needs), default=1.0),
                  f"{max((n.memory_bytes for n in needs), default=2 * GIB)}",
                  any(n.cpu_heavy for n in needs))
    share = min(cpus if cpus is not None else worst.cpus, capacity.cores)
    by_cpu = max(1, math.floor(capacity.cores / share + 1e-9))
    by_memory = max(1, math.floor(capacity.memory * MEMORY_HEADROOM / worst.memory_bytes)) if capacity.memory else by_cpu
    fits = min(by_cpu, by_memory)
    admission = Admission(concurrency=concurrency, heavy_limit=None, cpus=share, capacity=capacity, fits=fits,
                          overcommit=overcommit)
    if concurrency <= fits:
        return admission
    why = (f"{capacity.cores:g} cores / {share:g} CPU per sandbox" if by_cpu <= by_memory else
           f"{capacity.memory / GIB:.0f} GiB x {MEMORY_HEADROOM:.0%} / {worst.memory} per episode")
    message = f"--concurrency {concurrency} is more than this machine runs at once ({fits}: {why})"
    if overcommit:
        message += ("; --overcommit: all run at once, so cells may run out of time for want of CPU "
                    "(such episodes are marked load_suspect, left out of the scores and retried once)")
    elif worst.cpu_heavy:
        admission.heavy_limit = fits
        message += (f"; CPU-heavy episodes (bio, predict) run at most {fits} at a time, the others "
                    f"{concurrency} (--overcommit to run them all at once)")
    else:
        message += "; sandboxes share the cores, so a busy cell may run out of time (marked load_suspect)"
    admission.warnings.append(message)
    return admission


def _cgroup_cpu_quota() -> float | None:
    """The CPU quota of this process's own cgroup (in a container), if any."""
    try:
        text = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 else None
    except (OSError, ValueError):
        return None


def _memory_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0

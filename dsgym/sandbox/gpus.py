"""GPUs for prediction sandboxes: ``--gpus all`` or ``--gpus 0,2`` (indexes or UUIDs), off by default.

Docker hands a container GPUs through a *device request* (what ``docker run --gpus`` sends):
the daemon asks the NVIDIA Container Toolkit to mount the devices and driver libraries.  The
request is checked against the host before any work (``require``), so a run on a machine
without GPUs stops at once instead of failing every episode at container start.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import docker

ALL = "all"
# an index (0) or an NVIDIA UUID (GPU-1a2b...); MIG devices (MIG-...) are named the same way
_DEVICE = re.compile(r"^(\d+|(GPU|MIG)-[0-9A-Za-z-]+)$")


class GpuError(ValueError):
    """A ``--gpus`` value that is malformed, or asks for GPUs this host does not have."""


def normalize(gpus: str | None) -> str | None:
    """``"all"`` or a comma-separated list of device indexes/UUIDs, in a canonical form; None: no GPUs."""
    if gpus is None:
        return None
    text = str(gpus).strip()
    if text.lower() == ALL:
        return ALL
    devices = [part.strip() for part in text.split(",")]
    if not text or not all(_DEVICE.match(device) for device in devices):
        raise GpuError(f"--gpus must be 'all' or a comma-separated list of GPU indexes or UUIDs (0,1 or "
                       f"GPU-<uuid>), not {gpus!r}")
    if len(set(devices)) != len(devices):
        raise GpuError(f"--gpus names a device twice: {gpus!r}")
    return ",".join(devices)


def device_requests(gpus: str | None) -> list[docker.types.DeviceRequest]:
    """The Docker device requests for ``gpus`` (the same that ``docker run --gpus`` sends)."""
    import docker.types  # here: the CLI reads --gpus without loading the Docker SDK

    gpus = normalize(gpus)
    if gpus is None:
        return []
    if gpus == ALL:
        return [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]
    return [docker.types.DeviceRequest(device_ids=gpus.split(","), capabilities=[["gpu"]])]


@functools.cache
def host_gpus() -> tuple[tuple[str, str], ...]:
    """(index, UUID) of every NVIDIA GPU the host's driver lists; empty when there is no driver or no GPU.

    Asked once per process: preflight and every env of a run check ``--gpus`` against it."""
    out = _smi("--query-gpu=index,uuid", "--format=csv,noheader")
    return tuple(tuple(part.strip() for part in line.split(",", 1)) for line in out.splitlines() if "," in line)


@functools.cache
def host_mig_devices() -> tuple[str, ...]:
    """UUIDs of the MIG devices (slices of a GPU) the driver lists (``nvidia-smi -L``); asked once per process."""
    return tuple(re.findall(r"UUID:\s*(MIG-[0-9A-Za-z-]+)", _smi("-L")))


def _smi(*args: str) -> str:
    """What the host's ``nvidia-smi`` prints for ``args``; empty where there is no driver or it fails."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ""
    try:
        return subprocess.run([smi, *args], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def require(gpus: str | None) -> str | None:
    """``gpus`` normalised, after checking that this host has them; raises :class:`GpuError` saying what is missing."""
    gpus = normalize(gpus)
    if gpus is None:
        return None
    found = host_gpus()
    if not found:
        raise GpuError(f"--gpus {gpus}: this host has no NVIDIA GPU (`nvidia-smi` is missing or lists none). "
                       "Sandboxes get GPUs through Docker's device requests, which need the NVIDIA driver and "
                       "the NVIDIA Container Toolkit on the host; run without --gpus here.")
    if gpus != ALL:
        known = {name for pair in found for name in pair} | set(migs := host_mig_devices())
        if missing := [device for device in gpus.split(",") if device not in known]:
            listed = ", ".join([f"{index} ({uuid})" for index, uuid in found] + [f"MIG {uuid}" for uuid in migs])
            raise GpuError(f"--gpus {gpus}: no GPU {', '.join(missing)} on this host; it has {listed}")
    return gpus

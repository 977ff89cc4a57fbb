"""Stage 1 input: a profile of each dataset, computed in a sandbox and rendered for the question prompt.

The profile is computed where the agent will work (the task's image, the data
mounted read-only), so what the question generator is told matches what the
rollouts will see.  ``render`` turns it into compact text for the prompt.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

from dsgym.sandbox.base import Sandbox, SandboxError
from dsgym.sandbox.scripts import run_script
from dsgym.synth.sources import Dataset

PROFILE_VERSION = 2
PROMPT_CHARS = 12_000
STATS = ("missing", "unique", "min", "max", "mean", "median", "std")


def script_source() -> str:
    """The profiling script's code: it runs in the sandbox; the host only reads it (importing it needs pandas)."""
    return resources.files("dsgym.synth").joinpath("profile_script.py").read_text(encoding="utf-8")


def compute(dataset: Dataset, factory: Callable[[], Sandbox], timeout: float,
            data_dir: str = "/data") -> dict[str, Any]:
    """Run the profiling script on ``dataset`` in a fresh sandbox; raises ``SandboxError``/``RuntimeError``."""
    value, _ = run_script(factory, dataset.paths(), script_source(), f"profile_files({data_dir!r}, {list(dataset.files)!r})",
                          timeout=timeout)
    return value


def measure(dataset: Dataset, factory: Callable[[], Sandbox], timeout: float) -> dict[str, Any]:
    """``{"profile": ...}`` or ``{"error": ...}``, and ``duration``; never raises (runs here or on a Ray worker)."""
    started = time.monotonic()
    try:
        result: dict[str, Any] = {"profile": compute(dataset, factory, timeout)}
    except (SandboxError, RuntimeError) as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    result["duration"] = time.monotonic() - started
    return result


def _columns(table: dict[str, Any]) -> list[str]:
    lines = []
    for info in table.get("column_info", []):
        stats = {k: info[k] for k in STATS if info.get(k) is not None}
        top = info.get("top")
        text = f"  - {info.get('name')} ({info.get('dtype')}): " + ", ".join(f"{k}={v}" for k, v in stats.items())
        if top:
            text += "; most common: " + ", ".join(f"{value!s} ({count})" for value, count in top)
        lines.append(text)
    if table.get("more_columns"):
        lines.append(f"  - ... {table['more_columns']} more columns")
    return lines


def _sample(table: dict[str, Any]) -> list[str]:
    names = [info.get("name") for info in table.get("column_info", [])]
    rows = table.get("sample") or []
    return ["  sample rows:", f"    {json.dumps(names, ensure_ascii=False)}"] + [
        f"    {json.dumps(row, ensure_ascii=False, default=str)}" for row in rows]


def render(dataset: Dataset, profile: dict[str, Any], data_dir: str = "/data") -> str:
    """The profile as prompt text: per file, its path in the sandbox, shape, columns and sample rows."""
    parts = [f"Dataset {dataset.name!r} ({len(dataset.files)} file(s), mounted read-only under {data_dir}):"]
    for rel in dataset.files:
        info = profile.get(rel, {})
        size = info.get("size_bytes")
        parts.append(f"\nFile {data_dir}/{rel} ({size if size is not None else '?'} bytes)")
        kind = info.get("kind")
        if kind == "table":
            parts.append(f"  table: {info.get('rows')} rows x {info.get('columns')} columns")
            parts += _columns(info) + _sample(info)
        elif kind == "anndata":
            parts.append(f"  AnnData: {info.get('n_obs')} observations x {info.get('n_vars')} variables, "
                         f"X {info.get('X_dtype')}; layers {info.get('layers')}, obsm {info.get('obsm')}, "
                         f"uns {info.get('uns')}")
            for part in ("obs", "var"):
                parts.append(f"  .{part} columns:")
                parts += _columns(info.get(part, {})) + _sample(info.get(part, {}))
        else:
            parts.append(f"  not readable as a table: {info.get('error', 'unknown format')}")
    text = "\n".join(parts)
    return text if len(text) <= PROMPT_CHARS else text[:PROMPT_CHARS] + "\n[profile cut]"

"""Saving the figures an agent's cells display, to disk as they arrive and within limits.

Sandbox code decides how many figures a cell displays and how large they are, and
each is written to the host's disk: without bounds one cell filled the host disk
(300 PNGs of 1 MiB, again every turn).  ``FigureStore`` writes each PNG as soon as
the kernel hands it over (no cell's figures are held in memory together), refuses
figures past the per-cell, per-episode and byte limits, and says so in the
observation.  A folder it made itself (no ``artifacts_dir`` given) holds only the
current episode's figures and is removed when the env closes.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsgym.actions import png_size


@dataclass(frozen=True)
class FigureLimits:
    """Bounds on the figures saved for one episode."""

    per_cell: int = 10
    per_episode: int = 50
    figure_bytes: int = 8 << 20  # one PNG
    episode_bytes: int = 64 << 20  # all PNGs of the episode together

    def __post_init__(self) -> None:
        if min(self.per_cell, self.per_episode, self.figure_bytes, self.episode_bytes) < 0:
            raise ValueError("figure limits must not be negative")


class FigureStore:
    """Writes one episode's figures under ``folder`` (or a temp folder it makes, removes and owns)."""

    def __init__(self, folder: str | Path | None = None, limits: FigureLimits | None = None):
        self.limits = limits or FigureLimits()
        self._folder = Path(folder) if folder else None
        self._owned: Path | None = None
        self._cleanup: weakref.finalize | None = None
        self.prefix = ""
        self.episode_count = self.episode_bytes = 0
        self.saved: list[dict[str, Any]] = []
        self.refused: Counter[str] = Counter()

    @property
    def folder(self) -> Path:
        """Where figures go; a ``dsgym-figures-*`` temp folder made on first use if none was given."""
        if self._folder is None:
            self._folder = self._owned = Path(tempfile.mkdtemp(prefix="dsgym-figures-"))
            # removed at close(), or when the store is collected or the process exits without it
            self._cleanup = weakref.finalize(self, shutil.rmtree, str(self._owned), True)
        return self._folder

    def start_episode(self, prefix: str) -> None:
        """A new episode: fresh budgets; a folder this store made drops the last episode's figures."""
        self.prefix = prefix
        self.episode_count = self.episode_bytes = 0
        if self._owned is not None:
            for path in self._owned.iterdir():
                if path.is_file() and not path.is_symlink():
                    path.unlink(missing_ok=True)
        self.start_cell(prefix)

    def start_cell(self, prefix: str) -> None:
        self.cell_prefix = prefix
        self.saved, self.refused = [], Counter()

    def add(self, png: bytes) -> None:
        """Save one figure of the running cell, or count why it was refused."""
        limits = self.limits
        if len(self.saved) >= limits.per_cell:
            self.refused[f"past the limit of {limits.per_cell} per cell"] += 1
        elif self.episode_count >= limits.per_episode:
            self.refused[f"past the limit of {limits.per_episode} per episode"] += 1
        elif len(png) > limits.figure_bytes:
            self.refused[f"larger than the limit of {_mib(limits.figure_bytes)} per figure"] += 1
        elif self.episode_bytes + len(png) > limits.episode_bytes:
            self.refused[f"past the limit of {_mib(limits.episode_bytes)} per episode"] += 1
        else:
            path = self.folder / f"{self.cell_prefix}-{len(self.saved) + 1}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png)
            self.episode_count += 1
            self.episode_bytes += len(png)
            size = png_size(png)
            self.saved.append({"path": str(path), "bytes": len(png),
                               "width": size[0] if size else None, "height": size[1] if size else None})

    def notes(self) -> list[str]:
        """The running cell's figure lines for the observation: each saved figure, then what was refused."""
        lines = []
        for figure in self.saved:
            dims = f"{figure['width']}x{figure['height']} " if figure["width"] is not None else ""
            lines.append(f"[figure: {dims}PNG saved as {figure['path']}]")
        if self.refused:
            why = "; ".join(f"{count} {reason}" for reason, count in self.refused.items())
            lines.append(f"[figures not saved] {sum(self.refused.values())} figure(s) were not saved: {why}.")
        return lines

    def close(self) -> None:
        """Remove the folder this store made (a folder it was given is left alone)."""
        if self._cleanup is not None:
            self._cleanup()
            self._folder = self._owned = self._cleanup = None


def _mib(size: int) -> str:
    return f"{size / (1 << 20):g} MiB"

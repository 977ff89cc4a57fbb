"""Threat: the agent fills the host's disk (and memory) with figures.

Every PNG a cell displays is written to the host.  Red team: one cell displayed 300
PNGs of 1 MiB, all held in host memory first, 300 MiB written each turn, and the
default ``dsgym-figures-*`` temp folder was never removed.  Figures must be bounded
per cell, per episode and in bytes (the observation says so), streamed to disk, and a
folder dsgym made itself must go away with the env.
"""

from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path

import pytest

from dsgym.figures import FigureLimits
from tests.support.helpers import python
from tests.security.probe import RssWatch

pytestmark = pytest.mark.docker

MIB = 1 << 20


def show_pngs(count: int, size: int) -> str:
    """A cell that displays ``count`` PNGs (a valid signature and IHDR, then ``size`` random bytes)."""
    return python(
        "import os\nfrom IPython.display import Image, display\n"
        "png = b'\\x89PNG\\r\\n\\x1a\\n' + b'\\0\\0\\0\\rIHDR' + (64).to_bytes(4, 'big') * 2 + os.urandom("
        f"{size})\nfor _ in range({count}):\n    display(Image(data=png, format='png'))\nprint('shown')")


def disk_usage(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def test_300_figures_of_1mib_in_one_cell_are_bounded_and_streamed(make_env, tmp_path):
    limits = FigureLimits()
    env = make_env("secret-test/sum-y", cell_timeout=120, artifacts_dir=tmp_path)
    env.reset(seed=0)
    with RssWatch() as rss:
        obs, _, terminated, truncated, info = env.step(show_pngs(300, MIB))
    assert not (terminated or truncated), obs[:500]
    assert "shown" in obs
    count, size = disk_usage(tmp_path)
    assert count == len(info["figures"]) == limits.per_cell, (count, obs[-800:])
    assert size <= limits.per_cell * (MIB + 100)
    assert f"[figures not saved] {300 - limits.per_cell} figure(s) were not saved" in obs, obs[-800:]
    assert f"past the limit of {limits.per_cell} per cell" in obs
    # 300 MiB went through the host: streamed one figure at a time, not collected
    assert rss.growth < 120, f"the host's memory grew by {rss.growth} MB"
    assert all("png" not in figure for figure in info["figures"])  # no image bytes kept in info


def test_figures_are_bounded_per_episode_and_in_bytes(make_env, tmp_path):
    limits = FigureLimits(per_cell=10, per_episode=12, figure_bytes=2 * MIB, episode_bytes=5 * MIB)
    env = make_env("secret-test/sum-y", cell_timeout=60, artifacts_dir=tmp_path, figure_limits=limits)
    env.reset(seed=0)
    obs, *_, info = env.step(show_pngs(1, 3 * MIB))  # one figure past the per-figure bound
    assert info["figures"] == [] and "larger than the limit of 2 MiB per figure" in obs, obs[-500:]
    obs, *_, info = env.step(show_pngs(6, MIB))  # the episode's 5 MiB fill after 4 of them
    assert len(info["figures"]) == 4 and "2 figure(s) were not saved" in obs, obs[-500:]
    assert "past the limit of 5 MiB per episode" in obs
    obs, *_, info = env.step(show_pngs(10, 1000))  # small ones: the per-episode count ends at 12
    assert len(info["figures"]) == 8 and "past the limit of 12 per episode" in obs, obs[-500:]
    count, size = disk_usage(tmp_path)
    assert count == 12 and size <= 5 * MIB
    env.reset(seed=1)  # a new episode has a fresh budget; a folder the caller gave keeps its files
    obs, *_, info = env.step(show_pngs(2, 1000))
    assert len(info["figures"]) == 2 and "[figures not saved]" not in obs
    assert disk_usage(tmp_path)[0] == 14


def test_the_default_temp_folder_is_emptied_per_episode_and_removed_at_close(make_env):
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "dsgym-figures-*")))
    env = make_env("secret-test/sum-y", cell_timeout=60)
    env.reset(seed=0)
    _, *_, info = env.step(show_pngs(3, 1000))
    made = set(glob.glob(os.path.join(tempfile.gettempdir(), "dsgym-figures-*"))) - before
    assert len(made) == 1 and len(info["figures"]) == 3
    folder = Path(made.pop())
    assert all(Path(f["path"]).parent == folder for f in info["figures"])
    env.reset(seed=1)
    assert list(folder.iterdir()) == []  # the last episode's figures went with it
    env.step(show_pngs(1, 1000))
    assert len(list(folder.iterdir())) == 1
    env.close()
    assert not folder.exists()

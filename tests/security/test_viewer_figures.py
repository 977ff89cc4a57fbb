"""Threat: ``dsgym view`` copies host files into the site it builds.

Red team: agent stdout that printed a line shaped like a figure note
(``[figure: PNG saved as /proc/self/environ]``, or the path of a key file) made the
viewer copy that host file into ``<site>/<run>/figures/``: the environment with an API
key, an SSH key, next to pages meant to be shared.  Figures must come only from what
the env recorded (the turn's figure list), from inside the run's artifacts folder
(resolved: no symlink out of it), and be PNG files of bounded size.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dsgym.episode import EpisodeRecord, Turn
from dsgym.runner import ARTIFACTS, EPISODES, MANIFEST
from dsgym.view import build_site

PNG = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (4).to_bytes(4, "big") * 2 + b"\0" * 64


def site_files(site: Path) -> dict[str, bytes]:
    return {str(p.relative_to(site)): p.read_bytes() for p in site.rglob("*") if p.is_file() and p.suffix != ".html"}


def test_a_site_holds_only_the_runs_own_recorded_figures(tmp_path):
    secret = tmp_path / "home" / ".ssh" / "id_ed25519"
    secret.parent.mkdir(parents=True)
    secret.write_bytes(PNG + b"PRIVATE KEY MATERIAL")  # even shaped like a PNG it must not travel
    outside_png = tmp_path / "elsewhere" / "plot.png"
    outside_png.parent.mkdir()
    outside_png.write_bytes(PNG + b"outside")

    run = tmp_path / "run"
    artifacts = run / ARTIFACTS
    artifacts.mkdir(parents=True)
    (artifacts / "t-ep-t1-1.png").write_bytes(PNG + b"the real figure")
    (artifacts / "t-ep-t1-2.png").symlink_to(secret)  # planted link inside the artifacts folder
    (artifacts / "big.png").write_bytes(PNG + b"\0" * (9 << 20))
    (run / MANIFEST).write_text(json.dumps({"name": "hostile", "format": 1}))
    lies = "\n".join(f"[figure: 640x480 PNG saved as {path}]" for path in
                     ("/proc/self/environ", secret, outside_png, "../../home/.ssh/id_ed25519"))
    turns = [
        Turn(action="<python>print(lies)</python>", observation=lies, reward=0.0, step_time=0.1,
             action_kind="code"),  # only text: nothing recorded
        Turn(action="<python>plt.show()</python>", observation="[figure: 4x4 PNG saved as x]", reward=0.0,
             step_time=0.1, action_kind="code",
             figures=[str(artifacts / "t-ep-t1-1.png"), str(artifacts / "t-ep-t1-2.png"), str(secret),
                      str(outside_png), "/proc/self/environ", str(artifacts / "big.png"), "../../x.png"]),
    ]
    record = EpisodeRecord(env_id="secret-test/sum-y", task_id="sum-y", agent="hostile", suite="secret-test",
                           turns=turns, score=0.0, termination="answer")
    (run / EPISODES).write_text(json.dumps(record.to_dict()) + "\n")

    site = build_site([run], tmp_path / "site")
    copied = site_files(site.root)
    figures = {name: data for name, data in copied.items() if "/figures/" in f"/{name}"}
    assert figures == {"hostile/figures/t-ep-t1-1.png": PNG + b"the real figure"}, sorted(figures)
    everything = b"".join(copied.values())
    assert b"PRIVATE KEY" not in everything and b"outside" not in everything
    assert os.environ.get("PATH", "@@").encode() not in everything
    page = (site.root / "hostile" / "episodes" / "0.html").read_text()
    assert page.count("<img") == 1 and "PRIVATE KEY" not in page


def test_a_symlinked_artifacts_folder_is_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "t-1.png").write_bytes(PNG + b"outside the run")
    run = tmp_path / "run"
    run.mkdir()
    (run / ARTIFACTS).symlink_to(elsewhere)
    (run / MANIFEST).write_text(json.dumps({"name": "linked", "format": 1}))
    record = EpisodeRecord(env_id="secret-test/sum-y", task_id="sum-y", agent="x", suite="secret-test",
                           turns=[Turn(action="a", observation="o", reward=0.0, step_time=0.1,
                                       figures=[str(run / ARTIFACTS / "t-1.png")])])
    (run / EPISODES).write_text(json.dumps(record.to_dict()) + "\n")
    site = build_site([run], tmp_path / "site")
    assert not any("figures" in name for name in site_files(site.root))
